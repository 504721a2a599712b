"""The bookkeeping of a drop after landing: stage it (parse into `staged_rows`), and close its
load (`finish_load`), whatever its kind. How each kind loads its staged rows: pipelines/kinds.

Each step runs in one transaction: a crash or a bad file leaves the warehouse as it was, and the
file's fate is then recorded in `ingest_log` (status `failed` with the error).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import duckdb

from pipelines.config import Source
from pipelines.ingest.decode import decode_to_utf8
from pipelines.ingest.errors import FileRejected
from pipelines.ingest.landed import ReadLimits
from pipelines.ingest.stage import StageResult, json_list, stage_file
from pipelines.settings import private_dir
from pipelines.warehouse import transaction


def _log_failure(con: duckdb.DuckDBPyConnection, file_id: str, error: str) -> None:
    con.execute(
        "UPDATE ingest_log SET status = 'failed', error = ? WHERE file_id = ?",
        [error[:2000], file_id],
    )


def stage_drop(
    con: duckdb.DuckDBPyConnection,
    *,
    file_id: str,
    source_name: str,
    source: Source,
    tmp_root: Path,
) -> StageResult:
    """Parse a landed file into `staged_rows` / `rejected_rows` and record the counts."""
    status, path, file_name = con.execute(
        "SELECT status, landing_path, file_name FROM ingest_log WHERE file_id = ?", [file_id]
    ).fetchone()
    if status in ("staged", "loaded"):
        r = con.execute(
            "SELECT rows_read, rows_loaded, rows_rejected, encoding, encoding_note "
            "FROM ingest_log WHERE file_id = ?",
            [file_id],
        ).fetchone()
        return StageResult(*r[:3], encoding=r[3], encoding_note=r[4])
    if status == "duplicate":
        return StageResult(0, 0, 0)
    display = f"{source_name}/{file_name}"
    try:
        # Named by process, so a later run can remove what a killed one left (a decoded copy).
        prefix = f"stage-{os.getpid()}-"
        with tempfile.TemporaryDirectory(prefix=prefix, dir=private_dir(tmp_root)) as tmp:
            decoded = decode_to_utf8(
                Path(path),
                Path(tmp) / "drop.csv",
                encoding=source.encoding,
                delimiter=source.delimiter,
                display_name=display,
                limits=ReadLimits.of(source),
            )
            with transaction(con):
                con.execute("DELETE FROM staged_rows WHERE file_id = ?", [file_id])
                con.execute("DELETE FROM rejected_rows WHERE file_id = ?", [file_id])
                result = stage_file(
                    con,
                    file_id=file_id,
                    source_name=source_name,
                    source=source,
                    decoded=decoded,
                    file_name=display,
                )
                con.execute(
                    """UPDATE ingest_log SET status = 'staged', encoding = ?, encoding_note = ?,
                              delimiter = ?, rows_read = ?, rows_loaded = ?, rows_rejected = ?,
                              columns_missing = ?, columns_extra = ?, error = NULL
                       WHERE file_id = ?""",
                    [
                        decoded.encoding,
                        decoded.encoding_note,
                        decoded.delimiter,
                        result.rows_read,
                        result.rows_loaded,
                        result.rows_rejected,
                        json_list(result.columns_missing),
                        json_list(result.columns_extra),
                        file_id,
                    ],
                )
    except FileRejected as e:
        _log_failure(con, file_id, str(e))
        raise
    except (
        Exception
    ) as e:  # a bug, not the file's fault: still never leave the file looking `landed`
        _log_failure(con, file_id, f"{display}: internal error ({type(e).__name__}): {e}")
        raise
    result.encoding, result.encoding_note = decoded.encoding, decoded.encoding_note
    return result


def staged_status(con: duckdb.DuckDBPyConnection, file_id: str) -> str | None:
    row = con.execute("SELECT status FROM ingest_log WHERE file_id = ?", [file_id]).fetchone()
    return row[0] if row else None


def finish_load(con: duckdb.DuckDBPyConnection, file_id: str, *, rejected: int = 0) -> None:
    """Close a drop's load inside its loader's transaction: `rejected` staged rows were rejected
    at load (moved from rows_loaded to rows_rejected, so rows_read = loaded + rejected still
    holds by construction), status `loaded`, the staged rows gone."""
    con.execute(
        """UPDATE ingest_log SET status = 'loaded', loaded_at = now(),
                  rows_loaded = rows_loaded - ?, rows_rejected = coalesce(rows_rejected, 0) + ?
           WHERE file_id = ?""",
        [rejected, rejected, file_id],
    )
    con.execute("DELETE FROM staged_rows WHERE file_id = ?", [file_id])
