"""Blocking: a key too common to compare whole is split by the rule's refinements, not dropped.

A base of millions holds hundreds of Jan de Vries. Comparing each with each costs pairs with
the square of the block, and leaving the block out loses the duplicates among them; the records
of one person still share the region or the birth year, so the block is compared within those.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from pipelines.match.backends import sql
from pipelines.match.blocking import candidate_pairs
from pipelines.match_definitions import BLOCKING_RULES, FEATURE_TYPES

NAME_RULE = ["first_name_last_name"]


def records(con: duckdb.DuckDBPyConnection, rows: list[dict]) -> None:
    """`_m_rec` as the engine's features step makes it: idx, dirty and every match feature."""
    columns = {"idx": "BIGINT", "dirty": "BOOLEAN", **FEATURE_TYPES}
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _m_rec ("
        + ", ".join(f"{c} {t}" for c, t in columns.items())
        + ")"
    )
    for idx, row in enumerate(rows):
        values = {"idx": idx, "dirty": True, "fn_is_initials": False, **row}
        names = [c for c in columns if c in values]
        con.execute(
            f"INSERT INTO _m_rec ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            [values[c] for c in names],
        )


def pairs(con: duckdb.DuckDBPyConnection) -> set[tuple[int, int]]:
    return set(con.execute("SELECT l, r FROM _m_pairs").fetchall())


def namesakes() -> list[dict]:
    """Eight Jan de Vries in eight regions and none born the same year; records 0 and 8 are
    one person (same region, moved within it), 1 and 9 another (born the same day, moved
    across the country)."""
    rows = [
        dict(
            fn="jan",
            ln="vries",
            postcode=f"{10 + 10 * i} AB",
            birth_date=date(1950 + i, 1, 1),
        )
        for i in range(8)
    ]
    rows.append(dict(fn="jan", ln="vries", postcode="1099 ZZ"))
    rows.append(dict(fn="jan", ln="vries", postcode="9999 XX", birth_date=date(1951, 1, 1)))
    return rows


def test_a_common_name_is_compared_within_its_regions_and_birth_years():
    con = duckdb.connect()
    records(con, namesakes())
    assert candidate_pairs(con, NAME_RULE, max_block_size=4, dirty_only=False) == 2
    assert pairs(con) == {(0, 8), (1, 9)}
    # Small enough to compare whole, the block gives every pair of its ten records.
    assert candidate_pairs(con, NAME_RULE, max_block_size=10, dirty_only=False) == 45


def test_a_part_still_too_large_is_left_out_and_a_rule_without_refinements_drops_the_block():
    con = duckdb.connect()
    rows = [dict(fn="jan", ln="vries", postcode="1011 AB", email="info@shop.nl") for _ in range(5)]
    records(con, rows)
    # The region splits nothing here; no birth years: no pairs, as before refinements existed.
    assert candidate_pairs(con, NAME_RULE, max_block_size=4, dirty_only=False) == 0
    assert candidate_pairs(con, ["email"], max_block_size=4, dirty_only=False) == 0
    assert candidate_pairs(con, ["email"], max_block_size=5, dirty_only=False) == 10


def test_a_daily_run_splits_the_blocks_of_its_new_records_as_a_full_run_does():
    con = duckdb.connect()
    records(con, namesakes())
    con.execute("UPDATE _m_rec SET dirty = idx IN (8, 9)")
    assert candidate_pairs(con, NAME_RULE, max_block_size=4, dirty_only=True) == 2
    assert pairs(con) == {(0, 8), (1, 9)}
    con.execute("UPDATE _m_rec SET dirty = idx = 3")
    assert candidate_pairs(con, NAME_RULE, max_block_size=4, dirty_only=True) == 0


def test_the_rule_is_credited_with_the_pairs_its_refinements_find():
    con = duckdb.connect()
    records(con, namesakes())
    rules = ["email", *NAME_RULE]
    candidate_pairs(con, rules, max_block_size=4, dirty_only=False)
    assert set(con.execute("SELECT rules FROM _m_pairs").fetchall()) == {(0b10,)}


@pytest.mark.parametrize("rule", BLOCKING_RULES, ids=lambda r: r.name)
def test_every_refinement_runs_on_the_match_features(rule):
    con = duckdb.connect()
    row = dict(
        fn="jan",
        fn_initial="j",
        ln="vries",
        email="jan@example.nl",
        email_local="janvries",
        phone="+31612345678",
        postcode="1011 AB",
        house_number="12",
        hn_base="12",
        street="kerkstraat",
        city="amsterdam",
        birth_date=date(1970, 5, 1),
    )
    records(con, [row] * 3)
    con.execute(f"CREATE TEMP TABLE _m_keys AS {sql.blocking_keys([rule.name])}")
    refined = sql.refined_keys([rule.name], max_block_size=2, dirty_only=False)
    if not rule.refine:
        assert refined is None
        return
    keys = con.execute(f"SELECT part, count(DISTINCT bk), count(*) FROM ({refined}) GROUP BY part")
    assert sorted(keys.fetchall()) == [(p, 1, 3) for p in range(1, len(rule.refine) + 1)]
