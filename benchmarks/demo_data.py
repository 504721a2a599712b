"""Benchmark the demo data generator: wall time, rows per second and peak memory.

    .venv/bin/python benchmarks/demo_data.py --rows 1000000      # N = people

Writes into a temporary folder (removed afterwards unless --keep DIR is given) and prints the
generator's own summary, then the figures. Peak memory is the process's maximum resident set
size (resource.getrusage), which includes numpy and Arrow buffers that tracemalloc cannot see.
CPU time (user + system) is printed beside the wall time: on a shared machine it varies less.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.demo import generate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=int, default=100_000, help="people to generate (rows are ~1.5x this)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2025, 11, 23))
    parser.add_argument("--keep", type=Path, default=None, help="write here and keep the files")
    parser.add_argument(
        "--older-drops", type=int, default=0, help="earlier exports per source to write as well"
    )
    args = parser.parse_args()

    target = args.keep or Path(tempfile.mkdtemp(prefix="crmclean-demo-bench-"))
    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        summary = generate(
            target / "inbox",
            target / "truth.parquet",
            people=args.rows,
            seed=args.seed,
            day=args.day,
            older_drops=args.older_drops,
        )
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        sizes = {s: p.stat().st_size for s, p in summary.files.items()}
        truth_size = summary.truth_path.stat().st_size
    finally:
        if args.keep is None:
            shutil.rmtree(target, ignore_errors=True)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("\n".join(summary.lines()))
    print(f"people:        {args.rows:,}")
    print(
        (
            f"rows written:  {summary.total_rows:,} "
            f"({', '.join(f'{s} {n:,}' for s, n in summary.rows.items())})"
        )
        + (f" + {summary.older_rows:,} in earlier drops" if summary.older_rows else "")
    )
    print(
        f"bytes written: {', '.join(f'{s} {b / 1e6:.1f} MB' for s, b in sizes.items())}, truth "
        f"{truth_size / 1e6:.1f} MB"
    )
    print(f"wall time:     {wall:.2f} s (cpu {cpu:.2f} s)")
    print(
        f"throughput:    {summary.total_rows / wall:,.0f} rows/s "
        f"({args.rows / wall:,.0f} people/s)"
    )
    print(f"peak memory:   {peak_mb:,.0f} MB (max RSS)")


if __name__ == "__main__":
    main()
