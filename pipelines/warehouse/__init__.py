"""The DuckDB warehouse: one read-write process at a time, readers open read-only."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines.settings import private_dir
from pipelines.warehouse.schema import TABLES, ensure_schema

__all__ = [
    "connect",
    "transaction",
    "ensure_schema",
    "sql_literal",
    "only_customers",
    "delete_customers",
    "TABLES",
]


_SIZE_POWERS = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4}


def memory_limit_bytes() -> int:
    """DuckDB's share of memory: CRMCLEAN_DUCKDB_MEMORY_LIMIT (e.g. `8GiB`), else a quarter of
    the machine's RAM, at least 1 GiB. DuckDB spills to disk past it; its default (80% of RAM)
    leaves too little to the Python side and to other processes of the machine."""
    configured = os.environ.get("CRMCLEAN_DUCKDB_MEMORY_LIMIT")
    if configured:
        match = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]?)(i?)B\s*", configured, re.IGNORECASE)
        if not match:
            raise ValueError(
                f"CRMCLEAN_DUCKDB_MEMORY_LIMIT={configured!r}: expected a size such as 4GiB"
            )
        base = 1024 if match[3] else 1000  # GiB or GB, as DuckDB reads them
        return int(float(match[1]) * base ** _SIZE_POWERS[match[2].upper()])
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return max(1 << 30, ram // 4)


def connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; a writer creates it (owner-only) and brings the schema up to date.
    Memory is bounded by `memory_limit_bytes()`."""
    path = Path(path)
    config = {"memory_limit": f"{memory_limit_bytes() >> 20}MiB"}
    if read_only:
        if not path.exists():
            raise FileNotFoundError(f"{path}: no warehouse yet; run `crmclean run` first")
        return duckdb.connect(str(path), read_only=True, config=config)
    private_dir(path.parent)
    old = os.umask(0o077)
    try:
        con = duckdb.connect(str(path), config=config)
    finally:
        os.umask(old)
    if path.exists():
        os.chmod(path, 0o600)
    ensure_schema(con)
    return con


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: a crash inside leaves the warehouse as it was before."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    else:
        con.execute("COMMIT")


def sql_literal(text: str) -> str:
    """`text` as a SQL string literal, for the few places a value is part of generated SQL text
    (file paths in `read_csv`, column labels); values of rows always go in as parameters."""
    return "'" + str(text).replace("'", "''") + "'"


def only_customers(touched: str | None, alias: str) -> str:
    """A join clause keeping the rows of `alias` to the customers in table `touched`
    (customer_id), or nothing when `touched` is None: an incremental refresh and a full rebuild
    share one statement."""
    if touched is None:
        return ""
    return f"SEMI JOIN {touched} _only ON _only.customer_id = {alias}.customer_id"


def delete_customers(con: duckdb.DuckDBPyConnection, table: str, touched: str | None) -> None:
    """Delete the rows of `table` of the customers in table `touched`, or all of them."""
    where = "" if touched is None else f" WHERE customer_id IN (SELECT customer_id FROM {touched})"
    con.execute(f"DELETE FROM {table}{where}")
