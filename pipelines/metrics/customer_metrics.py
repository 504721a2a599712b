"""`customer_metrics`: what each golden customer bought and how they engage, in DuckDB SQL.

One row per customer in `customers`. Orders and events attach through the match
(pipelines/activity/attach.py); only lines that count as value (`orders.counts_as_value`: not
returned or cancelled, a valid amount, currency and date) make the order figures.

- `first_order_at` / `last_order_at`: the first / last valued order line.
- `order_count`: distinct orders (source + order_id) with a valued line.
- `total_spent` / `avg_order_value`: sum of `amount_eur` / that per order.
- `orders_last_12_months` / `spent_last_12_months`: the same since `as_of` minus 12 months.
- `rfm_recency` / `rfm_frequency` / `rfm_monetary`: 1-5, the quintile of the percent rank of
  `last_order_at` / `order_count` / `total_spent` among customers with an order (equal values
  get equal scores; 5 is best).
- `rfm_segment`, the first rule that holds: `champions` R>=4, F>=4, M>=4; `loyal` R>=3, F>=3;
  `new` R>=4 and one order; `at_risk` R<=2, F>=3; `hibernating` R<=2; else `needs_attention`;
  NULL without a valued order.
- `top_category`: the category with the most valued spend (then most lines, then name).
- `last_open_at` / `last_click_at`, `opens_last_12_months` / `clicks_last_12_months`.
- `campaigns_delivered`: campaigns that reached the customer (sent, delivered, opened or
  clicked; not bounced); `campaigns_since_last_engagement`: of those, the ones sent after the
  last open or click (all of them when none).
- `engagement_status`: `active` with an open or click within `activity.active_months` and
  fewer than `activity.inactive_after_campaigns` campaigns since; `inactive` when it engaged
  once but is not active; `never_engaged`.
- `first_seen_at`: the earliest of the customer's creation, its contacts' load, its first order
  line and its first event.
- `inactive_since`: when the customer met the sunset condition: `activity.inactive_after_campaigns`
  campaigns delivered since the last open, click or order, and 12 months without one (counted
  from the first campaign when there was none); NULL while either is missing. A time in the
  future is possible (enough campaigns, but the last sign of life is recent); compare it with
  the day. An open, click or order later resets it. Drives the `sunset` segment and the
  `inactive` suppression (`suppression_rules.suppress_inactive_after_days`).

Incremental refresh (`refresh_customer_metrics`): recomputes only customers whose activity
changed since the last refresh: marked dirty by a load (new or replaced lines), moved by a merge
or split (orders and events are re-pointed first), new or gone, or with an order or event that
crossed a 12-month (or `active_months`) window boundary between the two reference times. RFM
scores are ranks over everyone, so they are re-ranked over the whole table (cheap, set-based).
The result equals `rebuild_customer_metrics` at the same `as_of`.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from pipelines.activity.attach import reassign
from pipelines.config import ActivityRules
from pipelines.warehouse import only_customers, transaction

ENGAGED = "('open', 'click')"
REACHED = "('sent', 'delivered', 'open', 'click')"
BOUNCED = "('hard_bounce', 'soft_bounce')"


def rebuild_customer_metrics(
    con: duckdb.DuckDBPyConnection, rules: ActivityRules, *, as_of: dt.datetime | None = None
) -> dict:
    """Recompute every customer's metrics."""
    return refresh_customer_metrics(con, rules, as_of=as_of, full=True)


