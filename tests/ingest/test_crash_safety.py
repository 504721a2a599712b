"""kill -9 in the middle of `crmclean run`, then run again: the warehouse equals an uninterrupted
run on the same drops, nothing is loaded twice and the counts add up.

A killed run leaves its Dagster runs STARTED and the `duckdb_writer` pool slot claimed; the next
`crmclean run` must notice the process is gone, fail those runs and free the slot (before this
was handled the re-run waited forever). Each run is a real subprocess on real demo drops.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[2]
PEOPLE = 20_000


def _env(root: Path) -> dict[str, str]:
    config = root / "config"
    if not config.exists():
        shutil.copytree(REPO / "sftp_config", config)
    (root / "dagster").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        CRMCLEAN_DATA_DIR=str(root / "data"),
        CRMCLEAN_CONFIG_DIR=str(config),
        DAGSTER_HOME=str(root / "dagster"),
    )
    env.pop("CRMCLEAN_WAREHOUSE", None)
    return env


def _cli(env: dict, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assets.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _demo(env: dict) -> None:
    out = _cli(env, "demo-data", "--people", str(PEOPLE), "--seed", "7", "--date", "2026-11-23")
    assert out.returncode == 0, out.stderr


def _state(root: Path) -> dict:
    con = duckdb.connect(str(root / "data" / "warehouse.duckdb"), read_only=True)
    try:
        one = lambda sql: con.execute(sql).fetchall()  # noqa: E731
        return {
            "ingest_log": one(
                "SELECT source, file_name, status, rows_read, rows_loaded, rows_rejected"
                " FROM ingest_log ORDER BY source, file_name"
            ),
            "contacts": one(
                "SELECT count(*), count(DISTINCT (source, source_record_id)) FROM contacts"
            ),
            "rejected": one(
                "SELECT count(*), count(DISTINCT (file_id, line_number)) FROM rejected_rows"
            ),
            "customers": one("SELECT count(*) FROM customers"),
            "customer_ids": one("SELECT customer_id FROM customers ORDER BY customer_id"),
            "members": one(
                "SELECT source, source_record_id, customer_id FROM customer_sources"
                " ORDER BY source, source_record_id"
            ),
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("uninterrupted")
    env = _env(root)
    _demo(env)
    run = _cli(env, "run", "--no-exports")
    assert run.returncode == 0, run.stdout + run.stderr
    return _state(root)


@pytest.mark.parametrize("kill_after", [3.0, 9.0], ids=["while-landing-staging", "while-loading"])
def test_a_killed_run_then_a_rerun_equals_an_uninterrupted_run(
    tmp_path, uninterrupted, kill_after
):
    env = _env(tmp_path)
    _demo(env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "assets.cli", "run", "--no-exports"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(kill_after)
    assert proc.poll() is None, "the run finished before the kill: make the drop larger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    rerun = _cli(env, "run", "--no-exports", timeout=150)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    state = _state(tmp_path)
    assert state == uninterrupted
    for _, _, status, read, loaded, rejected in state["ingest_log"]:
        assert status == "loaded" and read == loaded + rejected
    contacts, distinct = state["contacts"][0]
    assert contacts == distinct  # nothing loaded twice
    # A third run finds nothing new and changes nothing.
    again = _cli(env, "run", "--no-exports")
    assert again.returncode == 0 and "files: 0 new" in again.stdout
    assert _state(tmp_path) == uninterrupted
