"""How clean values get written dirty: the habits of people and systems, as vectorised functions.

Two kinds of dirt, and the ground truth keeps them apart:
- recoverable: case, stray spaces, phone and postcode styles, country names in four languages,
  an infix glued to the surname, in the first-name field or written "Meer, van der", a Belgian
  particle split off like a Dutch infix, mojibake ("SjÃ¶berg"), street abbreviations ("Kerkstr.",
  "Storg."), the house number also in the street field, another name of the city ("Gand",
  "Goteborg"), a well-known domain typo (gmial.com). A good normalizer gets the clean value
  back, so the truth holds that value with no dirt flag (and a case tag, `CASE_CODES`).
- unrecoverable: a typo, a nickname, initials, a missing value or placeholder (NULL, x,
  00-00-0000, 01-01-1900), "v.d.", stripped diacritics, a role or work e-mail address. The truth
  still holds the person's real value and flags the field (`DIRT_CODES`) so benchmarks can
  score fairly.

Every choice is a keyed draw on (record, as_of): a record that was not updated is written the
same way in every day's file, as a real export would.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.demo.hashing import Draws
from pipelines.demo.pools import COUNTRIES, Pools, Segments

# Per-field dirt flags in the ground truth (None = clean or recoverable): why the row cannot give
# the true value back. `abbreviated`: "v.d." (van de, van der or van den?); `diacritics`: "Zoe"
# for Zoë (a valid spelling on its own); `role_address` / `work_address`: info@firm.nl or
# jan@firm.nl instead of the person's own address; `invalid`: an impossible date.
DIRT_CODES: tuple[str | None, ...] = (
    None,
    "missing",
    "typo",
    "nickname",
    "initials",
    "abbreviated",
    "diacritics",
    "role_address",
    "work_address",
    "invalid",
)
(
    CLEAN,
    MISSING,
    TYPO,
    NICKNAME,
    INITIALS,
    ABBREVIATED,
    DIACRITICS,
    ROLE_ADDRESS,
    WORK_ADDRESS,
    INVALID,
) = range(10)

# Per-field case tags in the ground truth: which special form the written value takes, whether
# or not it is recoverable (None = an ordinary value). Benchmarks report accuracy per case.
CASE_CODES: tuple[str | None, ...] = (
    None,
    "placeholder",
    "old_isp_domain",
    "domain_typo",
    "role_address",
    "work_address",
    "be_particle",
    "be_particle_split",
    "infix_in_first_name",
    "infix_reversed",
    "infix_abbreviated",
    "infix_capitalised",
    "street_abbreviation",
    "number_in_street",
    "city_variant",
    "mojibake",
    "stripped_diacritics",
)
CASE = {name: code for code, name in enumerate(CASE_CODES) if name}

# Missing-value markers per source; the first one ("") is an empty field, every other one a
# placeholder written for "unknown". Dates get date-shaped placeholders as well.
MISSING_MARKERS = {
    "crm": (
        ("", 46),
        ("NULL", 14),
        ("-", 14),
        ("n.v.t.", 9),
        ("onbekend", 9),
        ("unknown", 3),
        ("x", 5),
    ),
    "webshop": (("", 80), ("NULL", 9), ("null", 4), ("-", 3), ("unknown", 2), ("x", 2)),
}
DATE_MARKERS = {
    "crm": (
        ("", 36),
        ("00-00-0000", 16),
        ("00/00/0000", 6),
        ("01-01-1900", 10),
        ("0000-00-00", 4),
        ("NULL", 10),
        ("-", 8),
        ("onbekend", 5),
        ("n.v.t.", 3),
        ("x", 2),
    ),
    "webshop": (
        ("", 60),
        ("0000-00-00", 14),
        ("1900-01-01", 14),
        ("00/00/0000", 4),
        ("NULL", 5),
        ("unknown", 3),
    ),
}
SECOND_INITIALS = "ACDEFGHJKLMNPRSTW"

COUNTRY_NAMES = {
    "NL": (
        "NL",
        "Nederland",
        "Holland",
        "The Netherlands",
        "Netherlands",
        "nederland",
        "NLD",
        "Pays-Bas",
        "Nederländerna",
    ),
    "BE": ("BE", "België", "Belgie", "Belgique", "Belgium", "belgië", "BEL", "Belgien"),
    "SE": ("SE", "Sverige", "Zweden", "Sweden", "Suède", "SWE", "sverige"),
}
COUNTRY_NAME_WEIGHTS = {
    "crm": {
        "NL": (20, 45, 8, 4, 5, 10, 3, 2, 3),
        "BE": (20, 35, 10, 15, 8, 5, 4, 3),
        "SE": (25, 20, 30, 15, 3, 4, 3),
    },
    "webshop": {
        "NL": (70, 8, 2, 5, 10, 2, 1, 1, 1),
        "BE": (70, 8, 2, 8, 8, 1, 2, 1),
        "SE": (70, 8, 2, 15, 1, 2, 2),
    },
}

# Postcode styles (applied to the canonical NL `1234 AB`, BE `1000`, SE `123 45`).
POSTCODE_STYLES = (
    "canonical",
    "no space",
    "no space, lower",
    "lower",
    "double space",
    "dash",
    "B-",
    "B",
    "BE-",
    "S-",
    "SE-, no space",
    "SE ",
)
POSTCODE_STYLE_WEIGHTS = {
    "NL": (40, 30, 12, 8, 5, 5, 0, 0, 0, 0, 0, 0),
    "BE": (85, 0, 0, 0, 0, 0, 8, 3, 4, 0, 0, 0),
    "SE": (50, 35, 0, 0, 0, 0, 0, 0, 0, 5, 5, 5),
}
# House number + suffix: separator weights ("", " ", "-") and share written in lower case.
HOUSE_SEPARATORS = ("", " ", "-")
HOUSE_SEPARATOR_WEIGHTS = {"NL": (55, 25, 20), "BE": (60, 35, 5), "SE": (35, 60, 5)}
HOUSE_LOWER_SHARE = np.array([0.6, 0.5, 0.15])


def pick_per_country(
    draws: Draws, key: np.ndarray, stream: str, country: np.ndarray, weights: dict
) -> np.ndarray:
    """An option index per row, drawn with the weights of the row's country."""
    out = np.zeros(len(key), dtype=np.int64)
    for c, name in enumerate(COUNTRIES):
        rows = country == c
        if rows.any():
            out[rows] = draws.pick(key[rows], stream, weights[name])
    return out


