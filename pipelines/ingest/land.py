"""Land a drop: download it once into the landing archive and record it in `ingest_log`.

The landing archive is `data/landing/<source>/<YYYY-MM-DD>/<file>`, written to a temporary name
and renamed when complete, owner-only. Content is identified by sha256: the same bytes under a
new name are recorded as a duplicate and not loaded again.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.settings import private_dir
from pipelines.transport import RemoteFile, Transport


def file_id_for(partition_key: str) -> str:
    """A short stable id of one drop (source, name and mtime), derived from its partition key."""
    return hashlib.sha256(partition_key.encode("utf-8")).hexdigest()[:16]


# A date in a drop's name: 2026-12-01, 2026_12_01, 20261201 (year first) or 01-12-2026.
_NAME_DATE_YMD = re.compile(
    r"(?<!\d)(20\d\d)[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12]\d|3[01])(?!\d)"
)
_NAME_DATE_DMY = re.compile(r"(?<!\d)(0[1-9]|[12]\d|3[01])[-_.](0[1-9]|1[0-2])[-_.](20\d\d)(?!\d)")


def export_time(file_name: str, mtime: datetime) -> datetime:
    """When the source exported a drop: the date in its name, else its mtime (naive UTC).

    A record without an update time of its own is as recent as the export it came in;
    survivorship uses this. The mtime refines a name date of the same day (a re-copied file keeps
    its name date).
    """
    mtime = mtime.replace(tzinfo=None)
    base = file_name.rsplit("/", 1)[-1]
    found = _NAME_DATE_YMD.search(base)
    parts = (found.group(1), found.group(2), found.group(3)) if found else None
    if parts is None and (found := _NAME_DATE_DMY.search(base)):
        parts = (found.group(3), found.group(2), found.group(1))
    if parts is None:
        return mtime
    try:
        day = datetime(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return mtime
    return mtime if mtime.date() == day.date() else day


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Landed:
    file_id: str
    source: str
    file_name: str
    path: Path | None
    sha256: str | None
    size_bytes: int
    status: str  # landed, duplicate, or the status it already had
    duplicate_of: str | None = None


def land(
    con: duckdb.DuckDBPyConnection,
    transport: Transport,
    *,
    landing_root: Path,
    source: str,
    remote: RemoteFile,
    partition_key: str,
) -> Landed:
    """Download `remote` unless this drop was landed before; idempotent per partition key."""
    file_id = file_id_for(partition_key)
    row = con.execute(
        "SELECT status, landing_path, sha256, size_bytes, duplicate_of FROM ingest_log "
        "WHERE file_id = ?",
        [file_id],
    ).fetchone()
    if (
        row
        and row[0] in ("landed", "loaded", "duplicate", "staged")
        and (row[0] == "duplicate" or Path(row[1]).exists())
    ):
        return Landed(
            file_id,
            source,
            remote.name,
            Path(row[1]) if row[1] else None,
            row[2],
            row[3] or 0,
            row[0],
            row[4],
        )

    mtime = datetime.fromtimestamp(remote.mtime, tz=UTC)
    day_dir = private_dir(landing_root / source / mtime.strftime("%Y-%m-%d"))
    base = remote.name.rsplit("/", 1)[-1]
    dest = day_dir / base
    # Another drop's file keeps its name; one no ingest_log row names is this drop's own copy
    # from a process killed before recording it, and is replaced.
    if (
        dest.exists()
        and con.execute(
            "SELECT count(*) FROM ingest_log WHERE landing_path = ? AND file_id <> ?",
            [str(dest), file_id],
        ).fetchone()[0]
    ):
        stem, dot, ext = base.partition(".")
        dest = day_dir / f"{stem}__{file_id}{dot}{ext}"
    tmp = day_dir / f".{dest.name}.part"
    try:
        transport.fetch(remote.name, tmp)
        size = tmp.stat().st_size
        if size != remote.size:
            raise OSError(
                f"{remote.name}: downloaded {size} bytes, the server listed {remote.size}"
            )
        os.chmod(tmp, 0o600)
        digest = sha256_of(tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)

    dup = con.execute(
        "SELECT file_id FROM ingest_log WHERE sha256 = ? AND source = ? AND file_id <> ? "
        "AND status IN ('landed', 'staged', 'loaded') ORDER BY landed_at LIMIT 1",
        [digest, source, file_id],
    ).fetchone()
    status = "duplicate" if dup else "landed"
    if dup:
        dest.unlink()  # nothing new in it; the original stays in the archive
    con.execute("DELETE FROM ingest_log WHERE file_id = ?", [file_id])
    con.execute(
        """INSERT INTO ingest_log (file_id, source, file_name, sha256, size_bytes, remote_mtime,
                                   landing_path, status, duplicate_of, rows_read, rows_loaded,
                                   rows_rejected, landed_at, exported_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, now(), ?)""",
        [
            file_id,
            source,
            remote.name,
            digest,
            size,
            mtime.replace(tzinfo=None),
            None if dup else str(dest),
            status,
            dup[0] if dup else None,
            export_time(remote.name, mtime),
        ],
    )
    return Landed(
        file_id,
        source,
        remote.name,
        None if dup else dest,
        digest,
        size,
        status,
        dup[0] if dup else None,
    )
