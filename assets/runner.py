"""The daily job in-process, for `crmclean run`: the same sensor logic and jobs as the daemon.

1. evaluate the drop sensor (list sources, settle, cursor in `<data>/state/`),
2. run `ingest_drop` once per new file (one partition each),
3. run `refresh_customers` if anything was loaded, or contacts are newer than the last build
   of customers (a run killed in between),
4. run `daily_exports`.
Runs go to the Dagster instance in DAGSTER_HOME, so they show in the UI's run history. A run
left unfinished by a `crmclean run` process that died is failed and its pool slot freed first.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from dataclasses import dataclass, field

import dagster as dg

from assets.alerts import error_classes
from assets.definitions import build_definitions
from assets.resources import CrmcleanResource
from assets.sensors import drop_assets, evaluate_sources
from pipelines.ingest.discover import parse_partition_key
from pipelines.ingest.land import file_id_for
from pipelines.settings import Paths, private_dir
from pipelines.warehouse import connect
from pipelines.warehouse.builds import customers_stale

# Exceptions that are the input's fault (a bad file, a refused login, a failed check), not a bug:
# one line on the terminal, never a stack trace.
EXPECTED_FAILURES = {
    "FileRejected",
    "Failure",
    "DagsterAssetCheckFailedError",
    "TransportError",
    "TransportAuthError",
    "ConfigError",
}


@dataclass
class StepFailure:
    key: str | None  # the drop's partition key, if any
    step: str
    message: str  # one line
    expected: bool  # a data or connection fault, not a bug

    def __str__(self) -> str:
        return f"{self.key + ': ' if self.key else ''}{self.step}: {self.message}"


@dataclass
class RunSummary:
    files: list[dict] = field(default_factory=list)
    contacts: int = 0
    customers: int = 0
    segments: list[dict] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    step_failures: list[StepFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def render(self) -> str:
        """What `crmclean run` prints: one line per file (a failed one: file, line and reason)."""
        lines = [f"files: {len(self.files)} new"]
        shown = set()
        for f in self.files:
            if f["status"] == "failed":
                lines.append(f"  FAILED {f['error'] or f['source'] + '/' + f['file_name']}")
                shown.add((f["source"], f["file_name"]))
                continue
            lines.append(
                f"  {f['source']}/{f['file_name']}: {f['status']}, read {f['rows_read']:,}, "
                f"loaded {f['rows_loaded']:,}, rejected {f['rows_rejected']:,}"
                + (f" ({f['error']})" if f.get("error") else "")
                + (f" [{f['encoding_note']}]" if f.get("encoding_note") else "")
            )
        read = sum(f["rows_read"] for f in self.files)
        loaded = sum(f["rows_loaded"] for f in self.files)
        rejected = sum(f["rows_rejected"] for f in self.files)
        lines.append(f"rows: read {read:,} = loaded {loaded:,} + rejected {rejected:,}")
        lines.append(f"contacts: {self.contacts:,}   customers: {self.customers:,}")
        for s in self.segments:
            lines.append(f"segment {s['segment']}: {s['rows']:,} rows -> {s['files']}")
        explained = {str(sf) for sf in self.step_failures}
        for sf in self.step_failures:
            if sf.key and sf.expected and _file_of(sf.key) in shown:
                continue  # its file's line above says it
            if sf.expected:
                lines.append(f"FAILED: {sf}")
            else:
                lines.append(
                    f"ERROR (a bug; `crmclean run --verbose` shows the stack trace): {sf}"
                )
        for failure in self.failures:
            if failure not in explained:
                lines.append(f"FAILED: {failure}")
        return "\n".join(lines)


def _file_of(key: str) -> tuple[str, str]:
    source, name, _ = parse_partition_key(key)
    return source, name


def _one_line(message: str) -> str:
    """The message without Python's `module.Class: ` prefix, on one line."""
    lines = [ln.strip() for ln in message.strip().splitlines() if ln.strip()]
    text = lines[0] if lines else "failed"
    head, sep, rest = text.partition(": ")
    if sep and "." in head and " " not in head:
        text = rest
    return text


