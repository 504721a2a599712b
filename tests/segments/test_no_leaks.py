"""Every configured segment, run for real to every destination: no suppressed person and no one
without opt-in ever reaches a file or a mail, whatever the segment's filter says."""

from __future__ import annotations

import csv
import io
import random
from datetime import date, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

from pipelines.config import Segment, load_exports
from pipelines.export.run import export_segment
from tests.segments.people import customer, insert, warehouse

REPO = Path(__file__).resolve().parents[2]
DAY1, DAY2 = datetime(2026, 12, 28, 6), datetime(2026, 12, 29, 6)
REASONS = ["unsubscribe", "hard_bounce", "complaint", "erasure", "no_consent"]


def population(n: int, seed: int = 8) -> list[dict]:
    rnd = random.Random(seed)
    people = []
    for i in range(n):
        birth = date(1950, 1, 1) + timedelta(days=rnd.randrange(365 * 55))
        if i % 97 == 0:
            birth = date(1996, 2, 29)
        people.append(
            customer(
                f"k{i:05d}",
                email=f"person{i}@example.{rnd.choice(['nl', 'be', 'se'])}"
                if rnd.random() > 0.05
                else None,
                email_status=rnd.choice(["valid", "valid", "valid", "corrected", "invalid"]),
                phone=f"+316{rnd.randrange(10**8):08d}" if rnd.random() > 0.2 else None,
                birth_date=birth if rnd.random() > 0.25 else None,
                country=rnd.choice(["NL", "NL", "BE", "SE", None]),
                newsletter_opt_in=rnd.choice([True, True, True, False, None]),
                last_purchase_at=datetime(2026, 12, 1) - timedelta(days=rnd.randrange(1200))
                if rnd.random() > 0.1
                else None,
                first_name=rnd.choice(["Anna", "=cmd|' /C calc'!A0", "Åsa", "+Piet", None]),
                created_at=datetime(2026, 12, 27, 6) if i % 13 == 0 else datetime(2025, 1, 1),
            )
        )
    return people


def activity(people: list[dict], seed: int = 9) -> list[dict]:
    """customer_metrics rows: orders, RFM, categories, engagement and the sunset clock."""
    rnd = random.Random(seed)
    rows = []
    for p in people:
        orders = rnd.choice([0, 0, 1, 2, 5])
        rows.append(
            {
                "customer_id": p["customer_id"],
                "order_count": orders,
                "total_spent": orders * rnd.randrange(20, 200),
                "last_order_at": datetime(2026, 12, 1) - timedelta(days=rnd.randrange(900))
                if orders
                else None,
                "rfm_segment": rnd.choice(["champions", "loyal", "new", "at_risk"])
                if orders
                else None,
                "top_category": rnd.choice(["tassen", "=SUM(A1)", "sport"]) if orders else None,
                "campaigns_since_last_engagement": rnd.randrange(15),
                "inactive_since": datetime(2026, 12, 1) if rnd.random() < 0.1 else None,
                "first_seen_at": p["created_at"],
            }
        )
    return rows


def suppress(people: list[dict], share: float, seed: int) -> list[dict]:
    """Suppressions matching by customer id, by email (other case) or by phone, every reason."""
    rnd = random.Random(seed)
    out = []
    for p in people:
        if rnd.random() >= share:
            continue
        reason = rnd.choice(REASONS)
        key = rnd.choice(["customer_id", "email", "phone"])
        if key == "email" and p["email"]:
            out.append({"email": p["email"].upper(), "reason": reason})
        elif key == "phone" and p["phone"]:
            out.append({"phone": p["phone"], "reason": reason})
        else:
            out.append({"customer_id": p["customer_id"], "reason": reason})
    return out


def delivered_rows(outbox: Path) -> list[dict]:
    """Every row of every CSV delivered: files in the outbox and attachments of the .eml mails."""
    texts = []
    for path in outbox.rglob("*.csv"):
        if ".staging" not in path.parts:
            texts.append(path.read_bytes())
    for eml in outbox.rglob("*.eml"):
        msg = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
        texts += [a.get_payload(decode=True) for a in msg.iter_attachments()]
    rows = []
    for data in texts:
        text = data.decode("utf-8-sig")
        delimiter = ";" if text.split("\r\n", 1)[0].count(";") else ","
        rows += list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))
    return rows


def forbidden(con) -> tuple[set, set, set]:
    """(customer ids, emails, phones) of everyone suppressed or without opt-in."""
    rows = con.execute(
        """SELECT customer_id, lower(email), phone FROM segment_candidates
           WHERE is_suppressed OR newsletter_opt_in IS NOT TRUE"""
    ).fetchall()
    return {r[0] for r in rows}, {r[1] for r in rows if r[1]}, {r[2] for r in rows if r[2]}


def check(rows: list[dict], ids: set, emails: set, phones: set) -> None:
    for r in rows:
        if r.get("customer_id") in ids:
            # Only allowed as a delta's `removed` line, which carries the id and nothing else.
            assert r.get("change") == "removed", r["customer_id"]
            assert not any(v for k, v in r.items() if k not in ("customer_id", "change")), r[
                "customer_id"
            ]
        assert (r.get("email") or "").lower() not in emails
        assert (r.get("phone") or "") not in phones


def test_no_suppressed_or_unconsented_person_leaks_from_any_segment(tmp_path):
    cfg = load_exports(REPO / "sftp_config" / "exports.yaml")
    adversarial = Segment(
        filter="is_suppressed OR newsletter_opt_in IS NOT TRUE OR true",
        columns=["customer_id", "email", "phone"],
    )
    cfg = cfg.model_copy(update={"segments": {**cfg.segments, "everyone_please": adversarial}})
    people = population(3000)
    con = warehouse(tmp_path / "w.duckdb", people, suppress(people, 0.15, seed=1))
    insert(con, "customer_metrics", activity(people))
    outbox = tmp_path / "outbox"

    sizes = {}
    for name, segment in cfg.segments.items():
        sizes[name] = export_segment(con, name, segment, cfg, outbox=outbox, now=DAY1).rows
    assert all(sizes[name] > 0 for name in cfg.segments), (
        sizes
    )  # every segment really exported someone
    first = delivered_rows(outbox)
    assert (
        len(first) == sum(sizes.values()) + sizes["winback"]
    )  # winback went to the outbox and by mail
    check(first, *forbidden(con))

    # More people unsubscribe overnight; the next day's files and mails (full and delta) leave them
    # out.
    (outbox / "mail").rename(tmp_path / "mail_day1")
    for p in outbox.rglob("*20261228*"):
        p.rename(tmp_path / p.name)
    insert(con, "suppressions", suppress(people, 0.05, seed=2))
    for name, segment in cfg.segments.items():
        export_segment(con, name, segment, cfg, outbox=outbox, now=DAY2)
    ids, emails, phones = forbidden(con)
    second = delivered_rows(outbox)
    assert len(second) > 1000
    check(second, ids, emails, phones)
    # The winback delta tells the platform to drop the newly suppressed: by id only.
    removed = {r["customer_id"] for r in second if r.get("change") == "removed"}
    assert removed & ids
