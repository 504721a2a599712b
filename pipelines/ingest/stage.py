"""Parse a decoded drop with DuckDB's CSV reader into `staged_rows`, quarantining bad rows.

Every data record of the file ends up either in `staged_rows` (to be normalized) or in
`rejected_rows` with its physical line number, its raw text (cut to RAW_LINE_LIMIT characters,
the whole length in raw_length) and a reason, so that rows_read = rows_loaded + rows_rejected
holds for every file, and rows_read is the record count decode made on its own.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field

import duckdb

from pipelines.config import Source
from pipelines.ingest.decode import RAW_LINE_LIMIT, Decoded
from pipelines.ingest.errors import FileRejected
from pipelines.warehouse import sql_literal


@dataclass
class StageResult:
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    columns_missing: list[str] = field(default_factory=list)  # optional mapped columns absent
    columns_extra: list[str] = field(default_factory=list)  # columns in the file not mapped
    reject_reasons: dict[str, int] = field(default_factory=dict)
    encoding: str | None = None  # what the bytes were read as
    encoding_note: str | None = None  # why that is not the declared encoding


def _key(header: str) -> str:
    return " ".join(header.strip().strip('"').split()).casefold()


def read_header(decoded: Decoded, quotechar: str) -> list[str]:
    """The header fields of a decoded file (without the line-number column in front)."""
    with open(decoded.path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter=decoded.delimiter, quotechar=quotechar)
        try:
            return next(reader)[1:]
        except StopIteration:
            return []


def map_columns(
    header: list[str], source: Source, file_name: str
) -> tuple[dict[str, int], list[str], list[str]]:
    """Match the file's header to the source's mapping, ignoring case and surrounding spaces.

    Returns field -> column index, the optional mapped fields missing, and unmapped extra headers.
    A missing required column rejects the whole file.
    """
    index = {}
    for i, h in enumerate(header):
        index.setdefault(_key(h), i)
    mapping = {f: index[_key(h)] for f, h in source.columns.items() if _key(h) in index}
    missing_required = [f"{source.columns[f]} ({f})" for f in source.required if f not in mapping]
    if missing_required:
        if mapping:  # a header row with renamed or dropped columns: show it, it names columns
            seen = f"header is: {', '.join(h.strip() for h in header)}"
        else:  # probably no header row at all: the first line is somebody's record, not shown
            seen = (
                f"the first line ({len(header)} fields) matches none of the mapped headers: "
                "is the header row missing? (its values are not shown: they may be personal data)"
            )
        raise FileRejected(
            file_name, f"missing required column(s): {', '.join(missing_required)}; {seen}", line=1
        )
    missing = [source.columns[f] for f in source.columns if f not in mapping]
    used = set(mapping.values())
    extra = [h for i, h in enumerate(header) if i not in used and h.strip()]
    return mapping, missing, extra


def stage_file(
    con: duckdb.DuckDBPyConnection,
    *,
    file_id: str,
    source_name: str,
    source: Source,
    decoded: Decoded,
    file_name: str,
) -> StageResult:
    """Parse `decoded` into `staged_rows` and `rejected_rows`. Runs inside the caller's
    transaction."""
    header = read_header(decoded, source.quotechar)
    if not any(h.strip() for h in header):
        raise FileRejected(file_name, "the file has no header row", line=1)
    mapping, missing, extra = map_columns(header, source, file_name)
    n = len(header)
    cols = {"line_number": "BIGINT", **{f"c{i}": "VARCHAR" for i in range(n)}}
    col_spec = (
        "{" + ", ".join(f"{sql_literal(k)}: {sql_literal(v)}" for k, v in cols.items()) + "}"
    )
    quote = sql_literal(source.quotechar)
    delim = sql_literal(decoded.delimiter)
    for t in ("_parsed", "_rejects", "_reject_scans"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    # Records longer than max_record_length never get here (decode quarantines them); allow for
    # four bytes per character and the line number in front.
    max_line_size = max(2_097_152, 4 * source.max_record_length + 64)
    con.execute(
        f"""
        CREATE TEMP TABLE _parsed AS
        SELECT row_number() OVER () AS ordinal, *
        FROM read_csv({sql_literal(str(decoded.path))}, header = true, columns = {col_spec},
                      delim = {delim}, quote = {quote}, escape = {quote},
                      max_line_size = {max_line_size}, store_rejects = true,
                      rejects_table = '_rejects', rejects_scan = '_reject_scans',
                      strict_mode = true, parallel = false, auto_detect = false)
        """
    )
    # Records DuckDB rejected, once each; their physical line is the number decode put in front.
    con.execute(
        """
        CREATE TEMP TABLE _bad AS
        SELECT line AS record_no,
               arg_min(CASE WHEN error_type IN ('TOO MANY COLUMNS', 'MISSING COLUMNS')
                            THEN 'wrong number of fields: ' || lower(error_message)
                            ELSE lower(CAST(error_type AS VARCHAR)) || ': '
                                 || coalesce(error_message, '')
                       END, coalesce(column_idx, -1)) AS reason,
               ltrim(arg_min(csv_line, coalesce(column_idx, -1)), chr(13) || chr(10)) AS csv_line
        FROM _rejects GROUP BY line
        """
    )
    con.execute(
        """
        CREATE TEMP TABLE _bad_lines AS
        WITH b AS (
            SELECT CAST(regexp_extract(csv_line, '^[0-9]+') AS BIGINT) AS line_number,
                   trim(substr(csv_line, length(regexp_extract(csv_line, '^[0-9]+')) + 2),
                        chr(13) || chr(10)) AS raw,
                   reason
            FROM _bad
        )
        SELECT line_number, raw AS raw_line, length(raw) AS raw_length, reason,
               NULL::VARCHAR AS field
        FROM b
        """
    )
    unnumbered = con.execute(
        "SELECT count(*) FROM _bad_lines WHERE line_number IS NULL"
    ).fetchone()[0]
    if unnumbered:
        raise RuntimeError(
            f"{file_name}: {unnumbered} rejected record(s) without their line number"
        )
    if decoded.quarantined:
        con.executemany(
            "INSERT INTO _bad_lines VALUES (?, ?, ?, ?, NULL)",
            [[q.line, q.raw, q.length, q.reason] for q in decoded.quarantined],
        )
    good_count, bad_count = con.execute(
        "SELECT (SELECT count(*) FROM _parsed), (SELECT count(*) FROM _bad)"
    ).fetchone()
    # Row-level checks on good rows, in SQL: required fields, control characters, lengths. A cheap
    # flag over all mapped fields first; the per-field reason only for the (rare) flagged rows.
    mapped = [f"c{i}" for i in mapping.values()]
    concat = "concat_ws(chr(31), " + ", ".join(mapped) + ")" if mapped else "''"
    flag = [f"regexp_matches({concat}, '[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1E\\x7F]')"]
    flag += [f"length(c{i}) > {source.max_field_length}" for i in mapping.values()]
    flag += [f"trim(coalesce(c{mapping[f]}, '')) = ''" for f in source.required]
    checks = []
    for f in source.required:
        checks.append(
            f"WHEN trim(coalesce(c{mapping[f]}, '')) = '' "
            f"THEN {sql_literal(f'required field {f} is empty')}"
        )
    for f, i in mapping.items():
        checks.append(
            f"WHEN regexp_matches(c{i}, '[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F]') "
            f"THEN {sql_literal(f'control character in field {f}')}"
        )
        too_long = f"value too long in field {f} (over {source.max_field_length} characters)"
        checks.append(
            f"WHEN length(c{i}) > {source.max_field_length} THEN {sql_literal(too_long)}"
        )
    reason_sql = "CASE " + " ".join(checks) + " END" if checks else "NULL"
    con.execute(
        f"""CREATE TEMP TABLE _flagged AS
            SELECT ordinal, {reason_sql} AS reason FROM _parsed WHERE {" OR ".join(flag)}"""
    )

    raw_cols = " || ".join(
        f"coalesce(c{i}, '')" + (f" || {sql_literal(decoded.delimiter)}" if i < n - 1 else "")
        for i in range(n)
    )
    con.execute(
        f"""
        INSERT INTO rejected_rows (file_id, source, line_number, raw_line, raw_length, reason,
                                   field, rejected_at)
        SELECT {sql_literal(file_id)}, {sql_literal(source_name)}, line_number,
               left(raw_line, {RAW_LINE_LIMIT}), raw_length, reason, field, now()
        FROM (
            SELECT line_number, raw_line, raw_length, reason, field FROM _bad_lines
            UNION ALL
            SELECT p.line_number, {raw_cols}, length({raw_cols}), f.reason,
                   regexp_extract(f.reason, 'field (\\w+)', 1)
            FROM _flagged f JOIN _parsed p USING (ordinal)
        )
        """
    )
    field_cols = ", ".join(f'"{f}"' for f in mapping)
    field_vals = ", ".join(f"c{i}" for i in mapping.values())
    extra_idx = [i for i in range(n) if i not in set(mapping.values()) and header[i].strip()]
    if extra_idx and source.extra_columns == "keep":
        pairs = ", ".join(f"{sql_literal(header[i].strip())}: c{i}" for i in extra_idx)
        extra_sql = f"to_json({{{pairs}}})::VARCHAR"
    else:
        extra_sql = "NULL"
    con.execute(
        f"""
        INSERT INTO staged_rows (file_id, source,
                                 line_number{", " + field_cols if field_cols else ""}, extra)
        SELECT {sql_literal(file_id)}, {sql_literal(source_name)},
               line_number{", " + field_vals if field_vals else ""}, {extra_sql}
        FROM _parsed ANTI JOIN _flagged USING (ordinal)
        """
    )
    checked_bad = con.execute("SELECT count(*) FROM _flagged").fetchone()[0]
    good = good_count - checked_bad
    reasons = dict(
        con.execute(
            """SELECT regexp_replace(reason, ':.*|\\(.*', '') AS r, count(*) FROM (
                   SELECT reason FROM _bad_lines UNION ALL SELECT reason FROM _flagged
               ) GROUP BY r ORDER BY 2 DESC"""
        ).fetchall()
    )
    for t in ("_parsed", "_rejects", "_reject_scans", "_bad", "_bad_lines", "_flagged"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    rejected = bad_count + len(decoded.quarantined) + checked_bad
    if good + rejected != decoded.records:
        # The reader and the record count disagree: never load a file with rows unaccounted for.
        raise RuntimeError(
            f"{file_name}: {decoded.records:,} records counted but {good + rejected:,} parsed "
            "or rejected"
        )
    if good == 0 and rejected == 0:
        raise FileRejected(file_name, "the file has a header but no data rows")
    return StageResult(
        rows_read=good + rejected,
        rows_loaded=good,
        rows_rejected=rejected,
        columns_missing=missing,
        columns_extra=extra,
        reject_reasons=reasons,
    )


def staged_view_sql(file_id: str, source: Source) -> str:
    """SELECT of one file's staged rows with only the fields its source maps."""
    fields = ", ".join(f'"{f}"' for f in source.columns)
    return (
        f"SELECT source, file_id, line_number, {fields} FROM staged_rows "
        f"WHERE file_id = {sql_literal(file_id)}"
    )


def json_list(items: list[str]) -> str | None:
    return json.dumps(items, ensure_ascii=False) if items else None
