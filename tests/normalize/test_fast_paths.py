"""The SQL fast paths decide exactly as the per-value (library) functions would.

Each test builds a few thousand seeded-random inputs around the shapes the fast path takes (and
plenty it must refuse), runs the SQL in DuckDB and compares every value it decides with the
per-value function.
"""

from __future__ import annotations

import datetime as dt
import random

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.normalize.dates import format_regex, normalize_date
from pipelines.normalize.email import fast_email_sql, normalize_email
from pipelines.normalize.phone import fast_path_regions, fast_path_sql, normalize_phone
from pipelines.normalize.postcode import fast_postcode_sql, normalize_postcode
from pipelines.normalize.text import (
    WHITESPACE,
    clean_present_sql,
    clean_sql,
    clean_text,
    is_missing,
    status_of,
    status_sql,
)


@pytest.fixture
def mem():
    con = duckdb.connect()
    yield con
    con.close()


def _phone_inputs(rng: random.Random, n: int) -> list[tuple[str, str]]:
    regions = ["NL", "BE", "SE", "DE", "FR", "GB", "DK", "IT", "US", "AT", "CH", "NO", "FI", "LU"]
    prefixes = [
        "0",
        "+31",
        "0031",
        "+32",
        "+46",
        "0046",
        "+49",
        "+44",
        "+1",
        "+39",
        "+310",
        "+3106",
        "00",
        "",
        "+",
        "+0",
        "000",
        "06",
        "0470",
        "08",
        "+358",
        "+352",
        "31",
        "32",
    ]
    out = set()
    while len(out) < n:
        body = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 13)))
        text = ""
        for ch in rng.choice(prefixes) + body:
            text += ch
            if rng.random() < 0.15:
                text += rng.choice([" ", "-", ".", "/", "(", ")", " (0)"])
        clean = clean_text(text)
        if clean:
            out.add((clean, rng.choice(regions)))
    return sorted(out)


def test_phone_fast_path_agrees_with_phonenumbers(mem):
    pairs = _phone_inputs(random.Random(7), 6000)
    mem.execute("CREATE TABLE pairs (clean VARCHAR, region VARCHAR)")
    mem.executemany("INSERT INTO pairs VALUES (?, ?)", pairs)
    regions = ["NL", "BE", "SE", "DE", "FR", "DK", "AT", "CH", "NO", "FI", "IT", "LU"]
    decided = mem.execute(fast_path_sql("pairs", regions)).fetchall()
    assert len(decided) > 1000  # the fast path takes a good share, and refuses the rest
    for clean, region, e164, kind, reason in decided:
        ref = normalize_phone(clean, region)
        assert (e164, kind, reason) == (ref.value, ref.type, ref.reason), (clean, region)
        if e164:
            assert (
                mem.execute(f"SELECT {status_sql('?', '?')}", [clean, e164]).fetchone()[0]
                == ref.status
            )


