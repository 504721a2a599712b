"""Street-name abbreviations, written out: `Kerkstr.` -> `Kerkstraat`, `Storg.` -> `Storgatan`.

Dutch and Swedish street names end in a type word glued to the name (`Kerk`+`straat`,
`Stor`+`gatan`), and CRMs abbreviate that ending. Only a glued ending with its dot is expanded
(`Dorpsln.`), plus `str` without a dot (`Kerkstr 12`): no Dutch street ends in "str" otherwise.
A stand-alone word (`Burg.`, `Dr.`, `St.`) is left alone: it can stand for too many things,
except the French street types that open a Belgian street name (`Av. Louise` -> `Avenue Louise`,
`Bd`, `Ch.`, `Pl.`, `R.`).
The ending lists depend on the country: `gr.` is a gracht in Amsterdam and a gränd in Stockholm.
"""

from __future__ import annotations

import re

DUTCH_ENDINGS = {  # the Netherlands and Flanders
    "str": "straat",
    "ln": "laan",
    "pl": "plein",
    "pln": "plein",
    "gr": "gracht",
    "wg": "weg",
    "kd": "kade",
    "blvd": "boulevard",
    "sngl": "singel",
    "sgl": "singel",
    "stwg": "steenweg",
    "stw": "steenweg",
    "dk": "dijk",
}
SWEDISH_ENDINGS = {"g": "gatan", "v": "vägen", "gr": "gränd", "pl": "plan"}
ENDINGS = {"NL": DUTCH_ENDINGS, "BE": DUTCH_ENDINGS, "SE": SWEDISH_ENDINGS}


def _pattern(endings: dict[str, str], bare: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(sorted(endings, key=len, reverse=True))
    without_dot = "|".join(bare)
    dotless = rf"|({without_dot})(?![^\W\d_])" if bare else ""
    # At least two letters of name before the ending: `Storg.` yes, `G.` no.
    return re.compile(rf"(?i)(?<=[^\W\d_]{{2}})(?:({alternatives})\.{dotless})")


FRENCH_LEADING = {
    "av": "Avenue",
    "bd": "Boulevard",
    "bld": "Boulevard",
    "ch": "Chaussée",
    "chée": "Chaussée",
    "pl": "Place",
    "r": "Rue",
    "sq": "Square",
}
_FRENCH = re.compile(r"(?i)^(av|bd|bld|ch|chée|pl|r|sq)(?:\.\s*|\s+)(?=[^\W\d_])")
_BARE_STR = re.compile(r"(?i)str(?![^\W\d_])")  # the cheap test before the full pattern
_PATTERNS = {
    "NL": _pattern(DUTCH_ENDINGS, ("str",)),
    "BE": _pattern(DUTCH_ENDINGS, ("str",)),
    "SE": _pattern(SWEDISH_ENDINGS, ()),
}


def expand_abbreviations(street: str, country: str | None) -> str:
    """`Kerkstr.` -> `Kerkstraat` (NL/BE), `Storg.` -> `Storgatan` (SE); others unchanged."""
    if country == "BE":
        m = _FRENCH.match(street)
        if m and (
            m.group(0).rstrip().endswith(".") or m.group(1).lower() in ("bd", "bld", "chée")
        ):
            street = FRENCH_LEADING[m.group(1).lower()] + " " + street[m.end() :]
    pattern = _PATTERNS.get(country or "NL")
    if pattern is None or (
        "." not in street and (country == "SE" or not _BARE_STR.search(street))
    ):
        return street
    endings = ENDINGS[country or "NL"]

    def full(m: re.Match[str]) -> str:
        return endings[(m.group(1) or m.group(2)).lower()]

    # Only at the end of a word: the text after the match must not go on with a letter.
    out, pos = [], 0
    for m in pattern.finditer(street):
        end = m.end()
        if end < len(street) and (street[end].isalpha() or street[end].isdigit()):
            continue
        out.append(street[pos : m.start()] + full(m))
        pos = end
    out.append(street[pos:])
    return "".join(out).replace(" .", " ").rstrip()
