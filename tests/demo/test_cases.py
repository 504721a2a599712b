"""The hard cases are in the files, and the truth says the real value and whether it can be
recovered."""

from __future__ import annotations

import datetime as dt
import os
import re

import pandas as pd
import pytest

from pipelines.demo import generate
from pipelines.demo.pools import CLOSED_PROVIDERS, KNOWN_DOMAIN_TYPOS, ROLE_MAILBOXES, strip_marks
from pipelines.demo.truth import current_values
from tests.demo.conftest import DAY, parse

CLOSED = {d for providers in CLOSED_PROVIDERS.values() for d, _ in providers}
CRM_COLUMN = {
    "first_name": "Voornaam",
    "infix": "Tussenvoegsel",
    "last_name": "Achternaam",
    "email": "Email",
    "street": "Straat",
    "house_number": "Huisnummer",
    "city": "Plaats",
    "birth_date": "Geboortedatum",
}
WEB_COLUMN = {
    "first_name": "first_name",
    "last_name": "last_name",
    "email": "email",
    "street": "address",
    "city": "city",
    "birth_date": "date_of_birth",
}


def written(drop, source: str, rows: pd.DataFrame, field: str) -> list[tuple[str, object]]:
    """(text in the file, truth row) for each truth row, for one field of one source."""
    column = (CRM_COLUMN if source == "crm" else WEB_COLUMN)[field]
    position = drop.header[source].index(column)
    return [(drop.rows[source][r.line_number - 2][position], r) for r in rows.itertuples()]


def case_rows(
    truth: pd.DataFrame, field: str, case: str, source: str | None = None
) -> pd.DataFrame:
    rows = truth[(truth[f"{field}_case"] == case) & ~truth.is_broken]
    return rows if source is None else rows[rows.source == source]


def test_placeholders_are_missing_values(drop):
    truth = drop.truth
    seen: dict[str, set[str]] = {"crm": set(), "webshop": set()}
    for source in ("crm", "webshop"):
        for field in ("first_name", "last_name", "email", "city", "birth_date"):
            for text, row in written(
                drop, source, case_rows(truth, field, "placeholder", source), field
            ):
                assert row[0] is not None  # itertuples: the index
                assert getattr(row, f"{field}_dirt") == "missing"
                assert text.strip() != ""
                seen[source].add(text.strip())
    assert {
        "00-00-0000",
        "00/00/0000",
        "01-01-1900",
        "0000-00-00",
        "NULL",
        "-",
        "n.v.t.",
        "onbekend",
        "unknown",
        "x",
    } <= seen["crm"]
    assert {"0000-00-00", "1900-01-01", "NULL"} <= seen["webshop"]
    # An empty field is missing too, but no placeholder.
    empty = truth[
        (truth.birth_date_dirt == "missing") & truth.birth_date_case.isna() & ~truth.is_broken
    ]
    assert len(empty) and all(
        t == "" for t, _ in written(drop, "crm", empty[empty.source == "crm"], "birth_date")
    )
    # The truth keeps the real birth date; 1900 is never one.
    assert (pd.to_datetime(truth.birth_date).dt.year >= 1935).all()


def test_old_address_at_a_closed_provider_survives_in_older_records(drop):
    truth = drop.truth
    old = truth[truth.email_case == "old_isp_domain"]
    assert len(old) >= 5
    assert old.email.str.split("@").str[1].isin(CLOSED).all()
    for text, row in written(
        drop, "crm", case_rows(truth, "email", "old_isp_domain", "crm"), "email"
    ):
        assert text.strip().lower() == row.email
    # Those people's newer records have today's address, at a provider that still exists.
    newer = truth[truth.person_id.isin(old.person_id)].merge(
        old[["person_id", "as_of"]], on="person_id", suffixes=("", "_old")
    )
    newer = newer[newer.as_of > newer.as_of_old + pd.Timedelta(days=0)]
    switched = newer[~newer.email.str.split("@").str[1].isin(CLOSED)]
    assert switched.person_id.nunique() >= 3
    current = current_values(truth)
    recent = current[pd.to_datetime(current.as_of) >= pd.Timestamp("2023-07-01")]
    assert (
        not recent.email.str.split("@").str[1].isin(CLOSED).any()
    )  # every switch happened before that


def test_well_known_domain_typos_are_recoverable_and_others_are_flagged(big_drop):
    truth = big_drop.truth
    domains = set()
    for source in ("crm", "webshop"):
        for text, row in written(
            big_drop, source, case_rows(truth, "email", "domain_typo", source), "email"
        ):
            local, _, domain = text.strip().lower().partition("@")
            if domain in KNOWN_DOMAIN_TYPOS:
                assert (
                    pd.isna(row.email_dirt)
                    and f"{local}@{KNOWN_DOMAIN_TYPOS[domain]}" == row.email
                )
                domains.add(domain)
            else:
                assert row.email_dirt == "typo" and text.strip().lower() != row.email
    assert domains == set(KNOWN_DOMAIN_TYPOS)  # gmial.com, gmail.con, hotmial.com, ziggo.com


