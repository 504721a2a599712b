"""Bad but realistic drops through `crmclean run`: nothing lost, no crash, one clear line each.

Every test writes real files into a throwaway project's inbox and runs the daily job as the CLI
does (real Dagster runs, a real DuckDB file). `rows_read` is compared with a count of the file's
records made here, by counting its non-empty physical lines.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import dagster as dg
import yaml

from assets.cli import main
from pipelines.ingest.decode import RAW_LINE_LIMIT
from pipelines.settings import Paths
from pipelines.warehouse import connect
from tests.archives import zip_bytes

HEADER = "KlantID;Voornaam;Achternaam;Email;Plaats"


def rows(n: int, first_id: int = 1) -> list[str]:
    """A header and `n` records; the record on line k has KlantID k - 2 + first_id."""
    return [HEADER] + [
        f"{i};Jan{i};Jansen;jan{i}@example.nl;Utrecht" for i in range(first_id, first_id + n)
    ]


def crlf(lines: list[str]) -> str:
    return "\r\n".join(lines) + "\r\n"


def drop(project: Paths, name: str, data: bytes, source: str = "crm") -> bytes:
    folder = project.inbox / source
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return data


def records_in(text: str) -> int:
    """The data records of a file without multi-line fields: its non-empty lines but the header."""
    return sum(1 for line in text.splitlines() if line) - 1


def set_source_option(project: Paths, source: str, **options) -> None:
    path = project.config_dir / "sources.yaml"
    config = yaml.safe_load(path.read_text())
    config["sources"][source].update(options)
    path.write_text(yaml.safe_dump(config, allow_unicode=True))


def ingest_log(project: Paths) -> dict[str, dict]:
    con = connect(project.warehouse, read_only=True)
    try:
        cur = con.execute(
            "SELECT file_name, status, rows_read, rows_loaded, rows_rejected, encoding, "
            "encoding_note, error, file_id FROM ingest_log"
        )
        cols = [d[0] for d in cur.description]
        return {r[0]: dict(zip(cols, r)) for r in cur.fetchall()}
    finally:
        con.close()


def rejected(project: Paths, file_id: str) -> list[tuple]:
    con = connect(project.warehouse, read_only=True)
    try:
        return con.execute(
            "SELECT line_number, reason, raw_line, raw_length FROM rejected_rows "
            "WHERE file_id = ? ORDER BY line_number",
            [file_id],
        ).fetchall()
    finally:
        con.close()


def loaded_lines(project: Paths, file_id: str) -> list[int]:
    con = connect(project.warehouse, read_only=True)
    try:
        return [
            r[0]
            for r in con.execute(
                "SELECT line_number FROM contacts WHERE file_id = ? ORDER BY line_number",
                [file_id],
            ).fetchall()
        ]
    finally:
        con.close()


def assert_adds_up(entry: dict, expected_records: int) -> None:
    assert entry["status"] == "loaded", entry
    assert entry["rows_read"] == expected_records
    assert entry["rows_read"] == entry["rows_loaded"] + entry["rows_rejected"]


def test_an_unbalanced_quote_is_quarantined_from_its_line_and_the_rest_is_read(project):
    never_closes = rows(40)
    never_closes[6] = '6;"Jan6;Jansen;jan6@example.nl;Utrecht'  # physical line 7, open to the end
    closes_late = rows(40, 101)
    closes_late[6] = never_closes[6]
    closes_late[30] = '130;Jan30";Jansen;jan30@example.nl;Utrecht'  # a stray quote 24 lines on
    multi_line = rows(10, 201)
    multi_line[3] = '203;Jan3;Jansen;jan3@example.nl;"Den\r\nHaag"'  # a real two-line field
    drop(project, "klanten_20261120.csv", crlf(never_closes).encode("cp1252"))
    drop(project, "klanten_20261121.csv", crlf(closes_late).encode("cp1252"))
    drop(project, "klanten_20261122.csv", crlf(multi_line).encode("cp1252"))
    main(["run", "--no-exports"])

    log = ingest_log(project)
    for name, text in (
        ("klanten_20261120.csv", crlf(never_closes)),
        ("klanten_20261121.csv", crlf(closes_late)),
    ):
        entry = log[name]
        assert_adds_up(entry, records_in(text))
        assert (entry["rows_loaded"], entry["rows_rejected"]) == (39, 1)
        ((line, reason, raw, _),) = rejected(project, entry["file_id"])
        assert line == 7 and reason.startswith("unbalanced quote") and raw == never_closes[6]
        assert loaded_lines(project, entry["file_id"]) == [n for n in range(2, 42) if n != 7]
    entry = log["klanten_20261122.csv"]
    assert_adds_up(entry, 10)  # 11 non-empty lines hold 10 records: one spans two lines
    assert entry["rows_rejected"] == 0
    assert loaded_lines(project, entry["file_id"]) == [2, 3, 4, 6, 7, 8, 9, 10, 11, 12]


def test_max_quoted_lines_is_a_source_setting(project):
    set_source_option(project, "crm", max_quoted_lines=2)
    text = crlf(
        rows(5)[:3] + ['3;Jan3;Jansen;jan3@example.nl;"Den', "", "Haag"] + ['"'] + rows(5)[4:]
    )
    drop(project, "klanten_20261120.csv", text.encode("cp1252"))
    main(["run", "--no-exports"])
    entry = ingest_log(project)["klanten_20261120.csv"]
    assert (
        entry["status"] == "loaded"
        and entry["rows_read"] == entry["rows_loaded"] + entry["rows_rejected"]
    )
    reasons = {line: reason for line, reason, _, _ in rejected(project, entry["file_id"])}
    # The opening line is quarantined; `Haag` and `"` are then read as records of their own.
    assert entry["rows_read"] == records_in(text) == 7
    assert "within 2 lines (max_quoted_lines)" in reasons[4]
    assert "line 8, still inside it, reads as a record of its own" in reasons[7]
    assert reasons[6].startswith("wrong number of fields")
    assert sorted(reasons) == [4, 6, 7]


def test_a_ten_megabyte_field_rejects_its_row_with_a_cut_raw_line(project):
    lines = rows(20)
    lines[5] = "5;" + "x" * 10_000_000 + ";Jansen;jan5@example.nl;Utrecht"
    lines[9] = "9;" + "y" * 600 + ";Jansen;jan9@example.nl;Utrecht"  # over max_field_length (500)
    text = crlf(lines)
    drop(project, "klanten_20261120.csv", text.encode("cp1252"))
    main(["run", "--no-exports"])
    entry = ingest_log(project)["klanten_20261120.csv"]
    assert_adds_up(entry, records_in(text))
    assert (entry["rows_loaded"], entry["rows_rejected"]) == (18, 2)
    bad = {
        line: (reason, raw, length)
        for line, reason, raw, length in rejected(project, entry["file_id"])
    }
    reason, raw, length = bad[6]
    assert "longer than 1,000,000 characters" in reason
    assert len(raw) == RAW_LINE_LIMIT and raw.startswith("5;xxx") and length == len(lines[5])
    reason, raw, length = bad[10]
    assert reason == "value too long in field first_name (over 500 characters)" and length == len(
        raw
    ) == len(lines[9])


def test_a_nul_byte_rejects_its_row_and_utf16_needs_a_bom(project):
    nul = rows(10)
    nul[4] = "4;Ja\x00n;Jansen;jan4@example.nl;Utrecht"
    drop(project, "klanten_20261120.csv", crlf(nul).encode("cp1252"))
    drop(
        project,
        "klanten_20261121.csv",
        b"\xff\xfe" + crlf(rows(5)).replace("Utrecht", "Västerås").encode("utf-16-le"),
    )
    drop(project, "klanten_20261122.csv", crlf(rows(5)).encode("utf-16-le"))  # no BOM
    drop(project, "klanten_20261123.csv", HEADER.encode() + b"\r\n" + b"\x00" * 20_000)
    main(["run", "--no-exports"])
    log = ingest_log(project)

    entry = log["klanten_20261120.csv"]
    assert_adds_up(entry, 10)
    ((line, reason, _, _),) = rejected(project, entry["file_id"])
    assert (line, reason) == (5, "control character in field first_name")

    entry = log["klanten_20261121.csv"]
    assert_adds_up(entry, 5)
    assert entry["encoding"] == "utf-16" and entry["rows_rejected"] == 0
    con = connect(project.warehouse, read_only=True)
    cities = con.execute(
        "SELECT DISTINCT city FROM contacts WHERE file_id = ?", [entry["file_id"]]
    ).fetchall()
    con.close()
    assert cities == [("Västerås",)]

    assert log["klanten_20261122.csv"]["status"] == "failed"
    assert "UTF-16 without a byte-order mark" in log["klanten_20261122.csv"]["error"]
    assert log["klanten_20261123.csv"]["status"] == "failed"
    assert "mostly NUL bytes" in log["klanten_20261123.csv"]["error"]


def test_utf8_in_a_cp1252_source_is_read_as_utf8_and_said_so(project):
    text = crlf(
        [HEADER, "1;Zoë;de Vries;zoe@example.nl;Västerås", "2;Jan;Jansen;jan@example.nl;Utrecht"]
    )
    drop(project, "klanten_20261120.csv", text.encode("utf-8"))
    main(["run", "--no-exports"])
    entry = ingest_log(project)["klanten_20261120.csv"]
    assert_adds_up(entry, 2)
    assert entry["encoding"] == "utf-8"
    assert (
        entry["encoding_note"]
        == "declared cp1252, but the file is valid UTF-8 with multi-byte characters: read as UTF-8"
    )
    con = connect(project.warehouse, read_only=True)
    assert con.execute(
        "SELECT first_name, city FROM contacts WHERE source_record_id = '1'"
    ).fetchone() == ("Zoë", "Västerås")
    con.close()
    # ... and the UI shows it on the staged_rows materialization of the drop.
    records = (
        dg.DagsterInstance.get()
        .fetch_materializations(dg.AssetKey("staged_rows"), limit=5)
        .records
    )
    notes = [r.asset_materialization.metadata["encoding_note"].value for r in records]
    assert notes == [entry["encoding_note"]]


def test_utf8_in_a_cp1252_source_can_be_refused(project):
    set_source_option(project, "crm", utf8_in_declared_encoding="refuse")
    drop(
        project,
        "klanten_20261120.csv",
        crlf([HEADER, "1;Zoë;de Vries;zoe@example.nl;Västerås"]).encode("utf-8"),
    )
    assert main(["run", "--no-exports"]) == 1
    entry = ingest_log(project)["klanten_20261120.csv"]
    assert entry["status"] == "failed"
    assert (
        "declared cp1252, but the file is valid UTF-8" in entry["error"]
        and "encoding: utf-8" in entry["error"]
    )


def test_archives_are_streamed_checked_and_safe_names_only(project):
    good = crlf(rows(30)).encode("cp1252")
    drop(project, "klanten_20261120.zip", zip_bytes({"klanten.csv": good}))
    drop(project, "klanten_20261121.csv.gz", gzip.compress(crlf(rows(31)).encode("cp1252")))
    drop(project, "klanten_20261122.zip", zip_bytes({"../../klanten.csv": good}))
    drop(project, "klanten_20261123.zip", zip_bytes({"/etc/klanten.csv": good}))
    bomb = crlf([HEADER] + ["1;Jan;Jansen;jan@example.nl;Utrecht"] * 1_000_000).encode()  # 37 MB
    packed = zip_bytes({"klanten.csv": bomb})
    assert len(bomb) / len(packed) > 200
    drop(project, "klanten_20261124.zip", packed)
    drop(project, "klanten_20261125.csv.gz", gzip.compress(bomb, 9))
    main(["run", "--no-exports"])
    log = ingest_log(project)
    assert_adds_up(log["klanten_20261120.zip"], 30)
    assert_adds_up(log["klanten_20261121.csv.gz"], 31)
    for name in ("klanten_20261122.zip", "klanten_20261123.zip"):
        assert log[name]["status"] == "failed"
        assert "is absolute or contains '..': refused" in log[name]["error"], log[name]
    for name in ("klanten_20261124.zip", "klanten_20261125.csv.gz"):
        assert log[name]["status"] == "failed"
        assert "(max_unpack_ratio): refused as a possible zip bomb" in log[name]["error"], log[
            name
        ]


def test_the_unpacked_size_limit_is_a_source_setting(project):
    set_source_option(project, "crm", max_unpacked_bytes=1000)
    drop(project, "klanten_20261120.csv.gz", gzip.compress(crlf(rows(100)).encode("cp1252")))
    main(["run", "--no-exports"])
    entry = ingest_log(project)["klanten_20261120.csv.gz"]
    assert (
        entry["status"] == "failed"
        and "more than 1,000 bytes (max_unpacked_bytes)" in entry["error"]
    )


def test_empty_header_only_and_undecodable_files_fail_whole_with_their_line(project):
    drop(project, "klanten_20261120.csv", b"")
    drop(project, "klanten_20261121.csv", (HEADER + "\r\n").encode())
    drop(
        project,
        "klanten_20261122.csv",
        crlf(rows(3)[:2] + ["2;J\x81n;Jansen;j@example.nl;Q"]).encode("latin-1"),
    )
    main(["run", "--no-exports"])
    log = ingest_log(project)
    assert log["klanten_20261120.csv"]["error"] == "crm/klanten_20261120.csv: the file is empty"
    assert (
        log["klanten_20261121.csv"]["error"]
        == "crm/klanten_20261121.csv: the file has a header but no data rows"
    )
    assert log["klanten_20261122.csv"]["error"].startswith(
        "crm/klanten_20261122.csv, line 3: not valid cp1252 (byte 0x81 at offset"
    )
    assert {e["status"] for e in log.values()} == {"failed"}


def test_an_archive_that_is_not_one_is_a_data_fault(project):
    """A .gz that is plain text and a .gz cut short: refused with the file's name, not a bug."""
    import gzip

    drop(project, "klanten_20261120.csv.gz", crlf(rows(3)).encode())
    drop(project, "klanten_20261121.csv.gz", gzip.compress(crlf(rows(500)).encode())[:300])
    assert main(["run", "--no-exports"]) == 1
    log = ingest_log(project)
    assert log["klanten_20261120.csv.gz"]["error"].startswith(
        "crm/klanten_20261120.csv.gz: not a valid gzip file (Not a gzipped file"
    )
    assert log["klanten_20261121.csv.gz"]["error"].startswith(
        "crm/klanten_20261121.csv.gz: not a valid gzip file"
    )
    assert {e["status"] for e in log.values()} == {"failed"}


