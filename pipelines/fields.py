"""The canonical contact schema: one place that names every field and its warehouse type.

Column mappings in `sources.yaml` map file headers onto `MAPPABLE_FIELDS`; the normalizer turns
staged text into `CONTACT_COLUMNS`; the warehouse creates (and additively migrates) `contacts`
from `CONTACT_COLUMNS`. Add a field here and every stage sees it.
"""

from __future__ import annotations

from dataclasses import dataclass

# Canonical fields and their types in `contacts`, in export order.
CANONICAL_TYPES: dict[str, str] = {
    "source_record_id": "VARCHAR",
    "first_name": "VARCHAR",
    "infix": "VARCHAR",
    "last_name": "VARCHAR",
    "email": "VARCHAR",
    "phone": "VARCHAR",
    "street": "VARCHAR",
    "house_number": "VARCHAR",
    "house_number_suffix": "VARCHAR",
    "postcode": "VARCHAR",
    "city": "VARCHAR",
    "country": "VARCHAR",
    "birth_date": "DATE",
    "newsletter_opt_in": "BOOLEAN",
    "last_purchase_at": "TIMESTAMP",
    "updated_at": "TIMESTAMP",
}
CANONICAL_FIELDS: tuple[str, ...] = tuple(CANONICAL_TYPES)

# Pass-through fields: canonical fields a golden customer shows as its records give them, with no
# part in matching and no rule of their own. Each names the survivorship pick it travels with
# (pipelines/match/survivorship.py: the record that wins that pick gives the value, so a suffix
# never comes from another record than its house number). Without a normalizer of its own, a
# pass-through field is cleaned text (missing markers as NULL) in both normalizers.
# A new one: its type in CANONICAL_TYPES and an entry here; its normalizer, if any, in
# pipelines/normalize (record.py and staged.py).
PASS_THROUGH_FIELDS: dict[str, str] = {
    "house_number_suffix": "address",
}

# Fields a source file may carry, besides the canonical ones: a combined address line
# ("Hoofdstraat 12a") that the normalizer splits, the opt-in time and a double opt-in flag.
EXTRA_INPUT_FIELDS: tuple[str, ...] = (
    "address_line",
    "newsletter_opt_in_at",
    "double_opt_in",
)

MAPPABLE_FIELDS: tuple[str, ...] = CANONICAL_FIELDS + EXTRA_INPUT_FIELDS
# The fields the normalizer fills from `address_line` when a source maps that instead.
ADDRESS_LINE_PARTS: tuple[str, ...] = ("street", "house_number", "house_number_suffix")

# Fields of the other source kinds: suppression events from the email platform, erasure requests,
# order lines from the webshop or ERP, engagement events from the email platform.
SUPPRESSION_FIELDS: tuple[str, ...] = ("email", "phone", "event", "at", "campaign")
ERASURE_FIELDS: tuple[str, ...] = ("email", "phone", "customer_id", "requested_at", "request_id")
ORDER_FIELDS: tuple[str, ...] = (
    "order_id",
    "order_line",
    "source_record_id",  # of the contacts source named by the orders source's `customer_source`
    "email",
    "ordered_at",
    "amount",
    "currency",
    "product_id",
    "category",
    "quantity",
    "status",
)
ENGAGEMENT_FIELDS: tuple[str, ...] = (
    "campaign_id",
    "campaign_sent_at",
    "email",
    "event",
    "occurred_at",
)

# Canonical events an `event_values` mapping may name, per kind.
SUPPRESSION_EVENTS: tuple[str, ...] = (
    "unsubscribe",
    "hard_bounce",
    "soft_bounce",
    "complaint",
    "resubscribe",
)
ENGAGEMENT_EVENTS: tuple[str, ...] = (
    "sent",
    "delivered",
    "open",
    "click",
    "hard_bounce",
    "soft_bounce",
    "unsubscribe",
    "complaint",
)


# Quality checks of a drop after its load (pipelines/quality/checks.py SPECS).
DROP_CHECKS = ("rejected_share", "schema_drift")
VOLUME_CHECKS = ("rows_vs_previous_load",)
FIELD_CHECKS = ("validity_vs_previous_load", "fill_rate_vs_previous_load")


@dataclass(frozen=True)
class KindSpec:
    """What a drop of one kind may carry and how it is judged, as data the config and the
    quality checks read. How a kind loads and shows in the UI: pipelines/kinds."""

    fields: tuple[str, ...]
    required: tuple[str, ...]  # a source's `required:` unless it sets its own
    events: tuple[str, ...] = ()  # canonical events its `event_values` may name
    checks: tuple[str, ...] = DROP_CHECKS  # quality checks after a load
    # A day without events is normal: a header-only file is a warning, not a broken export.
    header_only_is_normal: bool = False
    # Drops come on a rhythm: freshness (`quality.expected_every_hours`) applies by default.
    expected_rhythm: bool = True


