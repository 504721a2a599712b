"""The matcher's DuckDB memory limit: sized from the machine or the environment, and a failed
run reports its own error, not a secondary one from restoring the setting."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.match import engine


def test_limit_from_environment(monkeypatch):
    monkeypatch.setenv("CRMCLEAN_DUCKDB_MEMORY_LIMIT", "4GiB")
    assert engine._memory_limit_bytes() == 4 << 30
    monkeypatch.setenv("CRMCLEAN_DUCKDB_MEMORY_LIMIT", "1500 MB")
    assert engine._memory_limit_bytes() == 1_500_000_000


def test_default_limit_is_a_quarter_of_ram_and_at_least_one_gib(monkeypatch):
    monkeypatch.delenv("CRMCLEAN_DUCKDB_MEMORY_LIMIT", raising=False)
    import os

    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert engine._memory_limit_bytes() == max(1 << 30, ram // 4)


def test_a_bad_setting_is_refused_with_its_name(monkeypatch):
    monkeypatch.setenv("CRMCLEAN_DUCKDB_MEMORY_LIMIT", "lots")
    with pytest.raises(ValueError, match="CRMCLEAN_DUCKDB_MEMORY_LIMIT"):
        engine._memory_limit_bytes()


def test_limit_is_lowered_during_the_run_and_restored_after(tmp_path, monkeypatch):
    monkeypatch.setenv("CRMCLEAN_DUCKDB_MEMORY_LIMIT", "1GiB")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    before = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    with engine._bounded_memory(con):
        during = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert during != before and engine._bytes(during) <= 1 << 30
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == before


def test_a_failure_inside_an_aborted_transaction_surfaces_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("CRMCLEAN_DUCKDB_MEMORY_LIMIT", "1GiB")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
    con.execute("BEGIN")
    con.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(duckdb.ConstraintException):
        with engine._bounded_memory(con):
            con.execute("INSERT INTO t VALUES (1)")  # aborts the transaction
    con.execute("ROLLBACK")
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 0
