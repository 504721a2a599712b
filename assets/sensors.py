"""The sensor that turns every new, complete file on a source into a drop partition and a run.

It only lists sources (never opens the warehouse): the cursor remembers what was requested, so a
file is requested once, and only after it stopped changing for the source's settle time.
"""

import json
import time

import dagster as dg

from assets.drops import drops, source_location
from assets.resources import CrmcleanResource
from pipelines.ingest.discover import discover, listing_patterns, partition_key
from pipelines.settings import Paths
from pipelines.transport import TransportAuthError, TransportError, open_transport

drop_job = dg.define_asset_job(
    "ingest_drop",
    selection=dg.AssetSelection.groups("ingest"),
    description="Land, parse and load one dropped file (one run per file).",
)


def evaluate_sources(
    crmclean: CrmcleanResource, cursor: str | None, now: float | None = None
) -> dg.SensorResult:
    """List every source and request a run for each ready file. Shared by the sensor and the CLI."""
    cfg = crmclean.sources()
    state = json.loads(cursor) if cursor else {}
    keys: list[str] = []
    problems: list[str] = []
    for name, source in cfg.sources.items():
        try:
            transport = open_transport(
                source_location(crmclean, name), source.sftp, config_dir=crmclean.paths.config_dir
            )
            try:
                listing = transport.list(listing_patterns(source.patterns, source.done_marker))
            finally:
                transport.close()
        except TransportAuthError:
            raise  # a refused key or password must fail loudly, not skip quietly
        except TransportError as e:
            problems.append(f"{name}: {e}")
            continue
        ready, state[name] = discover(
            listing,
            state.get(name),
            settle_seconds=cfg.settle_of(name),
            done_marker=source.done_marker,
            now=time.time() if now is None else now,
        )
        keys += [partition_key(name, f) for f in ready]
    return dg.SensorResult(
        run_requests=[dg.RunRequest(partition_key=k, run_key=k) for k in keys],
        dynamic_partitions_requests=[drops.build_add_request(keys)] if keys else [],
        cursor=json.dumps(state, sort_keys=True),
        skip_reason=None
        if keys
        else ("; ".join(problems) if problems else "no new complete files"),
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
