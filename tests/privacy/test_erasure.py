"""Erasure leaves no trace: not in any table, not in any file under data/, not in the DuckDB file;
other people's rows stay byte for byte; and a person who comes back stays out of every segment."""

from __future__ import annotations

import gzip
import io
import json
import logging
import re
import zipfile
from datetime import date, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import duckdb
import pytest

from assets.cli import main
from pipelines.config import load_exports
from pipelines.privacy.rules import refresh_suppressions
from pipelines.privacy.tombstones import tombstone_key
from pipelines.segments.build import build_segment
from pipelines.warehouse import connect
from tests.privacy.helpers import config, drop, identity_customers, ingest

EMAIL = "jan.kwakernaak@gmail.com"
NAME = "kwakernaak"
DIGITS = "612345678"  # the national number of +31612345678, however it is written
CRM_HEADER = "KlantID;Voornaam;Achternaam;Email;Telefoon;Nieuwsbrief\r\n"
OTHERS_CRM = (
    "1002;Åsa;Öberg;asa@example.se;+46 70 123 45 67;ja\r\n"
    "1003;Piet;Müller;piet@example.nl;020-1234567;nee\r\n"
)
WEB_HEADER = (
    '\ufeff"customer_id","first_name","last_name","email","phone","newsletter","double_opt_in"\n'
)


def values_in(text: str) -> list[str]:
    """Which of the person's values occur in `text` (compared without case and separators)."""
    low = text.lower()
    found = [v for v in (EMAIL, NAME) if v in low]
    if DIGITS in re.sub(r"[ \-./()]", "", text):
        found.append(DIGITS)
    return found


def file_texts(path: Path) -> list[str]:
    data = path.read_bytes()
    texts = [data.decode("latin-1")]
    if path.suffix == ".gz":
        texts.append(gzip.decompress(data).decode("latin-1"))
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            texts += [zf.read(n).decode("latin-1") for n in zf.namelist()]
    if path.suffix == ".eml":
        msg = BytesParser(policy=policy.default).parsebytes(data)
        for part in msg.walk():
            payload = part.get_payload(decode=True) if not part.is_multipart() else None
            if payload:
                texts.append(payload.decode("latin-1"))
                if payload[:2] == b"PK":
                    with zipfile.ZipFile(io.BytesIO(payload)) as zf:
                        texts += [zf.read(n).decode("latin-1") for n in zf.namelist()]
    return texts


def traces_in_files(data_dir: Path) -> dict[str, list[str]]:
    out = {}
    for path in data_dir.rglob("*"):
        if path.is_file():
            found = sorted({v for t in file_texts(path) for v in values_in(t)})
            if found:
                out[str(path.relative_to(data_dir))] = found
    return out


