"""Quality checks: judge each drop, each source and the warehouse, record every result.

Every result goes to `quality_checks` (load_id, source, check_name, severity, passed, value,
threshold, detail, at), whatever runs the check (a Dagster asset check, the quality step of the
daily job, `crmclean quality`). The exports ask `blocking_failures(con)` before they write a
file: a failed ERROR check on a source's latest load stops every export until a newer, healthy
drop of that source arrives or an operator accepts the failure (`accept_load`).

Blocking (ERROR): the file is empty or only a header; a required column is missing; the file
could not be read at all; too large a share of rows rejected; far fewer rows than the previous
load; a validity collapse (`block_validity_drop_points`). Warnings: validity or fill rate
dropping by more than the configured points, schema drift, duplicate rate rising, a source with
no drop inside its expected window. Thresholds per source: `sources.yaml`, key `quality:`.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.config import Source, SourcesConfig
from pipelines.fields import KIND_SPECS
from pipelines.ingest.decode import sniff_delimiter
from pipelines.ingest.errors import FileRejected
from pipelines.ingest.landed import (
    EMPTY_FILE,
    ReadLimits,
    choose_encoding,
    decode_head,
    open_landed,
    sample_text,
    undecodable,
)
from pipelines.ingest.stage import map_columns
from pipelines.quality.metrics import (
    db_now,
    figures_of,
    latest_loads,
    previous_load,
    record_file_metrics,
)

ERROR = "ERROR"
WARN = "WARN"

# Values behind a rate: fewer than this many and a change in the rate is noise, not news.
MIN_VALUES_FOR_RATE_CHECKS = 20


@dataclass(frozen=True)
class CheckSpec:
    name: str
    target: str  # landed_file, load (a drop's load), source, warehouse
    blocking: bool  # can fail with ERROR and then stop exports
    description: str


SPECS: dict[str, CheckSpec] = {
    s.name: s
    for s in (
        CheckSpec(
            "file_not_empty",
            "landed_file",
            True,
            "The file holds a header and at least one data row "
            "(an empty or header-only file is a broken export).",
        ),
        CheckSpec(
            "required_columns_present",
            "landed_file",
            True,
            "Every column the source's `required:` list names is in the header.",
        ),
        CheckSpec(
            "file_loads",
            "load",
            True,
            "The file could be read and parsed at all (encoding, compression, header).",
        ),
        CheckSpec(
            "rejected_share",
            "load",
            True,
            "The share of rejected rows is at most `quality.max_rejected_share`.",
        ),
        CheckSpec(
            "rows_vs_previous_load",
            "load",
            True,
            "Rows read are at least `quality.min_rows_ratio` of the previous healthy load.",
        ),
        CheckSpec(
            "validity_vs_previous_load",
            "load",
            True,
            "No field's validity dropped more than `quality.max_validity_drop_points` "
            "(warning) or `quality.block_validity_drop_points` (blocking) against the previous "
            "healthy load.",
        ),
        CheckSpec(
            "fill_rate_vs_previous_load",
            "load",
            False,
            "No field's fill rate dropped more than `quality.max_fill_drop_points` "
            "against the previous load.",
        ),
        CheckSpec(
            "schema_drift",
            "load",
            False,
            "Every mapped column is present and no new unmapped column appeared since the "
            "previous load.",
        ),
        CheckSpec(
            "duplicate_rate_vs_previous_load",
            "warehouse",
            False,
            "The source's duplicate rate (exact and matched) rose at most "
            "`quality.max_duplicate_rate_rise_points`.",
        ),
        CheckSpec(
            "drop_on_time",
            "source",
            False,
            "The source delivered a drop within `quality.expected_every_hours`.",
        ),
    )
}

LOAD_CHECKS = [n for n, s in SPECS.items() if s.target in ("landed_file", "load")]
SEVERITY_OF = {n: (ERROR if s.blocking else WARN) for n, s in SPECS.items()}
SEVERITY_OF["validity_vs_previous_load"] = WARN  # ERROR only from block_validity_drop_points on


@dataclass(frozen=True)
class CheckResult:
    check_name: str
    load_id: str
    source: str | None
    passed: bool
    severity: str  # ERROR or WARN: how bad it is when not passed
    detail: str
    value: float | None = None
    threshold: float | None = None

    @property
    def blocks(self) -> bool:
        return not self.passed and self.severity == ERROR


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


# ---------------------------------------------------------------------------------------------
# recording


def record(
    con: duckdb.DuckDBPyConnection, results: list[CheckResult], at: datetime | None = None
) -> None:
    """Replace the results of these checks for these loads. An unchanged outcome keeps its
    alert and acceptance marks (no second email for the same failure); an identical result is
    not written again, so a re-run with nothing new leaves the table as it was."""
    at = at or db_now(con)
    for r in results:
        old = con.execute(
            """SELECT passed, severity, alerted_at, accepted_at, value, threshold, detail
               FROM quality_checks WHERE load_id = ? AND check_name = ?""",
            [r.load_id, r.check_name],
        ).fetchone()
        if old is not None and (old[0], old[1], old[4], old[5], old[6]) == (
            r.passed,
            r.severity,
            r.value,
            r.threshold,
            r.detail[:2000],
        ):
            continue
        keep = old is not None and old[0] == r.passed and old[1] == r.severity
        con.execute(
            "DELETE FROM quality_checks WHERE load_id = ? AND check_name = ?",
            [r.load_id, r.check_name],
        )
        con.execute(
            """INSERT INTO quality_checks (load_id, source, check_name, severity, passed, value,
                                           threshold, detail, "at", alerted_at, accepted_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                r.load_id,
                r.source,
                r.check_name,
                r.severity,
                r.passed,
                r.value,
                r.threshold,
                r.detail[:2000],
                at,
                old[2] if keep else None,
                old[3] if keep else None,
            ],
        )


