"""A daily, incremental refresh of suppressions and consent equals a full rebuild: real drops,
the real matcher (a merge and a split), an unsubscribe, a bounce, an opt-out, an erasure and the
erased person coming back."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta

from pipelines.match.engine import build_customers
from pipelines.match.settings import load_match_settings
from pipelines.privacy.erasure import ErasureRequest, erase
from pipelines.privacy.rules import refresh_suppressions
from pipelines.warehouse import connect, transaction
from tests.privacy.helpers import config, drop, ingest

KEY = b"test-tombstone-key-0123456789"
CRM_HEADER = "KlantID;Voornaam;Achternaam;Email;Telefoon;Nieuwsbrief\r\n"
PLATFORM_HEADER = "Email Address,Phone,Event,Timestamp,Campaign\n"
T0 = datetime(2026, 10, 1, 9, 0)
FIRST = ["Jan", "Piet", "Klaas", "Anna", "Els", "Sanne", "Bram", "Lotte", "Daan", "Eva"]
LAST = ["Jansen", "de Vries", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos"]


def person(i: int) -> tuple[str, str, str, str]:
    """First name, last name, email, phone of person i."""
    first, last = FIRST[i % len(FIRST)], LAST[i % len(LAST)]
    return first, last, f"p{i}@example.nl", f"06{12340000 + i:08d}"


def crm_line(record: int, i: int, opt_in: str = "ja", **override) -> str:
    first, last, email, phone = person(i)
    values = {"first": first, "last": last, "email": email, "phone": phone, **override}
    return (
        f"{record};{values['first']};{values['last']};{values['email']};{values['phone']};"
        f"{opt_in}\r\n"
    )


def snapshot(con) -> dict[str, list]:
    return {
        t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
        for t in ("suppressions", "consent", "customer_addresses")
    }


def test_incremental_refresh_equals_full_rebuild_over_daily_drops(project, tmp_path):
    cfg = config(project)
    settings = load_match_settings(project.config_dir / "matching.yaml")
    priority = {name: s.priority for name, s in cfg.sources.items()}
    con = connect(project.warehouse)

    # Day 0: 40 people; 1100 is a second record of person 1 (merged with 1001 from the start);
    # 1007 and 1107 are person 7 with no common address (two customers until a bridge comes).
    day0 = [crm_line(1000 + i, i) for i in range(40)]
    day0.append(crm_line(1100, 1, phone=""))
    day0.append(crm_line(1102, 2, phone=""))
    day0[7] = crm_line(1007, 7, phone="")
    day0.append(crm_line(1107, 7, email=""))
    days: list[tuple[list[str], list[str]]] = [
        (day0, []),
        # Day 1: a bridge record joins person 7's two customers (a merge); an unsubscribe, a hard
        # bounce, and a new person.
        (
            [crm_line(1207, 7), crm_line(1050, 50)],
            [
                "p3@example.nl,,Unsubscribed,2026-10-02 10:00:00,",
                "p4@example.nl,,Hard Bounce,2026-10-02 10:00:00,",
            ],
        ),
        # Day 2: 1100 becomes someone else (a split off person 1); person 5 opts out, person 3
        # moves to a new address (the unsubscribe follows her), person 9 complains by phone.
        (
            [
                crm_line(1100, 60),
                crm_line(1005, 5, opt_in="nee"),
                crm_line(1003, 3, email="p3.new@example.nl"),
            ],
            [f",{person(9)[3]},spam,2026-10-03 10:00:00,"],
        ),
        # Day 3: person 12 is erased (below); day 4 they come back in the CRM, person 4
        # resubscribes, and 1102 turns out to be person 3 (it moves from person 2's customer to
        # person 3's; both keep their ids).
        ([], []),
        (
            [crm_line(1112, 12), crm_line(1102, 3, email="p3.new@example.nl", phone="")],
            ["p4@example.nl,,resubscribe,2026-10-05 10:00:00,"],
        ),
    ]
    modes, reasons = [], set()
    for day, (crm, events) in enumerate(days):
        when = T0 + timedelta(days=day)
        if crm:
            name = f"klanten_{when:%Y%m%d}.csv"
            drop(project, "crm", name, CRM_HEADER + "".join(crm), encoding="cp1252", mtime=when)
            ingest(con, project, cfg, "crm", name)
        if events:
            name = f"suppressions_{day}.csv"
            drop(project, "email_platform", name, PLATFORM_HEADER + "\n".join(events) + "\n")
            ingest(con, project, cfg, "email_platform", name)
        if day == 3:
            erase(
                con,
                [ErasureRequest(email="p12@example.nl")],
                paths=project,
                config=cfg,
                key=KEY,
                now=when,
                origin="cli",
            )
        with transaction(con):
            build_customers(
                con,
                settings=settings,
                source_priority=priority,
                overrides_path=None,
                now=when + timedelta(hours=1),
            )
        now = when + timedelta(hours=2)
        modes.append(refresh_suppressions(con, cfg, tombstone_key=KEY, now=now).mode)
        incremental = snapshot(con)
        reasons |= {r[3] for r in incremental["suppressions"]}

        # The same warehouse rebuilt from scratch.
        con.close()
        copy = tmp_path / f"full_{day}.duckdb"
        shutil.copy(project.warehouse, copy)
        full = connect(copy)
        assert refresh_suppressions(full, cfg, tombstone_key=KEY, now=now, full=True).mode == (
            "full"
        )
        assert snapshot(full) == incremental, f"day {day}"
        full.close()
        con = connect(project.warehouse)

    # The sequence did what it says: a merge, a split, each reason, the erased person back.
    kinds = {k for (k,) in con.execute("SELECT DISTINCT kind FROM customer_merges").fetchall()}
    con.close()
    assert {"merge", "split"} <= kinds
    assert {"unsubscribe", "hard_bounce", "complaint", "no_consent", "erasure"} <= reasons
    # Day 3 (the erasure) is full; the other days after the first are incremental.
    assert modes == ["full", "incremental", "incremental", "full", "incremental"]
