"""Golden-record benchmark: does each golden customer show its person's TRUE CURRENT value?

    python benchmarks/golden.py --people 100000          # (--rows is accepted as a synonym)
    python benchmarks/golden.py --people 20000 --examples 3
    python benchmarks/golden.py --people 100000 --older-drops 2   # an inbox of 3 drops per source

Demo drops (`pipelines.demo.generate`: households, twins, stale records, typos, nicknames, ...)
go through the daily job's engine steps (land, stage, normalize + load, `build_customers` with
`sftp_config/matching.yaml` and the source priorities of `sources.yaml`) into a temporary
warehouse. Each golden customer is mapped to the person most of its records belong to. The
person's true current value of a field is the truth value of that person's record with the
newest `as_of` (the truth holds, per row, the person's clean value as of that record's day).

Per golden field it prints the share of customers whose value equals the true current value
(NULL equals NULL), and that share among the customers where it is attainable: some record of
the customer carries the current value (its row shows it, however formatted, and was not stale
on that field). A field missing from every record, or only ever typed wrong, cannot be right
in any golden record; the first column counts it, the second does not. Then pairwise precision
/ recall of the clustering, the time of each step and the peak memory (max RSS). `--examples K`
prints K wrong customers per field among the attainable ones (emails and phones masked).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# Golden field -> truth column (the same names); house_number compared as text.
FIELDS = (
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


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def drop_days(inbox: Path) -> list[date]:
    """The export days of the drops in the inbox (from their names), oldest first."""
    from pipelines.ingest.land import export_time

    return sorted(
        {
            export_time(p.name, datetime.fromtimestamp(p.stat().st_mtime)).date()
            for p in inbox.rglob("*")
            if p.is_file()
        }
    )


def ingest(con, inbox: Path, work: Path, day: date | None = None) -> dict[str, int]:
    """Land, stage, normalize and load every contacts drop under `inbox/<source>/` (of `day`
    only)."""
    from pipelines.config import load_sources
    from pipelines.ingest.discover import partition_key
    from pipelines.ingest.land import export_time, land
    from pipelines.ingest.load import stage_drop
    from pipelines.kinds.contacts import load_contacts
    from pipelines.transport import LocalTransport

    cfg = load_sources(REPO / "sftp_config" / "sources.yaml")
    for source_name, source in cfg.sources.items():
        if source.kind != "contacts" or not (inbox / source_name).exists():
            continue
        transport = LocalTransport(inbox / source_name)
        for remote in transport.list(source.patterns):
            if (
                day
                and export_time(remote.name, datetime.fromtimestamp(remote.mtime)).date() != day
            ):
                continue
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
    return {name: s.priority for name, s in cfg.sources.items()}


def build_truth(con, truth_path: Path) -> None:
    """`_truth_rows` (record -> person), `_truth_rec` (the truth of each record as loaded: its
    newest drop) and `_truth_now` (person -> true current values: the row with the newest
    `as_of`)."""
    con.execute(f"CREATE TEMP TABLE _truth_all AS SELECT * FROM read_parquet('{truth_path}')")
    cols = {r[0] for r in con.execute("DESCRIBE _truth_all").fetchall()}
    drop = "drop_date DESC, " if "drop_date" in cols else ""
    con.execute(
        "CREATE TEMP TABLE _truth_rows AS "
        "SELECT DISTINCT source, source_record_id, person_id FROM _truth_all"
    )
    con.execute(
        f"""CREATE TEMP TABLE _truth_rec AS SELECT * FROM _truth_all
            QUALIFY row_number()
                OVER (PARTITION BY source, source_record_id ORDER BY {drop}line_number) = 1"""
    )
    values = ", ".join(f"CAST({f} AS VARCHAR) AS {f}" for f in FIELDS)
    con.execute(
        f"""CREATE TEMP TABLE _truth_now AS
            SELECT person_id, {values} FROM (
                SELECT *, row_number() OVER (PARTITION BY person_id
                                             ORDER BY as_of DESC, {drop}copy_index, source,
                                                      source_record_id) AS rn
                FROM _truth_all) t
            WHERE rn = 1"""
    )


def golden_accuracy(con) -> tuple[int, dict[str, float], dict[str, tuple[float, int]]]:
    """Customers mapped to a person; per field the share showing the person's true current value,
    and that share among customers where it is attainable (with how many those are)."""
    con.execute(
        """CREATE TEMP TABLE _customer_person AS
           SELECT customer_id, arg_max(person_id, n) AS person_id FROM (
               SELECT cs.customer_id, t.person_id, count(*) AS n FROM customer_sources cs
               JOIN _truth_rows t USING (source, source_record_id) GROUP BY ALL) x
           GROUP BY customer_id"""
    )
    # Attainable: some record of the customer carries the current value (its row shows the
    # value, however formatted: no `<field>_dirt`, and it was not stale on that field).
    carried = ", ".join(
        f"bool_or(r.{f}_dirt IS NULL AND CAST(r.{f} AS VARCHAR) IS NOT DISTINCT FROM t.{f}) AS {f}"
        for f in FIELDS
    )
    con.execute(
        f"""CREATE TEMP TABLE _attainable AS
            SELECT cs.customer_id, {carried} FROM customer_sources cs
            JOIN _customer_person m USING (customer_id) JOIN _truth_now t USING (person_id)
            JOIN _truth_rec r ON r.source = cs.source AND r.source_record_id = cs.source_record_id
            GROUP BY cs.customer_id"""
    )
    same = {f: f"CAST(c.{f} AS VARCHAR) IS NOT DISTINCT FROM t.{f}" for f in FIELDS}
    agree = ", ".join(
        f"avg(CASE WHEN {same[f]} THEN 1.0 ELSE 0.0 END), "
        f"avg(CASE WHEN {same[f]} THEN 1.0 ELSE 0.0 END) FILTER (WHERE a.{f}), "
        f"count(*) FILTER (WHERE a.{f})"
        for f in FIELDS
    )
    row = con.execute(
        f"""SELECT count(*), {agree} FROM customers c JOIN _customer_person m USING (customer_id)
            JOIN _truth_now t USING (person_id) JOIN _attainable a USING (customer_id)"""
    ).fetchone()
    values = row[1:]
    current = {f: float(values[3 * i]) for i, f in enumerate(FIELDS)}
    attainable = {
        f: (float(values[3 * i + 1] or 0.0), int(values[3 * i + 2])) for i, f in enumerate(FIELDS)
    }
    return int(row[0]), current, attainable


def print_examples(con, k: int) -> None:
    from pipelines.privacy.masking import mask_email, mask_phone

    def show(field, value):
        if value is None:
            return "NULL"
        return (
            mask_email(value)
            if field == "email"
            else mask_phone(value)
            if field == "phone"
            else value
        )

    for f in FIELDS:
        rows = con.execute(
            f"""SELECT c.customer_id, CAST(c.{f} AS VARCHAR), t.{f},
                       (SELECT string_agg(coalesce(CAST(x.{f} AS VARCHAR), 'NULL'), ' | ')
                        FROM customer_sources cs
                        JOIN contacts x USING (source, source_record_id)
                        WHERE cs.customer_id = c.customer_id)
                FROM customers c JOIN _customer_person m USING (customer_id)
                JOIN _truth_now t USING (person_id)
                JOIN _attainable a USING (customer_id)
                WHERE a.{f} AND CAST(c.{f} AS VARCHAR) IS DISTINCT FROM t.{f}
                ORDER BY hash(c.customer_id) LIMIT {int(k)}"""
        ).fetchall()
        for cid, got, want, seen in rows:
            seen_shown = " | ".join(
                show(f, None if v == "NULL" else v) for v in (seen or "").split(" | ")
            )
            print(
                f"  {f:<20} {cid}: golden {show(f, got)!s:<28} true {show(f, want)!s:<28} "
                f"records: {seen_shown}"
            )


def pair_metrics(con) -> dict:
    tp, predicted, actual = con.execute(
        """WITH j AS (SELECT cs.customer_id, t.person_id FROM customer_sources cs
                      JOIN _truth_rows t USING (source, source_record_id)),
                cells AS (SELECT count(*) AS n FROM j GROUP BY customer_id, person_id),
                pred AS (SELECT count(*) AS n FROM j GROUP BY customer_id),
                tru AS (SELECT count(*) AS n FROM j GROUP BY person_id)
           SELECT (SELECT sum(n * (n - 1) / 2) FROM cells),
                  (SELECT sum(n * (n - 1) / 2) FROM pred),
                  (SELECT sum(n * (n - 1) / 2) FROM tru)"""
    ).fetchone()
    tp, predicted, actual = float(tp or 0), float(predicted or 0), float(actual or 0)
    precision = tp / predicted if predicted else 1.0
    recall = tp / actual if actual else 1.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--people",
        "--rows",
        dest="people",
        type=int,
        default=100_000,
        help="people in the demo data",
    )
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--day", type=date.fromisoformat, default=date(2026, 11, 23), help="day of the demo drops"
    )
    ap.add_argument(
        "--older-drops", type=int, default=0, help="earlier exports per source, 28 days apart"
    )
    ap.add_argument(
        "--examples", type=int, default=0, help="print this many wrong customers per field"
    )
    ap.add_argument("--workdir", type=Path, default=None, help="keep the warehouse and files here")
    ap.add_argument(
        "--reuse",
        action="store_true",
        help=(
            "with --workdir: keep its loaded contacts, only re-match (after a survivorship change)"
        ),
    )
    args = ap.parse_args()

    from pipelines.demo import generate
    from pipelines.match import build_customers
    from pipelines.match.settings import load_match_settings
    from pipelines.warehouse import connect, transaction

    folder = args.workdir or Path(tempfile.mkdtemp(prefix="crmclean-bench-golden-"))
    folder.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    steps: dict[str, float] = {}

    db = folder / "golden.duckdb"
    reuse = args.reuse and db.exists()
    t = time.perf_counter()
    if not reuse:
        import shutil

        for old in ("inbox", "landing", "tmp"):
            shutil.rmtree(folder / old, ignore_errors=True)
        extra = {"older_drops": args.older_drops} if args.older_drops else {}
        generate(
            folder / "inbox",
            folder / "truth.parquet",
            people=args.people,
            seed=args.seed,
            day=args.day,
            **extra,
        )
        steps["generate"] = time.perf_counter() - t
        db.unlink(missing_ok=True)
    con = connect(db)
    settings = load_match_settings(REPO / "sftp_config" / "matching.yaml")
    steps["ingest"] = steps["match"] = 0.0
    if reuse:
        from pipelines.config import load_sources

        cfg = load_sources(REPO / "sftp_config" / "sources.yaml")
        priority = {name: s.priority for name, s in cfg.sources.items()}
        for table in (
            "customers",
            "customer_sources",
            "match_evidence",
            "customer_merges",
            "match_records",
            "match_edges",
            "match_override_records",
            "match_model",
        ):
            con.execute(f"DELETE FROM {table}")
        days = [args.day]
    else:
        days = drop_days(folder / "inbox")
    # As the daily job: each day's drops are loaded, then customers are brought up to date.
    for day in days:
        t = time.perf_counter()
        if not reuse:
            priority = ingest(con, folder / "inbox", folder, day=day)
        steps["ingest"] += time.perf_counter() - t
        t = time.perf_counter()
        with transaction(con):
            result = build_customers(
                con,
                settings=settings,
                source_priority=priority,
                overrides_path=None,
                now=datetime.combine(day, datetime.min.time()).replace(hour=6),
            )
        steps["match"] += time.perf_counter() - t
    if reuse:
        del steps["ingest"]
    t = time.perf_counter()
    build_truth(con, folder / "truth.parquet")
    customers, accuracy, attainable = golden_accuracy(con)
    metrics = pair_metrics(con)
    contacts, rows = con.execute(
        "SELECT count(*), (SELECT count(*) FROM _truth_all) FROM contacts"
    ).fetchone()
    rejected = con.execute("SELECT count(*) FROM rejected_rows").fetchone()[0]

    print(f"golden-record benchmark ({os.cpu_count()} cores, load average {load:.1f}; {folder})")
    print(
        f"demo data {args.day} seed {args.seed}: {args.people:,} people, {rows:,} rows, "
        f"{contacts:,} contacts loaded ({rejected:,} rows rejected) -> {customers:,} customers"
    )
    print()
    print(f"{'golden field':<22} {'true current':>12} {'where attainable':>17} {'customers':>10}")
    for f in FIELDS:
        print(f"{f:<22} {accuracy[f]:>12.4f} {attainable[f][0]:>17.4f} {attainable[f][1]:>10,}")
    lowest = min((v, f) for f, v in accuracy.items())
    lowest_attainable = min((v[0], f) for f, v in attainable.items())
    print(
        f"{'lowest':<22} {lowest[0]:>12.4f} {lowest_attainable[0]:>17.4f}  ({lowest[1]}; "
        f"{lowest_attainable[1]})"
    )
    print()
    print(
        f"pairwise precision {metrics['precision']:.4f}  recall {metrics['recall']:.4f}  F1 "
        f"{metrics['f1']:.4f}"
    )
    if args.examples:
        print()
        print_examples(con, args.examples)
    steps["measure"] = time.perf_counter() - t
    con.close()
    print()
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in steps.items()))
    print(
        f"match steps (s){' of the last day' if len(days) > 1 else ''}: "
        f"{', '.join(f'{k} {v:.1f}' for k, v in result.steps.items())}"
    )
    print(
        f"peak memory: {peak_mb():,.0f} MB (max RSS); load average after {os.getloadavg()[0]:.1f}"
    )
    if not args.workdir:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
