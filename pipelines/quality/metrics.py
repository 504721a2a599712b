"""Quality figures in `quality_metrics`: computed in DuckDB SQL over whole tables, never row loops.

Three scopes, told apart by `load_id` and `source`:

- a load (load_id = the drop's file_id, source = its source), measured when the drop loads:
  volume and its change against the previous healthy load, schema drift, completeness (fill
  rate per mapped field), validity per validated field, exact duplicates inside the drop;
- a source after a load (same load_id and source, measured at the next warehouse snapshot):
  how the source's records sit in the matched warehouse: duplicates found by the matcher,
  disagreement with other sources, age of the newest drop;
- the warehouse (load_id `warehouse-<time>`, source NULL): contacts, customers, duplicate rates
  (exact, fuzzy = merged by the matcher, residual near-duplicates among customers), customer
  fill rate and validity, consistency across sources, age of the customers' last update (the
  newest `updated_at` any source gives for one of its records; sources without it do not count).

Rates are shares between 0 and 1; the terminal and HTML reports show them as percentages.
"""

from __future__ import annotations

import json
from datetime import datetime

import duckdb

from pipelines.fields import CANONICAL_FIELDS, VALIDATED_FIELDS

VALID = "('valid', 'corrected', 'inferred')"
# Statuses of a value the source did not provide (an inferred country came from other fields).
NOT_PROVIDED = "('missing', 'inferred')"
ADDRESS_PARTS = ("street", "house_number", "house_number_suffix")

# Fields whose exact equality makes two contacts "the same record" (exact duplicates).
IDENTITY_FIELDS = (
    "first_name",
    "infix",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "postcode",
    "house_number",
)

# Fields compared across the sources of one customer (consistency). `address` is
# postcode + house number + suffix.
CONSISTENCY_FIELDS = {
    "email": "email",
    "phone": "phone",
    "birth_date": "CAST(birth_date AS VARCHAR)",
    "address": "postcode || ' ' || house_number || coalesce(house_number_suffix, '')",
}

# Metrics that are shares (shown as percentages).
RATE_METRICS = {
    "fill_rate",
    "validity",
    "rejected_share",
    "duplicate_rate",
    "duplicate_rate_exact",
    "residual_duplicate_rate",
    "customer_fill_rate",
    "customer_validity",
    "inconsistency_rate",
    "source_duplicate_rate",
    "source_duplicate_rate_exact",
    "disagreement_rate",
    "customers_not_updated_365d",
    "rows_read_change",
    "unmatched_share",
    "returned_share",
}

Figure = tuple[str, str | None, float | None]  # metric, field, value

# Metrics of `record_file_metrics` (replaced together when a load is measured again).
FILE_METRICS = (
    "rows_read",
    "rows_loaded",
    "rows_rejected",
    "rejected_share",
    "rows_read_previous",
    "rows_read_change",
    "columns_missing",
    "columns_extra",
    "column_missing",
    "column_extra",
    "column_renamed",
)


def db_now(con: duckdb.DuckDBPyConnection) -> datetime:
    """The warehouse clock as stored in its TIMESTAMP columns (they are written with now())."""
    return con.execute("SELECT CAST(now() AS TIMESTAMP)").fetchone()[0]


def _insert(
    con: duckdb.DuckDBPyConnection, load_id: str, source: str | None, figures: list[Figure]
) -> None:
    if figures:
        con.executemany(
            "INSERT INTO quality_metrics (load_id, source, metric, field, value, measured_at) "
            "VALUES (?, ?, ?, ?, ?, CAST(now() AS TIMESTAMP))",
            [(load_id, source, m, f, None if v is None else float(v)) for m, f, v in figures],
        )


def _replace(
    con: duckdb.DuckDBPyConnection, load_id: str, source: str | None, figures: list[Figure]
) -> None:
    """Insert figures, replacing earlier values of the same metrics for this load."""
    metrics = sorted({m for m, _, _ in figures})
    if metrics:
        con.execute(
            "DELETE FROM quality_metrics WHERE load_id = ? "
            f"AND metric IN ({', '.join('?' * len(metrics))})",
            [load_id, *metrics],
        )
    _insert(con, load_id, source, figures)