def with_missing(
    draws: Draws,
    key: np.ndarray,
    field: str,
    values: pa.Array,
    missing: np.ndarray,
    markers: tuple[tuple[str, int], ...],
) -> tuple[pa.Array, np.ndarray]:
    """Replace values by missing-value markers ("", NULL, -, n.v.t., 00-00-0000, ...).

    Returns the written values and where a placeholder (a non-empty marker) was written."""
    if not missing.any():
        return values, missing
    rows = np.flatnonzero(
        missing
    )  # keyed draws: drawing for these rows only gives the same values
    pick = draws.pick(key[rows], f"{field}.marker", [w for _, w in markers])
    marker = pa.array([m for m, _ in markers]).take(pa.array(pick))
    placeholder = np.zeros(len(key), dtype=bool)
    placeholder[rows[pick > 0]] = True
    return pc.replace_with_mask(values, pa.array(missing), marker), placeholder


def swap_where(mask: np.ndarray, replacement: pa.Array | pa.Scalar, values: pa.Array) -> pa.Array:
    """`replacement` where mask, else `values` (no work when the mask is empty)."""
    return pc.if_else(pa.array(mask), replacement, values) if mask.any() else values


def apply_where(values: pa.Array, mask: np.ndarray, fn, *inputs: pa.Array) -> pa.Array:
    """`fn(*inputs)` computed on the masked rows only and put there; `values` elsewhere."""
    if not mask.any():
        return values
    rows = pa.array(mask)
    return pc.replace_with_mask(values, rows, fn(*(x.filter(rows) for x in inputs)))


def join_with(separator: str):
    return lambda *parts: pc.binary_join_element_wise(*parts, separator)


def vary_case(
    draws: Draws,
    key: np.ndarray,
    field: str,
    values: pa.Array,
    upper: float,
    lower: float,
    capitalize: float = 0.0,
) -> pa.Array:
    """Some values IN CAPITALS, some in lower case, some Capitalized Like A Title."""
    u = draws.uniform(key, f"{field}.case")
    out = pc.if_else(pa.array(u < upper), pc.utf8_upper(values), values)
    out = pc.if_else(pa.array((u >= upper) & (u < upper + lower)), pc.utf8_lower(values), out)
    if capitalize:
        title = (u >= upper + lower) & (u < upper + lower + capitalize)
        out = pc.if_else(pa.array(title), pc.utf8_title(values), out)
    return out


def stray_spaces(
    draws: Draws, key: np.ndarray, field: str, values: pa.Array, share: float
) -> pa.Array:
    """Leading or trailing blanks, as typed into forms."""
    u = draws.uniform(key, f"{field}.spaces")
    out = pc.if_else(pa.array(u < share / 2), pc.binary_join_element_wise(" ", values, ""), values)
    return pc.if_else(
        pa.array((u >= share / 2) & (u < share)), pc.binary_join_element_wise(out, "  ", ""), out
    )


