"""Phone numbers: valid mobile and fixed numbers per country, and the many ways people write them.

A number is (country code, area code, subscriber digits). The plans below only produce ranges
that `phonenumbers` accepts as valid for the country and the intended type (checked in tests).
Writing styles are the ones seen in Dutch, Belgian and Swedish exports: `06-12345678`,
`+31 6 12345678`, `0031612345678`, `(020) 123 4567`, `070-123 45 67`, `0470 12 34 56`,
`0470/12.34.56`, ... Every style still parses back to the same E.164 number given the country.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.demo.hashing import Draws
from pipelines.demo.pools import COUNTRIES

CALLING_CODES = {"NL": "31", "BE": "32", "SE": "46"}

# (area code, subscriber length, allowed first subscriber digits)
_NL_AREAS_2 = (
    "10 13 15 20 23 24 26 30 33 35 36 38 40 43 45 46 50 53 55 58 70 71 72 73 74 75 76 77 78 79"
).split()
_NL_AREAS_3 = "111 113 162 172 180 222 251 294 313 341 411 475 492 511 521 541 561 570 591".split()
_BE_MOBILE = (
    ["456", "460", "465", "466", "467", "468"]
    + [f"4{n}" for n in range(70, 81)]
    + [f"4{n}" for n in range(84, 100)]
)
_BE_AREAS_2 = (
    "10 11 12 13 14 15 16 19 50 51 52 53 54 55 56 57 58 59 60 61 63 64 65 67 69 71 81 82 83 84 85 "
    "86 87 89"
).split()
_SE_AREAS_2 = "31 40 18 13 19 21 11 16 36 35 42 46 54 63".split()

MOBILE_PLANS: dict[str, list[tuple[str, int, str]]] = {
    "NL": [("6", 8, "123458")],
    "BE": [(a, 6, "0123456789") for a in _BE_MOBILE],
    "SE": [(a, 7, "0123456789") for a in ("70", "72", "73", "76", "79")],
}
FIXED_PLANS: dict[str, list[tuple[str, int, str]]] = {
    "NL": [(a, 7, "23456789") for a in _NL_AREAS_2] + [(a, 6, "23456789") for a in _NL_AREAS_3],
    "BE": [("2", 7, "2345678"), ("3", 7, "2345678"), ("9", 7, "234")]
    + [(a, 6, "23456789") for a in _BE_AREAS_2],
    "SE": [("8", 7, "23456789"), ("31", 7, "23456789")]
    + [(a, 6, "23456789") for a in _SE_AREAS_2],
}

# Writing styles, in order. "n" = national significant number parts: trunk 0 + area + subscriber.
STYLES: tuple[str, ...] = (
    "0612345678",  # 0 national, compact
    "06-12345678",  # 1 national, dash after the area code
    "06 12 34 56 78",  # 2 national, grouped with spaces
    "070-123 45 67",  # 3 national, dash then groups (Swedish habit)
    "(020) 123 4567",  # 4 area code in brackets
    "+31612345678",  # 5 E.164
    "+31 6 12345678",  # 6 international, spaced
    "0031612345678",  # 7 international with 00
    "+31 (0)6 12345678",  # 8 international with the trunk 0 in brackets
    "0470/12.34.56",  # 9 slash and dots (Belgian habit)
)
INTERNATIONAL_STYLES = np.array([5, 6, 7, 8])
# Style weights per country (NL, BE, SE): how often each style shows up in a source.
STYLE_WEIGHTS: dict[str, tuple[int, ...]] = {
    "NL": (30, 25, 8, 2, 5, 10, 8, 4, 6, 2),
    "BE": (15, 3, 25, 2, 2, 12, 12, 6, 3, 20),
    "SE": (12, 10, 6, 35, 2, 12, 12, 6, 4, 1),
}


@dataclass(frozen=True)
class Phones:
    """Phone numbers as parts; `present` is False where there is no number."""

    present: np.ndarray
    country: np.ndarray  # index into COUNTRIES
    area: pa.Array
    subscriber: pa.Array  # zero-padded digits

    def e164(self) -> pa.Array:
        codes = pa.array([CALLING_CODES[c] for c in COUNTRIES]).take(pa.array(self.country))
        value = pc.binary_join_element_wise("+", codes, self.area, self.subscriber, "")
        return pc.if_else(pa.array(self.present), value, pa.scalar(None, pa.string()))


def _plan_table(plans: dict[str, list[tuple[str, int, str]]]):
    areas, lengths, firsts, country_of = [], [], [], []
    for c, country in enumerate(COUNTRIES):
        for area, length, first in plans[country]:
            areas.append(area)
            lengths.append(length)
            firsts.append(first)
            country_of.append(c)
    sizes = np.bincount(country_of, minlength=len(COUNTRIES))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return areas, np.array(lengths), firsts, starts, sizes


def make_phones(
    draws: Draws, key: np.ndarray, country: np.ndarray, present: np.ndarray, mobile: bool
) -> Phones:
    """One valid number per key (mobile or fixed line) in the element's country."""
    areas, lengths, firsts, starts, sizes = _plan_table(MOBILE_PLANS if mobile else FIXED_PLANS)
    plan = starts[country] + draws.below(key, "phone.plan", sizes[country])
    length = lengths[plan]
    # The first subscriber digit comes from the plan's allowed digits (e.g. NL mobile 06-1..5, 8).
    allowed = np.array([[int(ch) for ch in (f * 10)[:10]] for f in firsts])
    allowed_count = np.array([len(f) for f in firsts])
    first_digit = allowed[plan, draws.below(key, "phone.first", allowed_count[plan])]
    rest = draws.below(key, "phone.rest", 10 ** (length - 1))
    number = (first_digit * 10 ** (length - 1) + rest).astype(np.uint64)
    padded = pc.utf8_lpad(pa.array(number).cast(pa.string()), 8, "0")
    return Phones(
        present=present,
        country=country,
        area=pa.array(areas).take(pa.array(plan)),
        subscriber=_trim_left(padded, 8 - length),
    )


