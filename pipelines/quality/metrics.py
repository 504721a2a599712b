"""Quality figures in `quality_metrics`: computed in DuckDB SQL over whole tables, never row loops.

Per load (one drop): volume, fill rate per mapped field, validity per validated field.
Per warehouse snapshot (load_id `warehouse`): duplicate rate and customer-level fill rates.
"""

from __future__ import annotations

import duckdb

from pipelines.fields import CANONICAL_FIELDS, VALIDATED_FIELDS

VALID = "('valid', 'corrected')"


def _insert(con: duckdb.DuckDBPyConnection, load_id: str, source: str | None, figures: list[tuple[str, str | None, float | None]]) -> None:
    if figures:
        con.executemany(
            "INSERT INTO quality_metrics (load_id, source, metric, field, value, measured_at) VALUES (?, ?, ?, ?, ?, now())",
            [(load_id, source, m, f, v) for m, f, v in figures],
        )


def record_load_metrics(con: duckdb.DuckDBPyConnection, normalized: str, *, load_id: str, source: str, fields: list[str]) -> list[tuple]:
    """Fill rate and validity of one drop, from its normalized rows (before the upsert)."""
    con.execute("DELETE FROM quality_metrics WHERE load_id = ?", [load_id])
    canon = [f for f in CANONICAL_FIELDS if f in fields or (f in ("street", "house_number", "house_number_suffix") and "address_line" in fields)]
    validated = [f for f in VALIDATED_FIELDS if f in canon]
    exprs = ["count(*)"]
    exprs += [f'avg(CASE WHEN "{f}" IS NOT NULL THEN 1.0 ELSE 0.0 END)' for f in canon]
    exprs += [
        f"CASE WHEN count(*) FILTER (WHERE {f}_status <> 'missing') = 0 THEN NULL ELSE "
        f"count(*) FILTER (WHERE {f}_status IN {VALID}) / count(*) FILTER (WHERE {f}_status <> 'missing') END"
        for f in validated
    ]
    row = con.execute(f"SELECT {', '.join(exprs)} FROM {normalized}").fetchone()
    figures: list[tuple] = []
    i = 1
    for f in canon:
        figures.append(("fill_rate", f, row[i]))
        i += 1
    for f in validated:
        figures.append(("validity", f, row[i]))
        i += 1
    vol = con.execute("SELECT rows_read, rows_loaded, rows_rejected FROM ingest_log WHERE file_id = ?", [load_id]).fetchone()
    if vol:
        figures += [("rows_read", None, vol[0]), ("rows_loaded", None, vol[1]), ("rows_rejected", None, vol[2])]
        figures.append(("rejected_share", None, (vol[2] / vol[0]) if vol[0] else 0.0))
    _insert(con, load_id, source, figures)
    return figures


def record_warehouse_metrics(con: duckdb.DuckDBPyConnection, *, load_id: str) -> list[tuple]:
    """Snapshot figures over all contacts and customers (duplicates, customer fill rates)."""
    contacts, customers = con.execute(
        "SELECT (SELECT count(*) FROM contacts), (SELECT count(*) FROM customers)"
    ).fetchone()
    figures: list[tuple] = [
        ("contacts", None, contacts),
        ("customers", None, customers),
        ("duplicate_rate", None, (1 - customers / contacts) if contacts else 0.0),
        ("contacts_per_customer", None, (contacts / customers) if customers else None),
    ]
    fields = [f for f in CANONICAL_FIELDS if f != "source_record_id"]
    if customers:
        row = con.execute(
            "SELECT " + ", ".join(f'avg(CASE WHEN "{f}" IS NOT NULL THEN 1.0 ELSE 0.0 END)' for f in fields) + " FROM customers"
        ).fetchone()
        figures += [("customer_fill_rate", f, v) for f, v in zip(fields, row)]
    _insert(con, load_id, None, figures)
    return figures


def markdown_table(figures: list[tuple], title: str = "") -> str:
    """The figures as a markdown table, for Dagster metadata and reports."""
    lines = [f"**{title}**", ""] if title else []
    lines += ["| metric | field | value |", "|---|---|---|"]
    for metric, field, value in figures:
        if value is None:
            shown = "n/a"
        elif metric in ("fill_rate", "validity", "rejected_share", "duplicate_rate", "customer_fill_rate"):
            shown = f"{100 * value:.1f}%"
        elif float(value).is_integer():
            shown = f"{int(value):,}"
        else:
            shown = f"{value:.3f}"
        lines.append(f"| {metric} | {field or ''} | {shown} |")
    return "\n".join(lines)
