"""Text basics every field shares: cleaning, missing markers, the status rule, and casing.

Each rule exists twice, once in Python for the per-value functions and once as a DuckDB SQL
expression for the batch path, built from the same constants so the two cannot drift:

- `clean_text`: Unicode NFC, every run of whitespace (including non-breaking and zero-width
  spaces) becomes one space, trimmed; `None` for empty.
- `is_missing`: the cleaned text is one of `fields.MISSING_MARKERS`, compared in lower case.
- `status_of`, the exact meaning of `valid` and `corrected`:
  `valid` when the normalized value, written out, equals the cleaned input up to letter case
  and whitespace (`Jan@Gmail.com`, `+31 6 12345678`, `1234ab`, `nl`, `JAN`); `corrected` when a
  deterministic reformat changed it beyond that (phone `06-12345678` -> `+31612345678`, postcode
  `1234-AB` -> `1234 AB` or `B-1000` -> `1000`, country `Nederland` -> `NL`, last name
  `Berg, van der` -> `van der` + `Berg`, house number `12-A` -> `12` + `A`, initials `J P` ->
  `J.P.`). A split is not a correction: `van der Berg` -> `van der` + `Berg` and
  `Hoofdstraat 12a` -> `Hoofdstraat` + `12` + `A` still read as written, so they are `valid`.
  Dates and yes/no fields have no text form to compare: a date in the source's declared format
  and a declared yes/no word are `valid`; a date read in an unambiguous other format (ISO, other
  separators, a midnight time) is `corrected`.
"""

from __future__ import annotations

import re
import unicodedata

from pipelines.fields import MISSING_MARKERS
from pipelines.warehouse import sql_literal

# Whitespace as `str.split()` knows it, plus zero-width space and a stray byte-order mark.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\u200b\ufeff"
)
_WS_RE = re.compile("[" + "".join(re.escape(c) for c in WHITESPACE) + "]+")
# The same class for DuckDB's RE2, with every character as a code point escape.
WS_CLASS_RE2 = "[" + "".join(f"\\x{{{ord(c):04x}}}" for c in WHITESPACE) + "]"

MISSING = frozenset(m.lower() for m in MISSING_MARKERS)


def clean_text(raw: str | None) -> str | None:
    """NFC, whitespace runs to one space, trimmed; None for None or empty."""
    if raw is None:
        return None
    text = _WS_RE.sub(" ", unicodedata.normalize("NFC", raw)).strip(" ")
    return text or None


def is_missing(clean: str | None) -> bool:
    return clean is None or clean.lower() in MISSING


def fold(text: str) -> str:
    """The comparison key of the status rule: no whitespace, lower case."""
    return _WS_RE.sub("", text).lower()


def status_of(clean: str, canonical: str) -> str:
    """`valid` when the canonical form equals the input up to case and whitespace, else
    `corrected`."""
    return "valid" if fold(clean) == fold(canonical) else "corrected"


# --- SQL twins -------------------------------------------------------------------------------


q = sql_literal  # the short name the normalizers' generated SQL uses


_GATE_RE2 = (
    "^ | $|  |[^ -~]"  # text that may need cleaning: edge or double spaces, non-ASCII, controls
)


def _full_clean_sql(expr: str) -> str:
    return (
        f"nullif(trim(regexp_replace(nfc_normalize({expr}), '{WS_CLASS_RE2}+', ' ', 'g'), "
        "' '), '')"
    )


def clean_sql(expr: str) -> str:
    """SQL of `clean_text` applied to `expr` (a column: it appears more than once).

    Most values are already clean (printable ASCII, no leading, trailing or double spaces); one
    cheap regular-expression test lets those through untouched and cleans only the rest.
    """
    return (
        f"CASE WHEN regexp_matches({expr}, '{_GATE_RE2}') THEN {_full_clean_sql(expr)} "
        f"ELSE nullif({expr}, '') END"
    )


def list_sql(values) -> str:
    """A SQL list literal, for `list_contains` over small sets of distinct values."""
    return "[" + ", ".join(q(v) for v in values) + "]"


MAX_MARKER_LENGTH = max(len(m) for m in MISSING)
# Membership as a regular expression, not `IN (...)` or `list_contains`: DuckDB turns those into
# a join that it computes for every row, even when they sit in a rarely taken CASE branch.
MISSING_RE2 = "(?:" + "|".join(re.escape(m) for m in sorted(MISSING)) + ")"


def present_sql(clean_expr: str) -> str:
    """SQL: the cleaned value, or NULL when it is a missing marker (`clean_expr` appears
    thrice)."""
    return (
        f"CASE WHEN length({clean_expr}) <= {MAX_MARKER_LENGTH} "
        f"AND regexp_full_match(lower({clean_expr}), {q(MISSING_RE2)}) THEN NULL "
        f"ELSE {clean_expr} END"
    )


def clean_present_sql(expr: str) -> str:
    """SQL of `None if is_missing(clean_text(x)) else clean_text(x)` for a column `expr`, in one
    expression: the full clean runs only on the few values the gate lets through."""
    return (
        f"CASE WHEN regexp_matches({expr}, '{_GATE_RE2}') "
        f"THEN {present_sql(_full_clean_sql(expr))} "
        f"ELSE {present_sql(expr)} END"
    )


