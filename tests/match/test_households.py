"""Households, twins and shared e-mail addresses stay apart; obvious duplicates merge."""

from __future__ import annotations

from tests.match.conftest import add_contacts, contact, customer_of, partition, run
from tests.match.town import people_of, town

HOME = dict(
    street="Hoofdstraat",
    house_number="12",
    postcode="3512 AB",
    city="Utrecht",
    country="NL",
    infix="de",
    last_name="Vries",
)
FAMILY_EMAIL = "familie.devries@ziggo.nl"
LANDLINE = "+31302345678"


def family() -> list[dict]:
    """Father, mother, twin daughters at one address; the family e-mail and landline shared; each
    twice."""
    return [
        contact(
            "crm",
            "F1",
            first_name="Jan",
            birth_date="1968-04-02",
            email="jan.devries@gmail.com",
            phone=LANDLINE,
            phone_type="fixed_line",
            **HOME,
        ),
        contact(
            "webshop",
            "FW1",
            first_name="J.",
            first_name_is_initials=True,
            birth_date="1968-04-02",
            email="jan.devries@gmail.com",
            **HOME,
        ),
        contact(
            "crm",
            "F2",
            first_name="Anna",
            birth_date="1970-09-15",
            email=FAMILY_EMAIL,
            phone=LANDLINE,
            phone_type="fixed_line",
            **HOME,
        ),
        contact(
            "webshop",
            "FW2",
            first_name="Anneke",
            birth_date="1970-09-15",
            email=FAMILY_EMAIL,
            **HOME,
        ),
        contact(
            "crm",
            "F3",
            first_name="Lotte",
            birth_date="2006-06-01",
            email=FAMILY_EMAIL,
            phone=LANDLINE,
            phone_type="fixed_line",
            **HOME,
        ),
        contact(
            "webshop",
            "FW3",
            first_name="Lotte",
            birth_date="2006-06-01",
            email="lotte.dv@gmail.com",
            **HOME,
        ),
        contact(
            "crm",
            "F4",
            first_name="Sanne",
            birth_date="2006-06-01",
            email=FAMILY_EMAIL,
            phone=LANDLINE,
            phone_type="fixed_line",
            **HOME,
        ),
        contact(
            "webshop",
            "FW4",
            first_name="Sanne",
            birth_date="2006-06-01",
            email=FAMILY_EMAIL,
            **HOME,
        ),
        # a namesake of the father elsewhere: same name, other birth date and address
        contact(
            "crm",
            "N1",
            first_name="Jan",
            infix="de",
            last_name="Vries",
            birth_date="1981-11-30",
            street="Kerkstraat",
            house_number="3",
            postcode="8011 CD",
            city="Zwolle",
            country="NL",
            email="jdevries81@hotmail.com",
        ),
    ]


def test_household_members_twins_and_shared_email_stay_apart(warehouse):
    add_contacts(warehouse, town() + family())
    run(warehouse)
    jan, anna, lotte, sanne = (customer_of(warehouse, "crm", f"F{i}") for i in range(1, 5))
    assert len({jan, anna, lotte, sanne}) == 4, "a family member was merged with another"
    assert customer_of(warehouse, "crm", "N1") != jan, "namesake merged with the father"
    # ... while each member's own duplicate joins them
    assert customer_of(warehouse, "webshop", "FW1") == jan  # initials J.
    assert customer_of(warehouse, "webshop", "FW2") == anna  # call name Anneke
    assert customer_of(warehouse, "webshop", "FW3") == lotte  # twin with her own e-mail
    assert customer_of(warehouse, "webshop", "FW4") == sanne  # twin sharing the family e-mail
    # every merged pair inside the family has its evidence
    n = warehouse.execute(
        "SELECT count(*) FROM match_evidence WHERE customer_id IN (?, ?, ?, ?)",
        [jan, anna, lotte, sanne],
    ).fetchall()[0][0]
    assert n == 4


