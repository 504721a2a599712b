"""Retention: personal data in files is kept only as long as it is needed.

- Landing archive: a landed file is deleted `retention.landing_days` days after it landed, once
  its drop is finished (loaded, duplicate or failed; a file still waiting to be loaded is kept).
  `ingest_log` keeps the row (counts, sha256, fate) with `purged_at` set. For a source that
  drops into the embedded local inbox (`data/inbox/<source>`), the inbox copy goes too.
- Outbox: export files, manifests and `.eml` copies are deleted `retention.outbox_days` days
  after they were written (file modification time). Empty folders go too.
0 days means: at the next run. Files in the landing archive that no `ingest_log` row knows
(left over from a crash) follow the same age rule by modification time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from pipelines.config import Retention
from pipelines.settings import Paths

FINISHED = ("loaded", "duplicate", "failed")


@dataclass
class RetentionResult:
    landing_files_deleted: int = 0
    inbox_files_deleted: int = 0
    outbox_files_deleted: int = 0
    bytes_freed: int = 0

    def metadata(self) -> dict[str, int]:
        return {
            "landing_files_deleted": self.landing_files_deleted,
            "inbox_files_deleted": self.inbox_files_deleted,
            "outbox_files_deleted": self.outbox_files_deleted,
            "bytes_freed": self.bytes_freed,
        }


def _delete(path: Path, result: RetentionResult) -> bool:
    try:
        size = path.stat().st_size
        path.unlink()
    except FileNotFoundError:
        return False
    result.bytes_freed += size
    return True


def _remove_empty_dirs(root: Path) -> None:
    for folder in sorted(
        (p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
    ):
        try:
            folder.rmdir()
        except OSError:
            pass


def apply_retention(
    con: duckdb.DuckDBPyConnection,
    paths: Paths,
    retention: Retention,
    *,
    now: datetime,
    local_inbox_sources: set[str] = frozenset(),
) -> RetentionResult:
    """Delete landing and outbox files past their retention (see the module docstring).

    `local_inbox_sources`: sources whose drops arrive in the embedded inbox `data/inbox/<source>`;
    the inbox copy of a drop goes with its landing copy (a remote server is never touched).
    """
    result = RetentionResult()
    landing_cutoff = now - timedelta(days=retention.landing_days)
    known: set[str] = set()
    for file_id, source, file_name, landing_path, status, landed_at in con.execute(
        "SELECT file_id, source, file_name, landing_path, status, landed_at FROM ingest_log "
        "WHERE landing_path IS NOT NULL"
    ).fetchall():
        known.add(str(Path(landing_path).resolve()))
        if status not in FINISHED or landed_at is None or landed_at > landing_cutoff:
            continue
        if _delete(Path(landing_path), result):
            result.landing_files_deleted += 1
        if source in local_inbox_sources:
            for copy in (
                paths.inbox / source / file_name,
                paths.inbox / source / "processed" / file_name,
            ):
                if copy.is_file() and _delete(copy, result):
                    result.inbox_files_deleted += 1
        con.execute(
            "UPDATE ingest_log SET purged_at = ? WHERE file_id = ? AND purged_at IS NULL",
            [now, file_id],
        )
    if paths.landing.exists():
        for path in paths.landing.rglob("*"):
            if (
                path.is_file()
                and str(path.resolve()) not in known
                and _older(path, landing_cutoff)
            ):
                if _delete(path, result):
                    result.landing_files_deleted += 1
        _remove_empty_dirs(paths.landing)
    outbox_cutoff = now - timedelta(days=retention.outbox_days)
    if paths.outbox.exists():
        for path in paths.outbox.rglob("*"):
            if path.is_file() and _older(path, outbox_cutoff):
                if _delete(path, result):
                    result.outbox_files_deleted += 1
        _remove_empty_dirs(paths.outbox)
    return result


def _older(path: Path, cutoff: datetime) -> bool:
    return datetime.fromtimestamp(os.stat(path).st_mtime) <= cutoff
