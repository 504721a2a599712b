"""One asset per segment of exports.yaml: built, safety rules applied, delivered to its
destinations.

Schedules: segments without their own `schedule`/`timezone` run together in the job
`daily_exports` at `defaults.schedule`, in one step (`daily_segments`) that builds
`segment_candidates` once for all of them; a segment with its own gets its own step, a job
`export_<segment>` and a schedule `export_<segment>_schedule`. The engine is
pipelines/export/run.py.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from assets.resources import WAREHOUSE_POOL, CrmcleanResource
from pipelines.config import ConfigError, ExportsConfig, Segment, load_exports
from pipelines.export.destinations import destination_of
from pipelines.export.run import (
    ExportFailed,
    ExportRefused,
    ExportResult,
    export_segment,
    export_segments,
)
from pipelines.quality.report import latest_report
from pipelines.segments.build import validate_segments
from pipelines.settings import Paths


def _kinds(cfg: ExportsConfig, segment: Segment) -> set[str]:
    return {"csv"} | {destination_of(cfg.destinations[d]).kind for d in segment.destinations}


def result_metadata(result: ExportResult) -> dict:
    """Size, change since the last successful export, what safety and dedupe left out, and every
    file. Every figure is numeric metadata (plotted over time); `previous_rows` is absent the
    first time."""
    c = result.change
    files = ["| file | destination | rows | status |", "|---|---|---|---|"] + [
        f"| {f['file_name']} | {f['destination']} | {f['rows']:,} | {f['status']} |"
        for f in result.files
    ]
    meta = {
        "dagster/row_count": dg.MetadataValue.int(result.rows),
        "first_export": dg.MetadataValue.bool(c.previous is None),
        "change_since_last_export": dg.MetadataValue.int(
            result.size_change if result.size_change is not None else result.rows
        ),
        "added": dg.MetadataValue.int(c.added),
        "changed": dg.MetadataValue.int(c.changed),
        "removed": dg.MetadataValue.int(c.removed),
        "left_out_suppressed": dg.MetadataValue.int(result.excluded.get("suppressed", 0)),
        "left_out_without_opt_in": dg.MetadataValue.int(result.excluded.get("without_opt_in", 0)),
        "left_out_deduplicated": dg.MetadataValue.int(result.deduplicated),
        "mode": result.mode,
        "dedupe_by": result.dedupe_by,
        "files": dg.MetadataValue.md("\n".join(files)),
    }
    if c.previous is not None:
        meta["previous_rows"] = dg.MetadataValue.int(c.previous)
    if result.replaced_characters:
        meta["characters_replaced_for_encoding"] = dg.MetadataValue.int(result.replaced_characters)
    return meta


# By key: what a segment reads (customers, suppressions, metrics) and the checks that may block it.
SEGMENT_DEPS = [
    dg.AssetKey("customers"),
    dg.AssetKey("customer_metrics"),
    dg.AssetKey("suppressions"),
    dg.AssetKey("quality_metrics"),
]


def _spec(name: str, cfg: ExportsConfig) -> dg.AssetSpec:
    segment = cfg.segments[name]
    return dg.AssetSpec(
        key=dg.AssetKey(["segments", name]),
        deps=SEGMENT_DEPS,
        group_name="segments",
        kinds=_kinds(cfg, segment),
        description=segment.description or f"Segment {name}",
        metadata={"filter": segment.filter, "destinations": ", ".join(segment.destinations)},
        skippable=True,
    )


def _log_files(context: dg.AssetExecutionContext, result: ExportResult) -> None:
    for f in result.files:
        context.log.info(
            f"{f['file_name']} -> {f['destination']}: {f['status']} ({f['rows']:,} rows)"
        )


def daily_segments_asset(names: list[str], cfg: ExportsConfig) -> dg.AssetsDefinition:
    """The segments of the daily schedule in one step: they run at the same time and share one
    build of `segment_candidates` (pipelines/export/run.py `export_segments`), so the warehouse
    is joined once per run, not once per segment. Each stays its own asset; any subset can be
    materialized. A segment that fails does not stop the others; the step then fails naming
    every failed segment."""

    @dg.multi_asset(
        name="daily_segments",
        specs=[_spec(n, cfg) for n in names],
        can_subset=True,
        pool=WAREHOUSE_POOL,
    )
    def _daily(context: dg.AssetExecutionContext, crmclean: CrmcleanResource):
        cfg = crmclean.exports()
        selected = [
            n for n in names if dg.AssetKey(["segments", n]) in context.selected_asset_keys
        ]
        tz = ZoneInfo(cfg.defaults.timezone)
        now = datetime.now(tz).replace(tzinfo=None)
        paths = crmclean.paths
        with crmclean.warehouse() as con:
            results = export_segments(
                con,
                selected,
                cfg,
                outbox=paths.outbox,
                now=now,
                config_dir=paths.config_dir,
                quality_report=latest_report(paths.reports),
            )
        errors = []
        for name, result in results.items():
            if isinstance(result, ExportResult):
                _log_files(context, result)
                yield dg.MaterializeResult(
                    asset_key=dg.AssetKey(["segments", name]), metadata=result_metadata(result)
                )
            else:
                errors.append(result)
        if errors:
            # A refusal is a safety rule, not a glitch: retrying now would refuse again.
            raise dg.Failure(
                description="; ".join(str(e) for e in errors),
                allow_retries=not all(isinstance(e, ExportRefused) for e in errors),
            ) from errors[0]

    return _daily


def segment_asset(name: str, cfg: ExportsConfig) -> dg.AssetsDefinition:
    """A segment on its own schedule: its own asset and step."""
    segment = cfg.segments[name]

    @dg.asset(
        name=name,
        key_prefix=["segments"],
        deps=SEGMENT_DEPS,
        pool=WAREHOUSE_POOL,
        group_name="segments",
        kinds=_kinds(cfg, segment),
        description=segment.description or f"Segment {name}",
        metadata={"filter": segment.filter, "destinations": ", ".join(segment.destinations)},
    )
    def _segment(
        context: dg.AssetExecutionContext, crmclean: CrmcleanResource
    ) -> dg.MaterializeResult:
        cfg = crmclean.exports()
        seg = cfg.segments[name]
        tz = ZoneInfo(seg.timezone or cfg.defaults.timezone)
        now = datetime.now(tz).replace(tzinfo=None)
        paths = crmclean.paths
        with crmclean.warehouse() as con:
            try:
                result = export_segment(
                    con,
                    name,
                    seg,
                    cfg,
                    outbox=paths.outbox,
                    now=now,
                    config_dir=paths.config_dir,
                    quality_report=latest_report(paths.reports),
                )
            except ExportRefused as e:
                # A safety rule, not a glitch: retrying now would refuse again.
                raise dg.Failure(description=str(e), allow_retries=False) from e
            except ExportFailed as e:
                raise dg.Failure(description=str(e)) from e
        _log_files(context, result)
        return dg.MaterializeResult(metadata=result_metadata(result))

    return _segment


def own_schedule(cfg: ExportsConfig, segment: Segment) -> bool:
    return (segment.schedule or cfg.defaults.schedule) != cfg.defaults.schedule or (
        segment.timezone or cfg.defaults.timezone
    ) != cfg.defaults.timezone


def _schedule(name: str, job, cron: str, timezone: str, *, where: str) -> dg.ScheduleDefinition:
    try:
        return dg.ScheduleDefinition(
            name=name,
            job=job,
            cron_schedule=cron,
            execution_timezone=timezone,
            default_status=dg.DefaultScheduleStatus.RUNNING,
        )
    except dg.DagsterInvalidDefinitionError as e:
        raise ConfigError(
            f"exports.yaml: {where}: {cron!r} is not a valid cron schedule ({e})"
        ) from None


def definitions(paths: Paths) -> dg.Definitions:
    cfg = load_exports(paths.exports_file)
    validate_segments(
        cfg, datetime.now(ZoneInfo(cfg.defaults.timezone)).date()
    )  # a bad filter fails the load, naming it
    own = {
        name: segment_asset(name, cfg) for name, s in cfg.segments.items() if own_schedule(cfg, s)
    }
    names = [name for name in cfg.segments if name not in own]
    daily = [daily_segments_asset(names, cfg)] if names else []
    jobs = [
        dg.define_asset_job(
            "daily_exports",
            selection=dg.AssetSelection.assets(*daily),
            description="Build the segments on the default schedule and deliver them.",
        )
    ]
    schedules = [
        _schedule(
            "daily_exports_schedule",
            jobs[0],
            cfg.defaults.schedule,
            cfg.defaults.timezone,
            where="defaults.schedule",
        )
    ]
    for name, segment in cfg.segments.items():
        if not own_schedule(cfg, segment):
            continue
        job = dg.define_asset_job(
            f"export_{name}",
            selection=dg.AssetSelection.assets(own[name]),
            description=f"Build and deliver segment {name}.",
        )
        jobs.append(job)
        schedules.append(
            _schedule(
                f"export_{name}_schedule",
                job,
                segment.schedule or cfg.defaults.schedule,
                segment.timezone or cfg.defaults.timezone,
                where=f"segments.{name}.schedule",
            )
        )
    return dg.Definitions(assets=daily + list(own.values()), jobs=jobs, schedules=schedules)
