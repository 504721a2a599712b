"""Orders drops: parsing, attachment through the match, re-delivery, returns, merges."""

from __future__ import annotations

from decimal import Decimal

from pipelines.activity.orders import load_orders
from pipelines.config import ActivityRules
from pipelines.metrics.customer_metrics import refresh_customer_metrics
from tests.activity.helpers import NOW, add_customer, metrics, stage, warehouse

RULES = ActivityRules()
HEADER = [
    "order_id",
    "source_record_id",
    "email",
    "ordered_at",
    "amount",
    "currency",
    "category",
    "status",
]


def _load(con, file_id, rows, header=HEADER):
    stage(con, "_staged", header, rows)
    return load_orders(
        con,
        staged_table="_staged",
        file_id=file_id,
        source_name="webshop_orders",
        rules=RULES,
        customer_source="crm",
        date_format="%d-%m-%Y",
        today=NOW.date(),
    )


def _people(con):
    add_customer(con, "C1", records=[("crm", "K1", "an@example.nl")], email="an@example.nl")
    add_customer(con, "C2", records=[("webshop", "W9", "bo@example.se")], email="bo@example.se")


def test_lines_attach_by_record_id_and_by_email_and_unmatched_are_kept(tmp_path):
    con = warehouse(tmp_path)
    _people(con)
    stats = _load(
        con,
        "f1",
        [
            ["O1", "K1", None, "03-05-2026", "12,50", "EUR", "shoes", None],
            ["O2", None, " Bo@Example.SE ", "2026-05-04", "1.234,00", "SEK", "bags", "completed"],
            ["O3", "K404", "nobody@example.nl", "04-05-2026", "10.00", None, None, None],
            [None, "K1", None, "04-05-2026", "10.00", None, None, None],
        ],
    )
    assert stats["lines_loaded"] == 3 and stats["rows_rejected_at_load"] == 1
    assert stats["lines_unmatched"] == 1
    rows = con.execute(
        "SELECT order_id, customer_id, customer_ref_kind, amount, currency, amount_eur "
        "FROM orders ORDER BY order_id"
    ).fetchall()
    assert rows == [
        ("O1", "C1", "source_record_id", Decimal("12.50"), "EUR", Decimal("12.50")),
        ("O2", "C2", "email", Decimal("1234.00"), "SEK", Decimal("107.36")),
        ("O3", None, "source_record_id", Decimal("10.00"), "EUR", Decimal("10.00")),
    ]
    (reason,) = con.execute("SELECT reason FROM rejected_rows").fetchone()
    assert "order_id" in reason


def test_bad_amounts_and_future_dates_are_flagged_not_dropped(tmp_path):
    con = warehouse(tmp_path)
    _people(con)
    stats = _load(
        con,
        "f1",
        [
            ["O1", "K1", None, "03-05-2026", "-5,00", None, None, None],
            ["O2", "K1", None, "03-05-2026", "9999999", None, None, None],
            ["O3", "K1", None, "03-05-2031", "10", None, None, None],
            ["O4", "K1", None, "03-05-2026", "10", "USD", None, None],
        ],
    )
    assert stats["amounts_invalid"] == 2 and stats["dates_in_future"] == 1
    got = dict(
        con.execute(
            "SELECT order_id, coalesce(amount_reason, ordered_at_reason, currency_reason) "
            "FROM orders WHERE NOT counts_as_value"
        ).fetchall()
    )
    assert got == {
        "O1": "negative_amount",
        "O2": "absurd_amount",
        "O3": "future_date",
        "O4": "unknown_currency",
    }


def test_redelivered_order_replaces_and_returns_do_not_count(tmp_path):
    con = warehouse(tmp_path)
    _people(con)
    _load(
        con,
        "f1",
        [
            ["O1", "K1", None, "03-05-2026", "20,00", None, "shoes", None],
            ["O1", "K1", None, "03-05-2026", "5,00", None, "socks", None],
            ["O2", "K1", None, "10-05-2026", "50,00", None, "bags", None],
        ],
    )
    refresh_customer_metrics(con, RULES, as_of=NOW)
    first = metrics(con, "C1")
    assert first["order_count"] == 2 and first["total_spent"] == Decimal("75.00")
    # The next day's export delivers O1 again (one line changed) and O2 as returned.
    _load(
        con,
        "f2",
        [
            ["O1", "K1", None, "03-05-2026", "20,00", None, "shoes", None],
            ["O1", "K1", None, "03-05-2026", "7,00", None, "socks", None],
            ["O2", "K1", None, "10-05-2026", "50,00", None, "bags", "Retour"],
        ],
    )
    (lines,) = con.execute("SELECT count(*) FROM orders").fetchone()
    assert lines == 3
    refresh_customer_metrics(con, RULES, as_of=NOW)
    m = metrics(con, "C1")
    assert m["order_count"] == 1 and m["total_spent"] == Decimal("27.00")
    assert m["top_category"] == "shoes"
    assert m["last_order_at"].date().isoformat() == "2026-05-03"
    # Loading the same file again changes nothing.
    _load(
        con,
        "f2",
        [["O1", "K1", None, "03-05-2026", "20,00", None, "shoes", None]],
    )
    (lines,) = con.execute("SELECT count(*) FROM orders").fetchone()
    assert lines == 1


def test_orders_follow_a_merge_and_a_split(tmp_path):
    con = warehouse(tmp_path)
    _people(con)
    add_customer(con, "C3", records=[("crm", "K3", None)])
    _load(
        con,
        "f1",
        [
            ["O1", "K1", None, "03-05-2026", "10", None, None, None],
            ["O2", "K3", None, "04-05-2026", "30", None, None, None],
        ],
    )
    refresh_customer_metrics(con, RULES, as_of=NOW)
    assert metrics(con, "C3")["total_spent"] == Decimal("30.00")
    # The matcher merges C3 into C1.
    con.execute("UPDATE customer_sources SET customer_id = 'C1' WHERE customer_id = 'C3'")
    con.execute("DELETE FROM customers WHERE customer_id = 'C3'")
    con.execute("INSERT INTO customer_merges VALUES ('C3', 'C1', 'merge', now())")
    out = refresh_customer_metrics(con, RULES, as_of=NOW)
    assert out["mode"] == "incremental" and out["orders_reassigned"] == 1
    assert metrics(con, "C1")["total_spent"] == Decimal("40.00")
    assert metrics(con, "C3") == {}
    # And splits again into a new customer.
    con.execute("INSERT INTO customers (customer_id, created_at) VALUES ('C4', now())")
    con.execute("UPDATE customer_sources SET customer_id = 'C4' WHERE source_record_id = 'K3'")
    refresh_customer_metrics(con, RULES, as_of=NOW)
    assert metrics(con, "C1")["total_spent"] == Decimal("10.00")
    assert metrics(con, "C4")["order_count"] == 1
