"""A lone record whose first name (or birth date) alone conflicts with a customer: typo or twin?

Pairwise the two look the same: surname, address and birth date agree, the first name and the
mobile number do not. The cluster and the data set tell them apart: a twin's name is seen on
several records or next to another person, and a data set with twins shows twins whose both sides
have several records. These tests build such data sets by hand.
"""

from __future__ import annotations

from datetime import date, timedelta

from tests.match.conftest import add_contacts, contact, customer_of, partition, run
from tests.match.town import town

NAMES = ["Pieter", "Geert", "Hendrik", "Willem", "Klaas", "Maria", "Johanna", "Cornelia", "Anna"]
OTHER = ["Bartholomeus", "Xaviera", "Quirijn", "Ottoline", "Zeger", "Yolande", "Reinout"]


def mobile(n: int) -> str:
    """A mobile number far from every other n's (no one-typo agreement)."""
    return f"+316{10_000_000 + (n * 7_654_321 + 1_234_567) % 90_000_000}"


def person(tag: str, i: int, first: str, *, records: int, birth: date, phone_base: int) -> list:
    """`records` contacts of one person (crm and webshop ids `<tag><i>-<n>`), all clean."""
    home = dict(
        last_name=f"Achterveld{tag}{chr(97 + i % 26)}{chr(97 + i // 26)}",
        street="Lindelaan",
        house_number=str(10 + i),
        postcode=f"7{i % 10}{(i // 10) % 10}1 KL",
        city="Apeldoorn",
        country="NL",
    )
    return [
        contact(
            "crm" if n % 2 == 0 else "webshop",
            f"{tag}{i}-{n}",
            first_name=first,
            birth_date=birth,
            phone=mobile(phone_base),
            phone_type="mobile",
            **home,
        )
        for n in range(records)
    ]


def garbled(rows: list[dict], record_id: str, **changes) -> dict:
    """A copy of the person's first record under a new id, with some fields replaced."""
    row = dict(rows[0])
    row.update(source_record_id=record_id, **changes)
    return row


def corrupted_people(count: int, tag: str = "C") -> tuple[list[dict], list[set]]:
    """People with two clean records and one whose first name and mobile number are garbled."""
    rows, groups = [], []
    for i in range(count):
        birth = date(1950, 1, 1) + timedelta(days=331 * i)
        clean = person(tag, i, NAMES[i % len(NAMES)], records=2, birth=birth, phone_base=i)
        bad = garbled(
            clean, f"{tag}{i}-x", first_name=OTHER[i % len(OTHER)], phone=mobile(900 + i)
        )
        rows += clean + [bad]
        groups.append({(r["source"], r["source_record_id"]) for r in clean + [bad]})
    return rows, groups


def twins(count: int, *, lone: bool, tag: str = "W") -> tuple[list[dict], list[tuple]]:
    """Twin pairs: the first twin has two records, the second one (lone) or two."""
    rows, pairs = [], []
    for i in range(count):
        birth = date(1960, 3, 1) + timedelta(days=517 * i)
        a = person(tag, i, NAMES[i % len(NAMES)], records=2, birth=birth, phone_base=500 + i)
        b = person(
            tag,
            i,
            OTHER[i % len(OTHER)],
            records=1 if lone else 2,
            birth=birth,
            phone_base=700 + i,
        )
        for n, row in enumerate(b):
            row["source_record_id"] = f"{tag}{i}-b{n}"
        rows += a + b
        pairs.append((("crm", f"{tag}{i}-0"), (b[0]["source"], b[0]["source_record_id"])))
    return rows, pairs


def test_corrupted_duplicates_join_their_person_when_the_data_show_no_twins(warehouse):
    rows, groups = corrupted_people(15)
    add_contacts(warehouse, town(120) + rows)
    result = run(warehouse)
    got = partition(warehouse)
    for group in groups:
        assert frozenset(group) in got, "a record with one garbled field stayed apart"
    assert result.conflicts_forgiven == 15
    # the evidence shows the pair that joined it
    cid = customer_of(warehouse, "crm", "C0-0")
    n = warehouse.execute(
        "SELECT count(*) FROM match_evidence WHERE customer_id = ?", [cid]
    ).fetchall()[0][0]
    assert n == 2


