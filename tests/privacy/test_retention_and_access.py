"""Retention deletes old landing and outbox files (never a drop still waiting to be loaded), and
`crmclean export-person` prints everything held about one person."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta

from assets.cli import main
from pipelines.config import Retention
from pipelines.privacy.retention import apply_retention
from pipelines.privacy.rules import refresh_suppressions
from pipelines.warehouse import connect
from tests.privacy.helpers import config, drop, identity_customers, ingest

CRM = (
    "KlantID;Voornaam;Achternaam;Email;Telefoon;Nieuwsbrief\r\n"
    "1001;Jan;Kwak;jan.kwak@example.nl;06-12345678;ja\r\n"
    "1002;Piet;Vos;piet@example.nl;;nee\r\n"
)


def test_retention_deletes_old_landing_and_outbox_files(project):
    cfg = config(project)
    con = connect(project.warehouse)
    drop(project, "crm", "klanten_20261001.csv", CRM, encoding="cp1252")
    ingest(con, project, cfg, "crm", "klanten_20261001.csv")
    # A second drop landed and staged but not loaded yet: it must survive any retention.
    drop(
        project,
        "crm",
        "klanten_20261002.csv",
        CRM.replace("Vos", "de Vos"),
        encoding="cp1252",
        mtime=datetime(2026, 10, 2),
    )
    from pipelines.ingest.discover import partition_key
    from pipelines.ingest.land import land
    from pipelines.transport.local import LocalTransport

    t = LocalTransport(project.inbox / "crm")
    remote = next(f for f in t.list(["klanten_20261002.csv"]))
    pending = land(
        con,
        t,
        landing_root=project.landing,
        source="crm",
        remote=remote,
        partition_key=partition_key("crm", remote),
    )
    outbox = project.outbox / "newsletter"
    outbox.mkdir(parents=True)
    old, new = outbox / "newsletter_20260801.csv", outbox / "newsletter_20261001.csv"
    for path, when in (
        (old, datetime.now() - timedelta(days=40)),
        (new, datetime.now() - timedelta(days=2)),
    ):
        path.write_text("customer_id\r\n")
        os.utime(path, (when.timestamp(), when.timestamp()))

    kept = apply_retention(
        con,
        project,
        Retention(landing_days=30, outbox_days=30),
        now=datetime.now() + timedelta(days=10),
    )
    assert (kept.landing_files_deleted, kept.outbox_files_deleted) == (0, 1)
    assert not old.exists() and new.exists()

    later = apply_retention(
        con,
        project,
        Retention(landing_days=30, outbox_days=30),
        now=datetime.now() + timedelta(days=31),
        local_inbox_sources={"crm"},
    )
    assert (
        later.landing_files_deleted == 1
        and later.inbox_files_deleted == 1
        and later.bytes_freed > 0
    )
    assert pending.path.exists()  # not loaded yet: kept, in the landing archive and the inbox
    assert sorted(p.name for p in (project.inbox / "crm").iterdir()) == ["klanten_20261002.csv"]
    purged = con.execute(
        "SELECT file_name, purged_at IS NOT NULL FROM ingest_log ORDER BY file_name"
    ).fetchall()
    assert purged == [("klanten_20261001.csv", True), ("klanten_20261002.csv", False)]
    assert [p.name for p in project.landing.rglob("*") if p.is_file()] == ["klanten_20261002.csv"]
    con.close()


def test_export_person_prints_everything_held_about_them(project, capsys):
    cfg = config(project)
    con = connect(project.warehouse)
    drop(
        project, "crm", "klanten_20261001.csv", CRM, encoding="cp1252", mtime=datetime(2026, 10, 1)
    )
    ingest(con, project, cfg, "crm", "klanten_20261001.csv")
    drop(
        project,
        "email_platform",
        "suppressions_1.csv",
        "Email Address,Phone,Event,Timestamp,Campaign\n"
        "JAN.KWAK@example.nl,,Unsubscribed,2026-10-05 10:00:00,x\n",
    )
    ingest(con, project, cfg, "email_platform", "suppressions_1.csv")
    identity_customers(con)
    refresh_suppressions(con, cfg, tombstone_key=b"a-test-key-for-access")
    con.close()

    assert main(["export-person", "--phone", "+31 6 1234 5678"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["customer_ids"] == ["crm:1001"]
    assert doc["emails"] == ["jan.kwak@example.nl"] and doc["phones"] == ["+31612345678"]
    tables = doc["tables"]
    assert (
        tables["contacts"][0]["first_name"] == "Jan"
        and tables["contacts"][0]["phone_raw"] == "06-12345678"
    )
    assert {r["reason"] for r in tables["suppressions"]} == {"unsubscribe", "no_consent"}
    assert tables["suppression_events"][0]["event"] == "unsubscribe"
    assert tables["consent"][0]["event"] == "unsubscribe"
    assert "Piet" not in json.dumps(doc)
    files = {f["path"]: f["rows"] for f in doc["files"]}
    assert files == {
        "data/inbox/crm/klanten_20261001.csv": 1,
        "data/inbox/email_platform/suppressions_1.csv": 1,
        **{f"data/{p.relative_to(project.data_dir)}": 1 for p in project.landing.rglob("*.csv")},
    }
    assert doc["erased_before"] is False
