"""A customer's orders and engagement in words, for `crmclean explain` (no addresses shown)."""

from __future__ import annotations

import duckdb


def activity_lines(
    con: duckdb.DuckDBPyConnection, customer_id: str, *, last: int = 5
) -> list[str]:
    """The metrics of one customer, their latest order lines and latest engagement events."""
    cur = con.execute("SELECT * FROM customer_metrics WHERE customer_id = ?", [customer_id])
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    if row is None:
        return ["activity: no metrics yet (run the daily job)"]
    m = dict(zip(names, row, strict=True))
    lines = ["activity:"]
    if m["order_count"]:
        lines.append(
            f"  orders {m['order_count']}, spent {m['total_spent']:.2f}, average "
            f"{m['avg_order_value']:.2f}; last 12 months {m['orders_last_12_months']} orders, "
            f"{m['spent_last_12_months']:.2f}"
        )
        lines.append(
            f"  first order {m['first_order_at']:%Y-%m-%d}, last {m['last_order_at']:%Y-%m-%d}; "
            f"RFM {m['rfm_recency']}-{m['rfm_frequency']}-{m['rfm_monetary']} "
            f"({m['rfm_segment']}); top category {m['top_category'] or '-'}"
        )
    else:
        lines.append("  no orders that count as value")
    opened = f"{m['last_open_at']:%Y-%m-%d}" if m["last_open_at"] else "never"
    clicked = f"{m['last_click_at']:%Y-%m-%d}" if m["last_click_at"] else "never"
    lines.append(
        f"  engagement {m['engagement_status']}: last open {opened}, last click {clicked}; "
        f"{m['opens_last_12_months']} opens, {m['clicks_last_12_months']} clicks in 12 months; "
        f"{m['campaigns_since_last_engagement']} of {m['campaigns_delivered']} campaigns since "
        "the last open or click"
    )
    if m["inactive_since"]:
        lines.append(f"  sunset condition met {m['inactive_since']:%Y-%m-%d}")
    if m["first_seen_at"]:
        lines.append(f"  first seen {m['first_seen_at']:%Y-%m-%d}")
    orders = con.execute(
        """SELECT ordered_at, source, order_id, amount, currency, category, status
           FROM orders WHERE customer_id = ? ORDER BY ordered_at DESC NULLS LAST, order_id
           LIMIT ?""",
        [customer_id, last],
    ).fetchall()
    if orders:
        lines.append(f"  latest order lines ({len(orders)} shown):")
        for at, source, order_id, amount, currency, category, status in orders:
            when = f"{at:%Y-%m-%d}" if at else "no date"
            money = f"{amount:.2f} {currency}" if amount is not None else "invalid amount"
            lines.append(
                f"    {when}  {source}:{order_id:<12} {money:>14}  {category or '-':<14} {status}"
            )
    events = con.execute(
        """SELECT occurred_at, event, campaign_id FROM engagement_events
           WHERE customer_id = ? AND event NOT IN ('sent', 'delivered')
           ORDER BY occurred_at DESC LIMIT ?""",
        [customer_id, last],
    ).fetchall()
    if events:
        lines.append(f"  latest engagement ({len(events)} shown):")
        lines += [
            f"    {at:%Y-%m-%d %H:%M}  {event:<12} {campaign or '-'}"
            for at, event, campaign in events
        ]
    return lines
