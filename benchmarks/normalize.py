"""Normalization benchmark: throughput, peak memory and accuracy against the demo ground truth.

    .venv/bin/python benchmarks/normalize.py --rows 1000000

1. Generates demo drops of about N rows (crm + webshop, `pipelines.demo.generate`) in a child
   process, so the generator's memory does not count.
2. Decodes and stages them with the real ingest code into a warehouse file (not timed).
3. Times `normalize_staged` per drop, as the loader calls it, and prints rows/s, the time per
   step and peak memory (max RSS of this process; and sampled RSS including pool workers).
4. Accuracy per field: the share of rows whose normalized value equals the generator's true
   clean value, on rows the generator marks as carrying the value (no typo, nickname, initials
   or missing marker; not a deliberately broken row). Then per field and special case (the
   truth's `<field>_case`: placeholders such as 00-00-0000 or x, mojibake, street abbreviations,
   city variants, Belgian particles, infix in odd places, domain typos, ...): the share right,
   where right is the true value, or NULL for a missing value (empty field or placeholder).
5. The naive way: pandas `DataFrame.apply` calling the same per-value functions row by row
   (`normalize_record`), on a random sample of --naive-sample rows, extrapolated to all rows,
   and the speed ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pandas as pd  # noqa: E402  (imported up front: an import is a process start-up cost, not normalization)

from pipelines.config import load_sources  # noqa: E402
from pipelines.demo.sources import TRUTH_FIELDS  # noqa: E402
from pipelines.ingest.decode import decode_to_utf8  # noqa: E402
from pipelines.ingest.stage import stage_file, staged_view_sql  # noqa: E402
from pipelines.normalize import normalize_record, normalize_staged  # noqa: E402
from pipelines.normalize.batch import cores  # noqa: E402
from pipelines.normalize.staged import STEP_SECONDS  # noqa: E402
from pipelines.warehouse import connect, transaction  # noqa: E402

ROWS_PER_PERSON = 1.505  # crm + webshop rows the generator writes per person (measured)
DAY = dt.date(2025, 11, 23)
TARGET_SECONDS_PER_MILLION = 20.0
TARGET_SPEEDUP = 3.0
TARGET_ACCURACY = 0.99
# Scored fields and the truth's dirt flag that says whether the row carries the value.
SCORED = {**{f: f for f in TRUTH_FIELDS}, "phone_type": "phone"}
# Fields whose missing value a normalizer fills from other fields of the row (status `inferred`).
INFERRED = frozenset({"country"})


class RssSampler:
    """Peak of (this process + its children) resident memory, sampled from /proc every 50 ms."""

    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss_kb(self, pid: int) -> int:
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _children(self, pid: int) -> list[int]:
        out = []
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children") as fh:
                    out += [int(c) for c in fh.read().split()]
        except OSError:
            pass
        return out

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.05):
            total = self._rss_kb(me) + sum(self._rss_kb(c) for c in self._children(me))
            self.peak_kb = max(self.peak_kb, total)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def cpu_seconds() -> tuple[float, float]:
    """(user + system CPU seconds of this process, of its finished children such as pool
    workers)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def generate_in_child(folder: Path, people: int, seed: int) -> None:
    repo, inbox, truth = str(REPO), str(folder / "inbox"), str(folder / "truth.parquet")
    code = (
        f"import sys, datetime as dt; from pathlib import Path; sys.path.insert(0, {repo!r});"
        "from pipelines.demo import generate;"
        f"s = generate(Path({inbox!r}), Path({truth!r}), people={people:d}, seed={seed:d}, "
        f"day=dt.date.fromisoformat({DAY.isoformat()!r}));"
        "print(chr(10).join(s.lines()))"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def accuracy(con, truth_path: Path) -> pd.DataFrame:
    """Per source and field: rows scored and the share equal to the true clean value."""
    con.execute(f"CREATE OR REPLACE TEMP VIEW truth AS SELECT * FROM read_parquet('{truth_path}')")
    parts = []
    for field, dirt in SCORED.items():
        parts.append(
            f"""SELECT t.source, '{field}' AS field, count(*) AS scored,
                       avg(CASE WHEN n.{field}
                                     IS NOT DISTINCT FROM t.{field}::VARCHAR::{_type(field)}
                                THEN 1.0 ELSE 0.0 END) AS accuracy
                FROM truth t
                JOIN normalized_all n ON n.source = t.source AND n.line_number = t.line_number
                WHERE t.{dirt}_dirt IS NULL AND NOT t.is_broken
                GROUP BY t.source"""
        )
    df = con.execute(" UNION ALL ".join(parts) + " ORDER BY field, source").df()
    return df


def case_accuracy(con) -> pd.DataFrame:
    """Per field and special case (truth `<field>_case`), both sources: rows scored and share
    right.

    Right: the true clean value where the row carries it, NULL where the value is missing
    (an empty field or a placeholder), except for fields a normalizer infers from other fields
    (`INFERRED`: country, from the postcode or phone), where the true value is expected. Rows
    whose value cannot be recovered otherwise (typo, nickname, role address, ...) are not scored.
    Also a `missing` line per field: every row whose value is missing, placeholder or empty."""
    parts = []
    for field, dirt in SCORED.items():
        value_right = f"n.{field} IS NOT DISTINCT FROM t.{field}::VARCHAR::{_type(field)}"
        right = (
            value_right
            if field in INFERRED
            else (
                f"CASE WHEN t.{dirt}_dirt = 'missing' THEN n.{field} IS NULL "
                f"ELSE {value_right} END"
            )
        )
        missing = "missing (expect inferred)" if field in INFERRED else "missing (expect NULL)"
        base = (
            "FROM truth t JOIN normalized_all n ON n.source = t.source "
            "AND n.line_number = t.line_number "
            f"WHERE NOT t.is_broken AND (t.{dirt}_dirt IS NULL OR t.{dirt}_dirt = 'missing')"
        )
        parts.append(f"""SELECT '{field}' AS field, t.{dirt}_case::VARCHAR AS "case",
                                count(*) AS scored,
                                avg(CASE WHEN {right} THEN 1.0 ELSE 0.0 END) AS accuracy
                         {base} AND t.{dirt}_case IS NOT NULL GROUP BY ALL""")
        parts.append(f"""SELECT '{field}' AS field, '{missing}' AS "case", count(*) AS scored,
                                avg(CASE WHEN {right} THEN 1.0 ELSE 0.0 END) AS accuracy
                         {base} AND t.{dirt}_dirt = 'missing' GROUP BY ALL""")
    return con.execute(" UNION ALL ".join(parts) + ' ORDER BY field, "case"').df()


def _type(field: str) -> str:
    from pipelines.fields import CONTACT_COLUMNS

    return CONTACT_COLUMNS[field]


def naive(con, sources, sample: int) -> tuple[float, int]:
    """Seconds for pandas apply + normalize_record on `sample` random staged rows (both
    sources)."""
    frames = []
    for name in ("crm", "webshop"):
        source = sources.sources[name]
        df = con.execute(
            f"SELECT * FROM staged_{name} "
            f"USING SAMPLE reservoir({sample // 2} ROWS) REPEATABLE (1)"
        ).df()
        frames.append((name, source, df.astype(object).where(df.notna(), None)))
    started = time.perf_counter()
    rows = 0
    for name, source, df in frames:
        default = sources.country_of(name)
        result = df.apply(
            lambda row, source=source, default=default: normalize_record(
                row.to_dict(), source=source, default_country=default, today=DAY
            ),
            axis=1,
        )
        rows += len(result)
    return time.perf_counter() - started, rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=int, default=100_000, help="about this many rows (crm + webshop)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--naive-sample", type=int, default=20_000, help="rows for the pandas-apply comparison"
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="generate into (or reuse) this folder and keep it"
    )
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="crmclean-bench-normalize-"))
    try:
        people = max(1, round(args.rows / ROWS_PER_PERSON))
        if not (folder / "truth.parquet").exists():
            t = time.perf_counter()
            generate_in_child(folder, people, args.seed)
            print(
                f"generated demo data for {people:,} people in {time.perf_counter() - t:.1f} s "
                "(child process)"
            )
        sources = load_sources(REPO / "sftp_config" / "sources.yaml")
        con = connect(folder / "warehouse.duckdb")
        con.execute("SET enable_progress_bar = false")
        t = time.perf_counter()
        con.execute("DELETE FROM staged_rows")
        for name in ("crm", "webshop"):
            source = sources.sources[name]
            path = next((folder / "inbox" / name).glob("*.csv"))
            decoded = decode_to_utf8(
                path,
                folder / f"{name}.utf8.csv",
                encoding=source.encoding,
                delimiter=source.delimiter,
                display_name=path.name,
            )
            with transaction(con):
                stage_file(
                    con,
                    file_id=name,
                    source_name=name,
                    source=source,
                    decoded=decoded,
                    file_name=path.name,
                )
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW staged_{name} AS {staged_view_sql(name, source)}"
            )
        staged_rows = con.execute("SELECT count(*) FROM staged_rows").fetchone()[0]
        print(f"staged {staged_rows:,} rows in {time.perf_counter() - t:.1f} s (not timed below)")
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        # --- the measured part -------------------------------------------------------------
        seconds: dict[str, float] = {}
        steps: dict[str, dict[str, float]] = {}
        load_before = os.getloadavg()[0]
        cpu_before = cpu_seconds()
        with RssSampler() as sampler:
            for name in ("crm", "webshop"):
                source = sources.sources[name]
                t = time.perf_counter()
                with transaction(con):
                    normalize_staged(
                        con,
                        f"staged_{name}",
                        f"normalized_{name}",
                        source=source,
                        default_country=sources.country_of(name),
                    )
                seconds[name] = time.perf_counter() - t
                steps[name] = dict(STEP_SECONDS)
        total = sum(seconds.values())
        cpu_self, cpu_workers = (
            after - before for after, before in zip(cpu_seconds(), cpu_before)
        )
        load_after = os.getloadavg()[0]
        peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        con.execute(
            "CREATE OR REPLACE TEMP TABLE normalized_all AS "
            "SELECT * FROM normalized_crm UNION ALL SELECT * FROM normalized_webshop"
        )
        out_rows = con.execute("SELECT count(*) FROM normalized_all").fetchone()[0]
        assert out_rows == staged_rows, f"{out_rows} output rows for {staged_rows} staged rows"

        print()
        print(
            f"rows normalized: {out_rows:,} "
            f"({', '.join(f'{n} {seconds[n]:.2f} s' for n in seconds)})"
        )
        print(f"wall time:       {total:.2f} s  ->  {out_rows / total:,.0f} rows/s")
        per_million = total / out_rows * 1_000_000
        scaled = (
            ""
            if out_rows >= 950_000
            else f", scaled linearly from {out_rows:,} rows: fixed costs weigh more in small runs"
        )
        print(
            f"per 1M rows:     {per_million:.1f} s (target < {TARGET_SECONDS_PER_MILLION:.0f} s: "
            f"{'OK' if per_million < TARGET_SECONDS_PER_MILLION else 'MISSED'}{scaled})"
        )
        print(
            f"cpu time:        {cpu_self:.2f} s this process (all DuckDB threads) + "
            f"{cpu_workers:.2f} s pool workers; {cores()} cores shared with other work: load "
            f"average {load_before:.1f} before, {load_after:.1f} after (above {cores()} means "
            "this run waited for a core)"
        )
        print(
            f"peak memory:     {peak_self:,.0f} MB max RSS of this process ({rss_before:,.0f} MB "
            f"before normalizing); {sampler.peak_kb / 1024:,.0f} MB sampled incl. pool workers "
            "(shared pages counted twice)"
        )
        print(
            "time per step:   "
            + "; ".join(
                f"{n}: " + ", ".join(f"{k} {v:.2f}" for k, v in steps[n].items()) for n in steps
            )
        )

        acc = accuracy(con, folder / "truth.parquet")
        print()
        print("accuracy on valid inputs (rows whose value the file really carries):")
        pivot = acc.pivot(index="field", columns="source", values="accuracy").reindex(list(SCORED))
        counts = acc.pivot(index="field", columns="source", values="scored").reindex(list(SCORED))
        worst = 1.0
        for field in SCORED:
            cells = []
            for s in pivot.columns:
                a = pivot.loc[field, s]
                worst = min(worst, a)
                cells.append(f"{s} {a * 100:7.3f}% of {int(counts.loc[field, s]):>9,}")
            print(f"  {field:20s} " + "   ".join(cells))
        print(
            f"  lowest: {worst * 100:.3f}% (target >= {TARGET_ACCURACY * 100:.0f}%: "
            f"{'OK' if worst >= TARGET_ACCURACY else 'MISSED'})"
        )

        cases = case_accuracy(con)
        print()
        print(
            "accuracy per special case (both sources; right = the true value, or NULL where "
            "missing; the truth's <field>_case):"
        )
        for row in cases.itertuples():
            print(
                f"  {row.field:20s} {row.case:26s} {row.accuracy * 100:7.3f}% of "
                f"{int(row.scored):>9,}"
            )

        sample = min(args.naive_sample, out_rows)
        naive_seconds, naive_rows = naive(con, sources, sample)
        naive_total = naive_seconds / naive_rows * out_rows
        print()
        print(
            f"naive (pandas apply + the same per-value functions, row by row): {naive_rows:,} "
            f"sampled rows in {naive_seconds:.1f} s -> extrapolated to {out_rows:,} rows: "
            f"{naive_total:.1f} s"
        )
        ratio = naive_total / total
        print(
            f"speed-up:        {ratio:.1f}x (target >= {TARGET_SPEEDUP:.0f}x: "
            f"{'OK' if ratio >= TARGET_SPEEDUP else 'MISSED'})"
        )
        con.close()
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
