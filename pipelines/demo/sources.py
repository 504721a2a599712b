"""The two demo sources: a Dutch CRM export and a webshop export, each with its own habits.

`render_crm` and `render_webshop` turn records (with the clean values they stand for) into the
text lines of the source's file, and report per field which rows carry unrecoverable dirt and
which special case a value shows (see dirt.py). Headers, delimiters, encodings and date formats
follow `sftp_config/sources.yaml`. The CRM has no updated_at column: which of two of its records
is newer shows only in its last purchase date and in the date of the drop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.demo import dirt as d
from pipelines.demo.csvfile import join_fields
from pipelines.demo.hashing import Draws
from pipelines.demo.phones import pick_styles, write_phones
from pipelines.demo.pools import COUNTRIES, Pools
from pipelines.demo.population import People
from pipelines.demo.records import Records, Values

CRM_HEADER = [
    "KlantID",
    "Voornaam",
    "Tussenvoegsel",
    "Achternaam",
    "Email",
    "Telefoon",
    "Straat",
    "Huisnummer",
    "Postcode",
    "Plaats",
    "Land",
    "Geboortedatum",
    "Nieuwsbrief",
    "LaatsteAankoop",
]
WEBSHOP_HEADER = [
    "customer_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "address",
    "zip",
    "city",
    "country",
    "date_of_birth",
    "newsletter",
    "newsletter_confirmed_at",
    "double_opt_in",
    "last_order_at",
    "updated_at",
]
FORMATS = {
    "crm": {
        "delimiter": ";",
        "quote_all": False,
        "encoding": "cp1252",
        "bom": False,
        "eol": "\r\n",
    },
    "webshop": {
        "delimiter": ",",
        "quote_all": True,
        "encoding": "utf-8",
        "bom": True,
        "eol": "\n",
    },
}
TRUTH_FIELDS: tuple[str, ...] = (
    "first_name",
    "infix",
    "last_name",
    "email",
    "phone",
    "street",
    "house_number",
    "house_number_suffix",
    "postcode",
    "city",
    "country",
    "birth_date",
    "newsletter_opt_in",
)
BROKEN_REASONS: tuple[str | None, ...] = (None, "field_count", "bad_date")

# How each source writes a yes/no (values the config's true_values/false_values understand).
CRM_YES = (
    ("ja", 35),
    ("j", 10),
    ("1", 15),
    ("Ja", 15),
    ("JA", 5),
    ("J", 5),
    ("waar", 2),
    ("true", 3),
)
CRM_NO = (
    ("nee", 35),
    ("n", 10),
    ("0", 15),
    ("Nee", 15),
    ("NEE", 5),
    ("N", 5),
    ("onwaar", 2),
    ("false", 3),
)
WEB_YES = (("true", 85), ("1", 10), ("yes", 5))
WEB_NO = (("false", 85), ("0", 10), ("no", 5))
# Impossible or unreadable dates (placeholders such as 00-00-0000 are missing values instead).
BAD_DATES = {
    "crm": ("31-02-1985", "29-02-1983", "1985-13-45", "gisteren", "12/31/1979", "32-13-1990"),
    "webshop": ("1985-02-31", "1983-02-29", "31/12/1985", "yesterday", "1979-13-01", "19850231"),
}
# Shares of the special cases, per source (crm, webshop).
SPELLING = {
    "crm": (0.010, 0.030),
    "webshop": (0.020, 0.025),
}  # (mojibake, stripped diacritics) of names
WORK_EMAIL = {
    "crm": (0.015, 0.020),
    "webshop": (0.004, 0.006),
}  # (role address, own address at work)
STREET_SHORT = {"crm": 0.08, "webshop": 0.03}  # abbreviated street type where it has one
CITY_VARIANT = {
    "crm": 0.06,
    "webshop": 0.04,
}  # another name (Gand, Goteborg); French speakers: 0.5
TEXT_MOJIBAKE = {"crm": 0.01, "webshop": 0.015}  # street and city


@dataclass
class Context:
    """One source's records with everything rendering needs, aligned per record."""

    draws: Draws
    pools: Pools
    people: People
    records: Records
    values: Values
    text: d.DateText
    # Derived per record in __post_init__:
    country: np.ndarray = field(init=False)  # index into COUNTRIES
    group: np.ndarray = field(init=False)  # index into pools.GROUPS
    first: np.ndarray = field(init=False)  # first-name pool index
    last: np.ndarray = field(init=False)  # surname pool index
    is_copy: np.ndarray = field(init=False)  # a duplicate, not the person's main record
    record_key: np.ndarray = field(init=False)  # draws for what a record stores: stable per record
    written_key: np.ndarray = field(
        init=False
    )  # draws for how it is written: changes with updates
    dirt: dict[str, np.ndarray] = field(init=False)  # truth field -> dirt code per record
    case: dict[str, np.ndarray] = field(init=False)  # truth field -> case code per record

    def __post_init__(self) -> None:
        person = self.records.person
        self.country = self.people.country[person]
        self.group = self.people.group[person]
        self.first = self.people.first[person]
        self.last = self.people.last[person]
        self.is_copy = self.records.copy > 0
        self.record_key = self.records.key
        self.written_key = self.draws.key(self.records.key, self.records.as_of)
        self.dirt = {f: np.zeros(len(person), dtype=np.int8) for f in TRUTH_FIELDS}
        self.case = {f: np.zeros(len(person), dtype=np.int8) for f in TRUTH_FIELDS}

    def __len__(self) -> int:
        return len(self.records)

    def blank(
        self,
        name: str,
        values: pa.Array,
        share: float | np.ndarray,
        fields: tuple[str, ...] = (),
        applies: np.ndarray | None = None,
        dates: bool = False,
        tagged: tuple[str, ...] = (),
    ) -> tuple[pa.Array, np.ndarray]:
        """Leave a field empty (or NULL, -, n.v.t., 00-00-0000) for a share of rows; flag
        `fields` as missing, and tag `fields` + `tagged` where a placeholder rather than nothing
        was written."""
        if applies is None:
            missing = self.draws.chance(self.written_key, f"{name}.missing", share)
        else:
            missing = self.chance_where(applies, f"{name}.missing", share)
        markers = (d.DATE_MARKERS if dates else d.MISSING_MARKERS)[self.records.source]
        written, placeholder = d.with_missing(
            self.draws, self.written_key, name, values, missing, markers
        )
        for f in fields:
            self.dirt[f][missing] = d.MISSING
        for f in fields + tagged:
            self.case[f][missing] = 0
            self.case[f][placeholder] = d.CASE["placeholder"]
        return written, missing

    def chance_where(
        self, mask: np.ndarray, stream: str, p: float | np.ndarray, stable: bool = False
    ) -> np.ndarray:
        """`chance` drawn for the masked rows only (keyed draws: the same values), False
        elsewhere."""
        out = np.zeros(len(mask), dtype=bool)
        rows = np.flatnonzero(mask)
        key = (self.record_key if stable else self.written_key)[rows]
        out[rows] = self.draws.chance(key, stream, p if np.isscalar(p) else np.asarray(p)[rows])
        return out

    def tag(
        self, fields: tuple[str, ...] | str, mask: np.ndarray, case: str, dirt: int | None = None
    ) -> None:
        for f in (fields,) if isinstance(fields, str) else fields:
            self.case[f][mask] = d.CASE[case]
            if dirt is not None:
                self.dirt[f][mask] = dirt

    def yes_no(self, value: np.ndarray, yes: tuple, no: tuple) -> pa.Array:
        k = self.written_key
        yes_text = pa.array([t for t, _ in yes]).take(
            pa.array(self.draws.pick(k, "yes", [w for _, w in yes]))
        )
        no_text = pa.array([t for t, _ in no]).take(
            pa.array(self.draws.pick(k, "no", [w for _, w in no]))
        )
        return pc.if_else(pa.array(value), yes_text, no_text)


