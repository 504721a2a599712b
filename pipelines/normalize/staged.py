"""`normalize_staged`: a staged drop (raw text per field) -> typed, validated `contacts` rows.

Set-based, in three moves:
1. cheap, exact cases are decided in DuckDB SQL: phone shapes with phonenumbers' own metadata,
   plain e-mail addresses, postcodes in their country's shape, dates in the declared format;
2. everything else goes through the per-value functions of this package once per DISTINCT
   input (per (value, region) where the country matters), spread over the cores;
3. one SQL join puts it back together: one output row per staged row.

Lookups are keyed on the raw text where a Python function decides (it cleans for itself), so
SQL only cleans the fields it decides or splits (`SQL_CLEANED`). `normalize_record`
(record.py) is the row-at-a-time reference the tests hold this against.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from contextlib import contextmanager

import duckdb
import pyarrow as pa

from pipelines.config import Source
from pipelines.fields import CONTACT_COLUMNS, MAPPABLE_FIELDS
from pipelines.normalize import address as addr
from pipelines.normalize import dates, email, names, phone, postcode
from pipelines.normalize.batch import Workers, map_distinct
from pipelines.normalize.booleans import normalize_bool
from pipelines.normalize.country import normalize_country
from pipelines.normalize.mail_domains import closed_mail_domains
from pipelines.normalize.places import brussels_names
from pipelines.normalize.record import OUTPUT_COLUMNS
from pipelines.normalize.reference import ReferenceTable, check_tuple, load_reference
from pipelines.normalize.region import (
    address_country_sql,
    city_country,
    international_sql,
    phone_country_joins_sql,
)
from pipelines.normalize.text import clean_sql, present_sql, q, status_sql

log = logging.getLogger(__name__)
STEP_SECONDS: dict[str, float] = {}  # wall time per step of the last call (benchmarks print it)

S, B, TS = pa.string(), pa.bool_(), pa.timestamp("us")
# Fields SQL cleans itself (it decides or splits them); the others go to Python as raw text.
SQL_CLEANED = ("email", "phone", "street", "house_number", "address_line")
TIMESTAMP_FIELDS = ("last_purchase_at", "updated_at", "newsletter_opt_in_at")
BOOLEAN_FIELDS = ("newsletter_opt_in", "double_opt_in")
_TABLES = (
    "_nz_city_country",
    "_nz_evidence",
    "_nz_country",
    "_nz_regions",
    "_nz_rows",
    "_nz_phone_pairs",
    "_nz_phone_fast",
    "_nz_phone_slow",
    "_nz_phone",
    "_nz_domain",
    "_nz_email_slow",
    "_nz_postcode_pairs",
    "_nz_postcode_fast",
    "_nz_postcode_slow",
    "_nz_postcode",
    "_nz_first",
    "_nz_last",
    "_nz_street",
    "_nz_house",
    "_nz_suffix",
    "_nz_city",
    "_nz_date_fast",
    "_nz_date_slow",
    "_nz_reference",
    *(f"_nz_date_{f}" for f in ("birth_date", *TIMESTAMP_FIELDS)),
    *(f"_nz_bool_{f}" for f in BOOLEAN_FIELDS),
)


@contextmanager
def _step(name: str):
    started = time.perf_counter()
    try:
        yield
    finally:
        STEP_SECONDS[name] = STEP_SECONDS.get(name, 0.0) + time.perf_counter() - started
        log.debug("normalize %s: %.2f s", name, STEP_SECONDS[name])


def normalize_staged(
    con: duckdb.DuckDBPyConnection,
    staged: str,
    out: str,
    *,
    source: Source,
    default_country: str,
    today: dt.date | None = None,
    workers: Workers | None = None,
) -> None:
    """Create temp table `out` with exactly the `contacts` columns (but `loaded_at`), one row per
    staged row.

    `staged` has `source`, `file_id`, `line_number` and one VARCHAR column per mapped field (raw
    text). `today` fixes "now" for date checks (tests); `workers` lets a caller share a pool.
    """
    today = today or dt.date.today()
    own_workers = workers is None
    workers = workers or Workers()
    STEP_SECONDS.clear()
    try:
        _run(
            con,
            staged,
            out,
            source=source,
            default_country=default_country,
            today=today,
            workers=workers,
        )
    finally:
        if own_workers:
            workers.close()
        con.execute("DROP VIEW IF EXISTS _nz_base")
        for t in _TABLES:
            con.execute(f"DROP TABLE IF EXISTS {t}")


def _run(
    con,
    staged: str,
    out: str,
    *,
    source: Source,
    default_country: str,
    today: dt.date,
    workers: Workers,
) -> None:
    with _step("prepare"):
        _base(con, staged)
    # Country first: it decides the region of phones, postcodes and names.
    with _step("country"):
        _countries(con, workers, default_country)
    with _step("phone"):
        _phones(con, workers, default_country)
    stamp_formats = dates.date_formats(source.date_format, source.datetime_format, timestamp=True)
    with _step("rows"):
        _rows(con, default_country, stamp_formats)
    with _step("email"):
        _emails(
            con, workers, closed_mail_domains(source.closed_mail_domains, source.open_mail_domains)
        )
    with _step("postcode"):
        _postcodes(con, workers)
    with _step("names"):
        _names(con, workers)
    with _step("address"):
        _addresses(con, workers, brussels_names(source))
    with _step("dates"):
        _dates(
            con,
            workers,
            "birth_date",
            dates.date_formats(source.date_format, None, timestamp=False),
            birth=True,
            today=today,
        )
        for f in TIMESTAMP_FIELDS:
            _timestamps(con, workers, f, stamp_formats, today=today)
    with _step("booleans"):
        _booleans(con, source)
    with _step("assemble"):
        _assemble(con, out, today, default_country)
    with _step("reference"):
        _reference(con, out, load_reference(source.postcode_reference), default_country)


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]


def _base(con, staged: str) -> None:
    """View `_nz_base`: lineage, the raw text of every field (NULL when unmapped) and the cleaned
    text (NULL when missing) of the fields SQL works on itself.

    A view, not a table: each query computes only the columns it reads. Cleaning and the
    missing-marker test are two stages (inner and outer SELECT), so the cleaned text is computed
    once, not once per mention in the marker test.
    """
    present = set(_columns(con, staged))
    cols, cleaned, marked = [], [], []
    for f in MAPPABLE_FIELDS:
        raw = f'"{f}"' if f in present else "NULL::VARCHAR"
        cols.append(f"{raw} AS {f}_raw")
        if f in SQL_CLEANED:
            cleaned.append(f"{clean_sql(raw) if f in present else 'NULL::VARCHAR'} AS {f}_c0")
            marked.append(f"{present_sql(f'{f}_c0')} AS {f}_c")
    record_id = (
        clean_sql('"source_record_id"') if "source_record_id" in present else "NULL::VARCHAR"
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW _nz_base AS
            SELECT * EXCLUDE ({", ".join(f"{f}_c0" for f in SQL_CLEANED)}), {", ".join(marked)}
            FROM (SELECT source, file_id, line_number, {record_id} AS source_record_id,
                         {", ".join(cols)},
                         {", ".join(cleaned)}
                  FROM {staged})"""
    )


