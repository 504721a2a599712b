"""Deliver an email: through SMTP when `smtp.host` is set, else as an `.eml` file in the outbox.

One function, `deliver_mail`, used by segment exports and by quality alerts. SMTP runs with
STARTTLS, implicit TLS or (for a relay on localhost) none; the certificate is verified against
the system CAs or `smtp.ca_file`. The login comes from the environment variables named in
`exports.yaml` (`smtp.username_env`, `smtp.password_env`) and is read at send time, never logged.
Without a host (the embedded default) the message is written, complete, to
`<outbox>/mail/<timestamp>_<subject>.eml`: open it in any mail client to see what would be sent.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from pathlib import Path

from pipelines.config import Smtp


class MailError(RuntimeError):
    """The message could not be delivered; the text names the server, never a secret."""


def mask_address(address: str) -> str:
    """`jan.jansen@example.nl` -> `j***@example.nl`: enough to recognise, not to harvest."""
    local, at, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if at else "***"


def recipients_of(message: EmailMessage) -> list[str]:
    return [
        addr
        for _, addr in getaddresses(
            message.get_all("To", []) + message.get_all("Cc", []) + message.get_all("Bcc", [])
        )
        if addr
    ]


def deliver_mail(smtp: Smtp, message: EmailMessage, outbox: Path) -> str:
    """Send `message` (From, Date and Message-ID are filled in when missing).

    Returns where it went: `smtp://host:port (n recipients)` or the path of the `.eml` file.
    Raises `MailError` when the server cannot be reached, refuses the login or any recipient:
    a caller must treat that as not delivered.
    """
    if not message["From"]:
        message["From"] = smtp.sender
    if not message["Date"]:
        message["Date"] = formatdate(localtime=True)
    if not message["Message-ID"]:
        message["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2] or "crmclean")
    if not recipients_of(message):
        raise MailError("the message has no recipient (To/Cc/Bcc)")
    if not smtp.host:
        return str(write_eml(message, Path(outbox) / "mail"))
    return _send_smtp(smtp, message)


def write_eml(message: EmailMessage, folder: Path) -> Path:
    """Write the message atomically as `<UTC timestamp>_<subject slug>.eml`, owner-only."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    slug = (
        re.sub(r"[^A-Za-z0-9]+", "_", str(message["Subject"] or "message")).strip("_")[:60]
        or "message"
    )
    path = folder / f"{stamp}_{slug}.eml"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{stamp}_{slug}_{n}.eml"
    tmp = path.with_name("." + path.name + ".part")
    tmp.write_bytes(message.as_bytes())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def _tls_context(smtp: Smtp) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if smtp.ca_file:
        context.load_verify_locations(cafile=smtp.ca_file)
    return context


def _credentials(smtp: Smtp) -> tuple[str, str] | None:
    user = os.environ.get(smtp.username_env) if smtp.username_env else None
    password = os.environ.get(smtp.password_env) if smtp.password_env else None
    if user and password:
        return user, password
    if user and not password:
        raise MailError(
            f"SMTP user is set in {smtp.username_env} but {smtp.password_env} is empty"
        )
    return None


def _send_smtp(smtp: Smtp, message: EmailMessage) -> str:
    where = f"smtp://{smtp.host}:{smtp.port}"
    credentials = _credentials(smtp)
    if (
        credentials
        and smtp.security == "none"
        and smtp.host not in ("localhost", "127.0.0.1", "::1")
    ):
        raise MailError(
            f"{where}: refusing to send a password without TLS; "
            "set smtp.security to starttls or tls"
        )
    try:
        if smtp.security == "tls":
            client = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=smtp.timeout_seconds, context=_tls_context(smtp)
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
        with client:
            client.ehlo()
            if smtp.security == "starttls":
                client.starttls(context=_tls_context(smtp))
                client.ehlo()
            if credentials:
                client.login(*credentials)
            refused = client.send_message(message)
    except smtplib.SMTPAuthenticationError as e:
        raise MailError(f"{where}: login refused ({e.smtp_code})") from None
    except smtplib.SMTPRecipientsRefused as e:
        who = ", ".join(mask_address(r) for r in e.recipients)
        raise MailError(f"{where}: every recipient refused: {who}") from None
    except smtplib.SMTPNotSupportedError as e:
        raise MailError(f"{where}: {e} (check smtp.security)") from None
    except (smtplib.SMTPException, ssl.SSLError, OSError) as e:
        raise MailError(f"{where}: {type(e).__name__}: {e}") from None
    if refused:
        who = ", ".join(mask_address(r) for r in refused)
        raise MailError(f"{where}: recipient(s) refused: {who}")
    return f"{where} ({len(recipients_of(message))} recipients)"