def previous_load(con: duckdb.DuckDBPyConnection, load_id: str) -> str | None:
    """The baseline of a load: the latest earlier load of the same source that loaded and has no
    failed (unaccepted) ERROR check. Comparing against a healthy load means two broken drops in a
    row do not make each other look normal."""
    row = con.execute(
        """
        SELECT p.file_id FROM ingest_log t JOIN ingest_log p ON p.source = t.source
        WHERE t.file_id = ? AND p.file_id <> t.file_id AND p.status = 'loaded'
          AND (p.landed_at < t.landed_at OR (p.landed_at = t.landed_at AND p.file_id < t.file_id))
          AND NOT EXISTS (SELECT 1 FROM quality_checks q
                          WHERE q.load_id = p.file_id AND q.severity = 'ERROR'
                          AND NOT q.passed AND q.accepted_at IS NULL)
        ORDER BY p.landed_at DESC, p.file_id DESC LIMIT 1
        """,
        [load_id],
    ).fetchone()
    return row[0] if row else None


def figures_of(
    con: duckdb.DuckDBPyConnection, load_id: str
) -> dict[tuple[str, str | None], float | None]:
    return {
        (m, f): v
        for m, f, v in con.execute(
            "SELECT metric, field, value FROM quality_metrics WHERE load_id = ?", [load_id]
        ).fetchall()
    }


# ---------------------------------------------------------------------------------------------
# per load


def mapped_canonical_fields(fields: list[str]) -> list[str]:
    return [
        f
        for f in CANONICAL_FIELDS
        if f in fields or (f in ADDRESS_PARTS and "address_line" in fields)
    ]


def record_load_metrics(
    con: duckdb.DuckDBPyConnection,
    normalized: str,
    *,
    load_id: str,
    source: str,
    fields: list[str],
) -> list[Figure]:
    """Completeness, validity and exact duplicates of one drop, from its normalized rows (before
    the upsert), plus its volume and schema figures. Called inside the load's transaction.

    Fill rate counts a value the source provided (`<field>_status` not `missing`, nor
    `inferred` from other fields), valid or not, so completeness and validity stay separate
    figures: validity is the share valid or corrected among the values provided.
    """
    con.execute("DELETE FROM quality_metrics WHERE load_id = ?", [load_id])
    cols = {r[0] for r in con.execute(f"DESCRIBE {normalized}").fetchall()}
    canon = mapped_canonical_fields(fields)
    validated = [f for f in VALIDATED_FIELDS if f in canon and f"{f}_status" in cols]

    def filled(f: str) -> str:
        return f"{f}_status NOT IN {NOT_PROVIDED}" if f in validated else f'"{f}" IS NOT NULL'

    exprs = [f"avg(CASE WHEN {filled(f)} THEN 1.0 ELSE 0.0 END)" for f in canon]
    exprs += [
        f"CASE WHEN count(*) FILTER (WHERE {filled(f)}) = 0 THEN NULL ELSE "
        f"count(*) FILTER (WHERE {f}_status IN {VALID} "
        f"AND {filled(f)}) / count(*) FILTER (WHERE {filled(f)}) END"
        for f in validated
    ]
    row = con.execute(f"SELECT {', '.join(exprs)} FROM {normalized}").fetchone() if exprs else ()
    figures: list[Figure] = [("fill_rate", f, row[i]) for i, f in enumerate(canon)]
    figures += [("validity", f, row[len(canon) + i]) for i, f in enumerate(validated)]
    identity = [f for f in IDENTITY_FIELDS if f in cols]
    if identity:
        figures.append(
            ("duplicate_rate_exact", None, _exact_duplicate_rate(con, normalized, identity))
        )
    _insert(con, load_id, source, figures)
    return figures + record_file_metrics(con, load_id)


def record_drop_figures(
    con: duckdb.DuckDBPyConnection, *, load_id: str, source: str, figures: list[Figure]
) -> list[Figure]:
    """The figures a kind's loader measured (validity and fill rate per field, unmatched share,
    ...), plus the drop's volume and schema figures. Called inside the load's transaction."""
    con.execute("DELETE FROM quality_metrics WHERE load_id = ?", [load_id])
    _insert(con, load_id, source, figures)
    return figures + record_file_metrics(con, load_id)