def step_failures(result: dg.ExecuteInProcessResult, key: str | None = None) -> list[StepFailure]:
    out = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            err = event.event_specific_data.error
            if err and "DagsterAssetCheckFailedError" in error_classes(err):
                continue  # the failed check's own evaluation below says which check
            expected = bool(err) and bool(error_classes(err) & EXPECTED_FAILURES)
            out.append(
                StepFailure(
                    key,
                    event.step_key or "",
                    _one_line(err.message) if err else "failed",
                    expected,
                )
            )
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            ev = event.event_specific_data
            if not ev.passed and ev.severity == dg.AssetCheckSeverity.ERROR:
                out.append(
                    StepFailure(
                        key,
                        f"check {ev.check_name} on {ev.asset_key.to_user_string()}",
                        "failed (ERROR severity: exports wait)",
                        True,
                    )
                )
    return out


def failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    return [str(f) for f in step_failures(result)]


def _landed(paths: Paths, key: str) -> bool:
    if not paths.warehouse.exists():
        return False
    con = connect(paths.warehouse, read_only=True)
    try:
        return bool(
            con.execute(
                "SELECT count(*) FROM ingest_log WHERE file_id = ?", [file_id_for(key)]
            ).fetchone()[0]
        )
    finally:
        con.close()


def forget_requests(cursor: str, keys: list[str]) -> str:
    """Forget files that never landed (server down mid-download): the next run retries them."""
    state = json.loads(cursor)
    for key in keys:
        source, name, _ = parse_partition_key(key)
        state.get(source, {}).get("requested", {}).pop(name, None)
    return json.dumps(state, sort_keys=True)


# Tags on every run `crmclean run` executes, so a later run can tell whether its process lives.
# The start time tells a reused pid from the process that ran it.
PID_TAG, HOST_TAG, START_TAG = "crmclean/pid", "crmclean/host", "crmclean/pid_started"


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), None where unknown."""
    try:
        stat = open(f"/proc/{pid}/stat", encoding="ascii", errors="replace").read()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


def _alive(pid: int, started: str | None = None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    now_started = _process_start(pid)
    return not (started and now_started and now_started != started)


def release_dead_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """Fail the runs of a `crmclean run` process that died (kill -9, power loss) and free their
    `duckdb_writer` slots: a slot held by a dead run makes every later run wait for it forever
    (polling at full CPU, deaf to SIGTERM). Runs of the daemon, or of a live process, are left
    alone. Returns the runs released."""
    host = socket.gethostname()
    released = []
    unfinished = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING]
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=unfinished)):
        pid = run.tags.get(PID_TAG)
        if run.tags.get(HOST_TAG) != host or not pid or not pid.isdigit():
            continue
        if _alive(int(pid), run.tags.get(START_TAG)):
            continue
        instance.report_run_failed(run, message=f"crmclean run (pid {pid}) died during this run")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        released.append(run)
    return released


def remove_dead_scratch(paths: Paths) -> list[str]:
    """Remove the scratch folders (`<data>/tmp/stage-<pid>-*`, a decoded copy of a drop) of
    processes that are gone: a kill -9 skips the clean-up that would have removed them."""
    removed = []
    scratch = paths.data_dir / "tmp"
    for entry in scratch.glob("stage-*-*") if scratch.is_dir() else []:
        pid = entry.name.split("-")[1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed


def _write_atomically(path, text: str) -> None:
    """A kill mid-write must not leave a cut cursor behind (the next run could not read it)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _customers_stale(paths: Paths) -> bool:
    if not paths.warehouse.exists():
        return False
    con = connect(paths.warehouse, read_only=True)
    try:
        return customers_stale(con)
    finally:
        con.close()


