"""Rewriting files without one person's records: exact bytes for everyone else, any phone format."""

from __future__ import annotations

import gzip
import io
import zipfile

from pipelines.privacy.person import Person
from pipelines.privacy.scrub import FileContext, Matcher, holds_values, scrub_bytes

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
