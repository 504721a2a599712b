"""Which records each source holds, and the true values each record stands for.

About 40% of people are in both sources, 30% only in the CRM, 30% only in the webshop. Some
people have two or three records in one source (~8% in the CRM, ~4% in the webshop): older
duplicates that were created again instead of found.

A record is not refreshed every day: it reflects the person as of its last update (`as_of`),
which repeats every `period` days. The webshop refreshes often, the CRM seldom, and duplicates
hardly ever, so a record may show an address the person moved away from, an old mobile number
or an old newsletter choice. That is not dirt: it is what the person's details were on `as_of`,
and the ground truth says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.demo.hashing import Draws
from pipelines.demo.phones import Phones
from pipelines.demo.population import Addresses, Newsletter, People

SOURCES: tuple[str, ...] = ("crm", "webshop")
SOURCE_TAG = {"crm": 1, "webshop": 2}
# Share of people per presence: crm only, webshop only, both.
PRESENCE = (0.30, 0.30, 0.40)
# Weights of 1, 2 and 3 records for a person in the source.
COPIES = {"crm": (92, 6, 2), "webshop": (96, 3, 1)}
# Days between updates of a main record / of an older duplicate.
REFRESH_PERIOD = {"crm": ((30, 720), (600, 4000)), "webshop": ((5, 150), (300, 3000))}
# Chance that a record with both a mobile and a landline on file shows the landline.
LANDLINE_PREFERENCE = {"crm": 0.35, "webshop": 0.10}
BROKEN_SHARE = 0.001


@dataclass(frozen=True)
class Records:
    """The records of one source on one day, in file order (sorted by record id)."""

    source: str
    person: np.ndarray  # index into People
    copy: np.ndarray  # 0 = main record, 1..2 = duplicates
    key: np.ndarray  # stable per record across days
    record_id: pa.Array
    as_of: np.ndarray  # day number the values reflect
    broken: np.ndarray  # deliberately broken in today's file

    def __len__(self) -> int:
        return len(self.person)


@dataclass(frozen=True)
class Values:
    """The clean, canonical values one record stands for (the person as of `as_of`)."""

    address: Addresses
    email: pa.Array  # the person's own address on `as_of` (lower case)
    email_is_old: np.ndarray  # that address is at a closed provider (the person switched later)
    phone: Phones
    phone_is_landline: np.ndarray
    newsletter: Newsletter
    has_purchase: np.ndarray
    purchase_day: np.ndarray
    purchase_second: np.ndarray
    update_second: np.ndarray


def _permute(x: np.ndarray, bits: int, salt: int) -> np.ndarray:
    """A bijection of [0, 2**bits): distinct inputs give distinct, scattered outputs."""
    mask = np.uint64((1 << bits) - 1)
    with np.errstate(over="ignore"):
        v = x.astype(np.uint64) & mask
        v = (v * np.uint64(0x9E3779B1) + np.uint64(salt)) & mask
        v ^= v >> np.uint64(bits // 2)
        v = (v * np.uint64(0x85EBCA77)) & mask
        v ^= v >> np.uint64(bits // 3)
    return v


def presence(draws: Draws, people: People) -> np.ndarray:
    """0 crm only, 1 webshop only, 2 both."""
    return draws.pick(draws.key(people.pid), "presence", PRESENCE)


def build_records(draws: Draws, people: People, source: str) -> Records:
    where = presence(draws, people)
    in_source = where != (1 if source == "crm" else 0)
    person = np.flatnonzero(in_source)
    copies = 1 + draws.pick(draws.key(people.pid[person]), f"{source}.copies", COPIES[source])
    person = np.repeat(person, copies)
    run_start = np.repeat(np.cumsum(copies) - copies, copies)
    copy = np.arange(len(person)) - run_start

    pid = people.pid[person]
    key = draws.key(pid, copy, SOURCE_TAG[source])
    serial = _permute(pid * 4 + copy, 34, SOURCE_TAG[source])
    order = np.argsort(serial, kind="stable")
    person, copy, key, pid, serial = (
        person[order],
        copy[order],
        key[order],
        pid[order],
        serial[order],
    )
    digits = pa.array(serial).cast(pa.string())
    record_id = (
        digits
        if source == "crm"
        else pc.binary_join_element_wise("WS", pc.utf8_lpad(digits, 11, "0"), "")
    )

    main_period, old_period = REFRESH_PERIOD[source]
    period = np.where(
        copy == 0,
        draws.between(key, "refresh.main", *main_period),
        draws.between(key, "refresh.old", *old_period),
    )
    day = people.day
    as_of = day - (day + draws.below(key, "refresh.phase", period)) % period
    broken = draws.chance(draws.key(key, day), "broken", BROKEN_SHARE)
    return Records(
        source=source,
        person=person,
        copy=copy,
        key=key,
        record_id=record_id,
        as_of=as_of,
        broken=broken,
    )


def record_values(draws: Draws, people: People, records: Records) -> Values:
    index, as_of = records.person, records.as_of
    mobile = people.mobile_at(index, as_of)
    landline = people.landline_at(index, as_of)
    prefer_landline = draws.chance(
        records.key, "phone.landline", LANDLINE_PREFERENCE[records.source]
    )
    use_landline = landline.present & (~mobile.present | prefer_landline)
    choose = pa.array(use_landline)
    phone = Phones(
        present=mobile.present | landline.present,
        country=mobile.country,
        area=pc.if_else(choose, landline.area, mobile.area),
        subscriber=pc.if_else(choose, landline.subscriber, mobile.subscriber),
    )
    has_purchase, purchase_day, purchase_second = people.last_purchase_at(index, as_of)
    email, email_is_old = people.email_at(index, as_of)
    return Values(
        address=people.address_at(index, as_of),
        email=email,
        email_is_old=email_is_old,
        phone=phone,
        phone_is_landline=use_landline,
        newsletter=people.newsletter_at(index, as_of),
        has_purchase=has_purchase,
        purchase_day=purchase_day,
        purchase_second=purchase_second,
        update_second=draws.between(
            draws.key(records.key, as_of), "update.second", 6 * 3600, 23 * 3600 + 3599
        ),
    )