@dataclass(frozen=True)
class Rendered:
    """A source file's content before encoding: header, one text line per record, and dirt
    flags."""

    header: list[str]
    lines: pa.Array
    dirt: dict[str, np.ndarray]
    case: dict[str, np.ndarray]
    broken_reason: np.ndarray  # index into BROKEN_REASONS


def _phone(ctx: Context, country_missing: np.ndarray, share: float) -> pa.Array:
    phone = ctx.values.phone
    style = pick_styles(
        ctx.draws, ctx.written_key, ctx.country, country_missing & (ctx.country != 0)
    )
    written, _ = ctx.blank(
        "phone", write_phones(phone, style), share, ("phone",), applies=phone.present
    )
    return written


def _country(ctx: Context, share: np.ndarray | float) -> tuple[pa.Array, np.ndarray]:
    names = d.write_countries(ctx.draws, ctx.written_key, ctx.country, ctx.records.source)
    return ctx.blank("country", names, share, ("country",))


def _break(
    ctx: Context, columns: list[pa.Array], birth_column: int
) -> tuple[pa.Array, np.ndarray]:
    """Deliberately broken rows for the quarantine: a wrong field count or an impossible date."""
    fmt = FORMATS[ctx.records.source]
    broken = ctx.records.broken
    reason = np.where(
        broken, 1 + ctx.draws.pick(ctx.written_key, "broken.reason", (60, 40)), 0
    ).astype(np.int8)
    bad_dates = BAD_DATES[ctx.records.source]
    bad = pa.array(bad_dates).take(
        pa.array(ctx.draws.below(ctx.written_key, "broken.date", len(bad_dates)))
    )
    columns = list(columns)
    columns[birth_column] = pc.if_else(pa.array(reason == 2), bad, columns[birth_column])
    ctx.dirt["birth_date"][reason == 2] = d.INVALID
    ctx.case["birth_date"][reason == 2] = 0
    lines = join_fields(columns, fmt["delimiter"], fmt["quote_all"])
    short = reason == 1
    if short.any():
        rows = pa.array(short)
        keep = ctx.draws.between(ctx.written_key[short], "broken.keep", 6, len(columns) - 2)
        extra = ctx.draws.chance(ctx.written_key[short], "broken.extra", 0.3)
        subset = [c.filter(rows) for c in columns]
        replacement = []
        for i, (n_keep, add) in enumerate(zip(keep, extra, strict=True)):
            fields = [c[i].as_py() for c in subset]
            fields = fields + ["onverwacht"] if add else fields[:n_keep]
            replacement.append(
                join_fields([pa.array([f]) for f in fields], fmt["delimiter"], fmt["quote_all"])[
                    0
                ].as_py()
            )
        lines = pc.replace_with_mask(lines, rows, pa.array(replacement, pa.string()))
    return lines, reason


