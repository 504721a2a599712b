"""Consent per customer: the newsletter opt-in state, when it was given and by which source.

Statements come from two places:
- contact sources: the record's `newsletter_opt_in`, recorded in `consent_events` each time a
  record's statement changes. Its time is `newsletter_opt_in_at` for an opt-in that carries one
  (a *dated* opt-in, e.g. the webshop's confirmation time), else the record's `updated_at`, else
  the export time of the file it came in;
- the email platform: `unsubscribe` and `complaint` events (opt-out) and `resubscribe` (opt-in),
  matched on the customer's normalized email or phone.

The latest statement wins; at equal times an opt-out wins. Double opt-in: when a source maps a
`double_opt_in` field, its opt-in counts only once that field is true (`opt_in_unconfirmed`
otherwise). The result is `consent`, one row per customer with a statement; a customer without a
row has never consented.
"""

from __future__ import annotations

import duckdb

from pipelines.config import SourcesConfig
from pipelines.warehouse import delete_customers, only_customers, sql_literal


def double_opt_in_sources(config: SourcesConfig) -> list[str]:
    return sorted(
        n
        for n, s in config.sources.items()
        if s.kind == "contacts" and "double_opt_in" in s.columns
    )


def _in_list(names: list[str]) -> str:
    return "(" + ", ".join(sql_literal(n) for n in names) + ")" if names else "(NULL)"


def record_consent_events(
    con: duckdb.DuckDBPyConnection, config: SourcesConfig, *, loaded_after=None
) -> int:
    """Append a `consent_events` row for every contact whose opt-in statement differs from the
    last one recorded for that source record. Returns how many were recorded. With
    `loaded_after`, only contacts loaded after that time are compared (a statement changes only
    when its record is loaded again)."""
    required = _in_list(double_opt_in_sources(config))
    recent = "" if loaded_after is None else "AND c.loaded_at > $loaded_after"
    # Only the records compared need their last statement.
    compared = (
        ""
        if loaded_after is None
        else """e SEMI JOIN current_statement s
                    ON s.source = e.source AND s.source_record_id = e.source_record_id"""
    )
    return con.execute(
        f"""
        INSERT INTO consent_events (source, source_record_id, opt_in, double_opt_in,
                                    double_opt_in_required, dated, "at", file_id, recorded_at)
        WITH current_statement AS (
            SELECT c.source, c.source_record_id, c.newsletter_opt_in AS opt_in, c.double_opt_in,
                   c.source IN {required} AS double_opt_in_required,
                   c.newsletter_opt_in AND c.newsletter_opt_in_at IS NOT NULL AS dated,
                   CASE WHEN c.newsletter_opt_in AND c.newsletter_opt_in_at IS NOT NULL
                        THEN c.newsletter_opt_in_at
                        ELSE coalesce(c.updated_at, l.remote_mtime, l.landed_at, c.loaded_at)
                   END AS "at",
                   c.file_id
            FROM contacts c LEFT JOIN ingest_log l ON l.file_id = c.file_id
            WHERE c.newsletter_opt_in IS NOT NULL {recent}
        ), last_recorded AS (
            SELECT * FROM consent_events {compared}
            QUALIFY row_number()
                OVER (PARTITION BY source, source_record_id
                      ORDER BY recorded_at DESC, "at" DESC) = 1
        )
        SELECT s.source, s.source_record_id, s.opt_in, s.double_opt_in, s.double_opt_in_required,
               s.dated, coalesce(s."at", TIMESTAMP '1970-01-01'), s.file_id, now()
        FROM current_statement s
        LEFT JOIN last_recorded r ON r.source = s.source
                                     AND r.source_record_id = s.source_record_id
        WHERE r.source IS NULL
           OR r.opt_in IS DISTINCT FROM s.opt_in
           OR r.double_opt_in IS DISTINCT FROM s.double_opt_in
           OR (s.dated AND r."at" IS DISTINCT FROM s."at")
        """,
        {} if loaded_after is None else {"loaded_after": loaded_after},
    ).fetchone()[0]


def statements_sql(touched: str | None = None) -> str:
    """Every statement per customer; with `touched` (a table of customer_id), only theirs."""
    records = f"(SELECT cs.* FROM customer_sources cs {only_customers(touched, 'cs')})"
    customers = f"(SELECT c.* FROM customers c {only_customers(touched, 'c')})"

    return f"""
SELECT cs.customer_id, e."at", e.source,
       e.opt_in AND (NOT coalesce(e.double_opt_in_required, false)
                         OR coalesce(e.double_opt_in, false)) AS granted,
       CASE WHEN NOT e.opt_in THEN 'opt_out'
            WHEN coalesce(e.double_opt_in_required, false)
                 AND NOT coalesce(e.double_opt_in, false) THEN 'opt_in_unconfirmed'
            ELSE 'opt_in' END AS event,
       e.double_opt_in
FROM consent_events e
JOIN {records} cs
  ON cs.source = e.source AND cs.source_record_id = e.source_record_id
UNION ALL
SELECT c.customer_id, s."at", s.source, s.event = 'resubscribe', s.event, NULL
FROM suppression_events s JOIN {customers} c ON c.email = s.email
WHERE s.event IN ('unsubscribe', 'complaint', 'resubscribe')
UNION ALL
SELECT c.customer_id, s."at", s.source, s.event = 'resubscribe', s.event, NULL
FROM suppression_events s JOIN {customers} c ON c.phone = s.phone
WHERE s.event IN ('unsubscribe', 'complaint', 'resubscribe')
"""


def build_consent(con: duckdb.DuckDBPyConnection, touched: str | None = None) -> int:
    """Rebuild `consent`: per customer the latest statement (an opt-out wins a tie). With
    `touched` (a table of customer_id), only those customers' rows are replaced."""
    delete_customers(con, "consent", touched)
    return con.execute(
        f"""
        INSERT INTO consent (customer_id, newsletter_opt_in, "at", source, event, double_opt_in)
        SELECT customer_id, granted, "at", source, event, double_opt_in
        FROM ({statements_sql(touched)}) statements
        QUALIFY row_number()
            OVER (PARTITION BY customer_id ORDER BY "at" DESC, granted ASC, source, event) = 1
        """
    ).fetchone()[0]
