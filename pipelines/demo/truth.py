"""The ground truth: one row per generated data row, saying who it is and what it should say.

Identity: `source`, `file_name`, `source_record_id`, `line_number` (physical line, header = 1),
`person_id`, `household_id`, `copy_index` (0 = the person's main record in that source, 1-2 =
duplicates), `as_of` (day the record's values reflect), `is_broken` / `broken_reason`, and the
hard-negative markers `twin_of`, `email_owner` (differs from person_id for a shared family
address) and `namesake` (the group's very common name, e.g. Jan de Vries).

Values (convention): each canonical field holds the person's TRUE CLEAN value as of the
record's `as_of` day, whatever the row shows: the real first name even where the row has a
nickname, initials or a typo; the address, phone and newsletter choice the person had on
`as_of` (a record not updated since the person moved shows, and is true to, the old address).
Forms: first_name / last_name as the person writes them, infix (Dutch tussenvoegsel) separate
and null when none (Belgian "Van Damme" keeps the particle in last_name), email lower case,
phone E.164, house_number digits, house_number_suffix upper case without separator ("A", "1",
"HS", "BIS"; null when none), postcode NL `1234 AB` / BE `1000` / SE `123 45`, country ISO
alpha-2, birth_date a date, newsletter_opt_in a boolean.

`<field>_dirt` says why a perfect normalizer still cannot produce the true value from the row:
`missing` (empty or a missing marker), `typo`, `nickname`, `initials`; null when the row carries
the value, however it is formatted (case, spaces, phone or postcode style, country name, infix
glued to the surname, ...). Normalizer accuracy is therefore fairly measured on rows where the
flag is null; for missing fields the expected output is null.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.demo.dirt import DIRT_CODES
from pipelines.demo.population import date_of
from pipelines.demo.sources import BROKEN_REASONS, TRUTH_FIELDS, Context, Rendered, country_codes

PHONE_TYPES: tuple[str | None, ...] = (None, "mobile", "fixed_line")


def _constant(value: str, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int8)), pa.array([value]))


def _codes(codes: np.ndarray, labels: tuple[str | None, ...]) -> pa.Array:
    return pa.array(list(labels), pa.string()).take(pa.array(codes)).dictionary_encode()


def _null_if_empty(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def truth_table(ctx: Context, rendered: Rendered, file_name: str) -> pa.Table:
    people, records, values = ctx.people, ctx.records, ctx.values
    person = records.person
    n = len(records)
    twin_of = people.twin_of[person]
    address = values.address
    phone_present = values.phone.present
    columns: dict[str, pa.Array] = {
        "source": _constant(records.source, n),
        "file_name": _constant(file_name, n),
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
        "email": people.email.take(pa.array(person)),
        "phone": values.phone.e164(),
        "phone_type": _codes(np.where(phone_present, np.where(values.phone_is_landline, 2, 1), 0), PHONE_TYPES),
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
    return pa.table(columns)
