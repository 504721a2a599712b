"""The ground truth: one row per generated data row, saying who it is and what it should say.

Identity: `source`, `file_name` (the drop), `drop_date` (the export date in its name),
`source_record_id`, `line_number` (physical line in that file, header = 1; unique per file, not
per source: an older drop repeats the record ids of the newer one), `person_id`, `household_id`,
`copy_index` (0 = the person's main record in that source, 1-2 = duplicates), `as_of` (day the
record's values reflect), `is_broken` / `broken_reason`, and the hard-negative markers `twin_of`,
`email_owner` (differs from person_id for a shared family address) and `namesake` (the group's very
common name, e.g. Jan de Vries).

Values (convention): each canonical field holds the person's TRUE CLEAN value as of the
record's `as_of` day, whatever the row shows: the real first name even where the row has a
nickname, initials, a typo, mojibake or stripped diacritics; the person's own e-mail address even
where the row has a role mailbox (info@firm.nl) or a work address; the address, phone, e-mail and
newsletter choice the person had on `as_of` (a record not updated since the person moved shows,
and is true to, the old address; one not updated since the person left a closed mail provider
shows the old hetnet.nl address). Forms: first_name / last_name as the person writes them, infix
(Dutch tussenvoegsel) lower case, separate and null when none (a Belgian "Van Tournay", "De
Backer", "Vanden Bossche" keeps the particle in last_name, capitalised as written), email lower
case, phone E.164, house_number digits, house_number_suffix upper case without separator ("A",
"1", "HS", "BIS"; null when none), street with its type written out (Kerkstraat, Storgatan), city
by its official name in its own language (Gent, not Gand; Göteborg, not Goteborg), postcode NL
`1234 AB` / BE `1000` / SE `123 45`, country ISO alpha-2, birth_date a date, newsletter_opt_in a
boolean.

`<field>_dirt` says why a perfect normalizer still cannot produce the true value from the row:
`missing` (empty or a placeholder such as NULL, -, x, onbekend, 00-00-0000, 01-01-1900),
`typo`, `nickname`, `initials`, `abbreviated` (infix "v.d.": van de, der or den?), `diacritics`
("Sjoberg" for Sjöberg), `role_address` / `work_address` (not the person's own mailbox),
`invalid` (an impossible date on a deliberately broken row); null when the row carries the value,
however it is formatted (case, spaces, phone or postcode style, country name, infix glued to the
surname or in the first-name field, mojibake, street abbreviation, house number in the street,
another name of the city, a well-known domain typo such as gmial.com, ...). Normalizer accuracy is
therefore fairly measured on rows where the flag is null; for missing fields the expected output
is null.

`<field>_case` names the special form the written value takes, recoverable or not (`CASE_CODES`
in dirt.py: placeholder, old_isp_domain, domain_typo, role_address, work_address, be_particle,
be_particle_split, infix_in_first_name, infix_reversed, infix_abbreviated, infix_capitalised,
street_abbreviation, number_in_street, city_variant, mojibake, stripped_diacritics); null for an
ordinary value. Benchmarks report accuracy per case with it.

A person's TRUE CURRENT value of a field (what a golden record should show) is the value on the
person's truth row with the newest `as_of`, over all sources and drops; rows with equal `as_of`
hold equal values except the phone (a record may show the landline instead of the mobile), so
break ties the same way everywhere, e.g. with `current_values()` below or in SQL:

    SELECT * FROM read_parquet('truth.parquet')
    QUALIFY row_number() OVER (PARTITION BY person_id
                               ORDER BY as_of DESC, drop_date DESC, copy_index, source,
                                        source_record_id) = 1

A record id appears once per drop: with several drops (`generate(older_drops=...)`) join truth rows
to warehouse records on (source, source_record_id) and keep the newest `drop_date`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.demo.dirt import CASE_CODES, DIRT_CODES
from pipelines.demo.population import date_of
from pipelines.demo.sources import BROKEN_REASONS, TRUTH_FIELDS, Context, Rendered, country_codes

PHONE_TYPES: tuple[str | None, ...] = (None, "mobile", "fixed_line")


def _constant(value: str, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int8)), pa.array([value]))


def _codes(codes: np.ndarray, labels: tuple[str | None, ...]) -> pa.Array:
    """Dictionary-encoded labels (labels[0] is None: null) straight from the integer codes."""
    indices = pa.array((codes - 1).astype(np.int8), mask=codes == 0)
    return pa.DictionaryArray.from_arrays(indices, pa.array(list(labels[1:]), pa.string()))


def _null_if_empty(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def current_values(truth: pd.DataFrame) -> pd.DataFrame:
    """One row per person: the truth row with the newest `as_of` (ties broken as documented
    above)."""
    ordered = truth.sort_values(
        ["person_id", "as_of", "drop_date", "copy_index", "source", "source_record_id"],
        ascending=[True, False, False, True, True, True],
        kind="stable",
    )
    return ordered.drop_duplicates("person_id", keep="first").reset_index(drop=True)


def truth_table(ctx: Context, rendered: Rendered, file_name: str, drop_date: dt.date) -> pa.Table:
    people, records, values = ctx.people, ctx.records, ctx.values
    person = records.person
    n = len(records)
    twin_of = people.twin_of[person]
    address = values.address
    phone_present = values.phone.present
    columns: dict[str, pa.Array] = {
        "source": _constant(records.source, n),
        "file_name": _constant(file_name, n),
        "drop_date": pa.array(np.full(n, np.datetime64(drop_date.isoformat(), "D"))),
        "source_record_id": records.record_id,
        "line_number": pa.array(np.arange(2, n + 2, dtype=np.int64)),
        "person_id": pa.array(people.pid[person]),
        "household_id": pa.array(people.household[person]),
        "copy_index": pa.array(records.copy.astype(np.int8)),
        "as_of": pa.array(date_of(records.as_of)),
        "is_broken": pa.array(rendered.broken_reason > 0),
        "broken_reason": _codes(rendered.broken_reason, BROKEN_REASONS),
        "twin_of": pa.array(twin_of, mask=twin_of < 0),
        "email_owner": pa.array(people.email_owner[person]),
        "namesake": pa.array(people.namesake[person]),
        "first_name": ctx.pools.first.name.take(pa.array(ctx.first)),
        "infix": _null_if_empty(ctx.pools.last.infix.take(pa.array(ctx.last))),
        "last_name": ctx.pools.last.last.take(pa.array(ctx.last)),
        "email": values.email,
        "phone": values.phone.e164(),
        "phone_type": _codes(
            np.where(phone_present, np.where(values.phone_is_landline, 2, 1), 0), PHONE_TYPES
        ),
        "street": address.street,
        "house_number": pa.array(address.house_number).cast(pa.string()),
        "house_number_suffix": _null_if_empty(address.suffix),
        "postcode": address.postcode,
        "city": address.city,
        "country": country_codes(ctx.country).dictionary_encode(),
        "birth_date": pa.array(date_of(people.birth[person])),
        "newsletter_opt_in": pa.array(values.newsletter.opt_in),
    }
    for field in TRUTH_FIELDS:
        columns[f"{field}_dirt"] = _codes(rendered.dirt[field], DIRT_CODES)
    for field in TRUTH_FIELDS:
        columns[f"{field}_case"] = _codes(rendered.case[field], CASE_CODES)
    return pa.table(columns)
