"""Mojibake: UTF-8 text that was once read as cp1252/Latin-1 (`SjÃ¶berg`, `ZoÃ«`, `VÃ¤sterÃ¥s`).

A CRM that exported UTF-8 into a cp1252 system and back writes two characters per accented
letter. `repair` undoes that with ftfy's encoding fixer (only the encoding step: quotes,
ligatures and the rest stay as written). It is expensive, so only text that shows a telltale
pair is looked at: the lead bytes of a two-byte UTF-8 letter (`Ã`, `Â`, or `ã` in text that
was lower-cased afterwards) or of a three-byte sign (`â€` for quotes and dashes); plain ASCII
is never looked at. The batch path calls this once per distinct value, inside the per-value
functions of names, streets and cities.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from pipelines.normalize.text import clean_text

# Ã and Â are the cp1252 readings of UTF-8 lead bytes C3/C2 (é, ë, ö, å, ä, non-breaking space);
# â€ of E2 80 (’ “ ” – …). Legitimate text in these countries practically never holds them.
# A CRM that lower-cased the garbled text wrote ã for Ã: ã before a continuation byte's character.
_CONTINUATION = "".join(sorted(set(bytes(range(0x80, 0xC0)).decode("cp1252", errors="ignore"))))
_LOWER_LEAD = re.compile("\u00e3(?=[" + re.escape(_CONTINUATION) + "])")
LOOKS_LIKE = re.compile("[\u00c3\u00c2]|\u00e2\u20ac|" + _LOWER_LEAD.pattern)


def looks_like_mojibake(text: str | None) -> bool:
    return text is not None and not text.isascii() and LOOKS_LIKE.search(text) is not None


def _round_trip(text: str) -> str | None:
    """The text's cp1252 (or Latin-1) bytes read as UTF-8, when they are valid UTF-8."""
    for codec in ("cp1252", "latin-1"):
        try:
            return text.encode(codec).decode("utf-8")
        except UnicodeError:
            continue
    return None


@lru_cache(maxsize=8192)
def _fix(text: str) -> str:
    import ftfy

    garbled = _LOWER_LEAD.sub("\u00c3", text)
    fixed = ftfy.fix_encoding(garbled)
    if looks_like_mojibake(fixed):
        # ftfy is cautious with short texts (`Ã…sa`); a strict round trip that decodes is safe.
        fixed = _round_trip(fixed) or fixed
    controls = any(0x80 <= ord(c) < 0xA0 for c in fixed)
    if looks_like_mojibake(fixed) or controls or not any(c.isalpha() for c in fixed):
        return (
            text  # not mojibake of a name, street or place that can be undone: leave it as written
        )
    if fixed != garbled:
        # Text written in one case after it was garbled (`PÃ¤R`, `aimã©e`) keeps that one case, so
        # casing rules see it as such (`PÄR`, `aimée`), not as the mixed case the repair leaves.
        if text == text.upper():
            fixed = fixed.upper() if len(fixed.upper()) == len(fixed) else fixed
        elif text == text.lower():
            fixed = fixed.lower()
    return unicodedata.normalize("NFC", fixed)


def repair(text: str | None) -> str | None:
    """`SjÃ¶berg` -> `Sjöberg`; text without the telltale pairs comes back as it is."""
    if text is None or not looks_like_mojibake(text):
        return text
    return _fix(text)


def clean_repaired(raw: str | None) -> tuple[str | None, str | None]:
    """(cleaned input as written, cleaned repaired text): the first for the status rule, the
    second to normalize. They differ only for mojibake."""
    clean = clean_text(raw)
    if clean is None or clean.isascii() or not looks_like_mojibake(clean):
        return clean, clean
    return clean, clean_text(_fix(clean))
