"""`build_customers`: contacts -> golden customers, matching only what changed since the last run.

    result = build_customers(con, settings=settings, source_priority={"crm": 1, "webshop": 2},
                             overrides_path=Path("sftp_config/match_overrides.yaml"), now=now)

The steps, each in its own module:
1. features.py     contacts -> comparable match features, with fingerprints; derived only for new
                   and changed contacts and kept in `match_records`;
2. (here)          stable record keys; which records are new, changed or gone ("dirty");
3. blocking.py     candidate pairs with at least one dirty record (all pairs on a full run);
4. comparison.py   per-field agreement levels, vectorised with rapidfuzz;
5. scoring.py      Fellegi-Sunter weights (trained on a full run, then reused);
6. (here)          linkable pairs are kept in `match_edges`; the affected records are the dirty
                   ones, their former customer mates, and everything connected to them;
7. clustering.py   coherent clusters of the affected records only;
8. stable_ids.py   ids that survive joins, merges and splits;
9. survivorship.py golden values for every customer whose records or values changed.

A full run (the first one, after the settings change, or once the records grew by
`training.retrain_growth`) re-estimates the model and re-matches everything; the ids stay stable
all the same. The caller owns the transaction. DuckDB's memory limit is lowered to 1 GiB for
the run (and restored), so that a million contacts match in well under 3 GB.
"""

from __future__ import annotations

import hashlib
import logging
import resource
import shutil
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa

from pipelines.fields import CANONICAL_FIELDS, GOLDEN_COLUMNS
from pipelines.match.blocking import RULES, candidate_pairs, rule_names
from pipelines.match.clustering import apply_forgiven, cluster_records, twins_expected
from pipelines.match.comparison import Compared, compare, load_records
from pipelines.match.features import FEATURE_COLUMNS, build_features, build_row_hashes
from pipelines.match.overrides import Overrides, load_overrides
from pipelines.match.scoring import (
    LevelPatterns,
    Model,
    estimate_m,
    estimate_prior,
    estimate_u,
    exact_u_from_pairs,
    score,
    tf_references,
)
from pipelines.match.settings import MatchSettings
from pipelines.match.stable_ids import assign_ids
from pipelines.match.survivorship import build_golden
from pipelines.match_definitions import COMPARISON_NAMES, COMPARISONS
from pipelines.warehouse import memory_limit_bytes

if TYPE_CHECKING:
    from pipelines.match.backends.spark import SparkMatch

log = logging.getLogger(__name__)


@dataclass
class MatchResult:
    contacts: int = 0  # contacts read
    customers: int = 0  # customers after the run
    new: int = 0  # customer ids created (new people and split-off parts)
    merged: int = 0  # customer ids merged into an older one
    split: int = 0  # customers that lost records to another customer
    changed: int = 0  # existing customers whose golden values changed
    pairs_scored: int = 0  # candidate pairs compared and scored
    seconds: float = 0.0
    records_matched: int = 0  # new or changed records matched in this run
    records_removed: int = 0  # records gone from contacts since the last run
    records_reclustered: int = 0  # dirty records plus everything connected to them
    linked_pairs: int = 0  # scored pairs at or above the link threshold without contradiction
    conflicts_forgiven: int = (
        0  # lone records that joined a customer despite one conflicting field
    )
    full_run: bool = False  # everything re-matched (first run, new settings, model re-estimated)
    retrained: bool = False
    steps: dict[str, float] = field(default_factory=dict)
    step_peak_mb: dict[str, float] = field(
        default_factory=dict
    )  # process peak memory after each step

    def lines(self) -> list[str]:
        kind = "full" if self.full_run else "incremental"
        return [
            f"{self.contacts:,} contacts -> {self.customers:,} customers "
            f"({kind} run, {self.seconds:.1f} s)",
            f"  matched {self.records_matched:,} new or changed records, "
            f"{self.records_removed:,} removed, {self.records_reclustered:,} re-clustered; "
            f"{self.pairs_scored:,} pairs scored, {self.linked_pairs:,} linkable",
            f"  customers: {self.new:,} new, {self.merged:,} merged into older ids, "
            f"{self.split:,} split, {self.changed:,} changed",
        ]


# DuckDB's share of memory during a run: `memory_limit_bytes()` (a quarter of RAM, at least
# 1 GiB, or CRMCLEAN_DUCKDB_MEMORY_LIMIT). Its buffer manager otherwise keeps up to 80% of RAM of
# cached blocks; the matcher's own arrays (about 1 GB at a million contacts) come on top, and
# survivorship's window and aggregate operators cannot always spill, so 1 GiB is too little from
# a million contacts up. Warehouse connections already open with it; a connection opened
# elsewhere is bounded for the run, and a lower limit the caller set is kept.
_memory_limit_bytes = memory_limit_bytes


_UNITS = {
    "B": 1,
    "KB": 1e3,
    "MB": 1e6,
    "GB": 1e9,
    "TB": 1e12,
    "KIB": 1 << 10,
    "MIB": 1 << 20,
    "GIB": 1 << 30,
    "TIB": 1 << 40,
}


def _bytes(text: str) -> float | None:
    """'18.8 GiB' -> bytes (None when DuckDB prints something else)."""
    number, _, unit = text.strip().partition(" ")
    try:
        return float(number) * _UNITS[unit.strip().upper() or "B"]
    except (ValueError, KeyError):
        return None


@contextmanager
def _bounded_memory(con: duckdb.DuckDBPyConnection):
    """Lower DuckDB's memory limit to `_memory_limit_bytes()` for the run (never raise it)."""
    limit = _memory_limit_bytes()
    before = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    current = _bytes(str(before))
    lower = current is None or current > limit
    if lower:
        con.execute(f"SET memory_limit = '{limit >> 20}MiB'")
    # Restored only after a successful run: after a failure the transaction may be aborted, so
    # restoring would raise and hide the real error (the caller rolls back).
    yield
    if lower:  # the default exactly (DuckDB prints it rounded), else what the caller had set
        con.execute("RESET memory_limit")
        if con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] != before:
            con.execute(f"SET memory_limit = '{before}'")


