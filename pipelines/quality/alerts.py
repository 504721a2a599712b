"""Alert emails: failed quality checks and failed runs, through the same mail settings as exports.

`send_check_alerts` mails every failed check that was not alerted (or accepted) yet, in one
message, and marks them alerted, so a failure is reported once, not at every run; a late source
is reported again only after it was on time in between. `send_run_failure_alert` mails a failed
run. Delivery is `pipelines.transport.mail.deliver_mail`: SMTP when `exports.yaml` names a host,
else an `.eml` file in `<data>/outbox/mail/`. Messages hold figures, file and column names,
never personal data.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import duckdb

from pipelines.config import ExportsConfig
from pipelines.transport.mail import deliver_mail


@dataclass(frozen=True)
class FailedCheck:
    load_id: str
    source: str | None
    file_name: str | None
    check_name: str
    severity: str
    detail: str


@dataclass
class AlertResult:
    checks: list[FailedCheck] = field(default_factory=list)
    location: str | None = (
        None  # where the mail went (smtp://... or the .eml path); None: nothing sent
    )


def pending_alerts(con: duckdb.DuckDBPyConnection) -> list[FailedCheck]:
    """Failed checks not alerted and not accepted, blocking ones first."""
    return [
        FailedCheck(*row)
        for row in con.execute(
            """SELECT q.load_id, q.source, l.file_name, q.check_name, q.severity, q.detail
               FROM quality_checks q LEFT JOIN ingest_log l ON l.file_id = q.load_id
               WHERE NOT q.passed AND q.alerted_at IS NULL AND q.accepted_at IS NULL
               ORDER BY q.severity = 'ERROR' DESC, q.source, l.landed_at, q.check_name"""
        ).fetchall()
    ]


def _attach(message: EmailMessage, path: Path | None) -> None:
    if path is not None and Path(path).exists():
        maintype, subtype = (
            mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        ).split("/")
        message.add_attachment(
            Path(path).read_bytes(), maintype=maintype, subtype=subtype, filename=path.name
        )


def check_alert_message(
    failed: list[FailedCheck], blocking: list[str], *, to: list[str], report: Path | None = None
) -> EmailMessage:
    """One message for a batch of failed checks: what failed, what it means, what to do."""
    errors = [f for f in failed if f.severity == "ERROR"]
    where = sorted({f"{f.source}/{f.file_name}" if f.file_name else str(f.source) for f in failed})
    if errors:
        subject = (
            f"crmclean ALERT: {len(errors)} blocking quality check(s) failed "
            f"({', '.join(where[:3])})"
        )
    else:
        subject = (
            f"crmclean warning: {len(failed)} quality check(s) failed ({', '.join(where[:3])})"
        )
    lines = []
    if blocking:
        lines += [
            "Exports are STOPPED until each source below delivers a healthy drop, "
            "or an operator accepts",
            "the failure with `crmclean quality --accept <file>`:",
            "",
        ]
        lines += [f"  - {b}" for b in blocking]
        lines.append("")
    elif errors:
        lines += [
            "These blocking failures are no longer on a source's latest drop, "
            "so exports are not stopped.",
            "",
        ]
    lines.append("Failed checks:")
    for f in failed:
        what = f"{f.source}/{f.file_name}" if f.file_name else f"source {f.source}"
        lines.append(f"  [{f.severity}] {what}: {f.check_name}")
        lines.append(f"      {f.detail}")
    lines += [
        "",
        "Details: `crmclean quality` in a shell, the Dagster UI (asset checks), "
        "or the attached report.",
        "",
        "Sent by crmclean.",
    ]
    message = EmailMessage()
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message.set_content("\n".join(lines))
    _attach(message, report)
    return message


def send_check_alerts(
    con: duckdb.DuckDBPyConnection,
    exports: ExportsConfig,
    outbox: Path,
    report: Path | None = None,
) -> AlertResult:
    """Mail the pending failed checks (if `alerts.on_check_failure`) and mark them alerted.

    A delivery error propagates (MailError) and leaves them pending, to be retried next time.
    """
    from pipelines.quality.checks import blocking_failures

    failed = pending_alerts(con)
    if not failed:
        return AlertResult()
    if not exports.alerts.on_check_failure or not exports.alerts.to:
        return AlertResult(checks=failed)
    message = check_alert_message(
        failed, blocking_failures(con), to=exports.alerts.to, report=report
    )
    location = deliver_mail(exports.smtp, message, outbox)
    con.executemany(
        "UPDATE quality_checks SET alerted_at = CAST(now() AS TIMESTAMP) WHERE load_id = ? "
        "AND check_name = ? AND alerted_at IS NULL",
        [(f.load_id, f.check_name) for f in failed],
    )
    return AlertResult(checks=failed, location=location)


def run_failure_message(
    job: str, run_id: str, errors: list[str], *, to: list[str], partition: str | None = None
) -> EmailMessage:
    message = EmailMessage()
    message["To"] = ", ".join(to)
    what = f"{job} ({partition})" if partition else job
    message["Subject"] = f"crmclean ALERT: run failed: {what}"
    lines = [f"The run {run_id} of {what} failed.", ""]
    lines += [f"  - {e}" for e in errors] or ["  (no step error was recorded)"]
    lines += [
        "",
        "Open the run in the Dagster UI for the full log, fix the cause and re-execute it.",
        "",
        "Sent by crmclean.",
    ]
    message.set_content("\n".join(lines))
    return message


def send_run_failure_alert(
    exports: ExportsConfig,
    outbox: Path,
    *,
    job: str,
    run_id: str,
    errors: list[str],
    partition: str | None = None,
) -> str | None:
    """Mail a failed run (if `alerts.on_run_failure`); returns where it went."""
    if not exports.alerts.on_run_failure or not exports.alerts.to:
        return None
    message = run_failure_message(job, run_id, errors, to=exports.alerts.to, partition=partition)
    return deliver_mail(exports.smtp, message, outbox)


# An export refused because of a failed blocking check: the check alert already says why.
BLOCKED_EXPORT_MARKER = "blocking quality check"


def uncovered_failures(con: duckdb.DuckDBPyConnection, failures: list[str]) -> list[str]:
    """Failure lines of `crmclean run` that no check alert explains.

    A line about a drop (`<source>/<file>@<time>: ...`) is explained when that drop failed to
    load or has a failed ERROR check recorded; a check line or an export refused by a blocking
    check is explained by the check alert. Everything else (a crash, an unreachable server, a
    guard refusing an export) needs its own alert.
    """
    from pipelines.ingest.discover import parse_partition_key
    from pipelines.ingest.land import file_id_for

    out = []
    for line in failures:
        if line.startswith("check ") or BLOCKED_EXPORT_MARKER in line:
            continue
        key = line.split(": ", 1)[0]
        try:
            parse_partition_key(key)
        except ValueError:
            out.append(line)
            continue
        explained = con.execute(
            """SELECT count(*) FROM ingest_log l
               WHERE l.file_id = ? AND (l.status = 'failed' OR EXISTS (
                   SELECT 1 FROM quality_checks q
                   WHERE q.load_id = l.file_id AND NOT q.passed AND q.severity = 'ERROR'))""",
            [file_id_for(key)],
        ).fetchone()[0]
        if not explained:
            out.append(line)
    return out
