"""Match stage on DuckDB against Spark local mode: time per size, and the same partition.

    python benchmarks/backends.py --contacts 50000,200000,1000000 --workdir /tmp/bench-backends

For each size, demo data of about that many contacts (`dedupe.prepare_demo`: the real ingest
path) is matched from scratch once per backend, each run in its own process. Reported:
- `match`: blocking, load, compare, train, score, affected and cluster: what `backend` moves;
- `run`: all of build_customers (features, ids, survivorship stay in DuckDB either way);
- `session`: starting the Spark session (a JVM), outside `run`;
- peak memory of the Python process, and of the JVM (Spark's driver and executor in local
  mode; the Spark Python workers come on top);
- whether Spark grouped the records exactly as DuckDB did.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dedupe import NOW, REPO, prepare_demo, same_partition, save_partition

MATCH_STEPS = ("blocking", "load", "compare", "train", "score", "affected", "cluster")


def _peak_mb(pid: int) -> float:
    """Peak resident memory of a process (the JVM: Spark's driver and executors in local mode)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def worker(db: Path, backend: str, partition: Path) -> dict:
    from pipelines.match import MatchSettings, build_customers
    from pipelines.warehouse import connect, transaction

    session = None
    started = time.perf_counter()
    if backend == "spark":
        from pipelines.match.backends.spark import local_session

        session = local_session()
        session.sparkContext.setLogLevel("ERROR")
    session_seconds = time.perf_counter() - started
    con = connect(db)
    with transaction(con):
        result = build_customers(
            con,
            settings=MatchSettings(backend=backend),
            source_priority={"crm": 1, "webshop": 2},
            overrides_path=None,
            now=NOW,
            spark=session,
        )
    con.execute(
        "CREATE OR REPLACE TEMP VIEW _clusters AS "
        "SELECT source, source_record_id, customer_id AS cluster FROM customer_sources"
    )
    save_partition(con, "_clusters", partition)
    con.close()
    jvm_mb = 0.0
    if session is not None:
        jvm_mb = _peak_mb(session.sparkContext._gateway.proc.pid)
        session.stop()
    return {
        "contacts": result.contacts,
        "pairs": result.pairs_scored,
        "customers": result.customers,
        "run": result.seconds,
        "match": sum(result.steps.get(s, 0.0) for s in MATCH_STEPS),
        "session": session_seconds,
        "steps": {k: round(v, 2) for k, v in result.steps.items()},
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "jvm_peak_mb": jvm_mb,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--contacts", default="50000,200000,1000000", help="comma-separated sizes")
    ap.add_argument("--backends", default="duckdb,spark")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--workdir", type=Path, default=None, help="keep prepared data sets here")
    ap.add_argument("--worker", choices=["duckdb", "spark"], help=argparse.SUPPRESS)
    ap.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--partition", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(worker(args.db, args.worker, args.partition)), flush=True)
        return
    folder = args.workdir or Path(tempfile.mkdtemp(prefix="crmclean-bench-backends-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(
        f"{'contacts':>10} {'backend':<7} {'pairs':>10} {'match s':>8} {'run s':>7} "
        f"{'session s':>9} {'peak MB':>8} {'JVM MB':>7}  partition"
    )
    for size in (int(x) for x in args.contacts.split(",")):
        db = prepare_demo(f"backends{size}", folder, int(size / 1.5), args.seed)
        partitions = {}
        for backend in args.backends.split(","):
            copy = folder / f"run-{backend}.duckdb"
            shutil.copyfile(db, copy)
            partitions[backend] = folder / f"{size}-{backend}.parquet"
            cmd = [sys.executable, __file__, "--worker", backend, "--db", str(copy)]
            cmd += ["--partition", str(partitions[backend])]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
            copy.unlink(missing_ok=True)
            lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            if not lines:
                print(f"{backend} failed at {size:,}:\n{proc.stderr[-3000:]}", flush=True)
                continue
            r = json.loads(lines[0][7:])
            same = ""
            if backend != "duckdb" and "duckdb" in partitions:
                import duckdb

                equal, records = same_partition(
                    duckdb.connect(), partitions["duckdb"], partitions[backend]
                )
                same = f"{'same as' if equal else 'DIFFERS from'} duckdb ({records:,} records)"
            print(
                f"{r['contacts']:>10,} {backend:<7} {r['pairs']:>10,} {r['match']:>8.1f} "
                f"{r['run']:>7.1f} {r['session']:>9.1f} {r['peak_mb']:>8,.0f} "
                f"{r['jvm_peak_mb']:>7,.0f}  {same}",
                flush=True,
            )
            print(f"{'':>10} steps (s): {r['steps']}", flush=True)
    if not args.workdir:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
