"""Engagement drops: event words, attachment by email, duplicates, and suppressions."""

from __future__ import annotations

from pipelines.activity.engagement import load_engagement
from pipelines.config import ActivityRules, SourcesConfig
from pipelines.metrics.customer_metrics import refresh_customer_metrics
from pipelines.privacy.rules import refresh_suppressions
from tests.activity.helpers import NOW, add_customer, metrics, stage, warehouse

RULES = ActivityRules()
HEADER = ["campaign_id", "campaign_sent_at", "email", "event", "occurred_at"]


def _load(con, file_id, rows, event_values=None):
    stage(con, "_staged", HEADER, rows)
    return load_engagement(
        con,
        staged_table="_staged",
        file_id=file_id,
        source_name="mailplatform",
        rules=RULES,
        event_values=event_values or {},
        datetime_format="%Y-%m-%d %H:%M",
        today=NOW.date(),
    )


def test_events_attach_by_email_unmatched_kept_unknown_words_rejected_duplicates_once(tmp_path):
    con = warehouse(tmp_path)
    add_customer(con, "C1", records=[("crm", "K1", "an@example.nl")], email="an@example.nl")
    rows = [
        ["M1", "2026-05-01 09:00", "AN@example.nl", "Delivered", "2026-05-01 09:01"],
        ["M1", "2026-05-01 09:00", "an@example.nl", "opened", "2026-05-01 10:00"],
        ["M1", "2026-05-01 09:00", "an@example.nl", "Opened", "2026-05-01 10:00"],
        ["M1", "2026-05-01 09:00", "stranger@example.nl", "click", "2026-05-01 11:00"],
        ["M1", "2026-05-01 09:00", "an@example.nl", "forwarded", "2026-05-01 11:00"],
        ["M1", "2026-05-01 09:00", "", "open", "2026-05-01 11:00"],
    ]
    stats = _load(con, "e1", rows)
    assert stats["events_loaded"] == 4 and stats["rows_rejected_at_load"] == 2
    assert stats["events_new"] == 3 and stats["events_unmatched"] == 1
    # An overlapping export (another file) brings the same events: kept once.
    stats = _load(con, "e2", rows[:2])
    assert stats["events_new"] == 0
    got = con.execute(
        "SELECT email, event, customer_id FROM engagement_events ORDER BY occurred_at"
    ).fetchall()
    assert got == [
        ("an@example.nl", "delivered", "C1"),
        ("an@example.nl", "open", "C1"),
        ("stranger@example.nl", "click", None),
    ]
    reasons = [
        r
        for (r,) in con.execute("SELECT reason FROM rejected_rows ORDER BY line_number").fetchall()
    ]
    assert reasons[0].startswith("unknown event 'forwarded'") and reasons[1] == "no email address"


def test_bounces_unsubscribes_and_complaints_reach_suppressions(tmp_path):
    con = warehouse(tmp_path)
    add_customer(con, "C1", records=[("crm", "K1", "an@example.nl")], email="an@example.nl")
    add_customer(con, "C2", records=[("crm", "K2", "bo@example.nl")], email="bo@example.nl")
    add_customer(con, "C3", records=[("crm", "K3", "cy@example.nl")], email="cy@example.nl")
    _load(
        con,
        "e1",
        [
            ["M1", "2026-05-01 09:00", "an@example.nl", "Bounce", "2026-05-01 09:01"],
            ["M1", "2026-05-01 09:00", "bo@example.nl", "Afgemeld", "2026-05-01 12:00"],
            ["M1", "2026-05-01 09:00", "cy@example.nl", "spam report", "2026-05-02 08:00"],
            ["M1", "2026-05-01 09:00", "cy@example.nl", "open", "2026-05-01 10:00"],
        ],
    )
    assert con.execute("SELECT count(*) FROM suppression_events").fetchone()[0] == 3
    refresh_suppressions(con, SourcesConfig(sources={}), tombstone_key=b"k" * 32)
    got = set(
        con.execute(
            "SELECT customer_id, reason FROM suppressions WHERE reason <> 'no_consent'"
        ).fetchall()
    )
    assert got == {("C1", "hard_bounce"), ("C2", "unsubscribe"), ("C3", "complaint")}


def test_engagement_status_and_campaigns_since_last_engagement(tmp_path):
    con = warehouse(tmp_path)
    for i, who in enumerate(("active", "lapsed", "never", "quiet")):
        add_customer(
            con,
            f"C{i}",
            records=[("crm", f"K{i}", f"{who}@example.nl")],
            email=f"{who}@example.nl",
        )
    rows = []
    for n in range(12):  # one campaign a month, June 2025 to May 2026
        sent = f"{2025 + (n + 5) // 12}-{(n + 5) % 12 + 1:02d}-01 09:00"
        for who in ("active", "lapsed", "never", "quiet"):
            rows.append([f"M{n}", sent, f"{who}@example.nl", "delivered", sent])
        if n == 11:
            rows.append([f"M{n}", sent, "active@example.nl", "click", sent[:11] + "10:00"])
        if n == 1:
            rows.append([f"M{n}", sent, "quiet@example.nl", "open", sent[:11] + "10:00"])
    rows.append(["M0", "2025-06-01 09:00", "lapsed@example.nl", "open", "2024-01-01 10:00"])
    _load(con, "e1", rows)
    refresh_customer_metrics(con, RULES, as_of=NOW)
    active, lapsed, never, quiet = (metrics(con, f"C{i}") for i in range(4))
    assert (
        active["engagement_status"] == "active" and active["campaigns_since_last_engagement"] == 0
    )
    assert active["clicks_last_12_months"] == 1
    assert lapsed["engagement_status"] == "inactive"
    assert never["engagement_status"] == "never_engaged"
    assert never["campaigns_since_last_engagement"] == 12 == never["campaigns_delivered"]
    # Opened within 12 months, but not in the 10 campaigns since (threshold 10): inactive.
    assert quiet["campaigns_since_last_engagement"] == 10
    assert quiet["engagement_status"] == "inactive"
    assert quiet["opens_last_12_months"] == 1
