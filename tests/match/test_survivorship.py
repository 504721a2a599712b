"""Survivorship rules on hand-made records: which value each golden field shows, and why."""

from __future__ import annotations

from datetime import datetime

from pipelines.ingest.land import export_time
from pipelines.match.settings import MatchSettings, Survivorship
from pipelines.match.survivorship import build_golden, call_name_pairs
from tests.match.conftest import add_contacts, contact, customer_of, run

ADDRESS_OLD = dict(
    street="Hoofdstraat", house_number="12", postcode="3512 AB", city="Utrecht", country="NL"
)
ADDRESS_NEW = dict(
    street="Lange Nieuwstraat", house_number="7", postcode="3512 PH", city="Utrecht", country="NL"
)
PERSON = dict(first_name="Pieter", infix="de", last_name="Vries", birth_date="1971-05-04")


def golden(
    con,
    records: list[dict],
    settings: MatchSettings | None = None,
    priority: dict[str, int] | None = None,
) -> dict:
    """The golden record of one customer made of exactly these records."""
    add_contacts(con, records)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _members "
        "(customer_id VARCHAR, source VARCHAR, source_record_id VARCHAR)"
    )
    con.executemany(
        "INSERT INTO _members VALUES ('C1', ?, ?)",
        [(r["source"], r["source_record_id"]) for r in records],
    )
    build_golden(
        con, "_members", settings or MatchSettings(), priority or {"crm": 1, "webshop": 2}
    )
    cur = con.execute("SELECT * FROM _m_golden")
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    assert len(rows) == 1
    return dict(zip(names, rows[0]))


def landed(con, file_id: str, name: str, exported: datetime | None, mtime: datetime) -> None:
    con.execute(
        """INSERT INTO ingest_log (file_id, source, file_name, status, remote_mtime, exported_at)
           VALUES (?, 'crm', ?, 'loaded', ?, ?)""",
        [file_id, name, mtime, exported],
    )


def test_export_date_comes_from_the_file_name_else_the_mtime():
    mtime = datetime(2026, 12, 4, 9, 30)
    assert export_time("crm_2026-12-01.csv", mtime) == datetime(2026, 12, 1)
    assert export_time("out/klanten_20261123.csv", mtime) == datetime(2026, 11, 23)
    assert export_time("export 01-12-2026.txt", mtime) == datetime(2026, 12, 1)
    assert export_time("crm_2026-12-04.csv", mtime) == mtime  # same day: the mtime is more precise
    assert export_time("klanten.csv", mtime) == mtime
    assert export_time("batch_20261399.csv", mtime) == mtime  # not a date


def test_the_newer_drop_wins_the_address_when_records_carry_no_dates(warehouse):
    # One person created twice in the CRM; only the drops say which record is current.
    landed(
        warehouse, "old-drop", "crm_2025-03-01.csv", datetime(2025, 3, 1), datetime(2026, 12, 1)
    )
    landed(
        warehouse, "new-drop", "crm_2026-11-30.csv", datetime(2026, 11, 30), datetime(2026, 12, 1)
    )
    g = golden(
        warehouse,
        [
            contact("crm", "A", file_id="new-drop", **PERSON, **ADDRESS_NEW),
            contact("crm", "B", file_id="old-drop", **PERSON, **ADDRESS_OLD),
        ],
    )
    assert (g["street"], g["postcode"]) == ("Lange Nieuwstraat", "3512 PH")
    # ... and no export date at all: the mtime of the file stands in
    landed(warehouse, "plain-old", "klanten.csv", None, datetime(2025, 1, 1))
    landed(warehouse, "plain-new", "klanten.csv", None, datetime(2026, 6, 1))
    g = golden(
        warehouse,
        [
            contact("crm", "A", file_id="plain-old", **PERSON, **ADDRESS_OLD),
            contact("crm", "B", file_id="plain-new", **PERSON, **ADDRESS_NEW),
        ],
    )
    assert g["street"] == "Lange Nieuwstraat"


