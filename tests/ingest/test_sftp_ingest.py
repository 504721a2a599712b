"""SFTP drops through the real sensor logic and ingest job, against a real OpenSSH server."""

from __future__ import annotations

import threading
import time

import dagster as dg
import pytest
import yaml

from assets.definitions import build_definitions
from assets.resources import CrmcleanResource
from assets.sensors import evaluate_sources
from pipelines.config import load_sources
from pipelines.ingest.discover import parse_partition_key
from pipelines.ingest.land import file_id_for, land
from pipelines.transport import TransportError, open_transport
from pipelines.warehouse import connect

HEADER = (
    "KlantID;Voornaam;Tussenvoegsel;Achternaam;Email;Telefoon;Straat;Huisnummer;Postcode;Plaats;"
    "Land;Geboortedatum;Nieuwsbrief;LaatsteAankoop"
)


def crm_rows(n: int, start: int = 1) -> list[str]:
    names = [
        ("Åsa", "", "Öberg", "Västerås", "Sverige"),
        ("Jan", "van der", "Berg", "Utrecht", "Nederland"),
        ("Zoë", "", "Dubois", "Liège", "België"),
    ]
    out = []
    for i in range(start, start + n):
        first, infix, last, city, country = names[i % 3]
        out.append(
            f"{i};{first};{infix};{last};p{i}@example.nl;06-1234{i % 10000:04d};Kerkstraat;"
            f"{i % 200 + 1};1234 AB;{city};{country};01-02-1980;ja;05-06-2024"
        )
    return out


def crm_file(rows: list[str]) -> bytes:
    return ("\r\n".join([HEADER, *rows]) + "\r\n").encode("cp1252")


def use_sftp_source(project, server, sftp_options, folder, **source_overrides):
    """Point the `crm` source of the project's sources.yaml at `folder` on `server`."""
    options = sftp_options(server, auth="ed25519")
    path = project.config_dir / "sources.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["sources"] = {"crm": cfg["sources"]["crm"]}
    cfg["sources"]["crm"].update(
        location=server.location(folder), sftp=options.model_dump(), **source_overrides
    )
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return load_sources(path)


def run_ingest(project, now=None, cursor=None):
    """One sensor evaluation and the ingest runs it requests, as the daemon would do them."""
    resource = CrmcleanResource(data_dir=str(project.data_dir), config_dir=str(project.config_dir))
    result = evaluate_sources(resource, cursor, now=now)
    keys = [r.partition_key for r in result.run_requests]
    instance = dg.DagsterInstance.get()
    instance.add_dynamic_partitions("drops", keys)
    job = build_definitions(project).resolve_job_def("ingest_drop")
    runs = [
        job.execute_in_process(partition_key=k, instance=instance, raise_on_error=False)
        for k in keys
    ]
    return keys, runs, result.cursor


def test_sftp_drop_is_loaded_byte_exact_and_moved_to_processed(project, sshd, sftp_options):
    folder = sshd.new_dir()
    use_sftp_source(project, sshd, sftp_options, folder, after_load="move_to_processed")
    sshd.write(folder / "klanten_20261123.csv", crm_file(crm_rows(30)))
    keys, runs, cursor = run_ingest(project)
    assert len(keys) == 1 and all(r.success for r in runs)
    con = connect(project.warehouse, read_only=True)
    status, read, loaded, rejected, encoding = con.execute(
        "SELECT status, rows_read, rows_loaded, rows_rejected, encoding FROM ingest_log"
    ).fetchone()
    assert (status, read, loaded, rejected, encoding) == ("loaded", 30, 30, 0, "cp1252")
    names = set(con.execute("SELECT first_name_raw || ' ' || city FROM contacts").fetchall())
    con.close()
    assert ("Åsa Västerås",) in names and ("Zoë Liège",) in names
    assert not (folder / "klanten_20261123.csv").exists()
    assert (folder / "processed" / "klanten_20261123.csv").exists()
    # The next poll finds nothing new.
    keys, _, _ = run_ingest(project, cursor=cursor)
    assert keys == []


