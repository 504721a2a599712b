"""Turn events, consent and tombstones into `suppressions`, the one table exports obey.

`refresh_suppressions` brings `suppressions` up to date in one transaction (so it is always
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

Incremental refresh (the daily run): only the customers touched since the last refresh are
recomputed (consent, `no_consent`, `erasure`), and only the addresses touched (the address rows):
- customers: those of source records loaded or (re)linked since, the customers those records
  belonged to before (from `customer_addresses`, what the last refresh saw), customers whose
  golden record changed, both sides of a merge or split, customers gone, and customers whose
  golden email or phone has a new event;
- addresses: every old and new address of those customers that has an event (an address
  without one has no address rows), and the addresses of new events.
`inactive` depends on the day: its rows are rebuilt whole each time (one pass over
`customer_metrics`). A first run, `full=True`, a change of the rules, of the double opt-in
sources or of the tombstone key, an erasure (the one way records leave `contacts`; it deletes
across tables), or events that disappeared (a file loaded again) make a full rebuild.
Incremental equals a full rebuild at the same `now`. It relies on the matcher's stamps: a
golden record whose values change gets a new `updated_at`, a record that moves a new
`linked_at`, and an id that goes or comes a `customer_merges` row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from pipelines.config import SourcesConfig, SuppressionRules
from pipelines.privacy.consent import (
    build_consent,
    double_opt_in_sources,
    record_consent_events,
)
from pipelines.privacy.tombstones import key_id, tombstoned_customers, unmatchable_tombstones
from pipelines.warehouse import delete_customers, only_customers, transaction

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
    mode: str = "full"  # or incremental
    customers_recomputed: int = 0
    addresses_recomputed: int = 0

    def metadata(self) -> dict[str, int]:
        return {
            "customers_recomputed": self.customers_recomputed,
            "addresses_recomputed": self.addresses_recomputed,
            "customers": self.customers,
            "customers_suppressed": self.customers_suppressed,
            "customers_with_consent": self.customers_with_consent,
            "consent_events_recorded": self.consent_events_recorded,
            "unmatchable_tombstones": self.unmatchable_tombstones,
            **{f"rows_{r}": self.by_reason.get(r, 0) for r in REASONS},
        }


def _only_addresses(addresses: str | None, kind: str, column: str) -> str:
    """A condition keeping `column` (an address of `kind`) to the table `addresses`; TRUE when
    all addresses count."""
    if addresses is None:
        return "TRUE"
    return f"{column} IN (SELECT address FROM {addresses} WHERE kind = '{kind}')"


def address_events(con: duckdb.DuckDBPyConnection, addresses: str | None = None) -> None:
    """Temp table `_address_events(kind, address, event, at, source)`: each event once per
    address (only the addresses in table `addresses(kind, address)` when given)."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _address_events AS
        SELECT kind, address, event, "at", min(source) AS source FROM (
            SELECT 'email' AS kind, email AS address, event, "at", source FROM suppression_events
            WHERE email IS NOT NULL AND {_only_addresses(addresses, "email", "email")}
            UNION ALL
            SELECT 'phone', phone, event, "at", source FROM suppression_events
            WHERE phone IS NOT NULL
                  AND (email IS NULL OR event NOT IN ('hard_bounce', 'soft_bounce'))
                  AND {_only_addresses(addresses, "phone", "phone")}
        ) e
        GROUP BY kind, address, event, "at"
        """
    )


def address_suppressions(
    con: duckdb.DuckDBPyConnection, rules: SuppressionRules, addresses: str | None = None
) -> None:
    """Temp table `_address_suppressions(kind, address, reason, source, at, detail)` of the
    addresses in `_address_events` (resets read for the addresses in `addresses` when given)."""
    con.execute(
        f"""
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
              AND c.email IS NOT NULL AND {_only_addresses(addresses, "email", "c.email")}
            UNION ALL
            SELECT 'phone', c.phone, e."at"
            FROM consent_events e
            JOIN contacts c ON c.source = e.source AND c.source_record_id = e.source_record_id
            WHERE e.opt_in AND e.dated
                  AND (NOT coalesce(e.double_opt_in_required, false)
                           OR coalesce(e.double_opt_in, false))
              AND c.phone IS NOT NULL AND {_only_addresses(addresses, "phone", "c.phone")}
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


def store_customer_addresses(con: duckdb.DuckDBPyConnection, touched: str | None = None) -> None:
    """Rewrite `customer_addresses` (all of it, or the customers in table `touched`): a row per
    source record with the email and phone it gives, and one for the golden record."""
    delete_customers(con, "customer_addresses", touched)
    only_c, only_cs = only_customers(touched, "c"), only_customers(touched, "cs")
    con.execute(
        f"""
        INSERT INTO customer_addresses (customer_id, source, source_record_id, email, phone)
        SELECT c.customer_id, NULL, NULL, c.email, c.phone FROM customers c {only_c}
        UNION ALL
        SELECT cs.customer_id, cs.source, cs.source_record_id, k.email, k.phone
        FROM customer_sources cs {only_cs}
        JOIN contacts k ON k.source = cs.source AND k.source_record_id = cs.source_record_id
        """
    )


