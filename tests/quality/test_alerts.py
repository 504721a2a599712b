"""Alert mails: once per failure, to the outbox by default or through a real SMTP server."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

from pipelines.config import Alerts, ExportsConfig, Smtp
from pipelines.quality import checks
from pipelines.quality.alerts import send_check_alerts, send_run_failure_alert, uncovered_failures
from pipelines.quality.report import write_report
from tests.quality.drops import crm_rows


def exports_config(smtp: Smtp | None = None, **alerts) -> ExportsConfig:
    return ExportsConfig(
        smtp=smtp or Smtp(), alerts=Alerts(to=["data-team@example.test"], **alerts), segments={}
    )


def read_eml(path: str):
    with open(path, "rb") as fh:
        return BytesParser(policy=policy.default).parse(fh)


def test_failed_checks_are_mailed_once_with_the_report_attached(con, drop, tmp_path):
    drop("klanten_1.csv", crm_rows(300, seed=1))
    drop("klanten_2.csv", crm_rows(300, seed=2, bad_email_share=0.3))
    report = write_report(con, tmp_path / "reports")
    result = send_check_alerts(con, exports_config(), tmp_path / "outbox", report=report)
    assert [c.check_name for c in result.checks] == ["validity_vs_previous_load"]
    assert result.location.startswith(str(tmp_path / "outbox" / "mail"))
    message = read_eml(result.location)
    assert message["To"] == "data-team@example.test"
    assert "ALERT" in message["Subject"] and "crm/klanten_2.csv" in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    assert (
        "Exports are STOPPED" in body
        and "validity_vs_previous_load" in body
        and "email 100.0% -> 70.0%" in body
    )
    assert "@example.nl" not in body  # figures and names of checks, never an address
    attachments = [p.get_filename() for p in message.iter_attachments()]
    assert attachments == [report.name]

    again = send_check_alerts(con, exports_config(), tmp_path / "outbox", report=report)
    assert again.location is None and again.checks == []
    assert len(list((tmp_path / "outbox" / "mail").glob("*.eml"))) == 1


def test_alerts_switched_off_send_nothing(con, drop, tmp_path):
    drop("klanten_1.csv", [], header_only=True)
    result = send_check_alerts(con, exports_config(on_check_failure=False), tmp_path / "outbox")
    assert result.location is None and result.checks
    assert not (tmp_path / "outbox" / "mail").exists()


def test_alert_through_a_real_smtp_server(con, drop, tmp_path, smtp_server):
    server = smtp_server(security="starttls", login=True)
    drop("klanten_1.csv", crm_rows(300, seed=1))
    drop("klanten_2.csv", crm_rows(100, seed=2))
    result = send_check_alerts(con, exports_config(server.smtp()), tmp_path / "outbox")
    assert result.location.startswith(f"smtp://127.0.0.1:{server.port}")
    assert len(server.messages) == 1
    assert (
        server.envelopes[0]["rcpt_tos"] == ["data-team@example.test"]
        and server.envelopes[0]["login"]
    )
    assert "rows_vs_previous_load" in server.messages[0].get_body(("plain",)).get_content()
    assert not (tmp_path / "outbox" / "mail").exists()


def test_run_failure_alert_and_what_check_alerts_already_cover(con, drop, tmp_path):
    from pipelines.ingest.discover import partition_key
    from pipelines.transport.local import LocalTransport

    drop("klanten_1.csv", crm_rows(100))
    drop("klanten_2.csv", [], header_only=True)
    remote = next(f for f in LocalTransport(tmp_path / "inbox" / "crm").list(["klanten_2.csv"]))
    key = partition_key("crm", remote)
    failures = [
        f"{key}: staged_rows: FileRejected: the file has a header but no data rows",
        f"{key}: check file_not_empty on landed_file failed",
        (
            "segments__newsletter: segment newsletter: not exported: blocking quality check(s) "
            "failed: ..."
        ),
        (
            "segments__winback: segment winback: not exported: 3 rows, fewer than "
            "guards.min_rows = 100"
        ),
        "customers: OSError: disk full",
    ]
    assert uncovered_failures(con, failures) == failures[3:]
    where = send_run_failure_alert(
        exports_config(),
        tmp_path / "outbox",
        job="daily_exports",
        run_id="r1",
        errors=failures[3:],
    )
    message = read_eml(where)
    assert message["Subject"] == "crmclean ALERT: run failed: daily_exports"
    assert "guards.min_rows" in message.get_content() and "disk full" in message.get_content()
    assert (
        send_run_failure_alert(
            exports_config(on_run_failure=False),
            tmp_path / "outbox",
            job="x",
            run_id="r",
            errors=["boom"],
        )
        is None
    )
    assert checks.blocking_failures(con)
