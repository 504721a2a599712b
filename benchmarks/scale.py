"""Scale benchmark: the daily job from scratch, then the next day's incremental run, per size.

    python benchmarks/scale.py --people 1000000
    python benchmarks/scale.py --people 1000000,3000000,10000000 --daily-rows 500000

For each size N, in a fresh data folder with the shipped `sftp_config/` (local inbox, DuckDB
file, local outbox; the CRM's row-count check relaxed, as for a source that sends deltas):
1. day 1: the demo generator writes the CRM and webshop exports of N people (~1.5 N rows);
   `crmclean run` loads them from scratch (land, stage, normalize, match, survivorship, quality,
   suppressions, exports);
2. day 2: the same population one day later; a random `--daily-rows` sample of its CRM export
   is dropped as the day's delta file, and `crmclean run` takes it incrementally.

Each run is its own process, so wall time and peak memory (max RSS, from `wait4`) are its own.
Per-stage seconds come from Dagster's step statistics of the runs it recorded (the same figures
the UI's run timeline shows). Disk is the size of the warehouse file and of the landing archive.
With several sizes it prints how each stage grows per step against n log n. `--workdir DIR` keeps
each size's folder (data, config, logs) in DIR/<people>, to time statements on its warehouse.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DAY = dt.date(2026, 11, 23)


def _dir_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def _run(env: dict, log: Path, exports: bool) -> tuple[float, float, int]:
    """`crmclean run` in its own process: (seconds, peak MB, exit code)."""
    args = [sys.executable, "-m", "assets.cli", "run"] + ([] if exports else ["--no-exports"])
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(args, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def _stage_seconds(dagster_home: Path, since: float) -> dict[str, float]:
    """Seconds per step (asset) over the runs Dagster recorded after `since`."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    import dagster as dg

    instance = dg.DagsterInstance.get()
    totals: dict[str, float] = defaultdict(float)
    for run in instance.get_runs():
        record = instance.get_run_record_by_id(run.run_id)
        if record is None or (record.create_timestamp.timestamp() < since):
            continue
        for step in instance.get_run_step_stats(run.run_id):
            if step.start_time and step.end_time:
                totals[step.step_key] += step.end_time - step.start_time
    return dict(totals)


def _match_steps(dagster_home: Path, since: float) -> dict:
    """The last `customers` materialization since `since`: pairs scored and seconds per match
    step (engine.py), from its metadata."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    import dagster as dg

    instance = dg.DagsterInstance.get()
    records = instance.fetch_materializations(dg.AssetKey("customers"), limit=1).records
    if not records or records[0].timestamp < since:
        return {}
    meta = records[0].asset_materialization.metadata
    out = {"pairs": meta["pairs_scored"].value if "pairs_scored" in meta else None}
    out["steps"] = meta["steps"].value if "steps" in meta else {}
    return out


def _step_errors(dagster_home: Path, since: float) -> str:
    """The stack traces of failed steps since `since`, from Dagster's event log."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    import dagster as dg

    instance = dg.DagsterInstance.get()
    out = []
    for run in instance.get_runs():
        record = instance.get_run_record_by_id(run.run_id)
        if record is None or record.create_timestamp.timestamp() < since:
            continue
        for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
            error = entry.dagster_event.event_specific_data.error
            out.append(f"{entry.step_key}:\n{error.to_string() if error else 'failed'}")
    return "\n".join(out)


def _delta_drop(full: Path, target: Path, rows: int, seed: int) -> int:
    """A random sample of `rows` data lines of `full` (header kept), written to `target`."""
    raw = full.read_bytes()
    header, _, body = raw.partition(b"\n")
    lines = body.splitlines(keepends=True)
    picked = sorted(random.Random(seed).sample(range(len(lines)), min(rows, len(lines))))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    tmp.write_bytes(header + b"\n" + b"".join(lines[i] for i in picked))
    tmp.rename(target)
    return len(picked)


def _config(root: Path) -> Path:
    """The shipped config, with the CRM taking a delta file: a 500k-row day after a 1.5M-row
    full export is expected here, so the row-count check must not stop the exports."""
    import yaml

    config = root / "config"
    shutil.copytree(REPO / "sftp_config", config)
    sources = yaml.safe_load((config / "sources.yaml").read_text())
    sources["sources"]["crm"].setdefault("quality", {})["min_rows_ratio"] = 0
    (config / "sources.yaml").write_text(yaml.safe_dump(sources, sort_keys=False))
    return config


