"""`file_not_empty` and `required_columns_present` read a drop as ingest does: the same encoding,
the same zip member, the same limits. A required header with an `ß` in it makes the encoding
visible: read with the wrong one, the column is missing."""

from __future__ import annotations

import gzip

import pytest

from pipelines.config import Source
from pipelines.quality import checks
from tests.archives import zip_bytes
from tests.quality.drops import CRM_HEADER, crm_rows, ingest_file

HEADER = ["Straße" if h == "Straat" else h for h in CRM_HEADER]


def crm_text(n: int = 5) -> str:
    lines = [";".join(HEADER)] + [";".join(r[h] for h in CRM_HEADER) for r in crm_rows(n)]
    return "\r\n".join(lines) + "\r\n"


def with_crm(config, **settings):
    """The config with a CRM source whose required street column is `Straße`."""
    crm = config.sources["crm"].model_dump()
    crm["columns"]["street"] = "Straße"
    crm["required"] = ["source_record_id", "street"]
    source = Source.model_validate({**crm, **settings})
    return config.model_copy(update={"sources": {**config.sources, "crm": source}})


def run(con, config, tmp_path, name: str, data: bytes) -> tuple[dict, dict]:
    """Drop `data` as `name`; (its ingest_log row, its recorded check results)."""
    path = tmp_path / "inbox" / "crm" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    file_id = ingest_file(con, config, "crm", path, tmp_path / "landing")
    status, encoding, error = con.execute(
        "SELECT status, encoding, error FROM ingest_log WHERE file_id = ?", [file_id]
    ).fetchone()
    log = {"status": status, "encoding": encoding, "error": error}
    return log, checks.recorded(con, file_id)


CP1252 = crm_text().encode("cp1252")


@pytest.mark.parametrize(
    ("name", "data", "encoding", "read_as"),
    [
        ("klanten_1.csv", CP1252, "auto", "cp1252"),
        ("klanten_1.csv", crm_text().encode("utf-8"), "cp1252", "utf-8"),
        ("klanten_1.csv", b"\xff\xfe" + crm_text().encode("utf-16-le"), "auto", "utf-16"),
        ("klanten_1.csv", b"\xfe\xff" + crm_text().encode("utf-16-be"), "cp1252", "utf-16"),
        ("klanten_1.csv.gz", gzip.compress(CP1252), "auto", "cp1252"),
        (
            "klanten_1.zip",
            zip_bytes({"k.csv": crm_text().encode("utf-8-sig")}),
            "cp1252",
            "utf-8-sig",
        ),
    ],
    ids=["cp1252-auto", "utf8-in-cp1252", "utf16le-bom", "utf16be-bom", "gz", "zip"],
)
def test_a_drop_ingest_loads_passes_the_landed_file_checks(
    con, config, tmp_path, name, data, encoding, read_as
):
    log, results = run(con, with_crm(config, encoding=encoding), tmp_path, name, data)
    assert (log["status"], log["encoding"]) == ("loaded", read_as)
    assert results["file_not_empty"].passed
    assert results["file_not_empty"].detail == "the file has data rows"
    assert results["required_columns_present"].passed
    assert (
        results["required_columns_present"].detail == "required columns present: KlantID, Straße"
    )


def test_a_drop_whose_first_mib_is_utf8_but_not_the_rest_is_cp1252_for_both(con, config, tmp_path):
    """The whole file decides the encoding: ingest reads this header as `StraÃŸe`, and so does
    the check, which reports the missing column with ingest's own words."""
    text = crm_text(10_000)
    assert len(text.encode("utf-8")) > 1 << 20
    data = text.encode("utf-8") + "K999999;Zoë\r\n".encode("cp1252")
    log, results = run(con, with_crm(config, encoding="auto"), tmp_path, "klanten_1.csv", data)
    assert (log["status"], log["encoding"]) == ("failed", None)
    assert "missing required column(s): Straße (street)" in log["error"]
    assert not results["required_columns_present"].passed
    assert results["required_columns_present"].detail == log["error"]
    assert results["file_not_empty"].passed


@pytest.mark.parametrize(
    ("name", "data", "settings", "reason"),
    [
        (
            "klanten_1.zip",
            zip_bytes({"a.csv": CP1252, "b.csv": CP1252}),
            {},
            "a zip drop must hold exactly one data file, found 2",
        ),
        (
            "klanten_1.zip",
            zip_bytes({"../klanten.csv": CP1252}),
            {},
            "zip member name '../klanten.csv' is absolute or contains '..': refused",
        ),
        (
            "klanten_1.csv.gz",
            gzip.compress(crm_text(50).encode("cp1252")),
            {"max_unpacked_bytes": 1000},
            "the archive unpacks to more than 1,000 bytes (max_unpacked_bytes): refused",
        ),
        (
            "klanten_1.csv",
            crm_text().encode("utf-8"),
            {"encoding": "cp1252", "utf8_in_declared_encoding": "refuse"},
            "declared cp1252, but the file is valid UTF-8",
        ),
        (
            "klanten_1.csv",
            CP1252.replace(b"@example", b"@ex\x81mple", 1),
            {"encoding": "cp1252"},
            "not valid cp1252 (byte 0x81 at offset",
        ),
    ],
    ids=["two-members", "dot-dot-member", "unpacked-size", "utf8-refused", "undecodable"],
)
def test_a_drop_ingest_refuses_is_not_inspected_for_the_same_reason(
    con, config, tmp_path, name, data, settings, reason
):
    """Not the check's business (file_loads reports it), but never a pass where ingest refuses:
    the check says it did not inspect the file, and why, in ingest's words."""
    log, results = run(con, with_crm(config, **settings), tmp_path, name, data)
    assert log["status"] == "failed" and reason in log["error"]
    for check in ("file_not_empty", "required_columns_present"):
        assert results[check].passed
        assert results[check].detail == f"not inspected: {log['error']}"
    assert not results["file_loads"].passed
    assert results["file_loads"].detail == log["error"]
