"""Set-based parsing of activity fields: time stamps (the rules of pipelines/normalize/dates.py)
and money amounts written with a comma or a dot as decimal mark.

Time stamps in a declared format's exact shape, or in ISO shape, are read in SQL
(`try_strptime` agrees with `strptime` on fixed-width digits); the few others go through
`dates.normalize_date` once per distinct text. Ranges: before 1900 or more than a day in the
future is `invalid` (`too_old`, `future_date`); placeholder days are `missing`.
"""

from __future__ import annotations

import datetime as dt
import functools

import duckdb
import pyarrow as pa

from pipelines.normalize import dates
from pipelines.normalize.batch import Workers, map_distinct
from pipelines.warehouse import sql_literal as q

ISO_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


def staged_columns(con: duckdb.DuckDBPyConnection, relation: str) -> set[str]:
    """The column names of a staged relation (which of the kind's fields the drop mapped)."""
    return {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}


def _value(raw: str, *, formats: tuple[str, ...], today: dt.date) -> tuple:
    r = dates.normalize_date(raw, formats, birth=False, today=today)
    return (r.value, r.status, r.reason)


def parse_timestamps(
    con: duckdb.DuckDBPyConnection,
    *,
    inputs_sql: str,
    formats: tuple[str, ...],
    today: dt.date,
    out: str,
) -> None:
    """Temp table `out(raw, value, status, reason)` for the distinct texts of `inputs_sql`."""
    whens = []
    for fmt, status in [(f, "valid") for f in formats] + [(f, "corrected") for f in ISO_FORMATS]:
        shape = dates.format_regex(fmt) if fmt != dates.AUTO else None
        if shape:
            whens.append(
                f"WHEN regexp_full_match(raw, {q(shape)}) AND try_strptime(raw, {q(fmt)}) "
                f"IS NOT NULL THEN {{{{'ts': try_strptime(raw, {q(fmt)}), 's': {q(status)}}}}}"
            )
    case = ("CASE " + " ".join(whens) + " END") if whens else "NULL"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _act_ts_fast AS
            SELECT raw, p.ts AS ts, p.s AS s FROM (
                SELECT raw, {case.replace("{{", "{").replace("}}", "}")} AS p
                FROM (SELECT DISTINCT trim(raw) AS raw FROM ({inputs_sql}) i(raw) WHERE raw IS
                    NOT NULL)
            ) WHERE p IS NOT NULL"""
    )
    with Workers() as workers:
        map_distinct(
            con,
            workers,
            inputs_sql=f"""SELECT DISTINCT raw FROM ({inputs_sql}) i(raw) WHERE raw IS NOT NULL
                           AND trim(raw) NOT IN (SELECT raw FROM _act_ts_fast)""",
            key_columns={"raw": pa.string()},
            fn=functools.partial(_value, formats=formats, today=today),
            result_columns={
                "value": pa.timestamp("us"),
                "status": pa.string(),
                "reason": pa.string(),
            },
            table="_act_ts_slow",
            single=True,
        )
    latest = dates.latest_timestamp(today).isoformat(sep=" ")
    earliest = dates.EARLIEST_TIMESTAMP.isoformat(sep=" ")
    placeholder = dates.placeholder_sql("ts")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {out} AS
            SELECT raw,
                   CASE WHEN {placeholder} OR ts > TIMESTAMP {q(latest)} OR ts < TIMESTAMP
                       {q(earliest)}
                        THEN NULL ELSE ts END AS value,
                   CASE WHEN {placeholder} THEN 'missing'
                        WHEN ts > TIMESTAMP {q(latest)} OR ts < TIMESTAMP {q(earliest)} THEN
                            'invalid'
                        ELSE s END AS status,
                   CASE WHEN {placeholder} THEN NULL
                        WHEN ts > TIMESTAMP {q(latest)} THEN 'future_date'
                        WHEN ts < TIMESTAMP {q(earliest)} THEN 'too_old' END AS reason
            FROM _act_ts_fast
            UNION ALL
            SELECT s.raw, s.value, s.status, s.reason FROM _act_ts_slow s"""
    )
    # The fast table is keyed by trimmed text; rows join on their raw text, so add those too.
    con.execute(
        f"""INSERT INTO {out}
            SELECT DISTINCT i.raw, o.value, o.status, o.reason
            FROM ({inputs_sql}) i(raw) JOIN {out} o ON o.raw = trim(i.raw)
            WHERE i.raw <> trim(i.raw)"""
    )
    con.execute("DROP TABLE IF EXISTS _act_ts_fast")
    con.execute("DROP TABLE IF EXISTS _act_ts_slow")


# Currency words and symbols an amount may carry, for the currency it names.
CURRENCY_MARKS = {"€": "EUR", "eur": "EUR", "euro": "EUR", "kr": "SEK", "sek": "SEK", ":-": "SEK"}


def amount_sql(raw: str) -> tuple[str, str]:
    """SQL expressions (number as DOUBLE or NULL, currency named in the text or NULL) of `raw`.

    `12,50`, `12.50`, `1.234,50`, `1,234.50`, `1 234,50`, `€ 12,50`, `129 kr`, `99:-` are read;
    one separator followed by exactly three digits is a thousands separator (`1.234` = 1234),
    since money has at most two decimals."""
    cur = (
        f"CASE WHEN regexp_matches(lower({raw}), '€|\\beur') THEN 'EUR' "
        f"WHEN regexp_matches(lower({raw}), '\\bkr\\b|\\bsek\\b|:-') THEN 'SEK' END"
    )
    t = (
        f"regexp_replace(regexp_replace(lower(trim({raw})), "
        "'€|\\beuro?\\b|\\bsek\\b|\\bkr\\.?|:-', '', 'g'), "
        f"'[\\s\\x{{00a0}}'']', '', 'g')"
    )
    num = f"""CASE
        WHEN regexp_full_match({t}, '-?\\d{{1,3}}(\\.\\d{{3}})+(,\\d+)?')
            THEN try_cast(replace(replace({t}, '.', ''), ',', '.') AS DOUBLE)
        WHEN regexp_full_match({t}, '-?\\d{{1,3}}(,\\d{{3}})+(\\.\\d+)?')
            THEN try_cast(replace({t}, ',', '') AS DOUBLE)
        WHEN regexp_full_match({t}, '-?\\d+,\\d{{1,2}}') THEN try_cast(replace({t}, ',', '.')
            AS DOUBLE)
        WHEN regexp_full_match({t}, '-?\\d+(\\.\\d+)?') THEN try_cast({t} AS DOUBLE)
        WHEN regexp_full_match({t}, '-?\\d+[.,]') THEN try_cast(rtrim(rtrim({t}, '.'), ',') AS
            DOUBLE)
    END"""
    return num, cur