def _countries(con, workers: Workers, default_country: str) -> None:
    """`_nz_regions`: per distinct country text, the code, status and phone region."""
    map_distinct(
        con,
        workers,
        inputs_sql="SELECT DISTINCT country_raw FROM _nz_base WHERE country_raw IS NOT NULL",
        key_columns={"raw": S},
        fn=normalize_country,
        single=True,
        result_columns={"value": S, "status": S, "reason": S},
        table="_nz_country",
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _nz_regions AS
            SELECT b.country_raw, c.value AS country_value,
                   coalesce(c.status, 'missing') AS country_status,
                   c.reason AS country_reason, coalesce(c.value, {q(default_country)}) AS region
            FROM (SELECT DISTINCT country_raw FROM _nz_base) b
            LEFT JOIN _nz_country c ON c.raw = b.country_raw"""
    )
    # The country of each listed city, for the rows whose file gave no readable country.
    map_distinct(
        con,
        workers,
        inputs_sql="""SELECT DISTINCT b.city_raw FROM _nz_base b
                      JOIN _nz_regions g ON g.country_raw IS NOT DISTINCT FROM b.country_raw
                      WHERE g.country_value IS NULL AND b.city_raw IS NOT NULL""",
        key_columns={"raw": S},
        fn=_city_country_tuple,
        single=True,
        result_columns={"country": S},
        table="_nz_city_country",
    )
    # The address evidence (region.py rules 1-4) per distinct address of those rows; joined on all
    # three texts, so rows with a readable country (most) never match and cost one hash probe.
    evidence = address_country_sql(clean_sql("e.postcode_raw"), "cc.country")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _nz_evidence AS
            SELECT e.country_raw, e.postcode_raw, e.city_raw, {evidence} AS evidence
            FROM (SELECT DISTINCT b.country_raw, b.postcode_raw, b.city_raw FROM _nz_base b
                  JOIN _nz_regions g ON g.country_raw IS NOT DISTINCT FROM b.country_raw
                  WHERE g.country_value IS NULL) e
            LEFT JOIN _nz_city_country cc ON cc.raw = e.city_raw"""
    )


def _city_country_tuple(raw: str) -> tuple[str | None]:
    return (city_country(raw),)


# Joins `_nz_base b` to its country (`g`) and address evidence (`ev`).
_LOCATE_JOINS = """JOIN _nz_regions g ON g.country_raw IS NOT DISTINCT FROM b.country_raw
                   LEFT JOIN _nz_evidence ev ON ev.country_raw IS NOT DISTINCT FROM b.country_raw
                        AND ev.postcode_raw IS NOT DISTINCT FROM b.postcode_raw
                        AND ev.city_raw IS NOT DISTINCT FROM b.city_raw"""


def _address_region_sql(default_country: str) -> str:
    """SQL over `_LOCATE_JOINS`: the region a phone is read in: the file's country, else the
    address evidence (region.py rules 1-4), else the default."""
    return (
        f"coalesce(g.country_value, struct_extract(ev.evidence, 'country'), {q(default_country)})"
    )


# --- phone -------------------------------------------------------------------------------------


