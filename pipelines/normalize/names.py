"""First names, Dutch/Flemish infixes (tussenvoegsels) and last names.

- Whitespace collapsed, Unicode NFC; a name written all upper or all lower case gets sensible
  casing (`JAN-WILLEM` -> `Jan-Willem`, `o'brien` -> `O'Brien`, `ijsselmuiden` -> `IJsselmuiden`);
  a mixed-case name is kept as written (`McDonald`, `DiCaprio`, `Van Gogh`).
- Initials (`J.`, `J.P.`, `j. p.`, `J P`) are written `J.P.` and flagged `first_name_is_initials`;
  so are the Dutch abbreviations that stand for one name, with their dot (`Th.`, `Chr.`, `Ph.`,
  `IJ.`: `J.Th.`).
- The infix is split out of the last name when the source has no infix column or it is
  empty: `van der Berg`, `Van Der Berg`, `VAN DER BERG`, `Berg, van der` -> `van der` + `Berg`.
  In Belgium the particle is part of the surname (`Van Damme`, `De Smet`), so there it is only
  split when written the Dutch way, in lower case before a capitalised name (`van der Berg`).
  Other countries keep their particles (`von Essen`, `af Klint`).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from pipelines.normalize.text import clean_text, is_missing, needs_casing, smart_title, status_of


class FirstNameResult(NamedTuple):
    value: str | None
    status: str
    reason: str | None
    is_initials: bool | None


class LastNameResult(NamedTuple):
    infix: str | None
    value: str | None
    status: str
    reason: str | None


# Dutch and Flemish tussenvoegsel words; an infix is one or more of them ("van der", "in 't").
INFIX_WORDS = frozenset(
    {"van", "de", "der", "den", "het", "'t", "ter", "ten", "te", "in", "op", "aan", "bij", "onder", "uit",
     "uijt", "voor", "over", "la", "le", "les", "du", "des", "d'", "l'", "'s", "v.", "v.d.", "vd", "vd."}
)
INFIX_COUNTRIES = frozenset({"NL", "BE"})  # where a surname may carry a tussenvoegsel
_NAME_CHARS = re.compile(r"['’]?[^\W\d_]+(?:[ '’\-.][^\W\d_]*)*\.?", re.UNICODE)


def _cased(text: str, dutch: bool) -> str:
    return smart_title(text, dutch=dutch) if needs_casing(text) else text


def _is_name(text: str) -> bool:
    return bool(_NAME_CHARS.fullmatch(text))


# Dutch abbreviations that stand for one first name (Theodorus, Christiaan, Philippus, IJsbrand);
# they count as one initial only when written with their dot.
MULTI_LETTER_INITIALS = {"chr": "Chr", "th": "Th", "ph": "Ph", "ij": "IJ"}


def initials_form(text: str) -> str | None:
    """`J.P.`, `j. p.`, `J P`, `J`, `j.th.` -> `J.P.` / `J.` / `J.Th.`; None when the text is not initials.

    Every letter must stand alone: followed by a dot, a space or the end (`Jo` and `JP` are
    names, `J.O.` and `J P` initials), or be one of `MULTI_LETTER_INITIALS` followed by its dot.
    At most five initials.
    """
    letters = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if not ch.isalpha():
            return None
        multi = next((k for k in MULTI_LETTER_INITIALS if text[i : i + len(k) + 1].lower() == k + "."), None)
        if multi:
            letters.append(MULTI_LETTER_INITIALS[multi])
            i += len(multi)
        else:
            upper = ch.upper()
            letters.append(upper if len(upper) == 1 else ch)  # ß stays ß (its upper case is SS)
            i += 1
        if i < n and text[i] == ".":
            i += 1
        elif i < n and text[i] != " ":
            return None
        while i < n and text[i] == " ":
            i += 1
    if not letters or len(letters) > 5:
        return None
    return "".join(c + "." for c in letters)


def normalize_first_name(raw: str | None, country: str | None = None) -> FirstNameResult:
    """`JAN-WILLEM` -> `Jan-Willem`; `j.p.` -> `J.P.` (initials); `12345` -> invalid."""
    clean = clean_text(raw)
    if is_missing(clean):
        return FirstNameResult(None, "missing", None, None)
    initials = initials_form(clean)
    if initials:
        return FirstNameResult(initials, status_of(clean, initials), None, True)
    if not _is_name(clean):
        return FirstNameResult(None, "invalid", "not_a_name", None)
    value = _cased(clean, dutch=country in INFIX_COUNTRIES or country is None)
    return FirstNameResult(value, status_of(clean, value), None, False)


def _split_leading(words: list[str]) -> int:
    """How many leading words form an infix (always leaving at least one surname word)."""
    n = 0
    while n < len(words) - 1 and words[n].lower() in INFIX_WORDS:
        n += 1
    return n


def split_infix(text: str, country: str | None) -> tuple[str | None, str]:
    """(infix, surname) of a last name that may carry the infix in front or after a comma."""
    if country not in INFIX_COUNTRIES and country is not None:
        return None, text
    belgian = country == "BE"
    # "Berg, van der": surname, comma, infix.
    if "," in text:
        head, _, tail = text.partition(",")
        tail_words = tail.split()
        if head.strip() and tail_words and all(w.lower() in INFIX_WORDS for w in tail_words):
            return " ".join(w.lower() for w in tail_words), head.strip()
        return None, text
    words = text.split(" ")
    n = _split_leading(words)
    if n == 0:
        return None, text
    if belgian:
        # Only the Dutch way of writing: lower-case particles before a capitalised surname.
        particles_lower = all(w == w.lower() for w in words[:n])
        rest = " ".join(words[n:])
        if not (particles_lower and rest[:1].isupper()):
            return None, text
    return " ".join(w.lower() for w in words[:n]), " ".join(words[n:])


def normalize_last_name(raw: str | None, infix_raw: str | None = None, country: str | None = None) -> LastNameResult:
    """Infix and last name from the last-name field and (when present and filled) the infix field.

    `status` is about the last name: `corrected` when the infix had to be moved out of it in a
    way that changed the text (`Berg, van der`), `valid` for `van der Berg` (only split).
    """
    clean = clean_text(raw)
    infix_clean = clean_text(infix_raw)
    infix = None if is_missing(infix_clean) else " ".join(infix_clean.lower().split())
    if is_missing(clean):
        return LastNameResult(infix, None, "missing", None)
    dutch = country in INFIX_COUNTRIES or country is None
    if not _is_name(clean.replace(",", "")):
        return LastNameResult(infix, None, "invalid", "not_a_name")
    if infix is None:
        infix, surname = split_infix(clean, country)
    else:
        surname = clean
    if not surname or not _is_name(surname):
        return LastNameResult(infix, None, "invalid", "not_a_name")
    value = _cased(surname, dutch)
    if infix is None and split_infix(value, country)[0] is not None:
        # A surname kept whole (Belgian "Van Damme") must not read as Dutch-style after casing.
        k = next((i for i, ch in enumerate(value) if ch.isalpha()), 0)
        value = value[:k] + value[k].upper() + value[k + 1 :]
    # Compare against the input the way it was written: with the infix in front when it came from
    # the last-name field itself.
    written = value if (infix_clean and not is_missing(infix_clean)) or not infix else f"{infix} {value}"
    return LastNameResult(infix, value, status_of(clean, written), None)


def normalize_last_name_triple(args: tuple[str | None, str | None, str | None]) -> LastNameResult:
    return normalize_last_name(*args)


def normalize_first_name_pair(args: tuple[str | None, str | None]) -> FirstNameResult:
    return normalize_first_name(*args)
