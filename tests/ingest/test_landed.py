"""The one reader of landed files: the same bytes and the same encoding whether a drop is plain,
gzipped or zipped, read from disk (ingest, the checks) or from memory (the privacy scrub)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from pipelines.ingest.decode import decode_to_utf8
from pipelines.ingest.errors import FileRejected
from pipelines.ingest.landed import (
    ReadLimits,
    choose_encoding,
    decode_head,
    encoding_of,
    open_landed,
)
from tests.archives import zip_bytes

TEXT = "KlantID;Voornaam;Straße\r\n1;Zoë;Västerås\r\n2;Jan;Utrecht\r\n"
UTF8_IN_CP1252 = (
    "declared cp1252, but the file is valid UTF-8 with multi-byte characters: read as UTF-8"
)
UTF16_IN_CP1252 = (
    "declared cp1252, but the file starts with a UTF-16 byte-order mark: read as UTF-16"
)


def land(tmp_path: Path, name: str, content: bytes) -> Path:
    """A landed file holding `content`: as it is, gzipped or as the one member of a zip."""
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(content))
    elif name.endswith(".zip"):
        path.write_bytes(zip_bytes({"klanten.csv": content}))
    else:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize("name", ["klanten.csv", "klanten.csv.gz", "klanten.zip"])
@pytest.mark.parametrize(
    ("content", "declared", "read_as", "note"),
    [
        (TEXT.encode("cp1252"), "auto", "cp1252", None),
        (TEXT.encode("utf-8"), "auto", "utf-8", None),
        (TEXT.encode("utf-8-sig"), "auto", "utf-8-sig", None),
        (TEXT.encode("cp1252"), "cp1252", "cp1252", None),
        (TEXT.encode("utf-8"), "cp1252", "utf-8", UTF8_IN_CP1252),
        (b"\xff\xfe" + TEXT.encode("utf-16-le"), "auto", "utf-16", None),
        (b"\xfe\xff" + TEXT.encode("utf-16-be"), "cp1252", "utf-16", UTF16_IN_CP1252),
    ],
    ids=[
        "cp1252-auto",
        "utf8-auto",
        "utf8-bom-auto",
        "cp1252",
        "utf8-in-cp1252",
        "utf16le",
        "utf16be",
    ],
)
def test_on_disk_in_memory_and_in_ingest_a_drop_reads_the_same(
    tmp_path, name, content, declared, read_as, note
):
    path = land(tmp_path, name, content)
    limits = ReadLimits()
    with open_landed(path, "crm/" + name, limits) as fh:
        assert fh.read() == content
    chosen = choose_encoding(path, declared, "crm/" + name, limits)
    assert (chosen.name, chosen.note) == (read_as, note)
    assert encoding_of(content, declared, name, limits) == chosen  # what the scrub decides
    decoded = decode_to_utf8(
        path, tmp_path / "utf8.csv", encoding=declared, delimiter=";", display_name=name
    )
    assert (decoded.encoding, decoded.encoding_note) == (chosen.name, chosen.note)
    assert decode_head(content, chosen) == TEXT  # the byte-order mark dropped
    # ... and kept where a file is written back: the very same bytes
    assert content.decode(chosen.exact_codec).encode(chosen.exact_codec) == content


def test_the_whole_file_decides_not_its_head(tmp_path):
    """One cp1252 byte after the first MiB makes an `auto` file cp1252, header included."""
    utf8 = ("KlantID;Straße\r\n" + "1;Hoofdstraat\r\n" * 80_000).encode("utf-8")
    content = utf8 + "2;Café\r\n".encode("cp1252")
    path = land(tmp_path, "klanten.csv", content)
    assert len(content) > 1 << 20
    chosen = choose_encoding(path, "auto", "crm/klanten.csv", ReadLimits())
    assert chosen.name == "cp1252"
    assert decode_head(content[:100], chosen).startswith("KlantID;StraÃŸe")


def test_a_character_cut_off_at_the_end_of_a_head_is_left_out():
    chosen = encoding_of("Zoë".encode(), "auto", "x.csv")
    assert decode_head("Zoë".encode()[:-1], chosen) == "Zo"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        (
            "klanten.zip",
            zip_bytes({"a.csv": b"KlantID\r\n1\r\n", "b.csv": b"KlantID\r\n2\r\n"}),
            "a zip drop must hold exactly one data file, found 2",
        ),
        (
            "klanten.zip",
            zip_bytes({"../klanten.csv": b"KlantID\r\n1\r\n"}),
            "zip member name '../klanten.csv' is absolute or contains '..': refused",
        ),
        ("klanten.zip", b"PK\x03\x04 not really", "not a valid zip file (File is not a zip file)"),
        (
            "klanten.csv.gz",
            gzip.compress(b"KlantID\r\n" + b"1\r\n" * 1000),
            "the archive unpacks to more than 1,000 bytes (max_unpacked_bytes): refused",
        ),
        ("klanten.csv", b" \r\n\r\n", "the file is empty"),
        (
            "klanten.csv",
            "KlantID\r\n1\r\n".encode("utf-16-le"),
            "NUL bytes in every other position: this looks like UTF-16 without a byte-order "
            "mark; save it as UTF-8",
        ),
    ],
    ids=["two-members", "dot-dot", "broken-zip", "unpacked-size", "empty", "utf16-no-bom"],
)
def test_a_refused_drop_is_refused_by_the_decision_and_by_ingest_alike(
    tmp_path, name, data, reason
):
    path = tmp_path / name
    path.write_bytes(data)
    limits = ReadLimits(max_unpacked_bytes=1000)
    with pytest.raises(FileRejected) as decided:
        choose_encoding(path, "auto", "crm/" + name, limits)
    with pytest.raises(FileRejected) as ingested:
        decode_to_utf8(
            path,
            tmp_path / "utf8.csv",
            encoding="auto",
            delimiter=";",
            display_name="crm/" + name,
            limits=limits,
        )
    assert decided.value.reason == reason
    assert str(decided.value) == str(ingested.value)


def test_utf8_in_a_declared_single_byte_encoding_can_be_refused(tmp_path):
    path = land(tmp_path, "klanten.csv", TEXT.encode("utf-8"))
    limits = ReadLimits(utf8_in_declared_encoding="refuse")
    with pytest.raises(FileRejected, match="set `encoding: utf-8` for this source"):
        choose_encoding(path, "cp1252", "crm/klanten.csv", limits)
    with pytest.raises(FileRejected, match="set `encoding: utf-8` for this source"):
        encoding_of(TEXT.encode("utf-8"), "cp1252", "klanten.csv", limits)
