"""Alert emails: failed quality checks (the `quality_alerts` asset) and failed runs (a sensor).

`quality_alerts` runs after every quality report and in the hourly `quality_watch` job: it
mails every failed check not reported before, in one message with the report attached. The
run-failure sensor mails any failed run, except a drop run whose only failures are data
problems (a rejected file, a failed blocking check): for those it starts `quality_watch`, which
records the checks and sends the one alert about them. Mail settings are `exports.yaml`
`smtp:` and `alerts:`; with no SMTP host the mails land as .eml files in `<data>/outbox/mail/`.
"""

import dagster as dg

from assets.resources import WAREHOUSE_POOL, CrmcleanResource
from pipelines.quality.alerts import send_check_alerts, send_run_failure_alert
from pipelines.quality.report import latest_report
from pipelines.settings import Paths
from pipelines.warehouse import transaction

# Exceptions that mean "this drop is bad", not "the pipeline is broken": the check alert says it.
DATA_FAILURES = {"FileRejected", "DagsterAssetCheckFailedError"}


@dg.asset(
    deps=[dg.AssetKey("quality_report")],
    pool=WAREHOUSE_POOL,
    group_name="quality",
    kinds={"email"},
    automation_condition=dg.AutomationCondition.eager(),
    description=(
        "Mails failed quality checks not reported yet (one message, report attached) "
        "and marks them alerted."
    ),
)
def quality_alerts(
    context: dg.AssetExecutionContext, crmclean: CrmcleanResource
) -> dg.MaterializeResult:
    exports = crmclean.exports()
    with crmclean.warehouse() as con:
        with transaction(con):
            result = send_check_alerts(
                con, exports, crmclean.paths.outbox, report=latest_report(crmclean.paths.reports)
            )
    if result.location:
        context.log.warning(
            f"alert about {len(result.checks)} failed check(s) sent: {result.location}"
        )
    rows = ["| severity | source | file | check | detail |", "|---|---|---|---|---|"] + [
        f"| {c.severity} | {c.source} | {c.file_name or ''} | {c.check_name} | {c.detail} |"
        for c in result.checks
    ]
    return dg.MaterializeResult(
        metadata={
            "alerted_checks": dg.MetadataValue.int(len(result.checks) if result.location else 0),
            "sent_to": result.location or "nothing to send",
            "checks": dg.MetadataValue.md(
                "\n".join(rows) if result.checks else "no new failed check"
            ),
        }
    )


def error_classes(error) -> set[str]:
    """Class names along an error's cause/context chain."""
    names = set()
    while error is not None:
        names.add(error.cls_name)
        error = error.cause or getattr(error, "context", None)
    return names


def step_errors(context: dg.RunFailureSensorContext) -> list[tuple[str, str, set[str]]]:
    """(step, message, exception class names) of each failed step of the run."""
    out = []
    for event in context.get_step_failure_events():
        error = event.event_specific_data.error if event.event_specific_data else None
        message = (
            error.message.strip().splitlines()[-1] if error and error.message.strip() else "failed"
        )
        out.append((event.step_key or "", message, error_classes(error)))
    return out


def definitions(paths: Paths) -> dg.Definitions:
    quality_watch = dg.define_asset_job(
        "quality_watch",
        selection=dg.AssetSelection.groups("sources")
        | dg.AssetSelection.assets(dg.AssetKey("quality_report"), dg.AssetKey("quality_alerts")),
        description=(
            "Late sources, checks of drops that failed to load, the report and the alert mail."
        ),
    )
    watch_schedule = dg.ScheduleDefinition(
        name="quality_watch_hourly",
        job=quality_watch,
        cron_schedule="17 * * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Every hour: is any source late? Mail what failed.",
    )

    @dg.run_failure_sensor(
        name="alert_on_run_failure",
        request_job=quality_watch,
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        description=(
            "Mails a failed run; after a failed drop run, runs quality_watch so its checks are "
            "recorded and alerted."
        ),
    )
    def alert_on_run_failure(context: dg.RunFailureSensorContext, crmclean: CrmcleanResource):
        run = context.dagster_run
        errors = step_errors(context)
        data_only = bool(errors) and all(classes & DATA_FAILURES for _, _, classes in errors)
        if not (run.job_name == "ingest_drop" and data_only):
            lines = [f"{step}: {message}" for step, message, _ in errors] or [
                context.failure_event.message or "failed"
            ]
            where = send_run_failure_alert(
                crmclean.exports(),
                crmclean.paths.outbox,
                job=run.job_name,
                run_id=run.run_id,
                errors=lines,
                partition=run.tags.get("dagster/partition"),
            )
            context.log.info(f"run failure alert: {where}")
        if run.job_name == "ingest_drop":
            return dg.RunRequest(run_key=f"after-failed-run-{run.run_id}")
        return dg.SkipReason(f"alerted about {run.job_name} {run.run_id}")

    return dg.Definitions(
        assets=[quality_alerts],
        jobs=[quality_watch],
        schedules=[watch_schedule],
        sensors=[alert_on_run_failure],
    )
