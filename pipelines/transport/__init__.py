"""Transports: where drops are listed and fetched, and where exports are put; mail.py sends
email (exports and alerts)."""

from __future__ import annotations

from pathlib import Path

from pipelines.transport.base import RemoteFile, Transport, TransportAuthError, TransportError
from pipelines.transport.local import LocalTransport

__all__ = [
    "RemoteFile",
    "Transport",
    "TransportError",
    "TransportAuthError",
    "LocalTransport",
    "open_transport",
]


def open_transport(
    location: str, sftp_options=None, *, config_dir: Path | None = None
) -> Transport:
    """A transport for `location`: `sftp://user@host:port/path` or a local folder path."""
    if location.startswith("sftp://"):
        from pipelines.transport.sftp import SftpTransport

        return SftpTransport.from_location(location, sftp_options, config_dir=config_dir)
    return LocalTransport(Path(location))