def _settings_hash(settings: MatchSettings) -> str:
    """What, when changed, invalidates the stored pairs (survivorship and the backend do not)."""
    text = settings.model_dump_json(
        exclude={"survivorship": True, "training": {"retrain_growth"}, "backend": True}
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class _Timer:
    def __init__(self) -> None:
        self.steps: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}  # the process's peak resident memory after each step

    @contextmanager
    def step(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.steps[name] = self.steps.get(name, 0.0) + time.perf_counter() - started
            self.peak_mb[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            log.debug("match %s: %.2f s", name, self.steps[name])


def build_customers(
    con: duckdb.DuckDBPyConnection,
    *,
    settings: MatchSettings,
    source_priority: dict[str, int],
    overrides_path: Path | None,
    now: datetime,
    spark=None,
) -> MatchResult:
    """Bring customers, customer_sources, match_evidence and customer_merges up to date with
    contacts.

    With `settings.backend == "spark"`, blocking through clustering run on the Spark session
    `spark` (a local one is started, and stopped after, when none is given).
    """
    con.execute(
        "SELECT 1"
    ).fetchall()  # finish a result the caller left open (DuckDB 2 refuses arrow work then)
    with ExitStack() as stack:
        matcher = None
        if settings.backend == "spark":
            from pipelines.match.backends.spark import SparkMatch, local_session, private_scratch

            if spark is None:
                scratch = private_scratch()
                stack.callback(shutil.rmtree, scratch, ignore_errors=True)
                spark = local_session(scratch)
                stack.callback(spark.stop)
            matcher = stack.enter_context(SparkMatch(spark, con))
        with _bounded_memory(con):
            return _build(
                con,
                settings=settings,
                source_priority=source_priority,
                overrides_path=overrides_path,
                now=now,
                matcher=matcher,
            )


def _build(
    con: duckdb.DuckDBPyConnection,
    *,
    settings: MatchSettings,
    source_priority: dict[str, int],
    overrides_path: Path | None,
    now: datetime,
    matcher: SparkMatch | None = None,
) -> MatchResult:
    started = time.perf_counter()
    timer = _Timer()
    result = MatchResult()
    overrides = load_overrides(overrides_path)

    with timer.step("features"):
        result.contacts = _sync_records(con, now)
    with timer.step("model"):
        model, full = _current_model(con, settings, result.contacts)
    if full:
        con.execute("UPDATE _m_rec SET dirty = true")
        con.execute("DELETE FROM match_edges")
    else:  # the pairs of changed records are scored again below
        con.execute(
            """DELETE FROM match_edges
               WHERE left_key IN (SELECT record_key FROM _m_rec WHERE dirty)
                  OR right_key IN (SELECT record_key FROM _m_rec WHERE dirty)"""
        )
    result.full_run = full
    result.records_matched, result.records_removed = con.execute(
        "SELECT (SELECT count(*) FROM _m_rec WHERE dirty), (SELECT count(*) FROM _m_removed)"
    ).fetchall()[0]

    options = dict(
        first_name_max_similarity=settings.households.first_name_max_similarity,
        birth_date_must_agree=settings.households.birth_date_must_agree,
    )
    if matcher is not None:
        model, rec = _match_on_spark(
            con, matcher, result, timer, settings, options, model, full, now
        )
    else:
        model, rec = _match_on_duckdb(con, result, timer, settings, options, model, full, now)
    with timer.step("affected"):
        result.records_reclustered = _affected_records(con, overrides, full)
    with timer.step("cluster"):
        result.conflicts_forgiven = _cluster_affected(
            con,
            rec,
            overrides,
            options,
            model,
            full,
            settings.thresholds.link_probability,
            matcher,
        )
        del rec  # the records' features: gigabytes at ten million contacts, not needed after
    with timer.step("ids"):
        counts = assign_ids(con)
        result.new, result.merged, result.split = counts["new"], counts["merged"], counts["split"]
    with timer.step("write"):
        _write_links(con, now)
    with timer.step("survivorship"):
        result.changed = _write_customers(con, settings, source_priority, now)
        _finish_records(con, now)
        _remember_overrides(con, overrides)
    result.customers = con.execute("SELECT count(*) FROM customers").fetchall()[0][0]
    _drop_temp(con)
    result.seconds = time.perf_counter() - started
    result.steps = timer.steps
    result.step_peak_mb = timer.peak_mb
    return result


# Candidate pairs are compared and scored in batches of this many, streamed from `_m_pairs`:
# memory grows with the batch, not with the run's pairs (60 million at 3 million people, where
# comparing them all at once took 16 GB). A full run trains on the level patterns of every batch
# (`LevelPatterns`), then streams the pairs again to score them: it keeps each pair's levels and
# flags packed in 4 bytes meanwhile while they fit `memory_limit_bytes()`, else compares again.
PAIR_BATCH = 2_000_000
_KEPT_BYTES = 4


def _pair_batches(con: duckdb.DuckDBPyConnection, batch: int):
    """(l, r, rule masks) per batch of `_m_pairs`, in the table's order (DuckDB keeps insertion
    order). No statement may run on `con` meanwhile."""
    reader = con.sql("SELECT l, r, rules FROM _m_pairs").to_arrow_reader(batch)
    for b in reader:
        yield (
            b.column(0).to_numpy(zero_copy_only=False).astype(np.int64),
            b.column(1).to_numpy(zero_copy_only=False).astype(np.int64),
            b.column(2).to_numpy(zero_copy_only=False).astype(np.int64),
        )


def _order_hash(l: np.ndarray, r: np.ndarray, at: int) -> int:  # noqa: E741
    """A position-sensitive fingerprint of a batch of pairs starting at pair number `at`."""
    position = np.arange(at + 1, at + 1 + len(l), dtype=np.uint64)
    with np.errstate(over="ignore"):
        return int(
            (((l.astype(np.uint64) << np.uint64(32)) | r.astype(np.uint64)) * position).sum()
        )


_LEVEL_BITS = 3 * len(COMPARISONS)


def _pack(compared: Compared) -> np.ndarray:
    """Levels (3 bits each), conflict (2 bits), contradiction and household_only of each pair in
    one uint32."""
    out = np.zeros(len(compared.levels), dtype=np.uint32)
    for k in range(len(COMPARISONS)):
        out |= (compared.levels[:, k].astype(np.int32) + 1).astype(np.uint32) << np.uint32(3 * k)
    out |= compared.conflict.astype(np.uint32) << np.uint32(_LEVEL_BITS)
    out |= compared.contradiction.astype(np.uint32) << np.uint32(_LEVEL_BITS + 2)
    out |= compared.household_only.astype(np.uint32) << np.uint32(_LEVEL_BITS + 3)
    return out


def _unpack(packed: np.ndarray) -> Compared:
    levels = np.empty((len(packed), len(COMPARISONS)), dtype=np.int8)
    for k in range(len(COMPARISONS)):
        levels[:, k] = ((packed >> np.uint32(3 * k)) & np.uint32(7)).astype(np.int8) - 1
    return Compared(
        levels=levels,
        contradiction=(packed >> np.uint32(_LEVEL_BITS + 2)) & np.uint32(1) == 1,
        personal_number=np.zeros(len(packed), dtype=bool),  # scoring does not read it
        conflict=((packed >> np.uint32(_LEVEL_BITS)) & np.uint32(3)).astype(np.int8),
        household_only=(packed >> np.uint32(_LEVEL_BITS + 3)) & np.uint32(1) == 1,
    )


def _kept_pairs(model, rec, l, r, masks, compared, link_probability: float):  # noqa: E741
    """The scored pairs worth keeping as edges (as `_store_edges` takes them), and how many
    link."""
    scores = score(model, rec, l, compared.levels)
    probability = scores.probability(model)
    likely = probability >= link_probability
    linkable = likely & ~compared.contradiction & ~compared.household_only
    # Pairs kept apart by one conflicting field are kept too: clustering may forgive them.
    kept = linkable | (likely & (compared.conflict > 0))
    edges = (
        l[kept],
        r[kept],
        masks[kept],
        compared.levels[kept],
        scores.weights[kept],
        scores.total[kept],
        probability[kept],
        compared.conflict[kept],
    )
    return edges, int(linkable.sum())


def _match_on_duckdb(con, result, timer, settings, options, model, full, now):
    """Blocking, comparison, training and scoring in the warehouse: the edges in `match_edges`."""
    with timer.step("blocking"):
        result.pairs_scored = candidate_pairs(
            con, settings.blocking.rules, settings.blocking.max_block_size, dirty_only=not full
        )
    with timer.step("load"):
        rec = load_records(con)
    threshold = settings.thresholds.link_probability
    train = model is None
    keep = train and result.pairs_scored * _KEPT_BYTES <= _memory_limit_bytes()
    packed = np.zeros(result.pairs_scored if keep else 0, dtype=np.uint32)
    patterns: list[LevelPatterns] = []
    edges = []
    at = order = 0
    for l, r, masks in _pair_batches(con, PAIR_BATCH):  # noqa: E741
        with timer.step("compare"):
            compared = compare(rec, l, r, **options)
        if train:
            with timer.step("train"):
                patterns.append(LevelPatterns.of(compared.levels, masks, ~compared.contradiction))
            if keep:
                packed[at : at + len(l)] = _pack(compared)
                order += _order_hash(l, r, at)
        else:
            with timer.step("score"):
                edges.append(_kept_pairs(model, rec, l, r, masks, compared, threshold))
        at += len(l)
        del compared
    if train:
        with timer.step("train"):
            model = _train(
                rec, LevelPatterns.combine(patterns, len(COMPARISONS)), settings, options, now
            )
            del patterns
            result.retrained = True
        at = again = 0
        for l, r, masks in _pair_batches(con, PAIR_BATCH):  # noqa: E741
            if keep:
                compared = _unpack(packed[at : at + len(l)])
                again += _order_hash(l, r, at)
            else:
                with timer.step("compare"):
                    compared = compare(rec, l, r, **options)
            with timer.step("score"):
                edges.append(_kept_pairs(model, rec, l, r, masks, compared, threshold))
            at += len(l)
            del compared
        if keep and (again != order or at != len(packed)):
            raise RuntimeError("the candidate pairs came back in another order")
        del packed
        _save_model(con, model, settings, rec.n, now)
    con.execute("DROP TABLE _m_pairs")
    with timer.step("score"):
        result.linked_pairs = 0
        while edges:
            kept, linked = edges.pop(0)
            result.linked_pairs += linked
            _store_edges(con, rec, *kept, settings.blocking.rules, now)
    return model, rec


def _match_on_spark(con, matcher, result, timer, settings, options, model, full, now):
    """The same steps on Spark (backends/spark.py); the kept edges come back to `match_edges`."""
    with timer.step("blocking"):
        result.pairs_scored = matcher.candidate_pairs(
            settings.blocking.rules, settings.blocking.max_block_size, dirty_only=not full
        )
    with timer.step("load"):
        rec = load_records(con)
    with timer.step("compare"):
        matcher.compare(options)
    if model is None:
        with timer.step("train"):
            compared, masks = matcher.training_pairs()
            patterns = LevelPatterns.of(compared.levels, masks, ~compared.contradiction)
            model = _train(rec, patterns, settings, options, now)
            _save_model(con, model, settings, rec.n, now)
            result.retrained = True
            del compared, masks
    with timer.step("score"):
        kept = matcher.score(model, rec, settings.thresholds.link_probability)
        result.linked_pairs = kept["linked"]
        _store_edges(
            con,
            rec,
            kept["l"],
            kept["r"],
            kept["masks"],
            kept["levels"],
            kept["weights"],
            kept["total"],
            kept["probability"],
            kept["conflict"],
            settings.blocking.rules,
            now,
        )
    return model, rec


# ---------------------------------------------------------------------------------------------
# records and model


def _sync_records(con: duckdb.DuckDBPyConnection, now: datetime) -> int:
    """Bring `match_records` up to date with contacts; create `_m_rec` (with dirty flags) and
    `_m_removed`.

    Match features are derived only for new and changed contacts (their row fingerprint differs)
    and kept in `match_records`, so a daily drop costs a pass over the fingerprints, not over
    every name and address. Returns the number of contacts.
    """
    build_row_hashes(con)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _m_removed AS
        SELECT r.record_key, r.source, r.source_record_id FROM match_records r
        WHERE NOT EXISTS (SELECT 1 FROM _m_seen s
                          WHERE s.source = r.source AND s.source_record_id = r.source_record_id)
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _m_changed AS
        SELECT s.source, s.source_record_id, r.record_key, r.match_hash AS old_match_hash
        FROM _m_seen s LEFT JOIN match_records r
          ON r.source = s.source AND r.source_record_id = s.source_record_id
        WHERE r.row_hash IS DISTINCT FROM s.row_hash
        """
    )
    build_features(con, only="_m_changed", carry=("record_key",))
    cols = ", ".join(FEATURE_COLUMNS)
    # New keys are numbered on the two key columns alone: a window over the wide feature rows
    # inside the INSERT costs several times more at a million records.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _m_new_keys AS
        SELECT source, source_record_id,
               (SELECT coalesce(max(record_key), 0) FROM match_records)
                   + row_number() OVER (ORDER BY source, source_record_id) AS record_key
        FROM _m_feat WHERE record_key IS NULL
        """
    )
    con.execute(
        f"""
        INSERT INTO match_records (record_key, source, source_record_id, match_hash, row_hash,
                                   matched_at, {cols})
        SELECT k.record_key, f.source, f.source_record_id, f.match_hash, f.row_hash, ?,
               {", ".join(f"f.{c}" for c in FEATURE_COLUMNS)}
        FROM _m_feat f JOIN _m_new_keys k
          ON k.source = f.source AND k.source_record_id = f.source_record_id
        ORDER BY k.record_key
        """,
        [now],
    )
    con.execute(
        f"""
        UPDATE match_records SET match_hash = f.match_hash, row_hash = f.row_hash, matched_at = ?,
               {", ".join(f"{c} = f.{c}" for c in FEATURE_COLUMNS)}
        FROM _m_feat f WHERE f.record_key IS NOT NULL AND match_records.record_key = f.record_key
        """,
        [now],
    )
    # A record whose values changed since an earlier drop changed no later than the drop that
    # shows them: evidence of recency for sources without an update time (survivorship.py). The
    # fingerprint covers only the values a customer shows, so a new contact column is no change.
    con.execute(
        f"""
        UPDATE match_records SET
            changed_at = CASE WHEN match_records.value_hash IS DISTINCT FROM x.value_hash
                                   AND match_records.value_hash IS NOT NULL THEN x.changed_at
                              ELSE match_records.changed_at END,
            value_hash = x.value_hash
        FROM (SELECT f.source, f.source_record_id, {_value_hash_sql("c")} AS value_hash,
                     coalesce(l.exported_at, l.remote_mtime, c.loaded_at) AS changed_at
              FROM _m_feat f JOIN contacts c
                ON c.source = f.source AND c.source_record_id = f.source_record_id
              LEFT JOIN ingest_log l ON l.file_id = c.file_id) x
        WHERE match_records.source = x.source
          AND match_records.source_record_id = x.source_record_id
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _m_rec AS
        WITH kept AS (  -- numbered on the keys alone: windows over the wide rows cost far more
            SELECT r.record_key,
                   CAST(row_number() OVER (ORDER BY r.record_key) - 1 AS INTEGER) AS idx,
                   row_number() OVER (ORDER BY r.source, r.source_record_id) AS ord
            FROM match_records r
            WHERE NOT EXISTS (SELECT 1 FROM _m_removed x WHERE x.record_key = r.record_key)
        )
        SELECT r.source, r.source_record_id, {", ".join(f"r.{c}" for c in FEATURE_COLUMNS)},
               r.match_hash,
               r.record_key, k.idx, k.ord,
               ((c.source IS NOT NULL AND c.old_match_hash IS DISTINCT FROM r.match_hash)
                OR NOT EXISTS (SELECT 1 FROM customer_sources cs
                               WHERE cs.source = r.source
                                 AND cs.source_record_id = r.source_record_id)) AS dirty,
               (c.source IS NOT NULL) AS row_dirty
        FROM match_records r JOIN kept k ON k.record_key = r.record_key
        LEFT JOIN _m_changed c ON c.source = r.source AND c.source_record_id = r.source_record_id
        ORDER BY k.idx
        """
    )
    contacts = con.execute("SELECT count(*) FROM _m_seen").fetchall()[0][0]
    con.execute(
        "DROP TABLE _m_feat; DROP TABLE _m_seen; DROP TABLE _m_changed; DROP TABLE _m_new_keys"
    )
    # Pairs of records that are gone (a GDPR erasure removes their match_records rows too).
    con.execute(
        """
        DELETE FROM match_edges
        WHERE left_key IN (SELECT record_key FROM _m_removed)
           OR right_key IN (SELECT record_key FROM _m_removed)
           OR left_key NOT IN (SELECT record_key FROM match_records)
           OR right_key NOT IN (SELECT record_key FROM match_records)
        """
    )
    return contacts


def _current_model(
    con: duckdb.DuckDBPyConnection, settings: MatchSettings, records: int
) -> tuple[Model | None, bool]:
    """The stored model, or None (and a full run) when there is none or it is out of date."""
    row = con.execute(
        "SELECT model, settings_hash, records FROM match_model ORDER BY trained_at DESC LIMIT 1"
    ).fetchall()
    row = row[0] if row else None
    if row is None or row[1] != _settings_hash(settings):
        return None, True
    model = Model.from_json(row[0])
    if any(len(model.m.get(c.name, ())) != len(c.levels) for c in COMPARISONS):
        return None, True  # estimated for other comparison levels (an upgrade): estimate again
    if (
        records >= (1.0 + settings.training.retrain_growth) * max(row[2] or 0, 1)
        and records > 1_000
    ):
        return None, True
    return model, False


def _save_model(con, model: Model, settings: MatchSettings, records: int, now: datetime) -> None:
    con.execute(
        "INSERT INTO match_model (model, settings_hash, records, trained_at) VALUES (?, ?, ?, ?)",
        [model.to_json(), _settings_hash(settings), records, now],
    )


def _train(
    rec, patterns: LevelPatterns, settings: MatchSettings, options: dict, now: datetime
) -> Model:
    """u from random pairs, m from one EM session per blocking rule, then the prior; the
    candidate pairs counted per level pattern (`patterns`).

    Twice: the first pass tells how many records a person has on average (k = 1 + prior * (n - 1)),
    the second counts value frequencies per person instead of per record, so that on data full
    of duplicates an identifier shared by one person's five records still counts as rare.
    """
    t = settings.training
    usable = patterns.usable
    sessions = [
        (bit, [COMPARISON_NAMES.index(c) for c in RULES[rule].determines])
        for bit, rule in enumerate(settings.blocking.rules)
    ]
    per_person = 1.0
    for _ in range(2):
        u = estimate_u(rec, t.random_pairs, t.seed, per_person, **options)
        m, rounds = estimate_m(
            patterns.levels[usable],
            patterns.masks[usable],
            sessions,
            u,
            t.em_iterations,
            t.em_tolerance,
            patterns.counts[usable],
        )
        prior = estimate_prior(patterns.levels, m, u, rec.n, counts=patterns.counts)
        per_person = float(min(max(1.0 + prior * (rec.n - 1), 1.0), 5.0))
    # An exact level weighed from its pairs: all of them must be candidates, found by a rule
    # whose key decides that comparison alone. Contradicting pairs count: they are non-matches.
    from_pairs: dict[str, list[float]] = {}
    for name in t.exact_weight_from_pairs:
        if not any(RULES[r].determines == (name,) for r in settings.blocking.rules):
            continue
        exact_u, share, pairs = exact_u_from_pairs(
            patterns.levels, name, m, u, prior, counts=patterns.counts
        )
        if exact_u is not None:
            u[name][-1] = exact_u
            from_pairs[name] = [share, pairs]
    if from_pairs:
        prior = estimate_prior(patterns.levels, m, u, rec.n, counts=patterns.counts)
    model = Model(
        m=m,
        u=u,
        prior=prior,
        records=rec.n,
        pairs=int(patterns.counts[usable].sum()),
        iterations=rounds,
        trained_at=now.isoformat(),
        term_frequency=list(settings.term_frequency),
        records_per_person=per_person,
        tf_reference=tf_references(rec, per_person),
        from_pairs=from_pairs,
    )
    weights = model.level_weights()
    log.info(
        "match model estimated on %s records, %s pairs, %s EM rounds, prior %.3g, "
        "%.2f records per person; exact levels from pairs (share of matches, pairs): %s; "
        "weights: %s",
        rec.n,
        model.pairs,
        rounds,
        prior,
        per_person,
        from_pairs,
        {f: [round(float(w), 1) for w in weights[f]] for f in COMPARISON_NAMES},
    )
    return model


# ---------------------------------------------------------------------------------------------
# pairs


def _store_edges(
    con,
    rec,
    l,  # noqa: E741
    r,
    masks,
    levels,
    weights,
    total,
    probability,
    conflict,
    rules: list[str],
    now: datetime,
) -> None:
    """Append the linkable pairs to `match_edges` (by record key)."""
    distinct, which = np.unique(masks, return_inverse=True)
    names = pa.array([rule_names(int(m), rules) for m in distinct], pa.string())
    columns: dict[str, pa.Array] = {
        "left_key": pa.array(rec.keys[l]),
        "right_key": pa.array(rec.keys[r]),
        "match_weight": pa.array(total),
        "match_probability": pa.array(probability),
        "rules": names.take(pa.array(which.ravel())),
        "conflict": pa.array(conflict, pa.int8()),
    }
    for k, c in enumerate(COMPARISONS):
        level, weight = c.edge_columns
        columns[level] = pa.array(levels[:, k])
        columns[weight] = pa.array(weights[:, k].astype(np.float64))
    table = pa.table(columns)
    con.register("_m_new_edges", table)
    cols = ", ".join(columns)
    con.execute(
        f"INSERT INTO match_edges ({cols}, scored_at) SELECT {cols}, ? FROM _m_new_edges", [now]
    )
    con.unregister("_m_new_edges")


def _remember_overrides(con: duckdb.DuckDBPyConnection, overrides: Overrides) -> None:
    con.execute("DELETE FROM match_override_records")
    if overrides.records:
        con.executemany(
            "INSERT INTO match_override_records VALUES (?, ?)", sorted(overrides.records)
        )


def _override_keys(con: duckdb.DuckDBPyConnection, overrides: Overrides) -> None:
    """`_m_override(kind, left_key, right_key)` for the override pairs whose records both exist."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _m_override_text "
        "(kind VARCHAR, ls VARCHAR, lr VARCHAR, rs VARCHAR, rr VARCHAR)"
    )
    rows = [("always", a[0], a[1], b[0], b[1]) for a, b in overrides.always]
    rows += [("never", a[0], a[1], b[0], b[1]) for a, b in overrides.never]
    if rows:
        con.executemany("INSERT INTO _m_override_text VALUES (?, ?, ?, ?, ?)", rows)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _m_override AS
        SELECT o.kind, a.record_key AS left_key, b.record_key AS right_key,
               a.idx AS left_idx, b.idx AS right_idx
        FROM _m_override_text o
        JOIN _m_rec a ON a.source = o.ls AND a.source_record_id = o.lr
        JOIN _m_rec b ON b.source = o.rs AND b.source_record_id = o.rr
        """
    )