def test_data_faults_print_one_line_per_file_and_no_stack_trace(project):
    import subprocess
    import sys

    drop(project, "klanten_20261120.csv", b"")
    drop(project, "klanten_20261121.csv", (HEADER + "\r\n").encode())
    drop(project, "klanten_20261122.csv", b"Voornaam;Achternaam\r\nJan;Jansen\r\n")
    drop(
        project,
        "klanten_20261123.csv",
        crlf(rows(3)[:2] + ["2;J\x81n;Jansen;j@example.nl;Q"]).encode("latin-1"),
    )
    drop(project, "klanten_20261124.zip", zip_bytes({"../klanten.csv": crlf(rows(3)).encode()}))
    drop(project, "klanten_20261125.csv", crlf(rows(3, 301)).encode("cp1252"))
    run = subprocess.run(
        [sys.executable, "-m", "assets.cli", "run", "--no-exports"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).resolve().parents[2],
    )
    terminal = run.stdout + run.stderr
    assert run.returncode == 1, terminal
    assert "Traceback" not in terminal and 'File "' not in terminal, terminal
    lines = run.stdout.splitlines()
    expected = {
        "klanten_20261120.csv": "crm/klanten_20261120.csv: the file is empty",
        "klanten_20261121.csv": "crm/klanten_20261121.csv: the file has a header but no data rows",
        "klanten_20261122.csv": "crm/klanten_20261122.csv, line 1: missing required column(s)",
        "klanten_20261123.csv": "crm/klanten_20261123.csv, line 3: not valid cp1252",
        "klanten_20261124.zip": (
            "crm/klanten_20261124.zip: zip member name '../klanten.csv' is absolute"
        ),
    }
    for name, text in expected.items():
        mentions = [line for line in lines if name in line]
        assert len(mentions) == 1, (name, terminal)
        assert mentions[0].startswith(f"  FAILED {text}"), (mentions, terminal)
    good = [line for line in lines if "klanten_20261125.csv" in line]
    assert good == ["  crm/klanten_20261125.csv: loaded, read 3, loaded 3, rejected 0"], terminal


