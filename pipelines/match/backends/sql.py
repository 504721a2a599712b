"""The match stage's SQL, written once in DuckDB's dialect and transpiled for Spark (SQLGlot).

As in Splink, the engine-neutral parts of matching are plain SELECTs over named tables:
blocking keys, blocks and candidate pairs (blocking.py runs them on DuckDB, spark.py on Spark),
and one step of label propagation for connected components. Only SELECTs live here: creating
a table is the engine's own business (a temp table on DuckDB, a checkpointed view on Spark).
"""

from __future__ import annotations

from functools import cache

from pipelines.match_definitions import BLOCKING_RULES

_KEYS = {r.name: r.key for r in BLOCKING_RULES}


def blocking_keys(rules: list[str], records: str = "_m_rec") -> str:
    """(idx, dirty, rule_id, bk): every record's key under every rule that gives it one."""
    selects = [
        f"SELECT idx, dirty, {i} AS rule_id, {_KEYS[name]} AS bk FROM {records}"
        for i, name in enumerate(rules)
    ]
    union = " UNION ALL ".join(selects)
    return f"SELECT idx, dirty, rule_id, bk FROM ({union}) k WHERE bk IS NOT NULL"


def blocks(max_block_size: int, dirty_only: bool, keys: str = "_m_keys") -> str:
    """(rule_id, bk): the keys worth comparing on (on a daily run: those of a dirty record)."""
    dirty_keys = (
        f"WHERE (rule_id, bk) IN (SELECT rule_id, bk FROM {keys} WHERE dirty)"
        if dirty_only
        else ""
    )
    return f"""SELECT rule_id, bk FROM {keys} {dirty_keys} GROUP BY rule_id, bk
               HAVING count(*) BETWEEN 2 AND {int(max_block_size)}"""


def pairs(dirty_only: bool, keys: str = "_m_keys", blocks: str = "_m_blocks") -> str:
    """(l, r, rules): candidate pairs l < r, `rules` the bit mask of the rules that found them."""
    dirty_pair = "AND (a.dirty OR b.dirty)" if dirty_only else ""
    return f"""
        WITH k AS (
            SELECT k.idx, k.dirty, k.rule_id, k.bk FROM {keys} k
            JOIN {blocks} b ON b.rule_id = k.rule_id AND b.bk = k.bk
        )
        SELECT a.idx AS l, b.idx AS r,
               CAST(bit_or(CAST(1 AS BIGINT) << a.rule_id) AS BIGINT) AS rules
        FROM k a JOIN k b ON a.rule_id = b.rule_id AND a.bk = b.bk AND a.idx < b.idx {dirty_pair}
        GROUP BY a.idx, b.idx
        """


# Connected components by min-label propagation over an undirected graph `(a, b)` given in both
# directions. Start from `label = node`; each step takes the smallest label among a node's
# neighbours, then jumps to the label of its label (halving long chains), and keeps the label
# it had (`before`); repeat until no label changed. Then every node is labelled with the
# smallest node of its component.
COMPONENT_NODES = "SELECT a AS node, a AS label FROM {graph} GROUP BY a"

COMPONENT_STEP = """
    WITH spread AS (
        SELECT n.node, n.label AS before, least(n.label, min(o.label)) AS label
        FROM {labels} n JOIN {graph} e ON e.a = n.node JOIN {labels} o ON o.node = e.b
        GROUP BY n.node, n.label
    )
    SELECT s.node, least(s.label, j.label) AS label, s.before
    FROM spread s JOIN spread j ON j.node = s.label
    """

COMPONENT_CHANGES = "SELECT count(*) AS changed FROM {labels} WHERE label <> before"


@cache
def transpile(sql: str, dialect: str) -> str:
    """`sql` (DuckDB's dialect) in `dialect`: unchanged for duckdb, through SQLGlot otherwise."""
    if dialect == "duckdb":
        return sql
    import sqlglot  # only the Spark backend needs it

    return sqlglot.transpile(sql, read="duckdb", write=dialect, unsupported_level="raise")[0]
