"""Settings that change place names: the names of Brussels, and a reference postcode table;
plus the mojibake repair itself. Each through the batch path and `normalize_record` alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import ConfigError, load_sources
from pipelines.normalize import normalize_record, normalize_staged
from pipelines.normalize.mojibake import looks_like_mojibake, repair
from pipelines.normalize.places import place_key
from pipelines.normalize.reference import load_reference
from tests.normalize.conftest import TODAY, fetch_by_line, source_for, stage_rows

FIELDS = [
    "source_record_id",
    "first_name",
    "last_name",
    "street",
    "house_number",
    "postcode",
    "city",
    "country",
]


def _both(con, rows: list[dict], **options) -> list[tuple[dict, dict]]:
    """(batch row, per-value row) for each input row."""
    source = source_for(FIELDS[1:], **options)
    stage_rows(con, "staged", rows, FIELDS)
    normalize_staged(con, "staged", "normalized", source=source, default_country="NL", today=TODAY)
    batch = fetch_by_line(con, "normalized")
    pairs = []
    for i, row in enumerate(rows):
        staged = {
            "source": "test",
            "file_id": "f1",
            "line_number": i + 2,
            **{f: row.get(f) for f in FIELDS},
        }
        record = normalize_record(staged, source=source, default_country="NL", today=TODAY)
        pairs.append((batch[i + 2], record))
    return pairs


@pytest.mark.parametrize(
    ("text", "fixed"),
    [
        ("SjÃ¶berg", "Sjöberg"),
        ("ZoÃ«", "Zoë"),
        ("VÃ¤sterÃ¥s", "Västerås"),
        ("Ã…sa", "Åsa"),
        ("LiÃ¨ge", "Liège"),
        ("Ã–rebro", "Örebro"),
        ("Jan â€“ Piet", "Jan – Piet"),
    ],
)
def test_mojibake_is_repaired(text, fixed):
    assert looks_like_mojibake(text)
    assert repair(text) == fixed
    assert not looks_like_mojibake(fixed) and repair(fixed) == fixed


@pytest.mark.parametrize(
    "text", ["Åsa", "Sjöberg", "Göteborg", "São Paulo", "Crème brûlée", "Hoofdstraat"]
)
def test_real_text_is_left_alone(text):
    assert not looks_like_mojibake(text)
    assert repair(text) == text


BRUSSELS = [
    {"source_record_id": "1", "city": "Bruxelles", "country": "BE"},
    {"source_record_id": "2", "city": "Elsene", "country": "BE"},
    {"source_record_id": "3", "city": "brussels", "country": "BE"},
    {"source_record_id": "4", "city": "Gand", "country": "BE"},
]


@pytest.mark.parametrize(
    ("preference", "expected"),
    [
        ("nl", ["Brussel", "Elsene", "Brussel", "Gent"]),
        ("fr", ["Bruxelles", "Ixelles", "Bruxelles", "Gent"]),
        ("as_written", ["Bruxelles", "Elsene", "Brussels", "Gent"]),
    ],
)
def test_brussels_names_follow_the_setting(con, preference, expected):
    pairs = _both(con, BRUSSELS, brussels_names=preference)
    assert [b["city"] for b, _ in pairs] == expected
    assert [r["city"] for _, r in pairs] == expected


def _reference_csv(tmp_path: Path) -> Path:
    path = tmp_path / "postcodes.csv"
    path.write_text(
        "postcode;city;street\n"
        "1234 AB;Amsterdam;Hoofdstraat\n"
        "1234AB;Amsterdam;Kerkstraat\n"
        "2511 AA;'s-Gravenhage;\n"
        "411 05;Göteborg;Storgatan\n",
        encoding="utf-8",
    )
    return path


def _address(record_id: str, street: str, postcode: str, city: str | None, country: str) -> dict:
    return {
        "source_record_id": record_id,
        "street": street,
        "house_number": "1",
        "postcode": postcode,
        "city": city,
        "country": country,
    }


def test_reference_table_validates_and_supplies_the_city(con, tmp_path):
    reference = str(_reference_csv(tmp_path))
    rows = [
        _address("1", "Hoofdstraat", "1234ab", "A'dam", "NL"),
        _address("2", "Dorpsweg", "1234 AB", "Amsterdam", "NL"),
        _address("3", "Plein", "2511AA", None, "NL"),
        _address("4", "Hoofdstraat", "9999 ZZ", "Ergens", "NL"),
        _address("5", "Storg.", "41105", "Goteborg", "SE"),
        _address(
            "6", "Rue Royale", "1000", "Bruxelles", "BE"
        ),  # the table covers no Belgian postcode
    ]
    for batch, record in _both(con, rows, postcode_reference=reference):
        assert {k: batch[k] for k in record if k in batch} == record
    pairs = _both(con, rows, postcode_reference=reference)
    got = [
        (
            b["postcode"],
            b["postcode_status"],
            b["postcode_reason"],
            b["city"],
            b["street"],
            b["street_reason"],
        )
        for b, _ in pairs
    ]
    assert got == [
        ("1234 AB", "valid", None, "Amsterdam", "Hoofdstraat", None),
        ("1234 AB", "valid", None, "Amsterdam", None, "street_not_at_postcode"),
        (
            "2511 AA",
            "valid",
            None,
            "'s-Gravenhage",
            "Plein",
            None,
        ),  # no streets listed: not checked
        (None, "invalid", "unknown_postcode", "Ergens", "Hoofdstraat", None),
        ("411 05", "valid", None, "Göteborg", "Storgatan", None),
        ("1000", "valid", None, "Brussel", "Rue Royale", None),
    ]


def test_reference_table_reads_countries_from_postcode_shapes(tmp_path):
    table = load_reference(str(_reference_csv(tmp_path)))
    assert table.countries == {"NL", "SE"}
    assert table.entries[("NL", "1234 AB")].streets == {
        place_key("Hoofdstraat"),
        place_key("Kerkstraat"),
    }


def test_config_defaults_reach_every_source(tmp_path):
    reference = _reference_csv(tmp_path)
    config = tmp_path / "sources.yaml"
    config.write_text(
        f"defaults:\n  brussels_names: fr\n  postcode_reference: {reference}\n"
        "sources:\n  crm:\n    columns: {source_record_id: id, city: Plaats}\n"
        "  shop:\n    brussels_names: as_written\n    columns: {source_record_id: id}\n",
        encoding="utf-8",
    )
    cfg = load_sources(config)
    crm = cfg.sources["crm"]
    assert (crm.brussels_names, crm.postcode_reference) == ("fr", str(reference))
    assert cfg.sources["shop"].brussels_names == "as_written"
    config.write_text(
        "defaults:\n  postcode_reference: nowhere.csv\nsources: {}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="postcode_reference"):
        load_sources(config)