def traces_in_tables(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    out = {}
    for (table,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall():
        cols = [
            c
            for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' "
                "AND table_name = ?",
                [table],
            ).fetchall()
        ]
        text = " || ' ' || ".join(f"coalesce(CAST(\"{c}\" AS VARCHAR), '')" for c in cols)
        n = con.execute(
            f"""SELECT count(*) FROM "{table}" WHERE contains(lower({text}), '{EMAIL}')
                OR contains(lower({text}), '{NAME}')
                OR contains(regexp_replace({text}, '[ ./()-]', '', 'g'), '{DIGITS}')"""
        ).fetchone()[0]
        if n:
            out[table] = n
    return out


@pytest.fixture
def populated(project):
    """Jan Kwakernaak in every place a person can be, next to two other people."""
    cfg = config(project)
    con = connect(project.warehouse)
    drop(
        project,
        "crm",
        "klanten_20261001.csv",
        CRM_HEADER
        + "1001;Jan;Kwakernaak; Jan.Kwakernaak@Gmail.com ;06-12345678;ja\r\n"
        + OTHERS_CRM
        # rejected: field count
        + "1001;Jan;Kwakernaak;jan.kwakernaak@gmail.com;0612345678;ja;too;many\r\n",
        encoding="cp1252",
        mtime=datetime(2026, 10, 1),
    )
    ingest(con, project, cfg, "crm", "klanten_20261001.csv")
    web = (
        WEB_HEADER
        + '"WS77","Jan","Kwakernaak","JAN.KWAKERNAAK@GMAIL.COM","+31 6 1234 5678","true","true"\n'
        '"WS78","Els","de Vries","els@example.nl","","true","true"\n'
    )
    drop(
        project,
        "webshop",
        "customers_20261001.csv.gz",
        gzip.compress(web.encode("utf-8")),
        mtime=datetime(2026, 10, 1),
    )
    ingest(con, project, cfg, "webshop", "customers_20261001.csv.gz")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "klanten_20261002.csv",
            (
                CRM_HEADER
                + "1001;Jan;Kwakernaak;jan.kwakernaak@gmail.com;+31612345678;ja\r\n"
                + OTHERS_CRM
            ).encode("cp1252"),
        )
    drop(project, "crm", "klanten_20261002.zip", buf.getvalue(), mtime=datetime(2026, 10, 2))
    ingest(con, project, cfg, "crm", "klanten_20261002.zip")
    drop(
        project,
        "email_platform",
        "suppressions_20261003.csv",
        "Email Address,Phone,Event,Timestamp,Campaign\n"
        "jan.kwakernaak@gmail.com,,Soft Bounce,2026-10-03 10:00:00,x\n"
        "els@example.nl,,Soft Bounce,2026-10-03 10:00:00,x\n",
        mtime=datetime(2026, 10, 3),
    )
    ingest(con, project, cfg, "email_platform", "suppressions_20261003.csv")
    identity_customers(con)
    con.execute(
        "UPDATE customer_sources SET customer_id = 'crm:1001' WHERE source_record_id = 'WS77'"
    )
    con.execute("DELETE FROM customers WHERE customer_id = 'webshop:WS77'")
    con.execute(
        """INSERT INTO match_evidence (customer_id, left_source, left_record_id, right_source,
                                       right_record_id, match_weight, match_probability, rule,
                                       comparison)
           VALUES ('crm:1001', 'crm', '1001', 'webshop', 'WS77', 12.5, 0.99, 'email',
                   '{"email": "exact"}')"""
    )
    con.execute(
        "INSERT INTO segment_members VALUES ('newsletter', '*', 'crm:1001', '', 'abc', "
        "TIMESTAMP '2026-10-03')"
    )
    refresh_suppressions(con, cfg, tombstone_key=tombstone_key(project.data_dir))
    # A drop staged but not loaded yet.
    drop(
        project,
        "webshop",
        "customers_20261004.csv",
        WEB_HEADER
        + '"WS77","Jan","Kwakernaak","jan.kwakernaak@gmail.com","0612345678","true","true"\n',
        mtime=datetime(2026, 10, 4),
    )
    from pipelines.ingest.discover import partition_key
    from pipelines.ingest.land import file_id_for, land
    from pipelines.ingest.load import stage_drop
    from pipelines.transport.local import LocalTransport

    t = LocalTransport(project.inbox / "webshop")
    remote = next(f for f in t.list(["customers_20261004.csv"]))
    key = partition_key("webshop", remote)
    land(con, t, landing_root=project.landing, source="webshop", remote=remote, partition_key=key)
    stage_drop(
        con,
        file_id=file_id_for(key),
        source_name="webshop",
        source=cfg.sources["webshop"],
        tmp_root=project.data_dir / "tmp",
    )
    con.close()

    # Outbox: a segment file with its manifest, and the copy of an export mail with a zip
    # attachment.
    seg = project.outbox / "newsletter"
    seg.mkdir(parents=True)
    export = (
        "customer_id,email,first_name\r\n"
        "crm:1001,jan.kwakernaak@gmail.com,Jan\r\n"
        "crm:1002,asa@example.se,Åsa\r\n"
    )
    (seg / "newsletter_20261003.csv").write_bytes(export.encode("utf-8"))
    (seg / "newsletter_20261003.csv.json").write_text(
        json.dumps({"file": "newsletter_20261003.csv", "rows": 2, "sha256": "x", "size_bytes": 1})
    )
    msg = EmailMessage()
    msg["Subject"] = "crmclean: winback (2 customers)"
    msg["From"], msg["To"] = "crmclean@localhost", "marketing@localhost"
    msg.set_content("2 customers; no personal data in this text.")
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("winback_20261003.csv", export)
    msg.add_attachment(
        zbuf.getvalue(), maintype="application", subtype="zip", filename="winback_20261003.zip"
    )
    (project.outbox / "mail").mkdir()
    (project.outbox / "mail" / "20261003_winback.eml").write_bytes(msg.as_bytes())
    # The demo truth file.
    (project.data_dir / "demo").mkdir()
    duckdb.sql(
        f"COPY (SELECT * FROM (VALUES ('p1', '{EMAIL}', '+31612345678'), "
        "('p2', 'asa@example.se', '+46701234567')) t(person, email, phone)) "
        f"TO '{project.data_dir / 'demo' / 'truth.parquet'}' (FORMAT parquet)"
    )
    return project


