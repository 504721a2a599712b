"""Suppression drops through the real ingest steps, and the rules that turn them into
suppressions."""

from __future__ import annotations

from datetime import datetime

import pytest

from pipelines.config import SuppressionRules
from pipelines.privacy.rules import refresh_suppressions
from pipelines.warehouse import connect
from tests.privacy.helpers import config, drop, identity_customers, ingest

KEY = b"test-tombstone-key-0123456789"
CRM_HEADER = "KlantID;Voornaam;Achternaam;Email;Telefoon;Nieuwsbrief\r\n"
PLATFORM_HEADER = "Email Address,Phone,Event,Timestamp,Campaign\n"
T0 = datetime(2026, 10, 1, 9, 0)


@pytest.fixture
def wh(project):
    """A warehouse with five CRM customers (all opted in, undated) loaded on 1 October 2026."""
    cfg = config(project)
    con = connect(project.warehouse)
    crm = CRM_HEADER + (
        "1001; Jan;Jansen; Jan.Jansen@Gmail.com ;06-12345678;Ja\r\n"
        "1002;Piet;Pietersen;piet@example.nl;;ja\r\n"
        "1003;Klaas;Klaassen;klaas@example.nl;;ja\r\n"
        "1004;Anna;Bakker;anna@example.nl;+31 6 87654321;ja\r\n"
        "1005;Els;Smit;els@example.nl;;ja\r\n"
    )
    drop(project, "crm", "klanten_20261001.csv", crm, encoding="cp1252", mtime=T0)
    ingest(con, project, cfg, "crm", "klanten_20261001.csv")
    identity_customers(con)
    refresh_suppressions(con, cfg, tombstone_key=KEY)  # as the daily job does after every load
    yield con, cfg
    con.close()


def platform(project, con, cfg, name: str, lines: list[str], mtime: datetime = T0) -> dict:
    drop(
        project,
        "email_platform",
        name,
        PLATFORM_HEADER + "".join(line + "\n" for line in lines),
        mtime=mtime,
    )
    return ingest(con, project, cfg, "email_platform", name)


def suppressed(con, reason: str | None = None) -> dict[str, set[str]]:
    """customer_id -> reasons (customers only)."""
    rows = con.execute(
        "SELECT customer_id, reason FROM suppressions WHERE customer_id IS NOT NULL"
        + (" AND reason = ?" if reason else ""),
        [reason] if reason else [],
    ).fetchall()
    out: dict[str, set[str]] = {}
    for cid, r in rows:
        out.setdefault(cid, set()).add(r)
    return out


def test_unsubscribe_matches_the_normalized_address_and_phone(project, wh):
    con, cfg = wh
    figures = platform(
        project,
        con,
        cfg,
        "suppressions_1.csv",
        [
            "jan.jansen@gmail.com,,Unsubscribed,2026-10-05 10:00:00,autumn",
            ",0687654321,unsubscribe,2026-10-05 11:00:00,sms",
        ],
    )
    assert figures["events_loaded"] == 2 and figures["events_unsubscribe"] == 2
    refresh_suppressions(con, cfg, tombstone_key=KEY)
    by_customer = suppressed(con, "unsubscribe")
    assert by_customer == {"crm:1001": {"unsubscribe"}, "crm:1004": {"unsubscribe"}}
    # The stored keys are the normalized forms the segments compare by equality.
    keys = con.execute(
        "SELECT email, phone FROM suppressions WHERE reason = 'unsubscribe' ORDER BY 1"
    ).fetchall()
    assert ("jan.jansen@gmail.com", None) in keys and (None, "+31687654321") in keys
    assert (
        con.execute("SELECT email FROM customers WHERE customer_id = 'crm:1001'").fetchone()[0]
        == "jan.jansen@gmail.com"
    )


