"""`normalize_staged`: the contract the loader relies on, and agreement with `normalize_record`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from pipelines.config import load_sources
from pipelines.fields import CONTACT_COLUMNS, MAPPABLE_FIELDS, STATUSES
from pipelines.ingest.decode import decode_to_utf8
from pipelines.ingest.stage import stage_file, staged_view_sql
from pipelines.normalize import normalize_record, normalize_staged
from pipelines.normalize.batch import Workers
from pipelines.warehouse import connect, transaction
from tests.normalize.conftest import DEFAULT_COUNTRY, TODAY, fetch_by_line, source_for, stage_rows

REPO = Path(__file__).resolve().parents[2]
EXPECTED = {c: t for c, t in CONTACT_COLUMNS.items() if c != "loaded_at"}

# Messy rows: every mapped field, including garbage, blanks, markers, duplicates and NULLs.
MESSY = [
    {
        "source_record_id": "1",
        "first_name": " JAN ",
        "infix": "",
        "last_name": "Berg, van der",
        "email": "Jan@Gmail.com",
        "phone": "06-12345678",
        "street": "Hoofdstraat 12a",
        "house_number": "",
        "postcode": "1234ab",
        "city": "AMSTERDAM",
        "country": "Nederland",
        "birth_date": "23-06-1985",
        "newsletter_opt_in": "ja",
        "last_purchase_at": "01-11-2025",
    },
    {
        "source_record_id": "2",
        "first_name": "NULL",
        "last_name": "-",
        "email": "n.v.t.",
        "phone": "onbekend",
        "street": None,
        "house_number": None,
        "postcode": "",
        "city": None,
        "country": None,
        "birth_date": "00-00-0000",
        "newsletter_opt_in": "misschien",
        "last_purchase_at": "gisteren",
    },
    {
        "source_record_id": "3",
        "first_name": "J.P.",
        "last_name": "Van Damme",
        "email": "info@@x",
        "phone": "+32 470 12 34 56",
        "street": "Rue Royale",
        "house_number": "16bis",
        "postcode": "B-1000",
        "city": "Bruxelles",
        "country": "Belgique",
        "birth_date": "31-02-1985",
        "newsletter_opt_in": "0",
        "last_purchase_at": "2030-01-01",
    },
    {
        "source_record_id": "3",
        "first_name": "J.P.",
        "last_name": "Van Damme",
        "email": "info@@x",
        "phone": "+32 470 12 34 56",
        "street": "Rue Royale",
        "house_number": "16bis",
        "postcode": "B-1000",
        "city": "Bruxelles",
        "country": "Belgique",
        "birth_date": "31-02-1985",
        "newsletter_opt_in": "0",
        "last_purchase_at": "2030-01-01",
    },
    {
        "source_record_id": "4",
        "first_name": "Åsa\u00a0",
        "last_name": "ÅKESSON",
        "email": "asa@telia.cm",
        "phone": "070-123 45 67",
        "street": "Storgatan 5 B",
        "postcode": "S-123 45",
        "country": "Zweden",
        "birth_date": "1985-06-23",
    },
    {
        "source_record_id": "5",
        "first_name": "\t",
        "last_name": "\u200b",
        "email": " ",
        "phone": "x" * 300,
        "street": "123",
        "house_number": "abc",
        "postcode": "??",
        "country": "Atlantis",
        "birth_date": "05/06/1985",
    },
]
MESSY_FIELDS = [
    "source_record_id",
    "first_name",
    "infix",
    "last_name",
    "email",
    "phone",
    "street",
    "house_number",
    "postcode",
    "city",
    "country",
    "birth_date",
    "newsletter_opt_in",
    "last_purchase_at",
]


def _columns_and_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return {name: kind for name, kind, *_ in con.execute(f"DESCRIBE {table}").fetchall()}


def test_output_has_exactly_the_contact_columns_and_every_row(con):
    stage_rows(con, "staged", MESSY, MESSY_FIELDS)
    source = source_for(MESSY_FIELDS, date_format="%d-%m-%Y")
    normalize_staged(
        con, "staged", "normalized", source=source, default_country=DEFAULT_COUNTRY, today=TODAY
    )

    assert list(_columns_and_types(con, "normalized").items()) == list(EXPECTED.items())
    assert con.execute("SELECT count(*) FROM normalized").fetchone()[0] == len(MESSY)
    rows = fetch_by_line(con, "normalized")
    assert sorted(rows) == list(range(2, len(MESSY) + 2))
    # Nothing is lost: raw text is kept wherever the value was not usable.
    assert rows[3]["email_status"] == "missing" and rows[3]["email_raw"] == "n.v.t."
    assert (
        rows[3]["newsletter_opt_in_status"] == "invalid"
        and rows[3]["newsletter_opt_in_reason"] == "not_a_boolean"
    )
    assert rows[4]["birth_date_status"] == "invalid" and rows[4]["birth_date_raw"] == "31-02-1985"
    assert rows[7]["phone_status"] == "invalid" and rows[7]["phone_raw"] == "x" * 300
    # Every status column holds one of the statuses, everywhere.
    for row in rows.values():
        for column, value in row.items():
            if column.endswith("_status"):
                assert value in STATUSES, (column, value)
            if column.endswith("_reason") and value is not None:
                assert row[column.replace("_reason", "_status")] != "valid", column
    # A few end-to-end facts.
    assert (rows[2]["first_name"], rows[2]["infix"], rows[2]["last_name"]) == (
        "Jan",
        "van der",
        "Berg",
    )
    assert (rows[2]["street"], rows[2]["house_number"], rows[2]["house_number_suffix"]) == (
        "Hoofdstraat",
        "12",
        "A",
    )
    assert (rows[2]["phone"], rows[2]["postcode"], rows[2]["country"]) == (
        "+31612345678",
        "1234 AB",
        "NL",
    )
    assert rows[2]["birth_date"] == dt.date(1985, 6, 23) and rows[2]["newsletter_opt_in"] is True
    assert (
        rows[5]["last_name"] == "Van Damme"
        and rows[5]["infix"] is None
        and rows[5]["postcode"] == "1000"
    )
    assert rows[6]["postcode"] == "123 45" and rows[6]["phone"] == "+46701234567"
    assert (rows[6]["email"], rows[6]["email_status"], rows[6]["email_reason"]) == (
        "asa@telia.com",
        "corrected",
        "domain_typo_corrected",
    )


def test_unmapped_fields_are_missing_and_temp_tables_are_gone(con):
    stage_rows(
        con,
        "staged",
        [{"source_record_id": "1", "email": "a@b.nl"}, {"source_record_id": "2"}],
        ["source_record_id", "email"],
    )
    normalize_staged(
        con,
        "staged",
        "normalized",
        source=source_for(["email"]),
        default_country="BE",
        today=TODAY,
    )
    rows = fetch_by_line(con, "normalized")
    assert len(rows) == 2
    for row in rows.values():
        assert (
            row["phone_status"] == row["postcode_status"] == row["birth_date_status"] == "missing"
        )
        assert row["phone"] is row["phone_raw"] is None
    assert rows[2]["email"] == "a@b.nl" and rows[3]["email_status"] == "missing"
    leftovers = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '\\_nz\\_%' ESCAPE '\\' "
        "UNION ALL SELECT view_name FROM duckdb_views() "
        "WHERE view_name LIKE '\\_nz\\_%' ESCAPE '\\'"
    ).fetchall()
    assert leftovers == []


def test_an_empty_drop_gives_an_empty_table(con):
    stage_rows(con, "staged", [], ["source_record_id", "email", "phone"])
    normalize_staged(
        con, "staged", "normalized", source=source_for(["email", "phone"]), default_country="NL"
    )
    assert list(_columns_and_types(con, "normalized")) == list(EXPECTED)
    assert con.execute("SELECT count(*) FROM normalized").fetchone()[0] == 0


def test_the_process_pool_path_gives_the_same_rows(con):
    """Forcing every distinct-value job through the worker processes changes nothing."""
    stage_rows(con, "staged", MESSY * 3, MESSY_FIELDS)
    source = source_for(MESSY_FIELDS, date_format="%d-%m-%Y")
    normalize_staged(
        con,
        "staged",
        "in_process",
        source=source,
        default_country="NL",
        today=TODAY,
        workers=Workers(processes=1),
    )
    with Workers(processes=2, parallel_min=1) as workers:
        normalize_staged(
            con,
            "staged",
            "pooled",
            source=source,
            default_country="NL",
            today=TODAY,
            workers=workers,
        )
    differences = con.execute(
        "SELECT count(*) FROM ((SELECT * FROM in_process EXCEPT ALL SELECT * FROM pooled) "
        "UNION ALL (SELECT * FROM pooled EXCEPT ALL SELECT * FROM in_process))"
    ).fetchone()[0]
    assert differences == 0


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory):
    """A real demo drop of both sources, staged by the real ingest code into a warehouse file."""
    from pipelines.demo import generate

    folder = tmp_path_factory.mktemp("demo")
    summary = generate(folder / "inbox", folder / "truth.parquet", people=1500, seed=3, day=TODAY)
    sources = load_sources(REPO / "sftp_config" / "sources.yaml")
    con = connect(folder / "warehouse.duckdb")
    for name, path in summary.files.items():
        source = sources.sources[name]
        decoded = decode_to_utf8(
            path,
            folder / f"{name}.utf8.csv",
            encoding=source.encoding,
            delimiter=source.delimiter,
            display_name=path.name,
        )
        with transaction(con):
            stage_file(
                con,
                file_id=name,
                source_name=name,
                source=source,
                decoded=decoded,
                file_name=path.name,
            )
    yield con, sources
    con.close()


@pytest.mark.parametrize("name", ["crm", "webshop"])
def test_batch_agrees_with_normalize_record_on_demo_data(demo_warehouse, name):
    con, sources = demo_warehouse
    source = sources.sources[name]
    con.execute(f"CREATE OR REPLACE TEMP VIEW staged_{name} AS {staged_view_sql(name, source)}")
    with transaction(con):  # the loader calls it inside its transaction
        normalize_staged(
            con,
            f"staged_{name}",
            f"normalized_{name}",
            source=source,
            default_country=sources.country_of(name),
            today=TODAY,
        )
    staged = fetch_by_line(con, f"staged_{name}")
    normalized = fetch_by_line(con, f"normalized_{name}")
    assert len(staged) == len(normalized) > 1000
    mismatches = []
    for line, row in staged.items():
        expected = normalize_record(
            row, source=source, default_country=sources.country_of(name), today=TODAY
        )
        got = normalized[line]
        mismatches += [(line, c, expected[c], got[c]) for c in EXPECTED if expected[c] != got[c]]
    assert mismatches == []


def test_every_mappable_field_has_a_place():
    """Each field a source may map feeds the output (directly or through a split)."""
    fed = {
        "source_record_id",
        "first_name",
        "infix",
        "last_name",
        "email",
        "phone",
        "street",
        "house_number",
        "house_number_suffix",
        "postcode",
        "city",
        "country",
        "birth_date",
        "newsletter_opt_in",
        "last_purchase_at",
        "updated_at",
        "address_line",
        "newsletter_opt_in_at",
        "double_opt_in",
    }
    assert set(MAPPABLE_FIELDS) == fed