def test_file_uploaded_in_two_halves_is_loaded_only_when_complete(project, sshd, sftp_options):
    folder = sshd.new_dir()
    use_sftp_source(project, sshd, sftp_options, folder, settle_seconds=30)
    rows = crm_rows(200)
    data = crm_file(rows)
    half = data.index(b"\r\n", len(data) // 2) + 2
    t0 = time.time()
    sshd.write(folder / "klanten_20261123.csv", data[:half], mtime=t0 - 5)
    keys, _, cursor = run_ingest(project, now=t0)
    assert keys == []  # first sighting: not settled
    sshd.write(folder / "klanten_20261123.csv", data[half:], mtime=t0 + 20, append=True)
    keys, _, cursor = run_ingest(project, now=t0 + 31, cursor=cursor)
    assert keys == []  # it changed since: the settle clock starts again
    keys, runs, cursor = run_ingest(project, now=t0 + 62, cursor=cursor)
    assert len(keys) == 1 and runs[0].success
    con = connect(project.warehouse, read_only=True)
    assert con.execute("SELECT rows_read, rows_loaded FROM ingest_log").fetchone() == (200, 200)
    con.close()


def test_same_content_twice_is_recorded_as_duplicate(project, sshd, sftp_options):
    folder = sshd.new_dir()
    use_sftp_source(project, sshd, sftp_options, folder)
    data = crm_file(crm_rows(10))
    sshd.write(folder / "klanten_20261122.csv", data, mtime=time.time() - 3600)
    sshd.write(folder / "klanten_20261123.csv", data)
    keys, runs, _ = run_ingest(project)
    assert len(keys) == 2 and all(r.success for r in runs)
    con = connect(project.warehouse, read_only=True)
    rows = con.execute(
        "SELECT file_name, status, duplicate_of IS NOT NULL FROM ingest_log ORDER BY file_name"
    ).fetchall()
    assert rows == [
        ("klanten_20261122.csv", "loaded", False),
        ("klanten_20261123.csv", "duplicate", True),
    ]
    assert con.execute("SELECT count(*) FROM contacts").fetchone()[0] == 10
    con.close()


def test_gz_drop_over_sftp(project, sshd, sftp_options):
    import gzip

    folder = sshd.new_dir()
    use_sftp_source(project, sshd, sftp_options, folder)
    sshd.write(folder / "klanten_20261123.csv.gz", gzip.compress(crm_file(crm_rows(25))))
    keys, runs, _ = run_ingest(project)
    assert len(keys) == 1 and runs[0].success
    con = connect(project.warehouse, read_only=True)
    assert con.execute("SELECT rows_loaded FROM ingest_log").fetchone()[0] == 25
    con.close()


def test_server_killed_mid_download_leaves_nothing_and_next_try_succeeds(
    project, sshd_factory, sftp_options
):
    server = sshd_factory()
    folder = server.new_dir()
    sources = use_sftp_source(project, server, sftp_options, folder)
    rows = crm_rows(400_000)
    server.write(folder / "klanten_20261123.csv", crm_file(rows))
    transport = open_transport(
        server.location(folder), sources.sources["crm"].sftp, config_dir=project.config_dir
    )
    remote = transport.list(["*.csv"])[0]
    key = f"crm/{remote.name}@20261123T000000"
    con = connect(project.warehouse)
    landing = project.data_dir / "landing"

    killer = threading.Timer(0.3, server.stop)
    killer.start()
    with pytest.raises(TransportError):
        land(con, transport, landing_root=landing, source="crm", remote=remote, partition_key=key)
    killer.join()
    transport.close()
    assert [p for p in landing.rglob("*") if p.is_file()] == []
    assert con.execute("SELECT count(*) FROM ingest_log").fetchone()[0] == 0

    server.start()
    with open_transport(
        server.location(folder), sources.sources["crm"].sftp, config_dir=project.config_dir
    ) as t:
        landed = land(con, t, landing_root=landing, source="crm", remote=remote, partition_key=key)
    assert landed.status == "landed"
    assert landed.path.read_bytes() == (folder / "klanten_20261123.csv").read_bytes()
    assert landed.path.stat().st_mode & 0o077 == 0
    con.close()


def test_unknown_host_key_fails_the_run_loudly(project, sshd, sftp_options, tmp_path):
    folder = sshd.new_dir()
    use_sftp_source(project, sshd, sftp_options, folder)
    empty = tmp_path / "known_hosts_empty"
    empty.write_text("")
    path = project.config_dir / "sources.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["sources"]["crm"]["sftp"]["known_hosts"] = str(empty)
    path.write_text(yaml.safe_dump(cfg))
    resource = CrmcleanResource(data_dir=str(project.data_dir), config_dir=str(project.config_dir))
    from pipelines.transport import TransportAuthError

    with pytest.raises(TransportAuthError, match="SHA256:"):
        evaluate_sources(resource, None)


def test_partition_key_identifies_the_file(project):
    source, name, mtime = parse_partition_key("crm/sub/klanten 1.csv@20261123T050000")
    assert (source, name) == ("crm", "sub/klanten 1.csv")
    assert file_id_for("crm/sub/klanten 1.csv@20261123T050000") != file_id_for(
        "crm/sub/klanten 1.csv@20261124T050000"
    )


def test_server_down_is_a_skip_reason_and_the_cursor_survives(project, sshd_factory, sftp_options):
    server = sshd_factory()
    folder = server.new_dir()
    use_sftp_source(project, server, sftp_options, folder, settle_seconds=10)
    server.write(folder / "klanten_20261123.csv", crm_file(crm_rows(5)), mtime=time.time() - 3600)
    resource = CrmcleanResource(data_dir=str(project.data_dir), config_dir=str(project.config_dir))
    first = evaluate_sources(resource, None, now=time.time())
    assert first.run_requests == []  # seen once: waits for the settle time
    assert "crm" in first.cursor

    server.stop()
    down = evaluate_sources(resource, first.cursor, now=time.time() + 60)
    assert down.run_requests == []
    assert down.skip_reason is not None and str(down.skip_reason.skip_message).startswith("crm: ")
    assert down.cursor == first.cursor  # what was seen before is not forgotten

    server.start()
    back = evaluate_sources(resource, down.cursor, now=time.time() + 60)
    assert [parse_partition_key(r.partition_key)[1] for r in back.run_requests] == [
        "klanten_20261123.csv"
    ]
