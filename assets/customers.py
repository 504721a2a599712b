"""Golden customers: contacts matched and merged, with stable ids and lineage."""

from datetime import UTC, datetime

import dagster as dg

from assets.drops import KIND_ASSETS
from assets.resources import WAREHOUSE_POOL, CrmcleanResource, MatchSparkResource, table_schema
from pipelines.match import build_customers
from pipelines.match.settings import load_match_settings
from pipelines.settings import Paths
from pipelines.warehouse import transaction
from pipelines.warehouse.builds import record_customer_build


@dg.asset(
    deps=[KIND_ASSETS["contacts"]],
    pool=WAREHOUSE_POOL,
    group_name="customers",
    kinds={"duckdb"},
    automation_condition=dg.AutomationCondition.eager(),
    description=(
        "Golden customer records (customers, customer_sources, match_evidence, customer_merges)."
    ),
    metadata={"dagster/column_schema": table_schema("customers")},
)
def customers(
    context: dg.AssetExecutionContext, crmclean: CrmcleanResource, spark: MatchSparkResource
) -> dg.MaterializeResult:
    cfg = crmclean.sources()
    paths = crmclean.paths
    settings = load_match_settings(paths.config_dir / "matching.yaml")
    priority = {name: s.priority for name, s in cfg.sources.items()}
    now = datetime.now(UTC).replace(tzinfo=None)
    with crmclean.warehouse() as con:
        with transaction(con):
            result = build_customers(
                con,
                settings=settings,
                source_priority=priority,
                overrides_path=paths.overrides_file if paths.overrides_file.exists() else None,
                now=now,
                spark=spark.spark_session if settings.backend == "spark" else None,
            )
            record_customer_build(con, now)
        n_contacts, n_customers = con.execute(
            "SELECT (SELECT count(*) FROM contacts), (SELECT count(*) FROM customers)"
        ).fetchone()
    context.log.info(f"{n_contacts} contacts -> {n_customers} customers")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(n_customers),
            "contacts": dg.MetadataValue.int(n_contacts),
            "new_customers": dg.MetadataValue.int(result.new),
            "merged": dg.MetadataValue.int(result.merged),
            "split": dg.MetadataValue.int(result.split),
            "pairs_scored": dg.MetadataValue.int(result.pairs_scored),
            "seconds": dg.MetadataValue.float(round(result.seconds, 2)),
            "backend": dg.MetadataValue.text(settings.backend),
            # seconds per match step (engine.py: features, blocking, compare, ..., survivorship)
            "steps": dg.MetadataValue.json({k: round(v, 2) for k, v in result.steps.items()}),
        }
    )


def definitions(paths: Paths) -> dg.Definitions:
    refresh_customers = dg.define_asset_job(
        "refresh_customers",
        selection=dg.AssetSelection.assets(customers).downstream()
        - dg.AssetSelection.groups("segments"),
        description="Match contacts into golden customers and measure warehouse quality.",
    )
    return dg.Definitions(assets=[customers], jobs=[refresh_customers])
