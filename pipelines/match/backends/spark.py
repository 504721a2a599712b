"""The match stage on Apache Spark: blocking, comparison, scoring and clustering.

The warehouse stays DuckDB. A run writes the records it matches (`_m_rec`) to Parquet in a
private folder (owner-only, deleted after the run) beside the warehouse file, and Spark reads
them from there:

- blocking is the SQL of backends/sql.py, transpiled from DuckDB's dialect by SQLGlot;
- comparison and scoring are the same vectorised numpy/rapidfuzz code as on DuckDB
  (comparison.compare, scoring.score_levels), run per Arrow batch of pairs (`mapInArrow`);
- the model is trained on the driver from the pairs' levels, exactly as on DuckDB;
- clustering: connected components by label propagation (sql.py, transpiled), then each
  component is clustered with the household and lone-conflict rules (clustering.cluster_records)
  on a worker (`cogroup(...).applyInArrow`); whether lone conflicts may join is decided on the
  driver from the sums over all components, as on DuckDB.

The scored links and the cluster of every record come back to the driver as Arrow and are
written to the warehouse by the engine, which keeps identities, lineage and survivorship.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from pipelines.match.backends import sql
from pipelines.match.clustering import Clusters, Forgiven, cluster_records
from pipelines.match.comparison import (
    RECORD_COLUMNS,
    RECORD_SELECT,
    Compared,
    RecordArrays,
    compare,
)
from pipelines.match.comparison import records_from_arrow as _records
from pipelines.match.scoring import Model, score_levels
from pipelines.match_definitions import COMPARISONS

log = logging.getLogger(__name__)

_K = len(COMPARISONS)
_LEVELS = [f"lv{k}" for k in range(_K)]
_WEIGHTS = [f"w{k}" for k in range(_K)]
_RECORD_COLUMNS = list(RECORD_COLUMNS)
_TF_COLUMNS = sorted({c.tf_column for c in COMPARISONS})


# What every session the match stage uses should have: no web UI or console progress bars, the
# driver bound to loopback in local mode, UTC, Arrow between the JVM and Python.
SPARK_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


# Local mode on this machine: two cores, as the default of `backend: spark` without a cluster.
LOCAL_SPARK = {
    **SPARK_DEFAULTS,
    "spark.master": "local[2]",
    "spark.app.name": "crmclean-match",
    "spark.driver.memory": "4g",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
}


def local_session(local_dir: str | None = None):
    """A Spark session in local mode (`LOCAL_SPARK`), what `backend: spark` starts by itself.

    The Python workers run this interpreter, so they import the same pipelines, numpy and
    rapidfuzz as the driver. `local_dir` is where Spark spills and shuffles (records pass
    through it): give an owner-only folder (`private_scratch`).
    """
    from pyspark.sql import SparkSession

    use_this_python()
    config = dict(LOCAL_SPARK)
    if local_dir:
        config["spark.local.dir"] = local_dir
    return SparkSession.builder.config(map=config).getOrCreate()


def private_scratch() -> str:
    """An owner-only folder for Spark's shuffle and spill files (the caller removes it)."""
    return tempfile.mkdtemp(prefix="crmclean-spark-")


