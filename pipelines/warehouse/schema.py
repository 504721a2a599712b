"""The warehouse contract (DESIGN.md section 4) as DDL, applied idempotently and additively.

`ensure_schema` creates missing tables and adds missing columns; it never drops or renames, so
other tools that read these tables keep working as the schema grows.
"""

from __future__ import annotations

import duckdb

from pipelines.fields import CANONICAL_TYPES, CONTACT_COLUMNS, STAGED_FIELDS

_customer_columns = {
    "customer_id": "VARCHAR",
    **{k: v for k, v in CANONICAL_TYPES.items() if k != "source_record_id"},
    "email_status": "VARCHAR",
    "phone_status": "VARCHAR",
    "postcode_status": "VARCHAR",
    "birth_date_status": "VARCHAR",
    "newsletter_opt_in_at": "TIMESTAMP",
    "newsletter_opt_in_source": "VARCHAR",
    "double_opt_in": "BOOLEAN",
    "source_count": "INTEGER",
    "sources": "VARCHAR",  # comma-separated source names, for segments and quick reads
    "created_at": "TIMESTAMP",
}

TABLES: dict[str, dict[str, str]] = {
    "ingest_log": {
        "file_id": "VARCHAR PRIMARY KEY",
        "source": "VARCHAR NOT NULL",
        "file_name": "VARCHAR NOT NULL",
        "sha256": "VARCHAR",
        "size_bytes": "BIGINT",
        "remote_mtime": "TIMESTAMP",
        "landing_path": "VARCHAR",
        "encoding": "VARCHAR",
        "delimiter": "VARCHAR",
        "rows_read": "BIGINT",
        "rows_loaded": "BIGINT",
        "rows_rejected": "BIGINT",
        "status": "VARCHAR NOT NULL",  # landed, loaded, duplicate, failed
        "error": "VARCHAR",
        "duplicate_of": "VARCHAR",
        "columns_missing": "VARCHAR",
        "columns_extra": "VARCHAR",
        "landed_at": "TIMESTAMP",
        "loaded_at": "TIMESTAMP",
    },
    "rejected_rows": {
        "file_id": "VARCHAR NOT NULL",
        "source": "VARCHAR NOT NULL",
        "line_number": "BIGINT NOT NULL",
        "raw_line": "VARCHAR",
        "reason": "VARCHAR NOT NULL",
        "field": "VARCHAR",
        "rejected_at": "TIMESTAMP",
    },
    # One file's parsed rows as raw text, between parsing and normalization; emptied per file
    # once its contacts are loaded.
    "staged_rows": {
        "file_id": "VARCHAR NOT NULL",
        "source": "VARCHAR NOT NULL",
        "line_number": "BIGINT NOT NULL",
        **{f: "VARCHAR" for f in STAGED_FIELDS},
        "extra": "VARCHAR",
    },
    "contacts": {**CONTACT_COLUMNS},
    "customers": _customer_columns,
    "customer_sources": {
        "customer_id": "VARCHAR NOT NULL",
        "source": "VARCHAR NOT NULL",
        "source_record_id": "VARCHAR NOT NULL",
        "match_score": "DOUBLE",
        "linked_at": "TIMESTAMP",
    },
    "match_evidence": {
        "customer_id": "VARCHAR",
        "left_source": "VARCHAR",
        "left_record_id": "VARCHAR",
        "right_source": "VARCHAR",
        "right_record_id": "VARCHAR",
        "match_weight": "DOUBLE",
        "match_probability": "DOUBLE",
        "rule": "VARCHAR",
        "comparison": "VARCHAR",  # JSON: per field level and weight
        "matched_at": "TIMESTAMP",
    },
    "customer_merges": {
        "old_customer_id": "VARCHAR",
        "new_customer_id": "VARCHAR",
        "kind": "VARCHAR",  # merge, split
        "at": "TIMESTAMP",
    },
    "suppressions": {
        "email": "VARCHAR",
        "phone": "VARCHAR",
        "customer_id": "VARCHAR",
        "reason": "VARCHAR NOT NULL",  # unsubscribe, hard_bounce, complaint, erasure, no_consent
        "source": "VARCHAR",
        "at": "TIMESTAMP",
    },
    "quality_metrics": {
        "load_id": "VARCHAR",
        "source": "VARCHAR",
        "metric": "VARCHAR NOT NULL",
        "field": "VARCHAR",
        "value": "DOUBLE",
        "measured_at": "TIMESTAMP",
    },
    "export_log": {
        "segment": "VARCHAR NOT NULL",
        "file_name": "VARCHAR NOT NULL",
        "destination": "VARCHAR NOT NULL",
        "rows": "BIGINT",
        "sha256": "VARCHAR",
        "status": "VARCHAR",
        "error": "VARCHAR",
        "exported_at": "TIMESTAMP",
    },
}


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables and add missing columns. Safe to call on every connect."""
    existing = {
        (t, c)
        for t, c in con.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'"
        ).fetchall()
    }
    tables = {t for t, _ in existing}
    for table, columns in TABLES.items():
        if table not in tables:
            cols = ", ".join(f'"{c}" {t}' for c, t in columns.items())
            con.execute(f'CREATE TABLE "{table}" ({cols})')
            continue
        for col, typ in columns.items():
            if (table, col) not in existing:
                plain = typ.replace("PRIMARY KEY", "").replace("NOT NULL", "").strip()
                con.execute(f'ALTER TABLE "{table}" ADD COLUMN "{col}" {plain}')
