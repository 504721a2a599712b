"""Load suppression drops: unsubscribes, bounces and complaints of the email platform.

`load_suppression_drop` is the loader of the `suppressions` kind (pipelines/kinds). It keeps the
ingest promise: every staged row is loaded or rejected with a reason, so rows_read = rows_loaded
+ rows_rejected still holds in `ingest_log`.

Suppression drops: one event per line, with an email and/or a phone, the event and its time.
The event text is mapped by the source's `event_values` first, then by common words
(`Unsubscribed`, `hard bounce`, `spam`, `afgemeld`, ...). Rejected: an unknown event, a line
without email or phone, a time that does not parse. A line without a time takes the file's export
time.
"""

from __future__ import annotations

import re
from datetime import date
from functools import partial

import duckdb
import pyarrow as pa

from pipelines.config import Source, SourcesConfig
from pipelines.fields import SUPPRESSION_EVENTS
from pipelines.ingest.load import finish_load
from pipelines.ingest.stage import staged_view_sql
from pipelines.normalize.batch import Workers, map_distinct
from pipelines.normalize.dates import date_formats, normalize_date_args
from pipelines.privacy.addresses import normalize_address_columns
from pipelines.warehouse import sql_literal, transaction

# Common words for the canonical events, compared without case, spaces, dots, dashes, underscores.
EVENT_WORDS: dict[str, tuple[str, ...]] = {
    "unsubscribe": (
        "unsubscribe",
        "unsubscribed",
        "unsub",
        "optout",
        "optedout",
        "afgemeld",
        "afmelding",
        "uitgeschreven",
        "desinscrit",
        "avregistrerad",
        "avanmäld",
        "avanmalan",
        "avanmälan",
    ),
    "hard_bounce": (
        "hardbounce",
        "hard",
        "bouncehard",
        "hardbounced",
        "permanentbounce",
        "permanent",
    ),
    "soft_bounce": (
        "softbounce",
        "soft",
        "bouncesoft",
        "softbounced",
        "transientbounce",
        "temporarybounce",
        "transient",
    ),
    "complaint": (
        "complaint",
        "spam",
        "spamcomplaint",
        "spamreport",
        "abuse",
        "abusereport",
        "klacht",
        "markedasspam",
    ),
    "resubscribe": (
        "resubscribe",
        "resubscribed",
        "resub",
        "subscribe",
        "subscribed",
        "optin",
        "optedin",
        "aangemeld",
    ),
}


def event_key(text: str) -> str:
    return re.sub(r"[\s_.\-]+", "", text.strip().lower())


EVENT_KEY_SQL = r"regexp_replace(lower(trim({})), '[\s_.\-]+', '', 'g')"


def event_words(source: Source) -> list[tuple[str, str]]:
    """(key, event) pairs: the source's `event_values` win over the common words."""
    words = {event_key(w): e for e, ws in EVENT_WORDS.items() for w in ws}
    words.update({event_key(e): e for e in SUPPRESSION_EVENTS})
    words.update({event_key(raw): e for raw, e in source.event_values.items()})
    return sorted(words.items())


def _parse_time(raw: str, formats: tuple[str, ...], today: date) -> tuple:
    result = normalize_date_args((raw, formats, False, today))
    return (result.value, result.status, result.reason)


def parse_times(
    con: duckdb.DuckDBPyConnection,
    *,
    table: str,
    column: str,
    source: Source,
    today: date,
    out: str,
) -> None:
    """Temp table `out(raw, at, status, reason)`: each distinct time text parsed in the source's
    formats."""
    formats = date_formats(source.date_format, source.datetime_format, timestamp=True)
    with Workers() as workers:
        map_distinct(
            con,
            workers,
            inputs_sql=f'SELECT DISTINCT "{column}" FROM {table} WHERE "{column}" IS NOT NULL',
            key_columns={"raw": pa.string()},
            fn=partial(_parse_time, formats=formats, today=today),
            result_columns={
                "at": pa.timestamp("us"),
                "status": pa.string(),
                "reason": pa.string(),
            },
            table=out,
            single=True,
        )


def raw_line_sql(alias: str, fields: list[str], delimiter: str) -> str:
    """The mapped fields of a staged row joined by the file's delimiter (the rejected row's
    text)."""
    if not fields:
        return "''"
    return f" || {sql_literal(delimiter)} || ".join(
        f"coalesce({alias}.\"{f}\", '')" for f in fields
    )


def record_suppression_events(
    con: duckdb.DuckDBPyConnection, *, rows: str, source_name: str, file_id: str
) -> None:
    """A file's events into `suppression_events`, which the suppression rules read: the rows of
    temp table `rows` (line_number, email, phone, event, event_raw, at, campaign, reason) whose
    reason is NULL. Shared by suppression and engagement drops, so both feed the same rules."""
    con.execute("DELETE FROM suppression_events WHERE file_id = ?", [file_id])
    con.execute(
        f"""INSERT INTO suppression_events (source, file_id, line_number, email, phone, event,
                                            event_raw, "at", campaign, loaded_at)
           SELECT ?, ?, line_number, email, phone, event, event_raw, "at", campaign, now()
           FROM {rows} WHERE reason IS NULL""",
        [source_name, file_id],
    )


