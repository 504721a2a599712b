"""The demo files honour the source contract of sources.yaml and are written safely."""

from __future__ import annotations

import datetime as dt
import stat

import pytest

from pipelines.demo import generate
from tests.demo.conftest import DAY, decode, make_drop, source_config


def test_same_seed_and_day_give_identical_bytes(drop, tmp_path):
    again = make_drop(tmp_path)
    assert again.raw == drop.raw
    assert again.truth.equals(drop.truth)


def test_another_seed_gives_other_people(drop, tmp_path):
    other = make_drop(tmp_path, seed=7)
    assert other.raw["crm"] != drop.raw["crm"]
    assert set(other.truth["email"]) != set(drop.truth["email"])


def test_file_names_follow_the_day_and_the_source_patterns(drop):
    stamp = DAY.strftime("%Y%m%d")
    assert drop.summary.files["crm"].name == f"klanten_{stamp}.csv"
    assert drop.summary.files["webshop"].name == f"customers_{stamp}.csv"
    assert drop.summary.files["crm"].parent.name == "crm"
    assert drop.summary.files["webshop"].parent.name == "webshop"


def test_crm_file_is_cp1252_with_crlf_and_no_bom(drop):
    raw = drop.raw["crm"]
    assert not raw.startswith(b"\xef\xbb\xbf")
    raw.decode("cp1252")  # strict: raises on any byte cp1252 cannot hold
    assert raw.count(b"\n") == raw.count(b"\r\n") == len(drop.rows["crm"]) + 1
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # accented names are single cp1252 bytes, not UTF-8


def test_webshop_file_is_utf8_with_bom_and_quoted(drop):
    raw = drop.raw["webshop"]
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw[3:].decode("utf-8")
    first_line = text.splitlines()[0]
    assert first_line.startswith('"customer_id","first_name"')
    assert all(line.startswith('"') and line.endswith('"') for line in text.splitlines())


def test_headers_are_exactly_the_mapped_columns(drop):
    config = source_config()
    for source in ("crm", "webshop"):
        assert drop.header[source] == list(config[source]["columns"].values())


def test_delimiters_and_date_formats_follow_the_config(drop):
    config = source_config()
    for source, date_column in (("crm", "Geboortedatum"), ("webshop", "date_of_birth")):
        assert len(drop.rows[source]) == drop.summary.rows[source]
        position = drop.header[source].index(date_column)
        part = drop.truth[drop.truth.source == source]
        skip = set(
            part.line_number[part.is_broken | part.birth_date_dirt.notna()]
        )  # broken, or a placeholder
        parsed = 0
        for line, row in enumerate(drop.rows[source], start=2):
            if line in skip:
                continue
            dt.datetime.strptime(row[position], config[source]["date_format"])
            parsed += 1
        assert parsed > len(drop.rows[source]) / 2


def test_files_are_owner_only_and_no_temporary_files_remain(drop):
    paths = [*drop.summary.files.values(), drop.summary.truth_path]
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for folder in {p.parent for p in paths}:
        assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_accented_names_round_trip(drop):
    """Å, ä, ö, ë, é survive both encodings: the written first name equals the true one."""
    checked = set()
    for source, column in (("crm", "Voornaam"), ("webshop", "first_name")):
        position = drop.header[source].index(column)
        truth = drop.truth[
            (drop.truth.source == source)
            & drop.truth.first_name_dirt.isna()
            & drop.truth.first_name_case.isna()
            & ~drop.truth.is_broken
        ]
        for line, true_name in zip(truth.line_number, truth.first_name, strict=True):
            if true_name.isascii():
                continue
            written = drop.rows[source][line - 2][position].strip()
            assert written.lower() == true_name.lower()
            checked.update(c for c in true_name if not c.isascii())
    assert {"å", "ä", "ö", "ë", "é"} <= {c.lower() for c in checked}
    text = decode("crm", drop.raw["crm"]) + decode("webshop", drop.raw["webshop"])
    assert all(c in text for c in "åäöëÅÖé")


def test_people_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="people"):
        generate(tmp_path / "inbox", tmp_path / "truth.parquet", people=0)