def _phones(con, workers: Workers, default_country: str) -> None:
    """`_nz_phone` per distinct (cleaned phone, region): fast path in SQL, the rest via
    phonenumbers."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _nz_phone_pairs AS
            SELECT DISTINCT b.phone_c AS clean, {_address_region_sql(default_country)} AS region
            FROM _nz_base b {_LOCATE_JOINS}
            WHERE b.phone_c IS NOT NULL"""
    )
    # Regions whose patterns the fast path may need: the rows' regions and those of the calling
    # codes written in front of international numbers.
    regions = [r for (r,) in con.execute("SELECT DISTINCT region FROM _nz_phone_pairs").fetchall()]
    # (Only speed depends on this list: numbers of regions left out go through Python.)
    prefixes = con.execute(
        """SELECT DISTINCT replace(CASE WHEN clean[1] = '+' THEN clean[2:6]
                                       ELSE clean[3:7] END, ' ', '')[1:3]
           FROM _nz_phone_pairs WHERE clean[1] = '+' OR clean[1:2] = '00'"""
    ).fetchall()
    regions += _regions_of_prefixes([p for (p,) in prefixes if p])
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _nz_phone_fast AS "
        f"{phone.fast_path_sql('_nz_phone_pairs', regions)}"
    )
    map_distinct(
        con,
        workers,
        inputs_sql="""SELECT clean, region FROM _nz_phone_pairs p
                      WHERE NOT EXISTS (SELECT 1 FROM _nz_phone_fast f
                                        WHERE f.clean = p.clean AND f.region = p.region)""",
        key_columns={"clean": S, "region": S},
        fn=phone.normalize_phone_pair,
        result_columns={"e164": S, "status": S, "reason": S, "phone_type": S},
        table="_nz_phone_slow",
    )
    joins, country = phone_country_joins_sql("p.e164", "cc")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _nz_phone AS
            SELECT p.*, {country} AS phone_country FROM (
                SELECT clean, region, e164,
                       CASE WHEN e164 IS NULL THEN 'invalid'
                            ELSE {status_sql("clean", "e164")} END AS status,
                       reason, phone_type
                FROM _nz_phone_fast
                UNION ALL
                SELECT clean, region, e164, status, reason, phone_type FROM _nz_phone_slow) p
            {joins}"""
    )


@functools.lru_cache(maxsize=4096)
def _region_of_prefix(prefix: str) -> str | None:
    import phonenumbers

    for n in (1, 2, 3):
        regions = (
            phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(prefix[:n]))
            if prefix[:n].isdigit()
            else None
        )
        if regions:
            return regions[0]
    return None


def _regions_of_prefixes(prefixes: list[str]) -> list[str]:
    return [r for r in (_region_of_prefix(p) for p in prefixes) if r]


# --- rows --------------------------------------------------------------------------------------


def _rows(con, default_country: str, stamp_formats: tuple[str, ...]) -> None:
    """`_nz_rows`: the rows with country, phone and place region (see region.py) joined on, the
    street and house-number parts of the address fields (mirroring `address.address_parts`), and
    the values SQL decides on its own: time stamps in a declared format (`<field>_fast`) and plain
    e-mail addresses (`email_fast`, read from the raw text trimmed of spaces: a text the fast
    path takes needs no other cleaning). Nearly every one of those is distinct, so they are
    decided per row rather than looked up.

    The only per-row table besides the output; everything later joins small per-value tables.
    """
    line = q("(?i)^" + addr.ADDRESS_LINE + "$")
    digits = q("(?i)" + addr.HOUSE_DIGITS)
    same_number = (
        f"(house_number_c IS NULL "
        f"OR regexp_extract(house_number_c, {digits}, 1) = ltrim(s_m.num, '0'))"
    )
    stamps = ", ".join(
        f"{_parse_sql(f + '_raw', stamp_formats)} AS {f}_fast" for f in TIMESTAMP_FIELDS
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _nz_rows AS
            WITH located AS (
                SELECT b.*, g.country_value, g.country_status, g.country_reason, g.region,
                       ev.evidence AS address_evidence,
                       {_address_region_sql(default_country)} AS phone_region
                FROM _nz_base b {_LOCATE_JOINS}
            ), joined AS (
                SELECT b.* EXCLUDE (address_evidence, phone_region),
                       ph.e164, ph.status AS phone_status,
                       ph.reason AS phone_reason, ph.phone_type,
                       -- the country evidence of rows without a readable country
                       -- (region.py rules 1-5)
                       CASE WHEN b.country_value IS NULL THEN coalesce(b.address_evidence,
                            CASE WHEN ph.phone_country IS NOT NULL
                                      AND {international_sql("b.phone_c")}
                                 THEN {{'country': ph.phone_country, 'reason': 'from_phone'}} END)
                       END AS evidence,
                       coalesce(b.country_value, struct_extract(evidence, 'country'),
                                {q(default_country)})
                           AS place_region,
                       -- a street field ending in a number; split off when the number field is
                       -- empty or carries the same number (address.address_parts)
                       CASE WHEN b.street_c IS NOT NULL
                                 AND (b.house_number_c IS NULL
                                          OR regexp_matches(b.street_c, '[0-9]'))
                            THEN regexp_extract(b.street_c, {line}, ['street', 'num', 'suffix'])
                                END AS s_m,
                       CASE WHEN b.address_line_c IS NOT NULL
                            THEN regexp_extract(b.address_line_c, {line},
                                                ['street', 'num', 'suffix']) END AS l_m,
                       {stamps},
                       CASE WHEN {email.fast_email_sql("trim(b.email_raw)")}
                            THEN lower(trim(b.email_raw)) END AS email_fast
                FROM located b
                LEFT JOIN _nz_phone ph ON ph.clean = b.phone_c AND ph.region = b.phone_region
            ), split AS (
                -- The number group is required, so an empty one means the text did not match.
                SELECT * EXCLUDE (s_m, l_m),
                       CASE WHEN s_m.num <> '' AND {same_number} THEN s_m.street END AS s_street,
                       CASE WHEN s_m.num <> '' AND {same_number}
                            THEN trim(s_m.num || s_m.suffix) END AS s_house,
                       CASE WHEN l_m.num <> '' THEN l_m.street END AS l_street,
                       CASE WHEN l_m.num <> '' THEN trim(l_m.num || l_m.suffix) END AS l_house
                FROM joined
            ), parts AS (
                SELECT * EXCLUDE (s_street, s_house, l_street, l_house),
                       CASE WHEN street_c IS NOT NULL THEN coalesce(s_street, street_c)
                            WHEN address_line_c IS NOT NULL
                            THEN coalesce(l_street, address_line_c) END AS street_part,
                       CASE WHEN street_c IS NOT NULL THEN 'street'
                            WHEN address_line_c IS NOT NULL THEN 'address_line' END AS street_from,
                       coalesce(house_number_c, s_house, l_house) AS house_part,
                       CASE WHEN house_number_c IS NOT NULL THEN 'house_number'
                            WHEN s_house IS NOT NULL THEN 'street'
                            WHEN l_house IS NOT NULL THEN 'address_line' END AS house_from
                FROM split
            )
            -- Keep what later steps read; the cleaned phone and address texts have done their
            -- work.
            SELECT * EXCLUDE (street_from, house_from, region, phone_c, street_c, house_number_c,
                              address_line_c, street_raw, house_number_raw, address_line_raw),
                   CASE street_from WHEN 'address_line' THEN address_line_raw
                                    ELSE street_raw END AS street_raw_out,
                   CASE house_from WHEN 'street' THEN street_raw
                                   WHEN 'address_line' THEN address_line_raw
                        ELSE house_number_raw END AS house_number_raw_out
            FROM parts"""
    )


