"""Overrides always win; settings files are optional and their mistakes are reported clearly."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from pipelines.config import ConfigError
from pipelines.match import MatchSettings, explain, load_match_settings
from pipelines.match.overrides import load_overrides
from tests.match.conftest import NOW, add_contacts, contact, customer_of, run
from tests.match.town import town

TWIN = dict(
    last_name="Bakker",
    birth_date="1999-12-01",
    street="Julianastraat",
    house_number="8",
    postcode="2311 XY",
    city="Leiden",
    country="NL",
    email="bakker.thuis@kpnmail.nl",
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_never_merge_separates_an_obvious_duplicate_and_always_merge_joins_strangers(
    warehouse, tmp_path
):
    rows = town()
    add_contacts(warehouse, rows)
    run(warehouse)
    in_webshop = {r["source_record_id"][1:] for r in rows if r["source"] == "webshop"}
    pair = min(in_webshop, key=int)
    assert customer_of(warehouse, "crm", f"T{pair}") == customer_of(
        warehouse, "webshop", f"W{pair}"
    )
    stranger_a, stranger_b = (
        f"T{p}" for p in sorted({str(i) for i in range(300)} - in_webshop, key=int)[:2]
    )
    assert customer_of(warehouse, "crm", stranger_a) != customer_of(warehouse, "crm", stranger_b)

    overrides = write(
        tmp_path / "match_overrides.yaml",
        f"""
never_merge:
  - [crm:T{pair}, webshop:W{pair}]   # the operator knows better
always_merge:
  - [crm:{stranger_a}, crm:{stranger_b}]
""",
    )
    result = run(warehouse, overrides=overrides, now=NOW + timedelta(days=1))
    assert customer_of(warehouse, "crm", f"T{pair}") != customer_of(
        warehouse, "webshop", f"W{pair}"
    )
    joined = customer_of(warehouse, "crm", stranger_a)
    assert customer_of(warehouse, "crm", stranger_b) == joined
    assert result.merged == 1 and result.split == 1
    rule = warehouse.execute(
        "SELECT rule FROM match_evidence WHERE customer_id = ?", [joined]
    ).fetchall()
    assert rule == [("override: always_merge",)]
    assert "override: always_merge" in explain(warehouse, joined)

    # the file removed: the computed decisions come back
    run(warehouse, overrides=None, now=NOW + timedelta(days=2))
    assert customer_of(warehouse, "crm", f"T{pair}") == customer_of(
        warehouse, "webshop", f"W{pair}"
    )
    assert customer_of(warehouse, "crm", stranger_a) != customer_of(warehouse, "crm", stranger_b)


def test_never_merge_holds_through_a_bridging_record(warehouse, tmp_path):
    # Two records the matcher would join (same name, e-mail, address); a never-merge between
    # them also refuses a third record that would join both.
    add_contacts(
        warehouse,
        town(100)
        + [
            contact("crm", "B1", first_name="Lieke", **TWIN),
            contact("webshop", "BW1", first_name="Lieke", **TWIN),
            contact("webshop", "BW2", first_name="Lieke", **TWIN),
        ],
    )
    overrides = write(tmp_path / "o.yaml", "never_merge:\n  - [crm:B1, webshop:BW1]\n")
    run(warehouse, overrides=overrides)
    b1, bw1, bw2 = (
        customer_of(warehouse, s, r)
        for s, r in (("crm", "B1"), ("webshop", "BW1"), ("webshop", "BW2"))
    )
    assert b1 != bw1
    assert bw2 in (b1, bw1)


def test_overrides_file_errors_name_the_file_and_entry(tmp_path):
    with pytest.raises(ConfigError, match=r"o.yaml: never_merge: .*exactly two records"):
        load_overrides(write(tmp_path / "o.yaml", "never_merge:\n  - [crm:1]\n"))
    with pytest.raises(ConfigError, match=r"<source>:<source_record_id>"):
        load_overrides(write(tmp_path / "o.yaml", "always_merge:\n  - [crm:1, webshop]\n"))
    with pytest.raises(ConfigError, match="both never_merge and always_merge"):
        load_overrides(
            write(
                tmp_path / "o.yaml",
                "never_merge: [[crm:1, crm:2]]\nalways_merge: [[crm:2, crm:1]]\n",
            )
        )
    with pytest.raises(ConfigError, match="contradicts always_merge"):
        load_overrides(
            write(
                tmp_path / "o.yaml",
                "never_merge: [[crm:1, crm:3]]\nalways_merge: [[crm:1, crm:2], [crm:2, crm:3]]\n",
            )
        )
    with pytest.raises(ConfigError, match="unknown key"):
        load_overrides(write(tmp_path / "o.yaml", "never_merges: []\n"))


def test_settings_default_when_absent_and_clear_errors(tmp_path):
    assert load_match_settings(tmp_path / "missing.yaml") == MatchSettings()
    assert (
        load_match_settings(Path(__file__).parents[2] / "sftp_config" / "matching.yaml")
        == MatchSettings()
    )
    s = load_match_settings(write(tmp_path / "m.yaml", "thresholds:\n  link_probability: 0.5\n"))
    assert s.thresholds.link_probability == 0.5 and s.blocking == MatchSettings().blocking
    with pytest.raises(ConfigError, match=r"m.yaml: blocking: .*unknown rule\(s\) surname"):
        load_match_settings(write(tmp_path / "m.yaml", "blocking:\n  rules: [email, surname]\n"))
    with pytest.raises(ConfigError, match=r"m.yaml: thresholds.lnk: unknown key"):
        load_match_settings(write(tmp_path / "m.yaml", "thresholds:\n  lnk: 3\n"))
    with pytest.raises(ConfigError, match=r"m.yaml: survivorship.default.0: "):
        load_match_settings(write(tmp_path / "m.yaml", "survivorship:\n  default: [newest]\n"))
    with pytest.raises(ConfigError, match=r"term_frequency: unknown comparison\(s\) postcode"):
        load_match_settings(write(tmp_path / "m.yaml", "term_frequency: [postcode]\n"))


def test_a_stricter_link_threshold_rematches_everything(warehouse, tmp_path):
    add_contacts(warehouse, town(100))
    first = run(warehouse)
    assert first.full_run
    assert not run(warehouse).full_run
    strict = MatchSettings.model_validate({"thresholds": {"link_probability": 1 - 1e-15}})
    result = run(warehouse, settings=strict, now=NOW + timedelta(days=1))
    assert result.full_run and result.records_matched == result.contacts
    assert result.customers == result.contacts  # no pair is that certain
    assert result.split > 0
