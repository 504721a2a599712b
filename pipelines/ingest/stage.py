"""Parse a decoded drop with DuckDB's CSV reader into `staged_rows`, quarantining bad rows.

Every data record of the file ends up either in `staged_rows` (to be normalized) or in
`rejected_rows` with its physical line number, its raw text and a reason, so that
rows_read = rows_loaded + rows_rejected holds for every file.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.config import Source
from pipelines.ingest.decode import Decoded
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


def _key(header: str) -> str:
    return " ".join(header.strip().strip('"').split()).casefold()


def read_header(decoded: Decoded, quotechar: str) -> list[str]:
    with open(decoded.path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter=decoded.delimiter, quotechar=quotechar)
        try:
            return next(reader)
        except StopIteration:
            return []


def map_columns(header: list[str], source: Source, file_name: str) -> tuple[dict[str, int], list[str], list[str]]:
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
            seen = (f"the first line ({len(header)} fields) matches none of the mapped headers: is the header row "
                    "missing? (its values are not shown: they may be personal data)")
        raise FileRejected(file_name, f"missing required column(s): {', '.join(missing_required)}; {seen}", line=1)
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
    """Parse `decoded` into `staged_rows` and `rejected_rows`. Runs inside the caller's transaction."""
    header = read_header(decoded, source.quotechar)
    if not any(h.strip() for h in header):
        raise FileRejected(file_name, "the file has no header row", line=1)
    mapping, missing, extra = map_columns(header, source, file_name)
    n = len(header)
    cols = {f"c{i}": "VARCHAR" for i in range(n)}
    col_spec = "{" + ", ".join(f"{sql_literal(k)}: {sql_literal(v)}" for k, v in cols.items()) + "}"
    quote = sql_literal(source.quotechar)
    for t in ("_parsed", "_rejects", "_reject_scans"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    con.execute(
        f"""
        CREATE TEMP TABLE _parsed AS
        SELECT row_number() OVER () AS ordinal, *
        FROM read_csv({sql_literal(str(decoded.path))}, header = true, columns = {col_spec},
                      delim = {sql_literal(decoded.delimiter)}, quote = {quote}, escape = {quote},
                      store_rejects = true, rejects_table = '_rejects', rejects_scan = '_reject_scans',
                      strict_mode = true, parallel = false, auto_detect = false)
        """
    )
    # Rejected records as DuckDB reports them (record number, header = record 1), once each.
    con.execute(
        """
        CREATE TEMP TABLE _bad AS
        SELECT line AS record_no,
               arg_min(CASE WHEN error_type IN ('TOO MANY COLUMNS', 'MISSING COLUMNS')
                            THEN 'wrong number of fields: ' || lower(error_message)
                            ELSE lower(CAST(error_type AS VARCHAR)) || ': ' || error_message END, column_idx) AS reason,
               arg_min(csv_line, column_idx) AS raw_line
        FROM _rejects GROUP BY line
        """
    )
    # Line numbers on a narrow table (ordinal -> line_number), never by carrying every column
    # through window functions. Record number of a good row: ordinal + 1 plus the rejected records
    # before it (ASOF join on the rejects' positions in good-row coordinates). Physical line: the
    # record number plus the newlines embedded in quoted fields of the records before it; when the
    # file has one physical line per record, that is the record number itself.
    good_count, bad_count = con.execute("SELECT (SELECT count(*) FROM _parsed), (SELECT count(*) FROM _bad)").fetchone()
    one_line_per_record = decoded.lines == good_count + bad_count + 1
    if bad_count == 0 and one_line_per_record:
        con.execute("CREATE TEMP TABLE _numbered AS SELECT ordinal, ordinal + 1 AS record_no, 0 AS nl, ordinal + 1 AS line_number FROM _parsed")
    else:
        nl = "0" if one_line_per_record else " + ".join(
            f"(length(coalesce(c{i}, '')) - length(replace(coalesce(c{i}, ''), chr(10), '')))" for i in range(n)
        )
        con.execute(
            f"""
            CREATE TEMP TABLE _numbered AS
            WITH gaps AS (
                SELECT record_no - (row_number() OVER (ORDER BY record_no) - 1) AS gap_at FROM _bad
            ), gap_counts AS (
                SELECT gap_at, sum(count(*)) OVER (ORDER BY gap_at) AS before FROM gaps GROUP BY gap_at
            ), g AS (
                SELECT p.ordinal, p.ordinal + 1 + coalesce(gc.before, 0) AS record_no, ({nl}) AS nl
                FROM _parsed p ASOF LEFT JOIN gap_counts gc ON p.ordinal + 1 >= gc.gap_at
            )
            SELECT ordinal, record_no, nl,
                   record_no + coalesce(sum(nl) OVER (ORDER BY ordinal ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                   AS line_number
            FROM g
            """
        )
    con.execute(
        """
        CREATE TEMP TABLE _bad_lines AS
        SELECT b.record_no + coalesce(n.line_number - n.record_no + n.nl, 0) AS line_number,
               trim(b.raw_line, chr(13) || chr(10)) AS raw_line, b.reason, NULL AS field
        FROM _bad b ASOF LEFT JOIN _numbered n ON b.record_no > n.record_no
        """
    )
    # Row-level checks on good rows, in SQL: required fields, control characters, lengths. A cheap
    # flag over all mapped fields first; the per-field reason only for the (rare) flagged rows.
    mapped = [f"c{i}" for i in mapping.values()]
    concat = "concat_ws(chr(31), " + ", ".join(mapped) + ")" if mapped else "''"
    flag = [f"regexp_matches({concat}, '[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1E\\x7F]')"]
    flag += [f"length(c{i}) > {source.max_field_length}" for i in mapping.values()]
    flag += [f"trim(coalesce(c{mapping[f]}, '')) = ''" for f in source.required]
    checks = []
    for f in source.required:
        checks.append(f"WHEN trim(coalesce(c{mapping[f]}, '')) = '' THEN {sql_literal(f'required field {f} is empty')}")
    for f, i in mapping.items():
        checks.append(
            f"WHEN regexp_matches(c{i}, '[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F]') "
            f"THEN {sql_literal(f'control character in field {f}')}"
        )
        checks.append(
            f"WHEN length(c{i}) > {source.max_field_length} "
            f"THEN {sql_literal(f'value too long in field {f} (over {source.max_field_length} characters)')}"
        )
    reason_sql = "CASE " + " ".join(checks) + " END" if checks else "NULL"
    con.execute(
        f"""CREATE TEMP TABLE _flagged AS
            SELECT ordinal, {reason_sql} AS reason FROM _parsed WHERE {' OR '.join(flag)}"""
    )

    raw_cols = " || ".join(
        f"coalesce(c{i}, '')" + (f" || {sql_literal(decoded.delimiter)}" if i < n - 1 else "") for i in range(n)
    )
    con.execute(
        f"""
        INSERT INTO rejected_rows (file_id, source, line_number, raw_line, reason, field, rejected_at)
        SELECT {sql_literal(file_id)}, {sql_literal(source_name)}, line_number, raw_line, reason, field, now() FROM _bad_lines
        UNION ALL
        SELECT {sql_literal(file_id)}, {sql_literal(source_name)}, n.line_number, {raw_cols}, f.reason,
               regexp_extract(f.reason, 'field (\\w+)', 1), now()
        FROM _flagged f JOIN _parsed USING (ordinal) JOIN _numbered n USING (ordinal)
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
        INSERT INTO staged_rows (file_id, source, line_number{', ' + field_cols if field_cols else ''}, extra)
        SELECT {sql_literal(file_id)}, {sql_literal(source_name)}, n.line_number{', ' + field_vals if field_vals else ''}, {extra_sql}
        FROM _parsed JOIN _numbered n USING (ordinal) ANTI JOIN _flagged USING (ordinal)
        """
    )
    checked_bad = con.execute("SELECT count(*) FROM _flagged").fetchone()[0]
    good = good_count - checked_bad
    parse_bad = con.execute("SELECT count(*) FROM _bad").fetchone()[0]
    reasons = dict(
        con.execute(
            """SELECT regexp_replace(reason, ':.*|\\(.*', '') AS r, count(*) FROM (
                   SELECT reason FROM _bad UNION ALL SELECT reason FROM _flagged
               ) GROUP BY r ORDER BY 2 DESC"""
        ).fetchall()
    )
    for t in ("_parsed", "_rejects", "_reject_scans", "_bad", "_numbered", "_bad_lines", "_flagged"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    rejected = parse_bad + checked_bad
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
    return f"SELECT source, file_id, line_number, {fields} FROM staged_rows WHERE file_id = {sql_literal(file_id)}"


def json_list(items: list[str]) -> str | None:
    return json.dumps(items, ensure_ascii=False) if items else None