# --- e-mail ------------------------------------------------------------------------------------


def _emails(con, workers: Workers, closed: frozenset[str]) -> None:
    """Facts per distinct domain of the plain addresses `_rows` accepted (`_nz_domain`), and the
    other addresses through email-validator, once per distinct value (`_nz_email_slow`).
    `closed`: the closed mail domains in force."""
    map_distinct(
        con,
        workers,
        inputs_sql=(
            "SELECT DISTINCT split_part(email_fast, '@', 2) FROM _nz_rows "
            "WHERE email_fast IS NOT NULL"
        ),
        key_columns={"domain": S},
        fn=functools.partial(email.domain_facts, closed=closed),
        single=True,
        result_columns={
            "correction": S,
            "suggestion": S,
            "is_disposable": B,
            "is_closed": B,
            "is_personal": B,
        },
        table="_nz_domain",
    )
    map_distinct(
        con,
        workers,
        inputs_sql=(
            "SELECT DISTINCT email_c FROM _nz_rows WHERE email_c IS NOT NULL "
            "AND email_fast IS NULL"
        ),
        key_columns={"clean": S},
        fn=functools.partial(email.normalize_email, closed=closed),
        single=True,
        result_columns={
            "value": S,
            "status": S,
            "reason": S,
            "suggestion": S,
            "is_role": B,
            "is_disposable": B,
            "is_closed_provider": B,
            "is_personal_provider": B,
        },
        table="_nz_email_slow",
    )


# --- postcode, names, address --------------------------------------------------------------------


def _postcodes(con, workers: Workers) -> None:
    """`_nz_postcode` per distinct (raw postcode, place region): common shapes in SQL, the rest
    in Python."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _nz_postcode_pairs AS "
        "SELECT DISTINCT postcode_raw AS raw, place_region AS region FROM _nz_rows "
        "WHERE postcode_raw IS NOT NULL"
    )
    regions = [
        r for (r,) in con.execute("SELECT DISTINCT region FROM _nz_postcode_pairs").fetchall()
    ]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _nz_postcode_fast AS "
        f"{postcode.fast_postcode_sql('_nz_postcode_pairs', regions)}"
    )
    map_distinct(
        con,
        workers,
        inputs_sql="""SELECT raw, region FROM _nz_postcode_pairs p WHERE NOT EXISTS (
                          SELECT 1 FROM _nz_postcode_fast f
                          WHERE f.raw = p.raw AND f.region = p.region)""",
        key_columns={"raw": S, "region": S},
        fn=postcode.normalize_postcode_pair,
        result_columns={"value": S, "status": S, "reason": S},
        table="_nz_postcode_slow",
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _nz_postcode AS
            SELECT raw, region, value, {status_sql("raw", "value")} AS status,
                   NULL::VARCHAR AS reason
            FROM _nz_postcode_fast
            UNION ALL SELECT * FROM _nz_postcode_slow"""
    )