def _put(values: pa.Array, mask: np.ndarray, pool: pa.Array, index: np.ndarray) -> pa.Array:
    """`pool[index]` where mask, else `values`; only the masked rows are looked up."""
    if not mask.any():
        return values
    return pc.replace_with_mask(values, pa.array(mask), pool.take(pa.array(index[mask])))


def _nonempty(pool: pa.Array) -> np.ndarray:
    return pc.not_equal(pool, "").to_numpy(zero_copy_only=False)


def _uniform_where(
    ctx: Context, mask: np.ndarray, stream: str, stable: bool = False
) -> np.ndarray:
    """Uniform draws for the masked rows (keyed: the same values as for all rows), 1.0
    elsewhere."""
    out = np.ones(len(mask))
    rows = np.flatnonzero(mask)
    out[rows] = ctx.draws.uniform((ctx.record_key if stable else ctx.written_key)[rows], stream)
    return out


def _is_vd(lasts) -> np.ndarray:
    """Per surname: its infix abbreviates to the ambiguous "v.d." (van de, van der or van den)."""
    return pc.equal(lasts.short_infix, "v.d.").to_numpy(zero_copy_only=False)


def _spelling(
    ctx: Context,
    name: str,
    field: str,
    written: pa.Array,
    clean: np.ndarray,
    pool_mojibake: pa.Array,
    pool_plain: pa.Array,
    index: np.ndarray,
) -> pa.Array:
    """A one-off spelling of a name on a record: mojibake ("SjÃ¶berg", recoverable) or diacritics
    stripped ("Sjoberg", not recoverable from the row alone). Only where the row is otherwise
    clean."""
    mojibake_share, plain_share = SPELLING[ctx.records.source]
    has_mojibake, has_plain = _nonempty(pool_mojibake)[index], _nonempty(pool_plain)[index]
    u = _uniform_where(ctx, clean & (has_mojibake | has_plain), f"{name}.spelling", stable=True)
    garbled = (u < mojibake_share) & has_mojibake
    stripped = (u >= mojibake_share) & (u < mojibake_share + plain_share) & has_plain
    ctx.tag(field, garbled, "mojibake")
    ctx.tag(field, stripped, "stripped_diacritics", d.DIACRITICS)
    return _put(_put(written, garbled, pool_mojibake, index), stripped, pool_plain, index)


