"""`explain` shows the source records of a customer and why they were merged, with masked contact
data."""

from __future__ import annotations

from datetime import timedelta

from pipelines.match import explain
from tests.match.conftest import NOW, add_contacts, contact, customer_of, remove_contacts, run
from tests.match.town import town


def test_explain_lists_records_levels_weights_and_history(warehouse, tmp_path):
    person = dict(
        first_name="Wouter",
        last_name="Hendriks",
        birth_date="1977-10-10",
        postcode="2612 AB",
        house_number="33",
        street="Markt",
        city="Delft",
        country="NL",
    )
    add_contacts(
        warehouse,
        town(100)
        + [
            contact(
                "crm", "X1", email="wouter.hendriks@gmail.com", phone="+31612398765", **person
            ),
            contact("webshop", "XW1", email="wouter.hendriks@gmail.com", **person),
        ],
    )
    run(warehouse)
    cid = customer_of(warehouse, "crm", "X1")
    text = explain(warehouse, cid)
    assert f"customer {cid}: Wouter Hendriks" in text
    assert "crm:X1" in text and "webshop:XW1" in text
    assert "w***@gmail.com" in text and "+31 6 ****8765" in text
    assert "wouter.hendriks@gmail.com" not in text and "612398765" not in text
    assert "crm:X1 + webshop:XW1: match weight" in text
    for field in ("first_name", "last_name", "birth_date", "email", "phone", "address"):
        assert field in text
    assert "email       exact" in text and "phone       missing" in text

    # after a split the old id's history names the new one; an unknown id says so
    add_contacts(
        warehouse,
        [
            contact(
                "webshop",
                "XW1",
                first_name="Iris",
                last_name="Hendriks",
                birth_date="2001-05-05",
                email="wouter.hendriks@gmail.com",
            )
        ],
    )
    run(warehouse, now=NOW + timedelta(days=1))
    assert "split" in explain(warehouse, cid)
    remove_contacts(warehouse, [("crm", "X1")])
    run(warehouse, now=NOW + timedelta(days=2))
    assert "no such customer" in explain(warehouse, cid) or "no longer exists" in explain(
        warehouse, cid
    )
    assert explain(warehouse, "CNOTANID000") == "CNOTANID000: no such customer"


def test_crmclean_explain_command_prints_the_account(tmp_path, monkeypatch, capsys):
    from assets.cli import main
    from pipelines.warehouse import connect

    data = tmp_path / "data"
    data.mkdir()
    con = connect(data / "warehouse.duckdb")
    person = dict(
        first_name="Femke",
        last_name="Brouwer",
        birth_date="1990-06-12",
        postcode="8011 AB",
        house_number="2",
        street="Melkmarkt",
        city="Zwolle",
        country="NL",
        email="femke.b@ziggo.nl",
    )
    add_contacts(
        con, town(60) + [contact("crm", "Y1", **person), contact("webshop", "YW1", **person)]
    )
    run(con)
    cid = customer_of(con, "crm", "Y1")
    con.close()
    monkeypatch.setenv("CRMCLEAN_DATA_DIR", str(data))
    monkeypatch.delenv("CRMCLEAN_WAREHOUSE", raising=False)
    assert main(["explain", cid]) == 0
    out = capsys.readouterr().out
    assert f"customer {cid}: Femke Brouwer" in out
    assert "crm:Y1 + webshop:YW1: match weight" in out
    assert "femke.b@ziggo.nl" not in out and "f***@ziggo.nl" in out
