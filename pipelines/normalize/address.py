"""Street, house number and suffix, from separate fields or one combined address line.

`Hoofdstraat 12a`, `Hoofdstraat 12-A`, `Storgatan 5 B`, `Rue Royale 16bis`, `Beauweg 67 1`
-> street + house number (digits) + suffix (upper case, no separator: `A`, `1`, `HS`, `BIS`).
The split takes the last number that is followed only by a suffix, so `Rue du 11 Novembre 5`
keeps its 11. A street field that carries the number (`Hoofdstraat 12a` in `Straat`) is split the
same way, when the house-number field is empty or carries the same number (`Kerkstraat 12` + `12`);
a different number there (`Laan 1940-1945` + `12`) means the digits belong to the street name.

Streets get their abbreviations written out (`Kerkstr.` -> `Kerkstraat`, streets.py) and
cities their canonical spelling (`Goteborg` -> `Göteborg`, `Gand` -> `Gent`, places.py); both
have mojibake repaired and the Dutch IJ capitalised as one letter.

`ADDRESS_LINE` is a regular expression that Python's `re` and DuckDB's RE2 read alike, so the
batch path splits lines in SQL and only the (few) distinct street and house-number parts go
through `normalize_street` / `normalize_house_number`.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from pipelines.normalize.mojibake import clean_repaired, repair
from pipelines.normalize.places import DEFAULT_BRUSSELS_NAMES, canonical_place
from pipelines.normalize.streets import expand_abbreviations
from pipelines.normalize.text import (
    clean_text,
    fix_ij,
    is_missing,
    needs_casing,
    smart_title,
    status_of,
)

# street, number, suffix of a combined line; anchored by fullmatch / ^...$.
SUFFIX = r"(?:[A-Za-z]{1,4}|[0-9]{1,4}|(?:bus|bte|box) ?[0-9]{1,4}[A-Za-z]?)"
ADDRESS_LINE = rf"(.*?\S)[\s,]+([0-9]{{1,5}})((?:\s*[-/]?\s*{SUFFIX})?)\s*"
HOUSE_NUMBER = rf"(?:(?:nr|no|n°)\.?\s*)?([0-9]{{1,5}})\s*[-/]?\s*({SUFFIX}?)"
# The digits of a house-number field, to compare with a number at the end of the street field.
HOUSE_DIGITS = r"^(?:(?:nr|no|n°)\.?\s*)?0*([0-9]{1,5})"
_LINE = re.compile(ADDRESS_LINE, re.IGNORECASE)
_HOUSE = re.compile(HOUSE_NUMBER, re.IGNORECASE)
_HOUSE_DIGITS = re.compile(HOUSE_DIGITS, re.IGNORECASE)
DUTCH_COUNTRIES = (None, "NL", "BE")


class StreetResult(NamedTuple):
    value: str | None
    status: str
    reason: str | None


class HouseNumberResult(NamedTuple):
    number: str | None
    suffix: str | None
    status: str
    reason: str | None


class AddressResult(NamedTuple):
    street: StreetResult
    house: HouseNumberResult
    street_from: str | None  # which input field the street came from: street, address_line
    house_from: str | None  # house_number, street or address_line


def split_line(text: str) -> tuple[str, str] | None:
    """`Hoofdstraat 12-A` -> (`Hoofdstraat`, `12-A`); None when the text ends in no house
    number."""
    m = _LINE.fullmatch(text)
    if not m:
        return None
    return m.group(1), (m.group(2) + m.group(3)).strip()


def normalize_street(part: str | None, country: str | None = None) -> StreetResult:
    """`HOOFDSTRAAT` -> `Hoofdstraat`; `rue de la loi` -> `Rue de la Loi`; `Kerkstr.` ->
    `Kerkstraat` (`corrected`); mixed case kept."""
    written, clean = clean_repaired(part)
    if is_missing(clean):
        return StreetResult(None, "missing", None)
    text = clean.strip(" ,;")
    if not any(c.isalpha() for c in text):
        return StreetResult(None, "invalid", "not_a_street")
    value = _cased(text)
    if not value:
        return StreetResult(None, "invalid", "not_a_street")
    if country in DUTCH_COUNTRIES:
        value = fix_ij(value)
    value = expand_abbreviations(value, country)
    return StreetResult(value, status_of(written, value), None)


def normalize_street_pair(args: tuple[str | None, str | None]) -> StreetResult:
    return normalize_street(*args)


def normalize_house_number(part: str | None) -> HouseNumberResult:
    """`12a` -> (`12`, `A`) valid; `12-A` -> (`12`, `A`) corrected; `abc` -> invalid."""
    clean = clean_text(part)
    if is_missing(clean):
        return HouseNumberResult(None, None, "missing", None)
    m = _HOUSE.fullmatch(clean)
    if not m:
        return HouseNumberResult(None, None, "invalid", "not_a_house_number")
    number = m.group(1).lstrip("0")
    if not number:
        return HouseNumberResult(None, None, "invalid", "not_a_house_number")
    suffix = m.group(2).upper()
    bus = re.fullmatch(r"(BUS|BTE|BOX) ?([0-9]+[A-Z]?)", suffix)
    suffix = f"{bus.group(1)} {bus.group(2)}" if bus else suffix
    return HouseNumberResult(number, suffix or None, status_of(clean, number + suffix), None)


def normalize_suffix(raw: str | None) -> str | None:
    """A separate house-number suffix field: `a` -> `A`, `-1` -> `1`, `h.s.` -> `HS`."""
    clean = clean_text(raw)
    if is_missing(clean):
        return None
    return re.sub(r"[\s.\-/]", "", clean).upper() or None


def normalize_city(
    raw: str | None, country: str | None = None, brussels: str = DEFAULT_BRUSSELS_NAMES
) -> str | None:
    """The canonical name of a listed place (`Goteborg` -> `Göteborg`, `Gand` -> `Gent`,
    places.py); other cities keep their spelling, with whitespace, one-case writing, the IJ and
    mojibake fixed."""
    _, clean = clean_repaired(raw)
    if is_missing(clean):
        return None
    known = canonical_place(clean, country, brussels)
    if known:
        return known
    value = _cased(clean)
    return fix_ij(value) if country in DUTCH_COUNTRIES else value


def _cased(text: str) -> str:
    """One-case writing title-cased. Casing can itself produce a mojibake pair (`â\x80` ->
    `Â\x80`): that is repaired and cased again, so normalizing the result changes nothing."""
    value = smart_title(text) if needs_casing(text) else text
    repaired = repair(value)
    if repaired != value:
        # a repair can bring back whitespace the cleaning removed (`Â ` -> a no-break space)
        repaired = clean_text(repaired) or ""
        value = smart_title(repaired) if needs_casing(repaired) else repaired
    return value


def same_number(street_number: str, house: str) -> bool:
    """Whether the house-number field carries the number found at the end of the street field."""
    m = _HOUSE_DIGITS.match(house)
    return bool(m) and m.group(1) == street_number.lstrip("0")


def address_parts(
    street: str | None, house: str | None, line: str | None
) -> tuple[str | None, str | None, str | None, str | None]:
    """Which text is the street and which the house number, and where each came from.

    Input texts are cleaned, with missing markers already None. Separate fields win over the
    combined line; a street field carrying the number is split when the number field is empty
    or carries the same number.
    """
    street_part = house_part = street_from = house_from = None
    if street is not None:
        street_part, street_from = street, "street"
        split = split_line(street)
        if split and (house is None or same_number(_LINE.fullmatch(street).group(2), house)):
            street_part, house_part = split
            house_from = "street"
    if house is not None:
        house_part, house_from = house, "house_number"
    if line is not None:
        split = split_line(line)
        if street_part is None:
            street_part, street_from = (split[0] if split else line), "address_line"
        if house_part is None and split:
            house_part, house_from = split[1], "address_line"
    return street_part, house_part, street_from, house_from


def normalize_address(
    street_raw: str | None,
    house_raw: str | None = None,
    line_raw: str | None = None,
    country: str | None = None,
) -> AddressResult:
    """Street and house number of a row from its street, house-number and address-line fields;
    `country` (the row's place region) decides which street abbreviations are known."""

    def present(raw: str | None) -> str | None:
        c = clean_text(raw)
        return None if is_missing(c) else c

    street_part, house_part, street_from, house_from = address_parts(
        present(street_raw), present(house_raw), present(line_raw)
    )
    street = normalize_street(street_part, country)
    return AddressResult(street, normalize_house_number(house_part), street_from, house_from)