def _email(ctx: Context, typo_share: float, case_share: float, space_share: float) -> pa.Array:
    """The address on the record: the person's own (maybe at a closed provider, maybe misspelt),
    or a work address: a role mailbox (info@firm.nl) or their own mailbox at the employer."""
    dr, pools, v = ctx.draws, ctx.pools, ctx.values
    email, typo, known = d.email_variants(
        dr, pools, ctx.written_key, v.email, typo_share, case_share, space_share
    )
    ctx.tag("email", v.email_is_old, "old_isp_domain")
    ctx.tag("email", typo & ~known, "domain_typo", d.TYPO)
    ctx.tag("email", known, "domain_typo")
    role_share, work_share = WORK_EMAIL[ctx.records.source]
    u = dr.uniform(ctx.record_key, "email.work")
    role, work = u < role_share, (u >= role_share) & (u < role_share + work_share)
    at_work = role | work
    if at_work.any():
        rows = np.flatnonzero(at_work)
        person = ctx.records.person[rows]
        country = ctx.country[rows]
        companies = pools.companies
        firm = companies.domain.take(
            pa.array(
                companies.segments.index(
                    country, dr.uniform(dr.key(ctx.people.pid[person]), "email.company")
                )
            )
        )
        mailbox = companies.role.take(
            pa.array(
                companies.role_segments.index(
                    country, dr.uniform(ctx.record_key[rows], "email.role")
                )
            )
        )
        own = pc.binary_join_element_wise(
            pools.first.ascii.take(pa.array(ctx.first[rows])),
            pools.last.ascii_last.take(pa.array(ctx.last[rows])),
            ".",
        )
        local = pc.if_else(pa.array(role[rows]), mailbox, own)
        email = pc.replace_with_mask(
            email, pa.array(at_work), pc.binary_join_element_wise(local, firm, "@")
        )
        ctx.tag("email", role, "role_address", d.ROLE_ADDRESS)
        ctx.tag("email", work, "work_address", d.WORK_ADDRESS)
    return email


def _street(ctx: Context, street: pa.Array) -> pa.Array:
    """Street type abbreviated (Kerkstr., Dorpsln., Storg., Kungsv.) or mojibake, for a share of
    records."""
    pools, index = ctx.pools, ctx.values.address.street_index
    has_short, has_mojibake = (
        _nonempty(pools.street_short)[index],
        _nonempty(pools.street_mojibake)[index],
    )
    u = _uniform_where(ctx, has_short | has_mojibake, "street.form")
    short = (u < STREET_SHORT[ctx.records.source]) & has_short
    garbled = (u >= 0.5) & (u < 0.5 + TEXT_MOJIBAKE[ctx.records.source]) & has_mojibake
    ctx.tag("street", short, "street_abbreviation")
    ctx.tag("street", garbled, "mojibake")
    return _put(
        _put(street, short, pools.street_short, index), garbled, pools.street_mojibake, index
    )


def _city(ctx: Context) -> pa.Array:
    """The city as written: another name for it (Gand, Anvers, Goteborg) or mojibake for some."""
    localities, index = ctx.pools.localities, ctx.values.address.locality
    has_variant, has_mojibake = (
        _nonempty(localities.variant)[index],
        _nonempty(localities.mojibake)[index],
    )
    u = _uniform_where(ctx, has_variant | has_mojibake, "city.form")
    share = np.where(
        ctx.group == 2, 0.5, CITY_VARIANT[ctx.records.source]
    )  # French speakers write Gand
    variant = (u < share) & has_variant
    garbled = (u >= 0.6) & (u < 0.6 + TEXT_MOJIBAKE[ctx.records.source]) & has_mojibake
    ctx.tag("city", variant, "city_variant")
    ctx.tag("city", garbled, "mojibake")
    city = _put(ctx.values.address.city, variant, localities.variant, index)
    return _put(city, garbled, localities.mojibake, index)