def recorded(con: duckdb.DuckDBPyConnection, load_id: str) -> dict[str, CheckResult]:
    return {
        name: CheckResult(name, lid, source, passed, severity, detail or "", value, threshold)
        for lid, source, name, severity, passed, value, threshold, detail in con.execute(
            """SELECT load_id, source, check_name, severity, passed, value, threshold, detail
               FROM quality_checks WHERE load_id = ?""",
            [load_id],
        ).fetchall()
    }


# ---------------------------------------------------------------------------------------------
# the exports' question


def blocking_failures(con: duckdb.DuckDBPyConnection) -> list[str]:
    """What stops the exports: per source, its latest load (loaded or failed) when it has a
    failed, unaccepted ERROR check, or failed to load and was not checked yet. One line each,
    `source/file: check: detail`. Read-only; an empty list means exports may run."""
    rows = con.execute(
        """
        WITH latest AS (
            SELECT file_id, source, file_name, status, error FROM ingest_log
            WHERE status IN ('loaded', 'failed')
            QUALIFY row_number() OVER (
                PARTITION BY source ORDER BY landed_at DESC, file_id DESC
            ) = 1
        )
        SELECT l.source, l.file_name, q.check_name, q.detail
        FROM latest l JOIN quality_checks q ON q.load_id = l.file_id
        WHERE q.severity = 'ERROR' AND NOT q.passed AND q.accepted_at IS NULL
        UNION ALL
        SELECT l.source, l.file_name, 'file_loads', coalesce(l.error, 'the file failed to load')
        FROM latest l
        WHERE l.status = 'failed'
          AND NOT EXISTS (SELECT 1 FROM quality_checks q WHERE q.load_id = l.file_id)
        ORDER BY 1, 2, 3
        """
    ).fetchall()
    return [
        f"{source}/{file_name}: {check}: {detail}" for source, file_name, check, detail in rows
    ]


def accept_load(con: duckdb.DuckDBPyConnection, file: str) -> list[str]:
    """An operator accepts the failed checks of one load (by file_id or file name), e.g. a file
    that really is half the size. Returns the accepted checks; exports then run again."""
    row = con.execute(
        "SELECT file_id FROM ingest_log WHERE file_id = ? OR file_name = ? "
        "ORDER BY landed_at DESC LIMIT 1",
        [file, file],
    ).fetchone()
    if row is None:
        raise LookupError(f"{file}: no such load in ingest_log")
    file_id = row[0]
    if not recorded(con, file_id):
        record(con, evaluate_failed_load(con, file_id))
    names = [
        r[0]
        for r in con.execute(
            """UPDATE quality_checks SET accepted_at = CAST(now() AS TIMESTAMP)
           WHERE load_id = ? AND NOT passed AND accepted_at IS NULL RETURNING check_name""",
            [file_id],
        ).fetchall()
    ]
    return sorted(names)


# ---------------------------------------------------------------------------------------------
# per drop: the landed file (before parsing)

HEAD_BYTES = 1 << 20


