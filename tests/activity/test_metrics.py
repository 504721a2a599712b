"""Customer metrics: RFM on hand-made people; an incremental refresh equals a full rebuild."""

from __future__ import annotations

import datetime as dt
import random

from pipelines.activity.engagement import load_engagement
from pipelines.activity.orders import load_orders
from pipelines.config import ActivityRules
from pipelines.metrics.customer_metrics import (
    rebuild_customer_metrics,
    refresh_customer_metrics,
)
from tests.activity.helpers import NOW, add_customer, metrics, stage, warehouse

RULES = ActivityRules()
O_HEADER = ["order_id", "source_record_id", "ordered_at", "amount", "category", "status"]
E_HEADER = ["campaign_id", "campaign_sent_at", "email", "event", "occurred_at"]


def _orders(con, file_id, rows):
    stage(con, "_staged", O_HEADER, rows)
    load_orders(
        con,
        staged_table="_staged",
        file_id=file_id,
        source_name="shop",
        rules=RULES,
        customer_source="crm",
        today=NOW.date(),
    )


def _events(con, file_id, rows):
    stage(con, "_staged", E_HEADER, rows)
    load_engagement(
        con,
        staged_table="_staged",
        file_id=file_id,
        source_name="mail",
        rules=RULES,
        datetime_format="%Y-%m-%d %H:%M",
        today=NOW.date(),
    )


def test_rfm_scores_and_segments_on_hand_made_people(tmp_path):
    con = warehouse(tmp_path)
    for i in range(10):
        add_customer(con, f"C{i}", records=[("crm", f"K{i}", None)])
    rows = []
    # C0: frequent, recent, big spender. C9: one old small order. C5: one order last week.
    # C8: used to buy often, nothing for 18 months.
    for n in range(8):
        rows.append([f"A{n}", "K0", f"2026-0{1 + n % 5}-1{n}", "200", "shoes", None])
    rows.append(["Z1", "K9", "2021-03-01", "5", "socks", None])
    rows.append(["N1", "K5", "2026-05-25", "40", "bags", None])
    for n in range(6):
        rows.append([f"H{n}", "K8", f"2024-1{n % 3}-0{n + 1}", "90", "coats", None])
    for c in range(1, 5):  # middling customers
        for n in range(c):
            rows.append(
                [f"M{c}{n}", f"K{c}", f"2025-0{c + 4}-0{n + 1}", str(30 * c), "bags", None]
            )
    rows.append(["R1", "K6", "2026-05-01", "999", "tv", "returned"])
    _orders(con, "o1", rows)
    rebuild_customer_metrics(con, RULES, as_of=NOW)
    champ, once_old, new, lapsed, returned_only = (
        metrics(con, c) for c in ("C0", "C9", "C5", "C8", "C6")
    )
    assert (champ["rfm_recency"], champ["rfm_frequency"], champ["rfm_monetary"]) == (5, 5, 5)
    assert champ["rfm_segment"] == "champions" and champ["order_count"] == 8
    assert champ["orders_last_12_months"] == 8 and champ["top_category"] == "shoes"
    assert once_old["rfm_segment"] == "hibernating" and once_old["rfm_recency"] == 1
    assert new["rfm_segment"] == "new"
    assert lapsed["rfm_segment"] == "at_risk" and lapsed["orders_last_12_months"] == 0
    assert returned_only["order_count"] == 0 and returned_only["rfm_segment"] is None
    assert metrics(con, "C7")["order_count"] == 0  # a customer without activity has a row


def _snapshot(con):
    return con.execute(
        "SELECT * EXCLUDE (computed_at) FROM customer_metrics ORDER BY customer_id"
    ).fetchall()


def test_incremental_refresh_equals_full_rebuild(tmp_path):
    rnd = random.Random(7)
    inc = warehouse(tmp_path / "inc")
    people = 60
    for con in (inc,):
        for i in range(people):
            add_customer(
                con,
                f"C{i:03d}",
                records=[("crm", f"K{i}", f"p{i}@example.nl")],
                email=f"p{i}@example.nl",
            )

    def day_orders(day: int):
        rows = []
        for _ in range(40):
            who = rnd.randrange(people + 5)  # a few unknown customers
            when = dt.date(2025, 1, 1) + dt.timedelta(days=rnd.randrange(500))
            oid = f"O{rnd.randrange(150)}"  # re-delivered order ids on later days
            status = rnd.choice([None, None, None, "returned", "cancelled"])
            rows.append(
                [
                    oid,
                    f"K{who}",
                    when.isoformat(),
                    f"{rnd.randrange(1, 300)},{day}5",
                    rnd.choice(["shoes", "bags", None]),
                    status,
                ]
            )
        return rows

    def day_events(day: int):
        rows = []
        for c in range(3):
            sent = dt.datetime(2025, 1, 1) + dt.timedelta(days=rnd.randrange(500))
            for i in rnd.sample(range(people + 5), 30):
                ev = rnd.choice(["delivered", "delivered", "open", "click", "bounce"])
                rows.append(
                    [
                        f"D{day}M{c}",
                        sent.strftime("%Y-%m-%d %H:%M"),
                        f"p{i}@example.nl",
                        ev,
                        (sent + dt.timedelta(hours=2)).strftime("%Y-%m-%d %H:%M"),
                    ]
                )
        return rows

    as_of = NOW - dt.timedelta(days=200)
    for day in range(6):
        _orders(inc, f"o{day}", day_orders(day))
        _events(inc, f"e{day}", day_events(day))
        if day == 3:  # the matcher merges two customers and splits one record off
            inc.execute(
                "UPDATE customer_sources SET customer_id = 'C001' WHERE customer_id = 'C002'"
            )
            inc.execute("DELETE FROM customers WHERE customer_id = 'C002'")
            inc.execute(
                "INSERT INTO customers (customer_id, email, created_at) "
                "VALUES ('C900', 'p64@example.nl', now())"
            )
            inc.execute("INSERT INTO customer_merges VALUES ('C002', 'C001', 'merge', now())")
        as_of += dt.timedelta(days=40)  # time passes: orders fall out of the 12-month window
        out = refresh_customer_metrics(inc, RULES, as_of=as_of)
        assert out["mode"] == ("full" if day == 0 else "incremental")
        if day:
            assert out["customers_recomputed"] < people + 1
        got = _snapshot(inc)
        rebuild_customer_metrics(inc, RULES, as_of=as_of)
        assert got == _snapshot(inc), f"day {day}"
    assert any(r[1] is not None for r in got)
