"""Benchmark segment exports: every segment of sftp_config/exports.yaml over N customers.

    .venv/bin/python benchmarks/exports.py --rows 1000000

Builds a warehouse with N synthetic customers (DuckDB SQL, no pipeline needed) and suppressions
for about 10% of them (by id, email or phone), runs every configured segment to its destinations
(the local outbox and .eml mails by default), changes 1% of the customers and runs again (delta
mode and unchanged files). Prints per segment the rows and time, the throughput, peak memory
(maximum resident set size) and the accuracy check: rows in the delivered files that belong to a
suppressed customer or one without opt-in (must be 0; delta `removed` lines carry only an id).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
import zipfile
from datetime import datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402

from pipelines.config import load_exports  # noqa: E402
from pipelines.export.run import export_segment  # noqa: E402
from pipelines.segments.build import create_candidates_view  # noqa: E402
from pipelines.warehouse import connect  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

CUSTOMERS = """
INSERT INTO customers BY NAME
SELECT 'K' || lpad(CAST(i AS VARCHAR), 9, '0') AS customer_id,
       ['Jan', 'Anna', 'Åsa', 'Zoë', 'Piet', '=cmd'][1 + h(i, 1) % 6] AS first_name,
       CASE WHEN h(i, 2) % 3 = 0 THEN 'van' END AS infix,
       'Achternaam' || (i % 9973) AS last_name,
       CASE WHEN h(i, 3) % 20 <> 0
            THEN 'p' || i || '@example.' || ['nl', 'be', 'se'][1 + h(i, 4) % 3] END AS email,
       CASE WHEN h(i, 5) % 10 = 0 THEN 'invalid' ELSE 'valid' END AS email_status,
       CASE WHEN h(i, 6) % 5 <> 0 THEN '+316' || lpad(CAST(i % 100000000 AS VARCHAR), 8, '0')
            END AS phone,
       'Hoofdstraat' AS street, CAST(1 + i % 200 AS VARCHAR) AS house_number,
       '1234 AB' AS postcode, 'Utrecht' AS city,
       ['NL', 'NL', 'BE', 'SE', NULL][1 + h(i, 7) % 5] AS country,
       CASE WHEN h(i, 8) % 4 <> 0 THEN DATE '1950-01-01' + CAST(h(i, 9) % 20000 AS INTEGER)
            END AS birth_date,
       [true, true, true, false, NULL][1 + h(i, 10) % 5] AS newsletter_opt_in,
       TIMESTAMP '2026-11-01 12:00:00' - to_days(CAST(h(i, 11) % 1200 AS INTEGER))
           AS last_purchase_at,
       TIMESTAMP '2026-11-01 09:00:00' AS updated_at
FROM range(?) t(i)
"""

SUPPRESSIONS = """
INSERT INTO suppressions BY NAME
SELECT CASE WHEN h(i, 21) % 3 = 0 THEN 'K' || lpad(CAST(i AS VARCHAR), 9, '0') END AS customer_id,
       CASE WHEN h(i, 21) % 3 = 1
            THEN upper('p' || i || '@example.' || ['nl', 'be', 'se'][1 + h(i, 4) % 3])
            END AS email,
       CASE WHEN h(i, 21) % 3 = 2 THEN '+316' || lpad(CAST(i % 100000000 AS VARCHAR), 8, '0')
            END AS phone,
       ['unsubscribe', 'hard_bounce', 'complaint', 'erasure', 'no_consent'][1 + h(i, 22) % 5]
           AS reason,
       'benchmark' AS source, TIMESTAMP '2026-11-01' AS at
