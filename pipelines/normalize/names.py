"""First names, Dutch/Flemish infixes (tussenvoegsels) and last names.

- Mojibake is repaired first (`SjÃ¶berg` -> `Sjöberg`, status `corrected`; see mojibake.py).
- Whitespace collapsed, Unicode NFC; a name written all upper or all lower case gets sensible
  casing (`JAN-WILLEM` -> `Jan-Willem`, `o'brien` -> `O'Brien`, `ijsselmuiden` -> `IJsselmuiden`);
  a mixed-case name is kept as written (`McDonald`, `DiCaprio`, `Van Gogh`), except that the
  Dutch IJ is one letter (`Ijsselstein` -> `IJsselstein`) and a later surname word written in
  lower case is capitalised (`Van damme` -> `Van Damme`).
- Initials (`J.`, `J.P.`, `j. p.`, `J P`) are written `J.P.` and flagged `first_name_is_initials`;
  so are the Dutch abbreviations that stand for one name, with their dot (`Th.`, `Chr.`, `Ph.`,
  `IJ.`: `J.Th.`).
- The infix is split by the record's country, not by one rule:
  - the Netherlands (and rows of unknown country): the infix goes to its own column, in lower
    case, wherever it hides: the infix field (`Van der` -> `van der`), in front of the surname
    (`van der Berg`, `VAN DER BERG`), after it (`Berg, van der`), at the end of the first-name
    field (`Jan van der`), or abbreviated (`v.d. Meer`, `v/d Meer` -> `van der`, `v. Dam` ->
    `van`);
  - Belgium: the particle is part of the surname, capitalised by convention (`Van Tournay`,
    `De Backer`, `Vanden Bossche`): a particle found in the infix field or at the end of the
    first name is put in front of the surname;
  - other countries keep their particles (`von Essen`, `af Klint`).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from pipelines.normalize.mojibake import clean_repaired
from pipelines.normalize.text import fix_ij, is_missing, needs_casing, smart_title, status_of


class FirstNameResult(NamedTuple):
    value: str | None
    status: str
    reason: str | None
    is_initials: bool | None
    infix: str | None = None  # particles found at the end of the first-name field (`Jan van der`)


class LastNameResult(NamedTuple):
    infix: str | None
    value: str | None
    status: str
    reason: str | None


# Dutch and Flemish tussenvoegsel words; an infix is one or more of them ("van der", "in 't").
INFIX_WORDS = frozenset(
    {
        "van",
        "de",
        "der",
        "den",
        "het",
        "'t",
        "ter",
        "ten",
        "te",
        "in",
        "op",
        "aan",
        "bij",
        "onder",
        "uit",
        "uijt",
        "voor",
        "over",
        "la",
        "le",
        "les",
        "du",
        "des",
        "d'",
        "l'",
        "'s",
        "v.",
        "v.d.",
        "vd",
        "vd.",
    }
)
# The ones that may trail a first name (`Jan van der`, `Isabelle le`); elided articles never do.
TRAILING_INFIX_WORDS = INFIX_WORDS - {"d'", "l'"}
INFIX_COUNTRIES = frozenset({"NL", "BE"})  # where a surname may carry a tussenvoegsel
_NAME_CHARS = re.compile(r"['’]?[^\W\d_]+(?:[ '’\-.][^\W\d_]*)*\.?", re.UNICODE)
# Abbreviated infixes: `v.d.`, `v/d`, `vd`, `v.d` -> `van der` (the most common of van de/den/der);
# `v.` -> `van`. Only where a word follows or, after a comma, at the end.
_ABBREVIATIONS = (
    (re.compile(r"(?i)(?<![\w'])v\s?[./]\s?d\b\.?\s*"), "van der "),
    (re.compile(r"(?i)(?<![\w'])vd\.?(?=\s|$)\s*"), "van der "),
    (re.compile(r"(?i)(?<![\w'])v\.\s*(?=\w|$)"), "van "),
)


def _splits(country: str | None) -> bool:
    """Whether the infix goes to its own column: Dutch rows and rows of unknown country."""
    return country == "NL" or country is None


def _dutch(country: str | None) -> bool:
    return country in INFIX_COUNTRIES or country is None


def _cased(text: str, dutch: bool) -> str:
    text = smart_title(text, dutch=dutch) if needs_casing(text) else text
    return fix_ij(text) if dutch else text


def _is_name(text: str) -> bool:
    return bool(_NAME_CHARS.fullmatch(text))


def expand_infix_abbreviations(text: str) -> str:
    """`v.d. Meer` -> `van der Meer`, `v/d Meer` -> `van der Meer`, `Dam, v.` -> `Dam, van`."""
    low = text.lower()
    if not any(a in low for a in ("v.", "v/", "vd", "v .", "v /")):
        return text
    for pattern, full in _ABBREVIATIONS:
        text = pattern.sub(full, text)
    return " ".join(text.split())


# Dutch abbreviations that stand for one first name (Theodorus, Christiaan, Philippus, IJsbrand);
# they count as one initial only when written with their dot.
MULTI_LETTER_INITIALS = {"chr": "Chr", "th": "Th", "ph": "Ph", "ij": "IJ"}


def initials_form(text: str) -> str | None:
    """`J.P.`, `j. p.`, `J P`, `J`, `j.th.` -> `J.P.` / `J.` / `J.Th.`; None when the text is not
    initials.

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
        multi = next(
            (k for k in MULTI_LETTER_INITIALS if text[i : i + len(k) + 1].lower() == k + "."), None
        )
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


