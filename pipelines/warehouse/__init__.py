"""The DuckDB warehouse: one read-write process at a time, readers open read-only."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines.settings import private_dir
from pipelines.warehouse.schema import TABLES, ensure_schema

__all__ = ["connect", "transaction", "ensure_schema", "sql_literal", "TABLES"]


def connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; a writer creates it (owner-only) and brings the schema up to date."""
    path = Path(path)
    if read_only:
        if not path.exists():
            raise FileNotFoundError(f"{path}: no warehouse yet; run `crmclean run` first")
        return duckdb.connect(str(path), read_only=True)
    private_dir(path.parent)
    old = os.umask(0o077)
    try:
        con = duckdb.connect(str(path))
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