def test_newest_evidence_beats_source_priority(warehouse):
    # The CRM (priority 1) last saw the old address at a purchase in 2024; the webshop
    # record was updated after the move.
    g = golden(
        warehouse,
        [
            contact(
                "crm",
                "A",
                **PERSON,
                **ADDRESS_OLD,
                phone="+31612345678",
                last_purchase_at=datetime(2024, 5, 1),
            ),
            contact(
                "webshop",
                "W",
                **PERSON,
                **ADDRESS_NEW,
                phone="+31687654321",
                updated_at=datetime(2026, 2, 1),
            ),
        ],
    )
    assert g["street"] == "Lange Nieuwstraat" and g["phone"] == "+31687654321"
    # the same evidence date: source priority breaks the tie
    g = golden(
        warehouse,
        [
            contact("crm", "A", **PERSON, **ADDRESS_OLD, updated_at=datetime(2026, 2, 1)),
            contact("webshop", "W", **PERSON, **ADDRESS_NEW, updated_at=datetime(2026, 2, 1)),
        ],
    )
    assert g["street"] == "Hoofdstraat"
    # configured the other way round: the CRM's address first
    cfg = MatchSettings(
        survivorship=Survivorship(groups={"address": ["source_priority", "recency"]})
    )
    g = golden(
        warehouse,
        [
            contact("crm", "A", **PERSON, **ADDRESS_OLD, last_purchase_at=datetime(2024, 5, 1)),
            contact("webshop", "W", **PERSON, **ADDRESS_NEW, updated_at=datetime(2026, 2, 1)),
        ],
        settings=cfg,
    )
    assert g["street"] == "Hoofdstraat"


def test_a_bounced_email_loses_to_an_older_one_that_works(warehouse):
    warehouse.execute(
        """INSERT INTO suppression_events (source, file_id, line_number, email, event, "at")
           VALUES ('mailer', 'm1', 2, 'pieter.devries@hetnet.nl', 'hard_bounce',
                   TIMESTAMP '2026-01-10 08:00:00')"""
    )
    g = golden(
        warehouse,
        [
            contact(
                "crm",
                "A",
                **PERSON,
                email="pieter.devries@hetnet.nl",
                updated_at=datetime(2026, 2, 1),
            ),
            contact(
                "webshop",
                "W",
                **PERSON,
                email="pdevries71@gmail.com",
                updated_at=datetime(2024, 1, 1),
            ),
        ],
    )
    assert g["email"] == "pdevries71@gmail.com"


def test_a_complained_email_loses_to_another_that_did_not(warehouse):
    warehouse.execute(
        """INSERT INTO suppression_events (source, file_id, line_number, email, event, "at")
           VALUES ('mailer', 'm1', 2, 'pieter@ziggo.nl', 'complaint',
                   TIMESTAMP '2026-01-10 08:00:00')"""
    )
    g = golden(
        warehouse,
        [
            contact(
                "crm", "A", **PERSON, email="pieter@ziggo.nl", updated_at=datetime(2026, 2, 1)
            ),
            contact(
                "webshop",
                "W",
                **PERSON,
                email="pdevries71@gmail.com",
                updated_at=datetime(2024, 1, 1),
            ),
        ],
    )
    assert g["email"] == "pdevries71@gmail.com"


def test_a_closed_provider_never_wins_and_a_personal_mailbox_beats_a_role_address(warehouse):
    g = golden(
        warehouse,
        [
            contact(
                "crm",
                "A",
                **PERSON,
                email="pieter@planet.nl",
                email_is_closed_provider=True,
                updated_at=datetime(2026, 2, 1),
            ),
            contact(
                "webshop",
                "W",
                **PERSON,
                email="pdevries71@gmail.com",
                updated_at=datetime(2023, 1, 1),
            ),
        ],
    )
    assert g["email"] == "pdevries71@gmail.com"
    g = golden(
        warehouse,
        [
            contact(
                "crm",
                "A",
                **PERSON,
                email="info@devries-schilders.nl",
                email_is_role=True,
                updated_at=datetime(2026, 2, 1),
            ),
            contact(
                "webshop",
                "W",
                **PERSON,
                email="pieter@devries-schilders.nl",
                email_is_role=False,
                updated_at=datetime(2026, 2, 1),
            ),
        ],
    )
    assert g["email"] == "pieter@devries-schilders.nl"


def test_b2c_prefers_a_consumer_provider_over_a_company_domain(warehouse):
    records = [
        contact(
            "crm",
            "A",
            **PERSON,
            email="p.devries@acme-logistics.nl",
            email_is_personal_provider=False,
            updated_at=datetime(2026, 2, 1),
        ),
        contact(
            "webshop",
            "W",
            **PERSON,
            email="pdevries71@gmail.com",
            email_is_personal_provider=True,
            updated_at=datetime(2026, 2, 1),
        ),
    ]
    assert golden(warehouse, records)["email"] == "pdevries71@gmail.com"
    b2b = MatchSettings(survivorship=Survivorship(b2c=False))
    assert (
        golden(warehouse, records, settings=b2b)["email"] == "p.devries@acme-logistics.nl"
    )  # priority decides


