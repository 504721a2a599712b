"""Turn events, consent and tombstones into `suppressions`, the one table exports obey.

`refresh_suppressions` rebuilds `suppressions` from scratch in one transaction (so it is always
exactly what the events say, and a re-run changes nothing):

- `unsubscribe` (row per address): an unsubscribe event
- `complaint` (row per address): a spam complaint
- `hard_bounce` (row per address): `hard_bounces_to_suppress` hard bounces (default 1)
- `soft_bounce` (row per address): `soft_bounces_to_suppress` soft bounces within
  `soft_bounce_window_days` (default 3 in 30)
- `no_consent` (row per customer): the customer's consent state (consent.py) is not a granted
  opt-in, or there is none
- `erasure` (row per customer): the customer's email or phone matches a tombstone (an erased
  person came back)
- `inactive` (row per customer): `suppress_inactive_after_days` after the sunset condition was
  met (customer_metrics `inactive_since`); lifted by a later open, click or order

An address row has the normalized `email` (or E.164 `phone`) and, where a customer has that
address, their `customer_id` (one row per such customer; `customer_id` NULL when none has it).
A bounce reaches the customer whose golden address it is; an unsubscribe or a complaint also
every customer one of whose source records gives the address: it is the person's wish, and the
golden record may show another address (survivorship never picks a complained address).
An unsubscribe or complaint with both email and phone suppresses both; a bounce only the address
that bounced (the email, or the phone when the event has no email).

Resubscribe: events of an address before its latest *reset* no longer count. A reset is a
`resubscribe` event, or a dated opt-in from a contact source (with `newsletter_opt_in_at`, and
confirmed where the source has double opt-in) for a contact with that address. An undated opt-in
flag (a CRM column "Nieuwsbrief = ja" that nobody updated) never lifts an unsubscribe. Events at
the same moment as the reset still count (the safe side).

The same event delivered in several files (overlapping exports) counts once: events are
distinct on (address, event, time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from pipelines.config import SourcesConfig, SuppressionRules
from pipelines.privacy.consent import build_consent, record_consent_events
from pipelines.privacy.tombstones import tombstoned_customers, unmatchable_tombstones
from pipelines.warehouse import transaction

REASONS = (
    "unsubscribe",
    "complaint",
    "hard_bounce",
    "soft_bounce",
    "no_consent",
    "erasure",
    "inactive",
)


@dataclass
class SuppressionSummary:
    by_reason: dict[str, int] = field(default_factory=dict)  # rows per reason
    customers_suppressed: int = 0  # distinct customers with at least one row
    customers: int = 0
    consent_events_recorded: int = 0
    customers_with_consent: int = 0  # whose consent state is a granted opt-in
    unmatchable_tombstones: int = 0

    def metadata(self) -> dict[str, int]:
        return {
            "customers": self.customers,
            "customers_suppressed": self.customers_suppressed,
            "customers_with_consent": self.customers_with_consent,
            "consent_events_recorded": self.consent_events_recorded,
            "unmatchable_tombstones": self.unmatchable_tombstones,
            **{f"rows_{r}": self.by_reason.get(r, 0) for r in REASONS},
        }


def address_events(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table `_address_events(kind, address, event, at, source)`: each event once per
    address."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _address_events AS
        SELECT kind, address, event, "at", min(source) AS source FROM (
            SELECT 'email' AS kind, email AS address, event, "at", source FROM suppression_events
            WHERE email IS NOT NULL
            UNION ALL
            SELECT 'phone', phone, event, "at", source FROM suppression_events
            WHERE phone IS NOT NULL
                  AND (email IS NULL OR event NOT IN ('hard_bounce', 'soft_bounce'))
        ) e
        GROUP BY kind, address, event, "at"
        """
    )