def run_daily_job(paths: Paths, *, exports: bool = True, log_level: str = "INFO") -> RunSummary:
    defs = build_definitions(paths)
    instance = dg.DagsterInstance.get()
    died = {run.job_name for run in release_dead_runs(instance)}
    remove_dead_scratch(paths)
    tags = {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}
    if started := _process_start(os.getpid()):
        tags[START_TAG] = started
    resource = CrmcleanResource(data_dir=str(paths.data_dir), config_dir=str(paths.config_dir))
    cursor_file = private_dir(paths.data_dir / "state") / "sources_cursor.json"
    cursor = cursor_file.read_text() if cursor_file.exists() else None

    # The terminal shows what happened (INFO); the run history in the UI keeps every event.
    console = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    cfg = resource.sources()
    evaluation = evaluate_sources(resource, cursor)
    keys = [rr.partition_key for rr in evaluation.run_requests]
    summary = RunSummary()
    if keys:
        instance.add_dynamic_partitions("drops", keys)
    ingest = defs.resolve_job_def("ingest_drop")
    not_landed: list[str] = []
    for key in keys:
        result = ingest.execute_in_process(
            partition_key=key,
            asset_selection=drop_assets(cfg, key),
            instance=instance,
            raise_on_error=False,
            run_config=console,
            tags=tags,
        )
        failed = step_failures(result, key)
        summary.step_failures += failed
        summary.failures += [str(f) for f in failed]
        if not result.success and not _landed(paths, key):
            not_landed.append(key)
    _write_atomically(cursor_file, forget_requests(evaluation.cursor or "{}", not_landed))

    # New drops, contacts newer than the last build of customers, or a refresh a dead process left
    # unfinished (quality and suppressions follow customers): rebuild customers and what follows.
    # Either way the morning's privacy job runs: consent and suppressions, and file retention,
    # also on quiet days.
    refresh = bool(keys) or "refresh_customers" in died or _customers_stale(paths)
    jobs = ["refresh_customers", "privacy_daily"] if refresh else ["privacy_daily"]
    for job in jobs:
        result = defs.resolve_job_def(job).execute_in_process(
            instance=instance, raise_on_error=False, run_config=console, tags=tags
        )
        summary.step_failures += step_failures(result)
        summary.failures += failure_messages(result)
    if exports:
        result = defs.resolve_job_def("daily_exports").execute_in_process(
            instance=instance, raise_on_error=False, run_config=console, tags=tags
        )
        summary.step_failures += step_failures(result)
        summary.failures += failure_messages(result)

    if paths.warehouse.exists():
        con = connect(paths.warehouse, read_only=True)
        try:
            ids = [file_id_for(k) for k in keys]
            if ids:
                rows = con.execute(
                    f"""SELECT source, file_name, status, rows_read, rows_loaded, rows_rejected,
                               error, encoding_note
                        FROM ingest_log WHERE file_id IN ({", ".join("?" * len(ids))})
                        ORDER BY landed_at""",
                    ids,
                ).fetchall()
                cols = [
                    "source",
                    "file_name",
                    "status",
                    "rows_read",
                    "rows_loaded",
                    "rows_rejected",
                    "error",
                    "encoding_note",
                ]
                summary.files = [dict(zip(cols, r)) for r in rows]
                for f in summary.files:
                    for c in ("rows_read", "rows_loaded", "rows_rejected"):
                        f[c] = f[c] or 0
            summary.contacts, summary.customers = con.execute(
                "SELECT (SELECT count(*) FROM contacts), (SELECT count(*) FROM customers)"
            ).fetchone()
            if exports:
                for seg, rows, files in con.execute(
                    """SELECT segment, max(coalesce(segment_rows, rows)),
                              string_agg(DISTINCT destination || ':' || file_name, ', ')
                       FROM export_log
                       WHERE status = 'ok' AND exported_at >= now() - INTERVAL 1 DAY
                       GROUP BY segment ORDER BY segment"""
                ).fetchall():
                    summary.segments.append({"segment": seg, "rows": rows, "files": files})
        finally:
            con.close()
    return summary