def _last_name_typos(ctx: Context, share: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    last, typo = d.last_name_typos(ctx.draws, ctx.pools, ctx.record_key, ctx.last, share)
    ctx.dirt["last_name"][typo] = d.TYPO
    pools = ctx.pools.last
    return _spelling(
        ctx, "last", "last_name", last, ~typo, pools.mojibake, pools.plain, ctx.last
    ), typo


def _first_name(
    ctx: Context, main_weights: tuple[int, ...], copy_weights: tuple[int, ...]
) -> pa.Array:
    first, ctx.dirt["first_name"] = d.first_name_variants(
        ctx.draws, ctx.pools, ctx.record_key, ctx.first, ctx.is_copy, main_weights, copy_weights
    )
    names = ctx.pools.first
    return _spelling(
        ctx,
        "first",
        "first_name",
        first,
        ctx.dirt["first_name"] == d.CLEAN,
        names.mojibake,
        names.plain,
        ctx.first,
    )


def render_crm(ctx: Context) -> Rendered:
    dr, pools, k, v = ctx.draws, ctx.pools, ctx.written_key, ctx.values
    n = len(ctx)
    lasts = pools.last
    infix = lasts.infix.take(pa.array(ctx.last))
    has_infix = lasts.has_infix[ctx.last]
    # Where the infix goes: its own column, glued to the surname, "Meer, van der", "Van der",
    # after the first name ("Jan van der"), abbreviated ("v.d." / "v.").
    style = np.where(has_infix, dr.pick(k, "infix.style", (84, 5, 2, 4, 2, 3)), 0)
    short = _nonempty(lasts.short_infix)[ctx.last]
    style = np.where((style == 5) & ~short, 0, style)

    first = _first_name(ctx, (89, 3, 6, 2), (58, 15, 15, 12))
    first = d.stray_spaces(dr, k, "first", d.vary_case(dr, k, "first", first, 0.04, 0.02), 0.02)
    first, first_missing = ctx.blank("first", first, 0.015, ("first_name",))
    in_first = (style == 4) & ~first_missing
    first = d.apply_where(first, in_first, d.join_with(" "), first, infix)
    ctx.tag(("first_name", "infix"), in_first, "infix_in_first_name")
    style = np.where((style == 4) & first_missing, 0, style)

    last, typo = _last_name_typos(ctx, np.where(ctx.is_copy, 0.10, 0.015))
    glued, reversed_, capitalised, abbreviated = style == 1, style == 2, style == 3, style == 5
    abbreviated_glued = ctx.chance_where(
        abbreviated, "infix.short_glued", 0.5
    )  # "v.d. Meer" in Achternaam
    short_infix = _put(infix, abbreviated, lasts.short_infix, ctx.last)
    last = d.apply_where(last, glued, d.join_with(" "), infix, last)
    last = d.apply_where(last, abbreviated_glued, d.join_with(" "), short_infix, last)
    last = d.apply_where(last, reversed_, d.join_with(", "), last, infix)
    written_infix = d.swap_where(abbreviated & ~abbreviated_glued, short_infix, infix)
    written_infix = d.swap_where(
        glued | reversed_ | in_first | abbreviated_glued, pa.scalar("", pa.string()), written_infix
    )
    written_infix = d.apply_where(written_infix, capitalised, pc.utf8_capitalize, infix)
    ctx.tag("infix", reversed_, "infix_reversed")
    ctx.tag("infix", capitalised, "infix_capitalised")
    ambiguous = abbreviated & _is_vd(lasts)[ctx.last]  # van de, van der or van den?
    ctx.tag("infix", abbreviated, "infix_abbreviated")
    ctx.dirt["infix"][ambiguous] = d.ABBREVIATED
    # A Dutch CRM splits a Belgian "Van Tournay" like a Dutch name: "Van" (or "van") in
    # Tussenvoegsel.
    be = lasts.has_be_particle[ctx.last] & (ctx.case["last_name"] == 0)
    split = ctx.chance_where(be & ~typo, "be.split", 0.25)
    particle = _put(written_infix, split, lasts.be_particle, ctx.last)
    particle = d.apply_where(
        particle, ctx.chance_where(split, "be.lower", 0.5), pc.utf8_lower, particle
    )
    last = _put(last, split, lasts.be_rest, ctx.last)
    written_infix = d.swap_where(split, particle, written_infix)
    ctx.tag("last_name", be, "be_particle")
    ctx.tag(("last_name", "infix"), split, "be_particle_split")
    written_infix, _ = ctx.blank(
        "infix", written_infix, 0.05, applies=~has_infix & ~split, tagged=("infix",)
    )
    last = d.vary_case(dr, k, "last", last, 0.03, 0.01)
    last, _ = ctx.blank("last", last, 0.005, ("last_name",))

    email = _email(ctx, 0.01, 0.12, 0.03)
    email, _ = ctx.blank("email", email, 0.12, ("email",))

    country, country_missing = _country(ctx, np.where(ctx.country == 0, 0.30, 0.03))
    phone = _phone(ctx, country_missing, 0.08)

    address = v.address
    house = d.write_house_numbers(dr, k, address.house_number, address.suffix, ctx.country)
    street = d.vary_case(dr, k, "street", _street(ctx, address.street), 0.03, 0.005)
    in_one = dr.chance(k, "street.in_one", 0.02)  # "Hoofdstraat 12a" in Straat, Huisnummer empty
    in_both = ~in_one & dr.chance(
        k, "street.in_both", 0.03
    )  # "Hoofdstraat 12a" and "12a" in Huisnummer
    street = d.apply_where(street, in_one | in_both, d.join_with(" "), street, house)
    house = d.swap_where(in_one, pa.scalar("", pa.string()), house)
    ctx.tag(("street", "house_number"), in_one | in_both, "number_in_street")
    no_address = dr.chance(k, "address.missing", 0.02)
    street = pc.if_else(pa.array(no_address), "", street)
    house = pc.if_else(pa.array(no_address), "", house)
    for f in ("street", "house_number", "house_number_suffix", "postcode", "city"):
        ctx.dirt[f][no_address] = d.MISSING
        ctx.case[f][no_address] = 0
    postcode, _ = ctx.blank(
        "postcode", d.write_postcodes(dr, k, address.postcode, ctx.country), 0.02, ("postcode",)
    )
    postcode = pc.if_else(pa.array(no_address), "", postcode)
    city = d.stray_spaces(dr, k, "city", d.vary_case(dr, k, "city", _city(ctx), 0.06, 0.02), 0.01)
    city, _ = ctx.blank("city", city, 0.015, ("city",))
    city = pc.if_else(pa.array(no_address), "", city)

    birth, _ = ctx.blank(
        "birth",
        ctx.text.date(ctx.people.birth[ctx.records.person], dutch=True),
        0.08,
        ("birth_date",),
        dates=True,
    )
    newsletter, _ = ctx.blank(
        "newsletter",
        ctx.yes_no(v.newsletter.opt_in, CRM_YES, CRM_NO),
        0.04,
        ("newsletter_opt_in",),
    )
    purchase = pc.if_else(pa.array(v.has_purchase), ctx.text.date(v.purchase_day, dutch=True), "")
    purchase, _ = ctx.blank(
        "purchase", purchase, 0.10, applies=~v.has_purchase, dates=True
    )  # 00-00-0000

    columns = [
        ctx.records.record_id,
        first,
        written_infix,
        last,
        email,
        phone,
        street,
        house,
        postcode,
        city,
        country,
        birth,
        newsletter,
        purchase,
    ]
    assert len(columns) == len(CRM_HEADER) and all(len(c) == n for c in columns)
    lines, reason = _break(ctx, columns, CRM_HEADER.index("Geboortedatum"))
    return Rendered(
        header=CRM_HEADER, lines=lines, dirt=ctx.dirt, case=ctx.case, broken_reason=reason
    )


def render_webshop(ctx: Context) -> Rendered:
    dr, pools, k, v = ctx.draws, ctx.pools, ctx.written_key, ctx.values
    n = len(ctx)
    lasts = pools.last

    first = _first_name(ctx, (92, 5, 1, 2), (65, 15, 8, 12))
    first = d.stray_spaces(dr, k, "first", d.vary_case(dr, k, "first", first, 0.02, 0.06), 0.02)
    first, _ = ctx.blank("first", first, 0.01, ("first_name",))

    last, _ = _last_name_typos(ctx, np.where(ctx.is_copy, 0.08, 0.015))
    infix = lasts.infix.take(pa.array(ctx.last))
    has_infix = lasts.has_infix[ctx.last]
    # "van der Berg" as typed into one field; some "Van der Berg", "v.d. Berg" or "Berg, van der".
    style = np.where(has_infix, dr.pick(k, "infix.style", (93, 3, 2, 2)), 0)
    style = np.where((style == 2) & ~_nonempty(lasts.short_infix)[ctx.last], 0, style)
    written_infix = d.apply_where(infix, style == 1, pc.utf8_capitalize, infix)
    written_infix = _put(written_infix, style == 2, lasts.short_infix, ctx.last)
    joined = pc.binary_join_element_wise(written_infix, last, " ")
    joined = d.apply_where(joined, style == 3, d.join_with(", "), last, infix)
    last = d.swap_where(has_infix, joined, last)
    ctx.tag("infix", style == 1, "infix_capitalised")
    ctx.tag("infix", style == 2, "infix_abbreviated")
    ctx.tag("infix", style == 3, "infix_reversed")
    ctx.dirt["infix"][(style == 2) & _is_vd(lasts)[ctx.last]] = d.ABBREVIATED
    ctx.tag(
        "last_name", lasts.has_be_particle[ctx.last] & (ctx.case["last_name"] == 0), "be_particle"
    )
    last = d.vary_case(dr, k, "last", last, 0.02, 0.03, capitalize=0.05)
    last, last_missing = ctx.blank("last", last, 0.005, ("last_name",))
    ctx.dirt["infix"][last_missing & has_infix] = d.MISSING
    ctx.case["infix"][last_missing & has_infix] = 0

    email = _email(ctx, 0.008, 0.08, 0.02)

    country, country_missing = _country(ctx, 0.02)
    phone = _phone(ctx, country_missing, 0.10)

    address = v.address
    house = d.write_house_numbers(dr, k, address.house_number, address.suffix, ctx.country)
    street = d.vary_case(dr, k, "street", _street(ctx, address.street), 0.02, 0.01)
    line, _ = ctx.blank(
        "address",
        pc.binary_join_element_wise(street, house, " "),
        0.01,
        ("street", "house_number", "house_number_suffix"),
    )
    postcode, _ = ctx.blank(
        "postcode", d.write_postcodes(dr, k, address.postcode, ctx.country), 0.01, ("postcode",)
    )
    city = d.stray_spaces(dr, k, "city", d.vary_case(dr, k, "city", _city(ctx), 0.03, 0.03), 0.01)
    city, _ = ctx.blank("city", city, 0.01, ("city",))

    birth, _ = ctx.blank(
        "birth",
        ctx.text.date(ctx.people.birth[ctx.records.person]),
        0.35,
        ("birth_date",),
        dates=True,
    )
    opt_in = v.newsletter.opt_in
    newsletter, _ = ctx.blank(
        "newsletter", ctx.yes_no(opt_in, WEB_YES, WEB_NO), 0.01, ("newsletter_opt_in",)
    )
    confirmed = ctx.text.timestamp(v.newsletter.confirmed_day, v.newsletter.confirmed_second)
    confirmed = pc.if_else(
        pa.array(opt_in & ~dr.chance(k, "confirmed.missing", 0.03)), confirmed, ""
    )
    double = pc.if_else(
        pa.array(opt_in & dr.chance(ctx.record_key, "double_opt_in", 0.85)), "true", "false"
    )
    last_order = pc.if_else(
        pa.array(v.has_purchase), ctx.text.timestamp(v.purchase_day, v.purchase_second), ""
    )
    updated = ctx.text.timestamp(ctx.records.as_of, v.update_second)

    columns = [
        ctx.records.record_id,
        first,
        last,
        email,
        phone,
        line,
        postcode,
        city,
        country,
        birth,
        newsletter,
        confirmed,
        double,
        last_order,
        updated,
    ]
    assert len(columns) == len(WEBSHOP_HEADER) and all(len(c) == n for c in columns)
    lines, reason = _break(ctx, columns, WEBSHOP_HEADER.index("date_of_birth"))
    return Rendered(
        header=WEBSHOP_HEADER, lines=lines, dirt=ctx.dirt, case=ctx.case, broken_reason=reason
    )


def country_codes(country: np.ndarray) -> pa.Array:
    return pa.array(list(COUNTRIES)).take(pa.array(country))
