"""Quality figures from real DuckDB tables: per load (through the real ingest) and per snapshot."""

from __future__ import annotations

from datetime import datetime

import pytest

from pipelines.quality.metrics import (
    figures_of,
    markdown_table,
    record_warehouse_metrics,
    renamed_columns,
)
from tests.quality.drops import crm_rows


def test_load_figures_separate_completeness_from_validity(con, drop):
    rows = crm_rows(200, seed=5, bad_email_share=0.25)
    for r in rows[:50]:
        r["Geboortedatum"] = ""  # a quarter without birth date
    rows[199].update(
        {k: v for k, v in rows[198].items() if k != "KlantID"}
    )  # one exact duplicate record
    file_id = drop("klanten_1.csv", rows)
    f = figures_of(con, file_id)
    assert (
        f[("rows_read", None)] == 200
        and f[("rows_rejected", None)] == 0
        and f[("rejected_share", None)] == 0
    )
    assert f[("fill_rate", "email")] == 1.0
    assert f[("validity", "email")] == pytest.approx(0.75, abs=0.006)
    assert f[("fill_rate", "birth_date")] == pytest.approx(0.75)
    assert f[("validity", "birth_date")] == 1.0  # validity counts only provided values
    assert f[("duplicate_rate_exact", None)] == pytest.approx(1 / 200)
    assert f[("columns_missing", None)] == 0 and f[("columns_extra", None)] == 0
    assert ("rows_read_change", None) not in f  # nothing to compare the first load with

    second = drop("klanten_2.csv", crm_rows(150, seed=6))
    g = figures_of(con, second)
    assert g[("rows_read_previous", None)] == 200
    assert g[("rows_read_change", None)] == pytest.approx(-0.25)


def test_schema_drift_figures(con, drop):
    file_id = drop("klanten_1.csv", crm_rows(30), drop_columns=("Telefoon", "Plaats"))
    f = figures_of(con, file_id)
    assert f[("columns_missing", None)] == 2
    assert ("column_missing", "Telefoon") in f and ("column_missing", "Plaats") in f


def test_renamed_columns():
    assert renamed_columns(["Email", "Telefoon"], ["E-mail", "Telephone", "Nieuw"]) == [
        ("Email", "E-mail")
    ]
    assert renamed_columns(["Postcode"], ["postcode "]) == [("Postcode", "postcode ")]
    assert renamed_columns(["Plaats"], ["Land2"]) == []


def _contact(
    con,
    source,
    rid,
    customer,
    email=None,
    phone=None,
    birth=None,
    postcode=None,
    hn=None,
    updated=None,
    first="Jan",
    last="Jansen",
):
    con.execute(
        """INSERT INTO contacts (source, source_record_id, file_id, first_name, last_name, email,
                                 phone, birth_date, postcode, house_number, country, updated_at)
           VALUES (?, ?, 'f', ?, ?, ?, ?, ?, ?, ?, 'NL', ?)""",
        [source, rid, first, last, email, phone, birth, postcode, hn, updated],
    )
    con.execute(
        "INSERT INTO customer_sources (customer_id, source, source_record_id) VALUES (?, ?, ?)",
        [customer, source, rid],
    )


