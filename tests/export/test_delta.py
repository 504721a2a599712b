"""Delta mode across runs: added, changed and removed since the last export that arrived."""

from __future__ import annotations

import csv
from datetime import datetime

import pytest

from pipelines.config import ExportFormat, ExportsConfig, LocalDestination, Segment
from pipelines.export.run import ExportFailed, export_segment
from tests.segments.people import customer, insert, warehouse

DAY1, DAY2, DAY3 = datetime(2026, 11, 24, 6), datetime(2026, 11, 25, 6), datetime(2026, 11, 26, 6)


def read(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return [(r["customer_id"], r["email"], r["wijziging"]) for r in csv.DictReader(fh)]


@pytest.fixture
def setup(tmp_path):
    people = [customer("a"), customer("b"), customer("c"), customer("d", newsletter_opt_in=False)]
    con = warehouse(tmp_path / "w.duckdb", people)
    segment = Segment(
        filter="has_valid_email",
        columns=["customer_id", "email", "first_name"],
        file_name="delta_{date:%Y%m%d}.csv",
        format=ExportFormat(mode="delta", change_column="wijziging"),
    )
    cfg = ExportsConfig(segments={"seg": segment})
    return con, segment, cfg, tmp_path / "outbox"


def test_delta_across_runs(setup):
    con, segment, cfg, outbox = setup

    first = export_segment(con, "seg", segment, cfg, outbox=outbox, now=DAY1)
    assert read(outbox / "seg" / "delta_20261124.csv") == [
        ("a", "a@example.nl", "added"),
        ("b", "b@example.nl", "added"),
        ("c", "c@example.nl", "added"),
    ]
    assert (first.change.previous, first.change.added) == (None, 3)

    con.execute(
        "UPDATE customers SET email = 'b.new@example.nl' WHERE customer_id = 'b'"
    )  # changed
    con.execute(
        "UPDATE customers SET first_name = 'Piet' WHERE customer_id = 'a'"
    )  # changed (another column)
    con.execute("UPDATE customers SET newsletter_opt_in = true WHERE customer_id = 'd'")  # added
    insert(con, "suppressions", [{"customer_id": "c", "reason": "unsubscribe"}])  # removed
    second = export_segment(con, "seg", segment, cfg, outbox=outbox, now=DAY2)
    assert read(outbox / "seg" / "delta_20261125.csv") == [
        ("a", "a@example.nl", "changed"),
        ("b", "b.new@example.nl", "changed"),
        ("d", "d@example.nl", "added"),
        ("c", "", "removed"),  # the id only: no personal data of someone who left
    ]
    assert (
        second.rows,
        second.change.previous,
        second.change.added,
        second.change.changed,
        second.change.removed,
    ) == (3, 3, 1, 2, 1)

    # Nothing changed: the day's file says so once; a re-run the same day sends nothing new.
    export_segment(con, "seg", segment, cfg, outbox=outbox, now=DAY3)
    assert read(outbox / "seg" / "delta_20261126.csv") == []
    again = export_segment(con, "seg", segment, cfg, outbox=outbox, now=DAY3)
    assert [f["status"] for f in again.files] == ["unchanged"]
    assert sorted(p.name for p in (outbox / "seg").iterdir()) == [
        "delta_20261124.csv",
        "delta_20261125.csv",
        "delta_20261126.csv",
    ]


def test_a_second_delta_on_the_same_day_does_not_replace_the_first(setup):
    con, segment, cfg, outbox = setup
    export_segment(con, "seg", segment, cfg, outbox=outbox, now=DAY1)
    con.execute("UPDATE customers SET email = 'a2@example.nl' WHERE customer_id = 'a'")
    export_segment(con, "seg", segment, cfg, outbox=outbox, now=DAY1)
    assert len(read(outbox / "seg" / "delta_20261124.csv")) == 3
    assert read(outbox / "seg" / "delta_20261124_2.csv") == [("a", "a2@example.nl", "changed")]


def test_failed_destination_gets_every_change_since_its_last_delivery(setup, tmp_path):
    con, segment, cfg, outbox = setup
    share = tmp_path / "share"
    two = segment.model_copy(update={"destinations": ["outbox", "share"]})
    cfg = ExportsConfig(
        destinations={
            "outbox": LocalDestination(type="local"),
            "share": LocalDestination(type="local", path=str(share)),
        },
        segments={"seg": two},
    )
    export_segment(con, "seg", two, cfg, outbox=outbox, now=DAY1)

    con.execute("UPDATE customers SET email = 'a2@example.nl' WHERE customer_id = 'a'")
    share.rename(
        tmp_path / "share_away"
    )  # today the share is unusable: a file where the folder was
    share.write_text("not a folder")
    with pytest.raises(
        ExportFailed, match=r"segment seg: not delivered to share .*the next run retries"
    ):
        export_segment(con, "seg", two, cfg, outbox=outbox, now=DAY2)
    share.unlink()
    (tmp_path / "share_away").rename(share)
    assert read(outbox / "seg" / "delta_20261125.csv") == [("a", "a2@example.nl", "changed")]
    assert not (share / "delta_20261125.csv").exists()
    statuses = con.execute(
        "SELECT destination, status FROM export_log"
        " WHERE file_name = 'delta_20261125.csv' ORDER BY destination"
    ).fetchall()
    assert statuses == [("outbox", "ok"), ("share", "failed")]

    con.execute("UPDATE customers SET email = 'b2@example.nl' WHERE customer_id = 'b'")
    export_segment(con, "seg", two, cfg, outbox=outbox, now=DAY3)
    assert read(outbox / "seg" / "delta_20261126.csv") == [("b", "b2@example.nl", "changed")]
    assert read(share / "delta_20261126.csv") == [
        ("a", "a2@example.nl", "changed"),
        ("b", "b2@example.nl", "changed"),
    ]


def test_split_delta_moves_a_customer_between_files(tmp_path):
    """One file per country in delta mode: a customer who moved is removed from the old
    country's file (id only) and added to the new one's."""
    con = warehouse(
        tmp_path / "w.duckdb", [customer("a"), customer("b", country="BE"), customer("c")]
    )
    segment = Segment(
        filter="true",
        columns=["customer_id", "email", "country"],
        split_by="country",
        file_name="x_{part}_{date:%Y%m%d}.csv",
        format=ExportFormat(mode="delta"),
    )
    cfg = ExportsConfig(segments={"seg": segment})
    outbox = tmp_path / "outbox"
    export_segment(con, "seg", segment, cfg, outbox=outbox, now=DAY1)
    con.execute("UPDATE customers SET country = 'BE' WHERE customer_id = 'a'")
    result = export_segment(con, "seg", segment, cfg, outbox=outbox, now=DAY2)
    assert (result.rows, result.change.added, result.change.changed, result.change.removed) == (
        3,
        1,
        0,
        1,
    )

    def rows(name):
        with open(outbox / "seg" / name, newline="", encoding="utf-8") as fh:
            return [(r["customer_id"], r["country"], r["change"]) for r in csv.DictReader(fh)]

    assert rows("x_BE_20261125.csv") == [("a", "BE", "added")]
    assert rows("x_NL_20261125.csv") == [("a", "", "removed")]
    assert sorted(p.name for p in (outbox / "seg").glob("*20261125*")) == [
        "x_BE_20261125.csv",
        "x_NL_20261125.csv",
    ]


def test_an_erased_customer_is_removed_downstream_by_the_next_delta_then_forgotten(
    setup, tmp_path
):
    """GDPR art. 19: the email platform must learn that a person is gone; the id is all it gets."""
    from pipelines.config import SourcesConfig
    from pipelines.privacy.erasure import ErasureRequest, erase
    from pipelines.settings import Paths

    con, segment, cfg, outbox = setup
    export_segment(con, "seg", segment, cfg, outbox=outbox, now=DAY1)
    paths = Paths(data_dir=tmp_path / "data", config_dir=tmp_path / "config")
    sources = SourcesConfig.model_validate({"sources": {}})
    erase(
        con,
        [ErasureRequest(customer_id="b")],
        paths=paths,
        config=sources,
        key=b"k" * 32,
        now=DAY2,
        origin="test",
    )
    assert con.execute("SELECT count(*) FROM customers WHERE customer_id = 'b'").fetchone()[0] == 0
    assert (
        con.execute("SELECT row_hash FROM segment_members WHERE customer_id = 'b'").fetchall()
        == [(None,)] * 2
    )

    export_segment(con, "seg", segment, cfg, outbox=outbox, now=DAY2)
    assert read(outbox / "seg" / "delta_20261125.csv") == [("b", "", "removed")]
    assert (
        con.execute("SELECT count(*) FROM segment_members WHERE customer_id = 'b'").fetchone()[0]
        == 0
    )
