"""Load an engagement drop: the email platform's event export (sent, delivered, open, click,
bounce, unsubscribe, complaint), one event per line.

`load_engagement` reads a staged relation of raw text columns (`line_number` plus any of
`ENGAGEMENT_FIELDS`) into `engagement_events`, in DuckDB SQL. The event text is mapped by the
source's `event_values`, then `activity.event_values`, then common words (those of the
suppressions kind included); a plain `bounce` is `activity.bounce_means`. Rejected: an unknown
event, a line without email, a time that does not parse. A line without a time takes the
campaign's send time, else the file's export time. The same event (source, campaign, email,
event, time) delivered again is kept once.

Bounces, unsubscribes and complaints also go into `suppression_events` through
`record_suppression_events`, the path of the suppressions kind, so the suppression rules treat
them exactly alike.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from pipelines.activity.attach import email_customers
from pipelines.activity.parse import parse_timestamps, staged_columns
from pipelines.config import ActivityRules
from pipelines.fields import ENGAGEMENT_EVENTS, ENGAGEMENT_FIELDS
from pipelines.ingest.load import finish_load
from pipelines.normalize.dates import date_formats
from pipelines.privacy.addresses import normalize_address_columns
from pipelines.privacy.events import (
    EVENT_KEY_SQL,
    EVENT_WORDS,
    event_key,
    raw_line_sql,
    record_suppression_events,
)
from pipelines.quality.metrics import record_drop_figures
from pipelines.warehouse import transaction

SUPPRESSING_EVENTS = ("hard_bounce", "soft_bounce", "unsubscribe", "complaint")
ENGAGEMENT_WORDS: dict[str, tuple[str, ...]] = {
    "sent": ("sent", "send", "verzonden", "skickat", "skickad", "processed"),
    "delivered": ("delivered", "delivery", "afgeleverd", "bezorgd", "levererad"),
    "open": ("open", "opened", "opens", "geopend", "öppnad", "oppnad", "view"),
    "click": ("click", "clicked", "clicks", "geklikt", "klick", "klickad"),
}


def engagement_words(event_values: dict[str, str], rules: ActivityRules) -> list[tuple[str, str]]:
    """(key, event) pairs: the source's mapping wins over the config's, which wins over words."""
    words = {event_key(w): e for e, ws in ENGAGEMENT_WORDS.items() for w in ws}
    words.update(
        {event_key(w): e for e, ws in EVENT_WORDS.items() if e in ENGAGEMENT_EVENTS for w in ws}
    )
    words.update({event_key(w): rules.bounce_means for w in ("bounce", "bounced", "bounces")})
    words.update({event_key(e): e for e in ENGAGEMENT_EVENTS})
    words.update({event_key(raw): e for raw, e in rules.event_values.items()})
    words.update({event_key(raw): e for raw, e in event_values.items()})
    return sorted(words.items())


def load_engagement(
    con: duckdb.DuckDBPyConnection,
    *,
    staged_table: str,
    file_id: str,
    source_name: str,
    rules: ActivityRules,
    event_values: dict[str, str] | None = None,
    date_format: str = "%Y-%m-%d",
    datetime_format: str | None = None,
    file_time: dt.datetime | None = None,
    today: dt.date | None = None,
) -> dict:
    """Staged events -> `engagement_events` (+ `suppression_events`) or `rejected_rows`."""
    today = today or dt.date.today()
    mapped = staged_columns(con, staged_table)
    missing = {"email", "event"} - mapped
    if missing:
        raise ValueError(f"{source_name}: an engagement drop needs the fields email and event")
    row = con.execute(
        "SELECT coalesce(exported_at, remote_mtime, landed_at), delimiter FROM ingest_log "
        "WHERE file_id = ?",
        [file_id],
    ).fetchone()
    delimiter = (row[1] if row else None) or ","
    if file_time is None:
        file_time = (row[0] if row else None) or dt.datetime.combine(today, dt.time())

    def col(name: str) -> str:
        return f'd."{name}"' if name in mapped else "NULL::VARCHAR"

    formats = date_formats(date_format, datetime_format, timestamp=True)
    known = ", ".join(ENGAGEMENT_EVENTS)
    with transaction(con):
        normalize_address_columns(
            con, table=staged_table, email_column="email", phone_column=None, region_sql="'NL'"
        )
        parse_timestamps(
            con,
            inputs_sql=f"""SELECT {col("occurred_at")} FROM {staged_table} d
                           UNION SELECT {col("campaign_sent_at")} FROM {staged_table} d""",
            formats=formats,
            today=today,
            out="_eng_times",
        )
        con.execute("CREATE OR REPLACE TEMP TABLE _eng_words (word VARCHAR, event VARCHAR)")
        con.executemany(
            "INSERT INTO _eng_words VALUES (?, ?)", engagement_words(event_values or {}, rules)
        )
        email_customers(con)
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _eng_rows AS
            SELECT *, occurred_at AS "at", campaign_id AS campaign FROM (
            SELECT d.line_number, nullif(trim({col("campaign_id")}), '') AS campaign_id,
                   s.value AS campaign_sent_at, e.email, NULL::VARCHAR AS phone, w.event,
                   {col("event")} AS event_raw,
                   coalesce(t.value, CASE WHEN t.raw IS NULL OR t.status = 'missing'
                                          THEN coalesce(s.value, CAST(? AS TIMESTAMP)) END) AS
                                              occurred_at,
                   CASE WHEN t.raw IS NULL THEN 'missing' ELSE t.status END AS occurred_at_status,
                   CASE WHEN w.event IS NULL
                            THEN 'unknown event ''' || coalesce({col("event")}, '') ||
                                ''' in field event; known: {known} (or map it in event_values)'
                        WHEN e.email IS NULL THEN 'no email address'
                        WHEN t.raw IS NOT NULL AND t.status <> 'missing' AND t.value IS NULL
                            THEN 'invalid time in field occurred_at: ' || coalesce(t.reason,
                                'not a date')
                   END AS reason,
                   CASE WHEN w.event IS NULL THEN 'event' WHEN e.email IS NULL THEN 'email'
                        ELSE 'occurred_at' END AS field,
                   {raw_line_sql("d", sorted(mapped & set(ENGAGEMENT_FIELDS)), delimiter)}
                       AS raw_line
            FROM {staged_table} d
            LEFT JOIN _email_keys e ON e.raw = {col("email")}
            LEFT JOIN _eng_times t ON t.raw = {col("occurred_at")}
            LEFT JOIN _eng_times s ON s.raw = {col("campaign_sent_at")}
            LEFT JOIN _eng_words w ON w.word = {EVENT_KEY_SQL.format(col("event"))}
            ) r
            """,
            [file_time],
        )
        con.execute(
            """INSERT INTO customer_metrics_dirty
               SELECT DISTINCT customer_id, now() FROM engagement_events
               WHERE file_id = ? AND customer_id IS NOT NULL""",
            [file_id],
        )
        con.execute("DELETE FROM engagement_events WHERE file_id = ?", [file_id])
        con.execute(
            """
            INSERT INTO engagement_events BY NAME
            SELECT ? AS source, ? AS file_id, min(r.line_number) AS line_number, r.campaign_id,
                   min(r.campaign_sent_at) AS campaign_sent_at, r.email, r.event,
                   min(r.event_raw) AS event_raw, r."at" AS occurred_at,
                   min(r.occurred_at_status) AS occurred_at_status,
                   min(ec.customer_id) AS customer_id, now() AS loaded_at
            FROM _eng_rows r LEFT JOIN _email_customer ec ON ec.email = r.email
            WHERE r.reason IS NULL AND NOT EXISTS (
                SELECT 1 FROM engagement_events x
                WHERE x.source = ? AND x.email = r.email AND x.event = r.event
                  AND x.occurred_at = r."at" AND x.campaign_id IS NOT DISTINCT FROM r.campaign_id)
            GROUP BY r.campaign_id, r.email, r.event, r."at"
            """,
            [source_name, file_id, source_name],
        )
        suppressing = ", ".join(f"'{e}'" for e in SUPPRESSING_EVENTS)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _eng_sup AS SELECT * FROM _eng_rows "
            f"WHERE event IN ({suppressing})"
        )
        record_suppression_events(con, rows="_eng_sup", source_name=source_name, file_id=file_id)
        con.execute(
            """INSERT INTO rejected_rows (file_id, source, line_number, raw_line, reason,
                field, rejected_at)
               SELECT ?, ?, line_number, raw_line, reason, field, now() FROM _eng_rows WHERE
                   reason IS NOT NULL""",
            [file_id, source_name],
        )
        con.execute(
            """INSERT INTO customer_metrics_dirty
               SELECT DISTINCT customer_id, now() FROM engagement_events
               WHERE file_id = ? AND customer_id IS NOT NULL""",
            [file_id],
        )
        by_event = dict(
            con.execute(
                "SELECT event, count(*) FROM _eng_rows WHERE reason IS NULL GROUP BY event"
            ).fetchall()
        )
        loaded, rejected = con.execute(
            "SELECT count(*) FILTER (WHERE reason IS NULL), "
            "count(*) FILTER (WHERE reason IS NOT NULL) FROM _eng_rows"
        ).fetchone()
        (unmatched,) = con.execute(
            "SELECT count(*) FROM engagement_events WHERE file_id = ? AND customer_id IS NULL",
            [file_id],
        ).fetchone()
        (kept,) = con.execute(
            "SELECT count(*) FROM engagement_events WHERE file_id = ?", [file_id]
        ).fetchone()
        fill_campaign, fill_time = con.execute(
            """SELECT avg(CASE WHEN campaign_id IS NULL THEN 0.0 ELSE 1.0 END),
                      avg(CASE WHEN occurred_at_status = 'missing' THEN 0.0 ELSE 1.0 END)
               FROM _eng_rows WHERE reason IS NULL"""
        ).fetchone()
        record_drop_figures(
            con,
            load_id=file_id,
            source=source_name,
            figures=[
                ("fill_rate", "campaign_id", fill_campaign),
                ("fill_rate", "occurred_at", fill_time),
            ],
        )
        finish_load(con, file_id, rejected=rejected)
        for t in (
            "_eng_rows",
            "_eng_sup",
            "_eng_times",
            "_eng_words",
            "_email_keys",
            "_phone_keys",
            "_email_customer",
        ):
            con.execute(f"DROP TABLE IF EXISTS {t}")
    return {
        "events_loaded": loaded,
        "events_new": kept,
        "rows_rejected_at_load": rejected,
        "events_unmatched": unmatched,
        "unmatched_share": unmatched / kept if kept else 0.0,
        **{f"events_{e}": by_event.get(e, 0) for e in ENGAGEMENT_EVENTS},
    }
