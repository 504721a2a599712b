"""Match features: each contact reduced to the plain, comparable values the matcher looks at.

One SQL pass over `contacts` builds the temp table `_m_feat`: names in lower-case ASCII
letters (the infix glued to the surname, so `van den Berg` and `Van Den Berg` agree), e-mail and
phone only where the normalizer found them usable, the postcode without spaces, the house
number with its suffix. Two fingerprints tell later runs what changed: `match_hash` over the
match features (the record must be matched again) and `row_hash` over the whole row (only its
customer's golden values must be recomputed).

`phone_is_personal`: a mobile number (or an identifier of unknown type) belongs to one person;
a fixed line is shared by a household, so agreeing on it says less about who someone is.
"""

from __future__ import annotations

import duckdb

from pipelines.fields import CONTACT_COLUMNS
from pipelines.match_definitions import FEATURE_TYPES

# A value counts for matching unless the normalizer called it invalid or missing; an address at a
# closed mail provider is dead for mailing but still identifies its person.
_USABLE = "coalesce({f}_status, 'valid') IN ('valid', 'corrected')"

# The columns of `_m_feat` besides (source, source_record_id, match_hash, row_hash); kept in
# `match_records` so that a daily run derives them only for new and changed contacts.
FEATURE_COLUMNS: tuple[str, ...] = tuple(FEATURE_TYPES)


def _letters(expr: str, keep_spaces: bool) -> str:
    """Lower-case ASCII letters of `expr` (accents stripped, hyphens and dots as spaces)."""
    spaced = f"regexp_replace(lower(strip_accents({expr})), '[-.]', ' ', 'g')"
    if keep_spaces:
        return (
            f"nullif(trim(regexp_replace(regexp_replace({spaced}, '[^a-z ]', '', 'g'), "
            "' +', ' ', 'g')), '')"
        )
    return f"nullif(regexp_replace({spaced}, '[^a-z]', '', 'g'), '')"


def _row_hash_sql() -> str:
    """A fingerprint of the whole row (load bookkeeping aside).

    DuckDB's `hash` over the columns is several times faster than md5 over their text; should
    a DuckDB upgrade change it, every record looks changed once and is simply matched again.
    """
    skip = {"file_id", "line_number", "loaded_at"}
    return (
        "CAST(hash("
        + ", ".join(f'"{c}"' for c in CONTACT_COLUMNS if c not in skip)
        + ") AS VARCHAR)"
    )


def build_row_hashes(con: duckdb.DuckDBPyConnection) -> None:
    """Create `_m_seen(source, source_record_id, row_hash)`: every contact and its fingerprint."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _m_seen AS SELECT source, source_record_id, "
        f"{_row_hash_sql()} AS row_hash FROM contacts"
    )


def build_features(
    con: duckdb.DuckDBPyConnection, only: str | None = None, carry: tuple[str, ...] = ()
) -> int:
    """Create `_m_feat` (one row per contact) and return its row count (one pass over `contacts`).

    With `only` (a table of source, source_record_id), just for those contacts, and with the
    `carry` columns of `only` passed through.
    """
    source = "contacts"
    if only:
        extra = "".join(f", o.{c}" for c in carry)
        source = (
            f"(SELECT c.*{extra} FROM contacts c JOIN {only} o "
            f"ON o.source = c.source AND o.source_record_id = c.source_record_id)"
        )
    carried = "".join(f", {c}" for c in carry)
    usable = {
        f: _USABLE.format(f=f)
        for f in (
            "email",
            "phone",
            "postcode",
            "first_name",
            "last_name",
            "street",
            "house_number",
            "birth_date",
        )
    }
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _m_feat AS
        WITH named AS (
            SELECT source, source_record_id,
                   CASE WHEN {usable["first_name"]} THEN {_letters("first_name", True)} END
                       AS fn_full,
                   coalesce(first_name_is_initials, false) AS fn_flag_initials,
                   CASE WHEN {usable["last_name"]}
                        THEN {_letters("concat_ws(' ', infix, last_name)", False)} END AS ln,
                   CASE WHEN {usable["email"]} OR coalesce(email_is_closed_provider, false)
                        THEN nullif(lower(trim(email)), '') END AS email,
                   CASE WHEN {usable["phone"]} THEN nullif(trim(phone), '') END AS phone,
                   CASE WHEN {usable["postcode"]}
                        THEN nullif(upper(replace(postcode, ' ', '')), '') END AS postcode,
                   CASE WHEN {usable["house_number"]}
                        THEN nullif(upper(concat(trim(house_number),
                                                 coalesce(trim(house_number_suffix), ''))), '') END
                       AS house_number,
                   CASE WHEN {usable["street"]} THEN {_letters("street", True)} END AS street,
                   {_letters("city", True)} AS city,
                   CASE WHEN {usable["birth_date"]} THEN birth_date END AS birth_date,
                   coalesce(phone_type = 'mobile', phone_type IS NULL) AS phone_is_personal,
                   {_row_hash_sql()} AS row_hash{carried}
            FROM {source} c
        )
        SELECT source, source_record_id,
               split_part(fn_full, ' ', 1) AS fn,
               left(fn_full, 1) AS fn_initial,
               (fn_flag_initials OR length(split_part(fn_full, ' ', 1)) = 1) AS fn_is_initials,
               ln, email,
               CASE WHEN email LIKE '%@%' THEN split_part(email, '@', 1) END AS email_local,
               phone, phone_is_personal, postcode, house_number,
               nullif(regexp_extract(house_number, '^[0-9]+', 0), '') AS hn_base,
               postcode || ' ' || house_number AS address_key,
               street, city, birth_date,
               CAST(hash(fn_full, ln, email, phone, postcode, house_number, street, city,
                         birth_date, phone_is_personal) AS VARCHAR) AS match_hash,
               row_hash{carried}
        FROM named
        """
    )
    return con.execute("SELECT count(*) FROM _m_feat").fetchall()[0][0]
