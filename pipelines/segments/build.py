"""Segments: named SQL filters over `segment_candidates`, with suppression and opt-in enforced.

`segment_candidates` is `customers` plus helper columns a marketer filters on. A filter in
exports.yaml may use any of them, and `$name` parameters from the segment's `params:`:

- every column of `customers`: the golden record (email, phone, country, birth_date,
  newsletter_opt_in, ...)
- `has_valid_email`: email present and its status valid or corrected
- `is_suppressed`, `suppression_reasons`: a row in `suppressions` matches the customer id, email
  or phone
- `is_barred`: suppressed for a reason that bars service mail too (unsubscribe, bounce,
  complaint, erasure; not `no_consent` or `inactive`)
- `age`: whole years today (a 29 February birthday counts on 28 February in other years)
- `next_birthday`, `days_to_birthday`: the coming birthday (today = 0) and the days until it
- `last_bought_at`: the newest of `last_purchase_at` (a contact field) and `last_order_at`
  (order lines)
- `days_since_last_purchase`, `months_since_last_purchase`: whole days / months since
  `last_bought_at`
- `missing_fields`: comma-separated profile fields that are empty (for enrichment), NULL when
  complete
- `today`: the export day
- every column of `customer_metrics`: orders, spend, RFM, top_category, opens, clicks,
  engagement_status, first_seen_at (pipelines/metrics)
- `has_orders`: at least one order that counts as value (not returned or cancelled)
- `days_since_last_order`, `months_since_last_order`: whole days / months since `last_order_at`

Built-in parameter: `$last_export_at`, the time of the segment's last successful export (before
the first one, the first build of customers, so a first run does not treat the whole existing
base as new), for segments such as `welcome` ("customers created since we last sent it").

A filter may also test membership with a subquery over other warehouse tables, e.g.
`customer_id IN (SELECT customer_id FROM customer_sources WHERE source = 'webshop')`.

Whatever a filter says, `build_segment` removes, for a segment with `requires_opt_in` (the
default: marketing), every suppressed customer and everyone whose `newsletter_opt_in` is not true;
for a service segment (`requires_opt_in: false`), every customer barred from all mail
(unsubscribed, bounced, complained, erased): missing consent bars marketing only.

Then `dedupe_by` keeps one row per inbox (`email`: the address lower-cased and trimmed) or per
postal address (`household`: postcode + house number + suffix, else street + number + city), so
nobody gets the same mail twice. The winner is the customer with newsletter consent, a valid
email and the newest evidence (`EVIDENCE_AT`), then the lowest customer id; the others are
counted (`excluded_counts()["deduplicated"]`). Customers without the key (no email, no address)
are kept as they are.
"""

from __future__ import annotations

import re
from datetime import date

import duckdb

from pipelines.config import ConfigError, ExportsConfig, Segment
from pipelines.warehouse import ensure_schema
from pipelines.warehouse.sandbox import outside_reach

# Fields an enrichment campaign asks for when they are empty (`missing_fields`).
PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "phone",
    "birth_date",
    "street",
    "house_number",
    "postcode",
    "city",
)

# The newest evidence that a customer's record is current (NULLs ignored): the one place it is
# defined.
EVIDENCE_AT = "greatest(updated_at, last_purchase_at, newsletter_opt_in_at)"
# Which of several customers sharing an inbox or address gets the row.
DEDUPE_WINNER = (
    f"newsletter_opt_in IS TRUE DESC, has_valid_email DESC, {EVIDENCE_AT} DESC NULLS LAST, "
    "customer_id"
)
_HOUSE_NUMBER = "lower(trim(house_number)) || coalesce(lower(trim(house_number_suffix)), '')"
# The value one row is kept per; NULL (no email / no usable address) is never merged.
DEDUPE_KEYS = {
    "email": "nullif(lower(trim(email)), '')",
    # Postcodes of NL (1234AB), BE (1234) and SE (12345) cannot collide, so no country is needed.
    "household": f"""CASE WHEN nullif(trim(house_number), '') IS NULL THEN NULL
        WHEN nullif(trim(postcode), '') IS NOT NULL
        THEN upper(replace(postcode, ' ', '')) || '|' || {_HOUSE_NUMBER}
        WHEN nullif(trim(street), '') IS NOT NULL AND nullif(trim(city), '') IS NOT NULL
        THEN lower(trim(street)) || '|' || {_HOUSE_NUMBER} || '|' || lower(trim(city)) END""",
}

PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def _is_leap(year: str) -> str:
    return f"(({year}) % 4 = 0 AND (({year}) % 100 <> 0 OR ({year}) % 400 = 0))"


def _birthday_in(year: str) -> str:
    """The birthday in `year`; 29 February falls on 28 February when `year` is not a leap year."""
    return (
        f"make_date({year}, month(c.birth_date), CASE WHEN month(c.birth_date) = 2 "
        "AND day(c.birth_date) = 29 "
        f"AND NOT {_is_leap(year)} THEN 28 ELSE day(c.birth_date) END)"
    )


def candidates_sql(today: date, kind: str = "VIEW") -> str:
    t = f"DATE '{today.isoformat()}'"
    y = f"year({t})"
    this_year, next_year = _birthday_in(y), _birthday_in(f"{y} + 1")
    missing = ", ".join(f"CASE WHEN c.\"{f}\" IS NULL THEN '{f}' END" for f in PROFILE_FIELDS)
    return f"""
CREATE OR REPLACE TEMP VIEW segment_suppressed AS
SELECT customer_id, array_to_string(list_sort(list_distinct(list(reason))), ',') AS reasons,
       bool_or(reason NOT IN ('no_consent', 'inactive')) AS bars_all_mail
FROM (
    SELECT c.customer_id, s.reason FROM customers c
    JOIN suppressions s ON s.customer_id = c.customer_id
    UNION ALL
    SELECT c.customer_id, s.reason FROM customers c
    JOIN suppressions s ON lower(trim(s.email)) = lower(trim(c.email))
    UNION ALL
    SELECT c.customer_id, s.reason FROM customers c JOIN suppressions s ON s.phone = c.phone
) matched
GROUP BY customer_id;

CREATE OR REPLACE TEMP {kind} segment_candidates AS
SELECT c.*,
       {t} AS today,
       coalesce(c.email IS NOT NULL AND c.email_status IN ('valid', 'corrected'), false)
           AS has_valid_email,
       sup.customer_id IS NOT NULL AS is_suppressed,
       coalesce(sup.bars_all_mail, false) AS is_barred,
       sup.reasons AS suppression_reasons,
       {y} - year(c.birth_date) - CASE WHEN {this_year} > {t} THEN 1 ELSE 0 END AS age,
       CASE WHEN {this_year} >= {t} THEN {this_year} ELSE {next_year} END AS next_birthday,
       date_diff('day', {t}, CASE WHEN {this_year} >= {t} THEN {this_year} ELSE {next_year} END)
           AS days_to_birthday,
       greatest(c.last_purchase_at, m.last_order_at) AS last_bought_at,
       date_diff('day', CAST(greatest(c.last_purchase_at, m.last_order_at) AS DATE), {t})
           AS days_since_last_purchase,
       date_sub('month', CAST(greatest(c.last_purchase_at, m.last_order_at) AS DATE), {t})
           AS months_since_last_purchase,
       nullif(concat_ws(',', {missing}), '') AS missing_fields,
       m.* EXCLUDE (customer_id, as_of, computed_at),
       coalesce(m.order_count, 0) > 0 AS has_orders,
       date_diff('day', CAST(m.last_order_at AS DATE), {t}) AS days_since_last_order,
       date_sub('month', CAST(m.last_order_at AS DATE), {t}) AS months_since_last_order
FROM customers c
LEFT JOIN segment_suppressed sup ON sup.customer_id = c.customer_id
LEFT JOIN customer_metrics m ON m.customer_id = c.customer_id
"""


def create_candidates_view(
    con: duckdb.DuckDBPyConnection, today: date, *, materialize: bool = False
) -> None:
    """`segment_candidates` for `today`: a view, which every query reading it evaluates again
    (joins with suppressions and metrics included), or with `materialize` a temp table built
    once, for several segments built on this connection from the same warehouse state."""
    kind = "TABLE" if materialize else "VIEW"
    (existing,) = con.execute(
        "SELECT any_value(table_type) FROM information_schema.tables "
        "WHERE table_catalog = 'temp' AND table_name = 'segment_candidates'"
    ).fetchone()
    if existing and (existing == "VIEW") != (kind == "VIEW"):  # a view cannot replace a table
        con.execute(f"DROP {'VIEW' if existing == 'VIEW' else 'TABLE'} segment_candidates")
    for statement in con.extract_statements(candidates_sql(today, kind)):
        con.execute(statement)


