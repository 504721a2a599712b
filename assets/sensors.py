"""The sensor that turns every new, complete file on a source into a drop partition and a run.

It only lists sources (never opens the warehouse): the cursor remembers what was requested, so a
file is requested once, and only after it stopped changing for the source's settle time.
"""

import json

import dagster as dg

from assets.drops import assets_of, drops
from assets.resources import CrmcleanResource
from pipelines.config import SourcesConfig
from pipelines.ingest.discover import parse_partition_key
from pipelines.ingest.sources import ready_drops
from pipelines.settings import Paths

drop_job = dg.define_asset_job(
    "ingest_drop",
    selection=dg.AssetSelection.groups("ingest"),
    description="Land, parse and load one dropped file (one run per file, with the asset of the "
    "file's kind: contacts, orders, engagement_events, ...).",
)


def drop_assets(cfg: SourcesConfig, partition_key: str) -> list[dg.AssetKey]:
    """The assets one drop's run materializes, by the kind of its source."""
    source_name, _, _ = parse_partition_key(partition_key)
    return assets_of(cfg.sources[source_name].kind)


def evaluate_sources(
    crmclean: CrmcleanResource, cursor: str | None, now: float | None = None
) -> dg.SensorResult:
    """List every source and request a run for each ready file. Shared by the sensor and the
    CLI."""
    cfg = crmclean.sources()
    ready = ready_drops(cfg, crmclean.paths, json.loads(cursor) if cursor else {}, now)
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(partition_key=k, run_key=k, asset_selection=drop_assets(cfg, k))
            for k in ready.keys
        ],
        dynamic_partitions_requests=[drops.build_add_request(ready.keys)] if ready.keys else [],
        cursor=json.dumps(ready.state, sort_keys=True),
        skip_reason=None
        if ready.keys
        else ("; ".join(ready.problems) if ready.problems else "no new complete files"),
    )


@dg.sensor(
    job=drop_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Lists every source; each new, settled file becomes a drop partition and a run.",
)
def new_drops(context: dg.SensorEvaluationContext, crmclean: CrmcleanResource) -> dg.SensorResult:
    return evaluate_sources(crmclean, context.cursor)


def definitions(paths: Paths) -> dg.Definitions:
    return dg.Definitions(jobs=[drop_job], sensors=[new_drops])
