"""The warehouse contract as DDL, applied idempotently and additively.

`ensure_schema` creates missing tables and adds missing columns; it never drops or renames, so
other tools that read these tables keep working as the schema grows.
"""

from __future__ import annotations

import duckdb

from pipelines.fields import CONTACT_COLUMNS, CUSTOMER_COLUMNS, STAGED_FIELDS
from pipelines.match_definitions import EDGE_COLUMNS, FEATURE_TYPES

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
        "purged_at": "TIMESTAMP",  # the landing file was deleted by retention (pipelines/privacy)
        # when the source exported it: the date in its name, else its mtime
        "exported_at": "TIMESTAMP",
        "encoding_note": "VARCHAR",  # e.g. declared cp1252 but valid UTF-8, read as UTF-8
    },
    "rejected_rows": {
        "file_id": "VARCHAR NOT NULL",
        "source": "VARCHAR NOT NULL",
        "line_number": "BIGINT NOT NULL",
        "raw_line": "VARCHAR",  # cut to RAW_LINE_LIMIT characters (pipelines/ingest/stage.py)
        "raw_length": "BIGINT",  # length of the whole raw record, in characters
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
    "customers": CUSTOMER_COLUMNS,
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
    # One row per completed build of customers: a run killed after loading contacts but before
    # this row was written leaves newer contacts than the last build, so the next run rebuilds.
    "customer_builds": {
        "built_at": "TIMESTAMP NOT NULL",
        "contacts_loaded_at": "TIMESTAMP",  # the newest contacts.loaded_at the build covered
        "contacts": "BIGINT",
        "customers": "BIGINT",
    },
    # --- matcher state (pipelines/match): what later runs need to match only what changed ---
    # One row per contact the matcher has seen: a stable integer key, fingerprints of its
    # match features and of its whole row, and the match features themselves (so a daily run
    # derives them only for new and changed contacts; see pipelines/match/features.py).
    "match_records": {
        "record_key": "BIGINT NOT NULL",
        "source": "VARCHAR NOT NULL",
        "source_record_id": "VARCHAR NOT NULL",
        "match_hash": "VARCHAR",
        "row_hash": "VARCHAR",
        "matched_at": "TIMESTAMP",
        "value_hash": "VARCHAR",  # fingerprint of the values a golden record shows
        "changed_at": "TIMESTAMP",  # export time of the drop in which those values last changed
        **FEATURE_TYPES,
    },
    # Candidate pairs that may link (weight at or above the link threshold, no contradiction, or
    # one resting on a single field: `conflict`), with the level and weight of each comparison.
    # Keys only, no personal data.
    "match_edges": {
        "left_key": "BIGINT NOT NULL",
        "right_key": "BIGINT NOT NULL",
        "match_weight": "DOUBLE",
        "match_probability": "DOUBLE",
        "rules": "VARCHAR",  # blocking rules that found the pair
        **EDGE_COLUMNS,  # level and weight per comparison
        "scored_at": "TIMESTAMP",
        "conflict": "TINYINT",  # 1: first names contradict, 2: birth dates; 0/NULL: neither
    },
    # Records named in match_overrides.yaml at the last run: re-matched when the file changes.
    "match_override_records": {
        "source": "VARCHAR NOT NULL",
        "source_record_id": "VARCHAR NOT NULL",
    },
    # The estimated Fellegi-Sunter model (m, u, prior) as JSON; the newest row is in use.
    "match_model": {
        "model": "VARCHAR NOT NULL",
        "settings_hash": "VARCHAR",
        # survivorship settings + source priorities of the last run
        "survivorship_hash": "VARCHAR",
        "records": "BIGINT",
        "trained_at": "TIMESTAMP",
    },
    "suppressions": {
        "email": "VARCHAR",
        "phone": "VARCHAR",
        "customer_id": "VARCHAR",
        # unsubscribe, hard_bounce, soft_bounce, complaint, erasure, no_consent
        "reason": "VARCHAR NOT NULL",
        "source": "VARCHAR",
        "at": "TIMESTAMP",
        # why, in words without personal data (e.g. "3 soft bounces within 30 days")
        "detail": "VARCHAR",
    },
    # --- privacy (pipelines/privacy): events behind `suppressions`, consent, erasure audit ---
    # One row per event line of a suppression drop; email/phone normalized (the match keys).
    "suppression_events": {
        "source": "VARCHAR NOT NULL",
        "file_id": "VARCHAR NOT NULL",
        "line_number": "BIGINT NOT NULL",
        "email": "VARCHAR",
        "phone": "VARCHAR",
        # unsubscribe, hard_bounce, soft_bounce, complaint, resubscribe
        "event": "VARCHAR NOT NULL",
        "event_raw": "VARCHAR",
        "at": "TIMESTAMP NOT NULL",
        "campaign": "VARCHAR",
        "loaded_at": "TIMESTAMP",
    },
    # --- activity (pipelines/activity): order lines and email engagement events ---
    # One row per order line of an orders drop. An order re-delivered (same source + order_id)
    # replaces its earlier lines. The customer reference is kept as given; customer_id is what the
    # match resolves it to (NULL: unmatched, kept and counted), re-resolved on merges and splits.
    "orders": {
        "source": "VARCHAR NOT NULL",
        "file_id": "VARCHAR NOT NULL",
        "line_number": "BIGINT NOT NULL",
        "order_id": "VARCHAR NOT NULL",
        "order_line": "VARCHAR",  # the line key within the order (given, else its position)
        "customer_ref": "VARCHAR",  # as given: a contacts source_record_id or an email
        "customer_ref_kind": "VARCHAR",  # source_record_id, email
        "customer_ref_source": "VARCHAR",  # the contacts source a record id belongs to
        "customer_email": "VARCHAR",  # the reference normalized, when it is an email
        "record_key": "BIGINT",  # match_records.record_key of the referenced contact
        "customer_id": "VARCHAR",
        "ordered_at": "TIMESTAMP",
        "ordered_at_raw": "VARCHAR",
        "ordered_at_status": "VARCHAR",
        "ordered_at_reason": "VARCHAR",
        "amount": "DECIMAL(18,2)",  # in the line's currency
        "amount_raw": "VARCHAR",
        "amount_status": "VARCHAR",
        "amount_reason": "VARCHAR",  # not_a_number, negative_amount, absurd_amount
        "currency": "VARCHAR",
        "currency_status": "VARCHAR",
        "currency_reason": "VARCHAR",
        "amount_eur": "DECIMAL(18,2)",  # amount in the base currency (activity.currency_rates)
        "product_id": "VARCHAR",
        "category": "VARCHAR",
        "quantity": "INTEGER",
        "status": "VARCHAR",  # completed (default), returned, cancelled, or as given
        "counts_as_value": "BOOLEAN",  # not returned/cancelled, valid amount and date
        "loaded_at": "TIMESTAMP",
    },
    # One row per event of an engagement drop (the email platform's export). The same event
    # (source, campaign, email, event, time) delivered again is kept once.
    "engagement_events": {
        "source": "VARCHAR NOT NULL",
        "file_id": "VARCHAR NOT NULL",
        "line_number": "BIGINT NOT NULL",
        "campaign_id": "VARCHAR",
        "campaign_sent_at": "TIMESTAMP",
        "email": "VARCHAR",  # normalized (the match key)
        "event": "VARCHAR NOT NULL",  # sent, delivered, open, click, hard_bounce, soft_bounce, ...
        "event_raw": "VARCHAR",
        "occurred_at": "TIMESTAMP NOT NULL",
        "occurred_at_status": "VARCHAR",
        "customer_id": "VARCHAR",
        "loaded_at": "TIMESTAMP",
    },
    # Customers whose metrics must be recomputed at the next refresh (their activity changed).
    "customer_metrics_dirty": {
        "customer_id": "VARCHAR NOT NULL",
        "at": "TIMESTAMP",
    },
    # Orders and engagement per golden customer (pipelines/metrics/customer_metrics.py).
    "customer_metrics": {
        "customer_id": "VARCHAR NOT NULL",
        "first_order_at": "TIMESTAMP",
        "last_order_at": "TIMESTAMP",
        "order_count": "BIGINT",
        "total_spent": "DECIMAL(18,2)",
        "avg_order_value": "DECIMAL(18,2)",
        "orders_last_12_months": "BIGINT",
        "spent_last_12_months": "DECIMAL(18,2)",
        "rfm_recency": "TINYINT",
        "rfm_frequency": "TINYINT",
        "rfm_monetary": "TINYINT",
        "rfm_segment": "VARCHAR",  # champions, loyal, new, at_risk, hibernating, other
        "top_category": "VARCHAR",
        "last_open_at": "TIMESTAMP",
        "last_click_at": "TIMESTAMP",
        "opens_last_12_months": "BIGINT",
        "clicks_last_12_months": "BIGINT",
        "campaigns_delivered": "BIGINT",
        "campaigns_since_last_engagement": "BIGINT",
        "engagement_status": "VARCHAR",  # active, inactive, never_engaged
        "first_seen_at": "TIMESTAMP",
        "inactive_since": "TIMESTAMP",  # sunset condition met (pipelines/metrics)
        "as_of": "TIMESTAMP",  # the reference time of the window metrics
        "computed_at": "TIMESTAMP",
    },
    # One row per refresh of customer_metrics: the reference time and what it covered.
    "customer_metrics_runs": {
        "mode": "VARCHAR NOT NULL",  # full, incremental
        "as_of": "TIMESTAMP NOT NULL",
        "customers_recomputed": "BIGINT",
        "orders_reassigned": "BIGINT",
        "events_reassigned": "BIGINT",
        "at": "TIMESTAMP",
    },
    # Newsletter opt-in statements of contact sources, recorded when a record's statement changes.
    "consent_events": {
        "source": "VARCHAR NOT NULL",
        "source_record_id": "VARCHAR NOT NULL",
        "opt_in": "BOOLEAN NOT NULL",
        "double_opt_in": "BOOLEAN",
        "double_opt_in_required": "BOOLEAN",  # the source has a double opt-in confirmation field
        "dated": "BOOLEAN",  # the source gave the time of the opt-in (newsletter_opt_in_at)
        "at": "TIMESTAMP NOT NULL",
        "file_id": "VARCHAR",
        "recorded_at": "TIMESTAMP",
    },
    # What `suppressions` last saw of each customer (pipelines/privacy/rules.py): one row per
    # source record (source, source_record_id, that record's email and phone) and one for the
    # golden record (source NULL). A daily refresh reads the old addresses of the customers it
    # recomputes here.
    "customer_addresses": {
        "customer_id": "VARCHAR NOT NULL",
        "source": "VARCHAR",
        "source_record_id": "VARCHAR",
        "email": "VARCHAR",
        "phone": "VARCHAR",
    },
    # One row per refresh of suppressions and consent: what it covered (the newest contact load,
    # suppression event and customer change it saw), so the next refresh takes only what came
    # after. A change of the rules, the tombstone key or an erasure makes the next one full.
    "suppression_runs": {
        "mode": "VARCHAR NOT NULL",  # full, incremental
        "settings_hash": "VARCHAR",  # suppression rules, double opt-in sources, tombstone key
        "contacts_loaded_at": "TIMESTAMP",
        "events_loaded_at": "TIMESTAMP",
        "customers_changed_at": "TIMESTAMP",
        "events": "BIGINT",  # rows of suppression_events
        "erasures": "BIGINT",  # rows of erasure_log
        "customers_recomputed": "BIGINT",
        "addresses_recomputed": "BIGINT",
        "at": "TIMESTAMP",
    },
    # The consent state of each customer: the latest statement wins.
    "consent": {
        "customer_id": "VARCHAR NOT NULL",
        "newsletter_opt_in": "BOOLEAN NOT NULL",
        "at": "TIMESTAMP",
        "source": "VARCHAR",
        # opt_in, opt_out, opt_in_unconfirmed, unsubscribe, complaint, resubscribe
        "event": "VARCHAR",
        "double_opt_in": "BOOLEAN",
    },
    # Audit of each erasure: what kind of request, when, how much was removed. No personal data.
    "erasure_log": {
        "erasure_id": "VARCHAR NOT NULL",
        "origin": "VARCHAR",  # cli, or source:<name> for an erasure-request drop
        "request_id": "VARCHAR",
        # email, phone, customer_id (which kinds of value, not the values)
        "identified_by": "VARCHAR",
        "requested_at": "TIMESTAMP",
        "erased_at": "TIMESTAMP",
        "customers": "BIGINT",
        "source_records": "BIGINT",
        "rows_deleted": "BIGINT",
        "rows_by_table": "VARCHAR",  # JSON: table -> rows
        # rows of log tables (a load error, a check detail) whose text quoted them
        "texts_redacted": "BIGINT",
        "files_rewritten": "BIGINT",
        "files_deleted": "BIGINT",
        "tombstones": "BIGINT",
        "residue_files": "BIGINT",  # files under data/ that still held a value after rewriting
        # the warehouse file was rewritten, so freed pages hold nothing
        "compacted_at": "TIMESTAMP",
    },
    # Keyed hashes (HMAC-SHA256) of the normalized email / phone of erased people.
    "tombstones": {
        "kind": "VARCHAR NOT NULL",  # email, phone
        "hash": "VARCHAR NOT NULL",
        "key_id": "VARCHAR NOT NULL",  # which key made the hash (a fingerprint, not the key)
        "erasure_id": "VARCHAR",
        "created_at": "TIMESTAMP",
    },
    "quality_metrics": {
        "load_id": "VARCHAR",
        "source": "VARCHAR",
        "metric": "VARCHAR NOT NULL",
        "field": "VARCHAR",
        "value": "DOUBLE",
        "measured_at": "TIMESTAMP",
    },
    # Every quality check result (pipelines/quality/checks.py). load_id is the drop's file_id for a
    # per-load check, `source:<name>` for a source-level one (drop on time), `warehouse-<time>`
    # for a snapshot. A failed ERROR check on a source's latest load stops every export.
    "quality_checks": {
        "load_id": "VARCHAR NOT NULL",
        "source": "VARCHAR",
        "check_name": "VARCHAR NOT NULL",
        "severity": "VARCHAR NOT NULL",  # ERROR (blocks exports) or WARN
        "passed": "BOOLEAN NOT NULL",
        "value": "DOUBLE",
        "threshold": "DOUBLE",
        "detail": "VARCHAR",
        "at": "TIMESTAMP",
        "alerted_at": "TIMESTAMP",  # when the alert email about this failure went out
        # an operator accepted the failure (`crmclean quality --accept`)
        "accepted_at": "TIMESTAMP",
    },
    "export_log": {
        "segment": "VARCHAR NOT NULL",
        "file_name": "VARCHAR NOT NULL",
        "destination": "VARCHAR NOT NULL",
        "rows": "BIGINT",
        "sha256": "VARCHAR",
        "status": "VARCHAR",  # ok, failed, refused (a guard stopped it)
        "error": "VARCHAR",
        "exported_at": "TIMESTAMP",
        "segment_rows": "BIGINT",  # the whole segment's size (a delta file holds fewer rows)
        "mode": "VARCHAR",  # full, delta
        # where it went: a path, sftp://user@host/path, smtp://host or an .eml
        "location": "VARCHAR",
        # rows left out as a second customer of the same inbox / address
        "rows_deduplicated": "BIGINT",
    },
    # Who was in a segment at its last successful export: per destination (the delta baseline)
    # and under destination '*' for the whole segment (the change shown in the asset metadata).
    # Holds ids and hashes only, no personal data.
    "segment_members": {
        "segment": "VARCHAR NOT NULL",
        "destination": "VARCHAR NOT NULL",
        "customer_id": "VARCHAR NOT NULL",
        "part": "VARCHAR",
        "row_hash": "VARCHAR",
        "exported_at": "TIMESTAMP",
    },
}


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables and add missing columns. Safe to call on every connect."""
    existing = {
        (t, c)
        for t, c in con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'main'"
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