def test_erasure_leaves_no_trace_anywhere_and_keeps_everyone_else(populated, capsys, caplog):
    project = populated
    before_files = traces_in_files(project.data_dir)
    assert {
        "inbox/crm/klanten_20261001.csv",
        "outbox/mail/20261003_winback.eml",
        "demo/truth.parquet",
    } <= set(before_files)
    con = connect(project.warehouse, read_only=True)
    assert {"contacts", "customers", "rejected_rows", "staged_rows", "suppression_events"} <= set(
        traces_in_tables(con)
    )
    con.close()
    others_landing = {p: p.read_bytes() for p in (project.landing).rglob("*") if p.is_file()}
    crm_landing = next(p for p in others_landing if p.name == "klanten_20261001.csv")
    mtime = crm_landing.stat().st_mtime

    with caplog.at_level(logging.DEBUG):
        assert (
            main(["erase", "--email", " JAN.Kwakernaak@gmail.com ", "--request-id", "AVG-2026-17"])
            == 0
        )
    out = capsys.readouterr().out
    assert "erased j***@gmail.com: 1 customer(s)" in out
    assert values_in(out) == [] and all(values_in(r.getMessage()) == [] for r in caplog.records)

    assert traces_in_files(project.data_dir) == {}
    con = connect(project.warehouse, read_only=True)
    assert traces_in_tables(con) == {}
    # Everyone else is still there.
    assert sorted(
        r for (r,) in con.execute("SELECT source_record_id FROM contacts").fetchall()
    ) == ["1002", "1003", "WS78"]
    log = con.execute(
        "SELECT origin, request_id, identified_by, customers, source_records, tombstones, "
        "residue_files, compacted_at IS NOT NULL FROM erasure_log"
    ).fetchall()
    assert log == [("cli", "AVG-2026-17", "email", 1, 2, 2, 0, True)]
    rows_by_table = json.loads(con.execute("SELECT rows_by_table FROM erasure_log").fetchone()[0])
    assert {
        "contacts",
        "customers",
        "customer_sources",
        "match_evidence",
        "rejected_rows",
        "staged_rows",
        "suppression_events",
        "segment_members",
        "consent_events",
    } <= set(rows_by_table)
    con.close()

    # Files: the person's records are gone, every other byte (encoding, BOM, quoting, line ends)
    # is as it was.
    text = crm_landing.read_bytes()
    assert text == (CRM_HEADER + OTHERS_CRM).encode("cp1252")
    assert crm_landing.stat().st_mtime == mtime and crm_landing.stat().st_mode & 0o077 == 0
    # Inbox copies of drops already landed are deleted, not rewritten (a rewrite looks like a new
    # version).
    assert not (project.inbox / "crm" / "klanten_20261001.csv").exists()
    assert (project.inbox / "crm" / "klanten_20261001.csv").name in {
        p.name for p in project.landing.rglob("*")
    }
    web = next(p for p in project.landing.rglob("customers_20261001.csv.gz"))
    assert (
        gzip.decompress(web.read_bytes()).decode("utf-8")
        == WEB_HEADER + '"WS78","Els","de Vries","els@example.nl","","true","true"\n'
    )
    manifest = json.loads(
        (project.outbox / "newsletter" / "newsletter_20261003.csv.json").read_text()
    )
    assert manifest["rows"] == 1 and manifest["sha256"] != "x"
    assert (
        (project.outbox / "newsletter" / "newsletter_20261003.csv")
        .read_bytes()
        .decode("utf-8")
        .endswith("crm:1002,asa@example.se,Åsa\r\n")
    )
    assert duckdb.sql(
        f"SELECT count(*) FROM '{project.data_dir / 'demo' / 'truth.parquet'}'"
    ).fetchall() == [(1,)]

    # The DuckDB file itself: no freed page still holds the person.
    raw = project.warehouse.read_bytes().decode("latin-1")
    assert values_in(raw) == []