def test_warehouse_snapshot_duplicates_consistency_and_update_age(con):
    # C1: crm + webshop agree on email, disagree on phone. C2: they disagree on email.
    # C3: two crm records identical but for their id (an exact duplicate), same email as C1.
    _contact(
        con,
        "crm",
        "1",
        "C1",
        "a@x.nl",
        "+31611111111",
        "1980-01-01",
        "1011 AB",
        "1",
        updated="2025-11-23",
    )
    _contact(
        con,
        "webshop",
        "w1",
        "C1",
        "a@x.nl",
        "+31622222222",
        "1980-01-01",
        "1011 AB",
        "1",
        updated="2026-11-13",
    )
    _contact(
        con, "crm", "2", "C2", "b@x.nl", None, None, "3011 CD", "5", first="Piet", last="Smit"
    )
    _contact(
        con,
        "webshop",
        "w2",
        "C2",
        "c@x.nl",
        "+31633333333",
        None,
        "3011 CD",
        "5",
        first="Piet",
        last="Smit",
    )
    _contact(
        con,
        "crm",
        "3",
        "C3",
        "a@x.nl",
        None,
        "1990-05-05",
        "2511 GH",
        "9",
        first="Anna",
        last="Visser",
    )
    _contact(
        con,
        "crm",
        "4",
        "C3",
        "a@x.nl",
        None,
        "1990-05-05",
        "2511 GH",
        "9",
        first="Anna",
        last="Visser",
    )
    for cid, first, last, email, postcode, hn in [
        ("C1", "Jan", "Jansen", "a@x.nl", "1011 AB", "1"),
        ("C2", "Piet", "Smit", "b@x.nl", "3011 CD", "5"),
        ("C3", "Anna", "Visser", "a@x.nl", "2511 GH", "9"),
    ]:
        con.execute(
            """INSERT INTO customers (customer_id, first_name, last_name, email, email_status,
                                     postcode, house_number, country)
               VALUES (?, ?, ?, ?, 'valid', ?, ?, 'NL')""",
            [cid, first, last, email, postcode, hn],
        )
    con.execute("""INSERT INTO ingest_log (file_id, source, file_name, status, landed_at) VALUES
                   ('L1', 'crm', 'klanten.csv', 'loaded', '2026-11-23 06:00:00'),
                   ('L2', 'webshop', 'customers.csv', 'loaded', '2026-11-23 05:00:00')""")
    now = datetime(2026, 11, 23, 12, 0)
    figures = {
        (m, f): v for m, f, v in record_warehouse_metrics(con, load_id="warehouse-test", now=now)
    }

    assert figures[("contacts", None)] == 6 and figures[("customers", None)] == 3
    assert figures[("duplicate_rate", None)] == pytest.approx(0.5)  # 6 records, 3 customers
    assert figures[("duplicate_rate_exact", None)] == pytest.approx(1 / 6)
    assert figures[("residual_duplicate_rate", None)] == pytest.approx(
        2 / 3
    )  # C1 and C3 share an email
    # only C1 and C2 have values from two sources; C3 (crm only) has nothing to disagree with
    assert figures[("inconsistency_rate", "email")] == pytest.approx(1 / 2)
    assert figures[("inconsistency_rate", "phone")] == pytest.approx(
        1.0
    )  # only C1 has two phones, and they differ
    assert figures[("inconsistency_rate", "birth_date")] == 0.0
    assert figures[("inconsistency_rate", "address")] == 0.0
    assert figures[("inconsistent_customers", "email")] == 1
    assert figures[("customer_validity", "email")] == 1.0
    assert figures[("customer_fill_rate", "phone")] == 0.0
    # update age: C1's newest update 10 days ago; C2 and C3 have no update time
    assert figures[("customer_update_age_days", "p50")] == 10
    assert figures[("customers_update_known", None)] == 1
    assert figures[("customers_not_updated_365d", None)] == 0.0

    crm, webshop = figures_of(con, "L1"), figures_of(con, "L2")
    assert crm[("source_contacts", None)] == 4
    assert crm[("source_duplicate_rate", None)] == pytest.approx(1 - 3 / 4)
    assert crm[("source_duplicate_rate_exact", None)] == pytest.approx(1 / 4)
    assert crm[("disagreement_rate", "email")] == pytest.approx(1 / 2)  # C1 agrees, C2 does not
    assert webshop[("disagreement_rate", "phone")] == pytest.approx(1.0)
    assert crm[("newest_drop_age_hours", None)] == pytest.approx(6.0)
    assert webshop[("newest_drop_age_hours", None)] == pytest.approx(7.0)


def test_markdown_table_shows_fields_and_changes():
    figures = [
        ("fill_rate", "email", 0.9),
        ("validity", "email", 0.7),
        ("rows_read", None, 1200.0),
        ("rejected_share", None, 0.015),
    ]
    text = markdown_table(
        figures, "crm load", previous={("fill_rate", "email"): 0.95, ("validity", "email"): 0.98}
    )
    assert "| email | 90.0% | 70.0% | -5.0 | -28.0 |" in text
    assert "| rows_read |  | 1,200 |" in text and "| rejected_share |  | 1.5% |" in text


