"""Survivorship: which source record's value a golden customer shows, per group of fields.

Fields that belong together come from one record (a name, an address), so a customer never
shows the street of one record with the postcode of another. Per group, a record with a value
beats one without; then the configured rules decide in order (default: `status` — valid beats
corrected beats invalid —, then `source_priority` — lower number wins —, then `recency` — the
most recently updated record). The newsletter opt-in is the latest statement (its own time,
else the record's), the last purchase the latest date.
"""

from __future__ import annotations

import duckdb

from pipelines.match.settings import MatchSettings

_STATUS_RANK = "CASE {s} WHEN 'valid' THEN 0 WHEN 'corrected' THEN 1 WHEN 'invalid' THEN 2 ELSE 3 END"

# group -> (fields taken together, "has a value" test, status rank expression)
GROUPS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "name": (
        ("first_name", "infix", "last_name"),
        "(first_name IS NOT NULL OR last_name IS NOT NULL)",
        f"{_STATUS_RANK.format(s='first_name_status')} + {_STATUS_RANK.format(s='last_name_status')}"
        " + CASE WHEN first_name_is_initials THEN 1 ELSE 0 END",
    ),
    "email": (("email", "email_status"), "email IS NOT NULL", _STATUS_RANK.format(s="email_status")),
    "phone": (("phone", "phone_status"), "phone IS NOT NULL", _STATUS_RANK.format(s="phone_status")),
    "address": (
        ("street", "house_number", "house_number_suffix", "postcode", "city", "country", "postcode_status"),
        "(postcode IS NOT NULL OR street IS NOT NULL)",
        f"{_STATUS_RANK.format(s='postcode_status')} + {_STATUS_RANK.format(s='street_status')}"
        f" + {_STATUS_RANK.format(s='house_number_status')}",
    ),
    "birth_date": (("birth_date", "birth_date_status"), "birth_date IS NOT NULL",
                   _STATUS_RANK.format(s="birth_date_status")),
}

GOLDEN_COLUMNS: tuple[str, ...] = (
    "customer_id", "first_name", "infix", "last_name", "email", "phone", "street", "house_number",
    "house_number_suffix", "postcode", "city", "country", "birth_date", "newsletter_opt_in", "last_purchase_at",
    "email_status", "phone_status", "postcode_status", "birth_date_status", "newsletter_opt_in_at",
    "newsletter_opt_in_source", "double_opt_in", "source_count", "sources",
)


def _order_by(rules: list[str]) -> str:
    terms = {
        "status": "status_rank",
        "source_priority": "priority",
        "recency": "recency DESC",
    }
    return ", ".join([terms[r] for r in rules] + ["priority", "recency DESC", "source", "source_record_id"])


# The contact columns survivorship reads (copying whole contact rows would cost more than the picks).
_MEMBER_COLUMNS = sorted({f for fields, _, _ in GROUPS.values() for f in fields} | {
    "source", "source_record_id", "first_name_status", "last_name_status", "first_name_is_initials", "street_status",
    "house_number_status", "newsletter_opt_in", "newsletter_opt_in_at", "double_opt_in", "last_purchase_at",
    "updated_at", "loaded_at",
})


def build_golden(con: duckdb.DuckDBPyConnection, members: str, settings: MatchSettings,
                 source_priority: dict[str, int]) -> None:
    """Create `_m_golden` (GOLDEN_COLUMNS) for the customers in `members(customer_id, source, source_record_id)`."""
    con.execute("CREATE OR REPLACE TEMP TABLE _m_priority (source VARCHAR, priority INTEGER)")
    if source_priority:
        con.executemany("INSERT INTO _m_priority VALUES (?, ?)", list(source_priority.items()))
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _m_member_rows AS
        SELECT m.customer_id, {', '.join(f'c.{col}' for col in _MEMBER_COLUMNS)}, coalesce(p.priority, 100) AS priority,
               coalesce(c.updated_at, c.loaded_at) AS recency
        FROM {members} m
        JOIN contacts c ON c.source = m.source AND c.source_record_id = m.source_record_id
        LEFT JOIN _m_priority p ON p.source = c.source
        """
    )
    picks = []
    for group, (fields, present, status_rank) in GROUPS.items():
        order = _order_by(settings.survivorship.rules_for(group))
        cols = ", ".join(fields)
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _m_pick_{group} AS
            SELECT customer_id, {cols} FROM (
                SELECT customer_id, {cols}, row_number() OVER (
                    PARTITION BY customer_id ORDER BY CASE WHEN {present} THEN 0 ELSE 1 END, {order}) AS rn
                FROM (SELECT *, {status_rank} AS status_rank FROM _m_member_rows) r
            ) s WHERE rn = 1
            """
        )
        picks.append(group)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _m_pick_optin AS
        SELECT customer_id, newsletter_opt_in, newsletter_opt_in_at, newsletter_opt_in_source, double_opt_in FROM (
            SELECT customer_id, newsletter_opt_in, newsletter_opt_in_at, double_opt_in,
                   source AS newsletter_opt_in_source,
                   row_number() OVER (PARTITION BY customer_id ORDER BY
                       CASE WHEN newsletter_opt_in IS NOT NULL THEN 0 ELSE 1 END,
                       coalesce(newsletter_opt_in_at, updated_at, loaded_at) DESC NULLS LAST,
                       priority, source, source_record_id) AS rn
            FROM _m_member_rows
        ) s WHERE rn = 1
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _m_pick_totals AS
        SELECT customer_id, max(last_purchase_at) AS last_purchase_at, CAST(count(*) AS INTEGER) AS source_count,
               string_agg(DISTINCT source, ',' ORDER BY source) AS sources
        FROM _m_member_rows GROUP BY customer_id
        """
    )
    joins = " ".join(f"JOIN _m_pick_{g} USING (customer_id)" for g in picks + ["optin"])
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _m_golden AS
        SELECT {', '.join(GOLDEN_COLUMNS)}
        FROM _m_pick_totals {joins}
        """
    )
    for g in picks + ["optin", "totals"]:
        con.execute(f"DROP TABLE _m_pick_{g}")
    con.execute("DROP TABLE _m_member_rows; DROP TABLE _m_priority")
