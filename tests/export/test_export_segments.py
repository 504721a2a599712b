"""Several segments from one `segment_candidates`: the same files as one segment at a time, a
refused segment does not stop the others, and the candidates are built once per call, so a
change to the warehouse between two calls is seen."""

from __future__ import annotations

from datetime import datetime

from pipelines.config import ExportFormat, ExportsConfig, Guards, Segment
from pipelines.export.run import ExportRefused, ExportResult, export_segment, export_segments
from tests.segments.people import customer, insert, warehouse

NOW = datetime(2026, 11, 24, 6)
COLUMNS = ["customer_id", "email", "country"]


def config() -> ExportsConfig:
    return ExportsConfig(
        segments={
            "all": Segment(filter="has_valid_email", columns=COLUMNS),
            "by_country": Segment(filter="has_valid_email", columns=COLUMNS, split_by="country"),
            "too_small": Segment(
                filter="has_valid_email", columns=COLUMNS, guards=Guards(min_rows=1000)
            ),
            "changes": Segment(
                filter="has_valid_email", columns=COLUMNS, format=ExportFormat(mode="delta")
            ),
        }
    )


def people(con) -> None:
    insert(
        con,
        "customers",
        [customer(f"c{i:02d}", country=["NL", "BE", None][i % 3]) for i in range(12)]
        + [customer("shared", email="C01@example.nl"), customer("no", newsletter_opt_in=False)],
    )
    insert(con, "suppressions", [{"customer_id": "c03", "reason": "unsubscribe"}])


def files(outbox) -> dict[str, bytes]:
    return {
        str(p.relative_to(outbox)): p.read_bytes()
        for p in sorted(outbox.rglob("*.csv"))
        if ".staging" not in p.parts
    }


def test_shared_candidates_write_the_same_files_as_one_segment_at_a_time(tmp_path):
    cfg = config()
    one = warehouse(tmp_path / "one.duckdb", [])
    batch = warehouse(tmp_path / "batch.duckdb", [])
    for day, now in enumerate([NOW, datetime(2026, 11, 25, 6)]):
        for con in (one, batch):
            if day == 0:
                people(con)
            else:
                con.execute(
                    "UPDATE customers SET email = 'new.' || email "
                    "WHERE customer_id IN ('c04', 'c05')"
                )
        separately = {}
        for name, segment in cfg.segments.items():
            try:
                separately[name] = export_segment(
                    one, name, segment, cfg, outbox=tmp_path / "one", now=now
                )
            except ExportRefused as e:
                separately[name] = e
        together = export_segments(batch, list(cfg.segments), cfg, outbox=tmp_path / "b", now=now)

        assert isinstance(together["too_small"], ExportRefused)
        for name in ("all", "by_country", "changes"):
            a, b = separately[name], together[name]
            assert isinstance(b, ExportResult)
            assert (a.rows, a.change, a.excluded) == (b.rows, b.change, b.excluded)
    assert files(tmp_path / "one") == files(tmp_path / "b")
    assert len(files(tmp_path / "b")) == 2 + 2 * 3 + 2  # all, by_country (3 parts), changes
    members = "SELECT * EXCLUDE (exported_at) FROM segment_members ORDER BY ALL"
    assert one.execute(members).fetchall() == batch.execute(members).fetchall()


def test_each_call_reads_the_warehouse_as_it_is_now(tmp_path):
    cfg = config()
    con = warehouse(tmp_path / "w.duckdb", [])
    people(con)
    first = export_segments(con, ["all"], cfg, outbox=tmp_path / "out", now=NOW)["all"]
    insert(con, "suppressions", [{"customer_id": "c00", "reason": "complaint"}])
    second = export_segments(
        con, ["all"], cfg, outbox=tmp_path / "out", now=datetime(2026, 11, 25, 6)
    )["all"]
    assert second.rows == first.rows - 1 and second.change.removed == 1