def _names(con, workers: Workers) -> None:
    map_distinct(
        con,
        workers,
        inputs_sql=(
            "SELECT DISTINCT first_name_raw, place_region FROM _nz_rows "
            "WHERE first_name_raw IS NOT NULL"
        ),
        key_columns={"raw": S, "region": S},
        fn=names.normalize_first_name_pair,
        result_columns={"value": S, "status": S, "reason": S, "is_initials": B, "infix": S},
        table="_nz_first",
    )
    # The particles found at the end of a first name (`Jan van der`) go with the last name; the
    # join is only paid for when there are any.
    (trailing,) = con.execute("SELECT count(*) FROM _nz_first WHERE infix IS NOT NULL").fetchone()
    first_infix = "f.infix" if trailing else "NULL::VARCHAR"
    join_first = (
        (
            "LEFT JOIN (SELECT raw, region, infix FROM _nz_first WHERE infix IS NOT NULL) f "
            "ON f.raw = r.first_name_raw AND f.region = r.place_region"
        )
        if trailing
        else ""
    )
    map_distinct(
        con,
        workers,
        inputs_sql=f"""SELECT DISTINCT r.last_name_raw, r.infix_raw, r.place_region, {first_infix}
                       FROM _nz_rows r {join_first}
                       WHERE r.last_name_raw IS NOT NULL OR r.infix_raw IS NOT NULL
                             OR {first_infix} IS NOT NULL""",
        key_columns={"raw": S, "infix_raw": S, "region": S, "first_infix": S},
        fn=names.normalize_last_name_quad,
        result_columns={"infix": S, "value": S, "status": S, "reason": S},
        table="_nz_last",
    )


def _addresses(con, workers: Workers, brussels: str) -> None:
    """Each distinct street part, house-number part and city through its normalizer (the parts
    were cut in `_rows`); streets and cities per place region (abbreviations and place names
    depend on the country), cities with the configured names of Brussels."""
    map_distinct(
        con,
        workers,
        inputs_sql=(
            "SELECT DISTINCT street_part, place_region FROM _nz_rows WHERE street_part IS NOT NULL"
        ),
        key_columns={"part": S, "region": S},
        fn=addr.normalize_street_pair,
        result_columns={"value": S, "status": S, "reason": S},
        table="_nz_street",
    )
    map_distinct(
        con,
        workers,
        inputs_sql="SELECT DISTINCT house_part FROM _nz_rows WHERE house_part IS NOT NULL",
        key_columns={"part": S},
        fn=addr.normalize_house_number,
        single=True,
        result_columns={"number": S, "suffix": S, "status": S, "reason": S},
        table="_nz_house",
    )
    map_distinct(
        con,
        workers,
        inputs_sql=(
            "SELECT DISTINCT house_number_suffix_raw FROM _nz_rows "
            "WHERE house_number_suffix_raw IS NOT NULL"
        ),
        key_columns={"raw": S},
        fn=_suffix_tuple,
        single=True,
        result_columns={"value": S},
        table="_nz_suffix",
    )
    map_distinct(
        con,
        workers,
        inputs_sql=(
            "SELECT DISTINCT city_raw, place_region FROM _nz_rows WHERE city_raw IS NOT NULL"
        ),
        key_columns={"raw": S, "region": S},
        fn=functools.partial(_city_tuple, brussels=brussels),
        result_columns={"value": S},
        table="_nz_city",
    )


def _city_tuple(args: tuple[str, str], *, brussels: str) -> tuple[str | None]:
    return (addr.normalize_city(args[0], args[1], brussels),)


def _suffix_tuple(raw: str) -> tuple[str | None]:
    return (addr.normalize_suffix(raw),)


# --- dates and yes/no ----------------------------------------------------------------------------


def _parse_sql(raw: str, formats: tuple[str, ...]) -> str:
    """SQL: `raw` parsed with the first declared format whose exact shape it has (then the text
    is also its own cleaned form, and DuckDB's try_strptime reads it as Python's strptime
    does); NULL otherwise, including impossible days such as 31-02."""
    whens = []
    for fmt in formats:
        shape = dates.format_regex(fmt) if fmt != dates.AUTO else None
        if shape:
            whens.append(
                f"WHEN regexp_full_match({raw}, {q(shape)}) THEN try_strptime({raw}, {q(fmt)})"
            )
    return ("CASE " + " ".join(whens) + " END") if whens else "NULL::TIMESTAMP"


def _range_sql(ts: str, *, birth: bool, today: dt.date) -> tuple[str, str]:
    """SQL conditions (too new, too old) of `dates.check_range`."""
    if birth:
        oldest = dates.years_before(today, dates.BIRTH_MAX_AGE_YEARS)
        return (
            f"{ts}::DATE > DATE {q(today.isoformat())}",
            f"{ts}::DATE < DATE {q(oldest.isoformat())}",
        )
    latest = dates.latest_timestamp(today).isoformat(sep=" ")
    return (
        f"{ts} > TIMESTAMP {q(latest)}",
        f"{ts} < TIMESTAMP {q(dates.EARLIEST_TIMESTAMP.isoformat(sep=' '))}",
    )