def refresh_customer_metrics(
    con: duckdb.DuckDBPyConnection,
    rules: ActivityRules,
    *,
    as_of: dt.datetime | None = None,
    full: bool = False,
) -> dict:
    """Bring `customer_metrics` up to date at `as_of` (default now, UTC); see the module doc."""
    as_of = as_of or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    with transaction(con):
        orders_moved, events_moved = reassign(con)
        last = con.execute(
            'SELECT "at", as_of FROM customer_metrics_runs ORDER BY "at" DESC, as_of DESC LIMIT 1'
        ).fetchone()
        if last is None or last[1] > as_of:
            full = True
        if full:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _touched AS SELECT customer_id FROM customers"
            )
        else:
            _touched_since(con, rules, last_at=last[0], last_as_of=last[1], as_of=as_of)
        (recomputed,) = con.execute("SELECT count(*) FROM _touched").fetchone()
        # Nothing moved, nothing to recompute, the same reference time: a re-run changes nothing.
        unchanged = not (full or recomputed or orders_moved or events_moved) and last[1] == as_of
        if not unchanged:
            con.execute(
                "DELETE FROM customer_metrics WHERE customer_id IN "
                "(SELECT customer_id FROM _touched)"
                if not full
                else "DELETE FROM customer_metrics"
            )
            _compute(con, rules, as_of, full)
            _rank(con)
            con.execute("DELETE FROM customer_metrics_dirty")
            con.execute(
                "INSERT INTO customer_metrics_runs VALUES (?, ?, ?, ?, ?, now())",
                ["full" if full else "incremental", as_of, recomputed, orders_moved, events_moved],
            )
        for t in (
            "_touched",
            "_cm_orders",
            "_cm_top",
            "_cm_campaign_events",
            "_cm_events",
            "_cm_delivered",
            "_cm_campaigns",
            "_cm_seen",
        ):
            con.execute(f"DROP TABLE IF EXISTS {t}")
    return {
        "mode": "full" if full else "incremental",
        "customers_recomputed": recomputed,
        "orders_reassigned": orders_moved,
        "events_reassigned": events_moved,
    }


