"""Blocking: which record pairs are worth comparing, as a union of cheap exact-key rules in SQL.

The SQL is in backends/sql.py, shared with the Spark backend. Each rule is a key expression
over `_m_rec`; two records are a candidate pair when they share the
key of at least one rule. Pairs then grow with the number of duplicates and households, not with
n². A key held by more than `max_block_size` records (the commonest name, a Belgian town's
postcode) is split by the rule's refinements (the region, the birth year, the street: records of
one person still share those) and compared within each part; a key with no refinement (a
placeholder e-mail) or a part still that large tells too little to be worth n² comparisons and
is left out.

With `dirty_only`, only pairs with at least one new or changed record are produced: the daily
drop against everything already matched.
"""

from __future__ import annotations

import duckdb

from pipelines.match.backends import sql
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
    con.execute(f"CREATE OR REPLACE TEMP TABLE _m_keys AS {sql.blocking_keys(rules, dirty_only)}")
    refined = sql.refined_keys(rules, max_block_size, dirty_only)
    if refined:
        con.execute(f"INSERT INTO _m_keys {refined}")
    # On a daily run only the blocks holding a dirty record matter: count just those.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _m_blocks AS {sql.blocks(max_block_size, dirty_only)}"
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE _m_pairs AS {sql.pairs(dirty_only)}")
    con.execute("DROP TABLE _m_keys; DROP TABLE _m_blocks")
    return con.execute("SELECT count(*) FROM _m_pairs").fetchall()[0][0]
