"""Benchmark orders and engagement: loading the drops and refreshing customer metrics.

    .venv/bin/python benchmarks/engagement.py --orders 10000000 --events 20000000 --customers
        1000000
    .venv/bin/python benchmarks/engagement.py --customers 10000 --orders 100000 --events 200000

Builds a warehouse of K customers (one CRM contact each, as the match leaves them) and two
staged drops generated in DuckDB SQL: N order lines (about two lines per order over three years,
comma decimals, EUR and SEK, 5% returned, 2% cancelled, half referring to the customer by CRM
record id and half by email in other case, 2% for unknown customers) and M engagement events
(200 campaigns, sent/delivered/open/click/bounce/unsubscribe/complaint, 1% of unknown
addresses). Then times, each step in its own process so that its peak memory (max RSS) is its
own: loading the orders drop, loading the engagement drop, a full metrics refresh, and a day's
increment (0.1% new order lines, a tenth of them re-delivered orders, and 1% new events)
loaded and followed by an incremental refresh. Checks: every staged line is loaded or rejected,
re-delivered orders are not double-counted, the incremental result equals a full rebuild.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.activity.engagement import load_engagement  # noqa: E402
from pipelines.activity.orders import load_orders  # noqa: E402
from pipelines.config import ActivityRules  # noqa: E402
from pipelines.metrics.customer_metrics import (  # noqa: E402
    rebuild_customer_metrics,
    refresh_customer_metrics,
)
from pipelines.warehouse import connect  # noqa: E402

RULES = ActivityRules()
AS_OF = dt.datetime(2026, 11, 23, 5, 0)
CATEGORIES = (
    "['shoes','bags','coats','dresses','shirts','jeans','socks','hats','toys','books','garden',"
    "'kitchen']"
)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(db: Path, customers: int, orders: int, events: int) -> None:
    con = connect(db)
    con.execute(
        """INSERT INTO contacts (source, file_id, line_number, source_record_id, email, loaded_at)
           SELECT 'crm', 'bench', i + 2, CAST(100000000 + i AS VARCHAR), 'p' || i || '@example.nl',
                  TIMESTAMP '2023-01-01' + INTERVAL (i % 1000) DAY
           FROM range(?) t(i)""",
        [customers],
    )
    con.execute(
        """INSERT INTO customers (customer_id, email, created_at)
           SELECT 'K' || source_record_id, email, loaded_at FROM contacts"""
    )
    con.execute(
        """INSERT INTO customer_sources (customer_id, source, source_record_id, match_score,
            linked_at)
           SELECT 'K' || source_record_id, source, source_record_id, 1, TIMESTAMP '2023-01-01'
           FROM contacts"""
    )
    stage_orders(con, "staged_orders", start=0, n=orders, customers=customers, redeliver=0)
    stage_events(con, "staged_events", start=0, n=events, customers=customers)
    con.close()


def stage_orders(con, name: str, *, start: int, n: int, customers: int, redeliver: int) -> None:
    """Order lines `start` .. `start + n`; the first `redeliver` lines repeat earlier order ids."""
    con.execute(
        f"""CREATE OR REPLACE TABLE {name} AS
        SELECT i + 2 - {start} AS line_number,
               'O' || CASE WHEN i - {start} < {redeliver} THEN (i - {start}) * 7 // 2 ELSE i //
                   2 END AS order_id,
               CASE WHEN i % 2 = 0 AND c < {customers} THEN CAST(100000000 + c AS VARCHAR) END
                   AS source_record_id,
               CASE WHEN i % 2 = 1 THEN 'P' || c || '@Example.NL' END AS email,
               strftime(TIMESTAMP '2023-12-01' + to_seconds(CAST(h % 94608000 AS BIGINT)),
                        '%Y-%m-%d %H:%M:%S') AS ordered_at,
               CAST(5 + h % 300 AS VARCHAR) || ',' || lpad(CAST(h % 100 AS VARCHAR), 2, '0') AS
                   amount,
               CASE WHEN h % 10 = 0 THEN 'SEK' ELSE 'EUR' END AS currency,
               'P' || (h % 5000) AS product_id,
               {CATEGORIES}[1 + (h // 7) % 12] AS category,
               CAST(1 + h % 3 AS VARCHAR) AS quantity,
               CASE WHEN h % 100 < 5 THEN 'returned' WHEN h % 100 < 7 THEN 'cancelled' END AS
                   status
        FROM (SELECT i, CAST(hash(i) % 1000000007 AS BIGINT) AS h,
                     CASE WHEN hash(i, 'u') % 50 = 0 THEN {customers} + i ELSE CAST(hash(i,
                         'c') % {customers} AS BIGINT) END AS c
              FROM range({start}, {start + n}) t(i))"""
    )


def stage_events(con, name: str, *, start: int, n: int, customers: int) -> None:
    con.execute(
        f"""CREATE OR REPLACE TABLE {name} AS
        SELECT i + 2 - {start} AS line_number, 'M' || m AS campaign_id,
               strftime(TIMESTAMP '2024-11-01' + INTERVAL (m * 3) DAY, '%Y-%m-%d %H:%M') AS
                   campaign_sent_at,
               'p' || c || '@example.nl' AS email,
               CASE WHEN e < 10 THEN 'sent' WHEN e < 60 THEN 'delivered' WHEN e < 85 THEN 'opened'
                    WHEN e < 94 THEN 'clicked' WHEN e < 97 THEN 'bounce' WHEN e < 99 THEN
                        'unsubscribed'
                    ELSE 'spam' END AS event,
               strftime(TIMESTAMP '2024-11-01' + INTERVAL (m * 3) DAY + to_seconds(CAST(h %
                   172800 AS BIGINT)),
                        '%Y-%m-%d %H:%M') AS occurred_at
        FROM (SELECT i, CAST(hash(i, 'e') % 100 AS BIGINT) AS e, CAST(hash(i, 'm') % 200 AS
            BIGINT) AS m, CAST(hash(i) % 1000000007 AS BIGINT) AS h,
                     CASE WHEN hash(i, 'u') % 100 = 0 THEN {customers} + i ELSE CAST(hash(i,
                         'c') % {customers} AS BIGINT) END AS c
              FROM range({start}, {start + n}) t(i))"""
    )


def run_step(db: Path, step: str, args: argparse.Namespace) -> dict:
    con = connect(db)
    t0 = time.perf_counter()
    today = AS_OF.date()
    out: dict = {}
    if step == "orders":
        out = load_orders(
            con,
            staged_table="staged_orders",
            file_id="orders-1",
            source_name="shop",
            rules=RULES,
            customer_source="crm",
            today=today,
        )
    elif step == "events":
        out = load_engagement(
            con,
            staged_table="staged_events",
            file_id="events-1",
            source_name="mail",
            rules=RULES,
            datetime_format="%Y-%m-%d %H:%M",
            file_time=AS_OF,
            today=today,
        )
    elif step == "full":
        out = rebuild_customer_metrics(con, RULES, as_of=AS_OF)
    elif step == "increment":
        k = args.customers
        n_o, n_e = max(args.orders // 1000, 10), max(args.events // 100, 10)
        stage_orders(
            con, "staged_orders", start=args.orders, n=n_o, customers=k, redeliver=n_o // 10
        )
        stage_events(con, "staged_events", start=args.events, n=n_e, customers=k)
        t0 = time.perf_counter()  # generation is not part of the step
        a = load_orders(
            con,
            staged_table="staged_orders",
            file_id="orders-2",
            source_name="shop",
            rules=RULES,
            customer_source="crm",
            today=today,
        )
        b = load_engagement(
            con,
            staged_table="staged_events",
            file_id="events-2",
            source_name="mail",
            rules=RULES,
            datetime_format="%Y-%m-%d %H:%M",
            file_time=AS_OF,
            today=today,
        )
        t1 = time.perf_counter()
        c = refresh_customer_metrics(con, RULES, as_of=AS_OF + dt.timedelta(days=1))
        out = {
            "load_seconds": t1 - t0,
            "refresh_seconds": time.perf_counter() - t1,
            "lines": a["lines_loaded"],
            "events": b["events_loaded"],
            **c,
        }
    elif step == "check":
        got = con.execute(
            "SELECT * EXCLUDE (computed_at) FROM customer_metrics ORDER BY customer_id"
        ).fetchall()
        rebuild_customer_metrics(con, RULES, as_of=AS_OF + dt.timedelta(days=1))
        again = con.execute(
            "SELECT * EXCLUDE (computed_at) FROM customer_metrics ORDER BY customer_id"
        ).fetchall()
        dup = con.execute(
            "SELECT count(*) FROM (SELECT source, order_id, order_line FROM orders "
            "GROUP BY ALL HAVING count(*) > 1)"
        ).fetchone()[0]
        out = {"incremental_equals_full": got == again, "duplicate_order_lines": dup}
    out["seconds"] = time.perf_counter() - t0
    out["peak_mb"] = peak_mb()
    con.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orders", type=int, default=10_000_000)
    ap.add_argument("--events", type=int, default=20_000_000)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, default=None, help="where the warehouse goes (a temp dir)")
    ap.add_argument("--step", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--db", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.step:
        print(json.dumps(run_step(args.db, args.step, args), default=str))
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        db = Path(tmp) / "warehouse.duckdb"
        t0 = time.perf_counter()
        build(db, args.customers, args.orders, args.events)
        print(
            f"{args.customers:,} customers, {args.orders:,} order lines, {args.events:,} events "
            f"generated in {time.perf_counter() - t0:.1f} s"
        )
        results = {}
        for step in ("orders", "events", "full", "increment", "check"):
            cmd = [
                sys.executable,
                __file__,
                "--step",
                step,
                "--db",
                str(db),
                "--orders",
                str(args.orders),
                "--events",
                str(args.events),
                "--customers",
                str(args.customers),
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode:
                sys.exit(f"step {step} failed:\n{proc.stderr}")
            results[step] = r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(
                f"{step:<10} {r['seconds']:>8.1f} s  peak {r['peak_mb']:>8,.0f} MB  "
                + ", ".join(f"{k}={v}" for k, v in r.items() if k not in ("seconds", "peak_mb"))
            )
        o, e, f, inc = (results[s] for s in ("orders", "events", "full", "increment"))
        print()
        print(f"orders load:        {args.orders / o['seconds']:>12,.0f} lines/s")
        print(f"engagement load:    {args.events / e['seconds']:>12,.0f} events/s")
        rate = args.customers / f["seconds"]
        print(
            f"metrics full:       {f['seconds']:>8.1f} s, {rate:,.0f} customers/s, "
            f"peak {f['peak_mb']:,.0f} MB"
        )
        print(
            f"daily increment:    load {inc['load_seconds']:.1f} s + refresh "
            f"{inc['refresh_seconds']:.1f} s ({inc['customers_recomputed']:,} customers "
            f"recomputed), peak {inc['peak_mb']:,.0f} MB"
        )
        chk = results["check"]
        print(
            f"incremental == full: {chk['incremental_equals_full']}; "
            f"duplicate order lines: {chk['duplicate_order_lines']}"
        )


if __name__ == "__main__":
    main()
