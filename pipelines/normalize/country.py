"""Country names and codes, as Dutch, Belgian and Swedish files write them, to ISO 3166-1 alpha-2.

The lookup is built once from pycountry (alpha-2, alpha-3, English name, official and common
names, and their Dutch, Swedish, French and German translations) plus the everyday names no
standard lists (`Holland`, `UK`, `Engeland`). Keys ignore case, accents and punctuation, so
`België`, `belgie` and `BELGIË` all match. A key that two countries share is left out.
"""

from __future__ import annotations

import gettext
import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

import pycountry

from pipelines.normalize.text import MISSING, clean_text, is_missing

LANGUAGES = ("nl", "en", "sv", "fr", "de")

# Everyday names and codes that pycountry does not carry (key text -> alpha-2).
ALIASES: dict[str, str] = {
    "holland": "NL",
    "the netherlands": "NL",
    "nederlands": "NL",
    "nl": "NL",
    "ned": "NL",
    "hol": "NL",
    "belgie": "BE",
    "belgia": "BE",
    "belgien": "BE",
    "b": "BE",
    "zweden": "SE",
    "sverige": "SE",
    "suede": "SE",
    "schweden": "SE",
    "uk": "GB",
    "great britain": "GB",
    "groot brittannie": "GB",
    "engeland": "GB",
    "england": "GB",
    "scotland": "GB",
    "schotland": "GB",
    "wales": "GB",
    "britain": "GB",
    "storbritannien": "GB",
    "angleterre": "GB",
    "grossbritannien": "GB",
    "verenigd koninkrijk": "GB",
    "usa": "US",
    "us": "US",
    "united states": "US",
    "verenigde staten": "US",
    "amerika": "US",
    "america": "US",
    "usa (united states)": "US",
    "etats unis": "US",
    "vereinigte staaten": "US",
    "duitsland": "DE",
    "deutschland": "DE",
    "tyskland": "DE",
    "allemagne": "DE",
    "germany": "DE",
    "frankrijk": "FR",
    "frankrike": "FR",
    "frankreich": "FR",
    "noorwegen": "NO",
    "norge": "NO",
    "denemarken": "DK",
    "danmark": "DK",
    "suomi": "FI",
    "spanje": "ES",
    "espana": "ES",
    "italie": "IT",
    "oostenrijk": "AT",
    "osterreich": "AT",
    "zwitserland": "CH",
    "schweiz": "CH",
    "suisse": "CH",
    "svizzera": "CH",
    "luxemburg": "LU",
    "letzebuerg": "LU",
    "polska": "PL",
    "turkije": "TR",
    "turkiye": "TR",
    "marokko": "MA",
    "maroc": "MA",
    "curacao": "CW",
    "russia": "RU",
    "rusland": "RU",
    "south korea": "KR",
    "zuid korea": "KR",
    "czech republic": "CZ",
    "tsjechie": "CZ",
}


class CountryResult(NamedTuple):
    value: str | None
    status: str
    reason: str | None


def country_key(text: str) -> str:
    """Lower case, accents and punctuation removed, single spaces, no leading `the`."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    plain = re.sub(r"[^a-z0-9]+", " ", plain).strip()
    return plain.removeprefix("the ").strip() if plain != "the" else plain


@lru_cache(maxsize=1)
def country_lookup() -> dict[str, str]:
    """Key text -> alpha-2 code, for every name and code we recognise."""
    found: dict[str, set[str]] = {}

    def add(name: str | None, code: str) -> None:
        if name:
            found.setdefault(country_key(name), set()).add(code)

    translations = {
        lang: gettext.translation(
            "iso3166-1", pycountry.LOCALES_DIR, languages=[lang], fallback=True
        )
        for lang in LANGUAGES
    }
    for c in pycountry.countries:
        code = c.alpha_2
        add(code, code)
        add(c.alpha_3, code)
        for attr in ("name", "official_name", "common_name"):
            name = getattr(c, attr, None)
            if not name:
                continue
            add(name, code)
            for t in translations.values():
                add(t.gettext(name), code)
            # "Korea, Republic of" is also written "Republic of Korea".
            if ", " in name:
                head, _, tail = name.partition(", ")
                add(f"{tail} {head}", code)
    lookup = {key: codes.pop() for key, codes in found.items() if len(codes) == 1 and key}
    lookup.update({country_key(k): v for k, v in ALIASES.items()})
    # A text that reads as a missing marker once accents are gone (`ÑA` -> `na`) is no country:
    # missing markers win over codes (`NA`, Namibia's code, is "not available" in a CRM export).
    for marker in MISSING:
        lookup.pop(country_key(marker), None)
    return lookup


def normalize_country(raw: str | None) -> CountryResult:
    """`Nederland`, `Holland`, `NLD`, `Suède` -> `NL`/`SE` (corrected); `nl` -> `NL` (valid)."""
    clean = clean_text(raw)
    if is_missing(clean):
        return CountryResult(None, "missing", None)
    code = country_lookup().get(country_key(clean))
    if code is None:
        return CountryResult(None, "invalid", "unknown_country")
    return CountryResult(code, "valid" if clean.upper() == code else "corrected", None)
