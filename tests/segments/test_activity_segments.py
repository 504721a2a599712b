"""The shipped segments that read what customers do (customer_metrics), on hand-made people:
welcome, reactivation, sunset, top_customers, category_affinity, and winback on order data."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from pipelines.config import load_exports, load_sources
from pipelines.privacy.rules import refresh_suppressions
from tests.segments.people import customer, insert, warehouse
from tests.segments.test_segments import members

REPO = Path(__file__).resolve().parents[2]
SHIPPED = load_exports(REPO / "sftp_config" / "exports.yaml")
TODAY = date(2026, 11, 24)


def metrics(customer_id: str, **values) -> dict:
    """A customer_metrics row of someone who never bought and never got a campaign."""
    row = {
        "customer_id": customer_id,
        "order_count": 0,
        "total_spent": 0,
        "orders_last_12_months": 0,
        "spent_last_12_months": 0,
        "opens_last_12_months": 0,
        "clicks_last_12_months": 0,
        "campaigns_delivered": 0,
        "campaigns_since_last_engagement": 0,
        "engagement_status": "never_engaged",
        "first_seen_at": datetime(2025, 1, 1),
        "as_of": datetime(2026, 11, 24, 6),
    }
    row.update(values)
    return row


def test_welcome_takes_customers_created_since_its_last_export(tmp_path):
    con = warehouse(
        tmp_path / "w.duckdb",
        [
            customer("old", created_at=datetime(2026, 11, 1, 6)),
            customer("new", created_at=datetime(2026, 11, 23, 6)),
            # created by a split of an old customer: new id, but known for years
            customer("split", created_at=datetime(2026, 11, 23, 6)),
        ],
    )
    insert(
        con,
        "customer_metrics",
        [
            metrics("old", first_seen_at=datetime(2026, 11, 1, 6)),
            metrics("new", first_seen_at=datetime(2026, 11, 22)),
            metrics("split", first_seen_at=datetime(2023, 5, 1)),
        ],
    )
    insert(con, "customer_builds", [{"built_at": datetime(2026, 11, 1, 6)}])
    welcome = SHIPPED.segments["welcome"]
    # never exported: the first build is the base, not new customers
    assert members(con, "welcome", welcome, TODAY) == ["new"]
    insert(
        con,
        "export_log",
        [
            {
                "segment": "welcome",
                "file_name": "w.csv",
                "destination": "outbox",
                "status": "ok",
                "exported_at": datetime(2026, 11, 23, 7),
            }
        ],
    )
    assert members(con, "welcome", welcome, TODAY) == []


def test_reactivation_is_buyers_who_ignored_the_last_ten_campaigns(tmp_path):
    con = warehouse(
        tmp_path / "w.duckdb",
        [
            customer("ignored_10", last_purchase_at=None),
            customer("ignored_9", last_purchase_at=None),
            customer("never_bought", last_purchase_at=None),
            customer("crm_buyer"),  # bought according to the CRM, no order lines
        ],
    )
    insert(
        con,
        "customer_metrics",
        [
            metrics("ignored_10", order_count=2, campaigns_since_last_engagement=10),
            metrics("ignored_9", order_count=2, campaigns_since_last_engagement=9),
            metrics("never_bought", campaigns_since_last_engagement=12),
            metrics("crm_buyer", campaigns_since_last_engagement=11),
        ],
    )
    got = members(con, "reactivation", SHIPPED.segments["reactivation"], TODAY)
    assert sorted(got) == ["crm_buyer", "ignored_10"]


def test_sunset_mails_the_inactive_once_then_the_rule_suppresses_them(tmp_path):
    con = warehouse(
        tmp_path / "w.duckdb",
        [customer("inactive_now"), customer("inactive_long_ago"), customer("future")],
    )
    insert(
        con,
        "customer_metrics",
        [
            metrics("inactive_now", inactive_since=datetime(2026, 11, 20)),
            metrics("inactive_long_ago", inactive_since=datetime(2026, 9, 1)),
            # ten campaigns ignored, but the last click was eight months ago
            metrics("future", inactive_since=datetime(2027, 3, 1)),
        ],
    )
    sunset = SHIPPED.segments["sunset"]
    assert sunset.format.mode == "delta"
    assert members(con, "sunset", sunset, TODAY) == ["inactive_long_ago", "inactive_now"]

    cfg = load_sources(REPO / "sftp_config" / "sources.yaml")
    assert cfg.suppression_rules.suppress_inactive_after_days == 30
    refresh_suppressions(con, cfg, tombstone_key=b"k" * 32, now=datetime(2026, 11, 24, 6))
    inactive = con.execute(
        "SELECT customer_id FROM suppressions WHERE reason = 'inactive'"
    ).fetchall()
    assert inactive == [("inactive_long_ago",)]
    # hand-made customers have no opt-in statements: only the inactive rule is under test here
    con.execute("DELETE FROM suppressions WHERE reason = 'no_consent'")
    assert members(con, "sunset", sunset, TODAY) == ["inactive_now"]
    # inactive bars marketing, not service mail
    barred = con.execute(
        "SELECT is_barred FROM segment_candidates WHERE customer_id = 'inactive_long_ago'"
    ).fetchone()
    assert barred == (False,)


def test_top_customers_and_one_file_per_top_category(tmp_path):
    con = warehouse(tmp_path / "w.duckdb", [customer(c) for c in ("a", "b", "c", "d")])
    insert(
        con,
        "customer_metrics",
        [
            metrics(
                "a", order_count=9, total_spent=900, rfm_segment="champions", top_category="tassen"
            ),
            metrics(
                "b", order_count=4, total_spent=300, rfm_segment="loyal", top_category="schoenen"
            ),
            metrics("c", order_count=1, total_spent=50, rfm_segment="new", top_category="tassen"),
            metrics("d"),
        ],
    )
    assert members(con, "top_customers", SHIPPED.segments["top_customers"], TODAY) == ["a", "b"]
    affinity = SHIPPED.segments["category_affinity"]
    assert affinity.split_by == "top_category"
    members(con, "category_affinity", affinity, TODAY)
    parts = con.execute("SELECT _part, list(_customer_id ORDER BY _customer_id) FROM t GROUP BY 1")
    assert dict(parts.fetchall()) == {"tassen": ["a", "c"], "schoenen": ["b"]}


def test_winback_reads_the_newest_purchase_of_orders_and_crm(tmp_path):
    con = warehouse(
        tmp_path / "w.duckdb",
        [
            # the CRM date is 8 months old but the webshop saw an order last month
            customer("bought_again", last_purchase_at=datetime(2026, 3, 1)),
            # no CRM date; order lines 10 months ago
            customer("orders_only", last_purchase_at=None),
            customer("crm_only", last_purchase_at=datetime(2026, 2, 1)),
        ],
    )
    insert(
        con,
        "customer_metrics",
        [
            metrics("bought_again", order_count=3, last_order_at=datetime(2026, 10, 30)),
            metrics("orders_only", order_count=1, last_order_at=datetime(2026, 1, 15)),
        ],
    )
    got = members(con, "winback", SHIPPED.segments["winback"], TODAY)
    assert sorted(got) == ["crm_only", "orders_only"]