def test_obvious_duplicates_merge_and_strangers_do_not(warehouse):
    rows = town()
    add_contacts(warehouse, rows)
    result = run(warehouse)
    truth = people_of(rows)
    got = partition(warehouse)
    true_groups: dict[str, set] = {}
    for record, person in truth.items():
        true_groups.setdefault(person, set()).add(record)
    expected = {frozenset(g) for g in true_groups.values()}
    wrong_merges = [g for g in got if len({truth[r] for r in g}) > 1]
    assert not wrong_merges
    missed = expected - got
    # a webshop record with initials and no e-mail or phone may stay alone; nothing else may
    assert len(missed) <= 0.02 * len(expected), (
        f"{len(missed)} of {len(expected)} people not fully merged"
    )
    assert result.customers == len(got)
    assert result.contacts == len(rows)


def test_golden_record_prefers_valid_then_recent_then_priority(warehouse):
    from datetime import datetime

    person = dict(
        first_name="Marloes",
        last_name="Kok",
        birth_date="1985-02-03",
        postcode="3511 AA",
        house_number="5",
        street="Oudegracht",
        city="Utrecht",
        country="NL",
    )
    add_contacts(
        warehouse,
        [
            contact(
                "crm",
                "S1",
                email="marloes.kok@gmail",
                email_status="invalid",
                phone="+31611112222",
                updated_at=datetime(2026, 1, 1),
                newsletter_opt_in=False,
                last_purchase_at=datetime(2025, 5, 1),
                **person,
            ),
            contact(
                "webshop",
                "S2",
                email="marloes.kok@gmail.com",
                phone="+31633334444",
                updated_at=datetime(2026, 2, 1),
                newsletter_opt_in=True,
                newsletter_opt_in_at=datetime(2026, 2, 1),
                double_opt_in=True,
                last_purchase_at=datetime(2026, 2, 10),
                **person,
            ),
        ],
    )
    run(warehouse)
    cid = customer_of(warehouse, "crm", "S1")
    assert customer_of(warehouse, "webshop", "S2") == cid
    email, email_status, phone, opt_in, opt_in_source, double, last_purchase, count, sources = (
        warehouse.execute(
            """SELECT email, email_status, phone, newsletter_opt_in, newsletter_opt_in_source,
                  double_opt_in, last_purchase_at, source_count, sources
                  FROM customers WHERE customer_id = ?""",
            [cid],
        ).fetchall()[0]
    )
    assert (email, email_status) == ("marloes.kok@gmail.com", "valid")  # valid beats invalid
    assert phone == "+31633334444"  # both valid: the webshop record's update is newer
    assert (opt_in, opt_in_source, double) == (True, "webshop", True)  # the latest statement
    assert last_purchase == datetime(2026, 2, 10)
    assert (count, sources) == (2, "crm,webshop")
    # configured to trust source priority first, the phone follows the CRM (no record changed)
    from pipelines.match.settings import MatchSettings, Survivorship

    settings = MatchSettings(
        survivorship=Survivorship(groups={"phone": ["status", "source_priority", "recency"]})
    )
    result = run(warehouse, settings=settings)
    assert result.changed == 1
    assert (
        warehouse.execute("SELECT phone FROM customers WHERE customer_id = ?", [cid]).fetchall()[
            0
        ][0]
        == "+31611112222"
    )


def test_household_evidence_alone_does_not_link_two_own_email_addresses(warehouse):
    """Address, surname and landline are a household's; with nothing personal in common (no
    birth date, only an initial) and each their own e-mail address, two records stay apart."""
    home = dict(HOME, phone=LANDLINE, phone_type="fixed_line")
    mother = contact(
        "crm",
        "M1",
        first_name="Elisabeth",
        birth_date="1958-04-22",
        email="elisabeth.devries@gmail.com",
        **home,
    )
    daughter = contact(
        "webshop",
        "D1",
        first_name="E.",
        first_name_is_initials=True,
        email="emma.devries2001@hotmail.com",
        **home,
    )
    mother_again = contact(
        "webshop",
        "M2",
        first_name="E.",
        first_name_is_initials=True,
        email="elisabeth.devries@gmail.com",
        **home,
    )
    add_contacts(warehouse, town() + [mother, daughter, mother_again])
    run(warehouse)
    assert customer_of(warehouse, "crm", "M1") != customer_of(warehouse, "webshop", "D1")
    # her own record with her own e-mail address still joins her
    assert customer_of(warehouse, "crm", "M1") == customer_of(warehouse, "webshop", "M2")
