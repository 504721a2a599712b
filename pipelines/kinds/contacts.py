"""The contacts kind: normalize a staged drop and upsert it into `contacts`.

The latest version of a source record wins: a version's time is the row's `updated_at`, else the
file's export time (remote mtime), so a late upload of an old export never overwrites newer data.
Quality figures of the load (fill rate, validity per field) are recorded on the way.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from pipelines.config import Source
from pipelines.fields import CONTACT_COLUMNS
from pipelines.ingest.load import finish_load, staged_status
from pipelines.ingest.stage import staged_view_sql
from pipelines.normalize import normalize_staged
from pipelines.quality.metrics import record_load_metrics
from pipelines.warehouse import sql_literal, transaction

UNREADABLE_DATE_REASONS = ("wrong_format", "not_a_date")
DATE_FIELDS = ("birth_date", "last_purchase_at", "updated_at", "newsletter_opt_in_at")


def _reject_unparseable_dates(
    con: duckdb.DuckDBPyConnection, file_id: str, source_name: str, source: Source
) -> int:
    """With `unparseable_dates: reject`: move rows with a date nobody can read from `_normalized`
    to `rejected_rows`; returns how many."""
    fields = [f for f in DATE_FIELDS if f in source.columns]
    if not fields:
        return
    reasons = ", ".join(f"'{r}'" for r in UNREADABLE_DATE_REASONS)
    first_bad = (
        "CASE "
        + " ".join(
            f"WHEN {f}_status = 'invalid' AND {f}_reason IN ({reasons}) THEN '{f}'" for f in fields
        )
        + " END"
    )
    delimiter = (
        con.execute("SELECT delimiter FROM ingest_log WHERE file_id = ?", [file_id]).fetchone()[0]
        or ","
    )
    raw_line = f" || {sql_literal(delimiter)} || ".join(
        f"coalesce(s.\"{f}\", '')" for f in source.columns
    )
    expected = (
        f"expected {source.date_format}"
        if source.date_format != "auto"
        else "no unambiguous reading"
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _bad_dates AS
            SELECT line_number, {first_bad} AS field FROM _normalized
            WHERE {first_bad} IS NOT NULL"""
    )
    bad = con.execute("SELECT count(*) FROM _bad_dates").fetchone()[0]
    if bad:
        con.execute(
            f"""INSERT INTO rejected_rows (file_id, source, line_number, raw_line, reason, field,
                                           rejected_at)
                SELECT ?, ?, b.line_number, {raw_line},
                       'unparseable date in field ' || b.field || ' (' || ? || ')', b.field, now()
                FROM _bad_dates b
                JOIN staged_rows s ON s.file_id = ? AND s.line_number = b.line_number""",
            [file_id, source_name, expected, file_id],
        )
        con.execute(
            "DELETE FROM _normalized WHERE line_number IN (SELECT line_number FROM _bad_dates)"
        )
    con.execute("DROP TABLE _bad_dates")
    return bad


@dataclass
class LoadResult:
    rows: int  # normalized rows of this drop
    inserted: int  # new source records
    updated: int  # existing source records replaced by a newer version
    stale: int  # rows older than what the warehouse already holds (kept out)


def load_contacts(
    con: duckdb.DuckDBPyConnection,
    *,
    file_id: str,
    source_name: str,
    source: Source,
    default_country: str,
) -> LoadResult:
    """Normalize a staged contacts drop and upsert it into `contacts` (the latest version wins).

    A version's time is the row's `updated_at`, else the file's export time (remote mtime), so a
    late upload of an old export never overwrites newer data.
    """
    if staged_status(con, file_id) != "staged":
        return LoadResult(0, 0, 0, 0)
    with transaction(con):
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW _staged_drop AS {staged_view_sql(file_id, source)}"
        )
        normalize_staged(
            con, "_staged_drop", "_normalized", source=source, default_country=default_country
        )
        rejected = 0
        if source.unparseable_dates == "reject":
            rejected = _reject_unparseable_dates(con, file_id, source_name, source)
        record_load_metrics(
            con, "_normalized", load_id=file_id, source=source_name, fields=list(source.columns)
        )
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _incoming AS
            SELECT n.*, coalesce(n.updated_at, l.remote_mtime) AS _version
            FROM _normalized n JOIN ingest_log l ON l.file_id = n.file_id
            QUALIFY row_number()
                OVER (PARTITION BY n.source, n.source_record_id ORDER BY n.line_number DESC) = 1
            """
        )
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _current AS
            SELECT c.source, c.source_record_id, coalesce(c.updated_at, l.remote_mtime) AS _version
            FROM contacts c JOIN ingest_log l ON l.file_id = c.file_id
            WHERE c.source = ? AND c.source_record_id IN (SELECT source_record_id FROM _incoming)
            """,
            [source_name],
        )
        rows = con.execute("SELECT count(*) FROM _normalized").fetchone()[0]
        updated, stale = con.execute(
            """SELECT count(*) FILTER (WHERE i._version >= c._version),
                      count(*) FILTER (WHERE i._version < c._version)
               FROM _incoming i JOIN _current c USING (source, source_record_id)"""
        ).fetchone()
        con.execute(
            """DELETE FROM contacts WHERE source = ? AND source_record_id IN (
                   SELECT i.source_record_id FROM _incoming i
                   JOIN _current c USING (source, source_record_id)
                   WHERE i._version >= c._version)""",
            [source_name],
        )
        cols = [c for c in CONTACT_COLUMNS if c != "loaded_at"]
        col_list = ", ".join(f'"{c}"' for c in cols)
        inserted = con.execute(
            f"""INSERT INTO contacts ({col_list}, loaded_at)
                SELECT {col_list}, now() FROM _incoming i
                WHERE NOT EXISTS (SELECT 1 FROM contacts c
                                  WHERE c.source = i.source
                                        AND c.source_record_id = i.source_record_id)"""
        ).fetchone()[0]
        finish_load(con, file_id, rejected=rejected)
        for t in ("_incoming", "_current", "_normalized"):
            con.execute(f"DROP TABLE IF EXISTS {t}")
        con.execute("DROP VIEW IF EXISTS _staged_drop")
    return LoadResult(rows=rows, inserted=inserted - updated, updated=updated, stale=stale)
