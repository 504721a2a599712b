"""One small interface for every place files come from or go to: list, fetch, put.

Sources and destinations only ever see `Transport`; `local.py` serves a folder, `sftp.py` an SFTP
server through paramiko. Names are relative to the transport's root (posix style, may include
sub folders).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class TransportError(RuntimeError):
    """A transient problem (network down, timeout): the caller may retry later."""


class TransportAuthError(TransportError):
    """Credentials or host key refused: never retried silently, must fail loudly."""


@dataclass(frozen=True)
class RemoteFile:
    name: str  # relative to the transport root, posix separators
    size: int
    mtime: float  # seconds since the epoch, as the server reports it


class Transport(Protocol):
    def list(self, patterns: list[str]) -> list[RemoteFile]:
        """Files under the root whose name matches any glob pattern, temporary names excluded."""

    def fetch(self, name: str, dest: Path) -> None:
        """Download `name` to `dest` completely, or raise and leave nothing at `dest`."""

    def put(self, src: Path, name: str) -> None:
        """Upload `src` as `name`: to a temporary name first, renamed when complete."""

    def move(self, name: str, new_name: str) -> None:
        """Rename a file on the remote side (e.g. into `processed/`)."""

    def exists(self, name: str) -> bool: ...

    def close(self) -> None: ...


TEMPORARY_SUFFIXES = (".part", ".tmp", ".filepart", ".partial", ".crdownload", ".uploading")


def is_temporary(name: str) -> bool:
    """Names that uploaders use while a file is still being written."""
    base = name.rsplit("/", 1)[-1]
    return (
        base.startswith(".") or base.startswith("~") or base.lower().endswith(TEMPORARY_SUFFIXES)
    )


def matches(name: str, patterns: list[str]) -> bool:
    """Glob match on the path relative to the root; a pattern without '/' matches the base name."""
    from fnmatch import fnmatchcase

    base = name.rsplit("/", 1)[-1]
    for p in patterns:
        target = name if "/" in p else base
        if fnmatchcase(target, p):
            return True
    return False