def _dates(
    con, workers: Workers, field: str, formats: tuple[str, ...], *, birth: bool, today: dt.date
) -> None:
    """`_nz_date_<field>` per distinct raw text: SQL for texts in a declared format's exact shape,
    `dates.normalize_date` for the rest; then the range check (in SQL for the fast ones)."""
    kind = "DATE" if birth else "TIMESTAMP"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _nz_date_fast AS
            SELECT raw, {_parse_sql("raw", formats)} AS ts
            FROM (SELECT DISTINCT {field}_raw AS raw FROM _nz_rows
                  WHERE {field}_raw IS NOT NULL)"""
    )
    con.execute("DELETE FROM _nz_date_fast WHERE ts IS NULL")
    _slow_dates(
        con,
        workers,
        field,
        formats,
        birth=birth,
        today=today,
        inputs_sql=f"""SELECT DISTINCT {field}_raw FROM _nz_rows r WHERE {field}_raw IS NOT NULL
                               AND NOT EXISTS (SELECT 1 FROM _nz_date_fast f
                                               WHERE f.raw = r.{field}_raw)""",
    )
    too_new, too_old = _range_sql("ts", birth=birth, today=today)
    placeholder = dates.placeholder_sql("ts")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _nz_date_{field} AS
            SELECT raw, CASE WHEN {too_new} OR {too_old} OR {placeholder} THEN NULL
                             ELSE ts END::{kind} AS value,
                   CASE WHEN {placeholder} THEN 'missing'
                        WHEN {too_new} OR {too_old} THEN 'invalid' ELSE 'valid' END
                       AS status,
                   CASE WHEN {placeholder} THEN NULL WHEN {too_new} THEN 'future_date'
                        WHEN {too_old} THEN 'too_old' END
                       AS reason,
                   CASE WHEN NOT {placeholder} THEN false END AS ambiguous
            FROM _nz_date_fast
            UNION ALL
            SELECT raw, value::{kind}, status, reason, ambiguous FROM _nz_date_slow"""
    )


def _timestamps(
    con, workers: Workers, field: str, formats: tuple[str, ...], *, today: dt.date
) -> None:
    """`_nz_date_<field>` for the time stamps `_rows` could not parse (few): through Python."""
    _slow_dates(
        con,
        workers,
        field,
        formats,
        birth=False,
        today=today,
        inputs_sql=(
            f"SELECT DISTINCT {field}_raw FROM _nz_rows WHERE {field}_raw IS NOT NULL "
            f"AND {field}_fast IS NULL"
        ),
    )
    con.execute(f"ALTER TABLE _nz_date_slow RENAME TO _nz_date_{field}")


def _slow_dates(
    con, workers: Workers, field: str, formats, *, birth: bool, today: dt.date, inputs_sql: str
) -> None:
    map_distinct(
        con,
        workers,
        inputs_sql=inputs_sql,
        key_columns={"raw": S},
        fn=functools.partial(_date_value, formats=formats, birth=birth, today=today),
        single=True,
        result_columns={"value": TS, "status": S, "reason": S, "ambiguous": B},
        table="_nz_date_slow",
    )


def _date_value(raw: str, *, formats: tuple[str, ...], birth: bool, today: dt.date) -> tuple:
    return tuple(dates.normalize_date(raw, formats, birth=birth, today=today))


def _booleans(con, source: Source) -> None:
    for f in BOOLEAN_FIELDS:
        map_distinct(
            con,
            Workers(processes=1),
            inputs_sql=f"SELECT DISTINCT {f}_raw FROM _nz_rows WHERE {f}_raw IS NOT NULL",
            key_columns={"raw": S},
            fn=functools.partial(
                _bool_value,
                true_values=tuple(source.true_values),
                false_values=tuple(source.false_values),
            ),
            single=True,
            result_columns={"value": B, "status": S, "reason": S},
            table=f"_nz_bool_{f}",
        )


def _bool_value(
    raw: str | None, *, true_values: tuple[str, ...], false_values: tuple[str, ...]
) -> tuple:
    return tuple(normalize_bool(raw, true_values, false_values))


# --- reference postcode table ------------------------------------------------------------------


def _reference(con, out: str, table: ReferenceTable | None, default_country: str) -> None:
    """With a configured reference table (reference.py): check each distinct (country, postcode,
    city, street) of the output once, then update the rows it changes. Dictionary lookups:
    in-process."""
    if table is None:
        return
    country = f"coalesce(country, {q(default_country)})"
    covered = ", ".join(q(c) for c in sorted(table.countries))
    map_distinct(
        con,
        Workers(processes=1),
        inputs_sql=f"SELECT DISTINCT {country}, postcode, city, street FROM {out} "
        f"WHERE postcode IS NOT NULL AND {country} IN ({covered})",
        key_columns={"country": S, "postcode": S, "city": S, "street": S},
        fn=functools.partial(check_tuple, table=table),
        result_columns={"known": B, "ref_city": S, "street_known": B},
        table="_nz_reference",
    )
    con.execute(
        f"""UPDATE {out} SET
                city = x.ref_city,
                postcode = CASE WHEN x.known THEN {out}.postcode END,
                postcode_status = CASE WHEN x.known THEN {out}.postcode_status ELSE 'invalid' END,
                postcode_reason = CASE WHEN x.known THEN {out}.postcode_reason
                                       ELSE 'unknown_postcode' END,
                street = CASE WHEN x.street_known IS NOT false THEN {out}.street END,
                street_status = CASE WHEN x.street_known IS NOT false THEN {out}.street_status
                                     ELSE 'invalid' END,
                street_reason = CASE WHEN x.street_known IS NOT false THEN {out}.street_reason
                                     ELSE 'street_not_at_postcode' END
            FROM _nz_reference x
            WHERE x.country = coalesce({out}.country, {q(default_country)})
                  AND x.postcode = {out}.postcode
              AND x.city IS NOT DISTINCT FROM {out}.city
                  AND x.street IS NOT DISTINCT FROM {out}.street
              AND (x.known IS NOT true OR x.street_known IS false
                   OR x.ref_city IS DISTINCT FROM {out}.city)"""
    )