def address_suppressions(con: duckdb.DuckDBPyConnection, rules: SuppressionRules) -> None:
    """Temp table `_address_suppressions(kind, address, reason, source, at, detail)`."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _resets AS
        SELECT kind, address, max("at") AS reset_at FROM (
            SELECT kind, address, "at" FROM _address_events WHERE event = 'resubscribe'
            UNION ALL
            SELECT 'email', c.email, e."at"
            FROM consent_events e
            JOIN contacts c ON c.source = e.source AND c.source_record_id = e.source_record_id
            WHERE e.opt_in AND e.dated
                  AND (NOT coalesce(e.double_opt_in_required, false)
                           OR coalesce(e.double_opt_in, false))
              AND c.email IS NOT NULL
            UNION ALL
            SELECT 'phone', c.phone, e."at"
            FROM consent_events e
            JOIN contacts c ON c.source = e.source AND c.source_record_id = e.source_record_id
            WHERE e.opt_in AND e.dated
                  AND (NOT coalesce(e.double_opt_in_required, false)
                           OR coalesce(e.double_opt_in, false))
              AND c.phone IS NOT NULL
        ) r
        GROUP BY kind, address
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _active_events AS
        SELECT e.* FROM _address_events e
        LEFT JOIN _resets r ON r.kind = e.kind AND r.address = e.address
        WHERE e.event <> 'resubscribe' AND (r.reset_at IS NULL OR e."at" >= r.reset_at)
        """
    )
    hard, soft, window = (
        rules.hard_bounces_to_suppress,
        rules.soft_bounces_to_suppress,
        rules.soft_bounce_window_days,
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _address_suppressions AS
        SELECT kind, address, event AS reason, arg_max(source, "at") AS source, max("at") AS "at",
               CASE WHEN count(*) > 1
                    THEN count(*) || ' ' || replace(event, '_', ' ') || ' events' END AS detail
        FROM _active_events WHERE event IN ('unsubscribe', 'complaint')
        GROUP BY kind, address, event
        UNION ALL
        SELECT kind, address, 'hard_bounce', source, "at",
               n || ' hard bounce(s); the rule is {hard}'
        FROM (
            SELECT kind, address, source, "at",
                   row_number() OVER (PARTITION BY kind, address ORDER BY "at") AS nth,
                   count(*) OVER (PARTITION BY kind, address) AS n
            FROM _active_events WHERE event = 'hard_bounce'
        ) h
        WHERE nth = {hard}
        UNION ALL
        SELECT kind, address, 'soft_bounce', arg_min(source, "at"), min("at"),
               '{soft} soft bounces within {window} days'
        FROM (
            SELECT kind, address, source, "at",
                   count(*) OVER (PARTITION BY kind, address ORDER BY "at"
                                  RANGE BETWEEN INTERVAL {window} DAYS PRECEDING AND CURRENT ROW)
                                      AS in_window
            FROM _active_events WHERE event = 'soft_bounce'
        ) s
        WHERE in_window >= {soft}
        GROUP BY kind, address
        """
    )


# What the person said (not what an address did): these follow the person to every address any
# of their records gives, so a golden record that switches to another address cannot get around
# an unsubscribe or a spam complaint. Bounces stay with the address that bounced.
PERSON_REASONS = "('unsubscribe', 'complaint')"


def customer_addresses(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table `_customer_addresses(kind, address, customer_id, golden)`: each customer's golden
    email and phone (golden) and every other email and phone their source records give."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _customer_addresses AS
        SELECT kind, address, customer_id, bool_or(golden) AS golden FROM (
            SELECT 'email' AS kind, email AS address, customer_id, true AS golden
            FROM customers WHERE email IS NOT NULL
            UNION ALL SELECT 'phone', phone, customer_id, true FROM customers
            WHERE phone IS NOT NULL
            UNION ALL SELECT 'email', k.email, cs.customer_id, false
            FROM customer_sources cs
            JOIN contacts k ON k.source = cs.source AND k.source_record_id = cs.source_record_id
            WHERE k.email IS NOT NULL
            UNION ALL SELECT 'phone', k.phone, cs.customer_id, false
            FROM customer_sources cs
            JOIN contacts k ON k.source = cs.source AND k.source_record_id = cs.source_record_id
            WHERE k.phone IS NOT NULL
        ) GROUP BY kind, address, customer_id
        """
    )


def refresh_suppressions(
    con: duckdb.DuckDBPyConnection,
    config: SourcesConfig,
    *,
    tombstone_key: bytes,
    now: datetime | None = None,
) -> SuppressionSummary:
    """Record consent changes, rebuild `consent` and `suppressions` (one transaction); `now`
    (naive UTC) is the day the `inactive` rule is judged on."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    summary = SuppressionSummary()
    with transaction(con):
        summary.consent_events_recorded = record_consent_events(con, config)
        build_consent(con)
        address_events(con)
        address_suppressions(con, config.suppression_rules)
        tombstoned_customers(con, tombstone_key, table="_tombstoned")
        customer_addresses(con)
        con.execute("DELETE FROM suppressions")
        con.execute(
            f"""
            INSERT INTO suppressions (email, phone, customer_id, reason, source, "at", detail)
            SELECT CASE WHEN s.kind = 'email' THEN s.address END,
                   CASE WHEN s.kind = 'phone' THEN s.address END,
                   c.customer_id, s.reason, s.source, s."at", s.detail
            FROM _address_suppressions s LEFT JOIN _customer_addresses c
              ON c.kind = s.kind AND c.address = s.address
             AND (c.golden OR s.reason IN {PERSON_REASONS})
            UNION ALL
            SELECT NULL, NULL, c.customer_id, 'no_consent', k.source, k."at",
                   CASE WHEN k.customer_id IS NULL THEN 'no opt-in statement'
                        WHEN k.event = 'opt_in_unconfirmed' THEN 'double opt-in not confirmed'
                        ELSE 'latest statement: ' || k.event END
            FROM customers c LEFT JOIN consent k ON k.customer_id = c.customer_id
            WHERE k.customer_id IS NULL OR NOT k.newsletter_opt_in
            UNION ALL
            SELECT NULL, NULL, t.customer_id, 'erasure', NULL, NULL,
                   'matches the tombstone of an erased person'
            FROM _tombstoned t
            UNION ALL
            SELECT NULL, NULL, m.customer_id, 'inactive', NULL, m.inactive_since,
                   'no open, click or order since the sunset condition was met'
            FROM customer_metrics m JOIN customers c ON c.customer_id = m.customer_id
            WHERE $inactive_days IS NOT NULL
              AND m.inactive_since + to_days(CAST($inactive_days AS INTEGER)) <= $now
            """,
            {"inactive_days": config.suppression_rules.suppress_inactive_after_days, "now": now},
        )
        summary.by_reason = dict(
            con.execute("SELECT reason, count(*) FROM suppressions GROUP BY reason").fetchall()
        )
        summary.customers, summary.customers_suppressed, summary.customers_with_consent = (
            con.execute(
                """SELECT (SELECT count(*) FROM customers),
                      (SELECT count(DISTINCT customer_id) FROM suppressions
                       WHERE customer_id IS NOT NULL),
                      (SELECT count(*) FROM consent WHERE newsletter_opt_in)"""
            ).fetchone()
        )
        summary.unmatchable_tombstones = unmatchable_tombstones(con, tombstone_key)
        for t in (
            "_customer_addresses",
            "_address_events",
            "_resets",
            "_active_events",
            "_address_suppressions",
            "_tombstoned",
        ):
            con.execute(f"DROP TABLE IF EXISTS {t}")
    return summary
