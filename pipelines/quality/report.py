"""Quality for people: the latest figures per source in the terminal (`crmclean quality`) and a
self-contained HTML report with tables and trend charts (`data/reports/quality_<date>.html`).

The HTML has no scripts and no external resources: inline CSS, charts drawn as inline SVG. It
opens from disk in any browser and survives being mailed as an attachment.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.quality.metrics import (
    CONSISTENCY_FIELDS,
    RATE_METRICS,
    db_now,
    figures_of,
    format_value,
    previous_load,
)
from pipelines.warehouse import connect

TEMPLATE_DIR = Path(__file__).parent / "templates"
TREND_LOADS = 30  # loads (and snapshots) shown in the trend charts
FIELD_ORDER = (
    "source_record_id",
    "email",
    "phone",
    "postcode",
    "birth_date",
    "first_name",
    "infix",
    "last_name",
    "street",
    "house_number",
    "house_number_suffix",
    "city",
    "country",
    "newsletter_opt_in",
    "last_purchase_at",
    "updated_at",
)


def latest_by_source(con) -> list[tuple]:
    """(source, load_id, metric, field, value) of each source's latest measured load."""
    return con.execute(
        """
        WITH latest AS (
            SELECT source, arg_max(load_id, measured_at) AS load_id FROM quality_metrics
            WHERE source IS NOT NULL GROUP BY source
        )
        SELECT q.source, q.load_id, q.metric, q.field, q.value
        FROM quality_metrics q JOIN latest USING (source, load_id)
        ORDER BY q.source, q.metric, q.field
        """
    ).fetchall()


# ---------------------------------------------------------------------------------------------
# the data behind both reports


@dataclass
class SourceView:
    name: str
    file_name: str | None = None
    load_id: str | None = None
    landed_at: datetime | None = None
    status: str | None = None
    figures: dict = field(default_factory=dict)
    previous: dict = field(default_factory=dict)
    previous_file: str | None = None
    checks: list[tuple] = field(
        default_factory=list
    )  # (check, severity, passed, detail, accepted)
    history: list[dict] = field(default_factory=list)  # oldest first

    def value(self, metric: str, f: str | None = None) -> float | None:
        return self.figures.get((metric, f))

    @property
    def fields(self) -> list[str]:
        present = {f for (m, f) in self.figures if m in ("fill_rate", "validity") and f}
        return [f for f in FIELD_ORDER if f in present] + sorted(present - set(FIELD_ORDER))

    @property
    def failed(self) -> list[tuple]:
        return [c for c in self.checks if not c[2]]


@dataclass
class QualityView:
    generated_at: datetime
    sources: list[SourceView]
    warehouse: dict
    warehouse_at: datetime | None
    warehouse_history: list[dict]
    blocking: list[str]
    loads: list[tuple]


def _load_history(con: duckdb.DuckDBPyConnection, source: str, limit: int) -> list[dict]:
    loads = con.execute(
        """SELECT file_id, file_name, landed_at, status, rows_read, rows_loaded, rows_rejected
           FROM ingest_log
           WHERE source = ? AND status IN ('loaded', 'failed')
           ORDER BY landed_at DESC, file_id DESC LIMIT ?""",
        [source, limit],
    ).fetchall()
    out = []
    for file_id, file_name, landed_at, status, read, loaded, rejected in reversed(loads):
        figs = figures_of(con, file_id)
        out.append(
            {
                "file_id": file_id,
                "file_name": file_name,
                "landed_at": landed_at,
                "status": status,
                "rows_read": read or 0,
                "rows_loaded": loaded or 0,
                "rows_rejected": rejected or 0,
                "figures": figs,
                "failed_checks": [
                    c
                    for (c,) in con.execute(
                        "SELECT check_name FROM quality_checks WHERE load_id = ? "
                        "AND NOT passed ORDER BY check_name",
                        [file_id],
                    ).fetchall()
                ],
            }
        )
    return out


