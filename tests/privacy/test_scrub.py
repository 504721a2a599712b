"""Rewriting files without one person's records: exact bytes for everyone else, any phone format,
the encoding ingest reads the file with."""

from __future__ import annotations

import gzip
import io
import zipfile

import pytest

from pipelines.config import Source
from pipelines.ingest.decode import decode_to_utf8
from pipelines.privacy.person import Person
from pipelines.privacy.scrub import FileContext, Matcher, holds_values, scrub_bytes, scrub_tree

PERSON = Person(
    customer_ids={"C-000042"},
    records={("crm", "100042")},
    emails={"jan.kwak@example.nl"},
    phones={"+31612345678"},
    email_texts={"jan.kwak@example.nl"},
    phone_texts={"06-12345678"},
)
M = Matcher.of(PERSON)
CRM = FileContext(source="crm", id_header="KlantID", delimiter=";", encoding="cp1252")


def test_records_go_by_any_value_and_every_other_byte_stays():
    text = (
        "KlantID;Naam;Email;Telefoon;Notitie\r\n"
        '100001;Åsa;asa@example.se;+46 70 123 45 67;"two\r\nlines"\r\n'
        "100042;Jan;;;by record id\r\n"
        "100043;Jan K;;+31 (0)6-1234 5678;phone written another way\r\n"
        "100044;Other;;0612345678999;a longer number that contains the digits\r\n"
        '100045;Kwak;"JAN.KWAK@EXAMPLE.NL";;email in capitals\r\n'
        "100046;Ref;;;customer C-000042 in a note\r\n"
        "100047;Ids;C-000042;;customer id as a field\r\n"
        '100048;Müller;m@example.de;020-1234567;"quoted; with delimiter"\r\n'
        "1004;Short;;;a short id is not this person\r\n"
    )
    new, removed, kept = scrub_bytes("klanten.csv", text.encode("cp1252"), M, CRM)
    assert removed == 4 and kept == 5
    assert new.decode("cp1252") == (
        "KlantID;Naam;Email;Telefoon;Notitie\r\n"
        '100001;Åsa;asa@example.se;+46 70 123 45 67;"two\r\nlines"\r\n'
        "100044;Other;;0612345678999;a longer number that contains the digits\r\n"
        "100046;Ref;;;customer C-000042 in a note\r\n"
        '100048;Müller;m@example.de;020-1234567;"quoted; with delimiter"\r\n'
        "1004;Short;;;a short id is not this person\r\n"
    )


def test_nothing_to_remove_returns_none_and_compressed_files_are_rewritten_inside():
    other = "KlantID;Email\r\n1;a@b.nl\r\n".encode("cp1252")
    assert scrub_bytes("klanten.csv", other, M, CRM)[0] is None
    inner = "\ufeffid,email\n1,a@b.nl\n2,jan.kwak@example.nl\n".encode("utf-8")
    new, removed, _ = scrub_bytes("x.csv.gz", gzip.compress(inner), M, FileContext())
    assert removed == 1 and gzip.decompress(new) == "\ufeffid,email\n1,a@b.nl\n".encode("utf-8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.csv", inner)
        zf.writestr("readme.txt", b"nothing personal")
    new, removed, _ = scrub_bytes("x.zip", buf.getvalue(), M, FileContext())
    with zipfile.ZipFile(io.BytesIO(new)) as zf:
        assert zf.read("a.csv") == "\ufeffid,email\n1,a@b.nl\n".encode("utf-8")
        assert zf.read("readme.txt") == b"nothing personal"
        assert zf.getinfo("a.csv").compress_type == zipfile.ZIP_DEFLATED
    assert holds_values("x.zip", buf.getvalue(), M) and not holds_values("x.zip", new, M)


# A landed drop is read as ingest reads it (pipelines/ingest/landed.py) and written back in the
# same encoding, byte-order mark and all. The person's address has an `ë`: read with the wrong
# encoding, it would not be found.
ZOE = Matcher.of(Person(emails={"zoë.kwak@example.nl"}, email_texts={"zoë.kwak@example.nl"}))
DROP = (
    "KlantID;Naam;Email;Plaats\r\n"
    "1;Åsa;asa@example.se;Västerås\r\n"
    "2;Zoë;zoë.kwak@example.nl;Utrecht\r\n"
    '3;"Jan ""JJ""";jan@example.nl;"Den; Haag"\r\n'
)
SCRUBBED = DROP.replace("2;Zoë;zoë.kwak@example.nl;Utrecht\r\n", "")


def utf16(text: str, order: str = "le") -> bytes:
    bom = b"\xff\xfe" if order == "le" else b"\xfe\xff"
    return bom + text.encode(f"utf-16-{order}")


def pack(name: str, content: bytes) -> bytes:
    if name.endswith(".gz"):
        return gzip.compress(content, mtime=0)
    if name.endswith(".zip"):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("klanten.csv", content)
        return buf.getvalue()
    return content


def unpack(name: str, data: bytes) -> bytes:
    if name.endswith(".gz"):
        return gzip.decompress(data)
    if name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return zf.read("klanten.csv")
    return data


@pytest.mark.parametrize(
    ("name", "encoding", "encode"),
    [
        ("klanten_1.csv", "auto", lambda t: t.encode("cp1252")),
        ("klanten_1.csv", "cp1252", lambda t: t.encode("utf-8")),  # read as UTF-8, like ingest
        ("klanten_1.csv", "auto", utf16),
        ("klanten_1.csv", "cp1252", lambda t: utf16(t, "be")),
        ("klanten_1.csv.gz", "auto", utf16),
        ("klanten_1.zip", "cp1252", lambda t: t.encode("utf-8-sig")),
    ],
    ids=["cp1252-auto", "utf8-in-cp1252", "utf16le-bom", "utf16be-bom", "gz", "zip"],
)
def test_a_landed_drop_is_scrubbed_in_the_encoding_ingest_reads_it_with(
    tmp_path, name, encoding, encode
):
    data_dir = tmp_path / "data"
    path = data_dir / "landing" / "crm" / name
    path.parent.mkdir(parents=True)
    path.write_bytes(pack(name, encode(DROP)))
    source = Source(
        columns={"source_record_id": "KlantID", "email": "Email"},
        encoding=encoding,
        delimiter=";",
    )
    ingested = decode_to_utf8(
        path, tmp_path / "before.csv", encoding=encoding, delimiter=";", display_name=name
    )
    assert holds_values(name, path.read_bytes(), ZOE)

    report = scrub_tree(data_dir, ZOE, sources={"crm": source}, exclude=set())

    assert report.files_rewritten == [f"landing/crm/{name}"] and report.rows_removed == 1
    assert report.residue == []
    assert unpack(name, path.read_bytes()) == encode(SCRUBBED)  # every other byte as it was
    again = decode_to_utf8(
        path, tmp_path / "after.csv", encoding=encoding, delimiter=";", display_name=name
    )
    assert (again.encoding, again.records) == (ingested.encoding, ingested.records - 1)


def test_a_drop_ingest_refuses_to_read_is_still_scrubbed_byte_for_byte():
    """0x81 is no cp1252 character: ingest refuses the file, erasure still removes the person."""
    data = DROP.encode("cp1252").replace(b"asa@", b"a\x81a@")
    new, removed, kept = scrub_bytes("klanten_1.csv", data, ZOE, FileContext(encoding="cp1252"))
    assert (removed, kept) == (1, 2)
    assert new == SCRUBBED.encode("cp1252").replace(b"asa@", b"a\x81a@")
