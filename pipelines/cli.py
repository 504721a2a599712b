"""`crmclean`: the daily job and its tools, headless.

    crmclean demo-data --people 10000      write dirty demo drops into the inbox
    crmclean run                           the daily job: new drops -> customers -> quality -> exports
    crmclean validate-config               check sftp_config/*.yaml and every segment filter
    crmclean quality                       the latest quality figures per source
    crmclean explain CUSTOMER_ID           the source records of a customer and why they merged
    crmclean ui                            the Dagster UI on this project (dagster dev)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path

from pipelines.config import ConfigError
from pipelines.settings import Paths, private_dir, private_umask

DAGSTER_YAML = """\
# Written by crmclean. The DuckDB warehouse allows one writer: every writing asset is in the
# pool `duckdb_writer`, and pools are limited to one step at a time.
concurrency:
  pools:
    default_limit: 1
  runs:
    max_concurrent_runs: 4
telemetry:
  enabled: false
"""


def dagster_home(paths: Paths) -> Path:
    """DAGSTER_HOME, default `<data>/dagster`, so CLI runs show up in the UI's run history."""
    home = Path(os.environ.get("DAGSTER_HOME") or paths.data_dir / "dagster")
    private_dir(home)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def cmd_demo_data(args: argparse.Namespace, paths: Paths) -> int:
    from pipelines.demo import generate

    day = date.fromisoformat(args.date) if args.date else None
    summary = generate(paths.inbox, paths.data_dir / "demo" / "truth.parquet", people=args.people, seed=args.seed, day=day)
    print(summary)
    return 0


def cmd_run(args: argparse.Namespace, paths: Paths) -> int:
    from pipelines.runner import run_daily_job

    dagster_home(paths)
    summary = run_daily_job(paths, exports=not args.no_exports)
    print(summary.render())
    return 0 if summary.ok else 1


def cmd_validate_config(args: argparse.Namespace, paths: Paths) -> int:
    import duckdb

    from pipelines.config import load_exports, load_sources
    from pipelines.segments.build import validate_segment
    from pipelines.warehouse import ensure_schema

    sources = load_sources(paths.sources_file)
    exports = load_exports(paths.exports_file)
    con = duckdb.connect()
    ensure_schema(con)
    for name, seg in exports.segments.items():
        validate_segment(con, name, seg, date.today())
    print(f"{paths.sources_file}: {len(sources.sources)} sources OK ({', '.join(sources.sources)})")
    print(f"{paths.exports_file}: {len(exports.segments)} segments OK ({', '.join(exports.segments)})")
    return 0


def cmd_quality(args: argparse.Namespace, paths: Paths) -> int:
    from pipelines.quality.report import print_latest

    print_latest(paths.warehouse)
    return 0


def cmd_explain(args: argparse.Namespace, paths: Paths) -> int:
    from pipelines.match import explain
    from pipelines.warehouse import connect

    con = connect(paths.warehouse, read_only=True)
    print(explain(con, args.customer_id))
    return 0


def cmd_ui(args: argparse.Namespace, paths: Paths) -> int:
    home = dagster_home(paths)
    print(f"DAGSTER_HOME={home}")
    os.execvp("dagster", ["dagster", "dev", "-w", "workspace.yaml", "-p", str(args.port)])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crmclean", description="Keep a customer database clean and current.")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo-data", help="write realistic dirty demo drops into the inbox")
    d.add_argument("--people", type=int, default=10_000)
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--date", help="drop date YYYY-MM-DD (default today)")
    d.set_defaults(func=cmd_demo_data)
    r = sub.add_parser("run", help="the daily job, end to end, in-process")
    r.add_argument("--no-exports", action="store_true", help="ingest and match only")
    r.set_defaults(func=cmd_run)
    v = sub.add_parser("validate-config", help="check the YAML config and the segment filters")
    v.set_defaults(func=cmd_validate_config)
    q = sub.add_parser("quality", help="print the latest quality figures per source")
    q.set_defaults(func=cmd_quality)
    e = sub.add_parser("explain", help="why the records of a customer were merged")
    e.add_argument("customer_id")
    e.set_defaults(func=cmd_explain)
    u = sub.add_parser("ui", help="start the Dagster UI (dagster dev) for this project")
    u.add_argument("--port", type=int, default=3000)
    u.set_defaults(func=cmd_ui)
    return p


def main(argv: list[str] | None = None) -> int:
    private_umask()
    args = build_parser().parse_args(argv)
    paths = Paths.from_env()
    try:
        return args.func(args, paths)
    except ConfigError as e:
        print(f"configuration error:\n{e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