def load_suppression_drop(
    con: duckdb.DuckDBPyConnection,
    *,
    file_id: str,
    source_name: str,
    source: Source,
    config: SourcesConfig,
    today: date,
) -> dict:
    """Staged suppression events -> `suppression_events` (normalized keys) or `rejected_rows`."""
    if "event" not in source.columns:
        raise ValueError(
            f"{source_name}: a suppressions source must map the field `event` (columns: event: "
            "<header>)"
        )
    region = config.country_of(source_name)
    mapped = list(source.columns)
    file_time, delimiter = con.execute(
        "SELECT coalesce(remote_mtime, landed_at), coalesce(delimiter, ',') "
        "FROM ingest_log WHERE file_id = ?",
        [file_id],
    ).fetchone()
    with transaction(con):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _sup_drop AS {staged_view_sql(file_id, source)}"
        )
        normalize_address_columns(
            con,
            table="_sup_drop",
            email_column="email" if "email" in mapped else None,
            phone_column="phone" if "phone" in mapped else None,
            region_sql=sql_literal(region),
        )
        if "at" in mapped:
            parse_times(
                con, table="_sup_drop", column="at", source=source, today=today, out="_sup_times"
            )
        else:
            con.execute(
                'CREATE OR REPLACE TEMP TABLE _sup_times (raw VARCHAR, "at" TIMESTAMP, '
                "status VARCHAR, reason VARCHAR)"
            )
        con.execute("CREATE OR REPLACE TEMP TABLE _sup_words (word VARCHAR, event VARCHAR)")
        con.executemany("INSERT INTO _sup_words VALUES (?, ?)", event_words(source))

        d_email = 'd."email"' if "email" in mapped else "NULL"
        d_phone = 'd."phone"' if "phone" in mapped else "NULL"
        d_at = 'd."at"' if "at" in mapped else "NULL"
        d_campaign = 'd."campaign"' if "campaign" in mapped else "NULL"
        known = ", ".join(SUPPRESSION_EVENTS)
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _sup_rows AS
            SELECT d.line_number, e.email, p.phone, w.event, d."event" AS event_raw,
                   CASE WHEN t.status = 'missing' OR {d_at} IS NULL THEN CAST(? AS TIMESTAMP)
                        ELSE t."at" END AS "at",
                   {d_campaign} AS campaign,
                   CASE WHEN w.event IS NULL
                            THEN 'unknown event ''' || coalesce(d."event", '') ||
                                 ''' in field event; known: {known} (or map it in event_values)'
                        WHEN e.email IS NULL AND p.phone IS NULL
                            THEN 'no email address or phone number'
                        WHEN {d_at} IS NOT NULL AND t.status <> 'missing' AND t."at" IS NULL
                            THEN 'invalid time in field at: ' || coalesce(t.reason, 'not a date')
                   END AS reason,
                   CASE WHEN w.event IS NULL THEN 'event'
                        WHEN e.email IS NULL AND p.phone IS NULL
                            THEN {"'email'" if "email" in mapped else "'phone'"}
                        ELSE 'at' END AS field,
                   {raw_line_sql("d", mapped, delimiter)} AS raw_line
            FROM _sup_drop d
            LEFT JOIN _email_keys e ON e.raw = {d_email}
            LEFT JOIN _phone_keys p ON p.raw = {d_phone} AND p.region = {sql_literal(region)}
            LEFT JOIN _sup_times t ON t.raw = {d_at}
            LEFT JOIN _sup_words w ON w.word = {EVENT_KEY_SQL.format('d."event"')}
            """,
            [file_time],
        )
        record_suppression_events(con, rows="_sup_rows", source_name=source_name, file_id=file_id)
        con.execute(
            """INSERT INTO rejected_rows (file_id, source, line_number, raw_line, reason, field,
                                          rejected_at)
               SELECT ?, ?, line_number, raw_line, reason, field, now() FROM _sup_rows
               WHERE reason IS NOT NULL""",
            [file_id, source_name],
        )
        by_event = dict(
            con.execute(
                "SELECT event, count(*) FROM _sup_rows WHERE reason IS NULL "
                "GROUP BY event ORDER BY event"
            ).fetchall()
        )
        loaded, rejected = con.execute(
            "SELECT count(*) FILTER (WHERE reason IS NULL), "
            "count(*) FILTER (WHERE reason IS NOT NULL) FROM _sup_rows"
        ).fetchone()
        finish_load(con, file_id, rejected=rejected)
        for t in (
            "_sup_drop",
            "_sup_rows",
            "_sup_times",
            "_sup_words",
            "_email_keys",
            "_phone_keys",
        ):
            con.execute(f"DROP TABLE IF EXISTS {t}")
    return {
        "events_loaded": loaded,
        "rows_rejected_at_load": rejected,
        **{f"events_{e}": by_event.get(e, 0) for e in SUPPRESSION_EVENTS},
    }