def test_verbose_shows_every_event_but_no_stack_trace_for_data_faults(project):
    """--verbose prints Dagster's event log; a bad file is still its one-line reason there."""
    import subprocess
    import sys

    drop(project, "klanten_20261122.csv", b"Voornaam;Achternaam\r\nJan;Jansen\r\n")
    run = subprocess.run(
        [sys.executable, "-m", "assets.cli", "run", "--no-exports", "--verbose"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).resolve().parents[2],
    )
    terminal = run.stdout + run.stderr
    assert run.returncode == 1, terminal
    assert "STEP_FAILURE" in terminal and "STEP_START" in terminal  # the verbose event log
    assert "crm/klanten_20261122.csv, line 1: missing required column(s)" in terminal
    assert "Stack Trace" not in terminal and 'File "' not in terminal, terminal


def test_a_bug_keeps_its_stack_trace_under_verbose(capfd):
    """Only data faults lose the trace: any other error keeps it for whoever fixes the bug.
    Two real Dagster runs with crmclean's console logger, one failing on a bad file, one on a
    bug."""
    import dagster as dg

    from assets.console import console
    from pipelines.ingest.errors import FileRejected

    @dg.asset
    def bad_file():
        raise FileRejected("crm/x.csv", "missing required column(s): KlantID", line=1)

    @dg.asset
    def buggy():
        return {}["no such key"]

    verbose = {"loggers": {"console": {"config": {"log_level": "DEBUG"}}}}
    for asset in (bad_file, buggy):
        job = dg.Definitions(
            assets=[asset], loggers={"console": console}
        ).resolve_implicit_global_asset_job_def()
        assert not job.execute_in_process(run_config=verbose, raise_on_error=False).success
        err = capfd.readouterr().err
        if asset is bad_file:
            assert "crm/x.csv, line 1: missing required column(s): KlantID" in err, err
            assert "Stack Trace" not in err and 'File "' not in err, err
        else:
            assert "KeyError" in err and "Stack Trace" in err and 'File "' in err, err
