"""The run-failure sensor, evaluated on real failed runs from the Dagster instance."""

from __future__ import annotations

import dagster as dg
import yaml

from assets.cli import main
from assets.definitions import build_definitions
from assets.resources import CrmcleanResource
from tests.quality.drops import crm_rows, write_crm


def failure_context(project, job_name: str):
    instance = dg.DagsterInstance.get()
    record = instance.get_run_records(
        dg.RunsFilter(job_name=job_name, statuses=[dg.DagsterRunStatus.FAILURE]), limit=1
    )[0]
    run = record.dagster_run
    event = next(
        e.dagster_event
        for e in instance.all_logs(run.run_id)
        if e.dagster_event and e.dagster_event.event_type == dg.DagsterEventType.RUN_FAILURE
    )
    resource = CrmcleanResource(data_dir=str(project.data_dir), config_dir=str(project.config_dir))
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure",
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=run,
        resources={"crmclean": resource},
    ).for_run_failure()
    return run, context


def mails(project) -> list[str]:
    return (
        sorted(p.name for p in (project.outbox / "mail").glob("*.eml"))
        if (project.outbox / "mail").exists()
        else []
    )


def test_a_rejected_drop_requests_the_quality_watch_instead_of_mailing(project):
    write_crm(project.inbox / "crm" / "klanten_20261123.csv", [], header_only=True)
    assert main(["run", "--no-exports"]) == 1
    before = mails(project)
    sensor = build_definitions(project).resolve_sensor_def("alert_on_run_failure")
    run, context = failure_context(project, "ingest_drop")
    result = sensor(context)
    assert isinstance(result, dg.RunRequest) and result.run_key == f"after-failed-run-{run.run_id}"
    assert (
        mails(project) == before
    )  # the check alert (quality_watch) reports it, not a second mail


def test_any_other_failed_run_is_mailed(project):
    cfg = yaml.safe_load(project.exports_file.read_text())
    cfg["segments"]["newsletter"]["guards"]["min_rows"] = (
        1_000_000  # the guard refuses: not a data check
    )
    project.exports_file.write_text(yaml.safe_dump(cfg, sort_keys=False))
    write_crm(project.inbox / "crm" / "klanten_20261123.csv", crm_rows(200))
    assert main(["run"]) == 1
    before = mails(project)
    # `crmclean run` has no daemon: it mailed the failure itself
    assert [m for m in before if "run_failed_crmclean_run" in m]
    sensor = build_definitions(project).resolve_sensor_def("alert_on_run_failure")
    run, context = failure_context(project, "daily_exports")
    result = sensor(context)
    assert isinstance(result, dg.SkipReason)
    new = [m for m in mails(project) if m not in before]
    assert len(new) == 1 and "run_failed_daily_exports" in new[0]
    text = (project.outbox / "mail" / new[0]).read_text()
    assert "guards.min_rows" in text and run.run_id in text