def customer_addresses(con: duckdb.DuckDBPyConnection, addresses: str | None = None) -> None:
    """Temp table `_customer_addresses(kind, address, customer_id, golden)`: each customer's golden
    email and phone (golden) and every other email and phone their source records give (only the
    addresses in table `addresses(kind, address)` when given)."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _customer_addresses AS
        SELECT kind, address, customer_id, bool_or(golden) AS golden FROM (
            SELECT 'email' AS kind, email AS address, customer_id, source IS NULL AS golden
            FROM customer_addresses
            WHERE email IS NOT NULL AND {_only_addresses(addresses, "email", "email")}
            UNION ALL SELECT 'phone', phone, customer_id, source IS NULL FROM customer_addresses
            WHERE phone IS NOT NULL AND {_only_addresses(addresses, "phone", "phone")}
        ) GROUP BY kind, address, customer_id
        """
    )


Marks = tuple  # contacts_loaded_at, events_loaded_at, customers_changed_at, events, erasures


def _marks(con: duckdb.DuckDBPyConnection) -> Marks:
    """What the warehouse holds now: the newest contact load, suppression event load and customer
    change (the matcher's clock), and the row counts of suppression_events and erasure_log."""
    return con.execute(
        """SELECT (SELECT max(loaded_at) FROM contacts),
                  (SELECT max(loaded_at) FROM suppression_events),
                  greatest((SELECT max(updated_at) FROM customers),
                           (SELECT max(linked_at) FROM customer_sources),
                           (SELECT max("at") FROM customer_merges)),
                  (SELECT count(*) FROM suppression_events),
                  (SELECT count(*) FROM erasure_log)"""
    ).fetchone()


