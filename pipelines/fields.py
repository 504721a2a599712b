"""The canonical contact schema: one place that names every field and its warehouse type.

Column mappings in `sources.yaml` map file headers onto `MAPPABLE_FIELDS`; the normalizer turns
staged text into `CONTACT_COLUMNS`; the warehouse creates (and additively migrates) `contacts`
from `CONTACT_COLUMNS`. Add a field here and every stage sees it.
"""

from __future__ import annotations

# Canonical fields of DESIGN.md section 4, in export order.
CANONICAL_FIELDS: tuple[str, ...] = (
    "source_record_id",
    "first_name",
    "infix",
    "last_name",
    "email",
    "phone",
    "street",
    "house_number",
    "house_number_suffix",
    "postcode",
    "city",
    "country",
    "birth_date",
    "newsletter_opt_in",
    "last_purchase_at",
    "updated_at",
)

# Fields a source file may carry, besides the canonical ones: a combined address line
# ("Hoofdstraat 12a") that the normalizer splits, the opt-in time and a double opt-in flag.
EXTRA_INPUT_FIELDS: tuple[str, ...] = (
    "address_line",
    "newsletter_opt_in_at",
    "double_opt_in",
)

MAPPABLE_FIELDS: tuple[str, ...] = CANONICAL_FIELDS + EXTRA_INPUT_FIELDS

# Fields of the other source kinds: suppression events from the email platform, erasure requests.
SUPPRESSION_FIELDS: tuple[str, ...] = ("email", "phone", "event", "at", "campaign")
ERASURE_FIELDS: tuple[str, ...] = ("email", "phone", "customer_id", "requested_at", "request_id")

# Columns of `staged_rows`: every field any source kind can map, as raw text.
STAGED_FIELDS: tuple[str, ...] = tuple(
    dict.fromkeys(MAPPABLE_FIELDS + SUPPRESSION_FIELDS + ERASURE_FIELDS)
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

# Typed canonical columns of `contacts`.
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
