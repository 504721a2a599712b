"""Guards: too few rows, too large a change, a failed blocking quality check. The export is
refused, nothing is delivered, export_log says why, and the next run compares with the last
export that was accepted."""

from __future__ import annotations

from datetime import datetime

import pytest

from pipelines.config import ExportsConfig, Guards, Segment
from pipelines.export.run import ExportRefused, export_segment
from pipelines.quality.checks import accept_load
from tests.segments.people import customer, insert, warehouse

NOW = datetime(2026, 11, 24, 6)


def setup(tmp_path, n: int, **guards):
    con = warehouse(tmp_path / "w.duckdb", [customer(f"c{i:03d}") for i in range(n)])
    segment = Segment(
        filter="has_valid_email", columns=["customer_id", "email"], guards=Guards(**guards)
    )
    return con, segment, ExportsConfig(segments={"seg": segment}), tmp_path / "outbox"


def refusals(con):
    return con.execute(
        "SELECT status, rows, segment_rows, error FROM export_log WHERE status = 'refused'"
    ).fetchall()


def test_min_rows(tmp_path):
    con, segment, cfg, outbox = setup(tmp_path, 4, min_rows=5)
    with pytest.raises(
        ExportRefused, match="segment seg: not exported: 4 rows, fewer than guards.min_rows = 5"
    ):
        export_segment(con, "seg", segment, cfg, outbox=outbox, now=NOW)
    assert not (outbox / "seg").exists()
    assert refusals(con) == [("refused", None, 4, "4 rows, fewer than guards.min_rows = 5")]
    insert(con, "customers", [customer("c900")])
    assert export_segment(con, "seg", segment, cfg, outbox=outbox, now=NOW).rows == 5


def test_max_change_refuses_a_segment_that_halved(tmp_path):
    con, segment, cfg, outbox = setup(tmp_path, 10, max_change_share=0.5)
    export_segment(con, "seg", segment, cfg, outbox=outbox, now=NOW)
    insert(
        con,
        "suppressions",
        [{"customer_id": f"c{i:03d}", "reason": "hard_bounce"} for i in range(6)],
    )
    with pytest.raises(
        ExportRefused, match=r"4 rows against 10 at the last successful export, a change of 60%"
    ):
        export_segment(con, "seg", segment, cfg, outbox=outbox, now=datetime(2026, 11, 25, 6))
    assert not (outbox / "seg" / "seg_20261125.csv").exists()
    assert len(refusals(con)) == 1

    # A change within the limit passes, and becomes the new reference.
    con.execute("DELETE FROM suppressions WHERE customer_id IN ('c000', 'c001')")
    result = export_segment(con, "seg", segment, cfg, outbox=outbox, now=datetime(2026, 11, 25, 6))
    assert (result.rows, result.change.previous, result.size_change) == (6, 10, -4)
    con.execute("DELETE FROM suppressions WHERE customer_id IN ('c002', 'c003')")
    result = export_segment(con, "seg", segment, cfg, outbox=outbox, now=datetime(2026, 11, 26, 6))
    assert (result.rows, result.change.previous) == (8, 6)


def test_growth_beyond_the_limit_is_refused_too(tmp_path):
    con, segment, cfg, outbox = setup(tmp_path, 4, max_change_share=0.5)
    export_segment(con, "seg", segment, cfg, outbox=outbox, now=NOW)
    insert(con, "customers", [customer(f"n{i}") for i in range(3)])
    with pytest.raises(ExportRefused, match="a change of 75%"):
        export_segment(con, "seg", segment, cfg, outbox=outbox, now=NOW)


def failed_load(
    con, file_id: str, source: str, landed_at: datetime, *, passed: bool = False
) -> None:
    """A loaded drop of `source` whose blocking (ERROR) quality check failed (or passed)."""
    insert(
        con,
        "ingest_log",
        [
            {
                "file_id": file_id,
                "source": source,
                "file_name": f"{file_id}.csv",
                "status": "loaded",
                "landed_at": landed_at,
                "loaded_at": landed_at,
            }
        ],
    )
    insert(
        con,
        "quality_checks",
        [
            {
                "load_id": file_id,
                "source": source,
                "check_name": "rejected_share",
                "severity": "ERROR",
                "passed": passed,
                "value": 0.35,
                "threshold": 0.10,
                "detail": "35% of rows rejected > 10%",
                "at": landed_at,
            }
        ],
    )


def test_no_export_while_a_blocking_quality_check_failed(tmp_path):
    """The real quality module decides: a failed ERROR check on a source's latest load blocks
    every export until an operator accepts it (or a healthy newer drop arrives)."""
    con, segment, cfg, outbox = setup(tmp_path, 3)
    failed_load(con, "crm-1", "crm", datetime(2026, 11, 24, 5))
    with pytest.raises(
        ExportRefused,
        match=r"blocking quality check\(s\) failed: crm/crm-1.csv: rejected_share: 35% of rows",
    ):
        export_segment(con, "seg", segment, cfg, outbox=outbox, now=NOW)
    assert not (outbox / "seg").exists()
    assert refusals(con) == [
        (
            "refused",
            None,
            None,
            "blocking quality check(s) failed: crm/crm-1.csv: rejected_share: "
            "35% of rows rejected > 10%",
        )
    ]

    assert accept_load(con, "crm-1") == ["rejected_share"]
    assert export_segment(con, "seg", segment, cfg, outbox=outbox, now=NOW).rows == 3


def test_a_healthy_newer_drop_lifts_the_block(tmp_path):
    con, segment, cfg, outbox = setup(tmp_path, 3)
    failed_load(con, "crm-1", "crm", datetime(2026, 11, 23, 5))
    with pytest.raises(ExportRefused):
        export_segment(con, "seg", segment, cfg, outbox=outbox, now=NOW)
    failed_load(con, "crm-2", "crm", datetime(2026, 11, 24, 5), passed=True)
    assert export_segment(con, "seg", segment, cfg, outbox=outbox, now=NOW).rows == 3
