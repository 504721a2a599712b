"""The ground truth matches the files row for row, and what it promises holds in the files."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import phonenumbers

from pipelines.demo.pools import KNOWN_DOMAIN_TYPOS, NICKNAMES
from tests.demo.conftest import source_config

POSTCODE = {"NL": r"[1-9]\d{3} [A-Z]{2}", "BE": r"[1-9]\d{3}", "SE": r"[1-9]\d{2} \d{2}"}


def test_one_truth_row_per_data_row_with_its_line_number(drop):
    truth = drop.truth
    assert len(truth) == sum(len(rows) for rows in drop.rows.values())
    for source, rows in drop.rows.items():
        part = truth[truth.source == source].sort_values("line_number")
        assert part.line_number.tolist() == list(range(2, len(rows) + 2))
        assert part.source_record_id.tolist() == [row[0] for row in rows]
        assert part.source_record_id.is_unique
        assert (part.file_name == drop.summary.files[source].name).all()


def test_truth_values_are_canonical(drop):
    truth = drop.truth
    assert set(truth.country) == {"NL", "BE", "SE"}
    for country, pattern in POSTCODE.items():
        codes = truth.loc[truth.country == country, "postcode"]
        assert codes.str.fullmatch(pattern).all(), codes[~codes.str.fullmatch(pattern)].head()
    assert (truth.email == truth.email.str.lower()).all()
    assert truth.email.str.fullmatch(r"[a-z0-9._]+@[a-z0-9.-]+\.[a-z]+").all()
    assert truth.house_number.str.fullmatch(r"[1-9]\d*").all()
    suffixes = truth.house_number_suffix.dropna()
    assert len(suffixes) and suffixes.str.fullmatch(r"[A-Z0-9]+").all()
    assert truth.phone.dropna().str.fullmatch(r"\+\d{10,12}").all()
    assert (
        truth.infix.dropna()
        .isin(
            [
                "van",
                "de",
                "van der",
                "van den",
                "van de",
                "ter",
                "'t",
                "van 't",
                "de la",
                "in 't",
                "ten",
                "op den",
                "den",
                "te",
                "der",
                "het",
                "in",
                "op",
                "la",
                "le",
                "van het",
                "van de la",
            ]
        )
        .all()
    )
    assert truth.birth_date.notna().all() and truth.newsletter_opt_in.notna().all()


def test_phone_numbers_are_valid_and_parse_back_from_every_style(drop):
    truth = drop.truth[drop.truth.phone.notna()]
    for row in truth.sample(400, random_state=1).itertuples():
        number = phonenumbers.parse(row.phone)
        assert phonenumbers.is_valid_number(number), row.phone
        assert phonenumbers.region_code_for_number(number) == row.country
        expected = phonenumbers.PhoneNumberType.MOBILE if row.phone_type == "mobile" else None
        if expected is not None:
            assert phonenumbers.number_type(number) == expected
    styles = set()
    for source, column in (("crm", "Telefoon"), ("webshop", "phone")):
        position = drop.header[source].index(column)
        rows = truth[(truth.source == source) & truth.phone_dirt.isna() & ~truth.is_broken]
        for line, e164, country in zip(rows.line_number, rows.phone, rows.country, strict=True):
            written = drop.rows[source][line - 2][position]
            parsed = phonenumbers.parse(written, country)
            assert (
                phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == e164
            ), written
            styles.add(re.sub(r"\d", "9", written))
    assert (
        len(styles) >= 25
    )  # "06-12345678", "+31 6 12345678", "(020) 123 4567", "0470/12.34.56", ...


def test_dirt_flags_describe_the_written_value(drop):
    truth = drop.truth[~drop.truth.is_broken]
    crm = truth[truth.source == "crm"]
    position = {name: drop.header["crm"].index(name) for name in ("Voornaam", "Email", "Land")}
    nicknames = {f: set(n) for table in NICKNAMES.values() for f, n in table.items()}
    seen = set()
    for row in crm.itertuples():
        written = drop.rows["crm"][row.line_number - 2]
        first = written[position["Voornaam"]].strip()
        if (
            row.infix_case == "infix_in_first_name"
        ):  # "Jan van der": the infix is in the first-name field
            assert first.lower().endswith(f" {row.infix}")
            first = first[: -len(row.infix) - 1]
        if row.first_name_dirt == "initials":
            assert re.fullmatch(r"[A-Za-z]\.( ?[A-Za-z]\.)?", first), first
            assert first[0].lower() == row.first_name[0].lower()
        elif row.first_name_dirt == "nickname":
            assert first.lower() in {n.lower() for n in nicknames[row.first_name]}
        elif row.first_name_dirt == "typo":
            assert first.lower() != row.first_name.lower()
        elif row.first_name_dirt == "missing":
            assert first.lower() in ("", "null", "-", "n.v.t.", "onbekend", "unknown", "x")
        elif row.first_name_dirt == "diacritics":
            assert first.lower() != row.first_name.lower() and first.isascii()
        elif row.first_name_case == "mojibake":
            assert first.encode("cp1252").decode("utf-8").lower() == row.first_name.lower()
        else:
            assert first.lower() == row.first_name.lower()
        email = written[position["Email"]].strip()
        if (
            pd.isna(row.email_dirt) and row.email_case == "domain_typo"
        ):  # gmial.com: a normalizer knows it
            local, _, domain = email.lower().partition("@")
            assert f"{local}@{KNOWN_DOMAIN_TYPOS[domain]}" == row.email
        elif pd.isna(row.email_dirt):
            assert email.lower() == row.email
        seen.add(row.first_name_dirt)
    assert {"initials", "nickname", "typo", "missing"} <= seen


def test_recoverable_dirt_is_there(drop):
    crm = drop.header["crm"]
    rows = drop.rows["crm"]
    column = {
        name: [r[crm.index(name)] for r in rows if len(r) == len(crm)]
        for name in ("Postcode", "Land", "Email")
    }
    postcodes = set(column["Postcode"])
    assert any(re.fullmatch(r"\d{4}[a-z]{2}", p) for p in postcodes)  # 1234ab
    assert any(re.fullmatch(r"\d{4} [A-Z]{2}", p) for p in postcodes)  # 1234 AB
    assert any(re.fullmatch(r"\d{4}[A-Z]{2}", p) for p in postcodes)  # 1234AB
    assert {
        "Nederland",
        "Holland",
        "The Netherlands",
        "België",
        "Belgique",
        "Sverige",
        "NL",
    } <= set(column["Land"])
    assert {"", "NULL", "-", "n.v.t.", "onbekend"} <= set(column["Email"])
    assert any(e != e.strip() for e in column["Email"]) and any(
        e != e.lower() for e in column["Email"]
    )


def test_webshop_address_is_one_field_and_surname_includes_the_infix(drop):
    header = drop.header["webshop"]
    truth = drop.truth[(drop.truth.source == "webshop") & ~drop.truth.is_broken]
    samples = {"suffix": 0, "infix": 0}
    for row in truth.itertuples():
        written = drop.rows["webshop"][row.line_number - 2]
        address = written[header.index("address")]
        if pd.isna(row.street_dirt) and pd.isna(row.street_case):
            assert address.lower().startswith(f"{row.street} {row.house_number}".lower()), address
            if isinstance(row.house_number_suffix, str):
                assert (
                    address.replace(" ", "")
                    .replace("-", "")
                    .lower()
                    .endswith(row.house_number_suffix.lower())
                )
                samples["suffix"] += 1
        if (
            isinstance(row.infix, str)
            and pd.isna(row.last_name_dirt)
            and pd.isna(row.infix_case)
            and pd.isna(row.last_name_case)
        ):
            assert (
                written[header.index("last_name")].lower()
                == f"{row.infix} {row.last_name}".lower()
            )
            samples["infix"] += 1
    assert samples["suffix"] > 10 and samples["infix"] > 50


def test_broken_rows_are_broken_and_the_others_are_not(big_drop):
    config = source_config()
    reasons = set()
    for source, date_column in (("crm", "Geboortedatum"), ("webshop", "date_of_birth")):
        header = big_drop.header[source]
        width = len(header)
        part = big_drop.truth[big_drop.truth.source == source]
        reason_of = dict(
            zip(
                part.line_number,
                part.broken_reason.astype(object).where(part.is_broken, None),
                strict=True,
            )
        )
        for line, row in enumerate(big_drop.rows[source], start=2):
            reason = reason_of[line]
            if reason == "field_count":
                assert len(row) != width
            elif reason == "bad_date":
                assert len(row) == width
                try:
                    dt.datetime.strptime(
                        row[header.index(date_column)], config[source]["date_format"]
                    )
                    raise AssertionError(f"{row[header.index(date_column)]} parses")
                except ValueError:
                    pass
            else:
                assert len(row) == width
            reasons.add(reason)
        share = part.is_broken.mean()
        assert 0.0003 < share < 0.003
    assert {"field_count", "bad_date"} <= reasons