def test_the_spelling_most_records_show_wins_over_a_one_off_typo(warehouse):
    g = golden(
        warehouse,
        [
            contact("crm", "A", first_name="Nicolaas", last_name="Bakker"),
            contact(
                "crm",
                "B",
                first_name="Niicolaas",
                last_name="Bakkker",
                updated_at=datetime(2026, 2, 1),
            ),
            contact("webshop", "W", first_name="Nicolaas", last_name="Bakker"),
        ],
    )
    assert (g["first_name"], g["last_name"]) == ("Nicolaas", "Bakker")


def test_a_tie_goes_to_the_spelling_common_across_all_contacts(warehouse):
    others = [
        contact("webshop", f"X{i}", first_name="Lindsey", last_name="Mertens") for i in range(3)
    ]
    add_contacts(warehouse, others)
    g = golden(
        warehouse,
        [
            contact("crm", "A", first_name="Linfsey", last_name="Merteens"),
            contact("webshop", "W", first_name="Lindsey", last_name="Mertens"),
        ],
    )
    assert (g["first_name"], g["last_name"]) == ("Lindsey", "Mertens")


def test_a_full_first_name_beats_an_initial_or_a_call_name(warehouse):
    g = golden(
        warehouse,
        [
            contact("crm", "A", first_name="Piet", last_name="Jansen"),
            contact("crm", "B", first_name="Piet", last_name="Jansen"),
            contact("webshop", "W", first_name="Pieter", last_name="Jansen"),
        ],
    )
    assert g["first_name"] == "Pieter"
    g = golden(
        warehouse,
        [
            contact("crm", "A", first_name="Hans", last_name="Jansen"),
            contact("webshop", "W", first_name="Johannes", last_name="Jansen"),
        ],
    )
    assert g["first_name"] == "Johannes"
    g = golden(
        warehouse,
        [
            contact("crm", "A", first_name="J.", first_name_is_initials=True, last_name="Jansen"),
            contact("crm", "B", first_name="J.", first_name_is_initials=True, last_name="Jansen"),
            contact("webshop", "W", first_name="Johan", last_name="Jansen"),
        ],
    )
    assert g["first_name"] == "Johan"
    assert ("piet", "pieter") in call_name_pairs() and ("pieter", "piet") not in call_name_pairs()


def test_diacritics_are_restored_and_mojibake_loses(warehouse):
    g = golden(
        warehouse,
        [
            contact("crm", "A", first_name="Bjorn", last_name="Sjoberg", country="SE"),
            contact("crm", "B", first_name="Bjorn", last_name="Sjoberg", country="SE"),
            contact("webshop", "W", first_name="Björn", last_name="Sjöberg", country="SE"),
        ],
    )
    assert (g["first_name"], g["last_name"]) == ("Björn", "Sjöberg")
    g = golden(
        warehouse,
        [
            contact(
                "crm",
                "A",
                first_name="BjÃ¶rn",
                last_name="SjÃ¶berg",
                updated_at=datetime(2026, 2, 1),
            ),
            contact("webshop", "W", first_name="Björn", last_name="Sjöberg"),
        ],
    )
    assert (g["first_name"], g["last_name"]) == ("Björn", "Sjöberg")


def test_country_and_city_come_from_another_record_of_the_customer(warehouse):
    g = golden(
        warehouse,
        [
            contact(
                "webshop",
                "W",
                **PERSON,
                street="Kerkstraat",
                house_number="3",
                postcode="8011 CD",
                updated_at=datetime(2026, 2, 1),
            ),
            contact("crm", "A", **PERSON, postcode="8011 CD", city="Zwolle", country="NL"),
        ],
    )
    assert (g["street"], g["city"], g["country"], g["country_status"]) == (
        "Kerkstraat",
        "Zwolle",
        "NL",
        "inferred",
    )


def test_birth_date_by_consensus(warehouse):
    g = golden(
        warehouse,
        [
            contact("crm", "A", first_name="Anna", last_name="Smit", birth_date="1953-03-08"),
            contact("crm", "B", first_name="Anna", last_name="Smit", birth_date="1953-08-03"),
            contact("webshop", "W", first_name="Anna", last_name="Smit", birth_date="1953-03-08"),
        ],
    )
    assert str(g["birth_date"]) == "1953-03-08"


