"""Put export files where they belong: a local folder, an SFTP server, or a mailbox.

Each function delivers every file of one export to one destination, or raises. Files (and their
manifests, which follow the file so that a manifest means "complete") go through a `Transport`,
whose `put` writes to a temporary name and renames when complete. Returns, per file name, where
it went (for `export_log.location`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipelines.config import EmailDestination, LocalDestination, SftpDestination, Smtp
from pipelines.export.files import WrittenFile
from pipelines.export.mail import deliver_mail
from pipelines.transport import LocalTransport, open_transport


@dataclass(frozen=True)
class Delivery:
    """One export's files for one destination, and what they travel with."""

    files: list[WrittenFile]
    manifests: dict[str, Path]  # file name -> manifest file


def _put_all(transport, delivery: Delivery, where: str) -> dict[str, str]:
    out = {}
    for f in delivery.files:
        transport.put(f.path, f.name)
        manifest = delivery.manifests.get(f.name)
        if manifest is not None:
            transport.put(manifest, manifest.name)
        out[f.name] = f"{where.rstrip('/')}/{f.name}"
    return out


def deliver_local(
    dest: LocalDestination, delivery: Delivery, *, outbox: Path, segment: str
) -> dict[str, str]:
    """Into `dest.path`, or the embedded default `<outbox>/<segment>/`; owner-only."""
    root = Path(dest.path) if dest.path else outbox / segment
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    out = _put_all(LocalTransport(root), delivery, str(root))
    if not dest.path:  # the embedded outbox is private; a configured folder keeps its own rules
        for f in delivery.files:
            os.chmod(root / f.name, 0o600)
    return out


def deliver_sftp(
    dest: SftpDestination, delivery: Delivery, *, config_dir: Path | None
) -> dict[str, str]:
    """Same transport, host-key and secret rules as the sources (see pipelines/transport/sftp.py)."""
    transport = open_transport(dest.location, dest.sftp, config_dir=config_dir)
    try:
        return _put_all(transport, delivery, dest.location)
    finally:
        transport.close()


def deliver_email(smtp: Smtp, message, delivery: Delivery, *, outbox: Path) -> dict[str, str]:
    where = deliver_mail(smtp, message, outbox)
    return {f.name: where for f in delivery.files}


def describe(dest: LocalDestination | SftpDestination | EmailDestination) -> str:
    """A short, secret-free description for messages."""
    if isinstance(dest, SftpDestination):
        return dest.location
    if isinstance(dest, EmailDestination):
        return f"email ({len(dest.to)} recipients)"
    return dest.path or "outbox"