def test_lone_twins_stay_apart_when_the_data_confirm_twins(warehouse):
    corrupted, _ = corrupted_people(15)
    confirmed, confirmed_pairs = twins(6, lone=False, tag="V")
    lone, lone_pairs = twins(6, lone=True)
    add_contacts(warehouse, town(120) + corrupted + confirmed + lone)
    result = run(warehouse)
    for a, b in confirmed_pairs + lone_pairs:
        assert customer_of(warehouse, *a) != customer_of(warehouse, *b), "twins merged"
    # six twin pairs with two records on each side make the lone conflicts too likely twins
    assert result.conflicts_forgiven == 0


def test_a_twin_seen_on_several_records_and_a_household_stay_apart(warehouse):
    from tests.match.test_households import family

    corrupted, groups = corrupted_people(100)
    confirmed, confirmed_pairs = twins(1, lone=False, tag="V")
    add_contacts(warehouse, town(120) + corrupted + confirmed + family())
    result = run(warehouse)
    assert result.conflicts_forgiven == 100  # three confirmed twin pairs do not outweigh 100
    got = partition(warehouse)
    assert all(frozenset(g) in got for g in groups)
    for a, b in confirmed_pairs:
        assert customer_of(warehouse, *a) != customer_of(warehouse, *b), "twins merged"
    members = {customer_of(warehouse, "crm", f"F{i}") for i in range(1, 5)}
    assert len(members) == 4, "a family member was merged with another"


def test_a_lone_record_next_to_a_confirmed_twin_stays_apart(warehouse):
    corrupted, _ = corrupted_people(100)
    confirmed, confirmed_pairs = twins(1, lone=False, tag="V")
    ((a, b),) = confirmed_pairs
    # a third sibling born the same day, seen once: beside a confirmed twin, not a typo
    third = garbled(confirmed, "V0-c", first_name="Reinout", phone=mobile(999))
    add_contacts(warehouse, town(120) + corrupted + confirmed + [third])
    run(warehouse)
    assert (
        len(
            {
                customer_of(warehouse, *a),
                customer_of(warehouse, *b),
                customer_of(warehouse, "crm", "V0-c"),
            }
        )
        == 3
    )


def test_a_daily_run_decides_as_a_run_from_scratch(warehouse, tmp_path):
    from pipelines.warehouse import connect
    from tests.match.conftest import NOW

    rows, groups = corrupted_people(15)
    late = [r for r in rows if r["source_record_id"] in ("C0-x", "C3-x")]
    add_contacts(warehouse, town(120) + [r for r in rows if r not in late])
    run(warehouse)
    add_contacts(warehouse, late)
    daily = run(warehouse, now=NOW + timedelta(days=1))
    assert not daily.full_run
    scratch = connect(tmp_path / "scratch.duckdb")
    add_contacts(scratch, town(120) + rows)
    run(scratch)
    assert partition(warehouse) == partition(scratch)
    assert frozenset(groups[0]) in partition(warehouse)
    scratch.close()


def test_a_lone_record_linked_to_one_record_and_conflicting_with_the_others_joins(warehouse):
    """Its one link is outvoted by two conflicts; still, it has one person to go to."""
    rows, _ = corrupted_people(15)
    clean = person("L", 0, "Pieter", records=2, birth=date(1971, 6, 5), phone_base=300)
    nameless = garbled(clean, "L0-n", first_name=None, first_name_status="missing")
    lone = garbled(clean, "L0-x", first_name="Quirijn", phone=mobile(301))
    add_contacts(warehouse, town(120) + rows + clean + [nameless, lone])
    run(warehouse)
    people = {customer_of(warehouse, r["source"], r["source_record_id"]) for r in clean}
    assert people == {customer_of(warehouse, "crm", "L0-n")}
    assert customer_of(warehouse, "crm", "L0-x") in people