def _head_text(path: Path, source: Source, display_name: str) -> tuple[bytes, str, str]:
    """(first bytes, their text, the delimiter) of a landed file, read as ingest reads it: the
    same member, limits and encoding (the whole file decides it), the same delimiter sample.
    Raises `FileRejected` where ingest refuses the file (a byte past the head that does not
    decode is left to ingest)."""
    limits = ReadLimits.of(source)
    encoding = choose_encoding(path, source.encoding, display_name, limits)
    with open_landed(path, display_name, limits) as fh:
        data = fh.read(HEAD_BYTES)
    try:
        text = decode_head(data, encoding)
    except UnicodeDecodeError:
        raise undecodable(path, encoding, source.encoding, display_name, limits) from None
    return data, text, sniff_delimiter(sample_text(data, encoding), source.delimiter)


def inspect_landed_file(
    con: duckdb.DuckDBPyConnection, file_id: str, source: Source
) -> list[CheckResult]:
    """`file_not_empty` and `required_columns_present`, from the head of the landed file.

    Staging rejects such files too (and says why in ingest_log); these checks make the reason
    a visible, recorded, alerted check result. A file that ingest refuses for another reason
    (its encoding, its archive, the limits) passes here, not inspected, with ingest's reason,
    and fails `file_loads` once staging has rejected it.
    """
    row = con.execute(
        "SELECT source, file_name, landing_path, status FROM ingest_log WHERE file_id = ?",
        [file_id],
    ).fetchone()
    if row is None:
        return []
    source_name, file_name, landing_path, status = row
    results: list[CheckResult] = []

    def result(name: str, passed: bool, detail: str) -> CheckResult:
        return CheckResult(name, file_id, source_name, passed, ERROR, detail)

    if status == "duplicate" or not landing_path or not Path(landing_path).exists():
        why = (
            "a duplicate of an earlier file"
            if status == "duplicate"
            else "no landed copy to inspect"
        )
        return [
            result(n, True, f"not inspected: {why}")
            for n in ("file_not_empty", "required_columns_present")
        ]
    display = f"{source_name}/{file_name}"
    try:
        data, text, delimiter = _head_text(Path(landing_path), source, display)
    except (FileRejected, OSError, EOFError, zipfile.BadZipFile) as e:  # ingest refuses it too
        if not (isinstance(e, FileRejected) and e.reason == EMPTY_FILE):
            return [
                result(n, True, f"not inspected: {e}")
                for n in ("file_not_empty", "required_columns_present")
            ]
        data, text, delimiter = b"", "", source.delimiter  # file_not_empty says it, below
    if not text.strip():
        # One broken drop, one failed check: file_not_empty says it; no header to judge here.
        return [
            result("file_not_empty", False, f"{source_name}/{file_name}: the file is empty"),
            result(
                "required_columns_present",
                True,
                "not inspected: the file is empty (see file_not_empty)",
            ),
        ]
    truncated = len(data) >= HEAD_BYTES and "\n" in text  # more follows: parse whole lines only
    if truncated:
        text = text[: text.rindex("\n") + 1]
    records = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=delimiter,
        quotechar=source.quotechar,
    )
    header = next(records, [])
    has_rows = truncated or any(any(cell.strip() for cell in rec) for rec in records)
    # A day without unsubscribes or erasure requests is normal: header only is a warning there.
    header_only = CheckResult(
        "file_not_empty",
        file_id,
        source_name,
        has_rows,
        WARN if KIND_SPECS[source.kind].header_only_is_normal else ERROR,
        "the file has data rows"
        if has_rows
        else f"{source_name}/{file_name}: header only, no data rows",
    )
    results.append(header_only)
    try:
        map_columns(header, source, f"{source_name}/{file_name}")
        results.append(
            result(
                "required_columns_present",
                True,
                "required columns present: "
                + (", ".join(source.columns[f] for f in source.required) or "(none required)"),
            )
        )
    except FileRejected as e:
        results.append(result("required_columns_present", False, str(e)))
    return results


# ---------------------------------------------------------------------------------------------
# per drop: after the load