def test_consistency_and_disagreement_equal_their_definition_on_random_customers(con):
    """The figures read per-source value ranges of customers with two or more records; they equal
    the definition (distinct counts over every record, and every pair of records of two
    sources) on random customers with one to four records from three sources."""
    con.execute(
        """
        CREATE TEMP TABLE _people AS
        SELECT i, 'C' || (i // 3 + (i % 7 = 0)::INT) AS customer_id,
               (['crm', 'webshop', 'shop2'])[1 + (hash(i, 1) % 3)::BIGINT] AS source
        FROM range(3000) t(i)
        """
    )
    con.execute(
        """
        INSERT INTO contacts (source, source_record_id, file_id, email, phone, birth_date,
                              postcode, house_number, house_number_suffix)
        SELECT source, 'R' || i, 'f',
               CASE WHEN hash(i, 2) % 5 > 0 THEN 'p' || (hash(i, 3) % 3) || '@x.nl' END,
               CASE WHEN hash(i, 4) % 3 > 0 THEN '+3161234567' || (hash(i, 5) % 2) END,
               CASE WHEN hash(i, 6) % 4 > 0 THEN DATE '1980-01-01' + (hash(i, 7) % 2)::INT END,
               CASE WHEN hash(i, 8) % 6 > 0 THEN '1011 A' || (hash(i, 9) % 2) END,
               CASE WHEN hash(i, 10) % 7 > 0 THEN '1' END,
               CASE WHEN hash(i, 11) % 4 = 0 THEN 'a' END
        FROM _people
        """
    )
    con.execute(
        """INSERT INTO customer_sources (customer_id, source, source_record_id)
           SELECT customer_id, source, 'R' || i FROM _people"""
    )
    con.execute(
        """INSERT INTO customers (customer_id)
           SELECT DISTINCT customer_id FROM customer_sources"""
    )
    con.execute(
        """INSERT INTO ingest_log (file_id, source, file_name, status, landed_at)
           SELECT 'L-' || s, s, s || '.csv', 'loaded', TIMESTAMP '2026-11-23 06:00:00'
           FROM (VALUES ('crm'), ('webshop'), ('shop2')) v(s)"""
    )
    now = datetime(2026, 11, 23, 12, 0)
    figures = {
        (m, f): v for m, f, v in record_warehouse_metrics(con, load_id="warehouse-test", now=now)
    }

    # The definition, over every record of every customer.
    values = """
        SELECT cs.customer_id, c.source, email, phone, CAST(birth_date AS VARCHAR) AS birth_date,
               postcode || ' ' || house_number || coalesce(house_number_suffix, '') AS address
        FROM contacts c JOIN customer_sources cs USING (source, source_record_id)"""
    fields = ("email", "phone", "birth_date", "address")
    checked = 0
    for f in fields:
        comparable, inconsistent = con.execute(
            f"""SELECT count(*) FILTER (WHERE n >= 2), count(*) FILTER (WHERE n >= 2 AND d > 1)
                FROM (SELECT count(DISTINCT source) FILTER (WHERE {f} IS NOT NULL) AS n,
                             count(DISTINCT {f}) AS d
                      FROM ({values}) v GROUP BY customer_id) g"""
        ).fetchone()
        assert 0 < inconsistent < comparable
        assert figures[("inconsistent_customers", f)] == inconsistent
        assert figures[("inconsistency_rate", f)] == pytest.approx(inconsistent / comparable)
        for source, compared, differ in con.execute(
            f"""WITH v AS ({values})
                SELECT a.source,
                       count(DISTINCT a.customer_id) FILTER (WHERE a.{f} IS NOT NULL
                                                             AND b.{f} IS NOT NULL),
                       count(DISTINCT a.customer_id) FILTER (WHERE a.{f} <> b.{f})
                FROM v a JOIN v b ON a.customer_id = b.customer_id AND a.source <> b.source
                GROUP BY a.source"""
        ).fetchall():
            assert 0 < differ < compared
            got = figures_of(con, f"L-{source}")[("disagreement_rate", f)]
            assert got == pytest.approx(differ / compared), (f, source)
            checked += 1
    assert checked == 12  # every field, every source