def test_bad_lines_are_rejected_with_a_reason_and_counts_add_up(project, wh):
    con, cfg = wh
    figures = platform(
        project,
        con,
        cfg,
        "suppressions_2.csv",
        [
            "piet@example.nl,,Hard Bounce,2026-10-05 10:00:00,",
            "klaas@example.nl,,exploded,2026-10-05 10:00:00,",
            ",,Unsubscribed,2026-10-05 10:00:00,",
            "els@example.nl,,Spam Complaint,yesterday,",
            "anna@example.nl,,Soft Bounce,,",
        ],
    )
    assert figures["events_loaded"] == 2 and figures["rows_rejected_at_load"] == 3
    read, loaded, rejected, status = con.execute(
        "SELECT rows_read, rows_loaded, rows_rejected, status FROM ingest_log "
        "WHERE source = 'email_platform'"
    ).fetchone()
    assert (read, loaded, rejected, status) == (5, 2, 3, "loaded")
    reasons = sorted(
        r
        for (r,) in con.execute(
            "SELECT reason FROM rejected_rows WHERE source = 'email_platform'"
        ).fetchall()
    )
    assert reasons[0].startswith("invalid time in field at")
    assert reasons[1] == "no email address or phone number"
    assert reasons[2].startswith("unknown event 'exploded'")
    # A line without a time takes the file's export time.
    at = con.execute(
        "SELECT \"at\" FROM suppression_events WHERE event = 'soft_bounce'"
    ).fetchone()[0]
    assert at == T0
    assert con.execute("SELECT count(*) FROM staged_rows").fetchone()[0] == 0


def test_unsubscribe_and_complaint_suppress_at_once(project, wh):
    con, cfg = wh
    platform(
        project,
        con,
        cfg,
        "suppressions_3.csv",
        [
            "piet@example.nl,,Spam Complaint,2026-10-05 10:00:00,",
            "KLAAS@example.nl ,,Unsubscribed,2026-10-05 10:00:00,",
        ],
    )
    refresh_suppressions(con, cfg, tombstone_key=KEY)
    assert suppressed(con, "complaint") == {"crm:1002": {"complaint"}}
    assert suppressed(con, "unsubscribe") == {"crm:1003": {"unsubscribe"}}


def test_an_unsubscribe_follows_the_person_to_another_golden_address_a_bounce_does_not(
    project, wh
):
    """Piet's golden email moves to a new address (another record of his gives it): his old
    address's unsubscribe still suppresses him; Anna's old address bouncing does not."""
    con, cfg = wh
    platform(
        project,
        con,
        cfg,
        "suppressions_4.csv",
        [
            "piet@example.nl,,Unsubscribed,2026-10-05 10:00:00,",
            "anna@example.nl,,Hard Bounce,2026-10-05 10:00:00,",
        ],
    )
    for customer_id, new_email in (
        ("crm:1002", "piet.p@example.com"),
        ("crm:1004", "ab@example.com"),
    ):
        con.execute(  # stamped as survivorship stamps a golden record whose values change
            "UPDATE customers SET email = ?, updated_at = now() WHERE customer_id = ?",
            [new_email, customer_id],
        )
    refresh_suppressions(con, cfg, tombstone_key=KEY)
    assert suppressed(con, "unsubscribe") == {"crm:1002": {"unsubscribe"}}
    assert suppressed(con, "hard_bounce") == {}
    # the bounced address itself stays suppressed, for whoever else might show it
    assert con.execute(
        "SELECT customer_id FROM suppressions WHERE email = 'anna@example.nl'"
    ).fetchall() == [(None,)]


def test_hard_bounces_count_once_per_event_even_across_overlapping_files(project, wh):
    con, cfg = wh
    two = cfg.model_copy(
        update={"suppression_rules": SuppressionRules(hard_bounces_to_suppress=2)}
    )
    first = "piet@example.nl,,Hard Bounce,2026-10-05 10:00:00,"
    platform(project, con, cfg, "suppressions_4.csv", [first])
    platform(project, con, cfg, "suppressions_5.csv", [first])  # the same bounce, exported again
    refresh_suppressions(con, two, tombstone_key=KEY)
    assert "crm:1002" not in suppressed(con)
    refresh_suppressions(con, cfg, tombstone_key=KEY)  # default rule: one hard bounce is enough
    assert suppressed(con, "hard_bounce") == {"crm:1002": {"hard_bounce"}}
    platform(
        project,
        con,
        cfg,
        "suppressions_6.csv",
        ["piet@example.nl,,Hard Bounce,2026-10-12 10:00:00,"],
    )
    refresh_suppressions(con, two, tombstone_key=KEY)
    assert suppressed(con, "hard_bounce") == {"crm:1002": {"hard_bounce"}}
    detail = con.execute(
        "SELECT detail FROM suppressions WHERE reason = 'hard_bounce'"
    ).fetchone()[0]
    assert detail == "2 hard bounce(s); the rule is 2"


