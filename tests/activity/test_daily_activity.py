"""Orders and engagement drops through the daily job: real files in the inbox, real Dagster runs
(`crmclean run`), a real DuckDB file. Attachment to customers, returns, re-delivery, a merge that
moves orders along, bounces that suppress, and the quality figures of the new kinds."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import dagster as dg

from assets.cli import main
from pipelines.ingest.land import file_id_for
from pipelines.warehouse import connect

WEBSHOP_HEADER = (
    "customer_id,first_name,last_name,email,phone,address,zip,city,country,date_of_birth,"
    "newsletter,newsletter_confirmed_at,double_opt_in,last_order_at,updated_at"
)
ORDER_HEADER = (
    "ordernummer;klantnummer;email;besteldatum;bedrag;valuta;product;categorie;aantal;status"
)
EVENT_HEADER = "campagne;verzonden_op;email;gebeurtenis;tijdstip"
CRM_HEADER = (
    "KlantID;Voornaam;Tussenvoegsel;Achternaam;Email;Telefoon;Straat;Huisnummer;Postcode;Plaats;"
    "Land;Geboortedatum;Nieuwsbrief;LaatsteAankoop"
)


def _write(path: Path, header: str, lines: list[str], encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join([header, *lines]) + "\n").encode(encoding))


def _day_one(inbox: Path) -> None:
    _write(
        inbox / "webshop" / "customers_20261201.csv",
        WEBSHOP_HEADER,
        [
            "W1,An,de Vries,an@example.nl,0612345678,Hoofdstraat 1,1011 AB,Amsterdam,NL,"
            "1980-01-02,yes,2026-01-01T10:00:00,1,,",
            "W2,Bo,Jansen,bo@example.nl,0687654321,Kerkstraat 7,3511 EF,Utrecht,NL,"
            "1975-05-06,yes,2026-01-01T10:00:00,1,,",
            "W3,Cor,Bakker,cor@example.nl,0611122233,Molenweg 3,2511 GH,Den Haag,NL,"
            "1990-09-09,yes,2026-01-01T10:00:00,1,,",
        ],
    )
    # a CRM record of somebody else, for now
    _write(
        inbox / "crm" / "klanten_20261201.csv",
        CRM_HEADER,
        [
            "K1;Anneke;;Vos;anneke.vos@example.nl;0699988877;Dorpsstraat;12;3011 CD;Rotterdam;NL;"
            "03-03-1966;ja;"
        ],
        "cp1252",
    )
    _write(
        inbox / "orders" / "bestellingen_20261201.csv",
        ORDER_HEADER,
        [
            "O1;W1;;2026-11-01;100,00;EUR;P1;tassen;1;",
            "O2;;Bo@Example.nl;2026-11-02;50,00;EUR;P2;schoenen;1;",  # guest checkout
            "O3;;stranger@example.com;2026-11-03;20,00;EUR;P3;sport;1;",  # unknown customer
            "O4;W1;;2026-11-04;80,00;EUR;P4;jassen;1;retour",  # returned: no value
            "O5;W3;;2026-11-05;1.234,50;SEK;P5;tassen;1;",
        ],
    )
    _write(
        inbox / "mailplatform" / "events_20261201.csv",
        EVENT_HEADER,
        [
            "NB1;2026-11-10T08:00:00;an@example.nl;delivered;2026-11-10T08:00:05",
            "NB1;2026-11-10T08:00:00;an@example.nl;open;2026-11-10T09:00:00",
            "NB1;2026-11-10T08:00:00;bo@example.nl;delivered;2026-11-10T08:00:06",
            "NB1;2026-11-10T08:00:00;cor@example.nl;bounce;2026-11-10T08:00:07",
            "NB1;2026-11-10T08:00:00;nobody@example.org;open;2026-11-10T10:00:00",
            "NB1;2026-11-10T08:00:00;an@example.nl;exploded;2026-11-10T10:00:00",  # unknown
            *(
                f"NB1;2026-11-10T08:00:00;{who}@example.nl;sent;2026-11-10T08:00:00"
                for who in ("an", "bo", "cor", "dirk", "eva", "fien", "gijs")
            ),
        ],
    )


def _customer_of(con, source: str, record_id: str) -> str:
    return con.execute(
        "SELECT customer_id FROM customer_sources WHERE source = ? AND source_record_id = ?",
        [source, record_id],
    ).fetchone()[0]


def _metrics(con, customer_id: str) -> dict:
    cur = con.execute("SELECT * FROM customer_metrics WHERE customer_id = ?", [customer_id])
    return dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))


def test_orders_and_engagement_through_the_daily_job(project, capsys):
    inbox = project.data_dir / "inbox"
    _day_one(inbox)
    assert main(["run", "--no-exports"]) == 0
    out = capsys.readouterr().out
    assert "orders/bestellingen_20261201.csv: loaded, read 5, loaded 5, rejected 0" in out
    assert "mailplatform/events_20261201.csv: loaded, read 13, loaded 12, rejected 1" in out

    con = connect(project.warehouse, read_only=True)
    try:
        for source, read, loaded, rejected, stored in con.execute(
            """SELECT l.source, l.rows_read, l.rows_loaded, l.rows_rejected,
                      (SELECT count(*) FROM rejected_rows r WHERE r.file_id = l.file_id)
               FROM ingest_log l"""
        ).fetchall():
            assert read == loaded + rejected and rejected == stored, source
        (reason,) = con.execute(
            "SELECT reason FROM rejected_rows WHERE source = 'mailplatform'"
        ).fetchall()
        assert reason[0].startswith("unknown event 'exploded' in field event")

        an, bo, cor = (_customer_of(con, "webshop", w) for w in ("W1", "W2", "W3"))
        attached = dict(con.execute("SELECT order_id, customer_id FROM orders").fetchall())
        assert attached == {"O1": an, "O2": bo, "O3": None, "O4": an, "O5": cor}

        a = _metrics(con, an)
        assert a["order_count"] == 1 and a["total_spent"] == Decimal("100.00")  # O4 returned
        assert a["top_category"] == "tassen" and a["last_open_at"] is not None
        assert a["engagement_status"] == "active" and a["campaigns_delivered"] == 1
        assert _metrics(con, bo)["total_spent"] == Decimal("50.00")
        assert _metrics(con, cor)["total_spent"] == Decimal("107.40")  # 1,234.50 SEK * 0.087
        assert _metrics(con, cor)["campaigns_delivered"] == 0  # bounced, never reached

        # the bounce in the engagement export suppresses like one of the suppressions kind
        assert con.execute(
            "SELECT reason, source FROM suppressions WHERE email = 'cor@example.nl'"
        ).fetchall() == [("hard_bounce", "mailplatform")]

        orders_file = con.execute(
            "SELECT file_id FROM ingest_log WHERE source = 'orders'"
        ).fetchone()[0]
        figures = dict(
            con.execute(
                """SELECT coalesce(field, metric), value FROM quality_metrics
                   WHERE load_id = ? AND metric IN ('unmatched_share', 'validity')""",
                [orders_file],
            ).fetchall()
        )
        assert figures == {
            "unmatched_share": 0.2,
            "amount": 1.0,
            "currency": 1.0,
            "ordered_at": 1.0,
        }
        file_ids = {r[0] for r in con.execute("SELECT file_id FROM ingest_log").fetchall()}
    finally:
        con.close()

    # each file is a partition of the asset of its kind in Dagster
    instance = dg.DagsterInstance.get()
    for asset, source in (("orders", "orders"), ("engagement_events", "mailplatform")):
        done = instance.get_materialized_partitions(dg.AssetKey(asset))
        assert len(done) == 1 and next(iter(done)).startswith(source + "/")
        assert {file_id_for(k) for k in done} <= file_ids

    # day two: the CRM record turns out to be An (a merge), and O1 is delivered again, changed
    _write(
        inbox / "crm" / "klanten_20261202.csv",
        CRM_HEADER,
        [
            "K1;An;de;Vries;an@example.nl;0612345678;Hoofdstraat;1;1011 AB;Amsterdam;NL;"
            "02-01-1980;ja;"
        ],
        "cp1252",
    )
    _write(
        inbox / "orders" / "bestellingen_20261202.csv",
        ORDER_HEADER,
        ["O1;W1;;2026-11-01;120,00;EUR;P1;tassen;1;"],
    )
    assert main(["run", "--no-exports"]) == 0
    con = connect(project.warehouse, read_only=True)
    try:
        merged = _customer_of(con, "webshop", "W1")
        assert _customer_of(con, "crm", "K1") == merged
        a = _metrics(con, merged)
        assert a["order_count"] == 1 and a["total_spent"] == Decimal("120.00")  # replaced
        assert con.execute("SELECT count(*) FROM orders WHERE order_id = 'O1'").fetchone() == (1,)
        # no metrics row is left for an id that merged away
        assert con.execute(
            """SELECT count(*) FROM customer_metrics m
               WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.customer_id = m.customer_id)"""
        ).fetchone() == (0,)
    finally:
        con.close()
