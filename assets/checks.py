"""Asset checks of each drop (one per dropped file, like the assets they check).

On `landed_file`, before parsing: `file_not_empty`, `required_columns_present`. They do not
block in Dagster (staging rejects such a file anyway and records why in ingest_log); they make
the reason a visible check result. On the asset of each drop kind (contacts, orders, ...), after
the load, the checks its `DropKind.checks` names: `rejected_share`, `rows_vs_previous_load` and
`validity_vs_previous_load` are blocking (severity ERROR when the limits in `sources.yaml`
`quality:` are broken), `fill_rate_vs_previous_load` and `schema_drift` warn. Every result is also
recorded in the warehouse (`quality_checks`), where the exports read it: a failed ERROR check on a
source's latest drop stops all exports (pipelines/quality/checks.py).
"""

import warnings

import dagster as dg

from assets.drops import KIND_ASSETS, drops, landed_file
from assets.figures import figure_metadata
from assets.quality import check_result
from assets.resources import WAREHOUSE_POOL, CrmcleanResource
from pipelines.ingest.discover import parse_partition_key
from pipelines.ingest.land import file_id_for
from pipelines.kinds import KINDS
from pipelines.quality import checks
from pipelines.quality.metrics import figures_of, markdown_table, previous_load
from pipelines.settings import Paths
from pipelines.warehouse import transaction

LANDED_FILE_CHECKS = [n for n, s in checks.SPECS.items() if s.target == "landed_file"]


def _drop(context: dg.AssetCheckExecutionContext, crmclean: CrmcleanResource):
    source_name, _, _ = parse_partition_key(context.partition_key)
    return source_name, crmclean.sources().sources[source_name], file_id_for(context.partition_key)


def landed_file_check(name: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=landed_file,
        name=name,
        partitions_def=drops,
        blocking=False,
        pool=WAREHOUSE_POOL,
        description=checks.SPECS[name].description,
    )
    def _check(
        context: dg.AssetCheckExecutionContext, crmclean: CrmcleanResource
    ) -> dg.AssetCheckResult:
        _, source, file_id = _drop(context, crmclean)
        with crmclean.warehouse() as con:
            results = checks.inspect_landed_file(con, file_id, source)
            checks.record(con, results)
        return check_result(next(r for r in results if r.check_name == name))

    return _check


def load_check(kind: str, name: str) -> dg.AssetChecksDefinition:
    """Check `name` on the asset that loads drops of `kind`."""
    spec = checks.SPECS[name]

    @dg.asset_check(
        asset=KIND_ASSETS[kind],
        name=name,
        partitions_def=drops,
        blocking=spec.blocking,
        pool=WAREHOUSE_POOL,
        description=spec.description,
    )
    def _check(
        context: dg.AssetCheckExecutionContext, crmclean: CrmcleanResource
    ) -> dg.AssetCheckResult:
        source_name, source, file_id = _drop(context, crmclean)
        if source.kind != kind:  # a manual run of the whole job: another asset loads this file
            return dg.AssetCheckResult(
                passed=True, description=f"{source_name} delivers {source.kind} drops, not {kind}"
            )
        with crmclean.warehouse() as con:
            with transaction(con):
                results = checks.evaluate_load(con, file_id, source)
                checks.record(con, results)
            base = previous_load(con, file_id)
            figures = sorted(
                figures_of(con, file_id).items(), key=lambda kv: (kv[0][0], str(kv[0][1]))
            )
            rows = [(m, f, v) for (m, f), v in figures]
            table = markdown_table(
                rows,
                f"{source_name} load {file_id}",
                previous=figures_of(con, base) if base else None,
            )
        result = next((r for r in results if r.check_name == name), None)
        if result is None:
            return dg.AssetCheckResult(
                passed=True, description="nothing to check (the drop did not load)"
            )
        # every figure of the load as a number too (fill_rate/email, validity/phone, rows_read ...)
        return check_result(result, figures=dg.MetadataValue.md(table), **figure_metadata(rows))

    return _check


def definitions(paths: Paths) -> dg.Definitions:
    with warnings.catch_warnings():
        # Partitioned asset checks are "preview" in dagster 1.13; they are what a per-file check
        # needs.
        warnings.filterwarnings(
            "ignore", message="Specifying a partitions_def on an AssetCheckSpec"
        )
        asset_checks = [landed_file_check(n) for n in LANDED_FILE_CHECKS] + [
            load_check(kind.name, n)
            for kind in KINDS.values()
            for n in kind.spec.checks
            if checks.SPECS[n].target == "load"
        ]
    return dg.Definitions(asset_checks=asset_checks)
