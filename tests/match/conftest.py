"""Real DuckDB warehouses with hand-written `contacts` rows, and a helper to run the matcher."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from pipelines.fields import CONTACT_COLUMNS, VALIDATED_FIELDS
from pipelines.match import MatchSettings, build_customers
from pipelines.warehouse import connect, transaction

NOW = datetime(2026, 3, 1, 6, 0)


def contact(source: str, record_id: str, **values) -> dict:
    """One `contacts` row: given values, every other column NULL, statuses `valid` / `missing`."""
    row = {c: None for c in CONTACT_COLUMNS}
    row.update(source=source, source_record_id=record_id, file_id=f"{source}-file", line_number=1)
    row.update(values)
    if isinstance(row.get("birth_date"), str):
        row["birth_date"] = date.fromisoformat(row["birth_date"])
    for f in VALIDATED_FIELDS:
        if row.get(f"{f}_status") is None:
            row[f"{f}_status"] = "missing" if row.get(f) is None else "valid"
    row.setdefault("loaded_at", NOW)
    if row["loaded_at"] is None:
        row["loaded_at"] = NOW
    return row


_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "DATE": pa.date32(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP": pa.timestamp("us"),
}


def add_contacts(con, rows: list[dict]) -> None:
    """INSERT the rows into `contacts`, replacing earlier versions of the same source records."""
    schema = pa.schema([(c, _ARROW_TYPES[t]) for c, t in CONTACT_COLUMNS.items()])
    batch = pa.Table.from_pylist(
        [{c: row[c] for c in CONTACT_COLUMNS} for row in rows], schema=schema
    )
    con.register("_test_rows", batch)
    con.execute(
        """DELETE FROM contacts WHERE EXISTS (SELECT 1 FROM _test_rows t
               WHERE t.source = contacts.source
                 AND t.source_record_id = contacts.source_record_id)"""
    )
    cols = ", ".join(CONTACT_COLUMNS)
    con.execute(f"INSERT INTO contacts ({cols}) SELECT {cols} FROM _test_rows")
    con.unregister("_test_rows")


def remove_contacts(con, keys: list[tuple[str, str]]) -> None:
    for source, record_id in keys:
        con.execute(
            "DELETE FROM contacts WHERE source = ? AND source_record_id = ?", [source, record_id]
        )


def run(
    con,
    *,
    settings: MatchSettings | None = None,
    overrides: Path | None = None,
    now: datetime = NOW,
    priority: dict[str, int] | None = None,
    spark=None,
):
    with transaction(con):
        return build_customers(
            con,
            settings=settings or MatchSettings(),
            source_priority=priority or {"crm": 1, "webshop": 2},
            overrides_path=overrides,
            now=now,
            spark=spark,
        )


def customer_of(con, source: str, record_id: str) -> str:
    row = con.execute(
        "SELECT customer_id FROM customer_sources WHERE source = ? AND source_record_id = ?",
        [source, record_id],
    ).fetchall()
    assert row, f"{source}:{record_id} has no customer"
    return row[0][0]


def partition(con) -> set[frozenset[tuple[str, str]]]:
    """The grouping of source records into customers, ids aside."""
    groups: dict[str, set] = {}
    for cid, source, rid in con.execute(
        "SELECT customer_id, source, source_record_id FROM customer_sources"
    ).fetchall():
        groups.setdefault(cid, set()).add((source, rid))
    return {frozenset(g) for g in groups.values()}


@pytest.fixture
def warehouse(tmp_path: Path):
    con = connect(tmp_path / "warehouse.duckdb")
    yield con
    con.close()
