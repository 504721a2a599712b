"""Parsing: every record is staged or rejected with its physical line, raw text and reason."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pytest

from pipelines.config import Source
from pipelines.ingest.decode import decode_to_utf8
from pipelines.ingest.errors import FileRejected
from pipelines.ingest.stage import stage_file
from pipelines.warehouse import connect

SOURCE = Source(
    columns={"source_record_id": "KlantID", "first_name": "Voornaam", "city": "Plaats"},
    delimiter="auto",
)


def stage(tmp_path: Path, name: str, data: bytes, source: Source = SOURCE, file_id: str = "f1"):
    raw = tmp_path / name
    raw.write_bytes(data)
    con = connect(tmp_path / "w.duckdb")
    decoded = decode_to_utf8(
        raw,
        tmp_path / "utf8.csv",
        encoding=source.encoding,
        delimiter=source.delimiter,
        display_name=name,
    )
    result = stage_file(
        con, file_id=file_id, source_name="crm", source=source, decoded=decoded, file_name=name
    )
    return con, decoded, result


TRICKY = (
    "KlantID;Voornaam;Plaats;Extra\r\n"
    "1;Jan;Amsterdam;a\r\n"
    '2;"multi\r\nline";Utrecht;b\r\n'
    "3;bad;row;extra;x\r\n"
    "4;Piet;Den Haag;c\r\n"
    "5;short\r\n"
    '6;"x""y";Zwolle;d\r\n'
    ";noid;Q;e\r\n"
    "8;ctl\x01x;Q;f\r\n"
    '9;"a\nb\nc";Q;g\r\n'
    "10;bad2\r\n"
    "11;last;Q;h\r\n"
)


def test_every_record_is_staged_or_rejected_with_its_physical_line(tmp_path):
    con, _, result = stage(tmp_path, "klanten.csv", TRICKY.encode("cp1252"))
    assert result.rows_read == 11
    assert result.rows_read == result.rows_loaded + result.rows_rejected
    staged = con.execute(
        "SELECT line_number, source_record_id FROM staged_rows ORDER BY line_number"
    ).fetchall()
    assert staged == [(2, "1"), (3, "2"), (6, "4"), (8, "6"), (11, "9"), (15, "11")]
    rejected = dict(con.execute("SELECT line_number, reason FROM rejected_rows").fetchall())
    assert sorted(rejected) == [5, 7, 9, 10, 14]
    assert rejected[5].startswith("wrong number of fields")
    assert rejected[9] == "required field source_record_id is empty"
    assert rejected[10] == "control character in field first_name"
    raw = dict(con.execute("SELECT line_number, raw_line FROM rejected_rows").fetchall())
    assert raw[5] == "3;bad;row;extra;x"
    assert result.columns_extra == ["Extra"]
    assert (
        con.execute("SELECT first_name FROM staged_rows WHERE source_record_id = '6'").fetchone()[
            0
        ]
        == 'x"y'
    )


def test_counts_add_up_with_three_bad_rows_among_a_thousand(tmp_path):
    lines = ["KlantID;Voornaam;Plaats"] + [f"{i};Naam{i};Stad" for i in range(1, 1001)]
    lines[100] = "100;te;veel;velden"
    lines[500] = "500;" + "x" * 600 + ";Stad"
    lines[900] = "900"
    _, _, result = stage(tmp_path, "k.csv", ("\r\n".join(lines) + "\r\n").encode())
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (1000, 997, 3)


def test_header_matches_ignoring_case_and_spaces(tmp_path):
    con, _, result = stage(tmp_path, "k.csv", b"  klantid ; VOORNAAM ;plaats\n1;Jan;Ede\n")
    assert result.rows_loaded == 1
    assert con.execute("SELECT first_name, city FROM staged_rows").fetchone() == ("Jan", "Ede")


def test_missing_required_column_fails_the_file_naming_it(tmp_path):
    with pytest.raises(FileRejected) as err:
        stage(tmp_path, "klanten_20261123.csv", b"Voornaam;Plaats\nJan;Ede\n")
    assert "klanten_20261123.csv, line 1" in str(err.value)
    assert "missing required column(s): KlantID (source_record_id)" in str(err.value)
    assert "header is: Voornaam, Plaats" in str(err.value)


def test_a_file_without_header_row_is_named_but_its_first_record_is_not_quoted(tmp_path):
    with pytest.raises(FileRejected) as err:
        stage(tmp_path, "klanten.csv", b"1001;Jan;Kwakernaak\n1002;Els;Ede\n")
    assert "is the header row missing?" in str(err.value)
    assert "Kwakernaak" not in str(err.value) and "1001" not in str(err.value)


def test_missing_optional_column_is_schema_drift(tmp_path):
    _, _, result = stage(tmp_path, "k.csv", b"KlantID;Voornaam;Nieuw\n1;Jan;x\n")
    assert result.columns_missing == ["Plaats"]
    assert result.columns_extra == ["Nieuw"]


@pytest.mark.parametrize("encoding", ["cp1252", "utf-8-sig", "utf-8"])
def test_dutch_and_swedish_names_come_out_exact(tmp_path, encoding):
    text = "KlantID;Voornaam;Plaats\r\n1;Åsa Öberg-Ëlsing;Västerås\r\n2;Françoise;Liège\r\n"
    con, decoded, _ = stage(tmp_path, "k.csv", text.encode(encoding))
    assert decoded.encoding == encoding
    assert con.execute(
        "SELECT first_name, city FROM staged_rows ORDER BY line_number"
    ).fetchall() == [
        ("Åsa Öberg-Ëlsing", "Västerås"),
        ("Françoise", "Liège"),
    ]


def test_gz_and_zip_drops(tmp_path):
    data = "KlantID;Voornaam;Plaats\n1;Jan;Ede\n2;Kees;Epe\n".encode("cp1252")
    _, _, r1 = stage(tmp_path, "k.csv.gz", gzip.compress(data))
    assert r1.rows_loaded == 2
    z = tmp_path / "z"
    z.mkdir()
    with zipfile.ZipFile(z / "k.zip", "w") as zf:
        zf.writestr("export/klanten.csv", data)
    _, _, r2 = stage(z, "k.zip", (z / "k.zip").read_bytes(), file_id="f2")
    assert r2.rows_loaded == 2


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "the file is empty"),
        (b"KlantID;Voornaam;Plaats\r\n", "header but no data rows"),
        (
            "KlantID;Voornaam;Plaats\r\n1;Jan;Q\r\n".encode("utf-16-le"),
            "UTF-16 without a byte-order mark",
        ),
        (b"KlantID;Voornaam" + b"\x00" * 5000, "mostly NUL bytes"),
    ],
)
def test_unloadable_files_are_rejected_whole(tmp_path, data, message):
    with pytest.raises(FileRejected, match=message):
        stage(tmp_path, "k.csv", data)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path, delimiter):
    text = (
        delimiter.join(["KlantID", "Voornaam", "Plaats"])
        + "\n"
        + delimiter.join(["1", "Jan", "Ede"])
        + "\n"
    )
    _, decoded, result = stage(tmp_path, "k.csv", text.encode())
    assert decoded.delimiter == delimiter
    assert result.rows_loaded == 1
