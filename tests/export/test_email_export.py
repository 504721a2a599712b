"""Exports by email through a real SMTP server (aiosmtpd): message, body, attachment, zip,
retry."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import datetime

import pytest

from pipelines.config import EmailDestination, ExportsConfig, LocalDestination, Segment, Smtp
from pipelines.export.run import ExportFailed, export_segment
from tests.segments.people import customer, insert, warehouse

NOW = datetime(2026, 11, 24, 6)


def setup(tmp_path, smtp: Smtp, *, zip_above_bytes: int = 5_000_000):
    people = [customer(f"c{i}") for i in range(3)] + [customer("x", newsletter_opt_in=False)]
    con = warehouse(tmp_path / "w.duckdb", people, [{"customer_id": "c2", "reason": "complaint"}])
    insert(
        con,
        "quality_metrics",
        [
            {
                "load_id": "warehouse-1",
                "metric": "customers",
                "value": 4,
                "measured_at": datetime(2026, 11, 24, 5),
            },
            {
                "load_id": "warehouse-1",
                "metric": "contacts",
                "value": 5,
                "measured_at": datetime(2026, 11, 24, 5),
            },
            {
                "load_id": "warehouse-1",
                "metric": "duplicate_rate",
                "value": 0.2,
                "measured_at": datetime(2026, 11, 24, 5),
            },
            {
                "load_id": "warehouse-1",
                "metric": "customer_fill_rate",
                "field": "phone",
                "value": 0.75,
                "measured_at": datetime(2026, 11, 24, 5),
            },
            {
                "load_id": "warehouse-1",
                "metric": "customer_validity",
                "field": "email",
                "value": 0.9,
                "measured_at": datetime(2026, 11, 24, 5),
            },
            {
                "load_id": "warehouse-1",
                "metric": "customer_validity",
                "field": "phone",
                "value": None,
                "measured_at": datetime(2026, 11, 24, 5),
            },
            {
                "load_id": "f1",
                "source": "crm",
                "metric": "validity",
                "field": "email",
                "value": 0.964,
                "measured_at": datetime(2026, 11, 24, 4),
            },
        ],
    )
    segment = Segment(
        description="Opted-in customers with a valid email.",
        filter="has_valid_email",
        columns=["customer_id", "email", "first_name"],
        destinations=["outbox", "marketing"],
    )
    cfg = ExportsConfig(
        smtp=smtp,
        destinations={
            "outbox": LocalDestination(type="local"),
            "marketing": EmailDestination(
                type="email",
                to=["marketing@example.test", "ops@example.test"],
                zip_above_bytes=zip_above_bytes,
            ),
        },
        segments={"newsletter": segment},
    )
    return con, segment, cfg, tmp_path / "outbox"


def test_export_mail_with_attachment_counts_and_quality(smtp_server, tmp_path):
    server = smtp_server("starttls")
    con, segment, cfg, outbox = setup(tmp_path, server.smtp())
    export_segment(con, "newsletter", segment, cfg, outbox=outbox, now=NOW)

    assert len(server.messages) == 1
    msg = server.messages[0]
    assert server.envelopes[0]["rcpt_tos"] == ["marketing@example.test", "ops@example.test"]
    assert msg["Subject"] == "crmclean export: newsletter (2 rows)"
    body = msg.get_body(preferencelist=("plain",)).get_content()
    assert "Segment newsletter: Opted-in customers with a valid email." in body
    assert "Customers in the segment: 2" in body
    assert "Left out whatever the filter says: 1 suppressed, 1 without newsletter opt-in" in body
    assert "customers 4 from 5 source records, duplicate rate 20.0%" in body
    assert "filled: phone 75.0%" in body
    assert "valid: email 90.0%, phone n/a" in body
    assert "valid in the latest crm drop: email 96.4%" in body
    assert "c0@example.nl" not in body  # figures only, never personal data in the body

    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_filename() == "newsletter_20261124.csv"
    data = attachment.get_payload(decode=True)
    assert data == (outbox / "newsletter" / "newsletter_20261124.csv").read_bytes()
    assert [r["customer_id"] for r in csv.DictReader(io.StringIO(data.decode(), newline=""))] == [
        "c0",
        "c1",
    ]
    location = con.execute(
        "SELECT location FROM export_log WHERE destination = 'marketing'"
    ).fetchone()[0]
    assert location == f"smtp://127.0.0.1:{server.port} (2 recipients)"


def test_large_export_is_zipped(smtp_server, tmp_path):
    server = smtp_server("tls")
    con, segment, cfg, outbox = setup(tmp_path, server.smtp(), zip_above_bytes=10)
    export_segment(con, "newsletter", segment, cfg, outbox=outbox, now=NOW)
    (attachment,) = list(server.messages[0].iter_attachments())
    assert attachment.get_filename() == "newsletter_20261124.zip"
    with zipfile.ZipFile(io.BytesIO(attachment.get_payload(decode=True))) as zf:
        assert zf.namelist() == ["newsletter_20261124.csv"]
        assert (
            zf.read("newsletter_20261124.csv")
            == (outbox / "newsletter" / "newsletter_20261124.csv").read_bytes()
        )


def test_refused_login_fails_the_export_and_the_next_run_sends_it(
    smtp_server, tmp_path, monkeypatch
):
    server = smtp_server("starttls")
    smtp = server.smtp()
    con, segment, cfg, outbox = setup(tmp_path, smtp)
    monkeypatch.setenv(smtp.password_env, "expired-password")
    with pytest.raises(
        ExportFailed, match=r"marketing \(email \(2 recipients\)\): MailError: .*login refused"
    ):
        export_segment(con, "newsletter", segment, cfg, outbox=outbox, now=NOW)
    assert server.messages == []
    assert con.execute(
        "SELECT destination, status FROM export_log ORDER BY destination"
    ).fetchall() == [
        ("marketing", "failed"),
        ("outbox", "ok"),
    ]
    monkeypatch.setenv(smtp.password_env, server.password)
    export_segment(con, "newsletter", segment, cfg, outbox=outbox, now=NOW)
    assert len(server.messages) == 1
    assert con.execute("SELECT count(*) FROM export_log WHERE status = 'ok'").fetchone()[0] == 2


def test_without_smtp_host_the_mail_is_an_eml_in_the_outbox(tmp_path):
    con, segment, cfg, outbox = setup(tmp_path, Smtp(host=None))
    export_segment(con, "newsletter", segment, cfg, outbox=outbox, now=NOW)
    (eml,) = (outbox / "mail").glob("*.eml")
    from email import policy
    from email.parser import BytesParser

    msg = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    assert msg["To"] == "marketing@example.test, ops@example.test"
    assert [a.get_filename() for a in msg.iter_attachments()] == ["newsletter_20261124.csv"]
