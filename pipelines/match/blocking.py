"""Blocking: which record pairs are worth comparing, as a union of cheap exact-key rules in SQL.

Each rule is a key expression over `_m_rec`; two records are a candidate pair when they share the
key of at least one rule. Pairs then grow with the number of duplicates and households, not with
n². A key held by more than `max_block_size` records (a placeholder e-mail, the commonest name)
tells too little to be worth n² comparisons and is left out.

With `dirty_only`, only pairs with at least one new or changed record are produced: the daily
drop against everything already matched.
"""

from __future__ import annotations

import duckdb

from pipelines.match_definitions import BLOCKING_RULES, BlockingRule

# The rules themselves (name, key expression, the comparisons the key decides) are declared in
# pipelines/match_definitions.py.
RULES: dict[str, BlockingRule] = {r.name: r for r in BLOCKING_RULES}


def rule_names(mask: int, rules: list[str]) -> str:
    """The names of the rules in a bit mask, comma-separated (for the evidence table)."""
    return ",".join(r for i, r in enumerate(rules) if mask >> i & 1)


def candidate_pairs(
    con: duckdb.DuckDBPyConnection, rules: list[str], max_block_size: int, dirty_only: bool
) -> int:
    """Create `_m_pairs(l, r, rules)` over `_m_rec.idx` (l < r); return the number of pairs.

    `rules` is a bit mask of the rules (in the given order) that found the pair.
    """
    selects = [
        f"SELECT idx, dirty, {i} AS rule_id, {RULES[name].key} AS bk FROM _m_rec"
        for i, name in enumerate(rules)
    ]
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _m_keys AS
        SELECT idx, dirty, rule_id, bk FROM ({" UNION ALL ".join(selects)}) k WHERE bk IS NOT NULL
        """
    )
    # On a daily run only the blocks holding a dirty record matter: count just those.
    dirty_keys = (
        "WHERE (rule_id, bk) IN (SELECT rule_id, bk FROM _m_keys WHERE dirty)"
        if dirty_only
        else ""
    )
    dirty_pair = "AND (a.dirty OR b.dirty)" if dirty_only else ""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _m_blocks AS
        SELECT rule_id, bk FROM _m_keys {dirty_keys} GROUP BY rule_id, bk
        HAVING count(*) BETWEEN 2 AND {int(max_block_size)}
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _m_pairs AS
        WITH k AS (
            SELECT k.idx, k.dirty, k.rule_id, k.bk FROM _m_keys k
            JOIN _m_blocks b ON b.rule_id = k.rule_id AND b.bk = k.bk
        )
        SELECT a.idx AS l, b.idx AS r, CAST(bit_or(CAST(1 AS BIGINT) << a.rule_id) AS BIGINT) AS rules
        FROM k a JOIN k b ON a.rule_id = b.rule_id AND a.bk = b.bk AND a.idx < b.idx {dirty_pair}
        GROUP BY a.idx, b.idx
        """
    )
    con.execute("DROP TABLE _m_keys; DROP TABLE _m_blocks")
    return con.execute("SELECT count(*) FROM _m_pairs").fetchall()[0][0]
