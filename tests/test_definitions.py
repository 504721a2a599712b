"""The code location loads, and the asset graph shows every stage from drops to segments."""

from __future__ import annotations

import dagster as dg


def test_code_location_loads_and_validates(project):
    from assets.definitions import build_definitions

    defs = build_definitions(project)
    dg.Definitions.validate_loadable(defs)
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {
        "landed_file",
        "staged_rows",
        "contacts",
        "customers",
        "quality_metrics",
        "segments/newsletter",
    } <= keys
    assert {j.name for j in defs.resolve_all_job_defs()} >= {
        "ingest_drop",
        "refresh_customers",
        "daily_exports",
    }
    assert defs.resolve_sensor_def("new_drops")
    schedule = defs.resolve_schedule_def("daily_exports_schedule")
    assert schedule.execution_timezone == "Europe/Amsterdam"


def test_one_partitioned_asset_per_drop_kind_and_metrics_after_customers(project):
    """Every kind's files are partitions of its own asset, downstream of staged_rows, with the
    checks of its kind; customer_metrics follows customers, orders and engagement events."""
    from assets.definitions import build_definitions
    from pipelines.kinds import KINDS

    defs = build_definitions(project)
    graph = defs.resolve_asset_graph()
    for kind in KINDS.values():
        node = graph.get(dg.AssetKey(kind.asset))
        assert node.partitions_def.name == "drops", kind.name
        assert node.parent_keys == {dg.AssetKey("staged_rows")}, kind.name
        checks = {k.name for k in node.check_keys}
        assert checks == {c for c in kind.spec.checks if c != "duplicate_rate_vs_previous_load"}, (
            kind.name
        )
    metrics = graph.get(dg.AssetKey("customer_metrics"))
    assert metrics.parent_keys == {
        dg.AssetKey("customers"),
        dg.AssetKey("orders"),
        dg.AssetKey("engagement_events"),
    }
    assert dg.AssetKey("customer_metrics") in graph.get(dg.AssetKey("suppressions")).parent_keys


def test_writers_share_one_pool(project):
    from assets.definitions import build_definitions

    defs = build_definitions(project)
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.pools == {"duckdb_writer"}, key


def test_module_import_opens_no_warehouse(project):
    import importlib

    import assets.definitions as definitions

    importlib.reload(definitions)
    assert not project.warehouse.exists()


def test_figures_are_numeric_metadata(project):
    """A real drop run and segment export: every figure (row count, fill rate, validity, threshold)
    reaches Dagster as a number, so the UI plots it over time."""
    from assets.definitions import build_definitions
    from assets.drops import KIND_ASSETS, landed_file, staged_rows
    from assets.resources import CrmcleanResource
    from pipelines.ingest.discover import partition_key
    from pipelines.transport.local import LocalTransport
    from tests.quality.drops import crm_rows, write_crm
    from tests.segments.people import customer, warehouse

    contacts = KIND_ASSETS["contacts"]
    path = write_crm(project.inbox / "crm" / "klanten_20261122.csv", crm_rows(60, seed=3))
    key = partition_key("crm", next(iter(LocalTransport(path.parent).list([path.name]))))
    defs = build_definitions(project)
    checks = [
        c for c in defs.asset_checks if any(k.asset_key == contacts.key for k in c.check_keys)
    ]
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("drops", [key])
    resource = CrmcleanResource(data_dir=str(project.data_dir), config_dir=str(project.config_dir))
    result = dg.materialize(
        [landed_file, staged_rows, contacts, *checks],
        partition_key=key,
        instance=instance,
        resources={"crmclean": resource},
    )
    assert result.success

    numeric = (dg.IntMetadataValue, dg.FloatMetadataValue)
    loaded = next(
        e for e in result.get_asset_materialization_events() if e.asset_key == contacts.key
    )
    meta = loaded.materialization.metadata
    assert isinstance(meta["fill_rate/email"], dg.FloatMetadataValue)
    assert isinstance(meta["validity/email"], dg.FloatMetadataValue)
    assert isinstance(meta["rows_read"], dg.IntMetadataValue) and meta["rows_read"].value == 60
    evaluations = {e.check_name: e.metadata for e in result.get_asset_check_evaluations()}
    assert {"rejected_share", "validity_vs_previous_load", "fill_rate_vs_previous_load"} <= set(
        evaluations
    )
    share = evaluations["rejected_share"]
    assert isinstance(share["value"], dg.FloatMetadataValue)
    assert isinstance(share["threshold"], dg.FloatMetadataValue)
    for name, check_meta in evaluations.items():
        assert isinstance(check_meta["fill_rate/phone"], dg.FloatMetadataValue), name
        assert isinstance(check_meta["rows_loaded"], dg.IntMetadataValue), name
        texts = [k for k, v in check_meta.items() if not isinstance(v, numeric)]
        assert set(texts) <= {"detail", "load_id", "figures"}, (name, texts)

    newsletter = dg.AssetKey(["segments", "newsletter"])
    segment = next(a for a in defs.assets if newsletter in a.keys)

    warehouse(project.warehouse, [customer("c1"), customer("c2", email="C1@example.nl")]).close()
    exported = dg.materialize(
        [segment], selection=[newsletter], instance=instance, resources={"crmclean": resource}
    )
    meta = exported.get_asset_materialization_events()[0].materialization.metadata
    for k in (
        "dagster/row_count",
        "change_since_last_export",
        "added",
        "left_out_suppressed",
        "left_out_deduplicated",
    ):
        assert isinstance(meta[k], dg.IntMetadataValue), k
    assert meta["left_out_deduplicated"].value == 1