def use_this_python() -> None:
    """Spark's Python workers run PYSPARK_PYTHON (else `python3` on the PATH): make it this one."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


def _warehouse_folder(con: duckdb.DuckDBPyConnection) -> Path:
    """The folder of the warehouse file (the system temp folder for an in-memory warehouse)."""
    path = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()
    if path and path[0][0]:
        return Path(path[0][0]).resolve().parent
    return Path(tempfile.gettempdir())


class SparkMatch:
    """One run's match steps on a Spark session; use as a context manager (it owns a folder)."""

    def __init__(self, session, con: duckdb.DuckDBPyConnection) -> None:
        self.spark = session
        self.con = con
        self.folder: Path | None = None

    def __enter__(self) -> SparkMatch:
        # mkdtemp: readable by the owner only; names and addresses pass through here.
        self.folder = Path(
            tempfile.mkdtemp(prefix="match-spark-", dir=_warehouse_folder(self.con))
        )
        return self

    def __exit__(self, *exc) -> None:
        for view in self.spark.catalog.listTables():
            if view.name.startswith("_m_") and view.isTemporary:
                self.spark.catalog.dropTempView(view.name)
        self.spark.catalog.clearCache()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    # -----------------------------------------------------------------------------------------
    # moving data

    def _path(self, name: str) -> str:
        assert self.folder is not None, "use SparkMatch as a context manager"
        return str(self.folder / f"{name.lstrip('_')}.parquet")  # Spark skips `_*` files

    def _from_duckdb(self, name: str, query: str):
        """Write a DuckDB query to Parquet in the private folder; a Spark view `name` over it."""
        path = self._path(name)
        self.con.execute(f"COPY ({query}) TO '{path}' (FORMAT parquet)")
        frame = self.spark.read.parquet(path)
        frame.createOrReplaceTempView(name)
        return frame

    def _from_arrow(self, name: str, table: pa.Table):
        import pyarrow.parquet as pq

        path = self._path(name)
        pq.write_table(table, path)
        frame = self.spark.read.parquet(path)
        frame.createOrReplaceTempView(name)
        return frame

    def _keep(self, name: str, frame):
        """Compute `frame` once, now (Spark would otherwise recompute it at every use)."""
        frame = frame.localCheckpoint(eager=True)
        frame.createOrReplaceTempView(name)
        return frame

    def _sql(self, query: str):
        return self.spark.sql(sql.transpile(query, "spark"))

    # -----------------------------------------------------------------------------------------
    # blocking, comparison, scoring

    def candidate_pairs(self, rules: list[str], max_block_size: int, dirty_only: bool) -> int:
        """Spark view `_m_pairs(l, r, rules)`, as blocking.candidate_pairs makes on DuckDB."""
        self._from_duckdb("_m_rec", f"SELECT {RECORD_SELECT}, dirty, birth_date FROM _m_rec")
        keys = self._sql(sql.blocking_keys(rules, dirty_only))
        keys.createOrReplaceTempView("_m_keys")
        refined = sql.refined_keys(rules, max_block_size, dirty_only)
        if refined:
            keys = self._keep("_m_keys", keys.unionByName(self._sql(refined)))
        self._sql(sql.blocks(max_block_size, dirty_only)).createOrReplaceTempView("_m_blocks")
        return self._keep("_m_pairs", self._sql(sql.pairs(dirty_only))).count()

    def compare(self, options: dict) -> None:
        """Spark view `_m_compared`: the levels and contradictions of every candidate pair."""
        left = ", ".join(f"a.{c} AS l_{c}" for c in _RECORD_COLUMNS if c != "idx")
        right = ", ".join(f"b.{c} AS r_{c}" for c in _RECORD_COLUMNS if c != "idx")
        joined = self.spark.sql(
            f"""SELECT p.l, p.r, p.rules, {left}, {right} FROM _m_pairs p
                JOIN _m_rec a ON a.idx = p.l JOIN _m_rec b ON b.idx = p.r"""
        )
        schema = (
            "l BIGINT, r BIGINT, rules BIGINT, "
            + ", ".join(f"{c} TINYINT" for c in _LEVELS)
            + ", contradiction BOOLEAN, conflict TINYINT, household_only BOOLEAN"
        )

        def batches(it):
            for batch in it:
                yield _compare_batch(batch, options)

        self._keep("_m_compared", joined.mapInArrow(batches, schema))

    def training_pairs(self) -> tuple[Compared, np.ndarray]:
        """The levels, contradictions and rule masks of every pair, for training on the driver."""
        table = (
            self.spark.table("_m_compared").select(*_LEVELS, "contradiction", "rules").toArrow()
        )
        levels = np.stack([table[c].to_numpy().astype(np.int8) for c in _LEVELS], axis=1)
        levels = levels.reshape(-1, _K)
        p = len(levels)
        compared = Compared(
            levels=levels,
            contradiction=table["contradiction"].to_numpy(zero_copy_only=False).astype(bool),
            personal_number=np.zeros(p, dtype=bool),
            conflict=np.zeros(p, dtype=np.int8),
            household_only=np.zeros(p, dtype=bool),
        )
        return compared, table["rules"].to_numpy().astype(np.int64)

    def score(self, model: Model, rec: RecordArrays, link_probability: float) -> dict:
        """The pairs worth keeping as edges, scored; and how many link (engine._store_edges).

        Term frequencies are a property of the whole run: computed on the driver per record
        and joined to the pairs by their left record, as `score` looks them up.
        """
        k = model.records_per_person
        tf = {"idx": pa.array(np.arange(rec.n, dtype=np.int64))}
        for column in _TF_COLUMNS:
            tf[f"tf_{column}"] = pa.array(rec.tf(column, k))
        self._from_arrow("_m_tf", pa.table(tf))
        tf_select = ", ".join(f"t.tf_{c}" for c in _TF_COLUMNS)
        joined = self.spark.sql(
            f"SELECT c.*, {tf_select} FROM _m_compared c JOIN _m_tf t ON t.idx = c.l"
        )
        schema = (
            "l BIGINT, r BIGINT, rules BIGINT, "
            + ", ".join(f"{c} TINYINT" for c in _LEVELS)
            + ", "
            + ", ".join(f"{c} FLOAT" for c in _WEIGHTS)
            + ", total DOUBLE, probability DOUBLE, conflict TINYINT, linkable BOOLEAN"
        )

        def batches(it):
            for batch in it:
                yield _score_batch(batch, model, link_probability)

        kept = joined.mapInArrow(batches, schema).orderBy("l", "r").toArrow()
        levels = np.stack([kept[c].to_numpy().astype(np.int8) for c in _LEVELS], axis=1)
        weights = np.stack([kept[c].to_numpy().astype(np.float32) for c in _WEIGHTS], axis=1)
        return {
            "l": kept["l"].to_numpy().astype(np.int64),
            "r": kept["r"].to_numpy().astype(np.int64),
            "masks": kept["rules"].to_numpy().astype(np.int64),
            "levels": levels.reshape(-1, _K),
            "weights": weights.reshape(-1, _K),
            "total": kept["total"].to_numpy(),
            "probability": kept["probability"].to_numpy(),
            "conflict": kept["conflict"].to_numpy().astype(np.int8),
            "linked": int(kept["linkable"].to_numpy(zero_copy_only=False).sum()),
        }

    # -----------------------------------------------------------------------------------------
    # clustering

    def components(self, graph_view: str):
        """`(node, label)`: each node of the undirected graph `(a, b)` (both directions) with
        the smallest node of its connected component, by label propagation (sql.py)."""
        started = time.perf_counter()
        labels = self._keep("_m_labels", self._sql(sql.COMPONENT_NODES.format(graph=graph_view)))
        steps, changed = 0, True
        while changed:
            step = sql.COMPONENT_STEP.format(labels="_m_labels", graph=graph_view)
            labels = self._keep("_m_labels", self._sql(step))
            changed = self._sql(sql.COMPONENT_CHANGES.format(labels="_m_labels")).first()[0]
            steps += 1
        log.info(
            "connected components: %s label propagation steps, %.1f s",
            steps,
            time.perf_counter() - started,
        )
        return labels.select("node", "label")

    def cluster(
        self,
        records: np.ndarray,
        el: np.ndarray,
        er: np.ndarray,
        ew: np.ndarray,
        kind: np.ndarray,
        plain: int,
        always: list[tuple[int, int]],
        never: set[tuple[int, int]],
        options: dict,
    ) -> tuple[Clusters, Forgiven]:
        """engine's clustering of `records`, whole connected components per Spark task.

        Components are taken over the scored edges and both kinds of override, so that each
        task sees every pair clustering.cluster_records looks at.
        """
        ov_l = np.array([a for a, _ in always] + [a for a, _ in sorted(never)], dtype=np.int64)
        ov_r = np.array([b for _, b in always] + [b for _, b in sorted(never)], dtype=np.int64)
        ov_kind = np.array([1] * len(always) + [2] * len(never), dtype=np.int8)
        edges = pa.table(
            {
                "l": pa.array(np.concatenate([el, ov_l])),
                "r": pa.array(np.concatenate([er, ov_r])),
                "w": pa.array(np.concatenate([ew, np.zeros(len(ov_l))])),
                "conflict": pa.array(np.concatenate([kind, np.zeros(len(ov_l), np.int8)])),
                "pos": pa.array(
                    np.r_[np.arange(len(el)), np.full(len(ov_l), -1)].astype(np.int64)
                ),
                "override": pa.array(np.concatenate([np.zeros(len(el), np.int8), ov_kind])),
            }
        )
        labels = np.asarray(records, dtype=np.int64).copy()
        links = np.zeros((0, 3), dtype=np.int64)
        found = {"records": [], "targets": [], "edges": []}
        confirmed = candidates = 0
        if len(edges):
            self._from_arrow("_m_edges", edges)
            self.spark.sql(
                "SELECT l AS a, r AS b FROM _m_edges UNION ALL SELECT r, l FROM _m_edges"
            ).createOrReplaceTempView("_m_graph")
            self.components("_m_graph").createOrReplaceTempView("_m_component")
            # Whole components are clustered together, many per task (one Python call per
            # component would cost more than the clustering itself).
            tasks = max(2 * self.spark.sparkContext.defaultParallelism, len(edges) // 100_000)
            grouped_edges = self.spark.sql(
                f"SELECT c.label % {tasks} AS task, e.* FROM _m_edges e "
                "JOIN _m_component c ON c.node = e.l"
            ).groupBy("task")
            grouped_records = self.spark.sql(
                f"SELECT c.label % {tasks} AS task, "
                f"{', '.join(f'x.{c}' for c in _RECORD_COLUMNS)} "
                "FROM _m_rec x JOIN _m_component c ON c.node = x.idx"
            ).groupBy("task")

            def one(edges: pa.Table, recs: pa.Table) -> pa.Table:
                return _cluster_components(edges, recs, options=options)

            started = time.perf_counter()
            out = (
                grouped_edges.cogroup(grouped_records)
                .applyInArrow(one, "what TINYINT, a BIGINT, b BIGINT, c BIGINT")
                .toArrow()
            )
            log.info("clustered in %s tasks, %.1f s", tasks, time.perf_counter() - started)
            what = out["what"].to_numpy()
            a, b, c = (out[x].to_numpy() for x in ("a", "b", "c"))
            at = np.searchsorted(records, a[what == 0])
            labels[at] = b[what == 0]
            links = np.stack([a[what == 1], b[what == 1], c[what == 1]], axis=1).astype(np.int64)
            order = np.argsort(a[what == 2], kind="stable")
            found["records"] = a[what == 2][order]
            found["targets"] = b[what == 2][order]
            found["edges"] = c[what == 2][order] - plain  # a position among the conflict edges
            confirmed = int(a[what == 3].sum())
            candidates = int(b[what == 3].sum())
        forgiven = Forgiven(
            records=np.asarray(found["records"], dtype=np.int64),
            targets=np.asarray(found["targets"], dtype=np.int64),
            edges=np.asarray(found["edges"], dtype=np.int64),
            confirmed=confirmed,
            candidates=candidates,
        )
        return Clusters(records=records, labels=labels, links=links), forgiven


# ---------------------------------------------------------------------------------------------
# what runs on the workers (module functions: Spark pickles them by reference)


def _side(batch: pa.RecordBatch, prefix: str, idx: pa.Array) -> pa.Table:
    columns = {c: (idx if c == "idx" else batch.column(f"{prefix}{c}")) for c in _RECORD_COLUMNS}
    return pa.table(columns)


def _compare_batch(batch: pa.RecordBatch, options: dict) -> pa.RecordBatch:
    """Levels of a batch of pairs: its left and right records as one table of 2n records."""
    n = batch.num_rows
    both = pa.concat_tables(
        [_side(batch, "l_", batch.column("l")), _side(batch, "r_", batch.column("r"))]
    )
    rec = _records(both)
    compared = compare(rec, np.arange(n), n + np.arange(n), **options)
    columns = {c: batch.column(c).cast(pa.int64()) for c in ("l", "r", "rules")}
    for k, name in enumerate(_LEVELS):
        columns[name] = pa.array(compared.levels[:, k], pa.int8())
    columns["contradiction"] = pa.array(compared.contradiction)
    columns["conflict"] = pa.array(compared.conflict, pa.int8())
    columns["household_only"] = pa.array(compared.household_only)
    return pa.RecordBatch.from_pydict(columns)


def _score_batch(batch: pa.RecordBatch, model: Model, link_probability: float) -> pa.RecordBatch:
    """engine's scoring of a batch of compared pairs: only the pairs kept as edges leave."""
    levels = np.stack(
        [batch.column(c).to_numpy(zero_copy_only=False).astype(np.int8) for c in _LEVELS], axis=1
    ).reshape(-1, _K)

    def tf_of(column: str, exact: np.ndarray) -> np.ndarray:
        return batch.column(f"tf_{column}").to_numpy(zero_copy_only=False)[exact]

    scores = score_levels(model, levels, tf_of)
    probability = scores.probability(model)
    contradiction = batch.column("contradiction").to_numpy(zero_copy_only=False).astype(bool)
    household_only = batch.column("household_only").to_numpy(zero_copy_only=False).astype(bool)
    conflict = batch.column("conflict").to_numpy(zero_copy_only=False).astype(np.int8)
    likely = probability >= link_probability
    linkable = likely & ~contradiction & ~household_only
    kept = linkable | (likely & (conflict > 0))
    columns = {c: batch.column(c).filter(pa.array(kept)) for c in ("l", "r", "rules")}
    for k, name in enumerate(_LEVELS):
        columns[name] = pa.array(levels[kept, k], pa.int8())
    for k, name in enumerate(_WEIGHTS):
        columns[name] = pa.array(scores.weights[kept, k], pa.float32())
    columns["total"] = pa.array(scores.total[kept])
    columns["probability"] = pa.array(probability[kept])
    columns["conflict"] = pa.array(conflict[kept], pa.int8())
    columns["linkable"] = pa.array(linkable[kept])
    return pa.RecordBatch.from_pydict(columns)


def _cluster_components(edges: pa.Table, recs: pa.Table, options: dict):
    """Cluster some whole connected components; rows (what, a, b, c) in record indices of the run:
    0 label (record, label), 1 link (a, b, edge position or -1), 2 lone conflict (record,
    target label, edge position), 3 counts (confirmed, candidates)."""
    recs = recs.sort_by("idx")
    ids = recs["idx"].to_numpy().astype(np.int64)  # local index -> index of the run (ascending)
    rec = _records(recs.drop_columns(["task"]))
    edges = edges.sort_by("pos")
    override = edges["override"].to_numpy()
    local_l = np.searchsorted(ids, edges["l"].to_numpy().astype(np.int64))
    local_r = np.searchsorted(ids, edges["r"].to_numpy().astype(np.int64))
    scored = override == 0
    el, er = local_l[scored], local_r[scored]
    ew = edges["w"].to_numpy()[scored]
    kind = edges["conflict"].to_numpy().astype(np.int8)[scored]
    pos = edges["pos"].to_numpy()[scored]
    plain = int((kind == 0).sum())
    always = sorted(
        zip(local_l[override == 1].tolist(), local_r[override == 1].tolist(), strict=True)
    )
    never = set(zip(local_l[override == 2].tolist(), local_r[override == 2].tolist(), strict=True))
    records = np.arange(len(ids), dtype=np.int64)
    result, forgiven = cluster_records(
        rec, records, el, er, ew, kind, plain, always, never, options
    )
    made = result.links
    made_pos = np.full(len(made), -1, dtype=np.int64)
    made_pos[made[:, 2] >= 0] = pos[made[made[:, 2] >= 0, 2]]
    rows = [
        (np.zeros(len(records)), ids[records], ids[result.labels], np.zeros(len(records))),
        (np.ones(len(made)), ids[made[:, 0]], ids[made[:, 1]], made_pos),
        (
            np.full(len(forgiven.records), 2),
            ids[forgiven.records],
            ids[forgiven.targets],
            pos[plain + forgiven.edges] if len(forgiven.records) else [],
        ),
        ([3], [forgiven.confirmed], [forgiven.candidates], [0]),
    ]
    return pa.table(
        {
            "what": pa.array(np.concatenate([r[0] for r in rows]).astype(np.int8)),
            "a": pa.array(np.concatenate([np.asarray(r[1]) for r in rows]).astype(np.int64)),
            "b": pa.array(np.concatenate([np.asarray(r[2]) for r in rows]).astype(np.int64)),
            "c": pa.array(np.concatenate([np.asarray(r[3]) for r in rows]).astype(np.int64)),
        }
    )
