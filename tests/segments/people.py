"""Build a real warehouse file with hand-made customers and suppressions (no pipeline needed)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.warehouse import connect


def customer(customer_id: str, **values) -> dict:
    """A complete, opted-in, valid Dutch customer; override any column."""
    n = sum(map(ord, customer_id))
    row = {
        "customer_id": customer_id,
        "first_name": "Jan",
        "infix": "van",
        "last_name": f"Dijk{customer_id}",
        "email": f"{customer_id}@example.nl",
        "email_status": "valid",
        "phone": f"+316{n % 100_000_000:08d}",
        "phone_status": "valid",
        "street": "Hoofdstraat",
        "house_number": "12",
        "postcode": "1234 AB",
        "city": "Utrecht",
        "country": "NL",
        "birth_date": date(1980, 5, 17),
        "newsletter_opt_in": True,
        "last_purchase_at": datetime(2026, 1, 10, 12, 0),
        "updated_at": datetime(2026, 11, 1, 9, 0),
        "created_at": datetime(2025, 1, 1, 9, 0),
    }
    row.update(values)
    return row


def insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    """Insert dicts (keys = column names, missing keys NULL) in one statement."""
    if not rows:
        return
    frame = pd.DataFrame.from_records(rows)
    con.register("new_rows", frame)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM new_rows")
    finally:
        con.unregister("new_rows")


def warehouse(
    path: Path, customers: list[dict], suppressions: list[dict] = ()
) -> duckdb.DuckDBPyConnection:
    """A writable warehouse at `path` (schema by `connect`) holding exactly these rows."""
    con = connect(path)
    con.execute("DELETE FROM customers")
    con.execute("DELETE FROM suppressions")
    insert(con, "customers", customers)
    insert(
        con,
        "suppressions",
        [{"source": "test", "at": datetime(2026, 11, 1), **s} for s in suppressions],
    )
    return con
