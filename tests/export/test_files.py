"""Segment files: formula injection neutralised, typed values intact, encodings, names,
manifests."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, datetime

import pytest

from pipelines.config import ExportFormat, ExportsConfig, Segment
from pipelines.export.files import neutralise, write_manifest, zip_files
from pipelines.export.run import export_segment
from pipelines.file_names import render_file_name
from tests.segments.people import customer, warehouse

NOW = datetime(2026, 11, 24, 6, 0)


def export(tmp_path, people, segment: Segment, name: str = "seg"):
    con = warehouse(tmp_path / "w.duckdb", people)
    cfg = ExportsConfig(segments={name: segment})
    result = export_segment(con, name, segment, cfg, outbox=tmp_path / "outbox", now=NOW)
    return con, result, tmp_path / "outbox" / name


@pytest.mark.parametrize(
    "value, expected",
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("+31612345678", "+31612345678"),
        ("-12.5", "-12.5"),
        ("Jan-Willem", "Jan-Willem"),
    ],
)
def test_neutralise(value, expected):
    assert neutralise(value) == expected


def test_free_text_neutralised_typed_values_written_as_they_are(tmp_path):
    people = [
        customer(
            "c1",
            first_name='=HYPERLINK("http://evil","klik")',
            last_name="@SUM(A1)",
            city="-2+3+cmd|' /C calc'!A0",
            phone="+31612345678",
            birth_date=date(1980, 5, 7),
            street="\tHoofdstraat",
        ),
        customer(
            "c2",
            first_name="Zoë",
            last_name="van 't Hoff",
            city="'s-Hertogenbosch",
            phone="+46701234567",
        ),
    ]
    segment = Segment(
        filter="true",
        columns=[
            "customer_id",
            "first_name",
            "last_name",
            "city",
            "street",
            "phone",
            "birth_date",
            "last_purchase_at",
        ],
        format=ExportFormat(
            delimiter=";",
            date_format="%d-%m-%Y",
            datetime_format="%Y-%m-%dT%H:%M",
            header={"phone": "Telefoon"},
        ),
    )
    _, result, folder = export(tmp_path, people, segment)
    text = (folder / "seg_20261124.csv").read_bytes().decode("utf-8")
    assert "\r\n" in text
    rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))
    assert rows[0] == {
        "customer_id": "c1",
        "first_name": '\'=HYPERLINK("http://evil","klik")',
        "last_name": "'@SUM(A1)",
        "city": "'-2+3+cmd|' /C calc'!A0",
        "street": "'\tHoofdstraat",
        "Telefoon": "+31612345678",
        "birth_date": "07-05-1980",
        "last_purchase_at": "2026-01-10T12:00",
    }
    assert (
        rows[1]["first_name"] == "Zoë"
        and rows[1]["city"] == "'s-Hertogenbosch"
        and rows[1]["Telefoon"] == "+46701234567"
    )
    assert result.rows == 2


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_encodings(tmp_path, encoding):
    people = [
        customer(
            "c1", first_name="Zoë", last_name="Ĳsselstein", city="Västerås € café", street="Łódź"
        )
    ]
    columns = ["customer_id", "first_name", "last_name", "city", "street"]
    segment = Segment(filter="true", columns=columns, format=ExportFormat(encoding=encoding))
    _, result, folder = export(tmp_path, people, segment)
    data = (folder / "seg_20261124.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    row = list(csv.reader(io.StringIO(data.decode(encoding), newline="")))[1]
    if encoding == "cp1252":
        assert row == [
            "c1",
            "Zoë",
            "IJsselstein",
            "Västerås € café",
            "?ódz",
        ]  # no cp1252 form: Ĳ, Ł, ź
        assert result.replaced_characters == 3
    else:
        assert row == ["c1", "Zoë", "Ĳsselstein", "Västerås € café", "Łódź"]
        assert result.replaced_characters == 0


def test_by_country_writes_one_file_per_country(tmp_path):
    people = [
        customer("n1"),
        customer("n2"),
        customer("b1", country="BE"),
        customer("s1", country="SE"),
        customer("x1", country=None),
    ]
    segment = Segment(
        filter="true",
        columns=["customer_id", "country"],
        split_by="country",
        file_name="customers_{part}_{date:%Y%m%d}.csv",
    )
    con, result, folder = export(tmp_path, people, segment)
    files = {
        p.name: [r["customer_id"] for r in csv.DictReader(p.open(newline=""))]
        for p in folder.glob("*.csv")
    }
    assert files == {
        "customers_BE_20261124.csv": ["b1"],
        "customers_NL_20261124.csv": ["n1", "n2"],
        "customers_SE_20261124.csv": ["s1"],
        "customers_unknown_20261124.csv": ["x1"],
    }
    logged = con.execute(
        "SELECT file_name, rows, segment_rows, status FROM export_log ORDER BY file_name"
    ).fetchall()
    assert [(f, r, s, st) for f, r, s, st in logged] == [
        ("customers_BE_20261124.csv", 1, 5, "ok"),
        ("customers_NL_20261124.csv", 2, 5, "ok"),
        ("customers_SE_20261124.csv", 1, 5, "ok"),
        ("customers_unknown_20261124.csv", 1, 5, "ok"),
    ]


def test_file_name_templates():
    assert (
        render_file_name("newsletter_{date:%Y%m%d}.csv", segment="newsletter", now=NOW)
        == "newsletter_20261124.csv"
    )
    assert (
        render_file_name("{segment}_{date:%Y%m%d_%H%M}.csv", segment="x", now=NOW)
        == "x_20261124_0600.csv"
    )
    assert render_file_name("{segment}.csv", segment="x", now=NOW, part="NL") == "x_NL.csv"
    assert (
        render_file_name("{segment}_{part}.csv", segment="x", now=NOW, part="Côte d'Ivoire")
        == "x_C_te_d_Ivoire.csv"
    )
    with pytest.raises(ValueError, match="fields are segment, date, part, mode"):
        render_file_name("{segmnt}.csv", segment="x", now=NOW)
    with pytest.raises(ValueError, match="not a plain file name"):
        render_file_name("../{segment}.csv", segment="x", now=NOW)


def test_manifest_and_zip(tmp_path):
    people = [customer(f"c{i}") for i in range(3)]
    segment = Segment(filter="true", columns=["customer_id", "email"], manifest="json")
    _, result, folder = export(tmp_path, people, segment)
    csv_file = folder / "seg_20261124.csv"
    manifest = json.loads((folder / "seg_20261124.csv.json").read_text())
    import hashlib

    assert manifest["rows"] == 3
    assert manifest["sha256"] == hashlib.sha256(csv_file.read_bytes()).hexdigest()
    assert manifest["file"] == csv_file.name
    from pipelines.export.files import WrittenFile

    written = WrittenFile(
        path=csv_file,
        part="",
        rows=3,
        sha256=manifest["sha256"],
        size_bytes=csv_file.stat().st_size,
    )
    done = write_manifest(written, "done", segment="seg", mode="full", created_at=NOW)
    assert (
        f"rows=3\nsize_bytes={csv_file.stat().st_size}\nsha256={manifest['sha256']}\n"
        in done.read_text()
    )
    archive = zip_files([csv_file], tmp_path / "seg.zip")
    with zipfile.ZipFile(archive) as zf:
        assert zf.read(csv_file.name) == csv_file.read_bytes()


def test_files_are_owner_only_and_no_staging_is_left(tmp_path):
    _, _, folder = export(
        tmp_path, [customer("c1")], Segment(filter="true", columns=["customer_id"])
    )
    assert (folder / "seg_20261124.csv").stat().st_mode & 0o077 == 0
    assert not list((tmp_path / "outbox" / ".staging").rglob("*.csv"))