def test_an_erased_person_who_comes_back_is_suppressed_and_never_exported(populated):
    project = populated
    assert main(["erase", "--phone", "06 12 34 56 78"]) == 0
    # Next month the CRM (not cleaned at the source) brings him back under a new number.
    drop(
        project,
        "crm",
        "klanten_20261101.csv",
        CRM_HEADER + "2001;Jan;Kwakernaak;Jan.Kwakernaak@gmail.com;;ja\r\n" + OTHERS_CRM,
        encoding="cp1252",
        mtime=datetime(2026, 11, 1),
    )
    cfg = config(project)
    con = connect(project.warehouse)
    ingest(con, project, cfg, "crm", "klanten_20261101.csv")
    identity_customers(con)
    summary = refresh_suppressions(con, cfg, tombstone_key=tombstone_key(project.data_dir))
    assert summary.by_reason.get("erasure") == 1
    assert (
        con.execute("SELECT customer_id FROM suppressions WHERE reason = 'erasure'").fetchone()[0]
        == "crm:2001"
    )
    exports = load_exports(project.exports_file)
    for name, segment in exports.segments.items():
        build_segment(con, name, segment, date(2026, 11, 2), table="rows_out")
        assert (
            con.execute(
                "SELECT count(*) FROM rows_out WHERE _customer_id = 'crm:2001'"
            ).fetchone()[0]
            == 0
        ), name
    assert con.execute("SELECT count(*) FROM rows_out").fetchone()[0] >= 0
    con.close()


def test_an_erasure_request_drop_erases_and_leaves_the_request_file_empty(populated):
    project = populated
    cfg = config(project)
    drop(
        project,
        "privacy_requests",
        "erasure_20261005.csv",
        "RequestID,Email,Phone,CustomerID,RequestedAt\n"
        "AVG-1,jan.kwakernaak@gmail.com,,,2026-10-05 09:00:00\n"
        "AVG-2,,,,2026-10-05 09:00:00\n",
        mtime=datetime(2026, 10, 5),
    )
    con = connect(project.warehouse)
    figures = ingest(
        con,
        project,
        cfg,
        "privacy_requests",
        "erasure_20261005.csv",
        now=datetime(2026, 10, 5, 10),
    )
    assert figures["customers_erased"] == 1 and figures["rows_rejected_at_load"] == 1
    assert figures["files_still_holding_a_value"] == 0
    assert values_in(json.dumps(figures)) == []
    read, loaded, rejected = con.execute(
        "SELECT rows_read, rows_loaded, rows_rejected FROM ingest_log "
        "WHERE source = 'privacy_requests'"
    ).fetchone()
    assert (read, loaded, rejected) == (2, 1, 1)
    assert con.execute("SELECT origin, request_id, requested_at FROM erasure_log").fetchone() == (
        "source:privacy_requests",
        "AVG-1",
        datetime(2026, 10, 5, 9),
    )
    assert (
        con.execute("SELECT count(*) FROM erasure_log WHERE compacted_at IS NULL").fetchone()[0]
        == 1
    )
    con.close()
    from pipelines.privacy.erasure import compact_if_pending

    assert compact_if_pending(project.warehouse) is True
    assert traces_in_files(project.data_dir) == {}
    landed = next(project.landing.rglob("erasure_20261005.csv"))
    assert (
        landed.read_text()
        == "RequestID,Email,Phone,CustomerID,RequestedAt\nAVG-2,,,,2026-10-05 09:00:00\n"
    )


def test_erasure_by_customer_id_finds_every_address_of_the_customer(populated, capsys):
    project = populated
    assert main(["erase", "--customer-id", "crm:1001"]) == 0
    assert "1 customer(s), 2 source record(s)" in capsys.readouterr().out
    assert traces_in_files(project.data_dir) == {}
    con = connect(project.warehouse, read_only=True)
    assert traces_in_tables(con) == {}
    assert con.execute("SELECT identified_by FROM erasure_log").fetchone()[0] == "customer_id"
    con.close()


