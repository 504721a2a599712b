"""Which country a row's address and name are read in.

Phones follow the issue's rule: the row's normalized country, else the source's default.
Postcodes and names (infix rules, casing) need the country too, and when the country field is
empty a row often still says where it lives: a postcode written with its country prefix
(`B-1000`, `S-123 45`) or a phone number written internationally (`+32 470 ...`). So the
*place region* is: the row's country, else the postcode's prefix country, else the country of
a valid phone number, else the source's default. The `country` column itself stays as the
file said (missing stays missing).
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from pipelines.normalize.postcode import PREFIXES
from pipelines.normalize.text import q


@lru_cache(maxsize=1)
def _prefix_rules() -> tuple[tuple[str, str], ...]:
    """(regex, country): a country prefix followed by a postcode of that country's shape.

    The shape check keeps `E1 6AN` (London) from reading as a Spanish `E-` prefix.
    """
    from pipelines.normalize.postcode import country_rule

    rules = []
    for country, prefixes in PREFIXES.items():
        shapes = [m.pattern.removeprefix("^").removesuffix("$") for m in country_rule(country).matchers]
        if not shapes:
            continue
        alternatives = "|".join(sorted(prefixes, key=len, reverse=True))
        rules.append((rf"(?:{alternatives}) ?-? ?(?:{'|'.join(shapes)})", country))
    return tuple(rules)


def postcode_prefix_country(clean: str | None) -> str | None:
    """`B-1000` -> BE, `S-123 45` -> SE, `NL-1234AB` -> NL; None without a country prefix."""
    if not clean:
        return None
    text = clean.upper()
    for pattern, country in _prefix_rules():
        if re.fullmatch(pattern, text):
            return country
    return None


def postcode_prefix_country_sql(clean_expr: str) -> str:
    """SQL of `postcode_prefix_country`. Every prefix starts with a letter, so one cheap test
    skips the patterns for the usual postcode that starts with a digit."""
    whens = " ".join(
        f"WHEN regexp_full_match(upper({clean_expr}), {q(p)}) THEN {q(c)}" for p, c in _prefix_rules()
    )
    assert all(p[:1].isalpha() for prefixes in PREFIXES.values() for p in prefixes), "a prefix must start with a letter"
    return f"CASE WHEN NOT regexp_matches({clean_expr}, '^[0-9]') THEN CASE {whens} END END"


@lru_cache(maxsize=1024)
def _main_region(calling_code: int) -> str | None:
    region = phonenumbers.region_code_for_country_code(calling_code)
    return None if region in (None, "ZZ", "001") else region


def phone_country(e164: str | None) -> str | None:
    """The main country of a valid E.164 number's calling code (+32 -> BE, +44 -> GB)."""
    if not e164:
        return None
    digits = e164[1:]
    for n in (1, 2, 3):
        if int(digits[:n]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return _main_region(int(digits[:n]))
    return None


def calling_code_regions_sql() -> str:
    """SQL VALUES of (calling code with its plus sign, main country), e.g. ('+32', 'BE')."""
    rows = []
    for cc in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE):
        region = _main_region(cc)
        if region:
            rows.append(f"({q('+' + str(cc))}, {q(region)})")
    return "VALUES " + ", ".join(rows)


def phone_country_joins_sql(e164_expr: str, alias: str) -> tuple[str, str]:
    """SQL of `phone_country` as three joins on the 1-, 2- and 3-digit prefixes (calling codes are
    prefix-free, so at most one matches): (join clauses, country expression)."""
    joins = " ".join(
        f"LEFT JOIN ({calling_code_regions_sql()}) {alias}{n}(cc, region) ON {alias}{n}.cc = {e164_expr}[1:{n + 1}]"
        for n in (1, 2, 3)
    )
    return joins, f"coalesce({alias}1.region, {alias}2.region, {alias}3.region)"


def place_region(country: str | None, postcode_clean: str | None, e164: str | None, default: str) -> str:
    return country or postcode_prefix_country(postcode_clean) or phone_country(e164) or default