def test_soft_bounces_suppress_only_n_within_the_window(project, wh):
    con, cfg = wh
    platform(
        project,
        con,
        cfg,
        "suppressions_7.csv",
        [
            # piet: three within exactly 30 days (the window includes its first day)
            "piet@example.nl,,Soft Bounce,2026-09-01 08:00:00,",
            "piet@example.nl,,Soft Bounce,2026-09-15 08:00:00,",
            "piet@example.nl,,Soft Bounce,2026-10-01 08:00:00,",
            # klaas: three, but never three within 30 days
            "klaas@example.nl,,Soft Bounce,2026-06-01 08:00:00,",
            "klaas@example.nl,,Soft Bounce,2026-06-25 08:00:00,",
            "klaas@example.nl,,Soft Bounce,2026-07-20 08:00:00,",
            # anna: two soft and one hard: the hard one counts for itself
            "anna@example.nl,,Soft Bounce,2026-09-01 08:00:00,",
            "anna@example.nl,,Soft Bounce,2026-09-02 08:00:00,",
        ],
    )
    refresh_suppressions(con, cfg, tombstone_key=KEY)
    assert suppressed(con, "soft_bounce") == {"crm:1002": {"soft_bounce"}}
    at = con.execute("SELECT \"at\" FROM suppressions WHERE reason = 'soft_bounce'").fetchone()[0]
    assert at == datetime(2026, 10, 1, 8, 0)  # when the rule was met
    wider = cfg.model_copy(
        update={
            "suppression_rules": SuppressionRules(
                soft_bounces_to_suppress=2, soft_bounce_window_days=30
            )
        }
    )
    refresh_suppressions(con, wider, tombstone_key=KEY)
    assert set(suppressed(con, "soft_bounce")) == {"crm:1002", "crm:1003", "crm:1004"}


def test_resubscribe_lifts_earlier_events_and_a_later_unsubscribe_counts_again(project, wh):
    con, cfg = wh
    platform(
        project,
        con,
        cfg,
        "suppressions_8.csv",
        [
            "piet@example.nl,,Unsubscribed,2026-10-02 10:00:00,",
            "piet@example.nl,,Hard Bounce,2026-10-03 10:00:00,",
            "piet@example.nl,,Resubscribed,2026-10-04 10:00:00,",
            "klaas@example.nl,,Resubscribed,2026-10-02 10:00:00,",
            "klaas@example.nl,,Unsubscribed,2026-10-03 10:00:00,",
        ],
    )
    refresh_suppressions(con, cfg, tombstone_key=KEY)
    rows = suppressed(con)
    assert (
        "crm:1002" not in rows
    )  # resubscribed after unsubscribing and bouncing: consent, no suppression
    assert rows["crm:1003"] == {
        "unsubscribe",
        "no_consent",
    }  # the unsubscribe is the latest statement
    consent = dict(con.execute("SELECT customer_id, event FROM consent").fetchall())
    assert consent["crm:1002"] == "resubscribe" and consent["crm:1003"] == "unsubscribe"


def test_an_undated_crm_flag_never_lifts_an_unsubscribe_but_a_dated_opt_in_does(project, wh):
    con, cfg = wh
    platform(
        project,
        con,
        cfg,
        "suppressions_9.csv",
        ["anna@example.nl,,Unsubscribed,2026-10-05 10:00:00,"],
    )
    # Next month the CRM still says "Nieuwsbrief = ja" (nobody updated it), with a newer export
    # time.
    drop(
        project,
        "crm",
        "klanten_20261101.csv",
        CRM_HEADER + "1004;Anna;Bakker;anna@example.nl;+31 6 87654321;ja\r\n",
        encoding="cp1252",
        mtime=datetime(2026, 11, 1),
    )
    ingest(con, project, cfg, "crm", "klanten_20261101.csv")
    refresh_suppressions(con, cfg, tombstone_key=KEY)
    assert "unsubscribe" in suppressed(con)["crm:1004"]
    # The webshop then reports a confirmed double opt-in for her address, dated after the
    # unsubscribe.
    drop(
        project,
        "webshop",
        "customers_20261110.csv",
        '"customer_id","email","newsletter","newsletter_confirmed_at","double_opt_in","updated_at"\n'
        '"WS1","anna@example.nl","true","2026-11-09T20:00:00","true","2026-11-09T20:00:00"\n',
        mtime=datetime(2026, 11, 10),
    )
    ingest(con, project, cfg, "webshop", "customers_20261110.csv")
    identity_customers(con)
    # The matcher puts both records of Anna in one customer.
    con.execute(
        "UPDATE customer_sources SET customer_id = 'crm:1004' WHERE source_record_id = 'WS1'"
    )
    con.execute("DELETE FROM customers WHERE customer_id = 'webshop:WS1'")
    refresh_suppressions(con, cfg, tombstone_key=KEY)
    assert "crm:1004" not in suppressed(con)
    assert con.execute(
        "SELECT source, event FROM consent WHERE customer_id = 'crm:1004'"
    ).fetchone() == ("webshop", "opt_in")