def test_erase_needs_a_value_and_export_person_reports_an_erased_person(populated, capsys):
    assert main(["erase"]) == 2
    assert main(["erase", "--email", EMAIL]) == 0
    capsys.readouterr()
    assert main(["export-person", "--email", EMAIL]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["tables"] == {} and doc["files"] == [] and doc["erased_before"] is True


def test_a_file_it_cannot_rewrite_is_reported_not_hidden(populated, capsys):
    project = populated
    report = project.data_dir / "reports" / "quality.html"
    report.parent.mkdir()
    report.write_text(f"<p>worst row: {EMAIL.upper()}</p>")
    assert main(["erase", "--email", EMAIL]) == 1
    err = capsys.readouterr().err
    assert "reports/quality.html" in err and EMAIL not in err
    con = connect(project.warehouse, read_only=True)
    assert con.execute("SELECT residue_files FROM erasure_log").fetchone()[0] == 1
    con.close()
    assert set(traces_in_files(project.data_dir)) == {"reports/quality.html"}


def test_a_drop_without_header_row_is_erased_from_the_file_and_from_the_log_texts(
    populated, capsys
):
    """The first line of a headerless drop is a record: staging does not quote it, and erasure
    removes the line from the landed file and redacts any log text that does quote the person."""
    from pipelines.ingest.discover import partition_key
    from pipelines.ingest.errors import FileRejected
    from pipelines.ingest.land import file_id_for, land
    from pipelines.ingest.load import stage_drop
    from pipelines.quality.checks import inspect_landed_file, record
    from pipelines.transport.local import LocalTransport

    project = populated
    cfg = config(project)
    drop(
        project,
        "crm",
        "klanten_20261006.csv",
        "1001;Jan;Kwakernaak;jan.kwakernaak@gmail.com;06-12345678;ja\r\n" + OTHERS_CRM,
        encoding="cp1252",
        mtime=datetime(2026, 10, 6),
    )
    con = connect(project.warehouse)
    t = LocalTransport(project.inbox / "crm")
    remote = next(f for f in t.list(["klanten_20261006.csv"]))
    key = partition_key("crm", remote)
    land(con, t, landing_root=project.landing, source="crm", remote=remote, partition_key=key)
    file_id = file_id_for(key)
    with pytest.raises(FileRejected):
        stage_drop(
            con,
            file_id=file_id,
            source_name="crm",
            source=cfg.sources["crm"],
            tmp_root=project.data_dir / "tmp",
        )
    record(con, inspect_landed_file(con, file_id, cfg.sources["crm"]))
    error = con.execute("SELECT error FROM ingest_log WHERE file_id = ?", [file_id]).fetchone()[0]
    assert (
        "header row missing" in error and EMAIL not in error.lower()
    )  # staging does not quote the record
    # Other texts may still quote a value (a database error, a text written by an older version):
    # erasure must find and redact those too.
    con.execute(
        "UPDATE ingest_log SET error = error || ?  WHERE file_id = ?",
        [f" (near '{EMAIL}')", file_id],
    )
    con.execute(
        "UPDATE quality_checks SET detail = detail || ? WHERE load_id = ?",
        [f" (near '{EMAIL}')", file_id],
    )
    assert "ingest_log" in traces_in_tables(con) and "quality_checks" in traces_in_tables(con)
    con.close()

    capsys.readouterr()
    assert main(["export-person", "--email", EMAIL]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"ingest_log", "quality_checks"} <= set(doc["tables"])

    assert main(["erase", "--email", EMAIL]) == 0
    assert traces_in_files(project.data_dir) == {}
    con = connect(project.warehouse, read_only=True)
    assert traces_in_tables(con) == {}
    error, status = con.execute(
        "SELECT error, status FROM ingest_log WHERE file_id = ?", [file_id]
    ).fetchone()
    assert (status, error) == (
        "failed",
        "[erased: quoted a person who was erased]",
    )  # the file's fate is kept
    assert con.execute("SELECT texts_redacted FROM erasure_log").fetchone()[0] >= 2
    con.close()
    landed = next(project.landing.rglob("klanten_20261006.csv"))
    assert landed.read_bytes() == OTHERS_CRM.encode("cp1252")
