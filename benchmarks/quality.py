"""Quality benchmark: metrics, checks and the HTML report on a synthetic warehouse of known
quality.

    python benchmarks/quality.py --rows 1000000

Builds `--rows` contacts (crm and webshop) in DuckDB SQL, grouped into customers, with planted
faults of known size: invalid emails, missing birth dates, exact duplicate records, sources
disagreeing on email, near-duplicate customers left by the matcher. Times the per-load figures
(`record_load_metrics` on one drop of all crm rows), the warehouse snapshot, the checks and the
report; prints rows/s, peak memory, and each measured figure against its planted truth.

The synthetic warehouse is built in a child process, so the peak memory printed is that of the
measured steps (one process: Python, DuckDB and its buffers), not of building the test data.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.config import load_sources  # noqa: E402
from pipelines.quality import checks  # noqa: E402
from pipelines.quality.metrics import figures_of, record_load_metrics, record_warehouse_metrics  # noqa: E402
from pipelines.quality.report import write_report  # noqa: E402
from pipelines.warehouse import connect, transaction  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(con, rows: int) -> dict[str, float]:
    """Contacts i = 0..rows-1; the first `people` are crm records (one per customer), the rest are
    webshop records of customer i % people. Returns the planted truth."""
    people = int(rows * 0.75)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _synthetic AS
        SELECT i,
               CASE WHEN i < {people} THEN 'crm' ELSE 'webshop' END AS source,
               'R' || i AS source_record_id,
               'C' || (i % {people}) AS customer_id,
               'Voornaam' || ((i % {people}) % 997) AS first_name,
               'Achternaam' || ((i % {people}) % 1009) AS last_name,
               CASE WHEN i >= {people} AND i % 10 = 0
                    THEN 'other' || i || '@example.nl'   -- webshop disagrees
                    ELSE 'person' || (i % {people}) || '@example.nl' END AS email,
               CASE WHEN i % 14 = 0 THEN 'invalid' ELSE 'valid' END AS email_status,
               '+3161' || lpad(CAST((i % {people}) AS VARCHAR), 7, '0') AS phone,
               lpad(CAST(1000 + (i % {people}) % 8000 AS VARCHAR), 4, '0') || ' AB' AS postcode,
               CAST(1 + ((i % {people}) // 8000) % 300 AS VARCHAR) AS house_number,
               CASE WHEN i % 5 = 0 THEN NULL
                    ELSE DATE '1950-01-01' + CAST((i % {people}) % 20000 AS INTEGER)
               END AS birth_date,
               TIMESTAMP '2026-11-01 00:00:00' - to_days(CAST(i % 700 AS INTEGER)) AS updated_at
        FROM range({rows}) t(i)
    """)
    # Exact duplicates: crm records 1, 3, 5, ... of every 100 copy the identity of their
    # predecessor.
    con.execute(f"""
        UPDATE _synthetic s
        SET first_name = p.first_name, last_name = p.last_name, email = p.email, phone = p.phone,
            postcode = p.postcode, house_number = p.house_number, birth_date = p.birth_date
        FROM _synthetic p WHERE s.i < {people} AND s.i % 100 = 1 AND p.i = s.i - 1
    """)
    cols = (
        "source, source_record_id, first_name, last_name, email, email_status, phone, postcode, "
        "house_number, birth_date, updated_at"
    )
    con.execute(f"""INSERT INTO contacts (file_id, {cols}, phone_status, postcode_status,
                                          birth_date_status, country)
                    SELECT CASE WHEN source = 'crm' THEN 'load-crm' ELSE 'load-webshop' END,
                           {cols}, 'valid', 'valid',
                           CASE WHEN birth_date IS NULL THEN 'missing' ELSE 'valid' END, 'NL'
                    FROM _synthetic""")
    con.execute(
        "INSERT INTO customer_sources (customer_id, source, source_record_id) "
        "SELECT customer_id, source, source_record_id FROM _synthetic"
    )
    con.execute(f"""INSERT INTO customers (customer_id, first_name, last_name, email, email_status,
                                           phone, postcode, house_number, country, birth_date,
                                           updated_at)
                    SELECT customer_id, first_name, last_name, email, email_status, phone,
                           postcode, house_number, 'NL', birth_date, updated_at
                    FROM _synthetic WHERE i < {people}""")
    con.execute(
        """INSERT INTO ingest_log (file_id, source, file_name, status, rows_read, rows_loaded,
                                   rows_rejected, landed_at) VALUES
                   ('load-crm', 'crm', 'klanten.csv', 'staged', ?, ?, 0, now()),
                   ('load-webshop', 'webshop', 'customers.csv', 'loaded', ?, ?, 0, now())""",
        [people, people, rows - people, rows - people],
    )
    copies = rows - people

    def share(where: str, n: int) -> float:
        """Share of i = 0 .. n-1 that the rule `where` picks."""
        return con.execute(f"SELECT count(*) FROM range({n}) t(i) WHERE {where}").fetchone()[0] / n

    multi = min(copies, people)  # customers with a webshop copy: c = 0 .. multi-1
    return {
        "validity email (crm drop)": 1 - share("i % 14 = 0", people),
        # a duplicate (i % 100 = 1) copies its predecessor's birth date, which is missing
        # (i % 5 = 0)
        "fill birth_date (crm drop)": 1 - share("i % 5 = 0 OR i % 100 = 1", people),
        "exact duplicates (crm drop)": share("i % 100 = 1", people),
        "matched duplicate rate": 1 - people / rows,
        # the webshop copy says another email, or the crm record became a copy of its predecessor
        "sources disagree on email": share(f"({people} + i) % 10 = 0 OR i % 100 = 1", multi),
        # both customers of each exact duplicate pair share an email
        "possible duplicates left": 2 * share("i % 100 = 1", people),
    }