def first_name_variants(
    draws: Draws,
    pools: Pools,
    key: np.ndarray,
    first: np.ndarray,
    is_copy: np.ndarray,
    main_weights: tuple[int, ...],
    copy_weights: tuple[int, ...],
) -> tuple[pa.Array, np.ndarray]:
    """The first name as a record holds it: exact, a nickname, initials (J., J.P.) or a typo.

    Weights are (exact, nickname, initials, typo), for main records and for duplicates, which
    are messier. Returns the written value and the dirt code per record.
    """
    names = pools.first
    kind = np.where(  # 0 exact, 1 nickname, 2 initials, 3 typo
        is_copy,
        draws.pick(key, "first.variant", copy_weights),
        draws.pick(key, "first.variant", main_weights),
    )
    nick_count = names.nickname_count[first]
    kind = np.where((kind == 1) & (nick_count == 0), 0, kind)
    take = pa.array(first)
    exact = names.name.take(take)
    nick_pick = draws.below(key, "first.nickname", np.maximum(nick_count, 1))
    nickname = pc.choose(
        pa.array(nick_pick.astype(np.int8)), *(n.take(take) for n in names.nicknames)
    )
    initial = names.initial.take(take)
    second = pa.array(list(SECOND_INITIALS)).take(
        pa.array(draws.below(key, "first.second", len(SECOND_INITIALS)))
    )
    form = draws.pick(key, "first.initials", (60, 30, 10))  # J. / J.P. / J. P.
    initials = pc.choose(
        pa.array(form.astype(np.int8)),
        initial,
        pc.binary_join_element_wise(initial, second, ".", ""),
        pc.binary_join_element_wise(initial, " ", second, ".", ""),
    )
    typo_pick = pa.array(draws.below(key, "first.typo", 2).astype(np.int8))
    typo = pc.choose(typo_pick, names.typos[0].take(take), names.typos[1].take(take))
    written = pc.choose(pa.array(kind.astype(np.int8)), exact, nickname, initials, typo)
    dirt = np.array([CLEAN, NICKNAME, INITIALS, TYPO], dtype=np.int8)[kind]
    return written, dirt


def last_name_typos(
    draws: Draws, pools: Pools, key: np.ndarray, last: np.ndarray, share: np.ndarray | float
):
    """The surname (without infix) with a typo for a share of records: (written, typo mask)."""
    take = pa.array(last)
    has_typo = draws.chance(key, "last.typo", share)
    typo = pc.choose(
        pa.array(draws.below(key, "last.typo_pick", 2).astype(np.int8)),
        pools.last.typos[0].take(take),
        pools.last.typos[1].take(take),
    )
    return pc.if_else(pa.array(has_typo), typo, pools.last.last.take(take)), has_typo


def email_variants(
    draws: Draws,
    pools: Pools,
    key: np.ndarray,
    email: pa.Array,
    typo_share: float,
    case_share: float,
    space_share: float,
) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """E-mail as typed: Capitalised, UPPER, with blanks, or with a misspelt domain (gmial.com).

    Returns the written value, where the domain has a typo, and where that typo is a well-known
    one a normalizer can correct (gmial.com, hotmial.com, gmail.con, ziggo.com)."""
    has_typo = draws.chance(key, "email.typo", typo_share)
    known = np.zeros(len(key), dtype=bool)
    out = email
    if has_typo.any():
        rows = pa.array(has_typo)
        parts = pc.split_pattern(email.filter(rows), "@")
        local, domain = pc.list_element(parts, 0), pc.list_element(parts, 1)
        domains = pools.domains.domain
        unique = pc.unique(domains)
        first_position = np.array([domains.to_pylist().index(d) for d in unique.to_pylist()])
        at = pc.index_in(domain, value_set=unique).to_numpy(zero_copy_only=False)
        # An address at a closed provider is not in the pool: it stays as it is (no typo).
        in_pool = ~np.isnan(at.astype(np.float64))
        position = first_position[np.where(in_pool, at, 0).astype(np.int64)]
        pick = draws.below(key[has_typo], "email.typo_pick", 2)
        typo_domain = pc.if_else(
            pa.array(pick == 0),
            pools.domains.typos[0].take(pa.array(position)),
            pools.domains.typos[1].take(pa.array(position)),
        )
        typo_domain = pc.if_else(pa.array(in_pool), typo_domain, domain)
        known[has_typo] = in_pool & np.where(
            pick == 0, pools.domains.known_typo[0][position], pools.domains.known_typo[1][position]
        )
        has_typo = has_typo.copy()
        has_typo[has_typo] = in_pool
        replaced = pc.binary_join_element_wise(local, typo_domain, "@")
        out = pc.replace_with_mask(out, rows, replaced)
    u = draws.uniform(key, "email.case")
    out = pc.if_else(pa.array(u < case_share * 0.6), pc.utf8_capitalize(out), out)
    out = pc.if_else(
        pa.array((u >= case_share * 0.6) & (u < case_share * 0.85)), pc.utf8_title(out), out
    )
    out = pc.if_else(
        pa.array((u >= case_share * 0.85) & (u < case_share)), pc.utf8_upper(out), out
    )
    out = stray_spaces(draws, key, "email", out, space_share)
    return out, has_typo, known


