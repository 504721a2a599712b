"""Mail-domain facts (closed providers from config, consumer domains) and the inferred country:
SQL twins agree with Python, config changes reach both paths."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.config import SourcesConfig
from pipelines.normalize import normalize_record, normalize_staged
from pipelines.normalize.mail_domains import (
    CLOSED_MAIL_DOMAINS,
    CONSUMER_MAIL_DOMAINS,
    DOMAIN_CORRECTIONS,
    closed_mail_domains,
    consumer_domain_sql,
    is_consumer_domain,
)
from pipelines.normalize.region import (
    address_country,
    address_country_sql,
    city_countries,
    city_country,
    international_sql,
    is_international,
)
from tests.normalize.conftest import TODAY, fetch_by_line, stage_rows


@pytest.fixture
def mem():
    con = duckdb.connect()
    yield con
    con.close()


def test_corrections_lead_to_consumer_domains_and_closed_ones_are_consumer_domains():
    assert set(DOMAIN_CORRECTIONS.values()) <= CONSUMER_MAIL_DOMAINS
    assert not set(DOMAIN_CORRECTIONS) & CONSUMER_MAIL_DOMAINS  # never "correct" a real provider
    assert CLOSED_MAIL_DOMAINS <= CONSUMER_MAIL_DOMAINS
    assert {
        "hetnet.nl",
        "planet.nl",
        "wanadoo.nl",
        "zonnet.nl",
        "chello.nl",
        "tiscali.nl",
        "quicknet.nl",
        "pandora.be",
        "skynet.be",
        "swipnet.se",
        "passagen.se",
    } <= CLOSED_MAIL_DOMAINS


def test_operator_lists_extend_and_trim_the_closed_domains():
    closed = closed_mail_domains(["OudProvider.NL", " @dicht.se "], ["planet.nl"])
    assert {"oudprovider.nl", "dicht.se", "hetnet.nl"} <= closed and "planet.nl" not in closed


def test_consumer_domain_sql_agrees(mem):
    for domain in [
        "gmail.com",
        "ziggo.nl",
        "telia.com",
        "skynet.be",
        "bakkerij-dejong.nl",
        "example.se",
        "gmial.com",
    ]:
        sql = mem.execute(f"SELECT {consumer_domain_sql('$1::VARCHAR')}", [domain]).fetchone()[0]
        assert sql is is_consumer_domain(domain), domain


def test_defaults_reach_every_source_and_both_normalize_paths(tmp_path):
    cfg = SourcesConfig.model_validate(
        {
            "defaults": {
                "closed_mail_domains": ["oudprovider.nl"],
                "open_mail_domains": ["planet.nl"],
            },
            "sources": {
                "crm": {
                    "columns": {"source_record_id": "id", "email": "email"},
                    "closed_mail_domains": ["dicht.se"],
                }
            },
        }
    )
    source = cfg.sources["crm"]
    assert source.closed_mail_domains == [
        "oudprovider.nl",
        "dicht.se",
    ] and source.open_mail_domains == ["planet.nl"]
    emails = [
        "jan@oudprovider.nl",
        "Jan@Planet.nl",
        "sven@dicht.se",
        "jan@hetnet.nl",
        "jan@gmial.com",
        "jürgen@dicht.se",
    ]
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    stage_rows(
        con,
        "staged",
        [{"source_record_id": str(i), "email": e} for i, e in enumerate(emails)],
        ["source_record_id", "email"],
    )
    normalize_staged(con, "staged", "out", source=source, default_country="NL", today=TODAY)
    batch = fetch_by_line(con, "out")
    got = {}
    for i, raw in enumerate(emails):
        one = normalize_record(
            {"source_record_id": str(i), "email": raw},
            source=source,
            default_country="NL",
            today=TODAY,
        )
        row = batch[i + 2]
        keys = (
            "email",
            "email_status",
            "email_reason",
            "email_is_closed_provider",
            "email_is_personal_provider",
        )
        assert {k: row[k] for k in keys} == {k: one[k] for k in keys}, raw
        got[raw] = (row["email_status"], row["email_is_closed_provider"])
    assert got == {
        "jan@oudprovider.nl": ("invalid", True),
        "Jan@Planet.nl": ("valid", False),
        "sven@dicht.se": ("invalid", True),
        "jan@hetnet.nl": ("invalid", True),
        "jan@gmial.com": ("corrected", False),
        "jürgen@dicht.se": ("invalid", True),
    }
    con.close()


def test_city_list_covers_the_main_places_in_every_spelling():
    assert len(city_countries()) > 200
    for city, country in [
        ("Amsterdam", "NL"),
        ("'s-Hertogenbosch", "NL"),
        ("DEN HAAG", "NL"),
        ("IJsselstein", "NL"),
        ("Gent", "BE"),
        ("Gand", "BE"),
        ("Anvers", "BE"),
        ("Luik", "BE"),
        ("Liège", "BE"),
        ("Liege", "BE"),
        ("Bruxelles", "BE"),
        ("Göteborg", "SE"),
        ("goteborg", "SE"),
        ("Gothenburg", "SE"),
        ("Lidingö", "SE"),
        ("Jönköping", "SE"),
    ]:
        assert city_country(city) == country, city
    for shared in ("Hasselt", "Bergen", "Halle", "Haren", "Atlantis", None, "  "):
        assert city_country(shared) is None, shared


ADDRESS_CASES = [
    ("B-1000", None),
    ("S-411 05", None),
    ("NL-1234AB", None),
    ("1234 AB", None),
    ("1234ab", None),
    ("1234 AB", "SE"),
    ("2000", "BE"),
    ("2000", None),
    ("411 05", None),
    ("41105", None),
    ("411 05", "BE"),
    ("E1 6AN", None),
    ("SW1A 1AA", None),
    ("0123 AB", None),
    (None, "BE"),
    (None, None),
    ("12345", None),
]


def test_address_country_sql_agrees(mem):
    for postcode, city in ADDRESS_CASES:
        sql = mem.execute(
            f"SELECT {address_country_sql('$1::VARCHAR', '$2::VARCHAR')}", [postcode, city]
        ).fetchone()[0]
        expected = address_country(
            postcode, None if city is None else {"BE": "Antwerpen", "SE": "Malmö"}[city]
        )
        assert (tuple(sql.values()) if sql else (None, None)) == expected, (postcode, city)


def test_international_sql_agrees(mem):
    for text in [
        "+32 470 12 34 56",
        "0032470123456",
        "0470 12 34 56",
        "06-12345678",
        "+",
        "0",
        "",
        None,
    ]:
        sql = mem.execute(
            f"SELECT coalesce({international_sql('($1::VARCHAR)')}, false)", [text]
        ).fetchone()[0]
        assert sql is is_international(text), text


def test_a_phone_is_read_where_the_address_says_the_person_lives(tmp_path):
    """A Dutch source, a Belgian address without a country: the national number is Belgian."""
    from tests.normalize.conftest import source_for

    source = source_for(["postcode", "city", "phone"])
    rows = [
        {
            "source_record_id": "1",
            "postcode": "2000",
            "city": "Antwerpen",
            "phone": "0470 12 34 56",
        },
        {"source_record_id": "2", "postcode": "2000", "city": None, "phone": "0470 12 34 56"},
    ]
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    stage_rows(con, "staged", rows, ["source_record_id", "postcode", "city", "phone"])
    normalize_staged(con, "staged", "out", source=source, default_country="NL", today=TODAY)
    out = fetch_by_line(con, "out")
    assert (out[2]["phone"], out[2]["country"], out[2]["country_status"]) == (
        "+32470123456",
        "BE",
        "inferred",
    )
    # Without the city nothing says Belgium: read in the source's country, where it is no number.
    assert (out[3]["phone"], out[3]["phone_status"], out[3]["country"]) == (None, "invalid", None)
    con.close()