def test_consent_latest_statement_wins_and_double_opt_in_must_be_confirmed(project, wh):
    con, cfg = wh
    drop(
        project,
        "crm",
        "klanten_20261015.csv",
        CRM_HEADER + "1005;Els;Smit;els@example.nl;;nee\r\n1006;Bob;Vos;bob@example.nl;;\r\n",
        encoding="cp1252",
        mtime=datetime(2026, 10, 15),
    )
    ingest(con, project, cfg, "crm", "klanten_20261015.csv")
    drop(
        project,
        "webshop",
        "customers_20261016.csv",
        '"customer_id","email","newsletter","newsletter_confirmed_at","double_opt_in","updated_at"\n'
        '"WS2","wim@example.nl","true","","false","2026-10-16T08:00:00"\n',
        mtime=datetime(2026, 10, 16),
    )
    ingest(con, project, cfg, "webshop", "customers_20261016.csv")
    identity_customers(con)
    summary = refresh_suppressions(con, cfg, tombstone_key=KEY)
    details = dict(
        con.execute(
            "SELECT customer_id, detail FROM suppressions WHERE reason = 'no_consent'"
        ).fetchall()
    )
    assert details == {
        "crm:1005": "latest statement: opt_out",  # ja on 1 October, nee on 15 October
        "crm:1006": "no opt-in statement",
        "webshop:WS2": "double opt-in not confirmed",
    }
    assert summary.customers_with_consent == 4
    # Every customer without a granted consent state has a no_consent row (the documented
    # guarantee).
    assert (
        con.execute(
            """SELECT count(*) FROM customers c
           WHERE NOT EXISTS (SELECT 1 FROM consent k WHERE k.customer_id = c.customer_id
           AND k.newsletter_opt_in)
           AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.customer_id = c.customer_id
           AND s.reason = 'no_consent')"""
        ).fetchone()[0]
        == 0
    )
    # Els opts in again: the newer statement wins.
    drop(
        project,
        "crm",
        "klanten_20261020.csv",
        CRM_HEADER + "1005;Els;Smit;els@example.nl;;ja\r\n",
        encoding="cp1252",
        mtime=datetime(2026, 10, 20),
    )
    ingest(con, project, cfg, "crm", "klanten_20261020.csv")
    refresh_suppressions(con, cfg, tombstone_key=KEY)
    assert "crm:1005" not in suppressed(con)
    history = con.execute(
        'SELECT opt_in, "at" FROM consent_events WHERE source_record_id = \'1005\' ORDER BY "at"'
    ).fetchall()
    assert history == [(True, T0), (False, datetime(2026, 10, 15)), (True, datetime(2026, 10, 20))]


def test_rebuilding_changes_nothing(project, wh):
    con, cfg = wh
    platform(
        project,
        con,
        cfg,
        "suppressions_10.csv",
        [
            "piet@example.nl,,Soft Bounce,2026-09-01 08:00:00,",
            "klaas@example.nl,,Unsubscribed,2026-10-05 10:00:00,",
        ],
    )
    refresh_suppressions(con, cfg, tombstone_key=KEY)
    first = sorted(map(repr, con.execute("SELECT * FROM suppressions").fetchall()))
    events = con.execute("SELECT count(*) FROM consent_events").fetchone()[0]
    summary = refresh_suppressions(con, cfg, tombstone_key=KEY)
    assert sorted(map(repr, con.execute("SELECT * FROM suppressions").fetchall())) == first
    assert summary.consent_events_recorded == 0
    assert con.execute("SELECT count(*) FROM consent_events").fetchone()[0] == events
