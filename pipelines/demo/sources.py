"""The two demo sources: a Dutch CRM export and a webshop export, each with its own habits.

`render_crm` and `render_webshop` turn records (with the clean values they stand for) into the
text lines of the source's file, and report per field which rows carry unrecoverable dirt.
Headers, delimiters, encodings and date formats follow `sftp_config/sources.yaml`.
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
    "KlantID", "Voornaam", "Tussenvoegsel", "Achternaam", "Email", "Telefoon", "Straat", "Huisnummer",
    "Postcode", "Plaats", "Land", "Geboortedatum", "Nieuwsbrief", "LaatsteAankoop",
]
WEBSHOP_HEADER = [
    "customer_id", "first_name", "last_name", "email", "phone", "address", "zip", "city", "country",
    "date_of_birth", "newsletter", "newsletter_confirmed_at", "double_opt_in", "last_order_at", "updated_at",
]
FORMATS = {
    "crm": {"delimiter": ";", "quote_all": False, "encoding": "cp1252", "bom": False, "eol": "\r\n"},
    "webshop": {"delimiter": ",", "quote_all": True, "encoding": "utf-8", "bom": True, "eol": "\n"},
}
TRUTH_FIELDS: tuple[str, ...] = (
    "first_name", "infix", "last_name", "email", "phone", "street", "house_number", "house_number_suffix",
    "postcode", "city", "country", "birth_date", "newsletter_opt_in",
)
BROKEN_REASONS: tuple[str | None, ...] = (None, "field_count", "bad_date")

# How each source writes a yes/no (values the config's true_values/false_values understand).
CRM_YES = (("ja", 35), ("j", 10), ("1", 15), ("Ja", 15), ("JA", 5), ("J", 5), ("waar", 2), ("true", 3))
CRM_NO = (("nee", 35), ("n", 10), ("0", 15), ("Nee", 15), ("NEE", 5), ("N", 5), ("onwaar", 2), ("false", 3))
WEB_YES = (("true", 85), ("1", 10), ("yes", 5))
WEB_NO = (("false", 85), ("0", 10), ("no", 5))
BAD_DATES = {
    "crm": ("31-02-1985", "00-00-0000", "1985-13-45", "gisteren", "12/31/1979", "32-13-1990"),
    "webshop": ("1985-02-31", "0000-00-00", "31/12/1985", "yesterday", "1979-13-01", "19850231"),
}


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
    written_key: np.ndarray = field(init=False)  # draws for how it is written: changes with updates
    dirt: dict[str, np.ndarray] = field(init=False)  # truth field -> dirt code per record

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

    def __len__(self) -> int:
        return len(self.records)

    def blank(self, name: str, values: pa.Array, share: float | np.ndarray, fields: tuple[str, ...] = (),
              applies: np.ndarray | None = None) -> tuple[pa.Array, np.ndarray]:
        """Leave a field empty (or NULL, -, n.v.t.) for a share of rows; flag `fields` as missing."""
        missing = self.draws.chance(self.written_key, f"{name}.missing", share)
        if applies is not None:
            missing &= applies
        for f in fields:
            self.dirt[f][missing] = d.MISSING
        return d.with_missing(self.draws, self.written_key, name, values, missing, self.records.source), missing

    def yes_no(self, value: np.ndarray, yes: tuple, no: tuple) -> pa.Array:
        k = self.written_key
        yes_text = pa.array([t for t, _ in yes]).take(pa.array(self.draws.pick(k, "yes", [w for _, w in yes])))
        no_text = pa.array([t for t, _ in no]).take(pa.array(self.draws.pick(k, "no", [w for _, w in no])))
        return pc.if_else(pa.array(value), yes_text, no_text)


@dataclass(frozen=True)
class Rendered:
    """A source file's content before encoding: header, one text line per record, and dirt flags."""

    header: list[str]
    lines: pa.Array
    dirt: dict[str, np.ndarray]
    broken_reason: np.ndarray  # index into BROKEN_REASONS


def _phone(ctx: Context, country_missing: np.ndarray, share: float) -> pa.Array:
    phone = ctx.values.phone
    style = pick_styles(ctx.draws, ctx.written_key, ctx.country, country_missing & (ctx.country != 0))
    written, _ = ctx.blank("phone", write_phones(phone, style), share, ("phone",), applies=phone.present)
    return written


def _country(ctx: Context, share: np.ndarray | float) -> tuple[pa.Array, np.ndarray]:
    names = d.write_countries(ctx.draws, ctx.written_key, ctx.country, ctx.records.source)
    return ctx.blank("country", names, share, ("country",))