def test_phone_fast_path_regions_are_exact(mem):
    """Every region the fast path may use, on the library's own example numbers in three
    formats."""
    import phonenumbers
    from phonenumbers import PhoneNumberFormat as F
    from phonenumbers import PhoneNumberType as T

    regions = sorted(fast_path_regions())
    pairs = set()
    for region in regions:
        for kind in (T.MOBILE, T.FIXED_LINE, T.TOLL_FREE, T.VOIP, T.PREMIUM_RATE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example:
                for fmt in (F.E164, F.INTERNATIONAL, F.NATIONAL):
                    pairs.add((phonenumbers.format_number(example, fmt), region))
    mem.execute("CREATE TABLE pairs (clean VARCHAR, region VARCHAR)")
    mem.executemany("INSERT INTO pairs VALUES (?, ?)", sorted(pairs))
    decided = mem.execute(fast_path_sql("pairs", regions)).fetchall()
    assert len(decided) > len(pairs) // 2
    for clean, region, e164, kind, reason in decided:
        ref = normalize_phone(clean, region)
        assert (e164, kind, reason) == (ref.value, ref.type, ref.reason), (clean, region)


def _email_inputs(rng: random.Random, n: int) -> list[str]:
    alphabet = "abcXYZ019._-+!#$%&'*/=?^`{|}~@ \u00e9"
    domains = [
        "gmail.com",
        "a.b",
        "x-y.nl",
        "-bad.com",
        "bad-.com",
        "ab--cd.com",
        "xn--bcher-kva.ch",
        "host",
        "localhost",
        "x.local",
        "x.test",
        "1.2.3.4",
        "mail.example.org",
        "EXAMPLE.COM",
        "d.c0m",
        "a..b.com",
    ]
    out = set()
    while len(out) < n:
        local = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
        text = f"{local}@{rng.choice(domains)}" if rng.random() < 0.8 else local
        clean = clean_text(text)
        if clean and not is_missing(clean):
            out.add(clean)
    return sorted(out)


def test_email_fast_path_agrees_with_email_validator(mem):
    values = _email_inputs(random.Random(11), 5000)
    mem.execute("CREATE TABLE e (clean VARCHAR)")
    mem.executemany("INSERT INTO e VALUES (?)", [[v] for v in values])
    fast = mem.execute(
        f"SELECT clean, lower(clean) FROM e WHERE {fast_email_sql('clean')}"
    ).fetchall()
    assert len(fast) > 200
    for clean, value in fast:
        ref = normalize_email(clean)
        # The fast path only says "syntactically valid, and this is the address"; typo and
        # disposable facts come from the same per-domain function on both paths.
        assert ref.reason != "syntax" and (ref.value == value or ref.reason == "domain_typo"), (
            clean
        )


def test_postcode_fast_path_agrees(mem):
    rng = random.Random(5)
    regions = ["NL", "BE", "SE", "DE", "GB", "FR", "PL", "US"]
    pairs = set()
    while len(pairs) < 5000:
        shape = rng.choice(
            [
                "9999 AA",
                "9999AA",
                "9999",
                "99999",
                "999 99",
                "AA9 9AA",
                "AA99AA",
                "99-999",
                "9999-AA",
            ]
        )
        text = "".join(
            rng.choice("0123456789")
            if ch == "9"
            else rng.choice("ABSDEFGHZabs")
            if ch == "A"
            else ch
            for ch in shape
        )
        if rng.random() < 0.2:
            text = rng.choice(["B-", "S-", "NL-", " ", "SE "]) + text
        pairs.add((text, rng.choice(regions)))
    mem.execute("CREATE TABLE p (raw VARCHAR, region VARCHAR)")
    mem.executemany("INSERT INTO p VALUES (?, ?)", sorted(pairs))
    decided = mem.execute(fast_postcode_sql("p", regions)).fetchall()
    assert len(decided) > 1000
    for raw, region, value in decided:
        ref = normalize_postcode(raw, region)
        assert value == ref.value, (raw, region)
        assert (
            mem.execute(f"SELECT {status_sql('?', '?')}", [raw, value]).fetchone()[0] == ref.status
        )


@pytest.mark.parametrize("fmt", ["%d-%m-%Y", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"])
def test_date_fast_path_agrees_with_strptime(mem, fmt):
    """Where the text has the exact shape of the format, DuckDB's try_strptime and Python's
    strptime accept the same texts and read the same value (including 31-02 and 29-02)."""
    rng = random.Random(3)
    texts = set()
    while len(texts) < 3000:
        y, m, d = rng.randint(1890, 2030), rng.randint(0, 13), rng.randint(0, 32)
        stamp = dt.datetime(
            2000, 1, 1, rng.randint(0, 24) % 24, rng.randint(0, 59), rng.randint(0, 59)
        )
        texts.add(
            fmt.replace("%Y", f"{y:04d}")
            .replace("%m", f"{m:02d}")
            .replace("%d", f"{d:02d}")
            .replace("%H", f"{stamp.hour:02d}")
            .replace("%M", f"{stamp.minute:02d}")
            .replace("%S", f"{stamp.second:02d}")
        )
    shape = format_regex(fmt)
    for text in sorted(texts):
        sql = mem.execute(
            "SELECT CASE WHEN regexp_full_match(?, ?) THEN try_strptime(?, ?) END",
            [text, shape, text, fmt],
        ).fetchone()[0]
        try:
            py = dt.datetime.strptime(text, fmt)
        except ValueError:
            py = None
        assert sql == py, text
        if py is not None:
            result = normalize_date(text, (fmt,), today=dt.date(2031, 1, 1))
            assert result.status == "valid" or result.reason == "too_old"


_CLEAN = duckdb.connect()  # one in-memory database for the many examples below


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            list(WHITESPACE + "aAé\u0301-NUL.") + ["n.v.t.", "NULL", "Onbekend", "Zoë"]
        ),
        max_size=8,
    ).map("".join)
)
def test_clean_sql_agrees_with_clean_text(raw):
    cleaned, present = _CLEAN.execute(
        f"SELECT {clean_sql('$1::VARCHAR')}, {clean_present_sql('$1::VARCHAR')}", [raw]
    ).fetchone()
    expected = clean_text(raw)
    assert cleaned == expected
    assert present == (None if is_missing(expected) else expected)
    if expected:
        assert status_of(expected, expected.upper()) == "valid"


def test_place_region_sql_agrees(mem):
    """The SQL twins of region.py: calling code -> country, postcode prefix -> country."""
    from pipelines.normalize.region import (
        phone_country,
        phone_country_joins_sql,
        postcode_prefix_country,
        postcode_prefix_country_sql,
    )

    numbers = [
        "+31612345678",
        "+3225111111",
        "+46701234567",
        "+442079460958",
        "+12024561111",
        "+12425551234",
        "+358401234567",
        "+35227123456",
        "+861012345678",
        "+999123",
    ]
    mem.execute("CREATE TABLE n (e164 VARCHAR)")
    mem.executemany("INSERT INTO n VALUES (?)", [[x] for x in numbers])
    joins, country = phone_country_joins_sql("n.e164", "cc")
    got = dict(mem.execute(f"SELECT n.e164, {country} FROM n {joins}").fetchall())
    assert got == {x: phone_country(x) for x in numbers}
    assert got["+3225111111"] == "BE" and got["+12425551234"] == "US"

    postcodes = [
        "B-1000",
        "B1000",
        "BE-6035",
        "S-246 89",
        "SE 123 45",
        "NL-1234AB",
        "D-10115",
        "E1 6AN",
        "1234 AB",
        "b-1000",
        "S-2468",
        None,
    ]
    for text in postcodes:
        sql = mem.execute(
            f"SELECT {postcode_prefix_country_sql('$1::VARCHAR')}", [text]
        ).fetchone()[0]
        assert sql == postcode_prefix_country(text), text