def evaluate_failed_load(con: duckdb.DuckDBPyConnection, file_id: str) -> list[CheckResult]:
    """A drop that failed to load: `file_loads` fails with the reason from ingest_log, unless an
    earlier check (empty file, missing required column) already failed with that reason."""
    row = con.execute(
        "SELECT source, status, error FROM ingest_log WHERE file_id = ?", [file_id]
    ).fetchone()
    if row is None:
        return []
    source, status, error = row
    if status != "failed":
        return [CheckResult("file_loads", file_id, source, True, ERROR, f"status {status}")]
    explained = any(
        not r.passed for r in recorded(con, file_id).values() if r.check_name != "file_loads"
    )
    return [
        CheckResult(
            "file_loads",
            file_id,
            source,
            explained,
            ERROR,
            ("already reported by a failed check: " if explained else "")
            + (error or "failed to load"),
        )
    ]


def _rate_drops(now: dict, base: dict, metric: str) -> list[tuple[str, float, float, float]]:
    """(field, baseline, now, drop in points) for every field measured in both loads, worst
    first."""
    drops = []
    for (m, field), value in now.items():
        if m != metric or field is None or value is None:
            continue
        before = base.get((m, field))
        if before is None:
            continue
        drops.append((field, before, value, 100 * (before - value)))
    return sorted(drops, key=lambda d: -d[3])


def _enough_values(now: dict, field: str, metric: str) -> bool:
    rows = now.get(("rows_loaded", None)) or 0
    fill = now.get(("fill_rate", field)) if metric == "validity" else 1.0
    return rows * (fill or 0) >= MIN_VALUES_FOR_RATE_CHECKS


def evaluate_load(
    con: duckdb.DuckDBPyConnection, file_id: str, source: Source
) -> list[CheckResult]:
    """The per-drop checks after loading (or failing to load), from ingest_log and the load's
    figures in quality_metrics, against the previous healthy load of the same source."""
    row = con.execute(
        "SELECT source, status, rows_read, rows_rejected, columns_missing, columns_extra "
        "FROM ingest_log WHERE file_id = ?",
        [file_id],
    ).fetchone()
    if row is None:
        return []
    name, status, read, rejected, _, _ = row
    q = source.quality
    results = evaluate_failed_load(con, file_id)
    if status == "failed":
        return results
    if status == "duplicate":
        return results + [
            CheckResult(
                n,
                file_id,
                name,
                True,
                SEVERITY_OF[n],
                "a duplicate of an earlier file: nothing loaded",
            )
            for n in LOAD_CHECKS
            if SPECS[n].target == "load"
            and n != "file_loads"
            and n in KIND_SPECS[source.kind].checks
        ]
    record_file_metrics(con, file_id)
    now = figures_of(con, file_id)
    base_id = previous_load(con, file_id)
    base = figures_of(con, base_id) if base_id else {}
    base_name = (
        con.execute("SELECT file_name FROM ingest_log WHERE file_id = ?", [base_id]).fetchone()[0]
        if base_id
        else None
    )
    vs = f" (previous: {base_name})" if base_name else ""
    read, rejected = read or 0, rejected or 0

    share = rejected / read if read else 0.0
    results.append(
        CheckResult(
            "rejected_share",
            file_id,
            name,
            share <= q.max_rejected_share,
            ERROR,
            f"{rejected:,} of {read:,} rows rejected "
            f"({_pct(share)}; limit {_pct(q.max_rejected_share)})",
            share,
            q.max_rejected_share,
        )
    )
    applies = set(KIND_SPECS[source.kind].checks)
    if "rows_vs_previous_load" in applies:
        results.append(_rows_vs_previous(name, file_id, read, base, base_id, vs, q))
    if "validity_vs_previous_load" in applies:
        results += _validity_drop(name, file_id, now, base, base_id, vs, q)
    if "fill_rate_vs_previous_load" in applies:
        results += _fill_drop(name, file_id, now, base, base_id, vs, q)
    if "schema_drift" in applies:
        results += _schema_drift(con, file_id, name, base_id, vs)
    return results


def _rows_vs_previous(name, file_id, read, base, base_id, vs, q) -> CheckResult:
    if base_id is None:
        return CheckResult(
            "rows_vs_previous_load", file_id, name, True, ERROR, f"first load: {read:,} rows read"
        )
    prev = base.get(("rows_read", None)) or 0
    ratio = read / prev if prev else None
    ok = ratio is None or ratio >= q.min_rows_ratio
    return CheckResult(
        "rows_vs_previous_load",
        file_id,
        name,
        ok,
        ERROR,
        f"{read:,} rows read against {prev:,.0f}{vs}: {_pct(ratio)} "
        f"(minimum {_pct(q.min_rows_ratio)})",
        ratio,
        q.min_rows_ratio,
    )


