"""One asset per segment of exports.yaml: built, suppression applied, exported to its destinations."""


from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from assets.quality import quality_metrics
from assets.resources import WAREHOUSE_POOL, CrmcleanResource
from pipelines.config import ExportsConfig, load_exports
from pipelines.export.run import export_segment
from pipelines.settings import Paths
from pipelines.warehouse import transaction


def segment_asset(name: str, description: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=name,
        key_prefix=["segments"],
        deps=[quality_metrics],
        pool=WAREHOUSE_POOL,
        group_name="segments",
        kinds={"csv"},
        description=description or f"Segment {name}",
    )
    def _segment(context: dg.AssetExecutionContext, crmclean: CrmcleanResource) -> dg.MaterializeResult:
        cfg = crmclean.exports()
        segment = cfg.segments[name]
        now = datetime.now(ZoneInfo(cfg.defaults.timezone)).replace(tzinfo=None)
        with crmclean.warehouse() as con:
            previous = con.execute(
                "SELECT rows FROM export_log WHERE segment = ? AND status = 'ok' ORDER BY exported_at DESC LIMIT 1", [name]
            ).fetchone()
            with transaction(con):
                result = export_segment(con, name, segment, cfg, outbox=crmclean.paths.outbox, now=now)
        change = result.rows - previous[0] if previous else result.rows
        files = "\n".join(["| file | destination | status |", "|---|---|---|"] + [
            f"| {f['file_name']} | {f['destination']} | {f['status']} |" for f in result.files
        ])
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": dg.MetadataValue.int(result.rows),
                "change_since_last_export": dg.MetadataValue.int(change),
                "files": dg.MetadataValue.md(files),
            }
        )

    return _segment


def build_segment_assets(exports: ExportsConfig) -> list[dg.AssetsDefinition]:
    return [segment_asset(name, seg.description) for name, seg in exports.segments.items()]


def definitions(paths: Paths) -> dg.Definitions:
    exports = load_exports(paths.exports_file)
    daily_exports = dg.define_asset_job(
        "daily_exports",
        selection=dg.AssetSelection.groups("segments"),
        description="Build every segment and deliver it to its destinations.",
    )
    schedule = dg.ScheduleDefinition(
        name="daily_exports_schedule",
        job=daily_exports,
        cron_schedule=exports.defaults.schedule,
        execution_timezone=exports.defaults.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    return dg.Definitions(assets=build_segment_assets(exports), jobs=[daily_exports], schedules=[schedule])
