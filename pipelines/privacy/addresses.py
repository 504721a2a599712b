"""The match keys of privacy work: a normalized email address and an E.164 phone number.

Suppressions, consent, tombstones and erasure all compare people by these keys, made by the same
normalizer as `contacts` (pipelines/normalize), so ` Jan.Jansen@Gmail.com ` in a CRM drop and
`jan.jansen@gmail.com` in an unsubscribe file are one address. An address the normalizer calls
invalid (a bounce of `jan@gmial.com`) keeps its trimmed lower-case text as key: it is still the
address the platform mailed. An obvious domain typo is corrected in the key as in `contacts`
(`jan@gmial.com` -> `jan@gmail.com`), so an unsubscribe of either spelling reaches the person.
"""

from __future__ import annotations

import re

import pyarrow as pa

from pipelines.normalize import normalize_email, normalize_phone
from pipelines.normalize.batch import Workers, map_distinct
from pipelines.normalize.email import correct_domain, fast_email_sql
from pipelines.normalize.text import clean_present_sql


def email_key(raw: str | None) -> str | None:
    """` Jan.Jansen@Gmail.com ` -> `jan.jansen@gmail.com`; None when there is no address."""
    result = normalize_email(raw)
    if result.value:
        return result.value
    if result.status == "missing" or raw is None:
        return None
    text = " ".join(str(raw).split()).lower()
    return text or None


def phone_key(raw: str | None, region: str | None) -> str | None:
    """`06-12345678` (NL) -> `+31612345678`; None when missing or not a valid number."""
    return normalize_phone(raw, region).value


def _email_row(raw: str | None) -> tuple:
    return (email_key(raw),)


def _domain_correction_row(domain: str) -> tuple:
    return (correct_domain(domain),)


def _phone_row(pair: tuple[str | None, str | None]) -> tuple:
    return (phone_key(*pair),)


def phone_digit_forms(e164: str) -> set[str]:
    """The digit strings a file may write one number as: `31612345678`, `0031612345678`,
    `0612345678` (trunk prefix), `612345678`, and `310612345678` (`+31 (0)6 1234 5678`)."""
    import phonenumbers

    digits = re.sub(r"\D", "", e164)
    forms = {digits, "00" + digits}
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return forms
    nsn = phonenumbers.national_significant_number(number)
    cc = str(number.country_code)
    forms |= {nsn, "0" + nsn, cc + "0" + nsn, "00" + cc + "0" + nsn}  # also `+31 (0)6 ...`
    return {f for f in forms if len(f) >= 7}


def normalize_address_columns(
    con,
    *,
    table: str,
    email_column: str | None,
    phone_column: str | None,
    region_sql: str,
    out_email: str = "_email_keys",
    out_phone: str = "_phone_keys",
) -> None:
    """Temp tables `out_email(raw, email)` and `out_phone(raw, region, phone)` of the distinct
    values of `table`, normalized once per distinct value (the batch path of the normalizer)."""
    with Workers() as workers:
        if email_column:
            # Fast path (the normalizer's own SQL twins): an address email-validator would accept
            # unchanged but for case is its own key, lower-cased; only the rest goes through
            # Python.
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE _email_clean AS
                    SELECT raw, clean, clean IS NOT NULL AND {fast_email_sql("clean")} AS fast
                    FROM (SELECT raw, {clean_present_sql("raw")} AS clean
                          FROM (SELECT DISTINCT "{email_column}" AS raw FROM {table}
                                WHERE "{email_column}" IS NOT NULL) d) c"""
            )
            map_distinct(
                con,
                workers,
                inputs_sql="SELECT raw FROM _email_clean WHERE clean IS NOT NULL AND NOT fast",
                key_columns={"raw": pa.string()},
                fn=_email_row,
                result_columns={"email": pa.string()},
                table="_email_slow",
                single=True,
            )
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE {out_email} AS
                    SELECT raw, CASE WHEN fast THEN lower(clean) END AS email FROM _email_clean
                    WHERE clean IS NULL OR fast
                    UNION ALL SELECT raw, email FROM _email_slow"""
            )
            # The fast path's domains get the normalizer's domain corrections (once per domain).
            map_distinct(
                con,
                workers,
                inputs_sql=f"""SELECT DISTINCT split_part(email, '@', 2) FROM {out_email} e
                               JOIN _email_clean c USING (raw) WHERE c.fast""",
                key_columns={"domain": pa.string()},
                fn=_domain_correction_row,
                result_columns={"fixed": pa.string()},
                table="_email_fix",
                single=True,
            )
            con.execute(
                f"""UPDATE {out_email} SET email = split_part(email, '@', 1) || '@' || f.fixed
                    FROM _email_fix f, _email_clean c
                    WHERE c.raw = {out_email}.raw AND c.fast AND f.fixed IS NOT NULL
                      AND f.domain = split_part({out_email}.email, '@', 2)"""
            )
            con.execute("DROP TABLE _email_clean")
            con.execute("DROP TABLE _email_slow")
            con.execute("DROP TABLE _email_fix")
        else:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {out_email} (raw VARCHAR, email VARCHAR)")
        if phone_column:
            map_distinct(
                con,
                workers,
                inputs_sql=(
                    f'SELECT DISTINCT "{phone_column}", {region_sql} FROM {table} '
                    f'WHERE "{phone_column}" IS NOT NULL'
                ),
                key_columns={"raw": pa.string(), "region": pa.string()},
                fn=_phone_row,
                result_columns={"phone": pa.string()},
                table=out_phone,
            )
        else:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {out_phone} (raw VARCHAR, region VARCHAR, "
                "phone VARCHAR)"
            )