def _trim_left(padded: pa.Array, drop: np.ndarray) -> pa.Array:
    """Drop `drop[i]` leading characters of each fixed-width string (drop is 0, 1 or 2)."""
    out = padded
    for k in np.unique(drop):
        if k:
            out = pc.if_else(pa.array(drop == k), pc.utf8_slice_codeunits(padded, int(k)), out)
    return out


def _groups(subscriber: pa.Array, length: np.ndarray, sep: str) -> pa.Array:
    """Subscriber digits in the usual groups: 8 -> 12 34 56 78, 7 -> 123 45 67, 6 -> 12 34 56."""
    s = subscriber

    def part(a: int, b: int) -> pa.Array:
        return pc.utf8_slice_codeunits(s, a, b)

    eight = pc.binary_join_element_wise(part(0, 2), part(2, 4), part(4, 6), part(6, 8), sep)
    seven = pc.binary_join_element_wise(part(0, 3), part(3, 5), part(5, 7), sep)
    six = pc.binary_join_element_wise(part(0, 2), part(2, 4), part(4, 6), sep)
    return pc.if_else(pa.array(length == 8), eight, pc.if_else(pa.array(length == 7), seven, six))


def write_phones(phones: Phones, style: np.ndarray) -> pa.Array:
    """Render each number in its style (index into STYLES); "" where there is no number."""
    cc = pa.array([CALLING_CODES[c] for c in COUNTRIES]).take(pa.array(phones.country))
    a, s = phones.area, phones.subscriber
    length = pc.utf8_length(s).to_numpy()
    spaced = _groups(s, length, " ")
    dotted = _groups(s, length, ".")
    seven_split = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(s, 0, 3), pc.utf8_slice_codeunits(s, 3), " "
    )
    area_style = pc.if_else(pa.array(length == 7), seven_split, spaced)  # "(020) 123 4567"
    j = pc.binary_join_element_wise
    rendered = pc.choose(
        pa.array(style.astype(np.int8)),
        j("0", a, s, ""),
        j("0", a, "-", s, ""),
        j("0", a, " ", spaced, ""),
        j("0", a, "-", spaced, ""),
        j("(0", a, ") ", area_style, ""),
        j("+", cc, a, s, ""),
        j("+", cc, " ", a, " ", s, ""),
        j("00", cc, a, s, ""),
        j("+", cc, " (0)", a, " ", s, ""),
        j("0", a, "/", dotted, ""),
    )
    return pc.if_else(pa.array(phones.present), rendered, "")


def pick_styles(
    draws: Draws, key: np.ndarray, country: np.ndarray, international_only: np.ndarray
) -> np.ndarray:
    """A writing style per number, by country habit; international where the country is unknown."""
    style = np.zeros(len(key), dtype=np.int64)
    for c, name in enumerate(COUNTRIES):
        rows = country == c
        style[rows] = draws.pick(key[rows], "phone.style", STYLE_WEIGHTS[name])
    force = international_only & ~np.isin(style, INTERNATIONAL_STYLES)
    style[force] = INTERNATIONAL_STYLES[
        draws.below(key[force], "phone.intl", len(INTERNATIONAL_STYLES))
    ]
    return style