def test_role_and_work_addresses_stand_beside_the_personal_one(drop):
    truth = drop.truth
    roles = {r for boxes in ROLE_MAILBOXES.values() for r in boxes}
    for case in ("role_address", "work_address"):
        rows = case_rows(truth, "email", case)
        assert len(rows) >= 5 and (rows.email_dirt == case).all()
        for source in ("crm", "webshop"):
            for text, row in written(drop, source, rows[rows.source == source], "email"):
                local, _, domain = text.strip().lower().partition("@")
                assert text.strip().lower() != row.email and domain.endswith((".nl", ".be", ".se"))
                assert (local in roles) == (case == "role_address")
    # The truth holds the person's own address: most of these people show it on another record.
    work = case_rows(truth, "email", "work_address")
    own = truth[
        truth.person_id.isin(work.person_id) & truth.email_case.isna() & truth.email_dirt.isna()
    ]
    assert own.person_id.nunique() >= 0.3 * work.person_id.nunique()


def test_belgian_surnames_keep_their_particle(drop):
    truth = drop.truth
    people = truth.drop_duplicates("person_id")
    belgian = people[people.country == "BE"]
    particles = belgian[belgian.last_name.str.match(r"(Van|De|Vanden|Vander|Le|Du) ")]
    assert len(particles) >= 20 and particles.infix.isna().all()
    assert {"Van Tournay", "De Backer", "Vanden Bossche"} & set(particles.last_name)
    split = case_rows(truth, "last_name", "be_particle_split", "crm")
    assert len(split) >= 5
    infix, last = drop.header["crm"].index("Tussenvoegsel"), drop.header["crm"].index("Achternaam")
    for row in split.itertuples():
        line = drop.rows["crm"][row.line_number - 2]
        assert f"{line[infix]} {line[last]}".lower() == row.last_name.lower() and pd.isna(
            row.infix
        )


def test_dutch_infix_in_odd_places(drop):
    truth = drop.truth[(drop.truth.source == "crm") & ~drop.truth.is_broken]
    header = drop.header["crm"]
    col = {c: header.index(c) for c in ("Voornaam", "Tussenvoegsel", "Achternaam")}
    found = set()
    for row in truth[truth.infix_case.notna()].itertuples():
        line = drop.rows["crm"][row.line_number - 2]
        first, infix, last = (line[col[c]] for c in ("Voornaam", "Tussenvoegsel", "Achternaam"))
        case = row.infix_case
        if case == "infix_in_first_name":  # "Jan van der" / "" / "Meer"
            assert first.lower().endswith(f" {row.infix}") and infix == ""
        elif case == "infix_reversed" and pd.isna(row.last_name_dirt):  # "Meer, van der"
            assert last.lower() == f"{row.last_name}, {row.infix}".lower()
        elif case == "infix_abbreviated":  # "v.d." or "v.d. Meer"
            assert re.fullmatch(r"v\.(d\.)?", infix) or re.match(r"v\.(d\.)? ", last), (
                infix,
                last,
            )
            assert (row.infix_dirt == "abbreviated") == (row.infix != "van")
        elif case == "infix_capitalised":  # "Van der"
            assert infix == row.infix.capitalize()
        found.add(case)
    assert {
        "infix_in_first_name",
        "infix_reversed",
        "infix_abbreviated",
        "infix_capitalised",
    } <= found
    assert truth.infix.dropna().str.fullmatch(r"[a-z' ]+").all()  # the truth's infix is lower case


def test_street_abbreviations_and_house_number_in_the_street(big_drop):
    truth = big_drop.truth
    endings = set()
    expand = {
        "str.": "straat",
        "str": "straat",
        "ln.": "laan",
        "pl.": "plein",
        "wg.": "weg",
        "blvd.": "boulevard",
        "g.": "gatan",
        "v.": "vägen",
    }
    for text, row in written(
        big_drop, "crm", case_rows(truth, "street", "street_abbreviation", "crm"), "street"
    ):
        ending = next(e for e in sorted(expand, key=len, reverse=True) if text.lower().endswith(e))
        assert text[: -len(ending)].lower() + expand[ending] == row.street.lower()
        endings.add(ending)
    assert {"str.", "ln.", "pl.", "g.", "v."} <= endings
    rows = case_rows(truth, "street", "number_in_street", "crm")
    both = 0
    house = big_drop.header["crm"].index("Huisnummer")
    for text, row in written(big_drop, "crm", rows, "street"):
        number = big_drop.rows["crm"][row.line_number - 2][house]
        assert re.search(rf" {row.house_number}(\D|$)", text), text
        both += number != "" and text.endswith(" " + number)
    assert both >= 10  # "Kerkstraat 12" in Straat and "12" in Huisnummer


