"""Attach activity to golden customers through the match.

A contacts `source_record_id` reaches its customer through `customer_sources`; an email reaches
the customer whose golden email it is, else a customer with a contact of that email (the lowest
id when several). Resolution is re-done at every metrics refresh, so when customers merge or
split their orders and events follow, and a line unmatched today attaches once its customer is
known.
"""

from __future__ import annotations

import duckdb


def email_customers(
    con: duckdb.DuckDBPyConnection, out: str = "_email_customer", wanted: str | None = None
) -> None:
    """Temp table `out(email, customer_id)`: one customer per normalized email.

    `wanted` (a query of one column) limits the map to the emails it names, so that a refresh
    costs in proportion to the activity rather than to every contact of the base.
    """

    def only(column: str) -> str:
        return f"AND {column} IN ({wanted})" if wanted else ""

    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {out} AS
            SELECT email, coalesce(min(golden), min(other)) AS customer_id FROM (
                SELECT email, customer_id AS golden, NULL AS other FROM customers WHERE email
                    IS NOT NULL {only("email")}
                UNION ALL
                SELECT k.email, NULL, cs.customer_id FROM contacts k
                JOIN customer_sources cs ON cs.source = k.source AND cs.source_record_id =
                    k.source_record_id
                WHERE k.email IS NOT NULL {only("k.email")}
            ) e GROUP BY email"""
    )


def record_customers(
    con: duckdb.DuckDBPyConnection, out: str = "_record_customer", wanted: str | None = None
) -> None:
    """Temp table `out(source, source_record_id, customer_id, record_key)`; `wanted` (a query of
    source and record id) limits it to the records it names."""
    only = f"WHERE (cs.source, cs.source_record_id) IN ({wanted})" if wanted else ""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {out} AS
            SELECT cs.source, cs.source_record_id, min(cs.customer_id) AS customer_id,
                   min(m.record_key) AS record_key
            FROM customer_sources cs
            LEFT JOIN match_records m ON m.source = cs.source AND m.source_record_id =
                cs.source_record_id
            {only}
            GROUP BY cs.source, cs.source_record_id"""
    )


ORDER_CUSTOMER_SQL = "coalesce(rc.customer_id, ec.customer_id)"
ORDER_JOINS_SQL = """LEFT JOIN _record_customer rc ON {o}.customer_ref_kind = 'source_record_id'
                     AND rc.source = {o}.customer_ref_source AND rc.source_record_id =
                         {o}.customer_ref
                 LEFT JOIN _email_customer ec ON ec.email = {o}.customer_email"""


def reassign(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """Point orders and events at their customer as the match now says; the customers they
    leave and join are marked dirty. Returns (orders moved, events moved)."""
    # Only the emails and records that some order or event refers to need a customer.
    email_customers(
        con,
        wanted="""SELECT customer_email FROM orders WHERE customer_email IS NOT NULL
                  UNION SELECT email FROM engagement_events WHERE email IS NOT NULL""",
    )
    record_customers(
        con,
        wanted="""SELECT customer_ref_source, customer_ref FROM orders
                  WHERE customer_ref_kind = 'source_record_id'""",
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _order_moves AS
            SELECT o.rowid AS rid, o.customer_id AS old_id, {ORDER_CUSTOMER_SQL} AS new_id,
                   rc.record_key
            FROM orders o {ORDER_JOINS_SQL.format(o="o")}
            WHERE o.customer_id IS DISTINCT FROM {ORDER_CUSTOMER_SQL}"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _event_moves AS
           SELECT e.rowid AS rid, e.customer_id AS old_id, ec.customer_id AS new_id
           FROM engagement_events e LEFT JOIN _email_customer ec ON ec.email = e.email
           WHERE e.customer_id IS DISTINCT FROM ec.customer_id"""
    )
    con.execute(
        """INSERT INTO customer_metrics_dirty
           SELECT DISTINCT id, now() FROM (
               SELECT old_id AS id FROM _order_moves UNION ALL SELECT new_id FROM _order_moves
               UNION ALL SELECT old_id FROM _event_moves UNION ALL SELECT new_id FROM _event_moves
           ) WHERE id IS NOT NULL"""
    )
    con.execute(
        """UPDATE orders SET customer_id = m.new_id, record_key = m.record_key
           FROM _order_moves m WHERE orders.rowid = m.rid"""
    )
    con.execute(
        """UPDATE engagement_events SET customer_id = m.new_id
           FROM _event_moves m WHERE engagement_events.rowid = m.rid"""
    )
    (orders,) = con.execute("SELECT count(*) FROM _order_moves").fetchone()
    (events,) = con.execute("SELECT count(*) FROM _event_moves").fetchone()
    for t in ("_order_moves", "_event_moves", "_email_customer", "_record_customer"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    return orders, events
