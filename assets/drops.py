"""One partition per dropped file: landed_file -> staged_rows -> the asset of the file's kind
(contacts, orders, engagement_events, suppression_events, erasure_requests), so the UI shows each
file's fate. The kinds and their loaders: pipelines/kinds."""

import glob
import json
from datetime import UTC, datetime

import dagster as dg

from assets.figures import figure_metadata
from assets.resources import WAREHOUSE_POOL, CrmcleanResource, table_schema
from pipelines.ingest.discover import parse_partition_key
from pipelines.ingest.land import file_id_for, land
from pipelines.ingest.load import stage_drop
from pipelines.ingest.sources import archive_remote, source_location
from pipelines.kinds import KINDS, DropKind, LoadContext, load_drop
from pipelines.quality.metrics import markdown_table
from pipelines.settings import Paths
from pipelines.transport import TransportAuthError, open_transport

drops = dg.DynamicPartitionsDefinition(name="drops")


@dg.asset(
    partitions_def=drops,
    pool=WAREHOUSE_POOL,
    group_name="ingest",
    kinds={"sftp", "duckdb"},
    description="The dropped file, downloaded once into data/landing and recorded in ingest_log.",
    metadata={"dagster/column_schema": table_schema("ingest_log")},
    # A dropped connection is retried; refused credentials or host keys are not (Failure below).
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL),
)
def landed_file(
    context: dg.AssetExecutionContext, crmclean: CrmcleanResource
) -> dg.MaterializeResult:
    source_name, name, _ = parse_partition_key(context.partition_key)
    cfg = crmclean.sources()
    source = cfg.sources[source_name]
    location = source_location(cfg, crmclean.paths, source_name)
    try:
        with open_transport(
            location, source.sftp, config_dir=crmclean.paths.config_dir
        ) as transport:
            listing = {f.name: f for f in transport.list([glob.escape(name)])}
            if name not in listing:
                raise dg.Failure(
                    f"{source_name}/{name}: the file is no longer at {location}",
                    allow_retries=False,
                )
            with crmclean.warehouse() as con:
                landed = land(
                    con,
                    transport,
                    landing_root=crmclean.paths.landing,
                    source=source_name,
                    remote=listing[name],
                    partition_key=context.partition_key,
                )
    except TransportAuthError as e:
        raise dg.Failure(f"{source_name}: {e}", allow_retries=False) from e
    return dg.MaterializeResult(
        metadata={
            "file_id": landed.file_id,
            "source": source_name,
            "file_name": name,
            "status": landed.status,
            "duplicate_of": landed.duplicate_of or "",
            "size_bytes": dg.MetadataValue.int(landed.size_bytes),
            "sha256": landed.sha256 or "",
        }
    )


@dg.asset(
    partitions_def=drops,
    deps=[landed_file],
    pool=WAREHOUSE_POOL,
    group_name="ingest",
    kinds={"duckdb"},
    description=(
        "The file parsed into staged_rows; bad rows quarantined in rejected_rows with a reason."
    ),
    metadata={"dagster/column_schema": table_schema("staged_rows")},
)
def staged_rows(
    context: dg.AssetExecutionContext, crmclean: CrmcleanResource
) -> dg.MaterializeResult:
    source_name, name, _ = parse_partition_key(context.partition_key)
    source = crmclean.sources().sources[source_name]
    file_id = file_id_for(context.partition_key)
    with crmclean.warehouse() as con:
        result = stage_drop(
            con,
            file_id=file_id,
            source_name=source_name,
            source=source,
            tmp_root=crmclean.paths.data_dir / "tmp",
        )
    reasons = "\n".join(
        ["| reason | rows |", "|---|---|"]
        + [f"| {r} | {n} |" for r, n in result.reject_reasons.items()]
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(result.rows_loaded),
            "rows_read": dg.MetadataValue.int(result.rows_read),
            "rows_loaded": dg.MetadataValue.int(result.rows_loaded),
            "rows_rejected": dg.MetadataValue.int(result.rows_rejected),
            "reject_reasons": dg.MetadataValue.md(reasons),
            "columns_missing": json.dumps(result.columns_missing),
            "columns_extra (schema drift)": json.dumps(result.columns_extra),
            "encoding": result.encoding or "",
            "encoding_note": result.encoding_note or "as declared",
        }
    )


def kind_asset(kind: DropKind) -> dg.AssetsDefinition:
    """The asset that loads the staged drops of one kind: one partition per file, like
    landed_file and staged_rows; a run materializes the one of its file's kind."""

    @dg.asset(
        name=kind.asset,
        partitions_def=drops,
        deps=[staged_rows],
        pool=WAREHOUSE_POOL,
        group_name="ingest",
        kinds={"duckdb"},
        description=kind.description,
        metadata={"dagster/column_schema": table_schema(kind.table), "drop_kind": kind.name},
        # A run of the whole job for one file (a manual launch) materializes only the asset of
        # the file's kind; the others yield nothing for it.
        output_required=False,
    )
    def _load(context: dg.AssetExecutionContext, crmclean: CrmcleanResource):
        source_name, _, _ = parse_partition_key(context.partition_key)
        cfg = crmclean.sources()
        source = cfg.sources[source_name]
        if source.kind != kind.name:
            context.log.info(
                f"{source_name} delivers {source.kind} drops: this file is loaded by "
                f"{KINDS[source.kind].asset}, not {kind.asset}"
            )
            return
        file_id = file_id_for(context.partition_key)
        ctx = LoadContext(
            file_id=file_id,
            source_name=source_name,
            source=source,
            config=cfg,
            paths=crmclean.paths,
            now=datetime.now(UTC).replace(tzinfo=None),
        )
        with crmclean.warehouse() as con:
            summary = load_drop(con, ctx)
            figures = con.execute(
                """SELECT metric, field, value FROM quality_metrics WHERE load_id = ?
                   ORDER BY metric, field""",
                [file_id],
            ).fetchall()
            (total,) = con.execute(f"SELECT count(*) FROM {kind.table}").fetchone()
        archive_remote(cfg, crmclean.paths, context.partition_key)
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": dg.MetadataValue.int(total),
                **{k: _figure(v) for k, v in summary.items()},
                "quality": dg.MetadataValue.md(
                    markdown_table(figures, f"Quality of {source_name} load {file_id}")
                ),
                # each figure as a number (fill_rate/email ...), plotted per load
                **figure_metadata(figures),
            }
        )

    return _load


def _figure(value):
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return dg.MetadataValue.int(value) if isinstance(value, int) else dg.MetadataValue.float(value)


KIND_ASSETS: dict[str, dg.AssetsDefinition] = {name: kind_asset(k) for name, k in KINDS.items()}


def assets_of(source_kind: str) -> list[dg.AssetKey]:
    """What one drop's run materializes: the file, its staged rows and its kind's asset."""
    return [landed_file.key, staged_rows.key, KIND_ASSETS[source_kind].key]


def definitions(paths: Paths) -> dg.Definitions:
    return dg.Definitions(assets=[landed_file, staged_rows, *KIND_ASSETS.values()])