def _validity_drop(name, file_id, now, base, base_id, vs, q) -> list[CheckResult]:
    results = []
    validity = [
        d for d in _rate_drops(now, base, "validity") if _enough_values(now, d[0], "validity")
    ]
    worst = validity[0] if validity else None
    if worst is None:
        results.append(
            CheckResult(
                "validity_vs_previous_load",
                file_id,
                name,
                True,
                WARN,
                "no previous load to compare" if base_id is None else "no comparable field",
            )
        )
    else:
        field, before, after, points = worst
        block = q.block_validity_drop_points
        severity = ERROR if block is not None and points >= block else WARN
        failing = [d for d in validity if d[3] > q.max_validity_drop_points]
        text = "; ".join(
            f"{f} {_pct(b)} -> {_pct(a)} ({-p:+.1f} pts)"
            for f, b, a, p in (failing or validity[:3])
        )
        limit = f"warn above {q.max_validity_drop_points:g} pts" + (
            f", block at {block:g} pts" if block is not None else ""
        )
        results.append(
            CheckResult(
                "validity_vs_previous_load",
                file_id,
                name,
                not failing,
                severity,
                f"validity{vs}: {text} ({limit})",
                points,
                q.max_validity_drop_points,
            )
        )

    return results


def _fill_drop(name, file_id, now, base, base_id, vs, q) -> list[CheckResult]:
    results = []
    fill = [
        d for d in _rate_drops(now, base, "fill_rate") if _enough_values(now, d[0], "fill_rate")
    ]
    failing = [d for d in fill if d[3] > q.max_fill_drop_points]
    if not fill:
        results.append(
            CheckResult(
                "fill_rate_vs_previous_load",
                file_id,
                name,
                True,
                WARN,
                "no previous load to compare" if base_id is None else "no comparable field",
            )
        )
    else:
        text = "; ".join(
            f"{f} {_pct(b)} -> {_pct(a)} ({-p:+.1f} pts)" for f, b, a, p in (failing or fill[:3])
        )
        results.append(
            CheckResult(
                "fill_rate_vs_previous_load",
                file_id,
                name,
                not failing,
                WARN,
                f"fill rate{vs}: {text} (limit {q.max_fill_drop_points:g} pts)",
                fill[0][3],
                q.max_fill_drop_points,
            )
        )
    return results


def _schema_drift(
    con: duckdb.DuckDBPyConnection, file_id: str, source: str, base_id: str | None, vs: str
) -> list[CheckResult]:
    now = con.execute(
        "SELECT metric, field FROM quality_metrics WHERE load_id = ? AND metric LIKE 'column_%'",
        [file_id],
    ).fetchall()
    missing = sorted(f for m, f in now if m == "column_missing")
    extra = sorted(f for m, f in now if m == "column_extra")
    renamed = sorted(f for m, f in now if m == "column_renamed")
    known_extra = set()
    if base_id is not None:
        known_extra = {
            f
            for (f,) in con.execute(
                "SELECT field FROM quality_metrics WHERE load_id = ? AND metric = 'column_extra'",
                [base_id],
            ).fetchall()
        }
    new_extra = [c for c in extra if c not in known_extra] if base_id is not None else []
    parts = []
    if missing:
        parts.append("mapped column(s) missing: " + ", ".join(missing))
    if renamed:
        parts.append("renamed?: " + ", ".join(renamed))
    if new_extra:
        parts.append("new column(s): " + ", ".join(new_extra))
    passed = not missing and not new_extra
    detail = (
        "; ".join(parts)
        if parts
        else f"columns as mapped{vs}" + (f"; unmapped: {', '.join(extra)}" if extra else "")
    )
    return [
        CheckResult(
            "schema_drift",
            file_id,
            source,
            passed,
            WARN,
            detail,
            float(len(missing) + len(new_extra)),
            0.0,
        )
    ]


# ---------------------------------------------------------------------------------------------
# per source and per snapshot


def expected_hours(source: Source) -> float | None:
    """Erasure requests come when people ask: no expected rhythm unless one is configured."""
    if (
        not KIND_SPECS[source.kind].expected_rhythm
        and "expected_every_hours" not in source.quality.model_fields_set
    ):
        return None
    return source.quality.expected_every_hours


