"""The HTML report: self-contained, rendered in headless Chromium with its tables and charts and
without console errors; and the terminal report."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

from pipelines.match import build_customers
from pipelines.match.settings import load_match_settings
from pipelines.quality import checks
from pipelines.quality.metrics import record_warehouse_metrics
from pipelines.quality.report import collect, render_text, write_report
from tests.quality.chromium import render
from tests.quality.conftest import REPO
from tests.quality.drops import crm_rows

MEASURE = """JSON.stringify({
  tables: [...document.querySelectorAll('table')].map(t => ({id: t.id, cls: t.className,
            rows: t.rows.length, width: t.getBoundingClientRect().width,
            height: t.getBoundingClientRect().height})),
  charts: [...document.querySelectorAll('svg.chart')].map(s =>
            ({label: s.getAttribute('aria-label'),
              width: s.getBoundingClientRect().width, height: s.getBoundingClientRect().height,
              lines: s.querySelectorAll('polyline').length,
              points: s.querySelectorAll('circle').length,
              drawn: [...s.querySelectorAll('polyline')].every(p => p.getBBox().width > 0)})),
  resources: performance.getEntriesByType('resource').map(e => e.name),
  banner: document.getElementById('exports-status').textContent.trim(),
  scripts: document.scripts.length,
})"""


@pytest.fixture
def history(con, drop, tmp_path):
    """Five crm drops (the fourth has 30% bad emails), each followed by matching and a snapshot."""
    settings = load_match_settings(REPO / "sftp_config" / "matching.yaml")
    from tests.quality.conftest import load_sources

    config = load_sources(REPO / "sftp_config" / "sources.yaml")
    for day, (n, bad) in enumerate(
        [(300, 0.0), (320, 0.0), (330, 0.02), (330, 0.3), (340, 0.0)], start=1
    ):
        drop(f"klanten_2026110{day}.csv", crm_rows(n, seed=day, bad_email_share=bad))
        build_customers(
            con,
            settings=settings,
            source_priority={"crm": 1, "webshop": 2},
            overrides_path=None,
            now=datetime(2026, 11, day, 6),
        )
        record_warehouse_metrics(con, load_id=f"warehouse-2026110{day}T060000")
        checks.record(con, checks.evaluate_all(con, config))
    return config


def test_report_renders_tables_and_charts_without_console_errors(con, history, tmp_path):
    path = write_report(con, tmp_path / "reports", list(history.sources))
    assert re.fullmatch(r"quality_\d{4}-\d{2}-\d{2}\.html", path.name)
    assert path.stat().st_mode & 0o077 == 0
    text = path.read_text(encoding="utf-8")
    # Self-contained: no scripts, no links or sources to load (the SVG namespace is not a fetch).
    assert "<script" not in text and not re.search(r"""(src|href)\s*=""", text)
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text)

    page = render(path.as_uri(), MEASURE)
    assert page.errors == [], page.errors
    info = json.loads(page.value)
    assert info["scripts"] == 0 and info["resources"] == []
    assert info["banner"].startswith("Exports are not blocked")  # the last drop was healthy again
    tables = {t["id"] or t["cls"]: t for t in info["tables"]}
    assert tables["checks"]["rows"] > 10 and tables["loads"]["rows"] == 1 + 5
    assert tables["fields"]["rows"] > 10 and tables["warehouse-figures"]["rows"] > 10
    assert all(t["width"] > 100 and t["height"] > 20 for t in info["tables"])
    charts = {c["label"]: c for c in info["charts"]}
    assert {
        "crm: rows per drop",
        "crm: validity",
        "crm: fill rate",
        "warehouse: duplicates",
        "warehouse: sources disagree",
    } <= set(charts)
    for chart in charts.values():
        assert chart["width"] >= 500 and chart["height"] >= 200 and chart["drawn"], chart
    assert charts["crm: validity"]["points"] == 4 * 5 and charts["crm: validity"]["lines"] == 4
    assert charts["warehouse: records"]["points"] == 2 * 5
    assert page.screenshot.startswith(b"\x89PNG") and len(page.screenshot) > 50_000
    (tmp_path / "report.png").write_bytes(page.screenshot)  # kept in the test's tmp dir for a look


def test_console_errors_would_be_caught(tmp_path):
    """The check above is not vacuous: a page with errors shows them."""
    page_path = tmp_path / "broken.html"
    page_path.write_text(
        '<!DOCTYPE html><html><body><img src="missing.png">'
        '<script>console.error("control error"); undefinedFunction();</script></body></html>'
    )
    page = render(page_path.as_uri(), "document.body.children.length")
    assert any("control error" in e for e in page.errors)
    assert any("undefinedFunction" in e for e in page.errors)
    assert any("missing.png" in e for e in page.errors)


def test_terminal_report(con, history):
    text = render_text(collect(con, list(history.sources)))
    assert "exports: not blocked" in text
    assert "crm  latest drop klanten_20261105.csv" in text
    # compared with the last healthy drop (the 3rd: 2% bad emails), not the broken 4th (30%)
    assert "vs klanten_20261103.csv" in text
    assert re.search(r"email\s+100\.0%\s+100\.0%\s+\+0\.0\s+\+2\.\d", text)
    assert "webshop: no drop loaded yet" in text
    assert "warehouse  (measured" in text and "customers " in text
