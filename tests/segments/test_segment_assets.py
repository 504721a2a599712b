"""The Dagster side: one asset per segment with size and change metadata, per-segment schedules,
and a refused export that fails the run with its reason."""

from __future__ import annotations

import dagster as dg
import pytest

from assets import segments
from assets.resources import CrmcleanResource
from pipelines.config import ConfigError
from tests.segments.people import customer, warehouse


def materialize(project, name: str) -> dg.ExecuteInProcessResult:
    defs = segments.definitions(project)
    key = dg.AssetKey(["segments", name])
    asset = next(a for a in defs.assets if key in a.keys)
    resource = CrmcleanResource(data_dir=str(project.data_dir), config_dir=str(project.config_dir))
    return dg.materialize(
        [asset], selection=[key], resources={"crmclean": resource}, raise_on_error=False
    )


def metadata(result: dg.ExecuteInProcessResult) -> dict:
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_asset_metadata_shows_size_and_change(project):
    con = warehouse(
        project.warehouse,
        [customer(f"c{i}") for i in range(4)] + [customer("x", newsletter_opt_in=False)],
    )
    con.close()
    first = metadata(materialize(project, "newsletter"))
    assert first["dagster/row_count"] == 4
    assert first["first_export"] is True and "previous_rows" not in first
    assert first["left_out_without_opt_in"] == 1
    assert "newsletter_" in first["files"] and "| ok |" in first["files"]

    con = warehouse(
        project.warehouse,
        [customer(f"c{i}") for i in range(5)],
        [{"customer_id": "c0", "reason": "unsubscribe"}],
    )
    con.close()
    second = metadata(materialize(project, "newsletter"))
    assert (
        second["dagster/row_count"],
        second["previous_rows"],
        second["change_since_last_export"],
    ) == (4, 4, 0)
    assert (second["added"], second["removed"], second["left_out_suppressed"]) == (1, 1, 1)


def test_refused_export_fails_the_run_with_the_reason(project):
    warehouse(
        project.warehouse, []
    ).close()  # an empty segment: newsletter has guards.min_rows = 1
    result = materialize(project, "newsletter")
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert (
        "segment newsletter: not exported: 0 rows, fewer than guards.min_rows = 1"
        in failure.event_specific_data.error.message
    )


def test_schedules_per_segment_with_time_zone(project):
    defs = dg.Definitions.merge(
        segments.definitions(project),
        dg.Definitions(
            resources={
                "crmclean": CrmcleanResource(
                    data_dir=str(project.data_dir), config_dir=str(project.config_dir)
                )
            }
        ),
    )
    daily = defs.resolve_schedule_def("daily_exports_schedule")
    assert (daily.cron_schedule, daily.execution_timezone, daily.job_name) == (
        "0 6 * * *",
        "Europe/Amsterdam",
        "daily_exports",
    )
    birthdays = defs.resolve_schedule_def("export_birthdays_next_7_days_schedule")
    assert (birthdays.cron_schedule, birthdays.execution_timezone) == (
        "0 6 * * 1",
        "Europe/Amsterdam",
    )
    daily_keys = {
        k.to_user_string()
        for k in defs.resolve_job_def("daily_exports").asset_layer.executable_asset_keys
    }
    assert daily_keys == {
        "segments/newsletter",
        "segments/winback",
        "segments/incomplete_profiles",
        "segments/by_country",
        "segments/welcome",
        "segments/reactivation",
        "segments/sunset",
        "segments/top_customers",
        "segments/category_affinity",
    }


def test_invalid_cron_names_the_segment(project):
    path = project.config_dir / "exports.yaml"
    path.write_text(path.read_text().replace('schedule: "0 6 * * 1"', 'schedule: "0 25 * * 1"'))
    with pytest.raises(
        ConfigError,
        match=r"segments.birthdays_next_7_days.schedule: '0 25 \* \* 1' is not a valid cron",
    ):
        segments.definitions(project)


def test_bad_filter_fails_the_code_location_load_naming_the_segment(project):
    """Filters are checked when the definitions load, against the schema, without a warehouse
    file."""
    path = project.config_dir / "exports.yaml"
    path.write_text(
        path.read_text().replace(
            'filter: "has_valid_email AND days_to_birthday < 7"',
            'filter: "has_valid_email AND days_to_birthdy < 7"',
        )
    )
    with pytest.raises(ConfigError, match=r"segments.birthdays_next_7_days: .*days_to_birthdy"):
        segments.definitions(project)
    assert not project.warehouse.exists()


def test_segments_depend_on_what_they_read(project):
    from assets.definitions import build_definitions

    graph = build_definitions(project).resolve_asset_graph()
    parents = {
        k.to_user_string() for k in graph.get(dg.AssetKey(["segments", "newsletter"])).parent_keys
    }
    assert parents == {"customers", "customer_metrics", "suppressions", "quality_metrics"}
