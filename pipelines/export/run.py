"""Export a segment to its destinations and record every file in `export_log`.

Idempotent: a file whose content was already delivered to a destination (same segment, name and
sha256) is not sent again. A failed destination raises after the others were tried, so the run
fails visibly and the next run retries it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.config import ExportsConfig, LocalDestination, Segment
from pipelines.export.files import write_csv
from pipelines.segments.build import build_segment

TYPED_COLUMNS = {"customer_id", "phone", "email", "postcode", "country", "birth_date", "last_purchase_at", "updated_at"}


class ExportRefused(RuntimeError):
    """A guard stopped the export (too few rows, too large a change, failed quality check)."""


@dataclass
class ExportResult:
    segment: str
    rows: int
    files: list[dict] = field(default_factory=list)  # file_name, destination, sha256, status


def render_file_name(template: str, *, segment: str, now: datetime, part: str | None = None) -> str:
    name = template.format(segment=segment, date=now, part=part or "")
    if part and "{part}" not in template:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem}_{part}.{ext}" if dot else f"{name}_{part}"
    return name


def export_segment(
    con: duckdb.DuckDBPyConnection,
    name: str,
    segment: Segment,
    config: ExportsConfig,
    *,
    outbox: Path,
    now: datetime,
) -> ExportResult:
    df = build_segment(con, name, segment, now.date())
    if len(df) < segment.guards.min_rows:
        raise ExportRefused(f"segment {name}: {len(df)} rows, fewer than guards.min_rows = {segment.guards.min_rows}")
    result = ExportResult(segment=name, rows=len(df))
    file_name = render_file_name(segment.file_name, segment=name, now=now)
    staging = outbox / ".staging" / name
    local_copy = staging / file_name
    digest = write_csv(df, local_copy, segment.format, typed_columns=TYPED_COLUMNS & set(df.columns))
    errors = []
    for dest_name in segment.destinations:
        dest = config.destinations[dest_name]
        done = con.execute(
            "SELECT 1 FROM export_log WHERE segment = ? AND file_name = ? AND destination = ? AND sha256 = ? AND status = 'ok'",
            [name, file_name, dest_name, digest],
        ).fetchone()
        if done:
            result.files.append({"file_name": file_name, "destination": dest_name, "sha256": digest, "status": "unchanged"})
            continue
        try:
            if isinstance(dest, LocalDestination):
                target_dir = Path(dest.path) if dest.path else outbox / name
                target_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
                (target_dir / file_name).write_bytes(local_copy.read_bytes())
            else:
                raise NotImplementedError(f"destination type {dest.type!r} is not wired yet")
            status, error = "ok", None
        except Exception as e:  # recorded, then raised after the other destinations were tried
            status, error = "failed", str(e)
            errors.append(f"{dest_name}: {e}")
        con.execute(
            "INSERT INTO export_log (segment, file_name, destination, rows, sha256, status, error, exported_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, now())",
            [name, file_name, dest_name, len(df), digest, status, error],
        )
        result.files.append({"file_name": file_name, "destination": dest_name, "sha256": digest, "status": status})
    local_copy.unlink(missing_ok=True)
    if errors:
        raise RuntimeError(f"segment {name}: export failed for " + "; ".join(errors))
    return result