def evaluate_freshness(
    con: duckdb.DuckDBPyConnection, config: SourcesConfig, now: datetime | None = None
) -> list[CheckResult]:
    """`drop_on_time` per source (load_id `source:<name>`): hours since its newest loaded drop,
    or, for a source that never delivered, since crmclean received its first file at all."""
    now = now or db_now(con)
    newest = dict(
        con.execute(
            "SELECT source, max(landed_at) FROM ingest_log WHERE status = 'loaded' GROUP BY source"
        ).fetchall()
    )
    first_any = con.execute("SELECT min(landed_at) FROM ingest_log").fetchone()[0]
    results = []
    for name, source in config.sources.items():
        hours = expected_hours(source)
        load_id = f"source:{name}"
        if hours is None:
            results.append(
                CheckResult(
                    "drop_on_time",
                    load_id,
                    name,
                    True,
                    WARN,
                    "no expected rhythm (erasure requests)",
                )
            )
            continue
        if name in newest:
            age = (now - newest[name]).total_seconds() / 3600
            detail = f"newest drop {age:,.1f} h old (expected every {hours:g} h)"
        elif first_any is not None:
            age = (now - first_any).total_seconds() / 3600
            detail = (
                f"no drop yet, {age:,.1f} h since the first file of any source arrived "
                f"(expected every {hours:g} h)"
            )
        else:
            results.append(
                CheckResult("drop_on_time", load_id, name, True, WARN, "nothing received yet")
            )
            continue
        results.append(
            CheckResult("drop_on_time", load_id, name, age <= hours, WARN, detail, age, hours)
        )
    return results


def evaluate_duplicates(
    con: duckdb.DuckDBPyConnection, config: SourcesConfig
) -> list[CheckResult]:
    """`duplicate_rate_vs_previous_load` per contacts source, on its latest load (measured at the
    warehouse snapshot): exact and matched duplicate rate against the previous healthy load."""
    results = []
    for name, file_id in latest_loads(con).items():
        source = config.sources.get(name)
        if (
            source is None
            or "duplicate_rate_vs_previous_load" not in KIND_SPECS[source.kind].checks
        ):
            continue
        now = figures_of(con, file_id)
        base_id = previous_load(con, file_id)
        base = figures_of(con, base_id) if base_id else {}
        limit = source.quality.max_duplicate_rate_rise_points
        rises = []
        for metric, label in (
            ("source_duplicate_rate", "matched"),
            ("source_duplicate_rate_exact", "exact"),
        ):
            a, b = now.get((metric, None)), base.get((metric, None))
            if a is not None and b is not None:
                rises.append((label, b, a, 100 * (a - b)))
        if not rises:
            results.append(
                CheckResult(
                    "duplicate_rate_vs_previous_load",
                    file_id,
                    name,
                    True,
                    WARN,
                    "no previous load to compare" if base_id is None else "not measured yet",
                )
            )
            continue
        worst = max(rises, key=lambda r: r[3])
        text = "; ".join(
            f"{label} {_pct(b)} -> {_pct(a)} ({p:+.1f} pts)" for label, b, a, p in rises
        )
        results.append(
            CheckResult(
                "duplicate_rate_vs_previous_load",
                file_id,
                name,
                worst[3] <= limit,
                WARN,
                f"{text} (limit +{limit:g} pts)",
                worst[3],
                limit,
            )
        )
    return results


def unchecked_loads(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Drops that loaded or failed but have no `file_loads` result yet (a failed staging step
    skips the per-drop asset checks; the quality step catches up on them)."""
    return [
        r[0]
        for r in con.execute(
            """SELECT file_id FROM ingest_log l WHERE status IN ('loaded', 'failed')
           AND NOT EXISTS (SELECT 1 FROM quality_checks q
                           WHERE q.load_id = l.file_id AND q.check_name = 'file_loads')
           ORDER BY landed_at"""
        ).fetchall()
    ]


def evaluate_all(
    con: duckdb.DuckDBPyConnection, config: SourcesConfig, now: datetime | None = None
) -> list[CheckResult]:
    """Catch up on every drop not checked yet, then the source and snapshot checks; records all."""
    results: list[CheckResult] = []
    for file_id in unchecked_loads(con):
        name = con.execute(
            "SELECT source FROM ingest_log WHERE file_id = ?", [file_id]
        ).fetchone()[0]
        source = config.sources.get(name)
        if source is None:
            continue
        if not recorded(con, file_id).get("file_not_empty"):
            pre = inspect_landed_file(con, file_id, source)
            record(con, pre)
            results += pre
        post = evaluate_load(con, file_id, source)
        record(con, post)
        results += post
    rest = evaluate_freshness(con, config, now) + evaluate_duplicates(con, config)
    record(con, rest)
    return results + rest