def test_city_variants_name_the_canonical_city(big_drop):
    truth = big_drop.truth
    pairs = set()
    for source in ("crm", "webshop"):
        for text, row in written(
            big_drop, source, case_rows(truth, "city", "city_variant", source), "city"
        ):
            pairs.add((text.strip().lower(), row.city))
    assert {
        ("gand", "Gent"),
        ("anvers", "Antwerpen"),
        ("malines", "Mechelen"),
        ("goteborg", "Göteborg"),
    } <= pairs
    assert all(c.lower() != t for t, c in pairs)


def test_mojibake_is_utf8_read_as_cp1252(big_drop):
    drop = big_drop
    truth = drop.truth
    fields = 0
    for field in ("first_name", "last_name", "street", "city"):
        for source in ("crm", "webshop"):
            for text, row in written(
                drop, source, case_rows(truth, field, "mojibake", source), field
            ):
                true = getattr(row, field)
                assert "ã" in text.lower() and pd.isna(getattr(row, f"{field}_dirt"))
                assert true.encode("utf-8").decode("cp1252").lower() in text.lower()
                fields += 1
    assert fields >= 100


def test_one_off_stripped_diacritics_beside_correct_records(big_drop):
    drop = big_drop
    truth = drop.truth
    stripped = truth[
        (truth.last_name_case == "stripped_diacritics")
        | (truth.first_name_case == "stripped_diacritics")
    ]
    assert len(stripped) >= 50
    for source in ("crm", "webshop"):
        for field in ("first_name", "last_name"):
            rows = case_rows(truth, field, "stripped_diacritics", source)
            for text, row in written(drop, source, rows, field):
                assert getattr(row, f"{field}_dirt") == "diacritics"
                assert strip_marks(getattr(row, field)).lower() in text.lower()
    # One-off: the same person's other records mostly spell it right.
    others = truth[
        truth.person_id.isin(stripped.person_id)
        & truth.last_name_case.isna()
        & truth.first_name_case.isna()
    ]
    assert others.person_id.nunique() >= 0.3 * stripped.person_id.nunique()


@pytest.fixture(scope="module")
def drops(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo_drops")
    summary = generate(
        folder / "inbox", folder / "truth.parquet", people=3000, seed=5, day=DAY, older_drops=2
    )
    return summary, pd.read_parquet(summary.truth_path)


def test_several_drops_per_source_with_dated_names_and_no_order_in_mtime(drops):
    summary, truth = drops
    assert [p.name for p in summary.older_files["crm"]] == [
        "klanten_20250928.csv",
        "klanten_20251026.csv",
    ]
    assert [p.name for p in summary.older_files["webshop"]] == [
        "customers_20250928.csv",
        "customers_20251026.csv",
    ]
    paths = [*summary.files.values(), *(p for ps in summary.older_files.values() for p in ps)]
    assert (
        len({os.stat(p).st_mtime for p in paths}) == 1
    )  # only the name says which export is newer
    for path in paths:
        source = path.parent.name
        _, rows = parse(source, path.read_bytes())
        part = truth[truth.file_name == path.name].sort_values("line_number")
        assert part.line_number.tolist() == list(range(2, len(rows) + 2))
        assert part.source_record_id.tolist() == [r[0] for r in rows]
        stamp = dt.datetime.strptime(path.stem.split("_")[1], "%Y%m%d").date()
        assert (part.drop_date == stamp).all()
        assert (part.as_of <= stamp).all()
    assert summary.older_rows == len(truth) - sum(summary.rows.values())


def test_moved_people_without_updated_at(drops):
    """The same CRM record in an older and a newer drop: another address, and nothing but the drop
    date (and maybe a later purchase) says which one is current."""
    summary, truth = drops
    crm = truth[truth.source == "crm"]
    old = crm[crm.file_name == "klanten_20251026.csv"]
    new = crm[crm.file_name == summary.files["crm"].name]
    both = old.merge(new, on="source_record_id", suffixes=("_old", "_new"))
    assert (both.person_id_old == both.person_id_new).all()
    moved = both[(both.street_old != both.street_new) | (both.postcode_old != both.postcode_new)]
    assert len(moved) >= 5 and (moved.as_of_new > moved.as_of_old).all()
    assert "updated_at" not in " ".join(parse("crm", summary.files["crm"].read_bytes())[0]).lower()
    # The truth's current value is the newest drop's for these people.
    current = current_values(truth).set_index("person_id")
    for row in moved.head(20).itertuples():
        person = current.loc[row.person_id_new]
        assert person.as_of >= row.as_of_new
        assert person.as_of > row.as_of_old


def test_current_values_take_the_newest_record_of_each_person(drop):
    current = current_values(drop.truth)
    assert current.person_id.is_unique and set(current.person_id) == set(drop.truth.person_id)
    newest = drop.truth.groupby("person_id").as_of.max()
    assert (current.set_index("person_id").as_of == newest.loc[current.person_id].values).all()
