"""The right of access: everything crmclean holds about one person, as one JSON document.

    crmclean export-person --email jan.jansen@gmail.com     # also --phone, --customer-id

The person is found as for erasure (person.py), so the answer covers exactly what an erasure
would remove or redact: the rows of every warehouse table that hold them (golden record, source
records, lineage, match evidence, consent and its history, suppressions and the events behind
them, rejected and staged rows, segment memberships, log rows whose text quotes them), the files
under `data/` with rows about them (path and number of rows), and whether an earlier erasure
left a tombstone for these values.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import uuid
from pathlib import Path

import duckdb

from pipelines.config import SourcesConfig
from pipelines.privacy.person import (
    find_person,
    mention_predicate,
    params_for,
    person_params,
    person_predicate,
    warehouse_tables,
)
from pipelines.privacy.scrub import Matcher, scrub_tree
from pipelines.privacy.tombstones import is_tombstoned
from pipelines.settings import Paths


def _jsonable(value):
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def export_person(
    con: duckdb.DuckDBPyConnection,
    *,
    paths: Paths,
    config: SourcesConfig,
    key: bytes | None,
    email: str | None = None,
    phone: str | None = None,
    customer_id: str | None = None,
) -> dict:
    """A JSON-ready dict: per table the rows about the person, the files, the tombstone status."""
    person = find_person(
        con, email=email, phone=phone, customer_id=customer_id, region=config.defaults.country
    )
    tables: dict[str, list[dict]] = {}
    params = person_params(con, person)
    for table, columns in warehouse_tables(con).items():
        predicates = [
            p for p in (person_predicate(table, columns), mention_predicate(table, columns)) if p
        ]
        if not predicates:
            continue
        predicate = " OR ".join(f"({p})" for p in predicates)
        cursor = con.execute(
            f'SELECT * FROM "{table}" WHERE {predicate}', params_for(predicate, params)
        )
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, map(_jsonable, r))) for r in cursor.fetchall()]
        if rows:
            tables[table] = rows
    files = scrub_tree(
        paths.data_dir,
        Matcher.of(person),
        sources=config.sources,
        exclude={paths.warehouse},
        dry_run=True,
    )
    return {
        "request": {
            k: v
            for k, v in (("email", email), ("phone", phone), ("customer_id", customer_id))
            if v
        },
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "customer_ids": sorted(person.customer_ids),
        "source_records": [
            {"source": s, "source_record_id": r} for s, r in sorted(person.records)
        ],
        "emails": sorted(person.emails),
        "phones": sorted(person.phones),
        "tables": tables,
        "files": [
            {"path": str(Path("data") / p), "rows": n} for p, n in sorted(files.found.items())
        ],
        "erased_before": bool(key)
        and is_tombstoned(con, key, emails=person.emails, phones=person.phones),
    }


def to_json(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False)
