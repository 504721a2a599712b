"""Helpers for the normalizer tests: the case table and a staged table builder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from pipelines.config import Source

TODAY = dt.date(2025, 11, 23)
DEFAULT_COUNTRY = "NL"
CASES_FILE = Path(__file__).with_name("cases.yaml")


def load_cases() -> dict[str, list[list[Any]]]:
    return yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))


def source_for(columns: list[str], **options: Any) -> Source:
    """A contacts source mapping `columns` (each to a header of the same name)."""
    mapped = {c: c for c in dict.fromkeys(["source_record_id", *columns])}
    return Source(columns=mapped, **options)


def stage_rows(
    con: duckdb.DuckDBPyConnection, name: str, rows: list[dict[str, Any]], fields: list[str]
) -> None:
    """A staged table like the loader's view: lineage plus one VARCHAR column per mapped field."""
    cols = ", ".join(f'"{f}" VARCHAR' for f in fields)
    con.execute(
        f"CREATE OR REPLACE TABLE {name} (source VARCHAR, file_id VARCHAR, "
        f"line_number BIGINT, {cols})"
    )
    if not rows:
        return
    placeholders = ", ".join("?" for _ in range(3 + len(fields)))
    con.executemany(
        f"INSERT INTO {name} VALUES ({placeholders})",
        [["test", "f1", i + 2, *[row.get(f) for f in fields]] for i, row in enumerate(rows)],
    )


def fetch_by_line(con: duckdb.DuckDBPyConnection, table: str) -> dict[int, dict[str, Any]]:
    cur = con.execute(f"SELECT * FROM {table}")
    names = [d[0] for d in cur.description]
    return {row[names.index("line_number")]: dict(zip(names, row)) for row in cur.fetchall()}


@pytest.fixture
def con(tmp_path: Path):
    """A real DuckDB file, as the warehouse is."""
    connection = duckdb.connect(str(tmp_path / "normalize.duckdb"))
    yield connection
    connection.close()
