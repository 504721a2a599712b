"""A reference postcode table the operator configures (`postcode_reference` in sources.yaml).

CSV with a header: `postcode`, `city`, optionally `street` and `country` (without a country
column, each postcode's shape says it: `1234 AB` NL, `123 45` SE, `1000` BE). For the rows of
a country the table covers, after the fields are normalized:

- a postcode the table does not know is `invalid` (`unknown_postcode`);
- the city becomes the table's spelling for that postcode: the listed city the row names
  (compared by `places.place_key`), else the postcode's first listed city, also when the row
  had none;
- when the table lists streets for the postcode, a street that is not among them is `invalid`
  (`street_not_at_postcode`).

Rows of countries the table does not cover are left as they are.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pipelines.normalize.places import place_key
from pipelines.normalize.postcode import normalize_postcode

_SHAPES = (
    ("NL", re.compile(r"[0-9]{4} ?[A-Za-z]{2}")),
    ("SE", re.compile(r"[0-9]{3} ?[0-9]{2}")),
    ("BE", re.compile(r"[0-9]{4}")),
)


@dataclass
class PostcodeEntry:
    cities: list[str] = field(default_factory=list)  # in file order, no duplicates
    streets: set[str] = field(default_factory=set)  # place keys


@dataclass
class ReferenceTable:
    entries: dict[tuple[str, str], PostcodeEntry]  # (country, canonical postcode) -> entry
    countries: frozenset[str]

    def check(
        self, country: str | None, postcode: str | None, city: str | None, street: str | None
    ) -> tuple:
        """(postcode known, canonical city, street known) for a normalized row; None where the
        table has nothing to say (country not covered, no postcode, no streets listed)."""
        if country not in self.countries or postcode is None:
            return None, city, None
        entry = self.entries.get((country, postcode))
        if entry is None:
            return False, city, None
        wanted = place_key(city) if city else None
        canonical = next((c for c in entry.cities if place_key(c) == wanted), entry.cities[0])
        street_known = None
        if entry.streets and street is not None:
            street_known = place_key(street) in entry.streets
        return True, canonical, street_known


def _country_of(postcode: str) -> str | None:
    return next((c for c, shape in _SHAPES if shape.fullmatch(postcode.strip())), None)


@lru_cache(maxsize=4)
def _load(path: str, _mtime: float) -> ReferenceTable:
    entries: dict[tuple[str, str], PostcodeEntry] = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        sample = f.read(4096)
        f.seek(0)
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        for row in csv.DictReader(f, dialect=dialect):
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            raw, city = row.get("postcode", ""), row.get("city", "")
            country = (row.get("country") or "").upper() or _country_of(raw)
            value = normalize_postcode(raw, country).value if country and raw else None
            if not value or not city:
                continue
            entry = entries.setdefault((country, value), PostcodeEntry())
            if city not in entry.cities:
                entry.cities.append(city)
            if row.get("street"):
                entry.streets.add(place_key(row["street"]))
    return ReferenceTable(entries, frozenset(c for c, _ in entries))


def load_reference(path: str | None) -> ReferenceTable | None:
    """The table at `path` (read once per file version), or None when none is configured."""
    if not path:
        return None
    return _load(path, os.path.getmtime(path))


def apply_reference(
    row: dict[str, Any], table: ReferenceTable | None, country: str | None
) -> None:
    """Check one normalized `contacts` row (a dict) against the table, in place."""
    if table is None:
        return
    known, city, street_known = table.check(country, row["postcode"], row["city"], row["street"])
    row["city"] = city
    if known is False:
        row.update(postcode=None, postcode_status="invalid", postcode_reason="unknown_postcode")
    if street_known is False:
        row.update(street=None, street_status="invalid", street_reason="street_not_at_postcode")


def check_tuple(args: tuple, *, table: ReferenceTable) -> tuple:
    return table.check(*args)
