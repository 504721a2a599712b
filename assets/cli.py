"""`crmclean`: the daily job and its tools, headless.

crmclean demo-data --people 10000      write dirty demo drops into the inbox
crmclean run                           the daily job: new drops -> customers -> quality -> exports
crmclean validate-config               check sftp_config/*.yaml and every segment filter
crmclean quality [--report]            the latest quality figures per source (and the HTML report)
crmclean quality --accept FILE         accept a drop's failed checks so exports run again
crmclean explain CUSTOMER_ID           the source records of a customer, why they merged, orders
                                       and engagement
crmclean ui                            the Dagster UI on this project (dagster dev)
crmclean erase --email ADDRESS         erase a person everywhere (GDPR; also --phone,
                                       --customer-id)
crmclean export-person --email ADDRESS everything held about a person, as JSON (right of access)
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, date
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
    summary = generate(
        paths.inbox,
        paths.data_dir / "demo" / "truth.parquet",
        people=args.people,
        seed=args.seed,
        day=day,
        older_drops=args.older_drops,
        activity=not args.no_activity,
    )
    print(summary)
    return 0


def cmd_run(args: argparse.Namespace, paths: Paths) -> int:
    from assets.runner import run_daily_job

    dagster_home(paths)
    # Dagster's own event log (stack traces of failed steps included) only with --verbose; without
    # it, one line per file and per failure, from the summary. The UI's run history has it all.
    log_level = "DEBUG" if args.verbose else "CRITICAL"
    try:
        summary = run_daily_job(paths, exports=not args.no_exports, log_level=log_level)
        if not summary.files and paths.warehouse.exists():
            summary.failures += run_quality_watch(paths, log_level=log_level)
    except ConfigError:
        raise
    except Exception as e:
        if args.verbose:
            raise
        print(
            f"crmclean run failed: {type(e).__name__}: "
            f"{str(e).strip().splitlines()[0] if str(e).strip() else ''} "
            "(`crmclean run --verbose` shows the stack trace)",
            file=sys.stderr,
        )
        return 1
    print(summary.render())
    if not summary.ok:
        alert_run_failures(paths, summary.failures)
    return 0 if summary.ok else 1


def run_quality_watch(paths: Paths, log_level: str = "INFO") -> list[str]:
    """No new drop: still check the sources' rhythm (a late source), write the report and alert,
    as the hourly `quality_watch` schedule does under the daemon."""
    import dagster as dg

    from assets.definitions import build_definitions
    from assets.runner import failure_messages

    job = build_definitions(paths).resolve_job_def("quality_watch")
    result = job.execute_in_process(
        instance=dg.DagsterInstance.get(),
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )
    return failure_messages(result)


def alert_run_failures(paths: Paths, failures: list[str]) -> None:
    """What the run-failure sensor does under the daemon: mail failures no check alert explains."""
    from pipelines.config import load_exports
    from pipelines.quality.alerts import send_run_failure_alert, uncovered_failures
    from pipelines.transport.mail import MailError
    from pipelines.warehouse import connect

    lines = failures
    if paths.warehouse.exists():
        con = connect(paths.warehouse, read_only=True)
        try:
            lines = uncovered_failures(con, failures)
        finally:
            con.close()
    if not lines:
        return
    try:
        where = send_run_failure_alert(
            load_exports(paths.exports_file),
            paths.outbox,
            job="crmclean run",
            run_id="cli",
            errors=lines,
        )
    except MailError as e:
        print(f"could not send the failure alert: {e}", file=sys.stderr)
        return
    if where:
        print(f"failure alert sent: {where}")


def cmd_validate_config(args: argparse.Namespace, paths: Paths) -> int:
    from pipelines.config import load_exports, load_sources
    from pipelines.segments.build import validate_segments

    sources = load_sources(paths.sources_file)
    exports = load_exports(paths.exports_file)
    validate_segments(exports, date.today())
    print(
        f"{paths.sources_file}: {len(sources.sources)} sources OK ({', '.join(sources.sources)})"
    )
    print(
        f"{paths.exports_file}: {len(exports.segments)} segments OK "
        f"({', '.join(exports.segments)})"
    )
    return 0


def cmd_quality(args: argparse.Namespace, paths: Paths) -> int:
    from pipelines.config import load_sources
    from pipelines.quality.report import print_latest, write_report
    from pipelines.warehouse import connect

    sources = list(load_sources(paths.sources_file).sources)
    if args.accept:
        from pipelines.quality.checks import accept_load, blocking_failures

        con = connect(paths.warehouse)
        try:
            try:
                accepted = accept_load(con, args.accept)
            except LookupError as e:
                print(e, file=sys.stderr)
                return 2
            still = blocking_failures(con)
        finally:
            con.close()
        print(
            f"accepted {len(accepted)} failed check(s) of {args.accept}: "
            f"{', '.join(accepted) or 'none'}"
        )
        print(
            "exports blocked by: " + "; ".join(still) if still else "exports are no longer blocked"
        )
        return 0
    if not paths.warehouse.exists():
        print("no warehouse yet: run `crmclean run` first")
        return 0
    print_latest(paths.warehouse, sources)
    if args.report:
        con = connect(paths.warehouse, read_only=True)
        try:
            path = write_report(con, paths.reports, sources)
        finally:
            con.close()
        print(f"\nreport: {path}")
    return 0


def cmd_explain(args: argparse.Namespace, paths: Paths) -> int:
    from pipelines.match import explain
    from pipelines.metrics.activity_summary import activity_lines
    from pipelines.warehouse import connect

    con = connect(paths.warehouse, read_only=True)
    text = explain(con, args.customer_id)
    print(text)
    if con.execute(
        "SELECT count(*) FROM customers WHERE customer_id = ?", [args.customer_id.strip()]
    ).fetchone()[0]:
        print("\n" + "\n".join(activity_lines(con, args.customer_id.strip())))
    return 0


def cmd_ui(args: argparse.Namespace, paths: Paths) -> int:
    home = dagster_home(paths)
    print(f"DAGSTER_HOME={home}")
    os.execvp("dagster", ["dagster", "dev", "-w", "workspace.yaml", "-p", str(args.port)])


def _person_given(args: argparse.Namespace) -> bool:
    if not (args.email or args.phone or getattr(args, "customer_id", None)):
        print("give at least one of --email, --phone, --customer-id", file=sys.stderr)
        return False
    return True


def cmd_erase(args: argparse.Namespace, paths: Paths) -> int:
    from pipelines.privacy.masking import masked_errors

    with masked_errors():  # a traceback on the terminal must not show the address either
        return _erase(args, paths)


def _erase(args: argparse.Namespace, paths: Paths) -> int:
    from datetime import datetime

    from pipelines.config import load_sources
    from pipelines.privacy.erasure import ErasureRequest, compact_warehouse, erase
    from pipelines.privacy.masking import install_log_masking, mask_email, mask_phone
    from pipelines.privacy.tombstones import tombstone_key
    from pipelines.warehouse import connect

    install_log_masking()
    if not _person_given(args):
        return 2
    config = load_sources(paths.sources_file)
    request = ErasureRequest(
        email=args.email,
        phone=args.phone,
        customer_id=args.customer_id,
        request_id=args.request_id,
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    con = connect(paths.warehouse)
    try:
        result = erase(
            con,
            [request],
            paths=paths,
            config=config,
            key=tombstone_key(paths.data_dir),
            now=now,
            origin="cli",
        )
    finally:
        con.close()
    compact_warehouse(paths.warehouse)
    con = connect(paths.warehouse)
    try:
        con.execute("UPDATE erasure_log SET compacted_at = now() WHERE compacted_at IS NULL")
    finally:
        con.close()
    who = ", ".join(
        v
        for v in (
            mask_email(args.email.strip().lower()) if args.email else None,
            mask_phone(args.phone) if args.phone else None,
            args.customer_id,
        )
        if v
    )
    print(
        f"erased {who}: {result.customers} customer(s), {result.source_records} source record(s), "
        f"{result.rows_deleted} warehouse row(s), {result.rows_removed_from_files} row(s) in "
        f"{result.files_rewritten} file(s); tombstones added: {result.tombstones}; erasure id "
        f"{result.erasure_ids[0]}"
    )
    if result.residue_files:
        print(
            "WARNING: these files still hold a value of the person; remove them by hand:",
            file=sys.stderr,
        )
        for f in result.residue_files:
            print(f"  {paths.data_dir / f}", file=sys.stderr)
        return 1
    return 0


def cmd_export_person(args: argparse.Namespace, paths: Paths) -> int:
    from pipelines.privacy.masking import masked_errors

    with masked_errors():
        return _export_person(args, paths)


def _export_person(args: argparse.Namespace, paths: Paths) -> int:
    from pipelines.config import load_sources
    from pipelines.privacy.export_person import export_person, to_json
    from pipelines.privacy.masking import install_log_masking
    from pipelines.privacy.tombstones import existing_tombstone_key
    from pipelines.warehouse import connect

    install_log_masking()
    if not _person_given(args):
        return 2
    con = connect(paths.warehouse, read_only=True)
    try:
        document = export_person(
            con,
            paths=paths,
            config=load_sources(paths.sources_file),
            key=existing_tombstone_key(paths.data_dir),
            email=args.email,
            phone=args.phone,
            customer_id=args.customer_id,
        )
    finally:
        con.close()
    print(to_json(document))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="crmclean", description="Keep a customer database clean and current."
    )
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo-data", help="write realistic dirty demo drops into the inbox")
    d.add_argument("--people", type=int, default=10_000)
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--date", help="drop date YYYY-MM-DD (default today)")
    d.add_argument(
        "--older-drops",
        type=int,
        default=0,
        help="also write this many earlier exports per source, 28 days apart (dated file names)",
    )
    d.add_argument(
        "--no-activity",
        action="store_true",
        help="no orders and engagement drops (inbox/orders, inbox/mailplatform)",
    )
    d.set_defaults(func=cmd_demo_data)
    r = sub.add_parser("run", help="the daily job, end to end, in-process")
    r.add_argument("--no-exports", action="store_true", help="ingest and match only")
    r.add_argument(
        "--verbose", action="store_true", help="print every Dagster event, not only INFO and up"
    )
    r.set_defaults(func=cmd_run)
    v = sub.add_parser("validate-config", help="check the YAML config and the segment filters")
    v.set_defaults(func=cmd_validate_config)
    q = sub.add_parser("quality", help="print the latest quality figures per source")
    q.add_argument(
        "--report",
        action="store_true",
        help="also write the HTML report (data/reports/quality_<date>.html)",
    )
    q.add_argument(
        "--accept",
        metavar="FILE",
        help="accept the failed checks of a drop (file name or id): exports run again",
    )
    q.set_defaults(func=cmd_quality)
    e = sub.add_parser("explain", help="why the records of a customer were merged")
    e.add_argument("customer_id")
    e.set_defaults(func=cmd_explain)
    u = sub.add_parser("ui", help="start the Dagster UI (dagster dev) for this project")
    u.add_argument("--port", type=int, default=3000)
    u.set_defaults(func=cmd_ui)
    er = sub.add_parser(
        "erase", help="erase a person from the warehouse and every file under data/ (GDPR)"
    )
    er.add_argument("--email")
    er.add_argument("--phone")
    er.add_argument("--customer-id")
    er.add_argument(
        "--request-id", help="your ticket reference, kept in the audit log (no personal data)"
    )
    er.set_defaults(func=cmd_erase)
    xp = sub.add_parser(
        "export-person", help="print everything held about a person as JSON (right of access)"
    )
    xp.add_argument("--email")
    xp.add_argument("--phone")
    xp.add_argument("--customer-id")
    xp.set_defaults(func=cmd_export_person)
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