def trailing_infix(text: str) -> tuple[str, str | None]:
    """`Jan van der` -> (`Jan`, `van der`); (text, None) when no particle ends the first name."""
    words = expand_infix_abbreviations(text).split(" ")
    n = len(words)
    while n > 1 and words[n - 1].lower() in TRAILING_INFIX_WORDS:
        n -= 1
    if n == len(words):
        return text, None
    return " ".join(words[:n]), " ".join(w.lower() for w in words[n:])


def normalize_first_name(raw: str | None, country: str | None = None) -> FirstNameResult:
    """`JAN-WILLEM` -> `Jan-Willem`; `j.p.` -> `J.P.` (initials); `Jan van der` -> `Jan` + infix
    `van der` (Dutch and Belgian rows); `12345` -> invalid."""
    written, clean = clean_repaired(raw)
    if is_missing(clean):
        return FirstNameResult(None, "missing", None, None)
    repaired = written != clean
    infix = None
    if _dutch(country) and " " in clean:
        clean, infix = trailing_infix(clean)

    def status(value: str) -> str:  # a split is no correction; a mojibake repair is
        return "corrected" if repaired else status_of(clean, value)

    initials = initials_form(clean)
    if initials:
        return FirstNameResult(initials, status(initials), None, True, infix)
    if not _is_name(clean):
        return FirstNameResult(None, "invalid", "not_a_name", None, infix)
    value = _cased(clean, dutch=_dutch(country))
    return FirstNameResult(value, status(value), None, False, infix)


def _split_leading(words: list[str]) -> int:
    """How many leading words form an infix (always leaving at least one surname word)."""
    n = 0
    while n < len(words) - 1 and words[n].lower() in INFIX_WORDS:
        n += 1
    return n


def split_infix(text: str, country: str | None) -> tuple[str | None, str]:
    """(infix, surname) of a Dutch last name that may carry the infix in front or after a comma;
    (None, text) for other countries, Belgium included (there the particle is the surname's)."""
    if not _splits(country):
        return None, text
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
    return " ".join(w.lower() for w in words[:n]), " ".join(words[n:])


