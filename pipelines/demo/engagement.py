"""Demo engagement events for the demo people: a newsletter every two weeks over the last year.

Every person with an email address gets each campaign (`delivered`, or a bounce for 0.5%);
    engaged people (45%) open half of them and click a third of those, lukewarm people
(30%) open one in ten, and the rest (25%) never open: the inactive share. 0.2% unsubscribe per
campaign, 0.05% complain; 1% of the lines are for addresses nobody knows. Drawn per key, so a
call is reproducible.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.demo.hashing import Draws
from pipelines.demo.population import People

HEADER = ["campagne", "verzonden_op", "email", "gebeurtenis", "tijdstip"]
# The columns mapping of an engagement source reading this file (`kind: engagement`).
COLUMNS = {
    "campaign_id": "campagne",
    "campaign_sent_at": "verzonden_op",
    "email": "email",
    "event": "gebeurtenis",
    "occurred_at": "tijdstip",
}
CAMPAIGNS = 26
INTERVAL_DAYS = 14
OPEN_RATE = (0.5, 0.1, 0.0)  # engaged, lukewarm, inactive
TYPE_SHARE = (0.45, 0.30, 0.25)
CLICK_SHARE = 0.33
UNKNOWN_SHARE = 0.01


def engagement_events(draws: Draws, people: People, day: dt.date) -> pa.Table:
    """One row per event, all text, in the columns of `HEADER`, sorted by campaign and time."""
    has_email = np.asarray(pc.not_equal(people.email, "").fill_null(False))
    who = np.flatnonzero(has_email)
    kind = draws.pick(draws.key(people.pid[who], 11), "mail.type", TYPE_SHARE)
    c = np.arange(CAMPAIGNS)
    p = np.repeat(who, CAMPAIGNS)
    camp = np.tile(c, len(who))
    key = draws.key(people.pid[p], camp, 13)
    sent_at = (
        np.datetime64(day.isoformat(), "s")
        - np.timedelta64(INTERVAL_DAYS * 86400, "s") * (CAMPAIGNS - camp)
        + np.timedelta64(9 * 3600, "s")
    )
    bounce = draws.chance(key, "mail.bounce", 0.005)
    opened = ~bounce & draws.chance(
        key, "mail.open", np.array(OPEN_RATE)[np.repeat(kind, CAMPAIGNS)]
    )
    clicked = opened & draws.chance(key, "mail.click", CLICK_SHARE)
    unsub = ~bounce & draws.chance(key, "mail.unsub", 0.002)
    complaint = ~bounce & draws.chance(key, "mail.spam", 0.0005)
    email = np.asarray(people.email.take(pa.array(p)), dtype=object)
    unknown = draws.chance(key, "mail.unknown", UNKNOWN_SHARE)
    email = np.where(
        unknown, "onbekend" + (key % 100000).astype(str).astype(object) + "@example.org", email
    )
    minutes = draws.between(key, "mail.delay", 5, 2880)
    parts = []
    for event, mask, delay in (
        ("delivered", ~bounce, 1),
        ("bounce", bounce, 1),
        ("open", opened, minutes),
        ("click", clicked, minutes + 2),
        ("unsubscribe", unsub, minutes + 3),
        ("spam", complaint, minutes + 4),
    ):
        at = sent_at[mask] + np.timedelta64(60, "s") * (delay[mask] if np.ndim(delay) else delay)
        parts.append(
            pa.table(
                {
                    "campagne": pa.array(np.char.add("NB", camp[mask].astype(str))),
                    "verzonden_op": pa.array(np.datetime_as_string(sent_at[mask], unit="m")),
                    "email": pa.array(email[mask], pa.string()),
                    "gebeurtenis": pa.array(np.full(int(mask.sum()), event)),
                    "tijdstip": pa.array(np.datetime_as_string(at, unit="m")),
                }
            )
        )
    table = pa.concat_tables(parts)
    for col in ("verzonden_op", "tijdstip"):  # 2026-05-01T09:00 -> 2026-05-01 09:00
        i = table.schema.get_field_index(col)
        table = table.set_column(i, col, pc.replace_substring(table[col], "T", " "))
    return table.sort_by([("campagne", "ascending"), ("tijdstip", "ascending")])
