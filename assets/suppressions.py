"""Privacy assets: who must not be mailed (suppressions + consent), and file retention.

`suppressions` runs after every customer rebuild (it is in `refresh_customers`) and before the
segments; it also rewrites the DuckDB file after an erasure drop. `privacy_daily` runs it with
retention every morning before the exports, also on days without drops. The engine is
pipelines/privacy; see its docstring for what exports may rely on.
"""

from datetime import datetime

import dagster as dg

from assets.customer_metrics import customer_metrics
from assets.customers import customers
from assets.drops import KIND_ASSETS
from assets.resources import WAREHOUSE_POOL, CrmcleanResource, table_schema
from pipelines.config import load_sources
from pipelines.privacy.erasure import compact_if_pending
from pipelines.privacy.masking import install_log_masking, masked_errors
from pipelines.privacy.retention import apply_retention
from pipelines.privacy.rules import refresh_suppressions
from pipelines.privacy.tombstones import tombstone_key
from pipelines.settings import Paths, private_umask


class SuppressionsConfig(dg.Config):
    full: bool = False  # rebuild every customer and address, not only what changed since


@dg.asset(
    deps=[customers, customer_metrics, KIND_ASSETS["suppressions"], KIND_ASSETS["engagement"]],
    pool=WAREHOUSE_POOL,
    group_name="privacy",
    kinds={"duckdb"},
    automation_condition=dg.AutomationCondition.eager(),
    description=(
        "Who must not be mailed: unsubscribes, complaints, bounces by the configured rules, "
        "erased people who came back, and customers without consent (no_consent). Also rebuilds "
        "`consent`. Incremental on a daily run: only the customers and addresses touched since "
        "the last refresh (run config `full: true` rebuilds everything)."
    ),
    metadata={"dagster/column_schema": table_schema("suppressions")},
)
def suppressions(
    context: dg.AssetExecutionContext, crmclean: CrmcleanResource, config: SuppressionsConfig
) -> dg.MaterializeResult:
    cfg = crmclean.sources()
    key = tombstone_key(crmclean.paths.data_dir)
    with masked_errors(), crmclean.warehouse() as con:
        summary = refresh_suppressions(con, cfg, tombstone_key=key, full=config.full)
        rows = con.execute("SELECT count(*) FROM suppressions").fetchone()[0]
    with masked_errors():
        compacted = compact_if_pending(crmclean.paths.warehouse)
    if summary.unmatchable_tombstones:
        context.log.warning(
            f"{summary.unmatchable_tombstones} tombstone(s) were made with another key and no "
            "longer match: was CRMCLEAN_TOMBSTONE_KEY changed?"
        )
    context.log.info(
        f"{summary.mode}: {summary.customers_recomputed:,} customers and "
        f"{summary.addresses_recomputed:,} addresses recomputed; "
        f"{summary.customers_suppressed:,} of {summary.customers:,} customers suppressed; "
        f"{summary.customers_with_consent:,} with consent"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(rows),
            "mode": summary.mode,
            **{k: dg.MetadataValue.int(v) for k, v in summary.metadata().items()},
            "warehouse_compacted_after_erasure": dg.MetadataValue.bool(compacted),
        }
    )


@dg.asset(
    deps=[suppressions],
    pool=WAREHOUSE_POOL,
    group_name="privacy",
    kinds={"file"},
    description=(
        "Landing and outbox files past their retention (sources.yaml `retention`) deleted."
    ),
)
def file_retention(
    context: dg.AssetExecutionContext, crmclean: CrmcleanResource
) -> dg.MaterializeResult:
    cfg = crmclean.sources()
    with masked_errors(), crmclean.warehouse() as con:
        result = apply_retention(
            con,
            crmclean.paths,
            cfg.retention,
            now=datetime.now(),
            local_inbox_sources={name for name, s in cfg.sources.items() if s.location is None},
        )
    return dg.MaterializeResult(
        metadata={
            **{k: dg.MetadataValue.int(v) for k, v in result.metadata().items()},
            "landing_days": dg.MetadataValue.int(cfg.retention.landing_days),
            "outbox_days": dg.MetadataValue.int(cfg.retention.outbox_days),
        }
    )


def definitions(paths: Paths) -> dg.Definitions:
    # Process-wide, for every asset of the code location: logs masked, files created owner-only.
    install_log_masking()
    private_umask()
    timezone = load_sources(paths.sources_file).defaults.timezone
    job = dg.define_asset_job(
        "privacy_daily",
        selection=dg.AssetSelection.assets(customer_metrics, suppressions, file_retention),
        description="Refresh customer metrics (time moves their windows on), rebuild suppressions "
        "and consent, and apply file retention.",
    )
    schedule = dg.ScheduleDefinition(
        name="privacy_daily_schedule",
        job=job,
        cron_schedule="30 5 * * *",
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    return dg.Definitions(assets=[suppressions, file_retention], jobs=[job], schedules=[schedule])
