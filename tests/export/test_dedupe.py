"""One row per inbox (or per postal address): `dedupe_by` through real exports of hand-made
customers."""

from __future__ import annotations

import csv
from datetime import datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

from pipelines.config import EmailDestination, ExportFormat, ExportsConfig, Segment, load_exports
from pipelines.export.run import export_segment
from tests.segments.people import customer, warehouse

DAY1, DAY2 = datetime(2026, 11, 24, 6), datetime(2026, 11, 25, 6)
OLD, NEW = datetime(2025, 3, 1, 9), datetime(2026, 10, 1, 9)


def rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def export(con, tmp_path, segment: Segment, now=DAY1, **cfg):
    config = ExportsConfig(segments={"seg": segment}, **cfg)
    return export_segment(con, "seg", segment, config, outbox=tmp_path / "outbox", now=now)


def shared_inbox() -> list[dict]:
    """Three customers of one inbox (spelled three ways) and one of their own."""
    return [
        customer("old", email="Anna@Example.nl", updated_at=OLD, last_purchase_at=OLD),
        # updated long ago, but bought recently: the newest evidence of the three with consent
        customer("recent", email=" anna@example.NL", updated_at=OLD, last_purchase_at=NEW),
        # the newest of all, but without newsletter consent
        customer(
            "no_consent",
            email="anna@example.nl",
            newsletter_opt_in=False,
            updated_at=datetime(2026, 11, 20),
        ),
        customer("other"),
    ]


def test_two_customers_one_inbox_one_row_consented_and_recent_wins(tmp_path):
    con = warehouse(tmp_path / "w.duckdb", shared_inbox())
    segment = Segment(
        filter="has_valid_email", columns=["customer_id", "email"], file_name="seg.csv"
    )
    assert segment.dedupe == "email"  # the default for a segment that exports email addresses
    result = export(con, tmp_path, segment)
    exported = rows(tmp_path / "outbox" / "seg" / "seg.csv")
    assert [r["customer_id"] for r in exported] == ["other", "recent"]
    # marketing: no_consent is left out by safety already; of the two consented, old is the
    # duplicate
    assert result.excluded == {"suppressed": 0, "without_opt_in": 1, "deduplicated": 1}
    assert con.execute(
        "SELECT rows, segment_rows, rows_deduplicated, status FROM export_log"
    ).fetchall() == [(2, 2, 1, "ok")]


def test_service_mail_prefers_consent_over_newer_evidence(tmp_path):
    con = warehouse(tmp_path / "w.duckdb", shared_inbox())
    segment = Segment(
        filter="has_valid_email",
        columns=["customer_id", "email"],
        file_name="seg.csv",
        requires_opt_in=False,
    )
    result = export(con, tmp_path, segment)
    assert [r["customer_id"] for r in rows(tmp_path / "outbox" / "seg" / "seg.csv")] == [
        "other",
        "recent",
    ]
    assert result.deduplicated == 2
    assert con.execute("SELECT rows_deduplicated FROM export_log").fetchone() == (2,)


def test_none_keeps_every_customer(tmp_path):
    con = warehouse(tmp_path / "w.duckdb", shared_inbox())
    segment = Segment(
        filter="has_valid_email",
        columns=["customer_id", "email"],
        file_name="seg.csv",
        dedupe_by="none",
    )
    result = export(con, tmp_path, segment)
    exported = rows(tmp_path / "outbox" / "seg" / "seg.csv")
    assert [r["customer_id"] for r in exported] == ["old", "other", "recent"]
    assert result.deduplicated == 0
    assert con.execute("SELECT rows_deduplicated FROM export_log").fetchone() == (0,)


def test_household_one_postal_row_per_address(tmp_path):
    people = [
        customer("h1", postcode="1234 AB", house_number="12", updated_at=OLD),
        customer(
            "h2", postcode="1234ab", house_number="12 ", updated_at=NEW
        ),  # same address, newer: wins
        customer(
            "h3", postcode="1234 AB", house_number="12", house_number_suffix="A"
        ),  # the flat next door
        customer("h4", postcode="1234 AB", house_number="14"),
        # no postcode: street + number + city
        customer(
            "s1",
            postcode=None,
            street="Kerkstraat",
            house_number="3",
            city="Gent",
            country="BE",
            updated_at=NEW,
        ),
        customer(
            "s2",
            postcode=None,
            street="kerkstraat ",
            house_number="3",
            city="GENT",
            country="BE",
            updated_at=OLD,
        ),
        customer(
            "nowhere", postcode=None, street=None, house_number=None, city=None
        ),  # no address: kept
    ]
    con = warehouse(tmp_path / "w.duckdb", people)
    columns = ["customer_id", "street", "house_number", "house_number_suffix", "postcode", "city"]
    assert (
        Segment(filter="true", columns=columns).dedupe == "none"
    )  # no email column: no default dedupe
    segment = Segment(filter="true", columns=columns, file_name="post.csv", dedupe_by="household")
    result = export(con, tmp_path, segment)
    assert [r["customer_id"] for r in rows(tmp_path / "outbox" / "seg" / "post.csv")] == [
        "h2",
        "h3",
        "h4",
        "nowhere",
        "s1",
    ]
    assert result.deduplicated == 2
    assert con.execute("SELECT rows_deduplicated FROM export_log").fetchone() == (2,)


def test_delta_follows_the_winner(tmp_path):
    people = [
        customer("a", email="same@example.nl", updated_at=NEW),
        customer("b", email="same@example.nl", updated_at=OLD),
    ]
    con = warehouse(tmp_path / "w.duckdb", people)
    segment = Segment(
        filter="has_valid_email",
        columns=["customer_id", "email"],
        file_name="d_{date:%d}.csv",
        format=ExportFormat(mode="delta"),
    )
    export(con, tmp_path, segment, DAY1)
    assert [
        (r["customer_id"], r["change"]) for r in rows(tmp_path / "outbox" / "seg" / "d_24.csv")
    ] == [("a", "added")]

    con.execute(
        "UPDATE customers SET last_purchase_at = DATE '2026-11-24' WHERE customer_id = 'b'"
    )
    second = export(con, tmp_path, segment, DAY2)
    assert [
        (r["customer_id"], r["change"]) for r in rows(tmp_path / "outbox" / "seg" / "d_25.csv")
    ] == [("b", "added"), ("a", "removed")]
    assert (second.rows, second.deduplicated) == (1, 1)
    # the delta baseline now holds the new winner only
    baseline = con.execute(
        "SELECT customer_id FROM segment_members WHERE destination = 'outbox'"
    ).fetchall()
    assert baseline == [("b",)]


def test_mail_summary_counts_the_left_out_duplicates(tmp_path):
    con = warehouse(tmp_path / "w.duckdb", shared_inbox())
    segment = Segment(
        filter="has_valid_email",
        columns=["customer_id", "email"],
        file_name="seg.csv",
        destinations=["mail"],
    )
    export(
        con,
        tmp_path,
        segment,
        destinations={"mail": EmailDestination(type="email", to=["m@localhost"])},
    )
    (eml,) = (tmp_path / "outbox" / "mail").glob("*.eml")
    body = (
        BytesParser(policy=policy.default).parse(eml.open("rb")).get_body(("plain",)).get_content()
    )
    assert (
        "Sent once per inbox: 1 customers left out who share it with a customer in the list"
        in body
    )


def test_shipped_config_dedupes_every_email_export():
    cfg = load_exports(Path(__file__).resolve().parents[2] / "sftp_config" / "exports.yaml")
    assert {name: s.dedupe for name, s in cfg.segments.items()} == {
        name: "email" for name in cfg.segments
    }