FROM range(?) t(i) WHERE h(i, 20) % 10 = 0
"""


def delivered(outbox: Path) -> list[Path]:
    files = [p for p in outbox.rglob("*.csv") if ".staging" not in p.parts]
    for eml in outbox.rglob("*.eml"):
        msg = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
        for a in msg.iter_attachments():
            path = eml.with_name(eml.stem + "_" + a.get_filename())
            path.write_bytes(a.get_payload(decode=True))
            if path.suffix == ".zip":
                with zipfile.ZipFile(path) as zf:
                    for member in zf.namelist():
                        target = eml.with_name(eml.stem + "_" + member)
                        target.write_bytes(zf.read(member))
                        files.append(target)
            else:
                files.append(path)
    return files


def leaks(con, files: list[Path]) -> tuple[int, int]:
    """Delivered rows of forbidden customers, other than a delta's id-only `removed` line, and
    email addresses delivered twice in one file. The files are read on a connection of their own:
    the export connection has external access disabled."""
    forbidden = con.execute(
        "SELECT customer_id FROM segment_candidates WHERE is_suppressed "
        "OR newsletter_opt_in IS NOT TRUE"
    ).df()
    reader = duckdb.connect()
    reader.register("forbidden", forbidden)
    total = twice = 0
    for f in files:
        with open(f, encoding="utf-8-sig") as fh:
            sep = ";" if ";" in fh.readline() else ","
        rel = reader.read_csv(str(f), header=True, all_varchar=True, sep=sep)
        cols = rel.columns
        removed = "AND coalesce(\"change\", '') <> 'removed'" if "change" in cols else ""
        total += reader.execute(
            "SELECT count(*) FROM rel "
            f"WHERE customer_id IN (SELECT customer_id FROM forbidden) {removed}"
        ).fetchone()[0]
        if "email" in cols:
            twice += reader.execute(
                "SELECT count(*) - count(DISTINCT lower(trim(email))) FROM rel "
                "WHERE nullif(email, '') IS NOT NULL"
            ).fetchone()[0]
    reader.close()
    return total, twice


def run_all(con, cfg, outbox: Path, now: datetime) -> list[tuple]:
    """Every segment as the daily step runs them (`export_segments`): `segment_candidates` built
    once, then each segment from it; timed one by one."""
    started = time.perf_counter()
    create_candidates_view(con, now.date(), materialize=True)
    out = [("(segment_candidates)", None, time.perf_counter() - started, None)]
    for name, segment in cfg.segments.items():
        started = time.perf_counter()
        result = export_segment(
            con, name, segment, cfg, outbox=outbox, now=now, candidates_ready=True
        )
        out.append((name, result.rows, time.perf_counter() - started, result))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000, help="customers in the warehouse")
    parser.add_argument("--keep", type=Path, default=None, help="work here and keep the files")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="crmclean-export-bench-"))
    try:
        cfg = load_exports(REPO / "sftp_config" / "exports.yaml")
        con = connect(work / "warehouse.duckdb")
        started = time.perf_counter()
        con.execute(
            "CREATE OR REPLACE TEMP MACRO h(x, k) AS CAST(hash(x, k) % 1000000007 AS BIGINT)"
        )
        con.execute(CUSTOMERS, [args.rows])
        con.execute(SUPPRESSIONS, [args.rows])
        n_supp = con.execute("SELECT count(*) FROM suppressions").fetchone()[0]
        print(
            f"warehouse: {args.rows:,} customers, {n_supp:,} suppressions, built in "
            f"{time.perf_counter() - started:.1f}s"
        )

        outbox = work / "outbox"
        for label, now in [
            ("day 1", datetime(2026, 11, 23, 6)),
            ("day 2", datetime(2026, 11, 24, 6)),
        ]:
            if label == "day 2":
                con.execute(
                    "UPDATE customers SET email = 'new.' || email "
                    "WHERE h(customer_id, 30) % 100 = 0"
                )
            t0 = time.perf_counter()
            results = run_all(con, cfg, outbox, now)
            wall = time.perf_counter() - t0
            print(f"\n{label}: all segments in {wall:.2f}s")
            for name, rows, seconds, r in results:
                if r is None:
                    print(f"  {name:<24} {'':>15} {seconds:7.2f}s")
                    continue
                c = r.change
                print(
                    f"  {name:<24} {rows:>10,} rows {seconds:7.2f}s "
                    f"{rows / max(seconds, 1e-9):>12,.0f} rows/s   +{c.added:,} ~{c.changed:,} "
                    f"-{c.removed:,}   files: {len([f for f in r.files if f['status'] == 'ok'])}"
                )
        files = delivered(outbox)
        size = sum(f.stat().st_size for f in files)
        print(f"\ndelivered: {len(files)} files, {size / 1e6:,.1f} MB")
        leaked, twice = leaks(con, files)
        print(
            f"accuracy: {leaked} rows of suppressed or unconsented customers delivered (must be "
            f"0); {twice} email addresses twice in one file (must be 0)"
        )
        print(f"peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
        con.close()
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