# --- output --------------------------------------------------------------------------------------


def _assemble(con, out: str, today: dt.date, default_country: str) -> None:
    """`out`: everything joined back together, in the contract's column order and types."""
    # A country the file left empty: the row's evidence, else a postcode or a nationally written
    # phone number valid in the default country (they were read there).
    fits_default = (
        "(pc.status IN ('valid', 'corrected') OR r.phone_status IN ('valid', 'corrected'))"
    )
    inferred = f"(r.country_status = 'missing' AND (r.evidence IS NOT NULL OR {fits_default}))"
    country = {
        "country": (
            f"CASE WHEN {inferred} THEN coalesce(struct_extract(r.evidence, 'country'), "
            f"{q(default_country)}) ELSE r.country_value END"
        ),
        "country_status": f"CASE WHEN {inferred} THEN 'inferred' ELSE r.country_status END",
        "country_reason": (
            f"CASE WHEN {inferred} THEN coalesce(struct_extract(r.evidence, 'reason'), "
            "'from_source_country') ELSE r.country_reason END"
        ),
    }
    stamp = {}
    for f, alias in (
        ("last_purchase_at", "lp"),
        ("updated_at", "ua"),
        ("newsletter_opt_in_at", "oa"),
    ):
        too_new, too_old = _range_sql(f"r.{f}_fast", birth=False, today=today)
        placeholder = dates.placeholder_sql(f"r.{f}_fast")
        stamp[f] = (
            f"CASE WHEN r.{f}_fast IS NULL THEN {alias}.value "
            f"WHEN {too_new} OR {too_old} OR {placeholder} THEN NULL ELSE r.{f}_fast END",
            f"CASE WHEN r.{f}_fast IS NULL THEN coalesce({alias}.status, 'missing') "
            f"WHEN {placeholder} THEN 'missing' "
            f"WHEN {too_new} OR {too_old} THEN 'invalid' ELSE 'valid' END",
            f"CASE WHEN r.{f}_fast IS NULL THEN {alias}.reason WHEN {placeholder} THEN NULL "
            f"WHEN {too_new} THEN 'future_date' "
            f"WHEN {too_old} THEN 'too_old' END",
        )
    fast = "r.email_fast IS NOT NULL"
    typo = "dom.suggestion IS NOT NULL"
    local = "split_part(r.email_fast, '@', 1)"
    # (mirrors `email.finish_email`: an uncertain typo, else the correction applied, then closed)
    mail = {
        "email": (
            f"CASE WHEN {fast} THEN (CASE WHEN {typo} THEN NULL WHEN dom.correction IS NOT NULL "
            f"THEN {local} || '@' || dom.correction ELSE r.email_fast END) ELSE es.value END"
        ),
        "email_status": (
            f"CASE WHEN {fast} THEN (CASE WHEN {typo} OR dom.is_closed THEN 'invalid' "
            "WHEN dom.correction IS NOT NULL THEN 'corrected' "
            f"ELSE {status_sql('r.email_c', 'r.email_fast')} END) "
            "ELSE coalesce(es.status, 'missing') END"
        ),
        "email_reason": (
            f"CASE WHEN {fast} THEN (CASE WHEN {typo} THEN 'domain_typo' "
            "WHEN dom.is_closed THEN 'closed_mail_provider' "
            "WHEN dom.correction IS NOT NULL THEN 'domain_typo_corrected' END) ELSE es.reason END"
        ),
        "email_suggestion": (
            f"CASE WHEN {fast} THEN (CASE WHEN {typo} "
            "THEN split_part(r.email_fast, '@', 1) || '@' || dom.suggestion END) "
            "ELSE es.suggestion END"
        ),
        "email_is_role": (
            f"CASE WHEN {fast} THEN {email.role_sql('r.email_fast')} ELSE es.is_role END"
        ),
        "email_is_disposable": (
            f"CASE WHEN {fast} THEN dom.is_disposable ELSE es.is_disposable END"
        ),
        "email_is_closed_provider": (
            f"CASE WHEN {fast} THEN dom.is_closed ELSE es.is_closed_provider END"
        ),
        "email_is_personal_provider": (
            f"CASE WHEN {fast} THEN dom.is_personal ELSE es.is_personal_provider END"
        ),
    }
    expr = {
        "source": "r.source",
        "file_id": "r.file_id",
        "line_number": "r.line_number",
        "source_record_id": "r.source_record_id",
        "first_name": "fn.value",
        "infix": "ln.infix",
        "last_name": "ln.value",
        "email": mail["email"],
        "phone": "r.e164",
        "street": "st.value",
        "house_number": "hn.number",
        "house_number_suffix": "coalesce(sx.value, hn.suffix)",
        "postcode": "pc.value",
        "city": "ci.value",
        "country": country["country"],
        "birth_date": "bd.value",
        "newsletter_opt_in": "nl.value",
        "last_purchase_at": stamp["last_purchase_at"][0],
        "updated_at": stamp["updated_at"][0],
        "newsletter_opt_in_at": stamp["newsletter_opt_in_at"][0],
        "double_opt_in": "dbl.value",
        "email_raw": "r.email_raw",
        "phone_raw": "r.phone_raw",
        "postcode_raw": "r.postcode_raw",
        "first_name_raw": "r.first_name_raw",
        "last_name_raw": "r.last_name_raw",
        "street_raw": "r.street_raw_out",
        "house_number_raw": "r.house_number_raw_out",
        "country_raw": "r.country_raw",
        "birth_date_raw": "r.birth_date_raw",
        "newsletter_opt_in_raw": "r.newsletter_opt_in_raw",
        "last_purchase_at_raw": "r.last_purchase_at_raw",
        "updated_at_raw": "r.updated_at_raw",
        "newsletter_opt_in_at_raw": "r.newsletter_opt_in_at_raw",
        "double_opt_in_raw": "r.double_opt_in_raw",
        "email_status": mail["email_status"],
        "phone_status": "coalesce(r.phone_status, 'missing')",
        "postcode_status": "coalesce(pc.status, 'missing')",
        "first_name_status": "coalesce(fn.status, 'missing')",
        "last_name_status": "coalesce(ln.status, 'missing')",
        "street_status": "coalesce(st.status, 'missing')",
        "house_number_status": "coalesce(hn.status, 'missing')",
        "country_status": country["country_status"],
        "birth_date_status": "coalesce(bd.status, 'missing')",
        "newsletter_opt_in_status": "coalesce(nl.status, 'missing')",
        "last_purchase_at_status": stamp["last_purchase_at"][1],
        "updated_at_status": stamp["updated_at"][1],
        "newsletter_opt_in_at_status": stamp["newsletter_opt_in_at"][1],
        "double_opt_in_status": "coalesce(dbl.status, 'missing')",
        "email_reason": mail["email_reason"],
        "phone_reason": "r.phone_reason",
        "postcode_reason": "pc.reason",
        "first_name_reason": "fn.reason",
        "last_name_reason": "ln.reason",
        "street_reason": "st.reason",
        "house_number_reason": "hn.reason",
        "country_reason": country["country_reason"],
        "birth_date_reason": "bd.reason",
        "newsletter_opt_in_reason": "nl.reason",
        "last_purchase_at_reason": stamp["last_purchase_at"][2],
        "updated_at_reason": stamp["updated_at"][2],
        "newsletter_opt_in_at_reason": stamp["newsletter_opt_in_at"][2],
        "double_opt_in_reason": "dbl.reason",
        "email_suggestion": mail["email_suggestion"],
        "email_is_role": mail["email_is_role"],
        "email_is_disposable": mail["email_is_disposable"],
        "phone_type": "r.phone_type",
        "email_is_closed_provider": mail["email_is_closed_provider"],
        "email_is_personal_provider": mail["email_is_personal_provider"],
        "first_name_is_initials": "fn.is_initials",
        "birth_date_ambiguous": "bd.ambiguous",
    }
    missing = set(OUTPUT_COLUMNS) - set(expr)
    assert not missing, f"no expression for contact column(s) {sorted(missing)}"
    select = ",\n".join(
        f'CAST({expr[c]} AS {CONTACT_COLUMNS[c]}) AS "{c}"' for c in OUTPUT_COLUMNS
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {out} AS
            SELECT {select}
            FROM _nz_rows r
            LEFT JOIN _nz_first fn ON fn.raw = r.first_name_raw AND fn.region = r.place_region
            LEFT JOIN _nz_last ln ON ln.raw IS NOT DISTINCT FROM r.last_name_raw
                                 AND ln.infix_raw IS NOT DISTINCT FROM r.infix_raw
                                     AND ln.region = r.place_region
                                 AND ln.first_infix IS NOT DISTINCT FROM fn.infix
            LEFT JOIN _nz_domain dom ON dom.domain = split_part(r.email_fast, '@', 2)
            LEFT JOIN _nz_email_slow es ON es.clean = r.email_c AND r.email_fast IS NULL
            LEFT JOIN _nz_postcode pc ON pc.raw = r.postcode_raw AND pc.region = r.place_region
            LEFT JOIN _nz_street st ON st.part = r.street_part AND st.region = r.place_region
            LEFT JOIN _nz_house hn ON hn.part = r.house_part
            LEFT JOIN _nz_suffix sx ON sx.raw = r.house_number_suffix_raw
            LEFT JOIN _nz_city ci ON ci.raw = r.city_raw AND ci.region = r.place_region
            LEFT JOIN _nz_date_birth_date bd ON bd.raw = r.birth_date_raw
            LEFT JOIN _nz_date_last_purchase_at lp ON lp.raw = r.last_purchase_at_raw
            LEFT JOIN _nz_date_updated_at ua ON ua.raw = r.updated_at_raw
            LEFT JOIN _nz_date_newsletter_opt_in_at oa ON oa.raw = r.newsletter_opt_in_at_raw
            LEFT JOIN _nz_bool_newsletter_opt_in nl ON nl.raw = r.newsletter_opt_in_raw
            LEFT JOIN _nz_bool_double_opt_in dbl ON dbl.raw = r.double_opt_in_raw"""
    )