def _touched_since(
    con: duckdb.DuckDBPyConnection,
    rules: ActivityRules,
    *,
    last_at: dt.datetime,
    last_as_of: dt.datetime,
    as_of: dt.datetime,
) -> None:
    """Temp table `_touched(customer_id)`: the customers an incremental refresh recomputes."""
    m = rules.active_months
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _touched AS
        SELECT DISTINCT customer_id FROM (
            SELECT customer_id FROM customer_metrics_dirty
            UNION ALL SELECT customer_id FROM customers
                WHERE customer_id NOT IN (SELECT customer_id FROM customer_metrics)
            UNION ALL SELECT customer_id FROM customer_metrics
                WHERE customer_id NOT IN (SELECT customer_id FROM customers)
            UNION ALL SELECT old_customer_id FROM customer_merges WHERE "at" >= $last_at
            UNION ALL SELECT new_customer_id FROM customer_merges WHERE "at" >= $last_at
            UNION ALL SELECT customer_id FROM customer_sources WHERE linked_at >= $last_at
            UNION ALL SELECT customer_id FROM orders
                WHERE counts_as_value AND ordered_at > $last_as_of - INTERVAL 12 MONTH
                  AND ordered_at <= $as_of - INTERVAL 12 MONTH
            UNION ALL SELECT customer_id FROM engagement_events WHERE event IN {ENGAGED} AND (
                (occurred_at > $last_as_of - INTERVAL 12 MONTH AND occurred_at <= $as_of -
                    INTERVAL 12 MONTH)
                OR (occurred_at > $last_as_of - INTERVAL {m} MONTH AND occurred_at <= $as_of -
                    INTERVAL {m} MONTH))
        ) t WHERE customer_id IS NOT NULL
        """,
        {"last_at": last_at, "last_as_of": last_as_of, "as_of": as_of},
    )


def _compute(
    con: duckdb.DuckDBPyConnection, rules: ActivityRules, as_of: dt.datetime, full: bool
) -> None:
    """Insert the metrics of the customers in `_touched` (all of them when `full`) that still
    exist (RFM left NULL)."""
    p = {"as_of": as_of}

    def touched(alias: str) -> str:
        return only_customers(None if full else "_touched", alias)

    year = "$as_of - INTERVAL 12 MONTH"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _cm_orders AS
        SELECT customer_id, min(first_at) AS first_order_at, max(last_at) AS last_order_at,
               count(*) FILTER (WHERE valued) AS order_count,
               coalesce(sum(spent), 0) AS total_spent,
               count(*) FILTER (WHERE valued_12) AS orders_12,
               coalesce(sum(spent_12), 0) AS spent_12,
               min(first_line_at) AS first_line_at
        FROM (  -- one row per order, so an order of several lines counts once
            SELECT o.customer_id, bool_or(counts_as_value) AS valued,
                   bool_or(counts_as_value AND ordered_at > {year}) AS valued_12,
                   min(ordered_at) FILTER (WHERE counts_as_value) AS first_at,
                   max(ordered_at) FILTER (WHERE counts_as_value) AS last_at,
                   sum(amount_eur) FILTER (WHERE counts_as_value) AS spent,
                   sum(amount_eur) FILTER (WHERE counts_as_value AND ordered_at > {year})
                       AS spent_12,
                   min(ordered_at) AS first_line_at
            FROM orders o {touched("o")}
            GROUP BY o.customer_id, o.source, o.order_id
        )
        GROUP BY customer_id
        """,
        p,
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _cm_top AS
        SELECT customer_id, first(category ORDER BY spend DESC, lines DESC, category) AS category
        FROM (
            SELECT customer_id, category, sum(amount_eur) AS spend, count(*) AS lines
            FROM orders o {touched("o")}
            WHERE counts_as_value AND category IS NOT NULL
            GROUP BY customer_id, category
        )
        GROUP BY customer_id
        """
    )
    # One pass over the events: per customer and campaign, then per customer.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _cm_campaign_events AS
        SELECT e.customer_id, campaign_id,
               max(occurred_at) FILTER (WHERE event = 'open') AS last_open_at,
               max(occurred_at) FILTER (WHERE event = 'click') AS last_click_at,
               count(*) FILTER (WHERE event = 'open' AND occurred_at > {year}) AS opens_12,
               count(*) FILTER (WHERE event = 'click' AND occurred_at > {year}) AS clicks_12,
               min(occurred_at) AS first_event_at,
               coalesce(min(campaign_sent_at), min(occurred_at)) AS sent_at,
               bool_or(event IN {REACHED}) AND NOT bool_or(event IN {BOUNCED}) AS delivered
        FROM engagement_events e {touched("e")}
        GROUP BY e.customer_id, campaign_id
        """,
        p,
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _cm_events AS
        SELECT customer_id, max(last_open_at) AS last_open_at, max(last_click_at) AS last_click_at,
               sum(opens_12) AS opens_12, sum(clicks_12) AS clicks_12,
               min(first_event_at) AS first_event_at
        FROM _cm_campaign_events GROUP BY customer_id
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _cm_delivered AS
        SELECT customer_id, campaign_id, sent_at FROM _cm_campaign_events
        WHERE campaign_id IS NOT NULL AND delivered
        """
    )
    n = rules.inactive_after_campaigns
    # The sunset clock: the {n}th campaign delivered after the last open, click or order, and
    # 12 months after that last sign of life (or after the first campaign when there was none).
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _cm_campaigns AS
        SELECT customer_id, delivered, since,
               CASE WHEN len(after_life) >= {n}
                    THEN greatest(after_life[{n}],
                                  coalesce(last_life, first_sent) + INTERVAL 12 MONTH)
               END AS inactive_since
        FROM (
            SELECT d.customer_id, count(*) AS delivered,
                   count(*) FILTER (WHERE d.sent_at > coalesce(
                       greatest(v.last_open_at, v.last_click_at), TIMESTAMP '-infinity')) AS since,
                   list_sort(list(d.sent_at) FILTER (WHERE d.sent_at > coalesce(
                       greatest(v.last_open_at, v.last_click_at, o.last_order_at),
                       TIMESTAMP '-infinity'))) AS after_life,
                   min(d.sent_at) AS first_sent,
                   any_value(greatest(v.last_open_at, v.last_click_at, o.last_order_at))
                       AS last_life
            FROM _cm_delivered d
            LEFT JOIN _cm_events v ON v.customer_id = d.customer_id
            LEFT JOIN _cm_orders o ON o.customer_id = d.customer_id
            GROUP BY d.customer_id
        )
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _cm_seen AS
        SELECT cs.customer_id, min(k.loaded_at) AS contact_at
        FROM customer_sources cs {touched("cs")}
        JOIN contacts k ON k.source = cs.source AND k.source_record_id = cs.source_record_id
        GROUP BY cs.customer_id
        """
    )
    m = rules.active_months
    con.execute(
        f"""
        INSERT INTO customer_metrics BY NAME
        SELECT c.customer_id, o.first_order_at, o.last_order_at,
               coalesce(o.order_count, 0) AS order_count,
               coalesce(o.total_spent, 0) AS total_spent,
               CASE WHEN o.order_count > 0 THEN o.total_spent / o.order_count END AS
                   avg_order_value,
               coalesce(o.orders_12, 0) AS orders_last_12_months,
               coalesce(o.spent_12, 0) AS spent_last_12_months,
               tc.category AS top_category,
               v.last_open_at, v.last_click_at,
               coalesce(v.opens_12, 0) AS opens_last_12_months,
               coalesce(v.clicks_12, 0) AS clicks_last_12_months,
               coalesce(k.delivered, 0) AS campaigns_delivered,
               coalesce(k.since, 0) AS campaigns_since_last_engagement,
               CASE WHEN v.last_open_at IS NULL AND v.last_click_at IS NULL THEN 'never_engaged'
                    WHEN greatest(v.last_open_at, v.last_click_at) > $as_of - INTERVAL {m} MONTH
                         AND coalesce(k.since, 0) < {n} THEN 'active'
                    ELSE 'inactive' END AS engagement_status,
               least(c.created_at, s.contact_at, o.first_line_at, v.first_event_at) AS
                   first_seen_at,
               k.inactive_since,
               $as_of AS as_of, now() AS computed_at
        FROM customers c SEMI JOIN _touched t ON t.customer_id = c.customer_id
        LEFT JOIN _cm_orders o ON o.customer_id = c.customer_id
        LEFT JOIN _cm_top tc ON tc.customer_id = c.customer_id
        LEFT JOIN _cm_events v ON v.customer_id = c.customer_id
        LEFT JOIN _cm_campaigns k ON k.customer_id = c.customer_id
        LEFT JOIN _cm_seen s ON s.customer_id = c.customer_id
        """,
        {"as_of": as_of},
    )
    # Untouched rows keep their window figures but take the new reference time.
    con.execute(
        "UPDATE customer_metrics SET as_of = $as_of WHERE as_of <> $as_of", {"as_of": as_of}
    )