def test_a_customer_showing_a_bounced_email_is_recomputed_on_the_next_run(warehouse):
    records = [
        contact(
            "crm",
            "A",
            **PERSON,
            **ADDRESS_OLD,
            email="pieter.devries@ziggo.nl",
            updated_at=datetime(2026, 2, 1),
        ),
        contact(
            "webshop",
            "W",
            **PERSON,
            **ADDRESS_OLD,
            email="pdevries71@gmail.com",
            updated_at=datetime(2025, 2, 1),
        ),
    ]
    add_contacts(warehouse, records)
    run(warehouse)
    cid = customer_of(warehouse, "crm", "A")
    assert customer_of(warehouse, "webshop", "W") == cid

    def email():
        return warehouse.execute(
            "SELECT email FROM customers WHERE customer_id = ?", [cid]
        ).fetchone()[0]

    assert email() == "pieter.devries@ziggo.nl"
    warehouse.execute(
        """INSERT INTO suppression_events (source, file_id, line_number, email, event, "at")
           VALUES ('mailer', 'm1', 2, 'pieter.devries@ziggo.nl', 'hard_bounce',
                   TIMESTAMP '2026-02-20 08:00:00')"""
    )
    run(warehouse, now=datetime(2026, 3, 2, 6, 0))
    assert email() == "pdevries71@gmail.com"


def test_a_record_that_changed_between_drops_beats_an_unchanged_one(warehouse):
    # Two CRM records of one person, neither with a date of its own; the January drop has both at
    # the old address, the February drop shows record A moved. B is re-sent unchanged.
    landed(warehouse, "jan", "crm_2026-01-05.csv", datetime(2026, 1, 5), datetime(2026, 1, 5, 7))
    landed(warehouse, "feb", "crm_2026-02-02.csv", datetime(2026, 2, 2), datetime(2026, 2, 2, 7))
    same = dict(PERSON, email="pieter.devries@ziggo.nl")
    add_contacts(
        warehouse,
        [
            contact("crm", "A", file_id="jan", **same, **ADDRESS_OLD),
            contact("crm", "B", file_id="jan", **same, **ADDRESS_OLD),
            contact("webshop", "W", **same, **ADDRESS_OLD, updated_at=datetime(2026, 1, 20)),
        ],
    )
    run(warehouse, now=datetime(2026, 1, 5, 8))
    add_contacts(
        warehouse,
        [
            contact("crm", "B", file_id="feb", **same, **ADDRESS_OLD),
            contact("crm", "A", file_id="feb", **same, **ADDRESS_NEW),
        ],
    )
    run(warehouse, now=datetime(2026, 2, 2, 8))
    cid = customer_of(warehouse, "crm", "A")
    assert {customer_of(warehouse, "crm", "B"), customer_of(warehouse, "webshop", "W")} == {cid}
    street = warehouse.execute(
        "SELECT street FROM customers WHERE customer_id = ?", [cid]
    ).fetchone()[0]
    assert (
        street == "Lange Nieuwstraat"
    )  # changed in the February drop: newer than the webshop's update
    changed = dict(
        warehouse.execute("SELECT source_record_id, changed_at FROM match_records").fetchall()
    )
    assert changed == {"A": datetime(2026, 2, 2), "B": None, "W": None}


def test_golden_records_in_chunks_equal_one_pass(tmp_path, monkeypatch):
    """A large base is taken in chunks of customers (memory); the golden records are the same."""
    from pipelines.match import survivorship
    from pipelines.warehouse import connect
    from tests.match.town import town

    def golden(folder, chunk: int) -> list[tuple]:
        monkeypatch.setattr(survivorship, "GOLDEN_CHUNK_MEMBERS", chunk)
        folder.mkdir()
        con = connect(folder / "warehouse.duckdb")
        add_contacts(con, town())
        run(con)
        rows = con.execute(
            "SELECT * EXCLUDE (customer_id, created_at, updated_at) FROM customers ORDER BY ALL"
        ).fetchall()
        con.close()
        return rows

    whole = golden(tmp_path / "whole", 1_000_000)
    chunked = golden(tmp_path / "chunked", 50)
    assert len(whole) > 200
    assert chunked == whole
