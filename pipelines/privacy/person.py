"""One person as the warehouse knows them: the customers, source records, addresses and the
written forms of those addresses, found from an email, a phone and/or a customer id.

Erasure (erasure.py) and the right of access (export_person.py) start here. A person is:
- the customers whose id is given or whose normalized email / E.164 phone equals a given one;
- the source records of those customers, and every contact whose email, phone, written email,
  written phone or email suggestion equals a given value (and their surrogate `record_key`s);
- every email and phone those rows hold, normalized and as written.
`person_predicate` turns that into a SQL condition for any warehouse table, from its column
names: `customer_id` columns, (source, source_record_id) pairs, `record_key` / `left_key` /
`right_key` columns, columns named after email or phone, and a text search in raw columns
(`raw_line`, `extra`, `comparison`) and in every text column of tables outside the warehouse
contract (a table added later is covered too). The text search matches an email anywhere, and
field by field a phone's digits, a customer id, or a source record id of 5+ characters (shorter
ids would hit house numbers).

Log texts (`LOG_TEXT_COLUMNS`: a load error, a check's detail) are about a file, not a person, yet
may quote one: a drop without a header row has a data row for header, and the error says
"header is: 1001, Jan, jan@...". `mention_predicate` finds such rows by the person's email or
phone; erasure replaces those texts (`redact_sql`) and keeps the row, the record of what
happened to the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import duckdb

from pipelines.normalize.text import clean_text
from pipelines.privacy.addresses import email_key, phone_digit_forms, phone_key
from pipelines.warehouse.schema import TABLES

# Columns holding free text that may quote a value anywhere inside it.
FREE_TEXT_COLUMNS = frozenset({"raw_line", "extra", "comparison"})
# Tables that never hold personal data (the audit trail itself).
NEVER_SWEPT = frozenset({"erasure_log", "tombstones"})
# Columns about a value rather than holding it (`email_status`, `phone_type`, ...).
DERIVED_SUFFIXES = (
    "_status",
    "_reason",
    "_type",
    "_level",
    "_weight",
    "_is_role",
    "_is_disposable",
)
# Surrogate keys of source records (the matcher's record_key and its edges' left/right keys).
KEY_COLUMNS = frozenset({"record_key", "left_key", "right_key"})
RECORD_KEYS = (
    ("source", "source_record_id"),
    ("left_source", "left_record_id"),
    ("right_source", "right_record_id"),
)
SPLIT_FIELDS = r"'[,;\t|]'"
# Free text about files, loads and checks that may quote a record (see the module docstring),
# and what replaces a text that mentions the person (JSON lists stay JSON lists).
ERASED_TEXT = "[erased: quoted a person who was erased]"
LOG_TEXT_COLUMNS = {
    "ingest_log": {
        "error": ERASED_TEXT,
        "columns_missing": '["[erased]"]',
        "columns_extra": '["[erased]"]',
    },
    "quality_checks": {"detail": ERASED_TEXT},
    "export_log": {"error": ERASED_TEXT},
}
UNIT = "\x1f"  # joins source and source_record_id in one comparable value


@dataclass
class Person:
    customer_ids: set[str] = field(default_factory=set)
    records: set[tuple[str, str]] = field(default_factory=set)  # (source, source_record_id)
    emails: set[str] = field(default_factory=set)  # normalized: what tombstones hash
    phones: set[str] = field(default_factory=set)  # E.164: what tombstones hash
    email_texts: set[str] = field(default_factory=set)  # every written form, trimmed, lower case
    phone_texts: set[str] = field(default_factory=set)  # every written form, trimmed

    @property
    def digit_forms(self) -> set[str]:
        """Digit strings of the phone numbers (`0612345678`, `31612345678`, ...), 7+ digits."""
        out: set[str] = set()
        for p in self.phones:
            out |= phone_digit_forms(p)
        for t in self.phone_texts:
            d = re.sub(r"\D", "", t)
            if len(d) >= 7:
                out.add(d)
        return out

    @property
    def email_tokens(self) -> set[str]:
        return {e.lower() for e in self.emails | self.email_texts if e and "@" in e}

    @property
    def phone_tokens(self) -> set[str]:
        return {p for p in self.phones | self.phone_texts if p}

    def merge(self, other: Person) -> Person:
        return Person(
            self.customer_ids | other.customer_ids,
            self.records | other.records,
            self.emails | other.emails,
            self.phones | other.phones,
            self.email_texts | other.email_texts,
            self.phone_texts | other.phone_texts,
        )

    @property
    def found(self) -> bool:
        return bool(self.customer_ids or self.records)


def _lower_text(value: str | None) -> str | None:
    clean = clean_text(value)
    return clean.lower() if clean else None


def find_person(
    con: duckdb.DuckDBPyConnection,
    *,
    email: str | None = None,
    phone: str | None = None,
    customer_id: str | None = None,
    region: str | None = None,
) -> Person:
    """Everything that identifies the person with these values (see the module docstring)."""
    person = Person()
    e, p = email_key(email), phone_key(phone, region)
    e_text, p_text = _lower_text(email), clean_text(phone)
    person.emails |= {v for v in (e,) if v}
    person.email_texts |= {v for v in (e_text,) if v}
    person.phones |= {v for v in (p,) if v}
    person.phone_texts |= {v for v in (p_text,) if v}
    cid = clean_text(customer_id)
    if cid:
        person.customer_ids.add(cid)

    emails = sorted(person.emails | person.email_texts) or [None]
    phones = sorted(person.phones | person.phone_texts) or [None]
    con.execute("CREATE OR REPLACE TEMP TABLE _seed_emails (v VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE _seed_phones (v VARCHAR)")
    con.executemany("INSERT INTO _seed_emails VALUES (?)", [[v] for v in emails])
    con.executemany("INSERT INTO _seed_phones VALUES (?)", [[v] for v in phones])
    person.customer_ids |= {
        r[0]
        for r in con.execute(
            """SELECT customer_id FROM customers
               WHERE customer_id = ? OR email IN (SELECT v FROM _seed_emails)
                  OR phone IN (SELECT v FROM _seed_phones)""",
            [cid],
        ).fetchall()
    }
    person.records |= {
        (r[0], r[1])
        for r in con.execute(
            """SELECT source, source_record_id FROM contacts
               WHERE email IN (SELECT v FROM _seed_emails)
                  OR email_suggestion IN (SELECT v FROM _seed_emails)
                  OR lower(trim(email_raw)) IN (SELECT v FROM _seed_emails)
                  OR phone IN (SELECT v FROM _seed_phones)
                  OR trim(phone_raw) IN (SELECT v FROM _seed_phones)"""
        ).fetchall()
    }
    _load_keys(con, person)
    person.records |= {
        (r[0], r[1])
        for r in con.execute(
            "SELECT source, source_record_id FROM customer_sources "
            "WHERE customer_id IN (SELECT v FROM _person_customers)"
        ).fetchall()
    }
    _load_keys(con, person)
    person.customer_ids |= {
        r[0]
        for r in con.execute(
            """SELECT cs.customer_id FROM customer_sources cs JOIN _person_records r
               ON r.source = cs.source AND r.source_record_id = cs.source_record_id"""
        ).fetchall()
    }
    _load_keys(con, person)
    for em, ph, em_raw, ph_raw, suggestion in con.execute(
        """SELECT c.email, c.phone, c.email_raw, c.phone_raw, c.email_suggestion
           FROM contacts c JOIN _person_records r
           ON r.source = c.source AND r.source_record_id = c.source_record_id"""
    ).fetchall():
        person.emails |= {v for v in (em, suggestion) if v}
        person.phones |= {v for v in (ph,) if v}
        person.email_texts |= {v for v in (_lower_text(em_raw),) if v and "@" in v}
        person.phone_texts |= {v for v in (clean_text(ph_raw),) if v}
    for em, ph in con.execute(
        "SELECT email, phone FROM customers WHERE customer_id IN (SELECT v FROM _person_customers)"
    ).fetchall():
        person.emails |= {v for v in (em,) if v}
        person.phones |= {v for v in (ph,) if v}
    for t in ("_seed_emails", "_seed_phones"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    return person


def _load_keys(con: duckdb.DuckDBPyConnection, person: Person) -> None:
    """Temp tables `_person_customers(v)` and `_person_records(source, source_record_id)`."""
    con.execute("CREATE OR REPLACE TEMP TABLE _person_customers (v VARCHAR)")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _person_records (source VARCHAR, source_record_id VARCHAR)"
    )
    if person.customer_ids:
        con.executemany(
            "INSERT INTO _person_customers VALUES (?)", [[v] for v in sorted(person.customer_ids)]
        )
    if person.records:
        con.executemany("INSERT INTO _person_records VALUES (?, ?)", sorted(person.records))


def person_params(con: duckdb.DuckDBPyConnection, person: Person) -> dict[str, list]:
    """The values `person_predicate` compares with, as query parameters (never in the SQL text,
    so no error message can quote them): customer ids, source records (`source<US>id`), their
    surrogate `record_key`s in any table that maps (source, source_record_id) to one (the
    matcher's `match_records`), emails (lower case), phones (as written and E.164), their digit
    forms, and source record ids of 5+ characters for the text search."""
    records = sorted(f"{s}{UNIT}{r}" for s, r in person.records)
    keys: list[int] = []
    for table, columns in warehouse_tables(con).items():
        if {"record_key", "source", "source_record_id"} <= set(
            columns
        ) and table not in NEVER_SWEPT:
            keys += [
                k
                for (k,) in con.execute(
                    f"SELECT record_key FROM {_ident(table)} "
                    "WHERE list_contains($records, source || chr(31) || source_record_id)",
                    {"records": records},
                ).fetchall()
            ]
    return {
        "customers": sorted(person.customer_ids),
        "records": records,
        "record_keys": sorted(set(keys)),
        "record_ids": sorted({r for _, r in person.records if len(r) >= 5}),
        "emails": sorted(person.email_tokens),
        "phones": sorted(person.phone_tokens),
        "digits": sorted(person.digit_forms),
        "digit_pattern": digit_pattern(person.digit_forms),
        "mentions": mention_pattern(person),
    }


def mention_pattern(person: Person) -> str:
    """A case-insensitive regular expression (RE2 and Python) of the person's email addresses and
    of every written form of their numbers: how a log text mentions them."""
    parts = [re.sub(r"([^\w@])", r"\\\1", e) for e in sorted(person.email_tokens)]
    if person.digit_forms:
        parts.append(digit_pattern(person.digit_forms))
    return "(?i)(" + "|".join(parts) + ")" if parts else "\x00\x01never"


def digit_pattern(forms: set[str]) -> str:
    """A regular expression that finds every written form of these numbers (the shortest digit
    strings with any separators between the digits): a cheap filter before the exact test."""
    shortest = sorted(d for d in forms if not any(o != d and o in d for o in forms))
    if not shortest:
        return "\x00\x01never"
    return "|".join("[ ./()+-]*".join(d) for d in shortest)


def params_for(sql: str, params: dict[str, list]) -> dict[str, list]:
    """The parameters `sql` uses (DuckDB refuses unused ones)."""
    return {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}


def warehouse_tables(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """Every base table of the main schema with its columns and types."""
    out: dict[str, dict[str, str]] = {}
    for table, column, typ in con.execute(
        """SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
           JOIN information_schema.tables t ON t.table_name = c.table_name
                                               AND t.table_schema = c.table_schema
           WHERE c.table_schema = 'main' AND t.table_type = 'BASE TABLE'
           ORDER BY c.table_name, c.ordinal_position"""
    ).fetchall():
        out.setdefault(table, {})[column] = typ
    return out


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def person_predicate(table: str, columns: dict[str, str]) -> str | None:
    """A SQL condition on rows of `table` that hold the person (None: the table cannot).
    Run it with `params_for(sql, person_params(...))`."""
    if table in NEVER_SWEPT:
        return None
    t = _ident(table)
    preds: list[str] = []
    for col in columns:
        if col == "customer_id" or col.endswith("_customer_id"):
            preds.append(f"list_contains($customers, {t}.{_ident(col)})")
        if col in KEY_COLUMNS:
            preds.append(f"list_contains($record_keys, {t}.{_ident(col)})")
    for src, rid in RECORD_KEYS:
        if src in columns and rid in columns:
            preds.append(
                f"list_contains($records, {t}.{_ident(src)} || chr(31) || {t}.{_ident(rid)})"
            )
    for col, typ in columns.items():
        if typ != "VARCHAR":
            continue
        c = f"{t}.{_ident(col)}"
        derived = col.endswith(DERIVED_SUFFIXES)
        if "email" in col and not derived:
            preds.append(f"list_contains($emails, lower(trim({c})))")
        elif "phone" in col and not derived:
            preds.append(
                f"(list_contains($phones, trim({c})) OR (regexp_matches({c}, $digit_pattern) "
                f"AND list_contains($digits, translate({c}, ' -./()+', ''))))"
            )
        if col in FREE_TEXT_COLUMNS or table not in TABLES:
            fields = f"string_split_regex({c}, {SPLIT_FIELDS})"
            preds.append(f"len(list_filter($emails, lambda e: contains(lower({c}), e))) > 0")
            preds.append(
                f"list_has_any(list_transform({fields}, "
                "lambda x: regexp_replace(x, '[^0-9]', '', 'g')), $digits)"
            )
            preds.append(
                f"list_has_any(list_transform({fields}, lambda x: trim(x, ' \"')), $customers)"
            )
            preds.append(
                f"list_has_any(list_transform({fields}, lambda x: trim(x, ' \"')), $record_ids)"
            )
    return " OR ".join(f"({p})" for p in preds) if preds else None


def mention_predicate(table: str, columns: dict[str, str]) -> str | None:
    """A SQL condition on rows of `table` whose log texts mention the person (None: it has none).
    Run it with `params_for(sql, person_params(...))`."""
    texts = [c for c in LOG_TEXT_COLUMNS.get(table, {}) if columns.get(c) == "VARCHAR"]
    if not texts:
        return None
    return " OR ".join(f"coalesce(regexp_matches({_ident(c)}, $mentions), false)" for c in texts)


def redact_sql(table: str, columns: dict[str, str]) -> str | None:
    """UPDATE that replaces each log text of `table` that mentions the person as a whole: a
    quoted record holds more than the email and phone (name, street, birth date)."""
    texts = {
        c: r for c, r in LOG_TEXT_COLUMNS.get(table, {}).items() if columns.get(c) == "VARCHAR"
    }
    if not texts:
        return None
    sets = ", ".join(
        (
            f"{_ident(c)} = CASE WHEN coalesce(regexp_matches({_ident(c)}, $mentions), false) "
            f"THEN '{r}' ELSE {_ident(c)} END"
        )
        for c, r in texts.items()
    )
    return f"UPDATE {_ident(table)} SET {sets} WHERE {mention_predicate(table, columns)}"