def build_file(path: str, rows: int, truth_file: str) -> None:
    """Child process: build the synthetic warehouse file and write its planted truth as JSON."""
    con = connect(Path(path))
    Path(truth_file).write_text(json.dumps(build(con, rows)))
    con.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="crmclean-bench-quality-"))
    t = time.perf_counter()
    child = multiprocessing.get_context("spawn").Process(
        target=build_file,
        args=(str(work / "warehouse.duckdb"), args.rows, str(work / "truth.json")),
    )
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"building the synthetic warehouse failed (exit {child.exitcode})")
    truth = json.loads((work / "truth.json").read_text())
    print(f"built {args.rows:,} contacts in {time.perf_counter() - t:.1f} s (child process)")
    start_mb = peak_mb()
    con = connect(work / "warehouse.duckdb")
    config = load_sources(REPO / "sftp_config" / "sources.yaml")
    crm_rows = con.execute("SELECT count(*) FROM contacts WHERE source = 'crm'").fetchone()[0]
    con.execute(
        "CREATE OR REPLACE TEMP VIEW _normalized AS SELECT * FROM contacts WHERE source = 'crm'"
    )

    timings = {}
    t = time.perf_counter()
    with transaction(con):
        record_load_metrics(
            con,
            "_normalized",
            load_id="load-crm",
            source="crm",
            fields=list(config.sources["crm"].columns),
        )
    timings["per-load figures (crm drop)"] = (time.perf_counter() - t, crm_rows)
    peaks = {"per-load figures (crm drop)": peak_mb()}
    con.execute("UPDATE ingest_log SET status = 'loaded' WHERE file_id = 'load-crm'")
    t = time.perf_counter()
    with transaction(con):
        snapshot = {
            (m, f): v for m, f, v in record_warehouse_metrics(con, load_id="warehouse-bench")
        }
    timings["warehouse snapshot"] = (time.perf_counter() - t, args.rows)
    peaks["warehouse snapshot"] = peak_mb()
    t = time.perf_counter()
    with transaction(con):
        results = checks.evaluate_all(con, config)
    timings["checks (all loads, sources)"] = (time.perf_counter() - t, args.rows)
    peaks["checks (all loads, sources)"] = peak_mb()
    t = time.perf_counter()
    blocking = checks.blocking_failures(con)
    timings["blocking_failures"] = (time.perf_counter() - t, args.rows)
    peaks["blocking_failures"] = peak_mb()
    t = time.perf_counter()
    report = write_report(con, work / "reports", list(config.sources))
    timings["HTML report"] = (time.perf_counter() - t, args.rows)
    peaks["HTML report"] = peak_mb()

    print(f"{'step':<30} {'seconds':>9} {'rows/s':>14} {'peak RSS so far':>16}")
    for name, (seconds, n) in timings.items():
        print(f"{name:<30} {seconds:7.2f} s  {n / seconds:>12,.0f}  {peaks[name]:>12,.0f} MB")
    print(
        f"peak memory {peak_mb():,.0f} MB (process before measuring: {start_mb:,.0f} MB); "
        f"report {report.stat().st_size / 1e3:,.0f} kB; "
        f"{sum(not r.passed for r in results)} failed check(s); blocking: {len(blocking)}"
    )

    crm = figures_of(con, "load-crm")
    measured = {
        "validity email (crm drop)": crm[("validity", "email")],
        "fill birth_date (crm drop)": crm[("fill_rate", "birth_date")],
        "exact duplicates (crm drop)": crm[("duplicate_rate_exact", None)],
        "matched duplicate rate": snapshot[("duplicate_rate", None)],
        "sources disagree on email": snapshot[("inconsistency_rate", "email")],
        "possible duplicates left": snapshot[("residual_duplicate_rate", None)],
    }
    worst = 0.0
    for name, expected in truth.items():
        got = measured[name]
        worst = max(worst, abs(got - expected))
        print(f"{name:<30} measured {100 * got:7.3f}%  planted {100 * expected:7.3f}%")
    print(f"largest difference from the planted truth: {100 * worst:.4f} points")
    con.close()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