def collect(
    con: duckdb.DuckDBPyConnection, sources: list[str] | None = None, *, trend: int = TREND_LOADS
) -> QualityView:
    """Everything both reports show, read from the warehouse (read-only queries)."""
    from pipelines.quality.checks import blocking_failures

    known = [
        s
        for (s,) in con.execute(
            "SELECT DISTINCT source FROM ingest_log ORDER BY source"
        ).fetchall()
    ]
    names = list(dict.fromkeys([*(sources or []), *known]))
    views = []
    for name in names:
        view = SourceView(name=name)
        row = con.execute(
            """SELECT file_id, file_name, landed_at, status FROM ingest_log
               WHERE source = ? AND status IN ('loaded', 'failed')
               ORDER BY landed_at DESC, file_id DESC LIMIT 1""",
            [name],
        ).fetchone()
        if row:
            view.load_id, view.file_name, view.landed_at, view.status = row
            view.figures = figures_of(con, view.load_id)
            base = previous_load(con, view.load_id)
            if base:
                view.previous = figures_of(con, base)
                view.previous_file = con.execute(
                    "SELECT file_name FROM ingest_log WHERE file_id = ?", [base]
                ).fetchone()[0]
        view.checks = con.execute(
            """SELECT check_name, severity, passed, detail, accepted_at IS NOT NULL
               FROM quality_checks
               WHERE load_id IN (?, ?) ORDER BY passed, severity, check_name""",
            [view.load_id or "", f"source:{name}"],
        ).fetchall()
        view.history = _load_history(con, name, trend)
        views.append(view)
    snap = con.execute(
        """SELECT load_id, max(measured_at) FROM quality_metrics
           WHERE source IS NULL AND load_id LIKE 'warehouse-%'
           GROUP BY load_id ORDER BY 2 DESC LIMIT ?""",
        [trend],
    ).fetchall()
    history = [
        {"load_id": lid, "at": at, "figures": figures_of(con, lid)} for lid, at in reversed(snap)
    ]
    loads = con.execute(
        """SELECT l.source, l.file_name, l.landed_at, l.status,
                  l.rows_read, l.rows_loaded, l.rows_rejected,
                  (SELECT string_agg(q.check_name, ', ' ORDER BY q.check_name)
                   FROM quality_checks q WHERE q.load_id = l.file_id AND NOT q.passed) AS failed
           FROM ingest_log l ORDER BY l.landed_at DESC LIMIT 40"""
    ).fetchall()
    return QualityView(
        generated_at=db_now(con),
        sources=views,
        warehouse=history[-1]["figures"] if history else {},
        warehouse_at=history[-1]["at"] if history else None,
        warehouse_history=history,
        blocking=blocking_failures(con),
        loads=loads,
    )


# ---------------------------------------------------------------------------------------------
# terminal


def _pct(v: float | None) -> str:
    return "   n/a" if v is None else f"{100 * v:5.1f}%"


def _delta(now: float | None, before: float | None) -> str:
    return "" if now is None or before is None else f"{100 * (now - before):+6.1f}"