def _exact_duplicate_rate(
    con: duckdb.DuckDBPyConnection, table: str, identity: list[str], where: str = "TRUE"
) -> float | None:
    """1 - distinct identities / records, over records with at least one identifying value."""
    key = ", ".join(f'"{f}"' for f in identity)
    any_value = " OR ".join(f'"{f}" IS NOT NULL' for f in identity)
    n, distinct = con.execute(
        f"""SELECT (SELECT count(*) FROM {table} WHERE ({where}) AND ({any_value})),
                   (SELECT count(*)
                    FROM (SELECT DISTINCT {key} FROM {table}
                          WHERE ({where}) AND ({any_value})) d)"""
    ).fetchone()
    return (1 - distinct / n) if n else None


def _json_list(text: str | None) -> list[str]:
    return list(json.loads(text)) if text else []


def renamed_columns(missing: list[str], extra: list[str]) -> list[tuple[str, str]]:
    """Pairs (missing mapped column, new column) that look like a rename: the same letters and
    digits ignoring case and punctuation, or a close spelling (rapidfuzz ratio >= 85)."""
    from rapidfuzz import fuzz

    def squash(s: str) -> str:
        return "".join(ch for ch in s.casefold() if ch.isalnum())

    pairs, used = [], set()
    for m in missing:
        best, score = None, 0.0
        for e in extra:
            if e in used:
                continue
            s = 100.0 if squash(m) == squash(e) else fuzz.ratio(squash(m), squash(e))
            if s > score:
                best, score = e, s
        if best is not None and score >= 85:
            pairs.append((m, best))
            used.add(best)
    return pairs


def record_file_metrics(con: duckdb.DuckDBPyConnection, load_id: str) -> list[Figure]:
    """Volume (rows read, loaded, rejected; change against the baseline load) and schema drift
    (mapped columns missing, unmapped columns, likely renames) of any drop, from `ingest_log`."""
    row = con.execute(
        "SELECT source, rows_read, rows_loaded, rows_rejected, columns_missing, "
        "columns_extra FROM ingest_log WHERE file_id = ?",
        [load_id],
    ).fetchone()
    if row is None:
        return []
    source, read, loaded, rejected, missing_json, extra_json = row
    read, loaded, rejected = read or 0, loaded or 0, rejected or 0
    figures: list[Figure] = [
        ("rows_read", None, read),
        ("rows_loaded", None, loaded),
        ("rows_rejected", None, rejected),
        ("rejected_share", None, (rejected / read) if read else 0.0),
    ]
    base = previous_load(con, load_id)
    if base is not None:
        prev = (
            con.execute("SELECT rows_read FROM ingest_log WHERE file_id = ?", [base]).fetchone()[0]
            or 0
        )
        figures.append(("rows_read_previous", None, prev))
        figures.append(("rows_read_change", None, (read - prev) / prev if prev else None))
    missing, extra = _json_list(missing_json), _json_list(extra_json)
    renamed = renamed_columns(missing, extra)
    figures += [("columns_missing", None, len(missing)), ("columns_extra", None, len(extra))]
    figures += [("column_missing", c, 1) for c in missing]
    figures += [("column_extra", c, 1) for c in extra]
    figures += [("column_renamed", f"{a} -> {b}", 1) for a, b in renamed]
    con.execute(
        "DELETE FROM quality_metrics WHERE load_id = ? "
        f"AND metric IN ({', '.join('?' * len(FILE_METRICS))})",
        [load_id, *FILE_METRICS],
    )
    _insert(con, load_id, source, figures)
    return figures


# ---------------------------------------------------------------------------------------------
# warehouse snapshot and per source


