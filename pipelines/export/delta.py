"""What changed in a segment since its last successful export: added, changed, removed.

`segment_members` keeps, per segment and destination, the customer ids, split part and a hash of
the exported values as they were last delivered there. A delta file is the current rows that are
new or differ from that baseline, plus one `removed` row (customer id only) per customer who left.
The baseline moves only after a destination received its file, so a failed delivery is retried
with every change since the last one that arrived. Destination `*` holds the segment as of its
last fully successful export, for the change shown in the asset metadata and the change guard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from pipelines.export.files import sql_name

WHOLE_SEGMENT = "*"


@dataclass(frozen=True)
class Change:
    previous: int | None  # rows at the last successful export; None the first time
    added: int
    changed: int
    removed: int


def row_hash_sql(columns: list[str], part: str) -> str:
    """md5 of the exported values and the part (SQL for both): a changed row from the same one."""
    values = ", ".join(f"coalesce(CAST({sql_name(c)} AS VARCHAR), chr(0))" for c in columns)
    return f"md5(concat_ws(chr(31), {values}, {part}))"


def _baseline(segment: str, destination: str) -> tuple[str, list[str]]:
    return (
        "(SELECT customer_id, part, row_hash FROM segment_members"
        " WHERE segment = ? AND destination = ?)",
        [segment, destination],
    )


def compare(
    con: duckdb.DuckDBPyConnection, table: str, segment: str, destination: str = WHOLE_SEGMENT
) -> Change:
    """Counts of added, changed and removed rows against the baseline of `destination`."""
    base, params = _baseline(segment, destination)
    previous = con.execute(
        "SELECT count(*) FROM segment_members WHERE segment = ? AND destination = ?", params
    ).fetchone()[0]
    has_baseline = (
        previous > 0
        or con.execute(
            "SELECT count(*) FROM export_log WHERE segment = ? AND status = 'ok'", [segment]
        ).fetchone()[0]
        > 0
    )
    added, changed, removed = con.execute(  # one join for the three counts
        f"""SELECT count(*) FILTER (WHERE m.customer_id IS NULL),
                   count(*) FILTER (WHERE m.row_hash <> r._hash),
                   count(*) FILTER (WHERE r._customer_id IS NULL)
            FROM {table} r FULL JOIN {base} m
              ON m.customer_id = r._customer_id AND m.part = r._part""",
        params,
    ).fetchone()
    return Change(
        previous=previous if has_baseline else None, added=added, changed=changed, removed=removed
    )


def build_delta(
    con: duckdb.DuckDBPyConnection,
    table: str,
    delta: str,
    *,
    segment: str,
    destination: str,
    columns: list[str],
) -> int:
    """Temp table `delta`: the exported columns, `_part`, `_order`, `_change`; returns its size."""
    base, params = _baseline(segment, destination)
    current = ", ".join(f"r.{sql_name(c)}" for c in columns)
    removed = ", ".join(
        f"m.customer_id AS {sql_name(c)}" if c == "customer_id" else f"NULL AS {sql_name(c)}"
        for c in columns
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {delta} AS
            SELECT {current}, r._part, r._order,
                   CASE WHEN m.customer_id IS NULL THEN 'added' ELSE 'changed' END AS _change
            FROM {table} r LEFT JOIN {base} m
              ON m.customer_id = r._customer_id AND m.part = r._part
            WHERE m.customer_id IS NULL OR m.row_hash <> r._hash
            UNION ALL
            SELECT {removed}, m.part AS _part, NULL AS _order, 'removed' AS _change
            FROM {base} m
            WHERE NOT EXISTS (SELECT 1 FROM {table} r
                              WHERE r._customer_id = m.customer_id AND r._part = m.part)""",
        params + params,
    )
    return con.execute(f"SELECT count(*) FROM {delta}").fetchone()[0]


def save_members(
    con: duckdb.DuckDBPyConnection, table: str, *, segment: str, destination: str, at: datetime
) -> None:
    """Make the baseline of (segment, destination) the rows of `table`: rows that left or
    changed are deleted and new or changed rows inserted, so a day writes in proportion to its
    changes; an unchanged row keeps the time it was last delivered as it is."""
    params = [segment, destination]
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _members_new AS
            SELECT _customer_id, _part, _hash FROM {table}
            EXCEPT SELECT customer_id, part, row_hash FROM segment_members
                   WHERE segment = ? AND destination = ?""",
        params,
    )
    con.execute(
        f"""DELETE FROM segment_members m
            WHERE segment = ? AND destination = ? AND NOT EXISTS (
                SELECT 1 FROM {table} r
                WHERE r._customer_id = m.customer_id AND r._part IS NOT DISTINCT FROM m.part
                  AND r._hash IS NOT DISTINCT FROM m.row_hash)""",
        params,
    )
    con.execute(
        """INSERT INTO segment_members
              (segment, destination, customer_id, part, row_hash, exported_at)
            SELECT ?, ?, _customer_id, _part, _hash, ? FROM _members_new""",
        [segment, destination, at],
    )
    con.execute("DROP TABLE _members_new")
