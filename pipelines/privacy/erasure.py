"""Erasure (the right to be forgotten): remove a person from the warehouse and from every file.

    crmclean erase --email jan.jansen@gmail.com        # also --phone, --customer-id
    an erasure-request drop (kind: erasure_requests)   # one person per line

`erase` does, for each request:
1. find the person (person.py): customers, source records, every email and phone, as written too;
2. rewrite every file under `data/` without their records (scrub.py): landing archive, outbox
   exports and mails, demo truth, local inbox (a drop already landed is deleted there instead);
   then search all files for what is left;
3. in one transaction: delete every row that holds them from every warehouse table (staged_rows,
   contacts, rejected_rows, customers, customer_sources, match_evidence, customer_merges,
   suppressions, suppression_events, consent, consent_events, and any table added later, by
   column names: see person.py; in `segment_members` only the id stays, for one `removed` line
   of the next delta export: `PENDING_REMOVALS`); replace each log text that quotes them (a
   load error, a check's detail: person.py `LOG_TEXT_COLUMNS`), keeping its row; add tombstones
   (tombstones.py); write an `erasure_log` row: which kinds of value identified them, counts per
   table, texts redacted, files rewritten, files still holding a value, and no personal data.
Files go first: if the warehouse step fails, a rerun finds the person again and finishes.

Deleted rows can linger in free pages of the DuckDB file, so the file is rewritten afterwards
(`compact_warehouse`): the CLI does it at once; after an erasure drop, the `suppressions` asset
does it when it finds `erasure_log` rows without `compacted_at`.

Values decide, not guesses: every row holding one of the person's email addresses or phone
numbers goes, also a family member's row that shares that address or landline (an erasure errs
on the side of removing). Erase by `--customer-id` to start from one golden record instead.

The person may come back in a later drop (the CRM was not cleaned): their tombstone then makes
`suppressions` hold reason `erasure` for the new customer, so no export includes them.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import reduce
from pathlib import Path

import duckdb

from pipelines.config import Source, SourcesConfig
from pipelines.ingest.load import finish_load
from pipelines.normalize.dates import date_formats, normalize_date
from pipelines.normalize.text import clean_text, is_missing
from pipelines.privacy.masking import mask_text
from pipelines.privacy.person import (
    Person,
    find_person,
    params_for,
    person_params,
    person_predicate,
    redact_sql,
    warehouse_tables,
)
from pipelines.privacy.scrub import Matcher, scrub_tree
from pipelines.privacy.tombstones import add_tombstones, tombstone_key
from pipelines.settings import Paths
from pipelines.warehouse import connect, sql_literal, transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErasureRequest:
    email: str | None = None
    phone: str | None = None
    customer_id: str | None = None
    request_id: str | None = None  # the privacy desk's reference
    requested_at: datetime | None = None

    @property
    def identified_by(self) -> str:
        return ",".join(k for k in ("email", "phone", "customer_id") if _present(getattr(self, k)))


# Delta exports tell the email platform who left a segment by customer id. An erased customer's
# rows there keep only (segment, destination, customer id, part), their hash cleared, so the next
# delta sends a `removed` line (the id only) and the platform drops the person too (GDPR art. 19);
# that export then replaces the baseline and the id is gone.
PENDING_REMOVALS = "segment_members"


def _present(value: str | None) -> bool:
    return not is_missing(clean_text(value))


@dataclass
class ErasureResult:
    erasure_ids: list[str] = field(default_factory=list)
    requests: int = 0
    not_found: int = 0  # requests that matched no customer or source record (still tombstoned)
    customers: int = 0
    source_records: int = 0
    rows_by_table: dict[str, int] = field(default_factory=dict)
    texts_redacted: int = 0  # rows of log tables whose text quoted the person (text replaced)
    files_rewritten: int = 0
    files_deleted: int = 0  # inbox copies of landed drops (see scrub.py)
    rows_removed_from_files: int = 0
    tombstones: int = 0
    residue_files: list[str] = field(default_factory=list)  # paths under data/, no values

    @property
    def rows_deleted(self) -> int:
        return sum(self.rows_by_table.values())

    def metadata(self) -> dict[str, int | str]:
        """Figures for logs and Dagster metadata: counts only, never a value of the person."""
        return {
            "erasure_requests": self.requests,
            "requests_matching_nothing": self.not_found,
            "customers_erased": self.customers,
            "source_records_erased": self.source_records,
            "warehouse_rows_deleted": self.rows_deleted,
            "rows_deleted_by_table": json.dumps(self.rows_by_table, sort_keys=True),
            "log_texts_redacted": self.texts_redacted,
            "files_rewritten": self.files_rewritten,
            "inbox_files_deleted": self.files_deleted,
            "rows_removed_from_files": self.rows_removed_from_files,
            "tombstones_added": self.tombstones,
            "files_still_holding_a_value": len(self.residue_files),
        }


def landed_inbox_copies(con: duckdb.DuckDBPyConnection, config: SourcesConfig) -> frozenset[str]:
    """`inbox/<source>/<name>` (and its `processed/` twin) of every drop of a source with the local
    default inbox that is already in the landing archive (or was a duplicate of one)."""
    local = {name for name, s in config.sources.items() if s.location is None}
    out = set()
    for source, name in con.execute(
        "SELECT source, file_name FROM ingest_log WHERE landing_path IS NOT NULL "
        "OR status = 'duplicate'"
    ).fetchall():
        if source in local:
            out |= {f"inbox/{source}/{name}", f"inbox/{source}/processed/{name}"}
    return frozenset(out)


def warehouse_paths(paths: Paths) -> set[Path]:
    """The warehouse file (and by prefix its .wal / .tmp): erased by SQL and compaction, not
    scrubbing."""
    return {paths.warehouse}


def erase(
    con: duckdb.DuckDBPyConnection,
    requests: list[ErasureRequest],
    *,
    paths: Paths,
    config: SourcesConfig,
    key: bytes,
    now: datetime,
    origin: str,
    region: str | None = None,
) -> ErasureResult:
    """Erase each requested person everywhere (see the module docstring)."""
    result = ErasureResult(requests=len(requests))
    if not requests:
        return result
    region = region or config.defaults.country
    persons = [
        find_person(con, email=r.email, phone=r.phone, customer_id=r.customer_id, region=region)
        for r in requests
    ]
    everyone = reduce(Person.merge, persons)
    matcher = Matcher.of(everyone)
    exclude = warehouse_paths(paths)

    scrubbed = scrub_tree(
        paths.data_dir,
        matcher,
        sources=config.sources,
        exclude=exclude,
        delete_instead=landed_inbox_copies(con, config),
    )
    result.files_rewritten = len(scrubbed.files_rewritten)
    result.files_deleted = len(scrubbed.files_deleted)
    result.rows_removed_from_files = scrubbed.rows_removed
    result.residue_files = scrubbed.residue
    if result.residue_files:
        log.warning(
            "erasure: %d file(s) under data/ still hold a value of the person: %s",
            len(result.residue_files),
            ", ".join(result.residue_files),
        )

    tables = warehouse_tables(con)
    with transaction(con):
        for request, person in zip(requests, persons):
            erasure_id = uuid.uuid4().hex[:16]
            params = person_params(con, person)
            counts: dict[str, int] = {}
            for table, columns in tables.items():
                predicate = person_predicate(table, columns)
                if predicate is None:
                    continue
                if table == PENDING_REMOVALS:
                    sql = (
                        f'UPDATE "{table}" SET row_hash = NULL WHERE row_hash IS NOT NULL '
                        f"AND ({predicate})"
                    )
                else:
                    sql = f'DELETE FROM "{table}" WHERE {predicate}'
                n = con.execute(sql, params_for(predicate, params)).fetchone()[0]
                if n:
                    counts[table] = n
            redacted = 0
            for table, columns in tables.items():
                update = redact_sql(table, columns)
                if update is not None:
                    redacted += con.execute(update, params_for(update, params)).fetchone()[0]
            added = add_tombstones(
                con,
                key,
                emails=person.emails,
                phones=person.phones,
                erasure_id=erasure_id,
                now=now,
            )
            con.execute(
                """INSERT INTO erasure_log (erasure_id, origin, request_id, identified_by,
                       requested_at, erased_at, customers, source_records, rows_deleted,
                       rows_by_table, texts_redacted, files_rewritten, files_deleted, tombstones,
                       residue_files, compacted_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)""",
                [
                    erasure_id,
                    origin,
                    mask_text(request.request_id) if request.request_id else None,
                    request.identified_by,
                    request.requested_at or now,
                    now,
                    len(person.customer_ids),
                    len(person.records),
                    sum(counts.values()),
                    json.dumps(counts, sort_keys=True),
                    redacted,
                    result.files_rewritten,
                    result.files_deleted,
                    added,
                    len(result.residue_files),
                ],
            )
            result.erasure_ids.append(erasure_id)
            result.not_found += 0 if person.found else 1
            result.customers += len(person.customer_ids)
            result.source_records += len(person.records)
            result.tombstones += added
            result.texts_redacted += redacted
            for table, n in counts.items():
                result.rows_by_table[table] = result.rows_by_table.get(table, 0) + n
    log.info(
        "erasure (%s): %d request(s), %d customer(s), %d source record(s), %d warehouse row(s), "
        "%d file(s) rewritten",
        origin,
        result.requests,
        result.customers,
        result.source_records,
        result.rows_deleted,
        result.files_rewritten,
    )
    return result


# ---------------------------------------------------------------------------------------------
# the warehouse file


def compact_warehouse(path: Path) -> None:
    """Rewrite the DuckDB file with only its live data, so deleted rows leave no bytes behind.

    Needs the only connection: call it with every connection to `path` closed.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".compact")
    for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
        stale.unlink(missing_ok=True)
    old_umask = os.umask(0o077)
    try:
        con = duckdb.connect()
        try:
            con.execute(f"ATTACH {sql_literal(str(path))} AS old_warehouse")
            con.execute(f"ATTACH {sql_literal(str(tmp))} AS new_warehouse")
            con.execute("COPY FROM DATABASE old_warehouse TO new_warehouse")
            con.execute("DETACH new_warehouse")
            con.execute("DETACH old_warehouse")
        finally:
            con.close()
    finally:
        os.umask(old_umask)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)


