"""Exports to a real OpenSSH server: temporary name then rename, manifests, host keys, retries."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import datetime

import pytest

from pipelines.config import ExportsConfig, LocalDestination, Segment, SftpDestination
from pipelines.export.run import ExportFailed, export_segment
from pipelines.transport.sftp import SftpTransport
from tests.segments.people import customer, warehouse

NOW = datetime(2026, 11, 24, 6)


def config(
    sshd, folder, options, *, manifest="json", split_by=None
) -> tuple[Segment, ExportsConfig]:
    segment = Segment(
        filter="has_valid_email",
        columns=["customer_id", "email", "phone", "country"],
        destinations=["platform", "outbox"],
        manifest=manifest,
        split_by=split_by,
    )
    cfg = ExportsConfig(
        destinations={
            "platform": SftpDestination(type="sftp", location=sshd.location(folder), sftp=options),
            "outbox": LocalDestination(type="local"),
        },
        segments={"seg": segment},
    )
    return segment, cfg


def test_upload_then_read_back_over_sftp(sshd, sftp_options, tmp_path):
    """Uploads use `SftpTransport.put` (temporary name, then rename: tests/transport)."""
    folder = sshd.new_dir()
    con = warehouse(
        tmp_path / "w.duckdb",
        [customer("c1", first_name="Zoë"), customer("c2", country="SE", phone="+46701234567")],
    )
    segment, cfg = config(sshd, folder, sftp_options(sshd))
    result = export_segment(con, "seg", segment, cfg, outbox=tmp_path / "outbox", now=NOW)
    assert {(f["destination"], f["status"]) for f in result.files} == {
        ("platform", "ok"),
        ("outbox", "ok"),
    }

    with SftpTransport.from_location(sshd.location(folder), sftp_options(sshd)) as remote:
        names = sorted(f.name for f in remote.list(["*"]))
        assert names == ["seg_20261124.csv", "seg_20261124.csv.json"]  # no temporary names left
        remote.fetch("seg_20261124.csv", tmp_path / "back.csv")
        remote.fetch("seg_20261124.csv.json", tmp_path / "back.json")
    data = (tmp_path / "back.csv").read_bytes()
    assert data == (tmp_path / "outbox" / "seg" / "seg_20261124.csv").read_bytes()
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    assert [(r["customer_id"], r["phone"], r["country"]) for r in rows] == [
        ("c1", customer("c1")["phone"], "NL"),
        ("c2", "+46701234567", "SE"),
    ]
    manifest = json.loads((tmp_path / "back.json").read_text())
    assert manifest["rows"] == 2 and manifest["sha256"] == hashlib.sha256(data).hexdigest()
    location = con.execute(
        "SELECT location FROM export_log WHERE destination = 'platform'"
    ).fetchone()[0]
    assert location == sshd.location(folder) + "/seg_20261124.csv"

    # Same content again: not uploaded twice.
    again = export_segment(con, "seg", segment, cfg, outbox=tmp_path / "outbox", now=NOW)
    assert {f["status"] for f in again.files} == {"unchanged"}
    assert (
        con.execute("SELECT count(*) FROM export_log WHERE destination = 'platform'").fetchone()[0]
        == 1
    )


def test_split_segment_with_done_markers(sshd, sftp_options, tmp_path):
    folder = sshd.new_dir()
    con = warehouse(tmp_path / "w.duckdb", [customer("n1"), customer("b1", country="BE")])
    segment, cfg = config(sshd, folder, sftp_options(sshd), manifest="done", split_by="country")
    export_segment(con, "seg", segment, cfg, outbox=tmp_path / "outbox", now=NOW)
    assert sorted(p.name for p in folder.iterdir()) == [
        "seg_20261124_BE.csv",
        "seg_20261124_BE.csv.done",
        "seg_20261124_NL.csv",
        "seg_20261124_NL.csv.done",
    ]
    done = dict(
        line.split("=", 1)
        for line in (folder / "seg_20261124_NL.csv.done").read_text().splitlines()
    )
    assert done["rows"] == "1"
    assert (
        done["sha256"] == hashlib.sha256((folder / "seg_20261124_NL.csv").read_bytes()).hexdigest()
    )


def test_unknown_host_key_fails_visibly_and_the_next_run_delivers(sshd, sftp_options, tmp_path):
    folder = sshd.new_dir()
    con = warehouse(tmp_path / "w.duckdb", [customer("c1")])
    empty_known_hosts = tmp_path / "known_hosts"
    empty_known_hosts.write_text("")
    segment, cfg = config(sshd, folder, sftp_options(sshd, known_hosts=str(empty_known_hosts)))
    with pytest.raises(
        ExportFailed, match=r"platform \(sftp://.*\): TransportAuthError: .*SHA256:"
    ):
        export_segment(con, "seg", segment, cfg, outbox=tmp_path / "outbox", now=NOW)
    assert list(folder.iterdir()) == []
    assert con.execute(
        "SELECT destination, status FROM export_log ORDER BY destination"
    ).fetchall() == [
        ("outbox", "ok"),
        ("platform", "failed"),
    ]

    segment, cfg = config(sshd, folder, sftp_options(sshd))  # the operator pinned the key
    result = export_segment(con, "seg", segment, cfg, outbox=tmp_path / "outbox", now=NOW)
    assert {(f["destination"], f["status"]) for f in result.files} == {
        ("platform", "ok"),
        ("outbox", "unchanged"),
    }
    assert (folder / "seg_20261124.csv").exists()


def test_server_down_fails_and_is_retried(sshd_factory, sftp_options, tmp_path):
    server = sshd_factory()
    folder = server.new_dir()
    con = warehouse(tmp_path / "w.duckdb", [customer("c1")])
    segment, cfg = config(server, folder, sftp_options(server, connect_timeout_seconds=2))
    server.stop()
    with pytest.raises(ExportFailed, match="platform"):
        export_segment(con, "seg", segment, cfg, outbox=tmp_path / "outbox", now=NOW)
    server.start()
    export_segment(con, "seg", segment, cfg, outbox=tmp_path / "outbox", now=NOW)
    assert (folder / "seg_20261124.csv").exists()
