"""`crmclean quality`: the latest figures per source, in the terminal."""

from __future__ import annotations

from pathlib import Path

from pipelines.warehouse import connect


def latest_by_source(con) -> list[tuple]:
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


def print_latest(warehouse: Path) -> None:
    con = connect(warehouse, read_only=True)
    try:
        rows = latest_by_source(con)
        if not rows:
            print("no quality figures yet: run `crmclean run` first")
            return
        current = None
        for source, load_id, metric, field, value in rows:
            if source != current:
                landed = con.execute("SELECT file_name, landed_at FROM ingest_log WHERE file_id = ?", [load_id]).fetchone()
                print(f"\n{source}  (latest load: {landed[0] if landed else load_id}, {landed[1] if landed else ''})")
                current = source
            if value is None:
                shown = "n/a"
            elif metric in ("fill_rate", "validity", "rejected_share"):
                shown = f"{100 * value:6.1f}%"
            else:
                shown = f"{value:,.0f}"
            print(f"  {metric:<16} {field or '':<20} {shown}")
    finally:
        con.close()