def compact_if_pending(warehouse: Path) -> bool:
    """Compact the warehouse when an erasure has not been compacted yet; True when it did."""
    con = connect(warehouse)
    try:
        pending = con.execute(
            "SELECT count(*) FROM erasure_log WHERE compacted_at IS NULL"
        ).fetchone()[0]
    finally:
        con.close()
    if not pending:
        return False
    compact_warehouse(warehouse)
    con = connect(warehouse)
    try:
        con.execute("UPDATE erasure_log SET compacted_at = now() WHERE compacted_at IS NULL")
    finally:
        con.close()
    return True


# ---------------------------------------------------------------------------------------------
# erasure-request drops


def load_erasure_drop(
    con: duckdb.DuckDBPyConnection,
    *,
    file_id: str,
    source_name: str,
    source: Source,
    config: SourcesConfig,
    paths: Paths,
    now: datetime,
) -> dict:
    """Erase everyone a staged erasure-request drop names; a line naming no one is rejected."""
    fields = [
        f
        for f in ("email", "phone", "customer_id", "requested_at", "request_id")
        if f in source.columns
    ]
    select = ", ".join(f'"{f}"' for f in fields)
    rows = con.execute(
        f"SELECT line_number{', ' + select if select else ''} FROM staged_rows "
        "WHERE file_id = ? ORDER BY line_number",
        [file_id],
    ).fetchall()
    delimiter = con.execute(
        "SELECT coalesce(delimiter, ',') FROM ingest_log WHERE file_id = ?", [file_id]
    ).fetchone()[0]
    formats = date_formats(source.date_format, source.datetime_format, timestamp=True)
    requests, rejects = [], []
    for line_number, *values in rows:
        row = dict(zip(fields, values))
        request = ErasureRequest(
            email=row.get("email") if _present(row.get("email")) else None,
            phone=row.get("phone") if _present(row.get("phone")) else None,
            customer_id=clean_text(row.get("customer_id"))
            if _present(row.get("customer_id"))
            else None,
            request_id=clean_text(row.get("request_id")),
            requested_at=normalize_date(row.get("requested_at"), formats, today=now.date()).value,
        )
        if request.identified_by:
            requests.append(request)
        else:
            rejects.append((line_number, delimiter.join(v or "" for v in values)))
    result = erase(
        con,
        requests,
        paths=paths,
        config=config,
        key=tombstone_key(paths.data_dir),
        now=now,
        origin=f"source:{source_name}",
        region=config.country_of(source_name),
    )
    with transaction(con):
        for line_number, raw_line in rejects:
            con.execute(
                """INSERT INTO rejected_rows (file_id, source, line_number, raw_line, reason,
                                              field, rejected_at)
                   VALUES (?, ?, ?, ?, 'no email, phone or customer id to identify the person',
                           NULL, now())""",
                [file_id, source_name, line_number, raw_line],
            )
        finish_load(con, file_id, rejected=len(rejects))
    return {**result.metadata(), "rows_rejected_at_load": len(rejects)}
