"""The Dagster code location: assets, checks, jobs, schedules, sensors and resources.

Loaded by `dagster dev -w workspace.yaml` and by the `crmclean` CLI. Nothing here opens the
warehouse: reading config is the only work done at import time.
"""

from __future__ import annotations

import dagster as dg

from assets.customers import customers
from assets.drops import contacts, landed_file, staged_rows
from assets.quality import quality_metrics
from assets.resources import CrmcleanResource
from assets.segments import build_segment_assets
from assets.sensors import drop_job, new_drops
from pipelines.config import load_exports
from pipelines.settings import Paths


def build_definitions(paths: Paths | None = None) -> dg.Definitions:
    paths = paths or Paths.from_env()
    exports = load_exports(paths.exports_file)
    segment_assets = build_segment_assets(exports)
    daily_exports = dg.define_asset_job(
        "daily_exports",
        selection=dg.AssetSelection.groups("segments"),
        description="Build every segment and deliver it to its destinations.",
    )
    refresh_customers = dg.define_asset_job(
        "refresh_customers",
        selection=dg.AssetSelection.assets(customers, quality_metrics),
        description="Match contacts into golden customers and measure warehouse quality.",
    )
    return dg.Definitions(
        assets=[landed_file, staged_rows, contacts, customers, quality_metrics, *segment_assets],
        jobs=[drop_job, refresh_customers, daily_exports],
        sensors=[new_drops],
        schedules=[
            dg.ScheduleDefinition(
                name="daily_exports_schedule",
                job=daily_exports,
                cron_schedule=exports.defaults.schedule,
                execution_timezone=exports.defaults.timezone,
                default_status=dg.DefaultScheduleStatus.RUNNING,
            )
        ],
        resources={"crmclean": CrmcleanResource(data_dir=str(paths.data_dir), config_dir=str(paths.config_dir))},
    )


defs = build_definitions()
