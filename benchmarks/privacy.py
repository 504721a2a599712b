"""Benchmark privacy: a suppression drop, the suppression rules, and one erasure, over N customers.

    .venv/bin/python benchmarks/privacy.py --rows 1000000

Builds a warehouse with N synthetic contacts (one customer each, DuckDB SQL), a CRM landing file
of the same N rows and a suppression drop with events for about 10% of the addresses
(unsubscribes written in other case, complaints, hard bounces, 1 to 4 soft bounces spread over
0 to 90 days, resubscribes). Then times:
- loading the drop through the real steps (land, stage, load_drop),
- `refresh_suppressions` (consent events, consent, suppressions),
- erasing one person (find, rewrite the N-row landing file, delete from every table, tombstone,
  compact the DuckDB file).
Accuracy: the customers suppressed per reason against the same rules computed independently in
Python from the generated events (must be 100%), and after the erasure no trace of the person in
any table or any file under data/, the DuckDB file included (must be 0), searched independently
of the erasure code.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.config import load_sources  # noqa: E402
from pipelines.ingest.discover import partition_key  # noqa: E402
from pipelines.ingest.land import file_id_for, land  # noqa: E402
from pipelines.ingest.load import stage_drop  # noqa: E402
from pipelines.kinds import LoadContext, load_drop  # noqa: E402
from pipelines.privacy.erasure import ErasureRequest, compact_warehouse, erase  # noqa: E402
from pipelines.privacy.rules import refresh_suppressions  # noqa: E402
from pipelines.settings import Paths  # noqa: E402
from pipelines.transport.local import LocalTransport  # noqa: E402
from pipelines.warehouse import connect  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
KEY = b"benchmark-tombstone-key-0123456789"
DAY = datetime(2026, 11, 23, 5, 0)


def phone(i: int) -> str:
    return f"+316{i % 100_000_000:08d}"


def build_warehouse(con, n: int) -> None:
    con.execute(
        """INSERT INTO ingest_log (file_id, source, file_name, status, remote_mtime, landed_at,
                                   loaded_at)
           VALUES ('bench', 'crm', 'klanten_20261101.csv', 'loaded', TIMESTAMP '2026-11-01',
                   now(), now())"""
    )
    con.execute(
        """INSERT INTO contacts BY NAME
           SELECT 'crm' AS source, 'bench' AS file_id, i + 2 AS line_number,
                  CAST(100000000 + i AS VARCHAR) AS source_record_id,
                  'Voornaam' || (i % 997) AS first_name, 'Achternaam' || (i % 9973) AS last_name,
                  'p' || i || '@example.nl' AS email, 'P' || i || '@Example.nl' AS email_raw,
                  'valid' AS email_status,
                  '+316' || lpad(CAST(i % 100000000 AS VARCHAR), 8, '0') AS phone,
                  '06-' || lpad(CAST(i % 100000000 AS VARCHAR), 8, '0') AS phone_raw,
                  'valid' AS phone_status, i % 5 <> 0 AS newsletter_opt_in, 'NL' AS country
           FROM range(?) t(i)""",
        [n],
    )
    con.execute(
        """INSERT INTO customers (customer_id, first_name, last_name, email, phone, email_status,
                                  phone_status, newsletter_opt_in, country)
           SELECT 'K' || source_record_id, first_name, last_name, email, phone, email_status,
                  phone_status, newsletter_opt_in, country FROM contacts"""
    )
    con.execute(
        "INSERT INTO customer_sources (customer_id, source, source_record_id, match_score) "
        "SELECT 'K' || source_record_id, source, source_record_id, 1 FROM contacts"
    )


def write_landing(paths: Paths, con, n: int) -> Path:
    folder = paths.landing / "crm" / "2026-11-01"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "klanten_20261101.csv"
    con.execute(
        f"""COPY (SELECT source_record_id AS KlantID, first_name AS Voornaam,
                         last_name AS Achternaam, email_raw AS Email,
                         phone_raw AS Telefoon, CASE WHEN newsletter_opt_in THEN 'ja'
                                                     ELSE 'nee' END AS Nieuwsbrief
                  FROM contacts ORDER BY line_number) TO '{path}' (HEADER, DELIMITER ';')"""
    )
    con.execute("UPDATE ingest_log SET landing_path = ? WHERE file_id = 'bench'", [str(path)])
    return path


def phone_pattern(e164: str) -> str:
    """Every written form of a +31 number (`+31 6 ...`, `0031...`, `06-...`), not inside a
    longer number."""
    sep = "[ ./()-]*"
    return "(^|[^0-9])(\\+31|0031|0)" + sep + sep.join(e164[3:]) + "([^0-9]|$)"


def rows_holding(con, email: str, e164: str, customer_id: str) -> dict[str, int]:
    """Rows of any table whose text (all columns) holds the email, the phone or the customer id."""
    out = {}
    for (table,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall():
        if table == "erasure_log":
            continue
        cols = [
            c
            for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'main' AND table_name = ?",
                [table],
            ).fetchall()
        ]
        text = " || '|' || ".join(f"coalesce(CAST(\"{c}\" AS VARCHAR), '')" for c in cols)
        n = con.execute(
            f"""SELECT count(*) FROM "{table}"
                WHERE contains(lower({text}), ?) OR contains({text}, ?)
                OR regexp_matches({text}, ?)""",
            [email, customer_id, phone_pattern(e164)],
        ).fetchone()[0]
        if n:
            out[table] = n
    return out


def files_holding(data_dir: Path, email: str, e164: str) -> list[str]:
    """Files under data/ (any type, raw bytes, the DuckDB file too) holding the email or the
    phone."""
    pattern = re.compile(phone_pattern(e164).encode())
    found = []
    for path in data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if email.encode() in data.lower() or pattern.search(data):
                found.append(str(path.relative_to(data_dir)))
    return found


def generate_events(n: int, seed: int) -> tuple[list[str], dict[int, list[tuple[str, datetime]]]]:
    rnd = random.Random(seed)
    lines = ["Email Address,Phone,Event,Timestamp,Campaign"]
    events: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
    for i in rnd.sample(range(n), max(1, n // 10)):
        kind = rnd.choice(["unsubscribe", "complaint", "hard", "soft", "soft", "resub"])
        if kind == "soft":
            start = DAY - timedelta(days=rnd.randrange(90))
            todo = [
                ("soft_bounce", min(DAY, start + timedelta(days=rnd.randrange(0, 45))))
                for _ in range(rnd.randint(1, 4))
            ]
        elif kind == "resub":
            todo = [
                ("unsubscribe", DAY - timedelta(days=20)),
                ("resubscribe", DAY - timedelta(days=5)),
            ]
        else:
            todo = [
                ({"hard": "hard_bounce"}.get(kind, kind), DAY - timedelta(days=rnd.randrange(30)))
            ]
        words = {
            "unsubscribe": "Unsubscribed",
            "complaint": "Spam Complaint",
            "hard_bounce": "Hard Bounce",
            "soft_bounce": "Soft Bounce",
            "resubscribe": "Resubscribed",
        }
        for event, at in todo:
            email = f" P{i}@EXAMPLE.nl " if event == "unsubscribe" else f"p{i}@example.nl"
            lines.append(f"{email},,{words[event]},{at:%Y-%m-%d %H:%M:%S},bench")
            events[i].append((event, at))
    return lines, events


def expected(
    events: dict[int, list[tuple[str, datetime]]],
    soft_n: int = 3,
    window: int = 30,
    hard_n: int = 1,
) -> dict[str, set[str]]:
    """The rules of pipelines/privacy/rules.py, computed in plain Python."""
    out: dict[str, set[str]] = defaultdict(set)
    for i, evs in events.items():
        evs = sorted(set(evs), key=lambda e: e[1])
        resets = [at for e, at in evs if e == "resubscribe"]
        reset = max(resets) if resets else None
        active = [
            (e, at) for e, at in evs if e != "resubscribe" and (reset is None or at >= reset)
        ]
        cid = f"K{100000000 + i}"
        if any(e == "unsubscribe" for e, _ in active):
            out["unsubscribe"].add(cid)
        if any(e == "complaint" for e, _ in active):
            out["complaint"].add(cid)
        if sum(e == "hard_bounce" for e, _ in active) >= hard_n:
            out["hard_bounce"].add(cid)
        soft = [at for e, at in active if e == "soft_bounce"]
        if any(
            sum(1 for b in soft if a - timedelta(days=window) <= b <= a) >= soft_n for a in soft
        ):
            out["soft_bounce"].add(cid)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    n = args.rows
    tmp = Path(tempfile.mkdtemp(prefix="crmclean_privacy_"))
    try:
        shutil.copytree(REPO / "sftp_config", tmp / "sftp_config")
        paths = Paths(data_dir=tmp / "data", config_dir=tmp / "sftp_config")
        cfg = load_sources(paths.sources_file)
        con = connect(paths.warehouse)
        t = time.perf_counter()
        build_warehouse(con, n)
        landing = write_landing(paths, con, n)
        print(
            f"setup: {n:,} contacts/customers and a {landing.stat().st_size / 1e6:.1f} MB landing "
            f"file in {time.perf_counter() - t:.1f}s"
        )

        lines, events = generate_events(n, args.seed)
        inbox = paths.inbox / "email_platform"
        inbox.mkdir(parents=True)
        (inbox / "suppressions_20261123.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        t = time.perf_counter()
        transport = LocalTransport(inbox)
        remote = transport.list(["suppressions_20261123.csv"])[0]
        key = partition_key("email_platform", remote)
        land(
            con,
            transport,
            landing_root=paths.landing,
            source="email_platform",
            remote=remote,
            partition_key=key,
        )
        stage_drop(
            con,
            file_id=file_id_for(key),
            source_name="email_platform",
            source=cfg.sources["email_platform"],
            tmp_root=paths.data_dir / "tmp",
        )
        figures = load_drop(
            con,
            LoadContext(
                file_id=file_id_for(key),
                source_name="email_platform",
                source=cfg.sources["email_platform"],
                config=cfg,
                paths=paths,
                now=DAY,
            ),
        )
        s = time.perf_counter() - t
        events_n = len(lines) - 1
        print(
            f"suppression drop: {events_n:,} events loaded in {s:.2f}s ({events_n / s:,.0f} "
            f"events/s), rejected {figures['rows_rejected_at_load']}"
        )

        t = time.perf_counter()
        summary = refresh_suppressions(con, cfg, tombstone_key=KEY)
        s = time.perf_counter() - t
        print(
            f"refresh_suppressions: {n:,} customers in {s:.2f}s ({n / s:,.0f} customers/s); rows "
            f"by reason {summary.by_reason}"
        )
        want = expected(events)
        total = correct = 0
        for reason in ("unsubscribe", "complaint", "hard_bounce", "soft_bounce"):
            got = {
                c
                for (c,) in con.execute(
                    "SELECT customer_id FROM suppressions WHERE reason = ?", [reason]
                ).fetchall()
            }
            total += len(want[reason] | got)
            correct += len(want[reason] & got)
            print(
                f"  {reason}: expected {len(want[reason]):,}, got {len(got):,}, in both "
                f"{len(want[reason] & got):,}"
            )
        print(
            "accuracy (suppressed per reason vs an independent computation): "
            f"{100 * correct / max(total, 1):.2f}%"
        )

        person = n // 2
        before_rows = rows_holding(
            con, f"p{person}@example.nl", phone(person), f"K{100000000 + person}"
        )
        before_files = files_holding(paths.data_dir, f"p{person}@example.nl", phone(person))
        print(
            f"the person before erasure (the search is not blind): rows {before_rows}, files "
            f"{len(before_files)}"
        )
        t = time.perf_counter()
        result = erase(
            con,
            [ErasureRequest(email=f"p{person}@example.nl")],
            paths=paths,
            config=cfg,
            key=KEY,
            now=DAY,
            origin="benchmark",
        )
        s_erase = time.perf_counter() - t
        con.close()
        t = time.perf_counter()
        compact_warehouse(paths.warehouse)
        s_compact = time.perf_counter() - t
        print(
            f"erase one person: {s_erase:.2f}s (files rewritten {result.files_rewritten}, "
            f"warehouse rows {result.rows_deleted}), compaction {s_compact:.2f}s "
            f"({paths.warehouse.stat().st_size / 1e6:.1f} MB file)"
        )
        t = time.perf_counter()
        con = connect(paths.warehouse, read_only=True)
        left = rows_holding(con, f"p{person}@example.nl", phone(person), f"K{100000000 + person}")
        con.close()
        files = files_holding(paths.data_dir, f"p{person}@example.nl", phone(person))
        print(
            "traces after erasure (every table, every file under data/, searched independently in "
            f"{time.perf_counter() - t:.1f}s): rows {left or 0}, files {files or 0}, residue "
            f"reported {len(result.residue_files)}"
        )
        print(
            "peak memory (max RSS): "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
        )
    finally:
        if os.environ.get("KEEP"):
            print(tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
