"""Demo order lines for the demo people: a webshop export of the last three years.

Consistent with the people of the same (people, seed, day): a buyer refers to their webshop
record (`klantnummer`, the webshop's `source_record_id`), or only gives an email (a guest
checkout, 15% of orders). Seasonality: November and December sell most, summer least. 6% of
lines are returned, 2% cancelled; a quarter of buyers stopped buying over a year ago
(`inactive`); 2% of lines belong to people the CRM and webshop do not know. Swedish people pay
in SEK. Everything is drawn per key (no Python loop per row), so a call is reproducible.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.demo.csvfile import encode_lines, header_line, join_fields, write_atomic
from pipelines.demo.hashing import Draws
from pipelines.demo.population import EPOCH, People
from pipelines.demo.records import Records

HEADER = [
    "ordernummer",
    "klantnummer",
    "email",
    "besteldatum",
    "bedrag",
    "valuta",
    "product",
    "categorie",
    "aantal",
    "status",
]
# The columns mapping of an orders source reading this file (sources.yaml, `kind: orders`).
COLUMNS = {
    "order_id": "ordernummer",
    "source_record_id": "klantnummer",
    "email": "email",
    "ordered_at": "besteldatum",
    "amount": "bedrag",
    "currency": "valuta",
    "product_id": "product",
    "category": "categorie",
    "quantity": "aantal",
    "status": "status",
}
CATEGORIES = ("schoenen", "tassen", "jassen", "jurken", "overhemden", "accessoires", "sport")
# Relative sales per month, January first.
SEASON = (0.8, 0.7, 0.8, 0.9, 0.9, 0.7, 0.6, 0.7, 0.9, 1.0, 1.6, 1.9)
BUYER_SHARE = 0.7
INACTIVE_SHARE = 0.25
GUEST_SHARE = 0.15
UNKNOWN_SHARE = 0.02
YEARS = 3


def order_lines(draws: Draws, people: People, webshop: Records, day: dt.date) -> pa.Table:
    """One row per order line, all text, in the columns of `HEADER`, sorted by order id."""
    main = webshop.copy == 0
    person, record_id = webshop.person[main], webshop.record_id.filter(pa.array(main))
    key = draws.key(people.pid[person], 7)
    buyer = draws.chance(key, "order.buyer", BUYER_SHARE)
    person, record_id, key = person[buyer], record_id.filter(pa.array(buyer)), key[buyer]
    inactive = draws.chance(key, "order.inactive", INACTIVE_SHARE)
    n_orders = draws.between(key, "order.count", 1, 6)
    owner = np.repeat(np.arange(len(person)), n_orders)
    nth = np.arange(len(owner)) - np.repeat(np.cumsum(n_orders) - n_orders, n_orders)
    okey = draws.key(key[owner], nth)
    # A day within the last YEARS years, weighted by month; inactive buyers stopped a year ago.
    today = (day - EPOCH).days
    month = draws.pick(okey, "order.month", SEASON)
    year_back = draws.below(okey, "order.year", YEARS)
    first_of_month = np.array(
        [
            (dt.date(day.year - y, m + 1, 1) - EPOCH).days
            for y in range(YEARS + 1)
            for m in range(12)
        ]
    ).reshape(YEARS + 1, 12)
    order_day = first_of_month[year_back, month] + draws.below(okey, "order.dom", 28)
    order_day = np.where(order_day > today, order_day - 365, order_day)
    order_day = np.where(inactive[owner] & (order_day > today - 400), order_day - 400, order_day)
    n_lines = draws.between(okey, "order.lines", 1, 3)
    o = np.repeat(np.arange(len(okey)), n_lines)
    line_no = np.arange(len(o)) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines)
    lkey = draws.key(okey[o], line_no)
    p = person[owner[o]]
    sek = people.country[p] == 2
    cents = draws.between(lkey, "order.amount", 500, 25000) * np.where(sek, 11, 1)
    amount = pc.binary_join_element_wise(
        pa.array(cents // 100).cast(pa.string()),
        pc.utf8_lpad(pa.array(cents % 100).cast(pa.string()), 2, "0"),
        ",",
    )
    status_pick = draws.pick(lkey, "order.status", (0.92, 0.06, 0.02))
    status = pa.array(np.array(["", "retour", "geannuleerd"])[status_pick])
    unknown = draws.chance(lkey, "order.unknown", UNKNOWN_SHARE)
    guest = draws.chance(okey[o], "order.guest", GUEST_SHARE) | unknown
    rid = pa.array(
        np.where(guest, "", np.asarray(record_id.take(pa.array(owner[o])), dtype=object))
    )
    email = np.asarray(people.email.take(pa.array(p)), dtype=object)
    stranger = np.char.add("gast", (lkey % 100000).astype(str)).astype(object) + "@example.com"
    email = np.where(unknown, stranger, np.where(guest, email, ""))
    order_id = pc.binary_join_element_wise(
        "WO", pc.utf8_lpad(pa.array(okey[o] % 10**10).cast(pa.string()), 10, "0"), ""
    )
    dates = (np.datetime64(EPOCH.isoformat(), "D") + order_day[o]).astype(str)
    table = pa.table(
        {
            "ordernummer": order_id,
            "klantnummer": rid,
            "email": pa.array(email, pa.string()),
            "besteldatum": pa.array(dates),
            "bedrag": amount,
            "valuta": pa.array(np.where(sek, "SEK", "EUR")),
            "product": pa.array(np.char.add("P", (lkey % 900 + 100).astype(str))),
            "categorie": pa.array(
                np.array(CATEGORIES)[draws.below(lkey, "order.cat", len(CATEGORIES))]
            ),
            "aantal": pa.array(draws.between(lkey, "order.qty", 1, 3).astype(str)),
            "status": status,
        }
    )
    return table.sort_by([("ordernummer", "ascending"), ("product", "ascending")])


ACTIVITY_FILES = {
    "orders": "bestellingen_{:%Y%m%d}.csv",
    "mailplatform": "events_{:%Y%m%d}.csv",
}


def write_activity_drops(draws: Draws, people: People, inbox: Path, day: dt.date) -> dict:
    """Write the day's orders and engagement drops; returns source -> (path, rows)."""
    from pipelines.demo.engagement import HEADER as EVENT_HEADER
    from pipelines.demo.engagement import engagement_events
    from pipelines.demo.records import build_records

    tables = {
        "orders": (
            order_lines(draws, people, build_records(draws, people, "webshop"), day),
            HEADER,
        ),
        "mailplatform": (engagement_events(draws, people, day), EVENT_HEADER),
    }
    out = {}
    for source, (table, header) in tables.items():
        lines = join_fields([table[h].combine_chunks() for h in header], ";", False)
        data = encode_lines(
            header_line(header, ";", False), lines, eol="\n", encoding="utf-8", bom=False
        )
        path = inbox / source / ACTIVITY_FILES[source].format(day)
        write_atomic(path, data)
        out[source] = (path, table.num_rows)
    return out