def _settings_hash(config: SourcesConfig, tombstone_key: bytes) -> str:
    """What a full rebuild depends on beyond the tables: change it and the next one is full."""
    settings = {
        "rules": repr(config.suppression_rules),
        "double_opt_in": double_opt_in_sources(config),
        "key": key_id(tombstone_key),
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def event_addresses(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table `_sup_event_addresses(kind, address)`: every address with an event. Only these
    can have address rows, so only their customers are joined to them."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _sup_event_addresses AS
        SELECT DISTINCT kind, address FROM (
            SELECT 'email' AS kind, email AS address FROM suppression_events
            UNION ALL SELECT 'phone', phone FROM suppression_events
        ) e WHERE address IS NOT NULL
        """
    )


def _touched_since(con: duckdb.DuckDBPyConnection, last: tuple) -> None:
    """Temp tables `_sup_touched(customer_id)` and `_sup_addresses(kind, address)`: the customers
    and addresses an incremental refresh recomputes; `customer_addresses` is brought up to date
    for those customers on the way (its old rows give their old addresses)."""
    floor = "TIMESTAMP '-infinity'"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _sup_records AS
        SELECT source, source_record_id FROM contacts
        WHERE loaded_at > coalesce($contacts, {floor})
        UNION
        SELECT source, source_record_id FROM customer_sources
        WHERE linked_at > coalesce($customers, {floor})
        """,
        {"contacts": last[0], "customers": last[2]},
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _sup_touched AS
        SELECT DISTINCT customer_id FROM (
            SELECT cs.customer_id FROM customer_sources cs SEMI JOIN _sup_records r
              ON r.source = cs.source AND r.source_record_id = cs.source_record_id
            UNION ALL SELECT a.customer_id FROM customer_addresses a SEMI JOIN _sup_records r
              ON r.source = a.source AND r.source_record_id = a.source_record_id
            UNION ALL SELECT customer_id FROM customers
                WHERE updated_at > coalesce($customers, {floor})
            UNION ALL SELECT old_customer_id FROM customer_merges
                WHERE "at" > coalesce($customers, {floor})
            UNION ALL SELECT new_customer_id FROM customer_merges
                WHERE "at" > coalesce($customers, {floor})
        ) t WHERE customer_id IS NOT NULL
        """,
        {"customers": last[2]},
    )
    # Their addresses, old (before the rewrite) and new, that have an event: an address without
    # one has no address rows, before or after.
    event_addresses(con)
    touched_addresses = """
        SELECT DISTINCT x.kind, x.address FROM (
            SELECT 'email' AS kind, a.email AS address FROM customer_addresses a
                SEMI JOIN _sup_touched t ON t.customer_id = a.customer_id
            UNION ALL SELECT 'phone', a.phone FROM customer_addresses a
                SEMI JOIN _sup_touched t ON t.customer_id = a.customer_id
        ) x SEMI JOIN _sup_event_addresses e ON e.kind = x.kind AND e.address = x.address
    """
    con.execute(f"CREATE OR REPLACE TEMP TABLE _sup_customer_addresses AS {touched_addresses}")
    store_customer_addresses(con, touched="_sup_touched")
    con.execute(f"INSERT INTO _sup_customer_addresses {touched_addresses}")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _sup_new_events AS
        SELECT DISTINCT kind, address FROM (
            SELECT 'email' AS kind, email AS address FROM suppression_events
            WHERE loaded_at > coalesce($events, {floor})
            UNION ALL SELECT 'phone', phone FROM suppression_events
            WHERE loaded_at > coalesce($events, {floor})
        ) e WHERE address IS NOT NULL
        """,
        {"events": last[1]},
    )
    # A new unsubscribe, complaint or resubscribe of a golden address changes that consent.
    con.execute(
        """
        INSERT INTO _sup_touched
        SELECT DISTINCT a.customer_id FROM customer_addresses a
        WHERE a.source IS NULL AND a.customer_id NOT IN (SELECT customer_id FROM _sup_touched)
          AND (a.email IN (SELECT address FROM _sup_new_events WHERE kind = 'email')
               OR a.phone IN (SELECT address FROM _sup_new_events WHERE kind = 'phone'))
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _sup_addresses AS
        SELECT DISTINCT kind, address FROM (
            SELECT kind, address FROM _sup_customer_addresses
            UNION ALL SELECT kind, address FROM _sup_new_events
        )
        """
    )


def refresh_suppressions(
    con: duckdb.DuckDBPyConnection,
    config: SourcesConfig,
    *,
    tombstone_key: bytes,
    now: datetime | None = None,
    full: bool = False,
) -> SuppressionSummary:
    """Record consent changes, bring `consent` and `suppressions` up to date (one transaction):
    incrementally unless `full` or a full rebuild is due (see the module doc); `now` (naive UTC)
    is the day the `inactive` rule is judged on."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    summary = SuppressionSummary()
    settings = _settings_hash(config, tombstone_key)
    with transaction(con):
        marks = _marks(con)
        last = con.execute(
            """SELECT contacts_loaded_at, events_loaded_at, customers_changed_at, events,
                      erasures, settings_hash
               FROM suppression_runs ORDER BY "at" DESC LIMIT 1"""
        ).fetchone()
        if not full and last is not None:
            (new_events,) = con.execute(
                "SELECT count(*) FROM suppression_events "
                "WHERE loaded_at > coalesce(?, TIMESTAMP '-infinity')",
                [last[1]],
            ).fetchone()
            full = last[5] != settings or last[4] != marks[4] or last[3] + new_events != marks[3]
        full = full or last is None
        summary.mode = "full" if full else "incremental"
        summary.consent_events_recorded = record_consent_events(
            con, config, loaded_after=None if full else (last[0] or datetime(1970, 1, 1))
        )
        if full:
            touched = addresses = None
            store_customer_addresses(con)
            event_addresses(con)
        else:
            touched, addresses = "_sup_touched", "_sup_addresses"
            _touched_since(con, last)
        build_consent(con, touched)
        address_events(con, addresses)
        address_suppressions(con, config.suppression_rules, addresses)
        tombstoned_customers(con, tombstone_key, table="_tombstoned", touched=touched)
        customer_addresses(con, addresses or "_sup_event_addresses")
        if full:
            con.execute("DELETE FROM suppressions")
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _sup_touched AS SELECT customer_id FROM customers"
            )
        else:
            con.execute(
                """DELETE FROM suppressions
                   WHERE email IN (SELECT address FROM _sup_addresses WHERE kind = 'email')
                      OR phone IN (SELECT address FROM _sup_addresses WHERE kind = 'phone')
                      OR (email IS NULL AND phone IS NULL
                          AND (reason = 'inactive'
                               OR customer_id IN (SELECT customer_id FROM _sup_touched)))"""
            )
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
            FROM customers c SEMI JOIN _sup_touched t ON t.customer_id = c.customer_id
            LEFT JOIN consent k ON k.customer_id = c.customer_id
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
        summary.customers_recomputed = con.execute("SELECT count(*) FROM _sup_touched").fetchone()[
            0
        ]
        summary.addresses_recomputed = (
            con.execute("SELECT count(*) FROM _address_events").fetchone()[0]
            if full
            else con.execute("SELECT count(*) FROM _sup_addresses").fetchone()[0]
        )
        # A re-run that saw nothing new leaves no row (as it changes no other table).
        if full or tuple(last[:5]) != tuple(marks):
            con.execute(
                "INSERT INTO suppression_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
                [
                    summary.mode,
                    settings,
                    *marks,
                    summary.customers_recomputed,
                    summary.addresses_recomputed,
                ],
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
            "_sup_records",
            "_sup_touched",
            "_sup_event_addresses",
            "_sup_customer_addresses",
            "_sup_new_events",
            "_sup_addresses",
        ):
            con.execute(f"DROP TABLE IF EXISTS {t}")
    return summary
