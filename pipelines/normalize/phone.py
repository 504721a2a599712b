"""Phone numbers to E.164 with `phonenumbers`, valid only when `is_valid_number` says so.

`normalize_phone(raw, region)` is the reference: `phonenumbers.parse` with the row's region
(its normalized country, else the source's default), E.164 out, the number type, and a reason
code when it fails. It costs ~35 µs a call, too slow for a million distinct numbers, so the
batch path answers the common shapes (digits with spaces, dashes, dots, slashes, brackets;
`+CC`, `00CC`, a trunk `0` or none) in DuckDB SQL with the very same metadata: the region's
national-prefix rule, possible lengths and the per-type national number patterns that
`phonenumbers` itself matches (`fast_path_sql`). Everything else (letters, extensions,
non-ASCII digits, shared calling codes such as +44 or +1, unusual prefix rules) goes through
`normalize_phone` once per distinct (value, region). Tests check that both paths agree.
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberType, ValidationResult

from pipelines.normalize.text import clean_text, is_missing, q, status_of


class PhoneResult(NamedTuple):
    value: str | None  # E.164
    status: str
    reason: str | None
    type: str | None  # mobile, fixed_line, fixed_line_or_mobile, voip, toll_free, ...


TYPE_NAMES: dict[int, str] = {
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.UNKNOWN: "unknown",
}
_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "invalid_country_code",
    NumberParseException.NOT_A_NUMBER: "not_a_number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too_short",
    NumberParseException.TOO_SHORT_NSN: "too_short",
    NumberParseException.TOO_LONG: "too_long",
}
_LENGTH_REASONS = {
    ValidationResult.TOO_SHORT: "too_short",
    ValidationResult.TOO_LONG: "too_long",
    ValidationResult.INVALID_LENGTH: "invalid_length",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "local_number_only",
}


def normalize_phone(raw: str | None, region: str | None) -> PhoneResult:
    """`06-12345678` with region NL -> `+31612345678`, corrected, mobile."""
    clean = clean_text(raw)
    if is_missing(clean):
        return PhoneResult(None, "missing", None, None)
    if region not in phonenumbers.SUPPORTED_REGIONS:
        region = None
    try:
        number = phonenumbers.parse(clean, region)
    except NumberParseException as e:
        return PhoneResult(None, "invalid", _PARSE_REASONS.get(e.error_type, "not_a_number"), None)
    if not phonenumbers.is_valid_number(number):
        length = phonenumbers.is_possible_number_with_reason(number)
        return PhoneResult(None, "invalid", _LENGTH_REASONS.get(length, "invalid_number"), None)
    value = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    kind = TYPE_NAMES.get(phonenumbers.number_type(number), "unknown")
    return PhoneResult(value, status_of(clean, value), None, kind)


def normalize_phone_pair(pair: tuple[str | None, str | None]) -> PhoneResult:
    """`normalize_phone` on a (value, region) pair: the unit of work of the batch path."""
    return normalize_phone(*pair)


# --- the SQL fast path -----------------------------------------------------------------------

# Type descriptions in the order `phonenumbers._number_type_helper` tests them.
_TYPE_ORDER = (
    ("premium_rate", "premium_rate"),
    ("toll_free", "toll_free"),
    ("shared_cost", "shared_cost"),
    ("voip", "voip"),
    ("personal_number", "personal_number"),
    ("pager", "pager"),
    ("uan", "uan"),
    ("voicemail", "voicemail"),
)


class RegionRules(NamedTuple):
    region: str
    calling_code: str
    strips_zero: bool  # national prefix for parsing is "0"
    idd_00: bool  # "00" is the international prefix, nothing else
    possible: tuple[int, ...]  # general possible lengths
    local_only: tuple[int, ...]


@cache
def fast_path_regions() -> dict[str, RegionRules]:
    """Regions whose parsing rules the SQL fast path reproduces exactly.

    The calling code must belong to this region alone (not +44 GB/GG/IM/JE), the national
    prefix for parsing must be nothing or a plain `0` with no transform rule.
    """
    out = {}
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        meta = PhoneMetadata.metadata_for_region(region)
        if (
            meta is None
            or meta.general_desc is None
            or not meta.general_desc.national_number_pattern
        ):
            continue
        cc = meta.country_code
        if len(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(cc, ())) != 1:
            continue
        if (
            meta.national_prefix_for_parsing not in (None, "", "0")
            or meta.national_prefix_transform_rule
        ):
            continue
        possible = tuple(sorted(meta.general_desc.possible_length))
        if not possible or possible[0] < 0:
            continue
        out[region] = RegionRules(
            region=region,
            calling_code=str(cc),
            strips_zero=meta.national_prefix_for_parsing == "0",
            idd_00=meta.international_prefix == "00",
            possible=possible,
            local_only=tuple(sorted(meta.general_desc.possible_length_local_only)),
        )
    return out


def _one_of(expr: str, values) -> str:
    """SQL `expr` equals one of the integers, as plain comparisons (DuckDB turns IN lists and
    list_contains into joins that it evaluates for every row, even in an untaken CASE branch)."""
    return "(" + " OR ".join(f"{expr} = {int(v)}" for v in values) + ")"


def _desc_sql(nsn: str, desc) -> str | None:
    """SQL of `phonenumbers._is_number_matching_desc(nsn, desc)`; None when it is always false."""
    if desc is None or not desc.national_number_pattern:
        return None
    lengths = [n for n in desc.possible_length if n >= 0]
    if desc.possible_length and not lengths:
        return None
    match = f"regexp_full_match({nsn}, {q(desc.national_number_pattern)})"
    if lengths:
        return f"({_one_of(f'length({nsn})', lengths)} AND {match})"
    return match


def type_sql(region: str, nsn: str) -> str:
    """SQL of `phonenumbers._number_type_helper` for one region: a type name, or 'unknown'."""
    meta = PhoneMetadata.metadata_for_region(region)
    general = _desc_sql(nsn, meta.general_desc)
    parts = [f"WHEN NOT coalesce({general}, false) THEN 'unknown'"]
    for attr, name in _TYPE_ORDER:
        cond = _desc_sql(nsn, getattr(meta, attr))
        if cond:
            parts.append(f"WHEN {cond} THEN '{name}'")
    fixed = _desc_sql(nsn, meta.fixed_line)
    mobile = _desc_sql(nsn, meta.mobile)
    same = bool(meta.same_mobile_and_fixed_line_pattern)
    if fixed:
        if same:
            both = "'fixed_line_or_mobile'"
        elif mobile:
            both = f"CASE WHEN {mobile} THEN 'fixed_line_or_mobile' ELSE 'fixed_line' END"
        else:
            both = "'fixed_line'"
        parts.append(f"WHEN {fixed} THEN {both}")
    if mobile and not same:
        parts.append(f"WHEN {mobile} THEN 'mobile'")
    return "CASE " + " ".join(parts) + " ELSE 'unknown' END"


def general_sql(region: str, nsn: str) -> str:
    meta = PhoneMetadata.metadata_for_region(region)
    return f"coalesce({_desc_sql(nsn, meta.general_desc)}, false)"


def _length_ok_sql(rules: RegionRules, nsn: str) -> str:
    """SQL: `_test_number_length` is IS_POSSIBLE or TOO_LONG (parse then keeps the stripped
    number)."""
    n = f"length({nsn})"
    local = f"NOT {_one_of(n, rules.local_only)} AND " if rules.local_only else ""
    return f"({local}({_one_of(n, rules.possible)} OR {n} > {rules.possible[-1]}))"


def _length_reason_sql(rules: RegionRules, nsn: str) -> str:
    """SQL of the reason `normalize_phone` gives an invalid number
    (`is_possible_number_with_reason`)."""
    n = f"length({nsn})"
    local = (
        f"WHEN {_one_of(n, rules.local_only)} THEN 'local_number_only' "
        if rules.local_only
        else ""
    )
    return (
        f"CASE {local}WHEN {n} < {rules.possible[0]} THEN 'too_short' "
        f"WHEN {n} > {rules.possible[-1]} THEN 'too_long' "
        f"WHEN {_one_of(n, rules.possible)} THEN 'invalid_number' ELSE 'invalid_length' END"
    )


def calling_codes() -> list[str]:
    return sorted(str(cc) for cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE if cc)


def fast_path_sql(pairs: str, regions: list[str]) -> str:
    """SQL over a relation `pairs(clean, region)` of distinct cleaned values and row regions.

    Returns the columns clean, region, e164, phone_type, reason for the pairs it can decide
    exactly as `normalize_phone` would; the other pairs are left out (for the Python path).
    `regions` lists every region the SQL may need patterns for (row regions and regions of
    the calling codes present); regions outside `fast_path_regions()` are skipped.
    """
    rules = fast_path_regions()
    regions = [r for r in dict.fromkeys(regions) if r in rules]
    if not regions:
        return (
            "SELECT clean, region, NULL::VARCHAR AS e164, "
            f"NULL::VARCHAR AS phone_type, NULL::VARCHAR AS reason FROM {pairs} WHERE false"
        )
    region_values = ", ".join(
        (
            f"({q(r)}, {q(rules[r].calling_code)}, {str(rules[r].strips_zero).lower()}, "
            f"{str(rules[r].idd_00).lower()})"
        )
        for r in regions
    )
    by_cc = ", ".join(f"({q(rules[r].calling_code)}, {q(r)})" for r in regions)
    codes_values = ", ".join(f"({q(c)})" for c in calling_codes())

    def per_region(expr_of) -> str:
        return (
            "CASE meta_region "
            + " ".join(f"WHEN {q(r)} THEN {expr_of(r)}" for r in regions)
            + " END"
        )

    return f"""
    WITH region_rules(region, cc, strips_zero, idd_00) AS (VALUES {region_values}),
    cc_region(cc, meta_region) AS (VALUES {by_cc}),
    shaped AS MATERIALIZED (
        -- Only ASCII digits and the separators people type; a plus sign only in front.
        SELECT p.clean, p.region, rr.cc AS row_cc, rr.idd_00,
               regexp_replace(p.clean, '[ ./()-]', '', 'g') AS d
        FROM {pairs} p JOIN region_rules rr ON rr.region = p.region
        WHERE length(p.clean) <= 250 AND regexp_full_match(p.clean, '\\+?[0-9 ./()-]+')
    ),
    split AS MATERIALIZED (
        SELECT *,
               CASE WHEN d[1] = '+' THEN substr(d, 2)
                    WHEN idd_00 AND d[1:2] = '00' AND d[3] <> '0' THEN substr(d, 3) END AS intl
        FROM shaped
        WHERE length(d) - (d[1] = '+')::INTEGER >= 3  -- at least three digits
    ),
    codes(cc) AS (VALUES {codes_values}),
    coded AS (
        -- Calling codes are prefix-free: at most one of the 1-, 2- and 3-digit prefixes is one.
        SELECT s.clean, s.region, s.d, s.intl, s.idd_00, s.row_cc,
               coalesce(c1.cc, c2.cc, c3.cc) AS cc
        FROM split s
        LEFT JOIN codes c1 ON c1.cc = s.intl[1:1]
        LEFT JOIN codes c2 ON c2.cc = s.intl[1:2]
        LEFT JOIN codes c3 ON c3.cc = s.intl[1:3]
        -- International: more than two digits after the prefix, not starting with 0. National:
        -- only where "00" is the whole international prefix, and not starting with the region's
        -- own calling code (parse may then read it as one).
        WHERE (s.intl IS NOT NULL AND length(s.intl) > 2 AND s.intl[1] <> '0'
                   AND s.intl NOT LIKE '%+%')
           OR (s.intl IS NULL AND s.idd_00 AND s.d[1] <> '+' AND NOT starts_with(s.d, s.row_cc)
                   AND s.d[1:2] <> '00')
    ),
    numbered AS (
        SELECT c.clean, c.region,
               coalesce(cr.meta_region, CASE WHEN c.intl IS NULL THEN c.region END) AS meta_region,
               CASE WHEN c.intl IS NULL THEN c.row_cc ELSE c.cc END AS cc,
               CASE WHEN c.intl IS NULL THEN c.d ELSE substr(c.intl, length(c.cc) + 1) END AS num
        FROM coded c LEFT JOIN cc_region cr ON cr.cc = c.cc
        WHERE c.intl IS NULL OR cr.meta_region IS NOT NULL
    ),
    stripped AS (
        SELECT *, rr.strips_zero AND num[1] = '0' AS has_prefix, substr(num, 2) AS rest
        FROM numbered n JOIN region_rules rr ON rr.region = n.meta_region
        WHERE length(num) >= 2
    ),
    decided AS (
        SELECT clean, region, meta_region, cc,
               CASE WHEN has_prefix THEN rest ELSE num END AS nsn,
               has_prefix
               AND NOT ({per_region(lambda r: _length_ok_sql(rules[r], "rest"))}
                        AND NOT ({per_region(lambda r: general_sql(r, "num"))}
                                 AND NOT {per_region(lambda r: general_sql(r, "rest"))}))
                   AS keeps_prefix
        FROM stripped
    ),
    typed AS (
        SELECT clean, region, cc, nsn, {per_region(lambda r: type_sql(r, "nsn"))} AS t,
               {per_region(lambda r: _length_reason_sql(rules[r], "nsn"))} AS length_reason
        FROM decided
        WHERE NOT keeps_prefix AND length(nsn) BETWEEN 2 AND 17
    )
    SELECT clean, region,
           CASE WHEN t <> 'unknown' THEN '+' || cc || nsn END AS e164,
           CASE WHEN t <> 'unknown' THEN t END AS phone_type,
           CASE WHEN t = 'unknown' THEN length_reason END AS reason
    FROM typed
    """
