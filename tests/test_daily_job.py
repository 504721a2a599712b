"""The daily job end to end on the embedded default: real Dagster runs, a real DuckDB file."""

from __future__ import annotations

import csv
import hashlib
from datetime import date

import dagster as dg

from assets.cli import main
from pipelines.config import load_exports
from pipelines.settings import Paths
from pipelines.warehouse import TABLES, connect

DAY = date(2026, 11, 23)


def fingerprint(paths: Paths) -> dict[str, str]:
    """A content hash of every contract table (order-independent)."""
    con = connect(paths.warehouse, read_only=True)
    try:
        out = {}
        for table in TABLES:
            # A freshness check measures the age of the newest drop: time moves on between runs.
            where = " WHERE check_name <> 'drop_on_time'" if table == "quality_checks" else ""
            rows = con.execute(f'SELECT * FROM "{table}"{where}').fetchall()
            out[table] = hashlib.sha256("\n".join(sorted(map(repr, rows))).encode()).hexdigest()
        return out
    finally:
        con.close()


def test_daily_job_end_to_end_and_rerun_is_a_no_op(project, capsys):
    assert main(["demo-data", "--people", "1500", "--seed", "7", "--date", DAY.isoformat()]) == 0
    assert main(["run"]) == 0
    out = capsys.readouterr().out
    assert "rows: read" in out

    con = connect(project.warehouse, read_only=True)
    files = con.execute(
        "SELECT source, status, rows_read, rows_loaded, rows_rejected FROM ingest_log"
    ).fetchall()
    assert {f[0] for f in files} == {"crm", "webshop", "orders", "mailplatform"}
    for source, status, read, loaded, rejected in files:
        assert status == "loaded", source
        assert read > 0 and read == loaded + rejected
        assert (
            rejected
            == con.execute(
                "SELECT count(*) FROM rejected_rows r JOIN ingest_log l USING (file_id) "
                "WHERE l.source = ?",
                [source],
            ).fetchone()[0]
        )
    assert con.execute(
        "SELECT count(*) FILTER (WHERE customer_id IS NOT NULL) > 0.9 * count(*) FROM orders"
    ).fetchone() == (True,)
    assert (
        con.execute("SELECT count(*) FROM customer_metrics").fetchone()
        == con.execute("SELECT count(*) FROM customers").fetchone()
    )
    # Every loaded row is a contact, unless a later row of the same file superseded it.
    staged_ids = con.execute(
        "SELECT count(DISTINCT (source, source_record_id)) FROM contacts"
    ).fetchone()[0]
    n_contacts, n_customers, linked = con.execute(
        "SELECT (SELECT count(*) FROM contacts), (SELECT count(*) "
        "FROM customers), (SELECT count(*) FROM customer_sources)"
    ).fetchone()
    assert n_contacts == staged_ids
    assert 0 < n_customers < n_contacts
    assert linked == n_contacts  # every contact belongs to exactly one customer
    assert con.execute("SELECT count(*) FROM staged_rows").fetchone()[0] == 0
    statuses = con.execute("SELECT DISTINCT email_status FROM contacts").fetchall()
    assert {s[0] for s in statuses} <= {"valid", "corrected", "invalid", "missing"}
    assert (
        con.execute(
            "SELECT count(*) FROM contacts WHERE phone_status = 'valid' AND phone NOT LIKE '+%'"
        ).fetchone()[0]
        == 0
    )

    metrics = con.execute("SELECT DISTINCT metric FROM quality_metrics").fetchall()
    assert {"fill_rate", "validity", "rows_read", "duplicate_rate"} <= {m[0] for m in metrics}

    exported = con.execute(
        "SELECT segment, file_name, destination, rows, sha256 FROM export_log WHERE status = 'ok'"
    ).fetchall()
    con.close()
    segments = load_exports(project.config_dir / "exports.yaml").segments
    daily = {name for name, segment in segments.items() if segment.schedule is None}
    assert (
        "newsletter" in daily and {e[0] for e in exported} == daily
    )  # the rest have their own schedule
    segment, file_name, destination, rows, digest = next(
        e for e in exported if e[0] == "newsletter"
    )
    path = project.outbox / "newsletter" / file_name
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    with open(path, newline="", encoding="utf-8") as fh:
        records = list(csv.DictReader(fh))
    assert len(records) == rows > 0
    assert all(r["email"] for r in records)

    # Owner-only files: this is personal data.
    assert project.warehouse.stat().st_mode & 0o077 == 0
    for landed in (project.data_dir / "landing").rglob("*"):
        assert landed.stat().st_mode & 0o077 == 0, landed

    before = fingerprint(project)
    assert main(["run"]) == 0
    assert "files: 0 new" in capsys.readouterr().out
    assert fingerprint(project) == before


def test_same_content_under_a_new_name_is_a_duplicate(project):
    assert main(["demo-data", "--people", "300", "--seed", "1", "--date", DAY.isoformat()]) == 0
    assert main(["run", "--no-exports"]) == 0
    crm = next((project.inbox / "crm").glob("*.csv"))
    (project.inbox / "crm" / ("klanten_copy_" + crm.name.split("_", 1)[1])).write_bytes(
        crm.read_bytes()
    )
    before = fingerprint(project)["contacts"]
    assert main(["run", "--no-exports"]) == 0
    con = connect(project.warehouse, read_only=True)
    statuses = sorted(
        s for (s,) in con.execute("SELECT status FROM ingest_log WHERE source = 'crm'").fetchall()
    )
    con.close()
    assert statuses == ["duplicate", "loaded"]
    assert fingerprint(project)["contacts"] == before


def test_missing_required_column_fails_the_drop_visibly(project):
    inbox = project.inbox / "crm"
    inbox.mkdir(parents=True)
    (inbox / "klanten_20261123.csv").write_bytes(b"Voornaam;Achternaam\r\nJan;Jansen\r\n")
    assert main(["run", "--no-exports"]) == 1
    con = connect(project.warehouse, read_only=True)
    status, error = con.execute("SELECT status, error FROM ingest_log").fetchone()
    con.close()
    assert status == "failed"
    assert "crm/klanten_20261123.csv, line 1" in error and "KlantID (source_record_id)" in error
    runs = dg.DagsterInstance.get().get_run_records(dg.RunsFilter(job_name="ingest_drop"))
    assert runs and runs[0].dagster_run.status == dg.DagsterRunStatus.FAILURE
