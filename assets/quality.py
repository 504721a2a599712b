"""Warehouse-level quality figures, measured after every customer rebuild."""


from datetime import datetime, timezone

import dagster as dg

from assets.customers import customers
from assets.resources import WAREHOUSE_POOL, CrmcleanResource
from pipelines.quality.metrics import markdown_table, record_warehouse_metrics
from pipelines.settings import Paths
from pipelines.warehouse import transaction


@dg.asset(
    deps=[customers],
    pool=WAREHOUSE_POOL,
    group_name="quality",
    kinds={"duckdb"},
    automation_condition=dg.AutomationCondition.eager(),
    description="Fill rate, validity, duplicates per load and per warehouse snapshot (quality_metrics).",
)
def quality_metrics(context: dg.AssetExecutionContext, crmclean: CrmcleanResource) -> dg.MaterializeResult:
    load_id = "warehouse-" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    with crmclean.warehouse() as con:
        with transaction(con):
            figures = record_warehouse_metrics(con, load_id=load_id)
        loads = con.execute(
            """SELECT l.source, l.file_name, l.rows_read, l.rows_loaded, l.rows_rejected, l.status
               FROM ingest_log l ORDER BY l.landed_at DESC LIMIT 20"""
        ).fetchall()
    table = ["| source | file | read | loaded | rejected | status |", "|---|---|---|---|---|---|"]
    table += [f"| {s} | {f} | {r:,} | {ld:,} | {rj:,} | {st} |" for s, f, r, ld, rj, st in loads]
    return dg.MaterializeResult(
        metadata={
            "warehouse": dg.MetadataValue.md(markdown_table(figures, "Warehouse snapshot")),
            "recent_loads": dg.MetadataValue.md("\n".join(table)),
        }
    )


def definitions(paths: Paths) -> dg.Definitions:
    return dg.Definitions(assets=[quality_metrics])
