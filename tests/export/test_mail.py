"""deliver_mail against a real aiosmtpd server (STARTTLS, TLS, plain) and the .eml fallback."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from pipelines.config import Smtp
from pipelines.transport.mail import MailError, deliver_mail


def message(to: str = "marketing@example.test") -> EmailMessage:
    msg = EmailMessage()
    msg["To"] = to
    msg["Subject"] = "crmclean test: newsletter (3 rows)"
    msg.set_content("Dag team,\n\nthree rows attached.\n")
    msg.add_attachment(
        b"customer_id,email\r\nc1,a@example.nl\r\n",
        maintype="text",
        subtype="csv",
        filename="newsletter.csv",
    )
    return msg


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_sends_over_tls_with_login(smtp_server, tmp_path, security):
    server = smtp_server(security)
    where = deliver_mail(server.smtp(), message(), tmp_path)
    assert where == f"smtp://127.0.0.1:{server.port} (1 recipients)"
    assert len(server.messages) == 1
    received = server.messages[0]
    assert server.envelopes[0]["rcpt_tos"] == ["marketing@example.test"]
    assert server.envelopes[0]["login"] is True
    assert received["From"] == "crmclean@example.test"
    assert received["Message-ID"] and received["Date"]
    (attachment,) = list(received.iter_attachments())
    assert attachment.get_filename() == "newsletter.csv"
    assert attachment.get_content() == "customer_id,email\r\nc1,a@example.nl\r\n"
    assert not (tmp_path / "mail").exists()


def test_wrong_password_is_refused_and_says_so(smtp_server, tmp_path, monkeypatch):
    server = smtp_server("starttls")
    smtp = server.smtp()
    monkeypatch.setenv(smtp.password_env, "not-the-password")
    with pytest.raises(MailError, match="login refused") as err:
        deliver_mail(smtp, message(), tmp_path)
    assert "not-the-password" not in str(err.value)
    assert server.messages == []


def test_untrusted_certificate_is_refused(smtp_server, tmp_path):
    server = smtp_server("tls")
    with pytest.raises(MailError, match="CERTIFICATE_VERIFY_FAILED"):
        deliver_mail(server.smtp(ca_file=None), message(), tmp_path)
    assert server.messages == []


def test_starttls_required_by_server_but_client_says_none(smtp_server, tmp_path):
    server = smtp_server("starttls", login=False)
    with pytest.raises(MailError):
        deliver_mail(server.smtp(security="none"), message(), tmp_path)
    assert server.messages == []


def test_refused_recipient_fails_with_masked_address(smtp_server, tmp_path):
    server = smtp_server("starttls")
    server.refuse.add("gone@example.test")
    msg = message("gone@example.test, marketing@example.test")
    with pytest.raises(MailError, match=r"g\*\*\*@example.test") as err:
        deliver_mail(server.smtp(), msg, tmp_path)
    assert "gone@" not in str(err.value)


def test_plain_relay_without_login(smtp_server, tmp_path):
    server = smtp_server("none", login=False)
    deliver_mail(server.smtp(security="none"), message(), tmp_path)
    assert server.messages[0]["Subject"] == "crmclean test: newsletter (3 rows)"


def test_unreachable_server_fails(tmp_path):
    from tests.fixtures.smtp import _free_port

    smtp = Smtp(
        host="127.0.0.1",
        port=_free_port(),
        security="starttls",
        username_env=None,
        password_env=None,
        timeout_seconds=2,
    )
    with pytest.raises(MailError, match="ConnectionRefusedError"):
        deliver_mail(smtp, message(), tmp_path)


def test_no_host_writes_an_eml_file(tmp_path):
    where = deliver_mail(Smtp(host=None), message(), tmp_path)
    (eml,) = (tmp_path / "mail").glob("*.eml")
    assert where == str(eml)
    assert eml.name.endswith("_crmclean_test_newsletter_3_rows.eml")
    assert eml.stat().st_mode & 0o077 == 0
    parsed = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    assert parsed["From"] == "crmclean@localhost"
    assert [a.get_filename() for a in parsed.iter_attachments()] == ["newsletter.csv"]


def test_message_without_recipient_is_refused(tmp_path):
    msg = message()
    del msg["To"]
    with pytest.raises(MailError, match="no recipient"):
        deliver_mail(Smtp(host=None), msg, tmp_path)