def fold_sql(expr: str) -> str:
    """SQL of `fold` for cleaned text, whose only whitespace is single spaces."""
    return f"lower(replace({expr}, ' ', ''))"


def status_sql(clean_expr: str, canonical_expr: str) -> str:
    """SQL of `status_of` (both sides cleaned text)."""
    return (
        f"CASE WHEN {fold_sql(clean_expr)} = {fold_sql(canonical_expr)} THEN 'valid' "
        "ELSE 'corrected' END"
    )


# --- casing ----------------------------------------------------------------------------------

# Words that stay lower case inside a name, street or place ("Rue de la Loi", "Laan van
# Meerdervoort", "Leuze-en-Hainaut", "Sart-lez-Spa").
LOWER_WORDS = frozenset(
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
        "uit",
        "voor",
        "la",
        "le",
        "les",
        "du",
        "des",
        "d'",
        "l'",
        "et",
        "en",
        "och",
        "af",
        "von",
        "zu",
        "y",
        "e",
        "da",
        "di",
        "lez",
        "lès",
        "sous",
        "sur",
        "devant",
        "aux",
        "au",
        "à",
        "par",
        "over",
    }
)
# French elided articles that stay lower case before a capitalised word inside a name
# ("Rue de l'Église", "Meslin-l'Evêque"); at the start they are capitalised ("D'Hondt").
ELIDED = ("l'", "d'")
# Letters after the digits of an ordinal, which stay lower case ("2e Kade", "1ste", "1er").
ORDINAL_ENDINGS = frozenset({"e", "de", "ste", "er", "re", "ème", "eme", "st", "nd", "rd", "th"})


def needs_casing(text: str) -> bool:
    """True when the text is all upper or all lower case (its casing says nothing, so we fix it),
    except one- or two-letter capitals (`VI`, `JP`), which may well be meant that way."""
    letters = sum(c.isalpha() for c in text)
    if text == text.upper() and letters <= 2:
        return False
    return text == text.upper() or text == text.lower()


def _cap_part(part: str, dutch: bool) -> str:
    low = part.lower()
    start = next((i for i, c in enumerate(low) if c.isalpha()), None)
    if start is None:
        return low
    head, low = low[:start], low[start:]
    if head == "'" and low == "s":  # 's-Hertogenbosch
        return "'s"
    if head.isdigit() and low in ORDINAL_ENDINGS:  # 2e, 1ste, 3de, 1er
        return head + low
    if dutch and low.startswith("ij") and len(low) > 2:
        return head + "IJ" + low[2:]
    if low.startswith("mc") and len(low) > 2:
        return head + "Mc" + _upper1(low[2]) + low[3:]
    return head + _upper1(low[0]) + low[1:]


def _upper1(ch: str) -> str:
    """Upper case of one letter, unless that is more than one letter (ß -> SS): then as it is."""
    up = ch.upper()
    return up if len(up) == 1 else ch


def _cap_word(word: str, dutch: bool, first: bool) -> str:
    """Capitalise every part between hyphens (`Jan-Willem`) and after an apostrophe (`O'Brien`);
    particles inside a hyphenated place name stay lower (`Leuze-en-Hainaut`)."""
    out = []
    for k, piece in enumerate(re.split(r"(-)", word)):
        low = piece.lower()
        if k > 0 and low in LOWER_WORDS:
            out.append(low)
        elif k > 0 and low[:2] in ELIDED and len(low) > 2:
            out.append(low[:2] + _cap_part(piece[2:], dutch))
        elif "'" in piece and not piece.startswith("'"):
            head, _, tail = piece.partition("'")
            out.append(_cap_part(head, dutch) + "'" + _cap_part(tail, dutch))
        else:
            out.append(_cap_part(piece, dutch))
    return "".join(out)


_IJ = re.compile(r"(?<![^\W\d_])Ij(?=[^\W\d_])")


def fix_ij(text: str) -> str:
    """The Dutch IJ is one letter: `Ijsselstein` -> `IJsselstein`, `Ijlst` -> `IJlst` (word
    starts only)."""
    return _IJ.sub("IJ", text) if "Ij" in text else text


def smart_title(text: str, *, dutch: bool = True) -> str:
    """Title case for names, streets and places written in one case: `VAN DER BERG` ->
    `Van der Berg`.

    The first word is always capitalised; later particles (van, de, la, ...) stay lower case;
    `'t` stays lower, and so do `l'`/`d'` before a later word (`Rue de l'Église`) and the letters
    of an ordinal (`2e Kade`); `ij` at a word start becomes `IJ` (Dutch); `Mc` keeps its capital.
    In a text written in capitals, a later two-letter word is an abbreviation and stays
    (`Driehuis NH`).
    """
    upper = text == text.upper()
    words = text.split(" ")
    out = []
    for i, word in enumerate(words):
        low = word.lower()
        letters = sum(c.isalpha() for c in word)
        if low == "'t" or (i > 0 and low in LOWER_WORDS):
            out.append(low)
        elif i > 0 and low[:2] in ELIDED and len(low) > 2:
            out.append(low[:2] + _cap_word(word[2:], dutch, False))
        elif upper and i > 0 and letters == 2 and len(word) == 2:
            out.append(word)
        else:
            out.append(_cap_word(word, dutch, i == 0))
    return " ".join(out)