def render_text(view: QualityView) -> str:
    lines = []
    if view.blocking:
        lines.append("EXPORTS BLOCKED by failed blocking checks:")
        lines += [f"  - {b}" for b in view.blocking]
    else:
        lines.append("exports: not blocked (no failed blocking check on any source's latest drop)")
    for s in view.sources:
        lines.append("")
        if s.load_id is None:
            lines.append(f"{s.name}: no drop loaded yet")
        else:
            lines.append(
                f"{s.name}  latest drop {s.file_name}  ({s.status}, landed "
                f"{s.landed_at:%Y-%m-%d %H:%M})"
            )
            read, loaded, rejected = (
                s.value(m) for m in ("rows_read", "rows_loaded", "rows_rejected")
            )
            if read is not None:
                change = s.value("rows_read_change")
                lines.append(
                    (
                        f"  rows         read {read:,.0f}, loaded {loaded or 0:,.0f}, rejected "
                        f"{rejected or 0:,.0f} ({_pct(s.value('rejected_share')).strip()})"
                    )
                    + (
                        f", {100 * change:+.1f}% vs {s.previous_file}"
                        if change is not None
                        else ""
                    )
                )
            activity = [
                f"{label} {_pct(s.value(m)).strip()}"
                for m, label in (
                    ("unmatched_share", "attached to no customer"),
                    ("returned_share", "returned or cancelled"),
                )
                if s.value(m) is not None
            ]
            if activity:
                lines.append("  lines        " + ", ".join(activity))
            if s.fields:
                lines.append(
                    f"  {'field':<18} {'filled':>7} {'valid':>7}   (points vs previous load)"
                )
                for f in s.fields:
                    fill, valid = s.value("fill_rate", f), s.value("validity", f)
                    d_fill = _delta(fill, s.previous.get(("fill_rate", f)))
                    d_valid = (
                        _delta(valid, s.previous.get(("validity", f)))
                        if ("validity", f) in s.figures
                        else ""
                    )
                    lines.append(
                        (
                            f"  {f:<18} {_pct(fill):>7} "
                            f"{_pct(valid) if ('validity', f) in s.figures else '':>7}   "
                            f"{d_fill:>6} {d_valid:>6}"
                        ).rstrip()
                    )
            dup = [
                f"{label} {_pct(s.value(m)).strip()}"
                for m, label in (
                    ("duplicate_rate_exact", "exact in drop"),
                    ("source_duplicate_rate_exact", "exact in source"),
                    ("source_duplicate_rate", "matched in source"),
                )
                if s.value(m) is not None
            ]
            if dup:
                lines.append("  duplicates   " + ", ".join(dup))
            disagree = [
                f"{f} {_pct(v).strip()}"
                for (m, f), v in sorted(s.figures.items(), key=lambda kv: str(kv[0]))
                if m == "disagreement_rate" and v is not None
            ]
            if disagree:
                lines.append("  disagrees with other sources on  " + ", ".join(disagree))
            drift = [
                f
                for (m, f) in s.figures
                if m in ("column_missing", "column_extra", "column_renamed")
            ]
            if drift:
                lines.append(
                    "  schema       "
                    + "; ".join(
                        f"{m.removeprefix('column_')}: {f}"
                        for (m, f) in sorted(s.figures, key=str)
                        if m.startswith("column_") and f
                    )
                )
        for check, severity, passed, detail, accepted in s.checks:
            if not passed:
                mark = (
                    "accepted" if accepted else ("BLOCKING" if severity == "ERROR" else "warning")
                )
                lines.append(f"  {mark:<9}  {check}: {detail}")
        ok = sum(1 for c in s.checks if c[2])
        if s.checks:
            lines.append(f"  checks       {ok} of {len(s.checks)} passed")
    w = view.warehouse
    if w:
        lines.append("")
        lines.append(f"warehouse  (measured {view.warehouse_at:%Y-%m-%d %H:%M})")
        lines.append(
            f"  customers {w.get(('customers', None)) or 0:,.0f} from "
            f"{w.get(('contacts', None)) or 0:,.0f} source records; duplicates: exact "
            f"{_pct(w.get(('duplicate_rate_exact', None))).strip()}, merged by matching "
            f"{_pct(w.get(('duplicate_rate', None))).strip()}, possible left "
            f"{_pct(w.get(('residual_duplicate_rate', None))).strip()}"
        )
        inc = [
            f"{f} {_pct(v).strip()}"
            for (m, f), v in w.items()
            if m == "inconsistency_rate" and v is not None
        ]
        if inc:
            lines.append("  customers whose sources disagree: " + ", ".join(inc))
        fill = [
            f"{f} {_pct(w.get(('customer_fill_rate', f))).strip()}"
            for f in ("email", "phone", "birth_date", "postcode")
            if ("customer_fill_rate", f) in w
        ]
        if fill:
            lines.append("  customers with  " + ", ".join(fill))
        p50 = w.get(("customer_update_age_days", "p50"))
        if p50 is not None:
            lines.append(
                f"  last update: median {p50:,.0f} days ago; not updated in a year: "
                f"{_pct(w.get(('customers_not_updated_365d', None))).strip()}"
            )
    return "\n".join(lines)


def print_latest(warehouse: Path, sources: list[str] | None = None) -> None:
    con = connect(warehouse, read_only=True)
    try:
        if not con.execute("SELECT count(*) FROM ingest_log").fetchone()[0]:
            print("no quality figures yet: run `crmclean run` first")
            return
        print(render_text(collect(con, sources)))
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------
# HTML

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")