def _break(ctx: Context, columns: list[pa.Array], birth_column: int) -> tuple[pa.Array, np.ndarray]:
    """Deliberately broken rows for the quarantine: a wrong field count or an impossible date."""
    fmt = FORMATS[ctx.records.source]
    broken = ctx.records.broken
    reason = np.where(broken, 1 + ctx.draws.pick(ctx.written_key, "broken.reason", (60, 40)), 0).astype(np.int8)
    bad_dates = BAD_DATES[ctx.records.source]
    bad = pa.array(bad_dates).take(pa.array(ctx.draws.below(ctx.written_key, "broken.date", len(bad_dates))))
    columns = list(columns)
    columns[birth_column] = pc.if_else(pa.array(reason == 2), bad, columns[birth_column])
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
            replacement.append(join_fields([pa.array([f]) for f in fields], fmt["delimiter"], fmt["quote_all"])[0].as_py())
        lines = pc.replace_with_mask(lines, rows, pa.array(replacement, pa.string()))
    return lines, reason


def render_crm(ctx: Context) -> Rendered:
    dr, pools, k, v = ctx.draws, ctx.pools, ctx.written_key, ctx.values
    n = len(ctx)

    first, ctx.dirt["first_name"] = d.first_name_variants(
        dr, pools, ctx.record_key, ctx.first, ctx.is_copy, (89, 3, 6, 2), (58, 15, 15, 12)
    )
    first = d.stray_spaces(dr, k, "first", d.vary_case(dr, k, "first", first, 0.04, 0.02), 0.02)
    first, _ = ctx.blank("first", first, 0.015, ("first_name",))

    last, typo = d.last_name_typos(dr, pools, ctx.record_key, ctx.last, np.where(ctx.is_copy, 0.10, 0.015))
    ctx.dirt["last_name"][typo] = d.TYPO
    infix = pools.last.infix.take(pa.array(ctx.last))
    has_infix = pools.last.has_infix[ctx.last]
    style = dr.pick(k, "infix.style", (90, 5, 1, 4))  # separate, glued to surname, "Berg, van der", "Van der"
    glued = has_infix & (style == 1)
    reversed_ = has_infix & (style == 2)
    last = pc.if_else(pa.array(glued), pc.binary_join_element_wise(infix, last, " "), last)
    last = pc.if_else(pa.array(reversed_), pc.binary_join_element_wise(last, infix, ", "), last)
    infix = pc.if_else(pa.array(glued | reversed_), "", infix)
    infix = pc.if_else(pa.array(has_infix & (style == 3)), pc.utf8_capitalize(infix), infix)
    infix, _ = ctx.blank("infix", infix, 0.05, applies=~has_infix)  # "-" or "n.v.t." where there is none
    last = d.vary_case(dr, k, "last", last, 0.03, 0.01)
    last, _ = ctx.blank("last", last, 0.005, ("last_name",))

    email, email_typo = d.email_variants(dr, pools, k, ctx.people.email.take(pa.array(ctx.records.person)), 0.01, 0.12, 0.03)
    ctx.dirt["email"][email_typo] = d.TYPO
    email, _ = ctx.blank("email", email, 0.12, ("email",))

    country, country_missing = _country(ctx, np.where(ctx.country == 0, 0.30, 0.03))
    phone = _phone(ctx, country_missing, 0.08)

    address = v.address
    house = d.write_house_numbers(dr, k, address.house_number, address.suffix, ctx.country)
    street = d.vary_case(dr, k, "street", address.street, 0.03, 0.005)
    in_one = dr.chance(k, "street.in_one", 0.02)  # "Hoofdstraat 12a" in Straat, Huisnummer empty
    street = pc.if_else(pa.array(in_one), pc.binary_join_element_wise(street, house, " "), street)
    house = pc.if_else(pa.array(in_one), "", house)
    no_address = dr.chance(k, "address.missing", 0.02)
    street = pc.if_else(pa.array(no_address), "", street)
    house = pc.if_else(pa.array(no_address), "", house)
    for f in ("street", "house_number", "house_number_suffix", "postcode", "city"):
        ctx.dirt[f][no_address] = d.MISSING
    postcode, _ = ctx.blank("postcode", d.write_postcodes(dr, k, address.postcode, ctx.country), 0.02, ("postcode",))
    postcode = pc.if_else(pa.array(no_address), "", postcode)
    city = d.stray_spaces(dr, k, "city", d.vary_case(dr, k, "city", address.city, 0.06, 0.02), 0.01)
    city, _ = ctx.blank("city", city, 0.015, ("city",))
    city = pc.if_else(pa.array(no_address), "", city)

    birth, _ = ctx.blank("birth", ctx.text.date(ctx.people.birth[ctx.records.person], dutch=True), 0.08, ("birth_date",))
    newsletter, _ = ctx.blank("newsletter", ctx.yes_no(v.newsletter.opt_in, CRM_YES, CRM_NO), 0.04, ("newsletter_opt_in",))
    purchase = pc.if_else(pa.array(v.has_purchase), ctx.text.date(v.purchase_day, dutch=True), "")

    columns = [ctx.records.record_id, first, infix, last, email, phone, street, house, postcode, city, country,
               birth, newsletter, purchase]
    assert len(columns) == len(CRM_HEADER) and all(len(c) == n for c in columns)
    lines, reason = _break(ctx, columns, CRM_HEADER.index("Geboortedatum"))
    return Rendered(header=CRM_HEADER, lines=lines, dirt=ctx.dirt, broken_reason=reason)


