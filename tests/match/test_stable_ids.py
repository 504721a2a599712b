"""Customer ids survive a re-run, a new drop, a merge (the older id survives) and a split (the
largest part keeps it)."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.match.conftest import (
    NOW,
    add_contacts,
    contact,
    customer_of,
    partition,
    remove_contacts,
    run,
)
from tests.match.town import town

KARIN = dict(first_name="Karin", last_name="Dijkstra", birth_date="1979-03-14")
KARIN_HOME = dict(
    street="Molenweg", house_number="7", postcode="3812 KL", city="Amersfoort", country="NL"
)


def ids(con) -> dict[tuple[str, str], str]:
    return {
        (s, r): c
        for c, s, r in con.execute(
            "SELECT customer_id, source, source_record_id FROM customer_sources"
        ).fetchall()
    }


def test_ids_look_right_and_survive_a_rerun(warehouse):
    add_contacts(warehouse, town())
    limit = warehouse.execute("SELECT current_setting('memory_limit')").fetchall()
    run(warehouse)
    assert (
        warehouse.execute("SELECT current_setting('memory_limit')").fetchall() == limit
    )  # lowered only during the run
    before = ids(warehouse)
    assert all(re.fullmatch(r"C[0-9A-HJKMNP-TV-Z]{10}", c) for c in before.values())
    customers_before = warehouse.execute("SELECT * FROM customers ORDER BY customer_id").fetchall()
    result = run(warehouse, now=NOW + timedelta(days=1))
    assert ids(warehouse) == before
    assert (result.new, result.merged, result.split, result.changed, result.records_matched) == (
        0,
        0,
        0,
        0,
        0,
    )
    assert (
        warehouse.execute("SELECT * FROM customers ORDER BY customer_id").fetchall()
        == customers_before
    )
    assert warehouse.execute("SELECT count(*) FROM customer_merges").fetchall()[0][0] == 0


def test_a_new_drop_joins_existing_customers_and_adds_new_ones(warehouse):
    add_contacts(warehouse, town())
    add_contacts(
        warehouse,
        [
            contact(
                "crm", "K1", email="karin.d@gmail.com", phone="+31655501234", **KARIN, **KARIN_HOME
            )
        ],
    )
    run(warehouse)
    before = ids(warehouse)
    karin = before[("crm", "K1")]
    add_contacts(
        warehouse,
        [
            contact(
                "webshop", "KW1", email="karin.d@gmail.com", **KARIN, **KARIN_HOME
            ),  # Karin again
            contact(
                "webshop",
                "NEW1",
                first_name="Bas",
                last_name="Kuiper",
                email="bas.kuiper@gmail.com",
                birth_date="1990-01-01",
                postcode="2611 AA",
                house_number="1",
                country="NL",
            ),
        ],
    )
    result = run(warehouse, now=NOW + timedelta(days=1))
    after = ids(warehouse)
    assert {k: v for k, v in after.items() if k in before} == before  # nobody else moved
    assert after[("webshop", "KW1")] == karin
    assert after[("webshop", "NEW1")] not in before.values()
    assert (result.new, result.merged, result.split) == (1, 0, 0)
    assert result.records_matched == 2
    assert result.changed == 1  # Karin's golden record gained a source
    assert (
        warehouse.execute(
            "SELECT source_count FROM customers WHERE customer_id = ?", [karin]
        ).fetchall()[0][0]
        == 2
    )


def test_a_merge_keeps_the_older_id_and_records_the_retired_one(warehouse):
    add_contacts(warehouse, town())
    # Day 1: Karin in the CRM. Day 2: Karin in the webshop after a move, with only a phone: too
    # little to link, so a second customer. Day 3: a record with her e-mail and phone joins both.
    add_contacts(
        warehouse, [contact("crm", "K1", email="karin.d@gmail.com", **KARIN, **KARIN_HOME)]
    )
    run(warehouse)
    older = customer_of(warehouse, "crm", "K1")
    add_contacts(
        warehouse,
        [
            contact(
                "webshop",
                "KW1",
                first_name="Karin",
                last_name="Dijkstra",
                phone="+31655501234",
                postcode="9711 AB",
                house_number="90",
                country="NL",
            )
        ],
    )
    run(warehouse, now=NOW + timedelta(days=1))
    newer = customer_of(warehouse, "webshop", "KW1")
    assert newer != older
    add_contacts(
        warehouse,
        [
            contact(
                "webshop",
                "KW2",
                email="karin.d@gmail.com",
                phone="+31655501234",
                **KARIN,
                postcode="9711 AB",
                house_number="90",
                country="NL",
            )
        ],
    )
    result = run(warehouse, now=NOW + timedelta(days=2))
    assert customer_of(warehouse, "webshop", "KW1") == older
    assert customer_of(warehouse, "webshop", "KW2") == older
    assert result.merged == 1
    merges = warehouse.execute(
        'SELECT old_customer_id, new_customer_id, kind, "at" FROM customer_merges'
    ).fetchall()
    assert merges == [(newer, older, "merge", NOW + timedelta(days=2))]
    assert (
        warehouse.execute(
            "SELECT count(*) FROM customers WHERE customer_id = ?", [newer]
        ).fetchall()[0][0]
        == 0
    )
    assert (
        warehouse.execute(
            "SELECT count(*) FROM match_evidence WHERE customer_id = ?", [older]
        ).fetchall()[0][0]
        == 2
    )


def test_a_split_leaves_the_id_with_the_largest_part(warehouse):
    add_contacts(warehouse, town())
    base = dict(
        last_name="Smit",
        street="Dorpsstraat",
        house_number="4",
        postcode="8021 AB",
        city="Zwolle",
        country="NL",
        email="eva.smit@gmail.com",
    )
    add_contacts(
        warehouse,
        [
            contact("crm", "E1", first_name="Eva", birth_date="1988-07-07", **base),
            contact("webshop", "EW1", first_name="Eva", birth_date="1988-07-07", **base),
            contact("webshop", "EW2", first_name="Eva", birth_date="1988-07-07", **base),
        ],
    )
    run(warehouse)
    eva = customer_of(warehouse, "crm", "E1")
    assert {customer_of(warehouse, "webshop", r) for r in ("EW1", "EW2")} == {eva}
    # The CRM record turns out to be someone else (the webshop records are the majority).
    add_contacts(
        warehouse, [contact("crm", "E1", first_name="Mark", birth_date="1955-01-20", **base)]
    )
    result = run(warehouse, now=NOW + timedelta(days=1))
    assert customer_of(warehouse, "webshop", "EW1") == eva
    assert customer_of(warehouse, "webshop", "EW2") == eva
    mark = customer_of(warehouse, "crm", "E1")
    assert mark != eva
    assert result.split == 1 and result.new == 1
    assert warehouse.execute(
        "SELECT old_customer_id, new_customer_id, kind FROM customer_merges"
    ).fetchall() == [(eva, mark, "split")]
    assert (
        warehouse.execute(
            "SELECT first_name FROM customers WHERE customer_id = ?", [eva]
        ).fetchall()[0][0]
        == "Eva"
    )


def test_removed_records_leave_their_customer(warehouse):
    add_contacts(warehouse, town(50))
    run(warehouse)
    everyone = ids(warehouse)
    pair = [k for k in everyone if k[0] == "webshop"][0]
    person = everyone[pair]
    solo = [k for k, v in everyone.items() if list(everyone.values()).count(v) == 1][0]
    remove_contacts(warehouse, [pair, solo])
    result = run(warehouse, now=NOW + timedelta(days=1))
    after = ids(warehouse)
    assert pair not in after and solo not in after
    assert person in after.values()  # the other record of the pair keeps the id
    assert (
        warehouse.execute(
            "SELECT count(*) FROM customers WHERE customer_id = ?", [everyone[solo]]
        ).fetchall()[0][0]
        == 0
    )
    assert result.records_removed == 2
    assert len(partition(warehouse)) == len(set(everyone.values())) - 1
