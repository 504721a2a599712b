"""Export one segment to its destinations, with the safety rules always on.

1. No export while a blocking quality check on the inputs failed (`pipelines.quality.checks`).
2. Build the segment on a connection with external access disabled (only the staging folder is
   writable; pipelines/warehouse/sandbox.py): suppressed customers, and for marketing segments
   customers without newsletter opt-in, are removed whatever the filter says, and `dedupe_by`
   keeps one row per inbox or address (pipelines/segments/build.py).
3. Guards: at least `guards.min_rows` rows; the size may not change by more than
   `guards.max_change_share` of the size at the last successful export.
4. Per destination: write the files (full, or the delta against what that destination last
   received), deliver them, and record every file in `export_log`. A destination that fails is
   logged as failed and the others are still tried; then the export raises, so the run fails
   visibly, and the next run retries: nothing is marked done that did not arrive.

Idempotent: a file already delivered to a destination (same segment, name and sha256) is not sent
again. A refused export is logged with status `refused` and the reason, and raises.
"""

from __future__ import annotations

import functools
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.config import ExportsConfig, Segment
from pipelines.export.delta import (
    WHOLE_SEGMENT,
    Change,
    build_delta,
    compare,
    row_hash_sql,
    save_members,
)
from pipelines.export.destinations import DeliveryContext, destination_of
from pipelines.export.files import (
    WrittenFile,
    column_types,
    formatted_columns,
    sql_name,
    write_csv,
)
from pipelines.export.message import quality_summary
from pipelines.file_names import render_file_name
from pipelines.quality.checks import blocking_failures
from pipelines.segments.build import (
    build_segment,
    create_candidates_view,
    excluded_counts,
    part_sql,
)
from pipelines.warehouse import sql_literal, transaction
from pipelines.warehouse.sandbox import lock_down

ROWS, DELTA = "segment_rows", "segment_delta"


class ExportRefused(RuntimeError):
    """A safety rule stopped the export (quality check, too few rows, too large a change)."""


class ExportFailed(RuntimeError):
    """At least one destination did not receive its files; the next run retries it."""


@dataclass
class ExportResult:
    segment: str
    mode: str
    rows: int
    change: Change
    excluded: dict[str, int]
    files: list[dict] = field(
        default_factory=list
    )  # file_name, part, destination, rows, sha256, status, location
    replaced_characters: int = 0
    dedupe_by: str = "none"  # email, household or none: what one row is kept per

    @property
    def deduplicated(self) -> int:
        return self.excluded.get("deduplicated", 0)

    @property
    def size_change(self) -> int | None:
        return None if self.change.previous is None else self.rows - self.change.previous


def guard_reason(segment: Segment, rows: int, change: Change) -> str | None:
    g = segment.guards
    if rows < g.min_rows:
        return f"{rows:,} rows, fewer than guards.min_rows = {g.min_rows:,}"
    if g.max_change_share is not None and change.previous:
        share = abs(rows - change.previous) / change.previous
        if share > g.max_change_share:
            return (
                f"{rows:,} rows against {change.previous:,} at the last successful export, "
                f"a change of {share:.0%}, more than guards.max_change_share = "
                f"{g.max_change_share:.0%}; if this change is expected, raise the guard "
                "for one run"
            )
    return None