def _affected_records(con: duckdb.DuckDBPyConnection, overrides: Overrides, full: bool) -> int:
    """`_m_affected(record_key)`: dirty records, their former customer mates, overrides, and all
    connected."""
    _override_keys(con, overrides)
    if full:
        con.execute("CREATE OR REPLACE TEMP TABLE _m_affected AS SELECT record_key FROM _m_rec")
        return con.execute("SELECT count(*) FROM _m_affected").fetchall()[0][0]
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _m_touched AS
        SELECT source, source_record_id FROM _m_rec WHERE dirty
        UNION SELECT source, source_record_id FROM _m_removed
        UNION SELECT source, source_record_id FROM _m_rec
              WHERE record_key IN (SELECT left_key FROM _m_override
                                   UNION SELECT right_key FROM _m_override)
        UNION SELECT source, source_record_id FROM match_override_records
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _m_affected AS
        SELECT record_key FROM _m_rec WHERE dirty
        UNION
        SELECT r.record_key FROM _m_rec r
        JOIN customer_sources cs
          ON cs.source = r.source AND cs.source_record_id = r.source_record_id
        WHERE cs.customer_id IN (
            SELECT cs2.customer_id FROM customer_sources cs2
            JOIN _m_touched t
              ON t.source = cs2.source AND t.source_record_id = cs2.source_record_id)
        UNION
        SELECT left_key FROM _m_override UNION SELECT right_key FROM _m_override
        UNION
        SELECT r.record_key FROM _m_rec r JOIN match_override_records o
            ON o.source = r.source AND o.source_record_id = r.source_record_id
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP VIEW _m_links_all AS
        SELECT left_key AS a, right_key AS b FROM match_edges
        UNION ALL SELECT left_key, right_key FROM _m_override WHERE kind = 'always'
        """
    )
    while True:
        added = con.execute(
            """
            INSERT INTO _m_affected
            SELECT DISTINCT n FROM (
                SELECT e.b AS n FROM _m_links_all e JOIN _m_affected f ON f.record_key = e.a
                UNION ALL
                SELECT e.a FROM _m_links_all e JOIN _m_affected f ON f.record_key = e.b
            ) x WHERE n NOT IN (SELECT record_key FROM _m_affected)
            """
        ).fetchall()[0][0]
        if not added:
            break
    con.execute("DROP VIEW _m_links_all")
    return con.execute("SELECT count(*) FROM _m_affected").fetchall()[0][0]


def _cluster_affected(
    con: duckdb.DuckDBPyConnection,
    rec,
    overrides: Overrides,
    options: dict,
    model: Model,
    full: bool,
    link_probability: float,
    matcher: SparkMatch | None = None,
) -> int:
    """Cluster the affected records: `_m_assign(record_key, cluster, ord, match_score)` and
    `_m_links`.

    Returns how many lone records joined a customer despite one conflicting field. Whether they
    may is decided on a full run, from the twins the clusters confirm (`twins_expected`), and kept
    with the model so that a daily run decides as a run from scratch would.
    """
    records = (
        con.sql(
            "SELECT r.idx FROM _m_rec r JOIN _m_affected a ON a.record_key = r.record_key "
            "ORDER BY r.idx"
        )
        .to_arrow_table()["idx"]
        .to_numpy()
        .astype(np.int64)
    )
    edges = con.sql(
        """
        SELECT a.idx AS l, b.idx AS r, e.match_weight AS w, e.match_probability AS p,
               coalesce(e.conflict, 0) AS conflict
        FROM match_edges e
        JOIN _m_rec a ON a.record_key = e.left_key JOIN _m_rec b ON b.record_key = e.right_key
        WHERE e.left_key IN (SELECT record_key FROM _m_affected)
        ORDER BY coalesce(e.conflict, 0) > 0
        """
    ).to_arrow_table()
    el = edges["l"].to_numpy().astype(np.int64)
    er = edges["r"].to_numpy().astype(np.int64)
    ew = edges["w"].to_numpy()
    ep = edges["p"].to_numpy()
    kind = edges["conflict"].to_numpy().astype(np.int8)
    del edges  # `ew` and `ep` keep their columns alive, the rest goes
    plain = int((kind == 0).sum())  # the links come first, then the pairs with one conflict
    ov = con.execute("SELECT kind, left_idx, right_idx FROM _m_override").fetchall()
    always = sorted((int(a), int(b)) for k, a, b in ov if k == "always")
    never = {(int(a), int(b)) for k, a, b in ov if k == "never"}
    if matcher is None:
        result, forgiven = cluster_records(
            rec, records, el, er, ew, kind, plain, always, never, options
        )
    else:  # one connected component per Spark task
        result, forgiven = matcher.cluster(
            records, el, er, ew, kind, plain, always, never, options
        )
    if full:
        sizes = np.bincount(result.labels)
        singleton_share = float((sizes == 1).sum() / max(1, (sizes > 0).sum()))
        expected = twins_expected(forgiven.confirmed, singleton_share)
        # One twin is assumed beyond those seen; the rest may be at most the error share that a
        # link at the threshold accepts.
        model.forgive_lone_conflicts = bool(
            forgiven.candidates
            and expected + 1.0 <= (1.0 - link_probability) * forgiven.candidates
        )
        con.execute(
            "UPDATE match_model SET model = ? "
            "WHERE trained_at = (SELECT max(trained_at) FROM match_model)",
            [model.to_json()],
        )
        log.info(
            "lone conflicts: %s candidates, %s confirmed twin pairs (%.1f twins expected among "
            "the candidates): %s",
            forgiven.candidates,
            forgiven.confirmed,
            expected,
            "forgiven" if model.forgive_lone_conflicts else "kept apart",
        )
    joined = 0
    if model.forgive_lone_conflicts and len(forgiven.records):
        result.labels = apply_forgiven(result.labels, records, forgiven)
        pos = plain + forgiven.edges
        other = np.where(el[pos] == forgiven.records, er[pos], el[pos])
        result.links = np.concatenate(
            [result.links, np.stack([forgiven.records, other, pos], axis=1).astype(np.int64)]
        )
        joined = len(forgiven.records)
    del el, er, ew, kind

    # Each record's match score: the strongest link that joined it (an override counts as 1).
    link_a, link_b, link_pos = result.links[:, 0], result.links[:, 1], result.links[:, 2]
    scored = link_pos >= 0
    link_p = np.ones(len(link_pos))
    link_p[scored] = ep[link_pos[scored]]
    match_score = np.full(rec.n, np.nan)
    np.fmax.at(match_score, link_a, link_p)
    np.fmax.at(match_score, link_b, link_p)
    assign = pa.table(
        {
            "record_key": pa.array(rec.keys[result.records]),
            "cluster": pa.array(result.labels),
            "ord": pa.array(rec.order[result.records]),
            "match_score": pa.array(match_score[result.records], from_pandas=True),
        }
    )
    con.register("_m_assign_rows", assign)
    con.execute("CREATE OR REPLACE TEMP TABLE _m_assign AS SELECT * FROM _m_assign_rows")
    con.unregister("_m_assign_rows")
    links = pa.table(
        {
            "left_key": pa.array(np.asarray(rec.keys[link_a], dtype=np.int64), pa.int64()),
            "right_key": pa.array(np.asarray(rec.keys[link_b], dtype=np.int64), pa.int64()),
            "scored": pa.array(scored),
        }
    )
    con.register("_m_link_rows", links)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _m_links AS SELECT left_key, right_key, "
        "CASE WHEN scored THEN 'score' ELSE 'override' END AS kind FROM _m_link_rows"
    )
    con.unregister("_m_link_rows")
    # The customer each affected (or removed) record belonged to before this run.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _m_old AS
        SELECT mr.record_key, cs.customer_id, cs.linked_at
        FROM customer_sources cs JOIN match_records mr
          ON mr.source = cs.source AND mr.source_record_id = cs.source_record_id
        WHERE mr.record_key IN (SELECT record_key FROM _m_affected
                                UNION ALL SELECT record_key FROM _m_removed)
        """
    )
    return joined


