"""The people behind the drops: households, hard negatives, and how their details change over time.

Person ids are consecutive integers. On a given day the population is the window of `people`
ids starting at `window_start(day)`: each day about 0.3% newcomers join at the top and as many
of the oldest customers leave. Everything about a person is a keyed draw on their id (see
`hashing.py`), so the same person looks the same in the drop of every day, except for what
changed in between:

- households: ids come in blocks of 8; a person may join the previous person's household (same
  surname, address and landline). Within a household some are twins (same birth date) and some
  share one e-mail address. Some heads carry the group's very common name (Jan de Vries).
- changes over time: a change of kind k happens every `period` days at a per-person phase, so
  the state on day d is a pure function of d: the address version is `(d + phase) // period`.
  Households of movers move, mobile numbers change, newsletter consent is toggled by some
  people, buyers buy again.
- e-mail: some people had an address at a mail provider that has since closed (hetnet.nl,
  zonnet.nl, skynet.be, swipnet.se, ...) until a fixed switch day; records last updated before
  it still show the old address.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.demo.hashing import Draws
from pipelines.demo.phones import Phones, make_phones
from pipelines.demo.pools import (
    COUNTRIES,
    GROUP_COUNTRY,
    GROUP_SHARE,
    GROUPS,
    NAMESAKES,
    Pools,
    Segments,
)

EPOCH = dt.date(2000, 1, 1)
DAILY_TURNOVER = 0.003  # share of the population that joins (and leaves) per day
HOUSEHOLD_BLOCK = 8  # every 8th id starts a new household
MEMBER_SHARE = 0.15  # chance to join the previous person's household
TWIN_SHARE = 0.06  # of household members: twin of the previous person
SHARED_EMAIL_SHARE = 0.12  # of household members: uses the previous person's e-mail address
NAMESAKE_SHARE = 0.01  # of household heads: the group's very common name (Jan de Vries, ...)
BIRTH_RANGE = (dt.date(1935, 1, 1), dt.date(2006, 12, 31))

NEVER = 10**9  # period of a change that does not happen
MOVER_SHARE, MOVE_PERIOD = 0.25, (300, 1500)
MOBILE_SHARE, MOBILE_PERIOD = 0.90, (900, 6000)
LANDLINE_SHARE = np.array([0.40, 0.45, 0.40, 0.30])  # per group
NEWSLETTER_SHARE, TOGGLER_SHARE, TOGGLE_PERIOD = 0.45, 0.12, (120, 900)
CONFIRM_PERIOD = 4000  # non-togglers: the opt-in confirmation date, refreshed rarely
BUYER_SHARE, PURCHASE_PERIOD = 0.85, (10, 400)
# Owners of an address who used to have one at a mail provider that has since closed (hetnet.nl,
# skynet.be, swipnet.se, ...), and the span of days in which they switched to today's address.
# The span ends well before 2025 so that main records show the current address and the old one
# survives in older duplicates.
OLD_ISP_SHARE = np.array([0.30, 0.25, 0.20])  # NL, BE, SE
OLD_ISP_SWITCH = (dt.date(2017, 1, 1), dt.date(2023, 6, 30))

# House number suffixes per country (canonical form: upper case, no separator) and weights.
SUFFIX_SHARE = np.array([0.15, 0.06, 0.08])  # NL, BE, SE
SUFFIXES = {
    "NL": (("A", 30), ("B", 20), ("C", 5), ("1", 15), ("2", 10), ("3", 5), ("HS", 15)),
    "BE": (("A", 45), ("B", 30), ("BIS", 25)),
    "SE": (("A", 50), ("B", 35), ("C", 15)),
}
# Dutch postcode letters: no F, I, O, Q, U, Y, and never SA, SD or SS.
_NL_LETTERS = "ABCDEGHJKLMNPRSTVWXZ"
NL_LETTER_PAIRS = tuple(
    a + b for a in _NL_LETTERS for b in _NL_LETTERS if a + b not in ("SA", "SD", "SS")
)

# E-mail local-part patterns: (first part, separator, second part, digits) and weight.
# parts: 0 first name, 1 initial, 2 surname, 3 nothing; digits: 0 none, 1 two digits, 2 birth year,
# 3 three digits, 4 two-digit birth year.
EMAIL_PATTERNS = (
    ((0, ".", 2, 0), 22),
    ((0, "", 2, 0), 10),
    ((1, ".", 2, 0), 8),
    ((0, "_", 2, 0), 4),
    ((0, ".", 2, 1), 12),
    ((0, "", 3, 2), 8),
    ((0, "", 2, 3), 10),
    ((1, "", 2, 1), 8),
    ((2, ".", 0, 0), 6),
    ((0, "", 2, 4), 12),
)


def day_number(day: dt.date) -> int:
    """Days since EPOCH: the integer time axis of every timeline."""
    return (day - EPOCH).days


def date_of(number: np.ndarray) -> np.ndarray:
    """Day numbers back to numpy datetime64[D]."""
    return np.datetime64(EPOCH.isoformat(), "D") + number.astype("timedelta64[D]")


def window_start(day: int, people: int) -> int:
    return int(DAILY_TURNOVER * people * max(day, 0))


@dataclass(frozen=True)
class Addresses:
    """Canonical addresses: NL postcode `1234 AB`, BE `1000`, SE `123 45`; suffix "" when none."""

    version: np.ndarray
    street_index: np.ndarray  # index into pools.streets
    locality: np.ndarray  # index into pools.localities
    street: pa.Array
    house_number: np.ndarray
    suffix: pa.Array
    postcode: pa.Array
    city: pa.Array


@dataclass(frozen=True)
class Newsletter:
    opt_in: np.ndarray
    confirmed_day: np.ndarray  # day number of the latest opt-in (valid where opt_in)
    confirmed_second: np.ndarray  # second of that day


@dataclass
class People:
    """The population of one day; arrays are aligned, one element per person."""

    draws: Draws
    pools: Pools
    day: int
    pid: np.ndarray
    household: np.ndarray  # pid of the household's first person
    group: np.ndarray  # index into pools.GROUPS
    country: np.ndarray  # index into pools.COUNTRIES
    gender: np.ndarray  # 0 male, 1 female
    first: np.ndarray  # flat index into pools.first
    last: np.ndarray  # flat index into pools.last (the household's surname)
    birth: np.ndarray  # day number
    email: pa.Array  # lower case: the address the person has today
    email_owner: np.ndarray  # pid whose address it is (differs for a shared family address)
    old_email: pa.Array  # the address at a closed provider used before `email_switch`; "" if none
    email_switch: np.ndarray  # day number from which `email` is used (0 when there was no old one)
    twin_of: np.ndarray  # pid of the twin born just before, -1 if none
    namesake: np.ndarray  # carries the group's very common name
    has_mobile: np.ndarray
    has_landline: np.ndarray

    def __len__(self) -> int:
        return len(self.pid)

    # --- timelines: the state of person `index` on day `day` (arrays of equal length) --------

    def _timeline(self, key: np.ndarray, name: str, share: float, period: tuple[int, int]):
        """(period, phase) of a recurring change; period NEVER for people it does not happen to."""
        changes = self.draws.chance(key, f"{name}.changes", share)
        length = np.where(changes, self.draws.between(key, f"{name}.period", *period), NEVER)
        phase = np.where(changes, self.draws.below(key, f"{name}.phase", length), 0)
        return length, phase

    def address_at(self, index: np.ndarray, day: np.ndarray) -> Addresses:
        household = self.household[index]
        period, phase = self._timeline(self.draws.key(household), "move", MOVER_SHARE, MOVE_PERIOD)
        version = (day + phase) // period
        return make_addresses(
            self.draws,
            self.pools,
            self.draws.key(household, version, 3),
            self.group[index],
            version,
        )

    def email_at(self, index: np.ndarray, day: np.ndarray) -> tuple[pa.Array, np.ndarray]:
        """(address on `day`, True where that is the old address at a closed provider)."""
        old = day < self.email_switch[index]
        email = self.email.take(pa.array(index))
        if old.any():
            email = pc.replace_with_mask(
                email, pa.array(old), self.old_email.take(pa.array(index[old]))
            )
        return email, old

    def mobile_at(self, index: np.ndarray, day: np.ndarray) -> Phones:
        pid = self.pid[index]
        period, phase = self._timeline(self.draws.key(pid), "mobile", 1.0, MOBILE_PERIOD)
        key = self.draws.key(pid, (day + phase) // period, 1)
        return make_phones(
            self.draws, key, self.country[index], self.has_mobile[index], mobile=True
        )

    def landline_at(self, index: np.ndarray, day: np.ndarray) -> Phones:
        """A household's landline; it changes when the household moves."""
        household = self.household[index]
        period, phase = self._timeline(self.draws.key(household), "move", MOVER_SHARE, MOVE_PERIOD)
        key = self.draws.key(household, (day + phase) // period, 2)
        return make_phones(
            self.draws, key, self.country[index], self.has_landline[index], mobile=False
        )

    def newsletter_at(self, index: np.ndarray, day: np.ndarray) -> Newsletter:
        key = self.draws.key(self.pid[index])
        base = self.draws.chance(key, "newsletter.base", NEWSLETTER_SHARE)
        period, phase = self._timeline(key, "newsletter", TOGGLER_SHARE, TOGGLE_PERIOD)
        toggles = (day + phase) // period
        opt_in = base ^ (toggles % 2 == 1)
        toggler = period < NEVER
        confirm_phase = self.draws.below(key, "newsletter.confirm", CONFIRM_PERIOD)
        confirmed = np.where(
            toggler, day - (day + phase) % period, day - (day + confirm_phase) % CONFIRM_PERIOD
        )
        second = self.draws.between(
            self.draws.key(self.pid[index], confirmed), "newsletter.second", 6 * 3600, 23 * 3600
        )
        return Newsletter(opt_in=opt_in, confirmed_day=confirmed, confirmed_second=second)

    def last_purchase_at(
        self, index: np.ndarray, day: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(has bought, day number, second of day) of the latest purchase on or before `day`."""
        key = self.draws.key(self.pid[index])
        period, phase = self._timeline(key, "purchase", BUYER_SHARE, PURCHASE_PERIOD)
        buyer = period < NEVER
        last = day - (day + phase) % np.where(buyer, period, 1)
        second = self.draws.between(
            self.draws.key(self.pid[index], last), "purchase.second", 7 * 3600, 23 * 3600 + 3599
        )
        return buyer, last, second


def make_addresses(
    draws: Draws, pools: Pools, key: np.ndarray, group: np.ndarray, version: np.ndarray
) -> Addresses:
    """One address per key: a street of the group, a city of the country, a postcode of the
    city."""
    country = GROUP_COUNTRY[group]
    street_index = pools.street_segments.index(group, draws.uniform(key, "address.street"))
    street = pools.streets.take(pa.array(street_index))
    locality = pools.localities.segments.index(country, draws.uniform(key, "address.city"))
    house_number = 1 + (draws.uniform(key, "address.number") ** 2.2 * 250).astype(np.int64)

    suffix_values = [s for c in COUNTRIES for s, _ in SUFFIXES[c]]
    suffix_weights = [w for c in COUNTRIES for _, w in SUFFIXES[c]]
    suffix_segments = Segments.of([len(SUFFIXES[c]) for c in COUNTRIES])
    has_suffix = draws.chance(key, "address.has_suffix", SUFFIX_SHARE[country])
    suffix_index = np.zeros(len(key), dtype=np.int64)
    for c in range(len(COUNTRIES)):
        rows = country == c
        weights = suffix_weights[
            suffix_segments.start[c] : suffix_segments.start[c] + suffix_segments.size[c]
        ]
        suffix_index[rows] = suffix_segments.start[c] + draws.pick(
            key[rows], "address.suffix", weights
        )
    suffix = pc.if_else(
        pa.array(has_suffix), pa.array(suffix_values).take(pa.array(suffix_index)), ""
    )

    area = pa.array(pools.localities.postcode_area[locality]).cast(pa.string())
    letters = pa.array(NL_LETTER_PAIRS).take(
        pa.array(draws.below(key, "address.letters", len(NL_LETTER_PAIRS)))
    )
    digits = pc.utf8_lpad(
        pa.array(draws.below(key, "address.digits", 100)).cast(pa.string()), 2, "0"
    )
    postcode = pc.choose(
        pa.array(country),
        pc.binary_join_element_wise(area, letters, " "),
        area,
        pc.binary_join_element_wise(area, digits, " "),
    )
    return Addresses(
        version=version,
        street_index=street_index,
        locality=locality,
        street=street,
        house_number=house_number,
        suffix=suffix,
        postcode=postcode,
        city=pools.localities.city.take(pa.array(locality)),
    )


def _chain_source(starts_chain: np.ndarray) -> np.ndarray:
    """Position of the nearest element at or before each position where `starts_chain` is True."""
    position = np.arange(len(starts_chain))
    return np.maximum.accumulate(np.where(starts_chain, position, 0))


def _emails(
    draws: Draws,
    pools: Pools,
    key: np.ndarray,
    country: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    birth_year: np.ndarray,
    stream: str,
) -> pa.Array:
    f = pools.first.ascii.take(pa.array(first))
    initial = pc.utf8_slice_codeunits(f, 0, 1)
    surname = pc.if_else(
        pa.array(draws.chance(key, f"{stream}.surname", 0.7)),
        pools.last.ascii_full.take(pa.array(last)),
        pools.last.ascii_last.take(pa.array(last)),
    )
    pattern = draws.pick(key, f"{stream}.pattern", [w for _, w in EMAIL_PATTERNS])
    table = np.array([p for p, _ in EMAIL_PATTERNS], dtype=object)
    head_kind = table[pattern, 0].astype(np.int8)
    tail_kind = table[pattern, 2].astype(np.int8)
    digit_kind = table[pattern, 3].astype(np.int8)
    separator = pa.array(table[:, 1].astype(str)).take(pa.array(pattern))
    empty = pa.nulls(len(key), pa.string()).fill_null("")
    parts = (f, initial, surname, empty)
    year = pa.array(birth_year).cast(pa.string())
    two = pc.utf8_lpad(pa.array(draws.below(key, f"{stream}.two", 100)).cast(pa.string()), 2, "0")
    three = pa.array(draws.between(key, f"{stream}.three", 100, 999)).cast(pa.string())
    digits = pc.choose(
        pa.array(digit_kind), empty, two, year, three, pc.utf8_slice_codeunits(year, 2, 4)
    )
    domain = pools.domains.domain.take(
        pa.array(pools.domains.segments.index(country, draws.uniform(key, f"{stream}.domain")))
    )
    return pc.binary_join_element_wise(
        pc.choose(pa.array(head_kind), *parts),
        separator,
        pc.choose(pa.array(tail_kind), *parts),
        digits,
        "@",
        domain,
        "",
    )


def build_people(draws: Draws, pools: Pools, day: int, people: int) -> People:
    """The population on `day`: `people` consecutive ids, households resolved."""
    start = window_start(day, people)
    first_id = start - start % HOUSEHOLD_BLOCK  # compute whole household blocks, then cut
    pid = np.arange(first_id, start + people, dtype=np.int64)
    key = draws.key(pid)

    is_member = (pid % HOUSEHOLD_BLOCK != 0) & draws.chance(key, "member", MEMBER_SHARE)
    head_position = _chain_source(~is_member)
    household = pid[head_position]
    head_key = key[head_position]
    group = draws.pick(head_key, "group", GROUP_SHARE).astype(np.int8)
    country = GROUP_COUNTRY[group]
    namesake = ~is_member & draws.chance(key, "namesake", NAMESAKE_SHARE)

    gender = draws.below(key, "gender", 2).astype(np.int8)
    namesake_gender = np.array([0 if NAMESAKES[g][1] == "M" else 1 for g in GROUPS], dtype=np.int8)
    gender = np.where(namesake, namesake_gender[group], gender).astype(np.int8)
    first = pools.first.segments.index(
        group.astype(np.int64) * 2 + gender, draws.uniform(key, "first")
    )
    first = np.where(namesake, pools.first.namesake[group], first)
    head_last = pools.last.segments.index(group, draws.uniform(head_key, "last"))
    head_last = np.where(namesake[head_position], pools.last.namesake[group], head_last)
    last = head_last

    birth_low, birth_high = day_number(BIRTH_RANGE[0]), day_number(BIRTH_RANGE[1])
    birth = draws.between(key, "birth", birth_low, birth_high)
    is_twin = is_member & draws.chance(key, "twin", TWIN_SHARE)
    twin_source = _chain_source(~is_twin)
    birth = birth[twin_source]
    twin_of = np.where(is_twin, pid - 1, -1)
    # Twins have different first names (the pool has repeats, so redraw until the name differs).
    names = pools.first.name
    for attempt in range(8):
        previous = np.concatenate([[0], first[:-1]])
        clash = is_twin & pc.equal(
            names.take(pa.array(first)), names.take(pa.array(previous))
        ).to_numpy(zero_copy_only=False)
        if not clash.any():
            break
        redraw = pools.first.segments.index(
            group[clash].astype(np.int64) * 2 + gender[clash],
            draws.uniform(key[clash], f"first.retry{attempt}"),
        )
        first[clash] = redraw

    shares_email = is_member & ~is_twin & draws.chance(key, "shared_email", SHARED_EMAIL_SHARE)
    owner_position = _chain_source(~shares_email)
    birth_year = date_of(birth).astype("datetime64[Y]").astype(np.int64) + 1970
    own_email = _emails(draws, pools, key, country, first, last, birth_year, "email")
    own_email = _unique_emails(draws, pools, key, country, first, last, own_email, owner_position)

    old_email, switch = _old_emails(draws, pools, key, country, own_email, owner_position)

    cut = slice(start - first_id, None)
    take = pa.array(owner_position[cut])
    return People(
        draws=draws,
        pools=pools,
        day=day,
        pid=pid[cut],
        household=household[cut],
        group=group[cut],
        country=country[cut],
        gender=gender[cut],
        first=first[cut],
        last=last[cut],
        birth=birth[cut],
        email=own_email.take(take),
        email_owner=pid[owner_position][cut],
        old_email=old_email.take(take),
        email_switch=switch[owner_position][cut],
        twin_of=twin_of[cut],
        namesake=namesake[cut],
        has_mobile=draws.chance(key, "has_mobile", MOBILE_SHARE)[cut],
        has_landline=draws.chance(head_key, "has_landline", LANDLINE_SHARE[group])[cut],
    )


def _old_emails(
    draws: Draws,
    pools: Pools,
    key: np.ndarray,
    country: np.ndarray,
    email: pa.Array,
    owner_position: np.ndarray,
) -> tuple[pa.Array, np.ndarray]:
    """Per person: the address at a closed provider they had before (same local part), and the
    day they switched. Only owners draw one; a clash between two owners gets digits appended."""
    owner = owner_position == np.arange(len(key))
    had = owner & draws.chance(key, "old_isp", OLD_ISP_SHARE[country])
    low, high = (day_number(d) for d in OLD_ISP_SWITCH)
    switch = np.where(had, draws.between(key, "old_isp.switch", low, high), 0)
    rows = np.flatnonzero(had)
    local = pc.list_element(pc.split_pattern(email.take(pa.array(rows)), "@"), 0)
    closed = pools.domains.closed.take(
        pa.array(
            pools.domains.closed_segments.index(
                country[rows], draws.uniform(key[rows], "old_isp.domain")
            )
        )
    )
    values = pc.binary_join_element_wise(local, closed, "@").to_numpy(zero_copy_only=False)
    clash = np.flatnonzero(pd.Series(values).duplicated(keep="first").to_numpy())
    if len(clash):
        digits = pa.array(draws.between(key[rows[clash]], "old_isp.digits", 10, 99)).cast(
            pa.string()
        )
        values = values.copy()
        values[clash] = pc.binary_join_element_wise(
            local.take(pa.array(clash)), digits, "@", closed.take(pa.array(clash)), ""
        ).to_numpy(zero_copy_only=False)
    empty = pa.array(np.full(len(key), "", dtype=object), pa.string())
    old = (
        pc.replace_with_mask(empty, pa.array(had), pa.array(values, pa.string()))
        if len(rows)
        else empty
    )
    return old, switch


def _unique_emails(draws, pools, key, country, first, last, email, owner_position) -> pa.Array:
    """Two different owners never get one address: later ids get a numbered variant."""
    owner_rows = np.flatnonzero(owner_position == np.arange(len(key)))
    for attempt in range(4):
        values = email.to_numpy(zero_copy_only=False)
        rows = owner_rows[pd.Series(values[owner_rows]).duplicated(keep="first").to_numpy()]
        if not len(rows):
            break
        k = key[rows]
        number = pa.array(draws.between(k, f"email.unique{attempt}", 1000, 999999)).cast(
            pa.string()
        )
        domain = pools.domains.domain.take(
            pa.array(pools.domains.segments.index(country[rows], draws.uniform(k, "email.domain")))
        )
        fresh = pc.binary_join_element_wise(
            pools.first.ascii.take(pa.array(first[rows])),
            ".",
            pools.last.ascii_last.take(pa.array(last[rows])),
            number,
            "@",
            domain,
            "",
        )
        values = values.copy()
        values[rows] = fresh.to_numpy(zero_copy_only=False)
        email = pa.array(values)
    return email