def write_postcodes(
    draws: Draws, key: np.ndarray, postcode: pa.Array, country: np.ndarray
) -> pa.Array:
    style = pick_per_country(draws, key, "postcode.style", country, POSTCODE_STYLE_WEIGHTS)
    j = pc.binary_join_element_wise
    compact = pc.replace_substring(postcode, " ", "")
    return pc.choose(
        pa.array(style.astype(np.int8)),
        postcode,
        compact,
        pc.utf8_lower(compact),
        pc.utf8_lower(postcode),
        pc.replace_substring(postcode, " ", "  "),
        pc.replace_substring(postcode, " ", "-"),
        j("B-", postcode, ""),
        j("B", postcode, ""),
        j("BE-", postcode, ""),
        j("S-", postcode, ""),
        j("SE-", compact, ""),
        j("SE ", postcode, ""),
    )


def write_house_numbers(
    draws: Draws, key: np.ndarray, number: np.ndarray, suffix: pa.Array, country: np.ndarray
) -> pa.Array:
    """The number and its suffix as people write them: 12a, 12 A, 12-1, 5 B, 16bis."""
    separator = pick_per_country(draws, key, "house.separator", country, HOUSE_SEPARATOR_WEIGHTS)
    digit_suffix = pc.utf8_is_decimal(suffix).to_numpy(zero_copy_only=False) & (
        pc.utf8_length(suffix).to_numpy() > 0
    )
    separator = np.where(
        digit_suffix & (separator == 0), 2, separator
    )  # "121" would be a different number
    lower = draws.chance(key, "house.lower", HOUSE_LOWER_SHARE[country])
    cased = pc.if_else(pa.array(lower), pc.utf8_lower(suffix), suffix)
    sep = pa.array(HOUSE_SEPARATORS).take(pa.array(separator))
    sep = pc.if_else(pc.equal(suffix, ""), "", sep)
    return pc.binary_join_element_wise(pa.array(number).cast(pa.string()), sep, cased, "")


def write_countries(draws: Draws, key: np.ndarray, country: np.ndarray, source: str) -> pa.Array:
    names = [n for c in COUNTRIES for n in COUNTRY_NAMES[c]]
    segments = Segments.of([len(COUNTRY_NAMES[c]) for c in COUNTRIES])
    pick = pick_per_country(draws, key, "country.name", country, COUNTRY_NAME_WEIGHTS[source])
    return pa.array(names).take(pa.array(segments.start[country] + pick))


class DateText:
    """Day numbers and seconds as text, through small lookup tables (fast for millions of rows)."""

    def __init__(self, epoch: np.datetime64, days: np.ndarray) -> None:
        self.low = int(days.min()) if len(days) else 0
        span = (int(days.max()) - self.low + 1) if len(days) else 1
        iso = np.datetime_as_string(
            epoch + np.arange(self.low, self.low + span).astype("timedelta64[D]")
        )
        self.iso = pa.array(iso)  # 2025-11-23
        y, m, d = (pc.utf8_slice_codeunits(self.iso, a, b) for a, b in ((0, 4), (5, 7), (8, 10)))
        self.dutch = pc.binary_join_element_wise(d, m, y, "-")  # 23-11-2025
        seconds = np.arange(86400)
        clock = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in seconds]
        self.clock = pa.array(clock)

    def date(self, days: np.ndarray, dutch: bool = False) -> pa.Array:
        table = self.dutch if dutch else self.iso
        return table.take(pa.array(days - self.low))

    def timestamp(self, days: np.ndarray, seconds: np.ndarray) -> pa.Array:
        return pc.binary_join_element_wise(
            self.date(days), self.clock.take(pa.array(seconds)), "T"
        )