def measure(
    people: int, daily_rows: int, seed: int, exports: bool, keep: bool, workdir: Path | None = None
) -> dict:
    from pipelines.demo import generate

    if workdir is not None:  # kept, for timing statements on the warehouse afterwards
        root, keep = workdir / str(people), True
        root.mkdir(parents=True)
    else:
        root = Path(tempfile.mkdtemp(prefix=f"crmclean-scale-{people}-"))
    data = root / "data"
    config = _config(root)
    env = dict(os.environ, CRMCLEAN_DATA_DIR=str(data), CRMCLEAN_CONFIG_DIR=str(config))
    env["DAGSTER_HOME"] = str(data / "dagster")
    result: dict = {"people": people}
    try:
        t = time.perf_counter()
        day1 = generate(data / "inbox", root / "truth1.parquet", people=people, seed=seed, day=DAY)
        result["generate_s"] = time.perf_counter() - t
        result["rows"] = day1.total_rows
        # Day-1 files must look settled to the sensor: the shipped config has a settle time.
        old = time.time() - 3600
        for path in day1.files.values():
            os.utime(path, (old, old))

        since = time.time()
        secs, peak, code = _run(env, root / "day1.log", exports)
        result.update(day1_s=secs, day1_peak_mb=peak, day1_exit=code)
        result["day1_load"] = os.getloadavg()  # 1, 5, 15 minutes, at the end of the run
        result["day1_stages"] = _stage_seconds(data / "dagster", since)
        result["day1_match"] = _match_steps(data / "dagster", since)
        result["day1_errors"] = _step_errors(data / "dagster", since) if code else ""
        result["warehouse_mb"] = _dir_mb(data / "warehouse.duckdb")
        result["landing_mb"] = _dir_mb(data / "landing") if (data / "landing").exists() else 0.0

        staging = root / "day2"
        day2 = generate(
            staging,
            root / "truth2.parquet",
            people=people,
            seed=seed,
            day=DAY + dt.timedelta(days=1),
        )
        crm = day2.files["crm"]
        target = data / "inbox" / "crm" / crm.name  # the CRM's own name pattern, next day
        result["daily_rows"] = _delta_drop(crm, target, daily_rows, seed)
        os.utime(target, (old, old))
        since = time.time()
        secs, peak, code = _run(env, root / "day2.log", exports)
        result.update(day2_s=secs, day2_peak_mb=peak, day2_exit=code)
        result["day2_load"] = os.getloadavg()  # 1, 5, 15 minutes, at the end of the run
        result["day2_stages"] = _stage_seconds(data / "dagster", since)
        result["day2_match"] = _match_steps(data / "dagster", since)
        result["day2_errors"] = _step_errors(data / "dagster", since) if code else ""
        result["warehouse_after_mb"] = _dir_mb(data / "warehouse.duckdb")
        result["logs"] = {d: (root / f"{d}.log").read_text()[-2000:] for d in ("day1", "day2")}
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            result["root"] = str(root)
    return result


def _load(avg) -> str:
    return "/".join(f"{x:.1f}" for x in avg)


def _print_match(match: dict) -> None:
    if match.get("steps"):
        steps = ", ".join(f"{k} {v:.1f}" for k, v in match["steps"].items())
        print(f"    customers: {match['pairs'] or 0:,} pairs scored; match steps (s): {steps}")


def _print(r: dict) -> None:
    print(
        f"\n== {r['people']:,} people, {r['rows']:,} rows (generated in {r['generate_s']:.1f} s)"
    )
    print(
        f"day 1 from scratch: {r['day1_s']:8.1f} s  peak {r['day1_peak_mb']:,.0f} MB  "
        f"exit {r['day1_exit']}  load {_load(r['day1_load'])}"
    )
    for step, s in sorted(r["day1_stages"].items(), key=lambda kv: -kv[1]):
        print(f"    {step:40s} {s:8.1f} s")
    _print_match(r["day1_match"])
    print(f"disk: warehouse {r['warehouse_mb']:,.0f} MB, landing {r['landing_mb']:,.0f} MB")
    print(
        f"day 2, {r['daily_rows']:,}-row drop: {r['day2_s']:8.1f} s  "
        f"peak {r['day2_peak_mb']:,.0f} MB  exit {r['day2_exit']}  load {_load(r['day2_load'])}"
    )
    for step, s in sorted(r["day2_stages"].items(), key=lambda kv: -kv[1]):
        print(f"    {step:40s} {s:8.1f} s")
    _print_match(r["day2_match"])
    print(f"disk after day 2: warehouse {r['warehouse_after_mb']:,.0f} MB")
    for day in ("day1", "day2"):
        if r[f"{day}_exit"] != 0:
            print(f"--- {day} output (tail) ---\n{r['logs'][day]}\n{r[day + '_errors'][-6000:]}")


def _growth(a: dict, b: dict) -> None:
    ratio = b["people"] / a["people"]
    nlogn = ratio * math.log(b["people"]) / math.log(a["people"])
    print(f"\n== growth {a['people']:,} -> {b['people']:,} (x{ratio:.1f}; n log n: x{nlogn:.2f})")
    print(
        f"  day 1 total {b['day1_s'] / a['day1_s']:.2f}x, "
        f"peak {b['day1_peak_mb'] / a['day1_peak_mb']:.2f}x; "
        f"day 2 total {b['day2_s'] / a['day2_s']:.2f}x"
    )
    for step in sorted(b["day1_stages"]):
        if a["day1_stages"].get(step, 0) > 0.5:
            g = b["day1_stages"][step] / a["day1_stages"][step]
            flag = "  <- worse than n log n" if g > nlogn * 1.15 else ""
            print(f"    {step:40s} x{g:.2f}{flag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", default="1000000", help="comma-separated sizes")
    parser.add_argument("--daily-rows", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-exports", action="store_true", help="skip the segment exports")
    parser.add_argument("--keep", action="store_true", help="keep the data folders")
    parser.add_argument(
        "--workdir", type=Path, help="work in DIR/<people> (must not exist) and keep it"
    )
    parser.add_argument("--json", type=Path, help="append each size's figures to this file")
    args = parser.parse_args()
    sizes = [int(s) for s in args.people.split(",")]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"scale benchmark, {os.cpu_count()} cores, load average {load}")
    results = []
    for n in sizes:
        r = measure(n, args.daily_rows, args.seed, not args.no_exports, args.keep, args.workdir)
        _print(r)
        if args.json:
            with args.json.open("a") as out:
                out.write(json.dumps({k: v for k, v in r.items() if k != "logs"}) + "\n")
        if results:
            _growth(results[-1], r)
        results.append(r)


if __name__ == "__main__":
    main()