# Parameters the engine binds itself (a `params:` key of the same name wins).
BUILTIN_PARAMS = ("last_export_at",)


def builtin_params(con: duckdb.DuckDBPyConnection, name: str) -> dict:
    """`$last_export_at`: the segment's last successful export, else the first customers build
    (else the oldest customer), as naive UTC."""
    (at,) = con.execute(
        """SELECT coalesce(
               (SELECT max(exported_at) FROM export_log WHERE segment = ? AND status = 'ok'),
               (SELECT min(built_at) FROM customer_builds),
               (SELECT min(created_at) FROM customers),
               TIMESTAMP '1970-01-01')""",
        [name],
    ).fetchone()
    return {"last_export_at": at}


def used_params(name: str, segment: Segment, builtins: dict | None = None) -> dict:
    """The `$name` parameters the filter uses, from `params:` (else the built-ins); a missing one
    is a config error."""
    names = dict.fromkeys(PARAM.findall(segment.filter))
    known = {**(builtins or dict.fromkeys(BUILTIN_PARAMS)), **segment.params}
    missing = [n for n in names if n not in known]
    if missing:
        raise ConfigError(
            f"exports.yaml: segments.{name}.filter: uses ${', $'.join(missing)} "
            "but params: has no such key"
        )
    return {n: known[n] for n in names}


def selection_sql(segment: Segment, columns: list[str]) -> str:
    """The segment's rows with `columns`. Safety is applied in an inner query that the filter
    (checked to be one expression) cannot reach: rows only ever come from `allowed`."""
    cols = ", ".join(columns)
    key = DEDUPE_KEYS.get(segment.dedupe)
    dedupe = ""
    if key:
        winner = f"row_number() OVER (PARTITION BY {key} ORDER BY {DEDUPE_WINNER})"
        dedupe = f" QUALIFY {key} IS NULL OR {winner} = 1"
    return (
        f"SELECT {cols} FROM (SELECT * FROM segment_candidates "
        f"WHERE {safety_sql(segment)}) AS allowed "
        f"WHERE ({segment.filter}){dedupe} ORDER BY {segment.order_by}"
    )


def safety_sql(segment: Segment) -> str:
    if segment.requires_opt_in:  # marketing: any suppression (no consent included) and an opt-in
        return "NOT is_suppressed AND newsletter_opt_in IS TRUE"
    # service mail: unsubscribes, bounces, complaints, erasures; consent does not
    return "NOT is_barred"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def check_order_by(order_by: str) -> str | None:
    """Why `order_by` could reach outside its ORDER BY (comment, ';', unbalanced parentheses)."""
    depth, quote_char = 0, None
    for i, ch in enumerate(order_by):
        if quote_char:
            if ch == quote_char:
                quote_char = None
            continue
        if ch in "'\"":
            quote_char = ch
        elif ch == ";" or order_by.startswith(("--", "/*"), i):
            return "no ';' or comments"
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return "unbalanced parentheses"
    return "unbalanced parentheses or quotes" if depth or quote_char else None


def export_columns(segment: Segment) -> list[str]:
    """Quoted exported columns, plus `_customer_id` and the split value as `_part` ('' when not
    split, 'unknown' when the value is empty)."""
    return [quote(c) for c in segment.columns] + [
        "customer_id AS _customer_id",
        f"{part_sql(segment)} AS _part",
    ]


def part_sql(segment: Segment) -> str:
    """The split value of a row ('' when not split, 'unknown' when the value is empty)."""
    if segment.split_by:
        return f"coalesce(CAST({quote(segment.split_by)} AS VARCHAR), 'unknown')"
    return "''"


