"""Quality after every customer rebuild: the warehouse snapshot, one freshness asset per source,
and the HTML report.

    customers -> quality_metrics -> quality_report -> quality_alerts
                              +-> sources/<name> (one per source)

`sources/<name>` materializes when a new drop of that source has loaded; its freshness policy
(`quality.expected_every_hours`) turns it late in the UI when no drop came in time, and its
check `drop_on_time` records the same in the warehouse (and so in the alerts). The engine is
pipelines/quality.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from assets.customer_metrics import customer_metrics
from assets.customers import customers
from assets.figures import figure_metadata
from assets.resources import WAREHOUSE_POOL, CrmcleanResource, table_schema
from pipelines.config import SourcesConfig, load_sources
from pipelines.quality import checks
from pipelines.quality.metrics import markdown_table, record_warehouse_metrics
from pipelines.quality.report import write_report
from pipelines.settings import Paths
from pipelines.warehouse import transaction


def check_result(r: checks.CheckResult, **metadata) -> dg.AssetCheckResult:
    """An engine check result as Dagster shows it."""
    meta = {"detail": dg.MetadataValue.text(r.detail), "load_id": r.load_id}
    if r.value is not None:
        meta["value"] = dg.MetadataValue.float(float(r.value))
    if r.threshold is not None:
        meta["threshold"] = dg.MetadataValue.float(float(r.threshold))
    return dg.AssetCheckResult(
        passed=r.passed,
        severity=dg.AssetCheckSeverity.ERROR
        if r.severity == checks.ERROR
        else dg.AssetCheckSeverity.WARN,
        description=r.detail[:500],
        metadata={**meta, **metadata},
    )


@dg.asset(
    deps=[customers, customer_metrics],
    pool=WAREHOUSE_POOL,
    group_name="quality",
    kinds={"duckdb"},
    automation_condition=dg.AutomationCondition.eager(),
    description=(
        "Warehouse snapshot in quality_metrics: duplicates (exact, matched, left), consistency "
        "across sources, customer fill rate, validity and update age; per-source figures on each "
        "source's latest load."
    ),
    check_specs=[
        dg.AssetCheckSpec(
            "duplicate_rate_vs_previous_load",
            asset="quality_metrics",
            description=checks.SPECS["duplicate_rate_vs_previous_load"].description,
        )
    ],
    metadata={"dagster/column_schema": table_schema("quality_metrics")},
)
def quality_metrics(context: dg.AssetExecutionContext, crmclean: CrmcleanResource):
    load_id = "warehouse-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    cfg = crmclean.sources()
    with crmclean.warehouse() as con:
        with transaction(con):
            figures = record_warehouse_metrics(con, load_id=load_id)
            duplicates = checks.evaluate_duplicates(con, cfg)
            checks.record(con, duplicates)
        loads = con.execute(
            """SELECT l.source, l.file_name, l.rows_read, l.rows_loaded, l.rows_rejected, l.status
               FROM ingest_log l ORDER BY l.landed_at DESC LIMIT 20"""
        ).fetchall()
        stored = con.execute("SELECT count(*) FROM quality_metrics").fetchone()[0]
    table = [
        "| source | file | read | loaded | rejected | status |",
        "|---|---|---:|---:|---:|---|",
    ]
    table += [
        f"| {s} | {f} | {r or 0:,} | {ld or 0:,} | {rj or 0:,} | {st} |"
        for s, f, r, ld, rj, st in loads
    ]
    by_key = {(m, f): v for m, f, v in figures}
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(
                stored
            ),  # figures in quality_metrics, all loads
            "figures_measured": dg.MetadataValue.int(len(figures)),
            "customers": dg.MetadataValue.int(int(by_key.get(("customers", None)) or 0)),
            **{k: v for k, v in figure_metadata(figures).items() if k != "customers"},
            "load_id": load_id,
            "warehouse": dg.MetadataValue.md(markdown_table(figures, "Warehouse snapshot")),
            "recent_loads": dg.MetadataValue.md("\n".join(table)),
        }
    )
    failed = [r for r in duplicates if not r.passed]
    detail = (
        "; ".join(f"{r.source}: {r.detail}" for r in (failed or duplicates))
        or "no contacts source loaded yet"
    )
    yield dg.AssetCheckResult(
        check_name="duplicate_rate_vs_previous_load",
        passed=not failed,
        severity=dg.AssetCheckSeverity.WARN,
        description=detail[:500],
        metadata={
            **{
                f"value/{r.source}": dg.MetadataValue.float(float(r.value))
                for r in duplicates
                if r.value is not None
            },
            **{
                f"threshold/{r.source}": dg.MetadataValue.float(float(r.threshold))
                for r in duplicates
                if r.threshold is not None
            },
            "failed_sources": dg.MetadataValue.int(len(failed)),
            "per_source": dg.MetadataValue.md(
                "\n".join(
                    ["| source | passed | detail |", "|---|---|---|"]
                    + [
                        f"| {r.source} | {'yes' if r.passed else 'NO'} | {r.detail} |"
                        for r in duplicates
                    ]
                )
            ),
        },
    )


def source_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["sources", name])


def source_drops_asset(cfg: SourcesConfig) -> dg.AssetsDefinition:
    """One asset per source, materialized when a new drop of it loaded, with a freshness policy."""
    specs, check_specs = [], []
    for name, source in cfg.sources.items():
        hours = checks.expected_hours(source)
        # Dagster's freshness windows start at one minute.
        policy = (
            dg.FreshnessPolicy.time_window(
                fail_window=max(timedelta(hours=hours), timedelta(minutes=1))
            )
            if hours
            else None
        )
        specs.append(
            dg.AssetSpec(
                source_key(name),
                deps=[quality_metrics],
                group_name="sources",
                kinds={"sftp"} if source.is_sftp else {"file"},
                description=(
                    f"Newest loaded drop of {name} ({source.kind}). {source.description}"
                ).strip(),
                skippable=True,
                freshness_policy=policy,
                automation_condition=dg.AutomationCondition.eager(),
                metadata={
                    "expected_every_hours": dg.MetadataValue.float(float(hours))
                    if hours
                    else "no rhythm"
                },
            )
        )
        check_specs.append(
            dg.AssetCheckSpec(
                "drop_on_time",
                asset=source_key(name),
                description=checks.SPECS["drop_on_time"].description,
            )
        )

    @dg.multi_asset(
        name="source_drops",
        specs=specs,
        check_specs=check_specs,
        can_subset=True,
        pool=WAREHOUSE_POOL,
        description=(
            "Per source: the newest loaded drop (a new one materializes the asset) and whether it "
            "came on time."
        ),
    )
    def source_drops(context: dg.AssetExecutionContext, crmclean: CrmcleanResource):
        cfg = crmclean.sources()
        with crmclean.warehouse() as con:
            newest = {
                s: (fid, fname, landed, read)
                for s, fid, fname, landed, read in con.execute(
                    """SELECT source, file_id, file_name, landed_at, rows_read FROM ingest_log
                       WHERE status = 'loaded'
                       QUALIFY row_number() OVER (PARTITION BY source
                                                  ORDER BY landed_at DESC, file_id DESC) = 1"""
                ).fetchall()
            }
            results = checks.evaluate_freshness(con, cfg)
            checks.record(con, results)
        by_source = {r.source: r for r in results}
        for key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
            name = key.path[-1]
            if name in newest:
                file_id, file_name, landed_at, read = newest[name]
                last = context.instance.get_latest_materialization_event(key)
                seen = (
                    last.asset_materialization.metadata.get("file_id")
                    if last and last.asset_materialization
                    else None
                )
                if seen is None or seen.value != file_id:
                    yield dg.MaterializeResult(
                        asset_key=key,
                        metadata={
                            "file_id": file_id,
                            "file_name": file_name,
                            "landed_at": landed_at.isoformat(sep=" "),
                            "rows_read": dg.MetadataValue.int(read or 0),
                            "dagster/row_count": dg.MetadataValue.int(read or 0),
                        },
                    )
            if (
                name in by_source
                and dg.AssetCheckKey(key, "drop_on_time") in context.selected_asset_check_keys
            ):
                yield dg.AssetCheckResult(
                    asset_key=key,
                    check_name="drop_on_time",
                    **_as_kwargs(check_result(by_source[name])),
                )

    return source_drops


def _as_kwargs(result: dg.AssetCheckResult) -> dict:
    return {
        "passed": result.passed,
        "severity": result.severity,
        "description": result.description,
        "metadata": result.metadata,
    }


def quality_report_asset() -> dg.AssetsDefinition:
    # Not downstream of sources/<name>: those skip when no new drop came, which would skip the
    # report.
    @dg.asset(
        name="quality_report",
        deps=[quality_metrics],
        pool=WAREHOUSE_POOL,
        group_name="quality",
        kinds={"html"},
        automation_condition=dg.AutomationCondition.eager(),
        description=(
            "Catches up on drops whose checks did not run (a file rejected in staging), then "
            "writes the self-contained HTML report data/reports/quality_<date>.html (tables and "
            "trend charts)."
        ),
    )
    def quality_report(
        context: dg.AssetExecutionContext, crmclean: CrmcleanResource
    ) -> dg.MaterializeResult:
        cfg = crmclean.sources()
        with crmclean.warehouse() as con:
            with transaction(con):
                caught_up = checks.evaluate_all(con, cfg)
            path = write_report(con, crmclean.paths.reports, list(cfg.sources))
            blocking = checks.blocking_failures(con)
        failed = [r for r in caught_up if not r.passed]
        context.log.info(f"quality report: {path}")
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(path)),
                "exports_blocked": dg.MetadataValue.bool(bool(blocking)),
                "blocking_failure_count": dg.MetadataValue.int(len(blocking)),
                "failed_check_count": dg.MetadataValue.int(len(failed)),
                "blocking_failures": dg.MetadataValue.md(
                    "\n".join(f"- {b}" for b in blocking) or "none"
                ),
                "failed_checks": dg.MetadataValue.md(
                    "\n".join(
                        f"- [{r.severity}] {r.source} {r.check_name}: {r.detail}" for r in failed
                    )
                    or "none"
                ),
            }
        )

    return quality_report


def definitions(paths: Paths) -> dg.Definitions:
    cfg = load_sources(paths.sources_file)
    return dg.Definitions(
        assets=[quality_metrics, source_drops_asset(cfg), quality_report_asset()]
    )