def _warehouse_figures(con: duckdb.DuckDBPyConnection, now: datetime) -> list[Figure]:
    contacts, customers, multi = con.execute(
        """SELECT (SELECT count(*) FROM contacts), (SELECT count(*) FROM customers),
                  (SELECT count(*)
                   FROM (SELECT customer_id FROM customer_sources
                         GROUP BY customer_id HAVING count(*) > 1) m)"""
    ).fetchone()
    figures: list[Figure] = [
        ("contacts", None, contacts),
        ("customers", None, customers),
        ("multi_source_customers", None, multi),
        (
            "duplicate_rate",
            None,
            (1 - customers / contacts) if contacts and customers else (0.0 if contacts else None),
        ),
        ("contacts_per_customer", None, (contacts / customers) if customers else None),
        (
            "duplicate_rate_exact",
            None,
            _exact_duplicate_rate(con, "contacts", list(IDENTITY_FIELDS)),
        ),
    ]
    if not customers:
        return figures
    fields = [f for f in CANONICAL_FIELDS if f != "source_record_id"]
    row = con.execute(
        "SELECT "
        + ", ".join(f'avg(CASE WHEN "{f}" IS NOT NULL THEN 1.0 ELSE 0.0 END)' for f in fields)
        + " FROM customers"
    ).fetchone()
    figures += [("customer_fill_rate", f, v) for f, v in zip(fields, row)]
    status_fields = [f for f in ("email", "phone", "postcode", "birth_date")]
    row = con.execute(
        "SELECT "
        + ", ".join(
            f"count(*) FILTER (WHERE {f}_status IN {VALID}) / nullif(count(*) FILTER (WHERE "
            f"{f}_status IS NOT NULL "
            f"AND {f}_status <> 'missing'), 0)"
            for f in status_fields
        )
        + " FROM customers"
    ).fetchone()
    figures += [("customer_validity", f, v) for f, v in zip(status_fields, row)]
    figures.append(("residual_duplicate_rate", None, residual_duplicate_rate(con, customers)))
    figures += consistency_figures(con)
    p50, p90, stale, known = con.execute(
        """SELECT quantile_cont(age, 0.5), quantile_cont(age, 0.9),
                  count(*) FILTER (WHERE age > 365), count(age)
           FROM (SELECT date_diff('day', max(c.updated_at), CAST(? AS TIMESTAMP)) AS age
                 FROM customer_sources cs JOIN contacts c USING (source, source_record_id)
                 GROUP BY cs.customer_id) a""",
        [now],
    ).fetchone()
    figures += [
        ("customer_update_age_days", "p50", p50),
        ("customer_update_age_days", "p90", p90),
        ("customers_not_updated_365d", None, (stale / known) if known else None),
        ("customers_update_known", None, known),
    ]
    return figures


def residual_duplicate_rate(con: duckdb.DuckDBPyConnection, customers: int) -> float | None:
    """Share of golden customers that still look like another customer: the same email or phone,
    or the same address with a near-identical name (Jaro-Winkler >= 0.92). What the matcher
    left."""
    if not customers:
        return None
    n = con.execute(
        """
        WITH c AS (
            SELECT customer_id, email, phone, postcode, house_number, country,
                   lower(concat_ws(' ', first_name, last_name)) AS name FROM customers
        ),
        pairs AS (
            SELECT a.customer_id AS x, b.customer_id AS y FROM c a
            JOIN c b ON a.email = b.email AND a.customer_id < b.customer_id
            UNION
            SELECT a.customer_id, b.customer_id FROM c a
            JOIN c b ON a.phone = b.phone AND a.customer_id < b.customer_id
            UNION
            SELECT a.customer_id, b.customer_id FROM c a JOIN c b
              ON a.postcode = b.postcode AND a.house_number = b.house_number
                 AND a.country IS NOT DISTINCT FROM b.country
             AND a.customer_id < b.customer_id
            WHERE a.name <> '' AND jaro_winkler_similarity(a.name, b.name) >= 0.92
        )
        SELECT count(*) FROM (SELECT x AS id FROM pairs UNION SELECT y FROM pairs) ids
        """
    ).fetchone()[0]
    return n / customers