KIND_SPECS: dict[str, KindSpec] = {
    "contacts": KindSpec(
        MAPPABLE_FIELDS,
        ("source_record_id",),
        checks=DROP_CHECKS + VOLUME_CHECKS + FIELD_CHECKS + ("duplicate_rate_vs_previous_load",),
    ),
    "suppressions": KindSpec(
        SUPPRESSION_FIELDS, ("event",), SUPPRESSION_EVENTS, header_only_is_normal=True
    ),
    "erasure_requests": KindSpec(
        ERASURE_FIELDS, (), header_only_is_normal=True, expected_rhythm=False
    ),
    # Orders and events come as daily increments, whose size varies: no volume check.
    "orders": KindSpec(ORDER_FIELDS, ("order_id",), checks=DROP_CHECKS + FIELD_CHECKS),
    "engagement": KindSpec(
        ENGAGEMENT_FIELDS,
        ("email", "event"),
        ENGAGEMENT_EVENTS,
        checks=DROP_CHECKS + ("fill_rate_vs_previous_load",),
    ),
}

# Columns of `staged_rows`: every field any source kind can map, as raw text.
STAGED_FIELDS: tuple[str, ...] = tuple(
    dict.fromkeys(f for kind in KIND_SPECS.values() for f in kind.fields)
)

# Fields that get `<field>_raw`, `<field>_status` and `<field>_reason` columns in `contacts`.
VALIDATED_FIELDS: tuple[str, ...] = (
    "email",
    "phone",
    "postcode",
    "first_name",
    "last_name",
    "street",
    "house_number",
    "country",
    "birth_date",
    "newsletter_opt_in",
    "last_purchase_at",
    "updated_at",
    "newsletter_opt_in_at",
    "double_opt_in",
)

# Status values of every `<field>_status` column. `inferred`: the file left the field empty and
# the value comes from other fields of the row (a country from the postcode, city or phone).
STATUSES: tuple[str, ...] = ("valid", "corrected", "invalid", "missing", "inferred")

# Everything `contacts` holds, in order: lineage, canonical values, per-field raw/status/reason,
# and the normalizer's extra findings. The normalizer must produce exactly these columns
# (besides `loaded_at`, which the loader sets).
CONTACT_COLUMNS: dict[str, str] = {
    "source": "VARCHAR",
    "file_id": "VARCHAR",
    "line_number": "BIGINT",
    **CANONICAL_TYPES,
    "newsletter_opt_in_at": "TIMESTAMP",
    "double_opt_in": "BOOLEAN",
    **{f"{f}_raw": "VARCHAR" for f in VALIDATED_FIELDS},
    **{f"{f}_status": "VARCHAR" for f in VALIDATED_FIELDS},
    **{f"{f}_reason": "VARCHAR" for f in VALIDATED_FIELDS},
    "email_suggestion": "VARCHAR",
    "email_is_role": "BOOLEAN",
    "email_is_disposable": "BOOLEAN",
    "email_is_closed_provider": "BOOLEAN",
    "email_is_personal_provider": "BOOLEAN",
    "phone_type": "VARCHAR",
    "first_name_is_initials": "BOOLEAN",
    "birth_date_ambiguous": "BOOLEAN",
    "loaded_at": "TIMESTAMP",
}

# The golden record: what `customers` holds. Survivorship (pipelines/match/survivorship.py)
# computes GOLDEN_COLUMNS; the matcher stamps `created_at` and `updated_at` (when the golden
# values last changed, not a contact's `updated_at`).
CUSTOMER_COLUMNS: dict[str, str] = {
    "customer_id": "VARCHAR",
    **{k: v for k, v in CANONICAL_TYPES.items() if k != "source_record_id"},
    "email_status": "VARCHAR",
    "phone_status": "VARCHAR",
    "postcode_status": "VARCHAR",
    "birth_date_status": "VARCHAR",
    "country_status": "VARCHAR",  # inferred: taken from another record of the customer
    "newsletter_opt_in_at": "TIMESTAMP",
    "newsletter_opt_in_source": "VARCHAR",
    "double_opt_in": "BOOLEAN",
    "source_count": "INTEGER",
    "sources": "VARCHAR",  # comma-separated source names, for segments and quick reads
    "created_at": "TIMESTAMP",
}
GOLDEN_COLUMNS: tuple[str, ...] = tuple(
    c for c in CUSTOMER_COLUMNS if c not in ("created_at", "updated_at")
)

# Missing-value markers seen in real exports; compared case-insensitively after trimming.
MISSING_MARKERS: tuple[str, ...] = (
    "",
    "null",
    "none",
    "nil",
    "nan",
    "-",
    "--",
    "n.v.t.",
    "nvt",
    "n.v.t",
    "onbekend",
    "unknown",
    "n/a",
    "na",
    "#n/a",
    "?",
    "ej tillämpligt",
    "saknas",
    "okänd",
    # Letters typed to get past a required field; an initial is written with its dot (`X.`).
    "x",
    "xx",
    "xxx",
)