def validate_segment(
    con: duckdb.DuckDBPyConnection,
    name: str,
    segment: Segment,
    today: date,
    *,
    candidates_ready: bool = False,
) -> None:
    """Fail early, naming the segment, on a bad column, parameter or SQL syntax in exports.yaml.
    `candidates_ready`: `segment_candidates` for `today` exists on `con` already."""
    if not candidates_ready:
        create_candidates_view(con, today)
    params = used_params(name, segment)
    sql = selection_sql(segment, export_columns(segment))
    where = f"exports.yaml: segments.{name}"
    for key, text in (("filter", segment.filter), ("order_by", segment.order_by)):
        reason = outside_reach(text, as_=key)
        if reason:
            raise ConfigError(f"{where}.{key}: {reason}")
    try:
        duckdb.SQLExpression(segment.filter)
    except duckdb.Error as e:
        raise ConfigError(
            f"{where}.filter: not one SQL boolean expression: {str(e).splitlines()[0]}"
        ) from None
    problem = check_order_by(segment.order_by)
    if problem:
        raise ConfigError(f"{where}.order_by: {problem}")
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as e:
        raise ConfigError(f"{where}: {str(e).splitlines()[0]}") from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise ConfigError(
            f"{where}: filter and order_by must be expressions of one SELECT (no ';')"
        )
    try:
        con.execute(f"EXPLAIN {sql}", params)
    except duckdb.Error as e:
        raise ConfigError(f"{where}: {str(e).splitlines()[0]}") from None


def validate_segments(cfg: ExportsConfig, today: date) -> None:
    """Validate every segment against the warehouse schema in an empty in-memory database, so a
    bad filter fails when the config loads (code location, CLI) without opening the warehouse."""
    con = duckdb.connect()
    try:
        ensure_schema(con)
        for name, segment in cfg.segments.items():
            validate_segment(con, name, segment, today)
    finally:
        con.close()


def build_segment(
    con: duckdb.DuckDBPyConnection,
    name: str,
    segment: Segment,
    today: date,
    *,
    table: str = "segment_rows",
    candidates_ready: bool = False,
    extra_columns: tuple[str, ...] = (),
) -> int:
    """Materialize the segment into temp table `table`: the exported columns, `_customer_id`,
    `_part` and `_order` (the position by `order_by`).

    Suppressed customers, and for marketing segments customers without opt-in, are not in it
    whatever the filter says. Returns the row count. `candidates_ready`: read the
    `segment_candidates` already on `con` (`create_candidates_view`) instead of a new view.
    `extra_columns`: more select items over the candidate columns, computed in the same pass.
    """
    validate_segment(con, name, segment, today, candidates_ready=candidates_ready)
    sql = selection_sql(
        segment,
        export_columns(segment)
        + [f"row_number() OVER (ORDER BY {segment.order_by}) AS _order", *extra_columns],
    )
    params = used_params(name, segment, builtin_params(con, name))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql}", params)
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def excluded_counts(
    con: duckdb.DuckDBPyConnection, name: str, segment: Segment, rows: int | None = None
) -> dict[str, int]:
    """How many customers the filter matched but safety removed (suppressed, without opt-in), and
    how many allowed rows `dedupe_by` left out because another customer has the same inbox or
    address: the allowed rows the filter matched minus the `rows` the built segment holds
    (counted by distinct keys when `rows` is not given)."""
    key = DEDUPE_KEYS.get(segment.dedupe)
    safe = safety_sql(segment)
    kept = "0"  # what the QUALIFY of selection_sql keeps: rows without a key, one per distinct key
    if key and rows is None:
        kept = (
            f"count(*) FILTER (WHERE {safe} AND {key} IS NULL) "
            f"+ count(DISTINCT {key}) FILTER (WHERE {safe})"
        )
    suppressed, no_opt_in, allowed, kept = con.execute(
        f"""SELECT count(*)
                FILTER (WHERE {"is_suppressed" if segment.requires_opt_in else "is_barred"}),
                   count(*) FILTER (WHERE NOT is_suppressed AND newsletter_opt_in IS NOT TRUE),
                   count(*) FILTER (WHERE {safe}), {kept}
            FROM segment_candidates WHERE ({segment.filter})""",
        used_params(name, segment, builtin_params(con, name)),
    ).fetchone()
    deduplicated = 0 if not key else allowed - (rows if rows is not None else kept)
    return {
        "suppressed": suppressed,
        "without_opt_in": no_opt_in if segment.requires_opt_in else 0,
        "deduplicated": deduplicated,
    }