def render_webshop(ctx: Context) -> Rendered:
    dr, pools, k, v = ctx.draws, ctx.pools, ctx.written_key, ctx.values
    n = len(ctx)

    first, ctx.dirt["first_name"] = d.first_name_variants(
        dr, pools, ctx.record_key, ctx.first, ctx.is_copy, (92, 5, 1, 2), (65, 15, 8, 12)
    )
    first = d.stray_spaces(dr, k, "first", d.vary_case(dr, k, "first", first, 0.02, 0.06), 0.02)
    first, _ = ctx.blank("first", first, 0.01, ("first_name",))

    last, typo = d.last_name_typos(dr, pools, ctx.record_key, ctx.last, np.where(ctx.is_copy, 0.08, 0.015))
    ctx.dirt["last_name"][typo] = d.TYPO
    infix = pools.last.infix.take(pa.array(ctx.last))
    has_infix = pools.last.has_infix[ctx.last]
    last = pc.if_else(pa.array(has_infix), pc.binary_join_element_wise(infix, last, " "), last)  # "van der Berg"
    last = d.vary_case(dr, k, "last", last, 0.02, 0.03, capitalize=0.05)
    last, last_missing = ctx.blank("last", last, 0.005, ("last_name",))
    ctx.dirt["infix"][last_missing & has_infix] = d.MISSING

    email, email_typo = d.email_variants(dr, pools, k, ctx.people.email.take(pa.array(ctx.records.person)), 0.008, 0.08, 0.02)
    ctx.dirt["email"][email_typo] = d.TYPO

    country, country_missing = _country(ctx, 0.02)
    phone = _phone(ctx, country_missing, 0.10)

    address = v.address
    house = d.write_house_numbers(dr, k, address.house_number, address.suffix, ctx.country)
    street = d.vary_case(dr, k, "street", address.street, 0.02, 0.01)
    line, _ = ctx.blank("address", pc.binary_join_element_wise(street, house, " "), 0.01,
                        ("street", "house_number", "house_number_suffix"))
    postcode, _ = ctx.blank("postcode", d.write_postcodes(dr, k, address.postcode, ctx.country), 0.01, ("postcode",))
    city = d.stray_spaces(dr, k, "city", d.vary_case(dr, k, "city", address.city, 0.03, 0.03), 0.01)
    city, _ = ctx.blank("city", city, 0.01, ("city",))

    birth, _ = ctx.blank("birth", ctx.text.date(ctx.people.birth[ctx.records.person]), 0.35, ("birth_date",))
    opt_in = v.newsletter.opt_in
    newsletter, _ = ctx.blank("newsletter", ctx.yes_no(opt_in, WEB_YES, WEB_NO), 0.01, ("newsletter_opt_in",))
    confirmed = ctx.text.timestamp(v.newsletter.confirmed_day, v.newsletter.confirmed_second)
    confirmed = pc.if_else(pa.array(opt_in & ~dr.chance(k, "confirmed.missing", 0.03)), confirmed, "")
    double = pc.if_else(pa.array(opt_in & dr.chance(ctx.record_key, "double_opt_in", 0.85)), "true", "false")
    last_order = pc.if_else(pa.array(v.has_purchase), ctx.text.timestamp(v.purchase_day, v.purchase_second), "")
    updated = ctx.text.timestamp(ctx.records.as_of, v.update_second)

    columns = [ctx.records.record_id, first, last, email, phone, line, postcode, city, country, birth,
               newsletter, confirmed, double, last_order, updated]
    assert len(columns) == len(WEBSHOP_HEADER) and all(len(c) == n for c in columns)
    lines, reason = _break(ctx, columns, WEBSHOP_HEADER.index("date_of_birth"))
    return Rendered(header=WEBSHOP_HEADER, lines=lines, dirt=ctx.dirt, broken_reason=reason)


def country_codes(country: np.ndarray) -> pa.Array:
    return pa.array(list(COUNTRIES)).take(pa.array(country))