def _score(column: str) -> str:
    return f"(1 + least(4, floor(5 * percent_rank() OVER (ORDER BY {column}))))::TINYINT"


def _rank(con: duckdb.DuckDBPyConnection) -> None:
    """RFM scores and segment over all customers with an order; only changed rows are written."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _cm_rfm AS
        SELECT customer_id, r, f, m,
               CASE WHEN r >= 4 AND f >= 4 AND m >= 4 THEN 'champions'
                    WHEN r >= 3 AND f >= 3 THEN 'loyal'
                    WHEN r >= 4 AND order_count = 1 THEN 'new'
                    WHEN r <= 2 AND f >= 3 THEN 'at_risk'
                    WHEN r <= 2 THEN 'hibernating'
                    ELSE 'needs_attention' END AS segment
        FROM (
            SELECT customer_id, order_count, {_score("last_order_at")} AS r,
                   {_score("order_count")} AS f, {_score("total_spent")} AS m
            FROM customer_metrics WHERE order_count > 0
        ) s
        """
    )
    # Rows whose scores moved are rewritten whole: DuckDB deletes and appends rows far faster
    # than it updates many of them in place.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _cm_rescored AS
        SELECT m.* REPLACE (s.r AS rfm_recency, s.f AS rfm_frequency, s.m AS rfm_monetary,
                            s.segment AS rfm_segment)
        FROM customer_metrics m JOIN _cm_rfm s ON s.customer_id = m.customer_id
        WHERE m.rfm_recency IS DISTINCT FROM s.r OR m.rfm_frequency IS DISTINCT FROM s.f
           OR m.rfm_monetary IS DISTINCT FROM s.m OR m.rfm_segment IS DISTINCT FROM s.segment
        """
    )
    con.execute(
        "DELETE FROM customer_metrics WHERE customer_id IN (SELECT customer_id FROM _cm_rescored)"
    )
    con.execute("INSERT INTO customer_metrics BY NAME SELECT * FROM _cm_rescored")
    con.execute("DROP TABLE _cm_rescored")
    con.execute("DROP TABLE _cm_rfm")