def _capitalise_later_words(value: str) -> str:
    """`Van damme` -> `Van Damme`: a later surname word in lower case was a casing accident,
    unless it is a particle (`Jansen-van Dam`, `de la Court`)."""
    words = value.split(" ")
    for i, w in enumerate(words[1:], 1):
        if w.islower() and w not in INFIX_WORDS and w[:1].isalpha():
            words[i] = w[0].upper() + w[1:]
    out = " ".join(words)
    return value if needs_casing(out) else out  # `AA a` stays: `AA A` would read as one-case


def _belgian_later_particles(value: str) -> str:
    """`Van Den Broeck` -> `Van den Broeck`: after the capitalised first particle, the others are
    written in lower case, as Belgian registers do."""
    words = value.split(" ")
    n = _split_leading(words)
    if n < 2 or words[0][:1].islower():
        return value
    return " ".join([words[0], *(w.lower() for w in words[1:n]), *words[n:]])


def _belgian_particle(particle: str) -> str:
    """`van den` -> `Van den`, `VANDEN` -> `Vanden`: a Belgian particle is capitalised in front."""
    low = particle.lower()
    return low[:1].upper() + low[1:]


def normalize_last_name(
    raw: str | None,
    infix_raw: str | None = None,
    country: str | None = None,
    first_infix: str | None = None,
) -> LastNameResult:
    """Infix and last name from the last-name field, the infix field (when present and filled)
    and the particles found at the end of the first-name field (`first_infix`).

    `status` is about the last name: `corrected` when the infix had to be moved out of it in a
    way that changed the text (`Berg, van der`, `v.d. Berg`) or mojibake was repaired; `valid`
    for `van der Berg` (only split) and for a Belgian particle joined to its surname.
    """
    written, clean = clean_repaired(raw)
    _, infix_clean = clean_repaired(infix_raw)
    infix = None if is_missing(infix_clean) else " ".join(infix_clean.lower().split())
    splits, dutch = _splits(country), _dutch(country)
    if dutch and infix:
        infix = expand_infix_abbreviations(infix)
    if is_missing(clean):
        return LastNameResult((infix or first_infix) if splits else None, None, "missing", None)
    if splits:
        clean = expand_infix_abbreviations(clean)
    if not _is_name(clean.replace(",", "")):
        return LastNameResult(infix if splits else None, None, "invalid", "not_a_name")
    infix_from_text = False
    if infix is None:
        infix, surname = split_infix(clean, country)
        infix_from_text = infix is not None
    else:
        surname = clean
    if not surname or not _is_name(surname):
        return LastNameResult(infix if splits else None, None, "invalid", "not_a_name")
    value = _capitalise_later_words(_cased(surname, dutch))
    # What the last-name field would read, given the output: the status compares with that.
    shown = value
    if splits:
        if infix_from_text:
            shown = f"{infix} {value}"
        infix = infix or first_infix
    elif dutch:  # Belgium: the particle is part of the surname
        particle, infix = infix or first_infix, None
        if particle:
            value = _capitalise_later_words(f"{_belgian_particle(particle)} {value}")
        elif needs_casing(surname):
            # A one-case Belgian surname: its particle is capitalised (`DE SMET` -> `De Smet`).
            k = next((i for i, ch in enumerate(value) if ch.isalpha()), 0)
            up = (
                value[k].upper() if len(value[k].upper()) == 1 else value[k]
            )  # ß has no one-letter capital
            value = shown = value[:k] + up + value[k + 1 :]
        value = _belgian_later_particles(value)
    return LastNameResult(infix, value, status_of(written, shown), None)


def normalize_last_name_quad(
    args: tuple[str | None, str | None, str | None, str | None],
) -> LastNameResult:
    return normalize_last_name(*args)


def normalize_last_name_triple(args: tuple[str | None, str | None, str | None]) -> LastNameResult:
    return normalize_last_name(*args)


def normalize_first_name_pair(args: tuple[str | None, str | None]) -> FirstNameResult:
    return normalize_first_name(*args)
