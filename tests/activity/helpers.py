"""Hand-made warehouses for the activity and metrics tests: customers as the match leaves them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from pipelines.warehouse import connect

NOW = dt.datetime(2026, 6, 1, 12, 0)


def warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    return connect(tmp_path / "warehouse.duckdb")


def add_customer(
    con: duckdb.DuckDBPyConnection,
    customer_id: str,
    *,
    records: list[tuple[str, str, str | None]],
    email: str | None = None,
    created_at: dt.datetime = dt.datetime(2020, 1, 1),
) -> None:
    """A golden customer with its source records (source, source_record_id, email)."""
    con.execute(
        "INSERT INTO customers (customer_id, email, created_at) VALUES (?, ?, ?)",
        [customer_id, email, created_at],
    )
    for source, record_id, rec_email in records:
        con.execute(
            "INSERT INTO customer_sources VALUES (?, ?, ?, 1.0, ?)",
            [customer_id, source, record_id, created_at],
        )
        con.execute(
            """INSERT INTO contacts (source, file_id, line_number, source_record_id, email,
                loaded_at)
               VALUES (?, 'f0', 1, ?, ?, ?)""",
            [source, record_id, rec_email, created_at],
        )


def stage(con: duckdb.DuckDBPyConnection, name: str, header: list[str], rows: list[list]) -> str:
    """A staged relation of raw text, as a parsed drop gives it (line numbers from 2)."""
    cols = ", ".join(f'"{h}" VARCHAR' for h in header)
    con.execute(f"CREATE OR REPLACE TABLE {name} (line_number BIGINT, {cols})")
    con.executemany(
        f"INSERT INTO {name} VALUES (?, {', '.join('?' for _ in header)})",
        [[i + 2, *r] for i, r in enumerate(rows)],
    )
    return name


def metrics(con: duckdb.DuckDBPyConnection, customer_id: str) -> dict:
    cur = con.execute("SELECT * FROM customer_metrics WHERE customer_id = ?", [customer_id])
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    return dict(zip(names, row, strict=True)) if row else {}