# ---------------------------------------------------------------------------------------------
# writing


def _comparison_json_sql(alias: str) -> str:
    parts = []
    for c in COMPARISONS:
        level, weight = (f"{alias}.{col}" for col in c.edge_columns)
        labels = " ".join(f"WHEN {i} THEN '{name}'" for i, name in enumerate(c.levels))
        parts.append(
            f"'{c.name}', json_object('level', {level}, "
            f"'label', CASE {level} {labels} ELSE 'missing' END, "
            f"'weight', round({weight}, 2))"
        )
    return f"CAST(json_object({', '.join(parts)}) AS VARCHAR)"


def _write_links(con: duckdb.DuckDBPyConnection, now: datetime) -> None:
    """customer_sources, match_evidence and customer_merges for the re-clustered records."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _m_old_ids AS
        SELECT DISTINCT customer_id FROM _m_old
        UNION SELECT customer_id FROM _m_ids
        """
    )
    con.execute(
        """
        DELETE FROM customer_sources cs WHERE EXISTS (
            SELECT 1 FROM match_records mr
            WHERE mr.source = cs.source AND mr.source_record_id = cs.source_record_id
              AND mr.record_key IN (SELECT record_key FROM _m_affected
                                    UNION ALL SELECT record_key FROM _m_removed))
        """
    )
    con.execute(
        """
        INSERT INTO customer_sources
            (customer_id, source, source_record_id, match_score, linked_at)
        SELECT i.customer_id, r.source, r.source_record_id, a.match_score,
               CASE WHEN o.customer_id = i.customer_id THEN coalesce(o.linked_at, ?) ELSE ? END
        FROM _m_assign a
        JOIN _m_ids i ON i.cluster = a.cluster
        JOIN _m_rec r ON r.record_key = a.record_key
        LEFT JOIN _m_old o ON o.record_key = a.record_key
        """,
        [now, now],
    )
    con.execute(
        "DELETE FROM match_evidence WHERE customer_id IN (SELECT customer_id FROM _m_old_ids)"
    )
    con.execute(
        f"""
        INSERT INTO match_evidence (customer_id, left_source, left_record_id, right_source,
                                    right_record_id,
                                    match_weight, match_probability, rule, comparison, matched_at)
        SELECT i.customer_id, ra.source, ra.source_record_id, rb.source, rb.source_record_id,
               e.match_weight, CASE WHEN k.kind = 'override' THEN 1.0 ELSE e.match_probability END,
               CASE WHEN k.kind = 'override' THEN 'override: always_merge' ELSE e.rules END,
               CASE WHEN k.kind = 'override' THEN NULL ELSE {_comparison_json_sql("e")} END,
               ?
        FROM _m_links k
        JOIN _m_assign a ON a.record_key = k.left_key
        JOIN _m_ids i ON i.cluster = a.cluster
        JOIN _m_rec ra ON ra.record_key = k.left_key
        JOIN _m_rec rb ON rb.record_key = k.right_key
        LEFT JOIN match_edges e ON e.left_key = least(k.left_key, k.right_key)
                               AND e.right_key = greatest(k.left_key, k.right_key)
        """,
        [now],
    )
    con.execute(
        'INSERT INTO customer_merges (old_customer_id, new_customer_id, kind, "at") '
        "SELECT old_customer_id, new_customer_id, kind, ? FROM _m_id_changes",
        [now],
    )


