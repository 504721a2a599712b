"""Keep segment SQL inside the warehouse: a filter or order_by may not read files or the
environment.

Two independent layers:

1. `outside_reach` parses the SQL with DuckDB's own parser (`json_serialize_sql`) and refuses
   table functions (`read_csv`, `glob`, `pragma_*`, ...), tables that are not warehouse tables
   (a quoted file name such as `'/etc/passwd'` is read as a table name), other catalogs, and
   functions that read the environment or files (`getenv`, `read_text`, `current_setting`, ...);
   the tokenizer refuses comments and `;`. Statements (`COPY`, `ATTACH`, `INSTALL`, `LOAD`, `SET`,
   `PRAGMA`) cannot be part of one expression: they fail the parse. Config loading calls it, so a
   bad filter is refused naming the file, key and reason.
2. `lock_down` disables DuckDB's external access on the export connection (only the export's
   staging folder stays writable, for COPY) and locks the configuration, so even SQL that got past
   the check could not read a file, the environment or load an extension.
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from pathlib import Path

import duckdb

from pipelines.warehouse.schema import TABLES

# Scalar functions that read files, the environment or settings; table functions are refused whole.
BLOCKED_FUNCTIONS = frozenset(
    {
        "getenv",
        "current_setting",
        "read_text",
        "read_blob",
        "glob",
        "which_secret",
        "load_extension",
        "install_extension",
        "sniff_csv",
        "query",
        "query_table",
        "system",
    }
)
BLOCKED_PREFIXES = (
    "read_",
    "pragma",
    "duckdb_",
    "parquet_",
    "sqlite_",
    "postgres_",
    "mysql_",
    "iceberg_",
    "delta_",
)
# Statement words that have no place in an expression (a typed literal would hide them from
# the parse).
STATEMENT_WORDS = frozenset(
    {
        "copy",
        "attach",
        "detach",
        "install",
        "load",
        "set",
        "reset",
        "pragma",
        "call",
        "export",
        "import",
        "checkpoint",
        "vacuum",
        "create",
        "drop",
        "insert",
        "update",
        "delete",
        "alter",
        "use",
    }
)
# Views the segment SQL itself defines (pipelines/segments/build.py) besides the warehouse tables.
SEGMENT_VIEWS = frozenset({"segment_candidates", "segment_suppressed", "allowed"})


_parser_lock = threading.Lock()
_parser: duckdb.DuckDBPyConnection | None = None


def _parse(sql: str) -> dict:
    """DuckDB's parse tree of `sql` as JSON, from one shared in-memory connection (a new one per
    call would cost more than the parse)."""
    global _parser
    with _parser_lock:
        if _parser is None:
            _parser = duckdb.connect()
        return json.loads(_parser.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])


def _tables() -> frozenset[str]:
    return frozenset(TABLES) | SEGMENT_VIEWS


def _walk(node, found: dict[str, set[str]]) -> None:
    if isinstance(node, dict):
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            fn = (node.get("function") or {}).get("function_name", "?")
            found["table_functions"].add(fn.lower())
        elif kind == "BASE_TABLE":
            found["tables"].add(node.get("table_name", ""))
            catalog, schema = node.get("catalog_name"), node.get("schema_name")
            if catalog or schema not in ("", "main"):
                found["catalogs"].add(".".join(p for p in (catalog, schema) if p))
        elif node.get("class") == "FUNCTION" and "function_name" in node:
            found["functions"].add(str(node["function_name"]).lower())
        ctes = node.get("cte_map")
        for entry in ctes.get("map", []) if isinstance(ctes, dict) else []:
            found["ctes"].add(str(entry.get("key", "")).lower())
        for value in node.values():
            _walk(value, found)
    elif isinstance(node, list):
        for value in node:
            _walk(value, found)


@lru_cache(maxsize=256)
def outside_reach(text: str, *, as_: str = "filter") -> str | None:
    """Why `text` (a filter expression, or an order_by list with `as_="order_by"`) could read
    outside the warehouse tables or break out of its clause; None when it stays inside or does
    not parse (a syntax error is reported by `validate_segment`, with DuckDB's message)."""
    try:
        tokens = duckdb.tokenize(text)
    except duckdb.Error:
        return None  # not SQL at all: validate_segment reports the syntax error
    ends = [p for p, _ in tokens[1:]] + [len(text)]
    for (position, kind), end in zip(tokens, ends):
        word = text[position:end].strip().lower()
        if (
            kind in (duckdb.token_type.identifier, duckdb.token_type.keyword)
            and word in STATEMENT_WORDS
        ):
            return f"{word.upper()} is a statement, not allowed in a segment expression"
        if kind == duckdb.token_type.comment:
            return "comments are not allowed (they could hide the rest of the query)"
        if kind == duckdb.token_type.operator and text[position] == ";":
            return "';' is not allowed: a segment is one expression, not statements"
    sql = (
        f"SELECT 1 FROM segment_candidates WHERE ({text})"
        if as_ == "filter"
        else (f"SELECT 1 FROM segment_candidates ORDER BY {text}")
    )
    tree = _parse(sql)
    if tree.get("error"):
        return None  # a syntax error: validate_segment reports it with DuckDB's message
    found: dict[str, set[str]] = {
        k: set() for k in ("table_functions", "tables", "catalogs", "functions", "ctes")
    }
    _walk(tree, found)
    if found["table_functions"]:
        return (
            f"table function {', '.join(sorted(found['table_functions']))}() is not allowed: "
            "a segment reads warehouse tables only"
        )
    if found["catalogs"]:
        return (
            f"{', '.join(sorted(found['catalogs']))}: only the warehouse's own tables can be read"
        )
    known = _tables() | found["ctes"]
    unknown = sorted(t for t in found["tables"] if t.lower() not in known)
    if unknown:
        return (
            f"{', '.join(map(repr, unknown))} is not a warehouse table "
            "(files cannot be read from a segment)"
        )
    blocked = sorted(
        f for f in found["functions"] if f in BLOCKED_FUNCTIONS or f.startswith(BLOCKED_PREFIXES)
    )
    if blocked:
        return (
            f"{', '.join(blocked)}() reads files, settings or the environment "
            "and is not allowed in a segment"
        )
    return None


def lock_down(con: duckdb.DuckDBPyConnection, writable: Path) -> None:
    """Disable external access on `con`'s database (files, environment, extensions, other
    databases), except writing under `writable` (the export's staging folder), and lock the
    configuration so no later SQL can turn it back on. Applies to the whole database instance
    until it is closed; an already locked connection is accepted only when `writable` is among
    its allowed folders."""
    folder = str(Path(writable).absolute()).rstrip("/") + "/"
    locked, external = con.execute(
        "SELECT current_setting('lock_configuration'), current_setting('enable_external_access')"
    ).fetchone()
    if locked:
        allowed = con.execute("SELECT current_setting('allowed_directories')").fetchone()[0] or []
        if external or not any(folder.startswith(str(a).rstrip("/") + "/") for a in allowed):
            raise RuntimeError(
                f"the warehouse connection is locked without write access to {folder}; "
                "open a new connection for this export"
            )
        return
    allowed = con.execute("SELECT current_setting('allowed_directories')").fetchone()[0] or []
    con.execute("SET allowed_directories = ?", [[*allowed, folder]])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