def value_ranges(con: duckdb.DuckDBPyConnection) -> None:
    """Temp tables `_qm_ranges(customer_id, source, <field>_min, <field>_max)`, per customer with
    two or more source records and per source the least and greatest value of each compared
    field, and `_qm_customers(customer_id, <field>_n, <field>_lo, <field>_hi)`, per such customer
    how many sources give a value and the least and greatest of all. Only such customers can
    have sources that disagree (most customers have one record). A source disagrees with the
    others for a customer exactly when another source gives a value too and the customer's
    values are not all one value, so consistency and disagreement need no distinct counts and
    no join of records with records."""
    ranges = ", ".join(
        f"min({expr}) AS {name}_min, max({expr}) AS {name}_max"
        for name, expr in CONSISTENCY_FIELDS.items()
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _qm_ranges AS
        SELECT cs.customer_id, c.source, {ranges}
        FROM contacts c JOIN customer_sources cs USING (source, source_record_id)
        WHERE cs.customer_id IN (SELECT customer_id FROM customer_sources
                                 GROUP BY customer_id HAVING count(*) > 1)
        GROUP BY cs.customer_id, c.source
        """
    )
    overall = ", ".join(
        f"count({f}_min) AS {f}_n, min({f}_min) AS {f}_lo, max({f}_max) AS {f}_hi"
        for f in CONSISTENCY_FIELDS
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _qm_customers AS
            SELECT customer_id, {overall} FROM _qm_ranges GROUP BY customer_id"""
    )


def consistency_figures(con: duckdb.DuckDBPyConnection) -> list[Figure]:
    """Per field: customers whose sources disagree, i.e. two or more sources give a value and the
    values differ (count, and share of the customers with values from two or more sources).
    Reads `_qm_customers` (`value_ranges`)."""
    figures: list[Figure] = []
    parts = ", ".join(
        f"count(*) FILTER (WHERE {f}_n >= 2), "
        f"count(*) FILTER (WHERE {f}_n >= 2 AND {f}_lo <> {f}_hi)"
        for f in CONSISTENCY_FIELDS
    )
    row = con.execute(f"SELECT {parts} FROM _qm_customers").fetchone()
    for i, f in enumerate(CONSISTENCY_FIELDS):
        comparable, inconsistent = (
            row[2 * i],
            row[2 * i + 1],
        )  # inconsistent counts only comparable customers
        figures.append(("inconsistent_customers", f, inconsistent))
        figures.append(
            ("inconsistency_rate", f, (inconsistent / comparable) if comparable else None)
        )
    return figures


def _source_figures(con: duckdb.DuckDBPyConnection, now: datetime) -> dict[str, list[Figure]]:
    out: dict[str, list[Figure]] = {}
    rows = con.execute(
        """SELECT c.source, count(*), count(DISTINCT cs.customer_id)
           FROM contacts c LEFT JOIN customer_sources cs USING (source, source_record_id)
           GROUP BY c.source"""
    ).fetchall()
    for source, n, distinct_customers in rows:
        out[source] = [
            ("source_contacts", None, n),
            (
                "source_duplicate_rate",
                None,
                (1 - distinct_customers / n) if n and distinct_customers else None,
            ),
            (
                "source_duplicate_rate_exact",
                None,
                _exact_duplicate_rate(
                    con,
                    "contacts",
                    list(IDENTITY_FIELDS),
                    where=f"source = '{source.replace(chr(39), chr(39) * 2)}'",
                ),
            ),
        ]
    # Disagreement: a source's value differs from another source's value for the same customer,
    # among the customers where both give a value (`value_ranges`).
    counts = ", ".join(
        f"count(*) FILTER (WHERE r.{f}_min IS NOT NULL AND c.{f}_n >= 2), "
        f"count(*) FILTER (WHERE r.{f}_min IS NOT NULL AND c.{f}_n >= 2 AND c.{f}_lo <> c.{f}_hi)"
        for f in CONSISTENCY_FIELDS
    )
    for source, *row in con.execute(
        f"""SELECT r.source, {counts}
            FROM _qm_ranges r JOIN _qm_customers c ON c.customer_id = r.customer_id
            GROUP BY r.source"""
    ).fetchall():
        for i, f in enumerate(CONSISTENCY_FIELDS):
            compared, differ = row[2 * i], row[2 * i + 1]
            if compared:
                out.setdefault(source, []).append(("disagreement_rate", f, differ / compared))
    # Orders and engagement: the share of a source's lines the match attaches to no customer
    # (measured here, after the customers and their metrics were rebuilt, not at load time when
    # a new customer's first order may precede their first contact record).
    for source, lines, unmatched in con.execute(
        """SELECT source, count(*), count(*) FILTER (WHERE customer_id IS NULL) FROM (
               SELECT source, customer_id FROM orders
               UNION ALL SELECT source, customer_id FROM engagement_events
           ) GROUP BY source"""
    ).fetchall():
        out.setdefault(source, []).append(("unmatched_share", None, unmatched / lines))
    for source, newest in con.execute(
        "SELECT source, max(landed_at) FROM ingest_log WHERE status = 'loaded' GROUP BY source"
    ).fetchall():
        out.setdefault(source, []).append(
            ("newest_drop_age_hours", None, (now - newest).total_seconds() / 3600)
        )
    return out