def line_chart(
    title: str,
    labels: list[str],
    series: dict[str, list[float | None]],
    *,
    percent: bool = False,
    width: int = 560,
    height: int = 220,
) -> str:
    """An inline SVG line chart: one line per series, a point per load with a tooltip."""
    left, right, top, bottom = 56, 12, 28, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for vs in series.values() for v in vs if v is not None]
    n = len(labels)
    esc = html.escape
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">',
        f"<title>{esc(title)}</title>",
        f'<text x="{left}" y="16" class="chart-title">{esc(title)}</text>',
    ]
    if not values or n == 0:
        parts.append(
            f'<text x="{left}" y="{top + plot_h / 2}" class="chart-empty">no data yet</text></svg>'
        )
        return "".join(parts)
    scale = 100.0 if percent else 1.0
    lo = 0.0
    hi = max(values) * scale
    hi = 100.0 if percent and hi <= 100 else (hi * 1.1 if hi > 0 else 1.0)

    def x(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else plot_w * i / (n - 1))

    def y(v: float) -> float:
        return top + plot_h - plot_h * (v * scale - lo) / (hi - lo)

    for k in range(5):
        gv = lo + (hi - lo) * k / 4
        gy = top + plot_h - plot_h * k / 4
        label = f"{gv:.0f}%" if percent else (f"{gv:,.0f}" if hi >= 10 else f"{gv:.2f}")
        parts.append(
            f'<line x1="{left}" y1="{gy:.1f}" x2="{left + plot_w}" y2="{gy:.1f}" class="grid"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{gy + 4:.1f}" class="axis" text-anchor="end">{label}</text>'
        )
    step = max(1, (n + 5) // 6)
    for i in range(0, n, step):
        parts.append(
            f'<text x="{x(i):.1f}" y="{height - bottom + 16}" class="axis" '
            f'text-anchor="middle">{esc(labels[i])}</text>'
        )
    for idx, (name, vs) in enumerate(series.items()):
        color = PALETTE[idx % len(PALETTE)]
        segment: list[str] = []
        segments = []
        for i, v in enumerate(vs):
            if v is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append(f"{x(i):.1f},{y(v):.1f}")
        if segment:
            segments.append(segment)
        for seg in segments:
            if len(seg) > 1:
                parts.append(
                    f'<polyline class="series" data-series="{esc(name)}" fill="none" '
                    f'stroke="{color}" stroke-width="2" points="{" ".join(seg)}"/>'
                )
        for i, v in enumerate(vs):
            if v is not None:
                shown = (
                    f"{100 * v:.1f}%"
                    if percent
                    else f"{v:,.0f}"
                    if float(v).is_integer()
                    else f"{v:,.3f}"
                )
                parts.append(
                    f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{color}">'
                    f"<title>{esc(name)} {esc(labels[i])}: {shown}</title></circle>"
                )
        lx = left + 8 + idx * 130
        parts.append(
            f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{color}"/>'
            f'<text x="{lx + 14}" y="{height - 5}" class="legend">{esc(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _labels(times: list[datetime | None], names: list[str]) -> list[str]:
    """Axis labels: the time of each load, or its name when times repeat (several drops a
    minute)."""
    labels = [t.strftime("%m-%d %H:%M") if t else n for t, n in zip(times, names)]
    if len(set(labels)) < len(labels):
        labels = [n if len(n) <= 18 else n[:8] + "…" + n[-8:] for n in names]
    return labels


def source_charts(s: SourceView) -> list[str]:
    h = s.history
    if not h:
        return []
    labels = _labels([r["landed_at"] for r in h], [r["file_name"].rsplit(".", 1)[0] for r in h])
    charts = [
        line_chart(
            f"{s.name}: rows per drop",
            labels,
            {
                "read": [float(r["rows_read"]) if r["status"] == "loaded" else 0.0 for r in h],
                "rejected": [float(r["rows_rejected"]) for r in h],
            },
        ),
        line_chart(
            f"{s.name}: rejected share",
            labels,
            {"rejected": [r["figures"].get(("rejected_share", None)) for r in h]},
            percent=True,
        ),
    ]
    fields = [
        f
        for f in ("email", "phone", "postcode", "birth_date")
        if any(("validity", f) in r["figures"] for r in h)
    ]
    if fields:
        charts.append(
            line_chart(
                f"{s.name}: validity",
                labels,
                {f: [r["figures"].get(("validity", f)) for r in h] for f in fields},
                percent=True,
            )
        )
        charts.append(
            line_chart(
                f"{s.name}: fill rate",
                labels,
                {f: [r["figures"].get(("fill_rate", f)) for r in h] for f in fields},
                percent=True,
            )
        )
    if any(
        ("duplicate_rate_exact", None) in r["figures"]
        or ("source_duplicate_rate", None) in r["figures"]
        for r in h
    ):
        charts.append(
            line_chart(
                f"{s.name}: duplicates",
                labels,
                {
                    "exact in drop": [r["figures"].get(("duplicate_rate_exact", None)) for r in h],
                    "matched in source": [
                        r["figures"].get(("source_duplicate_rate", None)) for r in h
                    ],
                },
                percent=True,
            )
        )
    return charts


def warehouse_charts(history: list[dict]) -> list[str]:
    if not history:
        return []
    labels = _labels(
        [r["at"] for r in history], [r["load_id"].removeprefix("warehouse-") for r in history]
    )

    def series(metric: str, f: str | None = None) -> list[float | None]:
        return [r["figures"].get((metric, f)) for r in history]

    return [
        line_chart(
            "warehouse: records",
            labels,
            {"contacts": series("contacts"), "customers": series("customers")},
        ),
        line_chart(
            "warehouse: duplicates",
            labels,
            {
                "exact": series("duplicate_rate_exact"),
                "merged by matching": series("duplicate_rate"),
                "possible left": series("residual_duplicate_rate"),
            },
            percent=True,
        ),
        line_chart(
            "warehouse: sources disagree",
            labels,
            {
                f: series("inconsistency_rate", f)
                for f in ("email", "phone", "birth_date", "address")
            },
            percent=True,
        ),
        line_chart(
            "warehouse: customers with",
            labels,
            {
                f: series("customer_fill_rate", f)
                for f in ("email", "phone", "birth_date", "postcode")
            },
            percent=True,
        ),
    ]


def render_html(view: QualityView) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["pct"] = lambda v: "n/a" if v is None else f"{100 * v:.1f}%"
    env.filters["num"] = lambda v: "n/a" if v is None else f"{v:,.0f}"
    env.filters["fmt"] = lambda v, metric: format_value(metric, v)
    env.filters["points"] = lambda a, b: "" if a is None or b is None else f"{100 * (a - b):+.1f}"
    env.filters["when"] = lambda d: "" if d is None else d.strftime("%Y-%m-%d %H:%M")
    env.tests["in_figures"] = lambda f, s: ("disagreement_rate", f) in s.figures
    charts = {s.name: source_charts(s) for s in view.sources}
    warehouse_rows = sorted(
        ((m, f, v) for (m, f), v in view.warehouse.items()), key=lambda r: (r[0], str(r[1]))
    )
    return env.get_template("quality_report.html.j2").render(
        view=view,
        charts=charts,
        warehouse_charts=warehouse_charts(view.warehouse_history),
        warehouse_rows=warehouse_rows,
        rate_metrics=RATE_METRICS,
        consistency_fields=list(CONSISTENCY_FIELDS),
    )


def report_path(reports_dir: Path, when: datetime) -> Path:
    return Path(reports_dir) / f"quality_{when:%Y-%m-%d}.html"


def write_report(
    con: duckdb.DuckDBPyConnection, reports_dir: Path, sources: list[str] | None = None
) -> Path:
    """Write today's report (replacing an earlier one of the same day) atomically, owner-only."""
    from pipelines.settings import private_dir

    view = collect(con, sources)
    path = report_path(private_dir(Path(reports_dir)), view.generated_at)
    tmp = path.with_name("." + path.name + ".part")
    tmp.write_text(render_html(view), encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def latest_report(reports_dir: Path) -> Path | None:
    """The newest report file, for mails that link or attach it."""
    files = sorted(Path(reports_dir).glob("quality_*.html"))
    return files[-1] if files else None
