"""True duplicates are there, hard negatives are there, and the next day is the same population."""

from __future__ import annotations

import pandas as pd


def _main_records(truth: pd.DataFrame) -> pd.DataFrame:
    return truth[~truth.is_broken]


def test_duplicates_within_and_across_sources(drop):
    truth = drop.truth
    crm = truth[truth.source == "crm"]
    per_person = crm.groupby("person_id").size()
    assert 0.05 < (per_person > 1).mean() < 0.12  # ~8% of CRM people have 2 or 3 records
    assert per_person.max() == 3
    people_per_source = truth.groupby("person_id").source.nunique()
    assert 0.33 < (people_per_source == 2).mean() < 0.47  # ~40% in both sources
    assert drop.summary.duplicate_people["crm"] == (per_person > 1).sum()
    assert drop.summary.in_both_sources == (people_per_source == 2).sum()


def test_duplicates_differ_in_how_they_are_written(drop):
    """Records of one person are not copies: names, phones or addresses differ in the files."""
    crm = drop.truth[(drop.truth.source == "crm") & ~drop.truth.is_broken]
    rows = drop.rows["crm"]
    dup_people = crm.groupby("person_id").filter(lambda g: len(g) > 1)
    differing = 0
    for _, group in dup_people.groupby("person_id"):
        lines = {tuple(rows[n - 2][1:]) for n in group.line_number}
        differing += len(lines) > 1
    assert differing == dup_people.person_id.nunique()
    assert (dup_people.first_name_dirt.notna()).any()
    moved = dup_people.groupby("person_id")[["street", "postcode"]].nunique().max(axis=1) > 1
    assert moved.any()  # an older duplicate still has the previous address


def test_people_who_moved_show_two_addresses_across_sources(drop):
    truth = _main_records(drop.truth)
    both = truth.groupby("person_id").filter(lambda g: g.source.nunique() == 2)
    addresses = (
        both.groupby("person_id")[["street", "house_number", "postcode"]].nunique().max(axis=1)
    )
    assert (addresses > 1).sum() >= 10


def test_family_members_share_an_address_but_are_different_people(drop):
    people = _main_records(drop.truth).drop_duplicates("person_id")
    families = people.groupby("household_id").filter(lambda g: len(g) > 1)
    assert families.household_id.nunique() > 50
    same_address = 0
    for _, family in families.groupby("household_id"):
        assert family.last_name.nunique() == 1
        same_address += family[["street", "house_number"]].drop_duplicates().shape[0] == 1
        assert family.person_id.is_unique
    assert same_address > 30
    landlines = (
        families[families.phone_type == "fixed_line"]
        .groupby("household_id")
        .phone.agg(["nunique", "size"])
    )
    assert (
        (landlines["size"] > 1) & (landlines["nunique"] == 1)
    ).any()  # one landline, several people


def test_twins_share_birth_date_and_address_not_first_name(drop):
    people = drop.truth.drop_duplicates("person_id").set_index("person_id")
    twins = people[people.twin_of.notna()]
    assert len(twins) >= 5
    checked = 0
    for person_id, twin in twins.iterrows():
        if int(twin.twin_of) not in people.index:
            continue
        other = people.loc[int(twin.twin_of)]
        assert twin.birth_date == other.birth_date
        assert twin.household_id == other.household_id and twin.last_name == other.last_name
        assert twin.first_name != other.first_name and person_id != twin.twin_of
        checked += 1
    assert checked >= 5


def test_many_different_people_share_a_very_common_name(drop):
    people = drop.truth.drop_duplicates("person_id")
    jan = people[
        (people.first_name == "Jan") & (people.infix == "de") & (people.last_name == "Vries")
    ]
    assert jan.person_id.nunique() >= 5
    assert jan.birth_date.nunique() >= 4 and jan.email.nunique() == jan.person_id.nunique()
    anna = people[(people.first_name == "Anna") & (people.last_name == "Andersson")]
    assert anna.person_id.nunique() >= 1
    assert people.namesake.sum() == drop.summary.namesakes


def test_a_family_shares_one_email_address(drop):
    people = drop.truth.drop_duplicates("person_id")
    shared = people[people.email_owner != people.person_id]
    assert len(shared) >= 10
    per_email = people.groupby("email").agg(
        persons=("person_id", "nunique"), households=("household_id", "nunique")
    )
    assert (per_email.persons > 1).any()
    assert (
        per_email.loc[per_email.persons > 1, "households"] == 1
    ).all()  # never across strangers


def test_next_day_is_the_same_population_with_changes(drop, next_day_drop):
    today, tomorrow = drop.truth, next_day_drop.truth
    assert next_day_drop.summary.files["crm"].name == "klanten_20251124.csv"
    old, new = set(today.person_id), set(tomorrow.person_id)
    assert len(old & new) > 0.97 * len(old)
    assert new - old and old - new  # newcomers joined, some of the oldest left
    key = ["source", "source_record_id"]
    both = today.merge(tomorrow, on=key, suffixes=("", "_next"))
    assert (both.person_id == both.person_id_next).all()
    assert (both.first_name == both.first_name_next).all()
    text_today = {(s, r[0]): r for s, rows in drop.rows.items() for r in rows}
    text_next = {(s, r[0]): r for s, rows in next_day_drop.rows.items() for r in rows}
    common = text_today.keys() & text_next.keys()
    unchanged = sum(text_today[k] == text_next[k] for k in common)
    assert 0.8 * len(common) < unchanged < len(common)  # most records were not touched, some were