def latest_loads(
    con: duckdb.DuckDBPyConnection, statuses: tuple[str, ...] = ("loaded",)
) -> dict[str, str]:
    """source -> file_id of its latest load with one of `statuses`."""
    marks = ", ".join("?" * len(statuses))
    return dict(
        con.execute(
            f"""SELECT source, file_id FROM ingest_log WHERE status IN ({marks})
            QUALIFY row_number()
                OVER (PARTITION BY source ORDER BY landed_at DESC, file_id DESC) = 1""",
            list(statuses),
        ).fetchall()
    )


def record_warehouse_metrics(
    con: duckdb.DuckDBPyConnection, *, load_id: str, now: datetime | None = None
) -> list[Figure]:
    """The warehouse snapshot (source NULL) and, per source, figures attached to its latest
    load."""
    now = now or db_now(con)
    value_ranges(con)
    figures = _warehouse_figures(con, now)
    _insert(con, load_id, None, figures)
    latest = latest_loads(con)
    for source, source_figures in _source_figures(con, now).items():
        if source in latest:
            _replace(con, latest[source], source, source_figures)
    con.execute("DROP TABLE _qm_ranges")
    con.execute("DROP TABLE _qm_customers")
    return figures


# ---------------------------------------------------------------------------------------------
# display


def format_value(metric: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if metric in RATE_METRICS:
        return f"{100 * value:+.1f}%" if metric == "rows_read_change" else f"{100 * value:.1f}%"
    if metric.endswith("_hours") or metric.endswith("_days") or metric == "contacts_per_customer":
        return f"{value:,.1f}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.3f}"


def _points(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return ""
    return f"{100 * (now - before):+.1f}"


def markdown_table(figures: list[tuple], title: str = "", previous: dict | None = None) -> str:
    """The figures as markdown for Dagster metadata: one table of fields (fill rate, validity and,
    with `previous` figures of the baseline load, their change in points), one of the rest."""
    lines = [f"**{title}**", ""] if title else []
    by_key = {(m, f): v for m, f, v in figures}
    fields = [
        f for f in dict.fromkeys(f for m, f, _ in figures if m in ("fill_rate", "validity") and f)
    ]
    if fields:
        head = "| field | filled | valid |"
        rule = "|---|---:|---:|"
        if previous is not None:
            head += " filled Δ pts | valid Δ pts |"
            rule += "---:|---:|"
        lines += [head, rule]
        for f in fields:
            fill, valid = by_key.get(("fill_rate", f)), by_key.get(("validity", f))
            line = (
                f"| {f} | {format_value('fill_rate', fill)} | "
                f"{format_value('validity', valid) if ('validity', f) in by_key else ''} |"
            )
            if previous is not None:
                line += (
                    f" {_points(fill, previous.get(('fill_rate', f)))} | "
                    f"{_points(valid, previous.get(('validity', f)))} |"
                )
            lines.append(line)
        lines.append("")
    rest = [(m, f, v) for m, f, v in figures if m not in ("fill_rate", "validity")]
    if rest:
        lines += ["| metric | field | value |", "|---|---|---:|"]
        lines += [f"| {m} | {f or ''} | {format_value(m, v)} |" for m, f, v in rest]
    return "\n".join(lines)
