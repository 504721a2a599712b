"""What each golden customer bought and how they engage: orders, RFM, opens and clicks.

    customers + orders + engagement_events -> customer_metrics -> suppressions, segments

Refreshed after every customer rebuild (merges and splits move orders and events along), and
every morning with the privacy job (time moves the 12-month windows and the sunset clock on),
incrementally: only customers whose activity changed, or crossed a window, are recomputed. The
engine is pipelines/metrics.
"""

from datetime import UTC, datetime

import dagster as dg

from assets.customers import customers
from assets.drops import KIND_ASSETS
from assets.resources import WAREHOUSE_POOL, CrmcleanResource, table_schema
from pipelines.metrics.customer_metrics import refresh_customer_metrics
from pipelines.settings import Paths


@dg.asset(
    deps=[customers, KIND_ASSETS["orders"], KIND_ASSETS["engagement"]],
    pool=WAREHOUSE_POOL,
    group_name="customers",
    kinds={"duckdb"},
    automation_condition=dg.AutomationCondition.eager(),
    description="Per customer: orders, spend, RFM scores and segment, top category, opens, "
    "clicks, campaigns since the last engagement, engagement status, first seen.",
    metadata={"dagster/column_schema": table_schema("customer_metrics")},
)
def customer_metrics(
    context: dg.AssetExecutionContext, crmclean: CrmcleanResource
) -> dg.MaterializeResult:
    rules = crmclean.sources().activity
    # Windows (12 months, active months) count in whole days: re-runs the same day change nothing.
    as_of = datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    with crmclean.warehouse() as con:
        summary = refresh_customer_metrics(con, rules, as_of=as_of)
        rows, buyers, by_status, by_rfm = con.execute(
            """SELECT count(*), count(*) FILTER (WHERE order_count > 0),
                      (SELECT string_agg(s || ': ' || n, ', ' ORDER BY s) FROM (
                           SELECT engagement_status s, count(*) n FROM customer_metrics
                           GROUP BY 1)),
                      (SELECT string_agg(s || ': ' || n, ', ' ORDER BY s) FROM (
                           SELECT rfm_segment s, count(*) n FROM customer_metrics
                           WHERE rfm_segment IS NOT NULL GROUP BY 1))
               FROM customer_metrics"""
        ).fetchone()
        (unmatched_orders, unmatched_events) = con.execute(
            """SELECT (SELECT count(*) FROM orders WHERE customer_id IS NULL),
                      (SELECT count(*) FROM engagement_events WHERE customer_id IS NULL)"""
        ).fetchone()
    context.log.info(
        f"{summary['customers_recomputed']:,} of {rows:,} customers recomputed ({summary['mode']})"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(rows),
            "mode": summary["mode"],
            "customers_recomputed": dg.MetadataValue.int(summary["customers_recomputed"]),
            "orders_reassigned": dg.MetadataValue.int(summary["orders_reassigned"]),
            "events_reassigned": dg.MetadataValue.int(summary["events_reassigned"]),
            "customers_with_orders": dg.MetadataValue.int(buyers),
            "order_lines_unmatched": dg.MetadataValue.int(unmatched_orders),
            "events_unmatched": dg.MetadataValue.int(unmatched_events),
            "engagement_status": by_status or "",
            "rfm_segments": by_rfm or "",
        }
    )


def definitions(paths: Paths) -> dg.Definitions:
    return dg.Definitions(assets=[customer_metrics])