# The values whose change dates a record (match_records.changed_at): every canonical field a
# customer shows as a person's value (not the last purchase, an activity). The fingerprint hashes
# the first thirteen together, as it always has; a field added since joins it only where it
# holds a value, so adding a field does not make every record look changed once.
_FINGERPRINTED = (
    "first_name",
    "infix",
    "last_name",
    "email",
    "phone",
    "street",
    "house_number",
    "house_number_suffix",
    "postcode",
    "city",
    "country",
    "birth_date",
    "newsletter_opt_in",
)
_SHOWN_VALUES = tuple(
    f for f in CANONICAL_FIELDS if f in GOLDEN_COLUMNS and f != "last_purchase_at"
)


def _value_hash_sql(alias: str) -> str:
    """SQL of the fingerprint of the shown values of the contact `alias`."""
    fingerprint = f"hash({', '.join(f'{alias}.{f}' for f in _FINGERPRINTED)})"
    for f in _SHOWN_VALUES:
        if f not in _FINGERPRINTED:
            col = f"{alias}.{f}"
            fingerprint = (
                f"CASE WHEN {col} IS NULL THEN {fingerprint} ELSE hash({fingerprint}, {col}) END"
            )
    return f"CAST({fingerprint} AS VARCHAR)"


# Raised when the survivorship rules themselves change, so every golden record is recomputed once.
SURVIVORSHIP_VERSION = 2


