"""Guards: too few rows, too large a change, a failed blocking quality check. The export is
refused, nothing is delivered, export_log says why, and the next run compares with the last
export that was accepted."""

from __future__ import annotations

import sys
import types
from datetime import datetime

import pytest

from pipelines.config import ExportsConfig, Guards, Segment
from pipelines.export.run import ExportRefused, export_segment
from tests.segments.people import customer, insert, warehouse

NOW = datetime(2026, 11, 24, 6)


def setup(tmp_path, n: int, **guards):
    con = warehouse(tmp_path / "w.duckdb", [customer(f"c{i:03d}") for i in range(n)])
    segment = Segment(filter="has_valid_email", columns=["customer_id", "email"], guards=Guards(**guards))
    return con, segment, ExportsConfig(segments={"seg": segment}), tmp_path / "outbox"


def refusals(con):
    return con.execute("SELECT status, rows, segment_rows, error FROM export_log WHERE status = 'refused'").fetchall()


def test_min_rows(tmp_path):
    con, segment, cfg, outbox = setup(tmp_path, 4, min_rows=5)
    with pytest.raises(ExportRefused, match="segment seg: not exported: 4 rows, fewer than guards.min_rows = 5"):
        export_segment(con, "seg", segment, cfg, outbox=outbox, now=NOW)
    assert not (outbox / "seg").exists()
    assert refusals(con) == [("refused", None, 4, "4 rows, fewer than guards.min_rows = 5")]
    insert(con, "customers", [customer("c900")])
    assert export_segment(con, "seg", segment, cfg, outbox=outbox, now=NOW).rows == 5


def test_max_change_refuses_a_segment_that_halved(tmp_path):
    con, segment, cfg, outbox = setup(tmp_path, 10, max_change_share=0.5)
    export_segment(con, "seg", segment, cfg, outbox=outbox, now=NOW)
    insert(con, "suppressions", [{"customer_id": f"c{i:03d}", "reason": "hard_bounce"} for i in range(6)])
    with pytest.raises(ExportRefused, match=r"4 rows against 10 at the last successful export, a change of 60%"):
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


@pytest.fixture
def quality_checks(monkeypatch):
    """Stands in for `pipelines.quality.checks` (built by the quality helper): same contract."""
    module = types.ModuleType("pipelines.quality.checks")
    module.failures = []
    module.blocking_failures = lambda con: list(module.failures)
    monkeypatch.setitem(sys.modules, "pipelines.quality.checks", module)
    return module


def test_no_export_while_a_blocking_quality_check_failed(tmp_path, quality_checks):
    con, segment, cfg, outbox = setup(tmp_path, 3)
    quality_checks.failures = ["crm: rejected_share 35% > 10%"]
    with pytest.raises(ExportRefused, match=r"blocking quality check\(s\) failed: crm: rejected_share 35% > 10%"):
        export_segment(con, "seg", segment, cfg, outbox=outbox, now=NOW)
    assert not (outbox / "seg").exists()
    assert refusals(con)[0][3] == "blocking quality check(s) failed: crm: rejected_share 35% > 10%"
    quality_checks.failures = []
    assert export_segment(con, "seg", segment, cfg, outbox=outbox, now=NOW).rows == 3


def test_quality_module_without_blocking_failures_is_an_error(tmp_path, quality_checks):
    del quality_checks.blocking_failures
    con, segment, cfg, outbox = setup(tmp_path, 3)
    with pytest.raises(AttributeError, match="blocking_failures"):
        export_segment(con, "seg", segment, cfg, outbox=outbox, now=NOW)
