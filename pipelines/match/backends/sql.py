"""The match stage's SQL, written once in DuckDB's dialect and transpiled for Spark (SQLGlot).

As in Splink, the engine-neutral parts of matching are plain SELECTs over named tables:
blocking keys, blocks and candidate pairs (blocking.py runs them on DuckDB, spark.py on Spark),
and one step of label propagation for connected components. Only SELECTs live here: creating
a table is the engine's own business (a temp table on DuckDB, a checkpointed view on Spark).
"""

from __future__ import annotations

from functools import cache

from pipelines.match_definitions import BLOCKING_RULES

_RULES = {r.name: r for r in BLOCKING_RULES}


def blocking_keys(rules: list[str], dirty_only: bool = False, records: str = "_m_rec") -> str:
    """(idx, dirty, rule_id, part, bk): every record's key under every rule that gives it one.

    `part` 0 is the rule's own key; refined_keys adds the finer parts of oversized blocks. On a
    daily run only the keys that a new or changed record holds matter: every record holding
    one is kept (its block stays whole, so its size is known), the rest are never stored.
    """
    selects = []
    for i, name in enumerate(rules):
        key = _RULES[name].key
        only = (
            f"AND {key} IN (SELECT {key} FROM {records} WHERE dirty AND {key} IS NOT NULL)"
            if dirty_only
            else ""
        )
        selects.append(
            f"SELECT idx, dirty, {i} AS rule_id, CAST(0 AS TINYINT) AS part, {key} AS bk"
            f" FROM {records} WHERE {key} IS NOT NULL {only}"
        )
    return " UNION ALL ".join(selects)


def refined_keys(
    rules: list[str],
    max_block_size: int,
    dirty_only: bool,
    keys: str = "_m_keys",
    records: str = "_m_rec",
) -> str | None:
    """(idx, dirty, rule_id, part, bk): the records of a block too large to compare whole, keyed
    again by each of the rule's refinements (part 1, 2, ...), or None when no rule has one.

    A common name or a Belgian town's postcode holds more records as the base grows; comparing
    all of them costs pairs with the square of the block. Its duplicates still share something
    finer (the region, the birth year, the street), so the block is split by that instead of
    being compared whole or left out. On a daily run only oversized blocks that hold a new or
    changed record are split.
    """
    selects = [
        f"""SELECT k.idx, k.dirty, k.rule_id, CAST({part} AS TINYINT) AS part,
                   k.bk || ' | ' || ({refine}) AS bk
            FROM _m_big k JOIN {records} r ON r.idx = k.idx WHERE k.rule_id = {i}"""
        for i, name in enumerate(rules)
        for part, refine in enumerate(_RULES[name].refine, start=1)
    ]
    if not selects:
        return None
    dirty = "AND bool_or(dirty)" if dirty_only else ""
    return f"""
        WITH _m_oversized AS (
            SELECT rule_id, bk FROM {keys} WHERE part = 0 GROUP BY rule_id, bk
            HAVING count(*) > {int(max_block_size)} {dirty}
        ),
        _m_big AS (
            SELECT k.idx, k.dirty, k.rule_id, k.bk FROM {keys} k
            JOIN _m_oversized o ON o.rule_id = k.rule_id AND o.bk = k.bk
        )
        SELECT idx, dirty, rule_id, part, bk FROM ({" UNION ALL ".join(selects)}) k
        WHERE bk IS NOT NULL"""


def blocks(max_block_size: int, dirty_only: bool, keys: str = "_m_keys") -> str:
    """(rule_id, part, bk): the keys worth comparing on (on a daily run: those of a dirty
    record)."""
    dirty_keys = (
        f"WHERE (rule_id, part, bk) IN (SELECT rule_id, part, bk FROM {keys} WHERE dirty)"
        if dirty_only
        else ""
    )
    return f"""SELECT rule_id, part, bk FROM {keys} {dirty_keys} GROUP BY rule_id, part, bk
               HAVING count(*) BETWEEN 2 AND {int(max_block_size)}"""


def pairs(dirty_only: bool, keys: str = "_m_keys", blocks: str = "_m_blocks") -> str:
    """(l, r, rules): candidate pairs l < r, `rules` the bit mask of the rules that found them."""
    dirty_pair = "AND (a.dirty OR b.dirty)" if dirty_only else ""
    return f"""
        WITH k AS (
            SELECT k.idx, k.dirty, k.rule_id, k.part, k.bk FROM {keys} k
            JOIN {blocks} b ON b.rule_id = k.rule_id AND b.part = k.part AND b.bk = k.bk
        )
        SELECT a.idx AS l, b.idx AS r,
               CAST(bit_or(CAST(1 AS BIGINT) << a.rule_id) AS BIGINT) AS rules
        FROM k a JOIN k b
          ON a.rule_id = b.rule_id AND a.part = b.part AND a.bk = b.bk AND a.idx < b.idx
          {dirty_pair}
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