def _survivorship_hash(settings: MatchSettings, source_priority: dict[str, int]) -> str:
    text = (
        f"v{SURVIVORSHIP_VERSION}"
        + settings.survivorship.model_dump_json()
        + repr(sorted(source_priority.items()))
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _write_customers(
    con: duckdb.DuckDBPyConnection,
    settings: MatchSettings,
    source_priority: dict[str, int],
    now: datetime,
) -> int:
    """Recompute golden records of re-clustered customers and of customers whose rows changed.

    When the survivorship settings or the source priorities changed since the last run, every
    customer is recomputed; so is every customer showing an email that bounced.
    """
    rules = _survivorship_hash(settings, source_priority)
    last = con.execute(
        "SELECT survivorship_hash FROM match_model ORDER BY trained_at DESC LIMIT 1"
    ).fetchall()
    everyone = not last or last[0][0] != rules
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _m_targets AS
        SELECT customer_id FROM _m_ids
        UNION
        SELECT cs.customer_id FROM customer_sources cs
        JOIN _m_rec r ON r.source = cs.source AND r.source_record_id = cs.source_record_id
        WHERE r.row_dirty {"OR true" if everyone else ""}
        UNION
        -- a customer whose shown email bounced since: another of its addresses may take over
        SELECT c.customer_id FROM customers c
        WHERE c.email IN (SELECT email FROM suppressions
                          WHERE reason IN ('hard_bounce', 'soft_bounce')
                          UNION SELECT email FROM suppression_events WHERE event = 'hard_bounce')
        """
    )
    if everyone:
        con.execute(
            "UPDATE match_model SET survivorship_hash = ? "
            "WHERE trained_at = (SELECT max(trained_at) FROM match_model)",
            [rules],
        )
    con.execute(
        """
        CREATE OR REPLACE TEMP VIEW _m_target_members AS
        SELECT cs.customer_id, cs.source, cs.source_record_id FROM customer_sources cs
        WHERE cs.customer_id IN (SELECT customer_id FROM _m_targets)
        """
    )
    build_golden(con, "_m_target_members", settings, source_priority)
    value_cols = [c for c in GOLDEN_COLUMNS if c != "customer_id"]
    fingerprint = (
        "md5(concat_ws('|', "
        + ", ".join(f"coalesce(CAST({c} AS VARCHAR), '\x01')" for c in value_cols)
        + "))"
    )
    changed = con.execute(
        f"""
        SELECT count(*) FROM _m_golden g JOIN customers c ON c.customer_id = g.customer_id
        WHERE {fingerprint.replace("coalesce(CAST(", "coalesce(CAST(g.")}
           <> {fingerprint.replace("coalesce(CAST(", "coalesce(CAST(c.")}
        """
    ).fetchall()[0][0]
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _m_golden_rows AS
        SELECT g.*, coalesce(c.created_at, ?) AS created_at,
               CASE WHEN c.customer_id IS NOT NULL
                         AND {fingerprint.replace("coalesce(CAST(", "coalesce(CAST(g.")}
                           = {fingerprint.replace("coalesce(CAST(", "coalesce(CAST(c.")}
                    THEN c.updated_at ELSE ? END AS updated_at
        FROM _m_golden g LEFT JOIN customers c ON c.customer_id = g.customer_id
        """,
        [now, now],
    )
    # Customers that no longer own any record (merged away, all records gone) disappear.
    con.execute(
        """
        DELETE FROM customers WHERE customer_id IN (SELECT customer_id FROM _m_golden_rows)
           OR (customer_id IN (SELECT customer_id FROM _m_old_ids)
               AND customer_id NOT IN (SELECT customer_id FROM customer_sources))
        """
    )
    cols = ", ".join(GOLDEN_COLUMNS + ("created_at", "updated_at"))
    con.execute(f"INSERT INTO customers ({cols}) SELECT {cols} FROM _m_golden_rows")
    con.execute("DROP VIEW _m_target_members")
    return changed


def _finish_records(con: duckdb.DuckDBPyConnection, now: datetime) -> None:
    """Forget records that are gone (`_sync_records` kept the fingerprints of the others)."""
    con.execute(
        "DELETE FROM match_records WHERE record_key IN (SELECT record_key FROM _m_removed)"
    )


def _drop_temp(con: duckdb.DuckDBPyConnection) -> None:
    names = [
        row[0]
        for row in con.execute(
            "SELECT table_name FROM duckdb_tables() "
            "WHERE temporary AND table_name LIKE '\\_m\\_%' ESCAPE '\\'"
        ).fetchall()
    ]
    for name in names:
        con.execute(f"DROP TABLE IF EXISTS {name}")
