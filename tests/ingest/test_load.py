"""Loading a staged drop: a bad date is a field-level fault (flagged, counted), counts still add
up."""

from __future__ import annotations

from pathlib import Path

from pipelines.config import Source
from pipelines.ingest.land import land
from pipelines.ingest.load import stage_drop
from pipelines.kinds.contacts import load_contacts
from pipelines.transport.local import LocalTransport
from pipelines.warehouse import connect

DROP = (
    "KlantID;Voornaam;Email;Geboortedatum\r\n"
    "1;Jan;jan@example.nl;23-06-1985\r\n"
    "2;Piet;piet@example.nl;31-13-1985\r\n"  # month 13: nobody can read it
    "3;Anna;anna@example.nl;\r\n"  # missing is fine
    "4;Els;els@example.nl;gisteren\r\n"  # not a date at all
    "5;Kees;kees@example.nl;2090-01-01\r\n"  # readable, in the future: flagged, loaded
    "6;Mies;mies@example.nl;00-00-0000\r\n"  # a CRM's placeholder for "unknown"
    "7;Joop;joop@example.nl;01-01-1900\r\n"  # another one
)


def load(tmp_path: Path, **options):
    source = Source(
        columns={
            "source_record_id": "KlantID",
            "first_name": "Voornaam",
            "email": "Email",
            "birth_date": "Geboortedatum",
        },
        date_format="%d-%m-%Y",
        encoding="cp1252",
        **options,
    )
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "klanten.csv").write_bytes(DROP.encode("cp1252"))
    con = connect(tmp_path / "w.duckdb")
    remote = LocalTransport(inbox).list(["*.csv"])[0]
    landed = land(
        con,
        LocalTransport(inbox),
        landing_root=tmp_path / "landing",
        source="crm",
        remote=remote,
        partition_key="crm/klanten.csv@20261123T050000",
    )
    stage_drop(
        con, file_id=landed.file_id, source_name="crm", source=source, tmp_root=tmp_path / "tmp"
    )
    load_contacts(
        con, file_id=landed.file_id, source_name="crm", source=source, default_country="NL"
    )
    return con, landed.file_id


def test_by_default_nobody_is_dropped_for_a_date_and_the_fault_counts_in_validity(tmp_path):
    con, file_id = load(tmp_path)
    assert con.execute(
        "SELECT rows_read, rows_loaded, rows_rejected FROM ingest_log WHERE file_id = ?", [file_id]
    ).fetchone() == (7, 7, 0)
    assert con.execute("SELECT count(*) FROM rejected_rows").fetchone()[0] == 0
    contacts = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT source_record_id, birth_date, birth_date_status, birth_date_reason, "
            "birth_date_raw FROM contacts"
        ).fetchall()
    }
    assert contacts["2"] == (None, "invalid", "not_a_date", "31-13-1985")
    assert contacts["4"] == (None, "invalid", "wrong_format", "gisteren")
    assert contacts["5"][1:3] == ("invalid", "future_date")
    assert contacts["6"] == (None, "missing", None, "00-00-0000") and contacts["7"] == (
        None,
        "missing",
        None,
        "01-01-1900",
    )
    # Validity of the field: valid among the present values (1 of the 4 rows that carry a date).
    validity = con.execute(
        "SELECT value FROM quality_metrics WHERE load_id = ? AND metric = 'validity' "
        "AND field = 'birth_date'",
        [file_id],
    ).fetchone()[0]
    assert abs(validity - 1 / 4) < 1e-9


def test_a_source_may_reject_unreadable_dates_with_file_line_and_field(tmp_path):
    con, file_id = load(tmp_path, unparseable_dates="reject")
    read, loaded, rejected = con.execute(
        "SELECT rows_read, rows_loaded, rows_rejected FROM ingest_log WHERE file_id = ?", [file_id]
    ).fetchone()
    assert (read, loaded, rejected) == (7, 5, 2)
    rows = con.execute(
        "SELECT line_number, field, reason, raw_line FROM rejected_rows ORDER BY line_number"
    ).fetchall()
    assert rows == [
        (
            3,
            "birth_date",
            "unparseable date in field birth_date (expected %d-%m-%Y)",
            "2;Piet;piet@example.nl;31-13-1985",
        ),
        (
            5,
            "birth_date",
            "unparseable date in field birth_date (expected %d-%m-%Y)",
            "4;Els;els@example.nl;gisteren",
        ),
    ]
    contacts = dict(
        con.execute("SELECT source_record_id, birth_date_status FROM contacts").fetchall()
    )
    assert contacts == {
        "1": "valid",
        "3": "missing",
        "5": "invalid",
        "6": "missing",
        "7": "missing",
    }
    assert con.execute("SELECT count(*) FROM contacts").fetchone()[0] == loaded


def test_an_unreadable_update_time_is_rejected_too_and_a_flagged_one_keeps_its_raw_text(tmp_path):
    source = Source(
        columns={"source_record_id": "Id", "email": "Email", "updated_at": "Gewijzigd"},
        date_format="%d-%m-%Y",
        datetime_format="%d-%m-%Y %H:%M",
    )
    drop = "Id;Email;Gewijzigd\n1;a@example.nl;01-11-2026 08:00\n2;b@example.nl;gisteren\n"
    for policy, expected in (("reject", (1, 1)), ("flag", (2, 0))):
        folder = tmp_path / policy
        (folder / "inbox").mkdir(parents=True)
        (folder / "inbox" / "k.csv").write_text(drop)
        con = connect(folder / "w.duckdb")
        t = LocalTransport(folder / "inbox")
        landed = land(
            con,
            t,
            landing_root=folder / "landing",
            source="crm",
            remote=t.list(["*.csv"])[0],
            partition_key="crm/k.csv@20261123T050000",
        )
        src = source.model_copy(update={"unparseable_dates": policy})
        stage_drop(
            con, file_id=landed.file_id, source_name="crm", source=src, tmp_root=folder / "tmp"
        )
        load_contacts(
            con, file_id=landed.file_id, source_name="crm", source=src, default_country="NL"
        )
        assert (
            con.execute("SELECT rows_loaded, rows_rejected FROM ingest_log").fetchone() == expected
        )
        if policy == "reject":
            assert con.execute("SELECT line_number, field FROM rejected_rows").fetchall() == [
                (3, "updated_at")
            ]
        else:
            assert con.execute(
                "SELECT updated_at, updated_at_status, updated_at_raw FROM contacts "
                "WHERE source_record_id = '2'"
            ).fetchone() == (None, "invalid", "gisteren")
        con.close()