def _log(con, rows: list[tuple]) -> None:
    con.executemany(
        """INSERT INTO export_log (segment, file_name, destination, rows, sha256, status, error,
                                   exported_at, segment_rows, mode, location, rows_deduplicated)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        rows,
    )


def _refuse(
    con,
    name: str,
    segment: Segment,
    now: datetime,
    logged_at: datetime,
    rows: int | None,
    reason: str,
    deduplicated: int | None = None,
) -> None:
    file_name = render_file_name(
        segment.file_name, segment=name, now=now, mode=segment.format.mode
    )
    _log(
        con,
        [
            (
                name,
                file_name,
                d,
                None,
                None,
                "refused",
                reason,
                logged_at,
                rows,
                segment.format.mode,
                None,
                deduplicated,
            )
            for d in segment.destinations
        ],
    )
    raise ExportRefused(f"segment {name}: not exported: {reason}")


def write_files(
    con: duckdb.DuckDBPyConnection,
    table: str,
    folder: Path,
    name: str,
    segment: Segment,
    now: datetime,
    types: dict[str, str],
    *,
    delta: bool,
) -> list[WrittenFile]:
    """One CSV per part (one in all when the segment is not split)."""
    fmt = segment.format
    cols = formatted_columns(types, segment.columns, fmt)
    if delta:
        cols.append(f"_change AS {sql_name(fmt.header.get(fmt.change_column, fmt.change_column))}")
    parts = (
        [p for (p,) in con.execute(f"SELECT DISTINCT _part FROM {table} ORDER BY 1").fetchall()]
        if segment.split_by
        else [""]
    )
    order = "_order NULLS LAST" + (', "customer_id"' if delta else "")
    files = []
    for part in parts:
        file_name = render_file_name(
            segment.file_name,
            segment=name,
            now=now,
            part=part if segment.split_by else None,
            mode=fmt.mode,
        )
        where = f"WHERE _part = {sql_literal(part)}" if segment.split_by else ""
        files.append(
            write_csv(
                con,
                f"SELECT {', '.join(cols)} FROM {table} {where} ORDER BY {order}",
                folder / file_name,
                fmt,
                part=part,
            )
        )
    return files


def _delivered(con, name: str, dest: str, file_name: str, sha256: str | None = None) -> bool:
    sql = (
        "SELECT 1 FROM export_log"
        " WHERE segment = ? AND destination = ? AND file_name = ? AND status = 'ok'"
    )
    params = [name, dest, file_name]
    if sha256 is not None:
        sql += " AND sha256 = ?"
        params.append(sha256)
    return con.execute(sql + " LIMIT 1", params).fetchone() is not None


def _pending(
    con, name: str, dest_name: str, files: list[WrittenFile], *, delta: bool
) -> tuple[list[WrittenFile], list[WrittenFile]]:
    """(files this destination still needs, files it already has). A delta whose name was already
    used gets `_2`, `_3`... (it must not replace a delta not yet read); an empty delta is sent
    once per file name."""
    out, skipped = [], []
    for f in files:
        if _delivered(con, name, dest_name, f.name, f.sha256):
            skipped.append(f)
            continue
        if delta and _delivered(con, name, dest_name, f.name):
            if f.rows == 0:
                skipped.append(f)
                continue
            stem, dot, ext = f.name.rpartition(".")
            n = 2
            while _delivered(
                con, name, dest_name, f"{stem}_{n}{dot}{ext}" if dot else f"{f.name}_{n}"
            ):
                n += 1
            new = f.path.with_name(f"{stem}_{n}{dot}{ext}" if dot else f"{f.name}_{n}")
            os.replace(f.path, new)
            f = WrittenFile(
                path=new,
                part=f.part,
                rows=f.rows,
                sha256=f.sha256,
                size_bytes=f.size_bytes,
                replaced_characters=f.replaced_characters,
            )
        out.append(f)
    return out, skipped


def export_segment(
    con: duckdb.DuckDBPyConnection,
    name: str,
    segment: Segment,
    config: ExportsConfig,
    *,
    outbox: Path,
    now: datetime,
    config_dir: Path | None = None,
    quality_report: Path | None = None,
    candidates_ready: bool = False,
) -> ExportResult:
    """Build, guard and deliver one segment. `now` is the local export time (for file names and
    date helpers). `quality_report` (the latest HTML quality report) is attached to export mails.
    `candidates_ready`: `segment_candidates` for `now`'s date is already on `con` (see
    `export_segments`). Runs its own short transactions: do not call inside one."""
    logged_at = datetime.now(UTC).replace(tzinfo=None)
    mode = segment.format.mode

    blockers = blocking_failures(con)
    if blockers:
        _refuse(
            con,
            name,
            segment,
            now,
            logged_at,
            None,
            "blocking quality check(s) failed: " + "; ".join(blockers),
        )

    stage = (outbox / ".staging").absolute() / name
    lock_down(
        con, stage.parent
    )  # from here on no SQL can read files, the environment or extensions

    rows = build_segment(
        con,
        name,
        segment,
        now.date(),
        table=ROWS,
        candidates_ready=candidates_ready,
        extra_columns=(f"{row_hash_sql(segment.columns, part_sql(segment))} AS _hash",),
    )
    change = compare(con, ROWS, name)
    result = ExportResult(
        segment=name,
        mode=mode,
        rows=rows,
        change=change,
        excluded=excluded_counts(con, name, segment, rows),
        dedupe_by=segment.dedupe,
    )
    reason = guard_reason(segment, rows, change)
    if reason:
        _refuse(con, name, segment, now, logged_at, rows, reason, result.deduplicated)

    types = column_types(con, ROWS)
    shutil.rmtree(stage, ignore_errors=True)
    full_files: list[WrittenFile] | None = None
    quality = functools.cache(lambda: quality_summary(con))  # read once, by mail destinations
    summary = {
        "rows": result.rows,
        "previous": result.change.previous,
        "added": result.change.added,
        "changed": result.change.changed,
        "removed": result.change.removed,
        "excluded": result.excluded,
    }
    errors: list[str] = []
    try:
        for dest_name in segment.destinations:
            dest = config.destinations[dest_name]
            if mode == "full":
                if full_files is None:
                    full_files = write_files(
                        con, ROWS, stage / "full", name, segment, now, types, delta=False
                    )
                files = full_files
            else:
                build_delta(
                    con, ROWS, DELTA, segment=name, destination=dest_name, columns=segment.columns
                )
                files = write_files(
                    con, DELTA, stage / dest_name, name, segment, now, types, delta=True
                )
            result.replaced_characters = max(
                result.replaced_characters, sum(f.replaced_characters for f in files)
            )
            pending, skipped = _pending(con, name, dest_name, files, delta=mode == "delta")
            result.files += [_file_entry(f, dest_name, "unchanged", None) for f in skipped]
            if not pending:
                continue
            context = DeliveryContext(
                name=name,
                segment=segment,
                config=config,
                now=now,
                outbox=outbox,
                stage=stage / dest_name,
                config_dir=config_dir,
                quality_report=quality_report,
                summary=summary,
                quality=quality,
            )
            kind = destination_of(dest)
            try:
                locations = kind.deliver(dest, pending, context)
            except Exception as e:  # logged, the other destinations tried, then raised below
                error = f"{type(e).__name__}: {e}"
                errors.append(f"{dest_name} ({kind.describe(dest)}): {error}")
                _log(
                    con,
                    [
                        (
                            name,
                            f.name,
                            dest_name,
                            f.rows,
                            f.sha256,
                            "failed",
                            error,
                            logged_at,
                            rows,
                            mode,
                            None,
                            result.deduplicated,
                        )
                        for f in pending
                    ],
                )
                result.files += [_file_entry(f, dest_name, "failed", None) for f in pending]
                continue
            with transaction(con):
                _log(
                    con,
                    [
                        (
                            name,
                            f.name,
                            dest_name,
                            f.rows,
                            f.sha256,
                            "ok",
                            None,
                            logged_at,
                            rows,
                            mode,
                            locations.get(f.name),
                            result.deduplicated,
                        )
                        for f in pending
                    ],
                )
                if mode == "delta":
                    save_members(con, ROWS, segment=name, destination=dest_name, at=logged_at)
            result.files += [
                _file_entry(f, dest_name, "ok", locations.get(f.name)) for f in pending
            ]
        if not errors:
            with transaction(con):
                save_members(con, ROWS, segment=name, destination=WHOLE_SEGMENT, at=logged_at)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    if errors:
        raise ExportFailed(
            f"segment {name}: not delivered to " + "; ".join(errors) + "; the next run retries"
        )
    return result


def export_segments(
    con: duckdb.DuckDBPyConnection,
    names: list[str],
    config: ExportsConfig,
    *,
    outbox: Path,
    now: datetime,
    config_dir: Path | None = None,
    quality_report: Path | None = None,
) -> dict[str, ExportResult | Exception]:
    """Export several segments that run at the same time (`now`), reading one
    `segment_candidates` built once: the joins of customers with suppressions and metrics are
    the costly part of a segment, and the warehouse does not change between the segments (they
    write only `export_log` and `segment_members`). Every segment is tried; the result per name
    is its `ExportResult`, or the `ExportRefused` / `ExportFailed` / other error it raised."""
    out: dict[str, ExportResult | Exception] = {}
    built = False
    for name in names:
        try:
            if not built and not blocking_failures(con):
                create_candidates_view(con, now.date(), materialize=True)
                built = True
            out[name] = export_segment(
                con,
                name,
                config.segments[name],
                config,
                outbox=outbox,
                now=now,
                config_dir=config_dir,
                quality_report=quality_report,
                candidates_ready=built,
            )
        except Exception as e:  # reported per segment; the others are still exported
            out[name] = e
    return out


def _file_entry(f: WrittenFile, destination: str, status: str, location: str | None) -> dict:
    return {
        "file_name": f.name,
        "part": f.part,
        "destination": destination,
        "rows": f.rows,
        "sha256": f.sha256,
        "status": status,
        "location": location,
    }
