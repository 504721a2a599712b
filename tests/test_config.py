"""A broken config gives an error that names the file, the key and what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import ConfigError, load_exports, load_sources

REPO = Path(__file__).resolve().parents[1]


def test_shipped_config_is_valid():
    sources = load_sources(REPO / "sftp_config" / "sources.yaml")
    exports = load_exports(REPO / "sftp_config" / "exports.yaml")
    assert set(sources.sources) >= {"crm", "webshop"}
    assert sources.sources["crm"].encoding == "cp1252"
    assert sources.sources["crm"].delimiter == ";"
    assert "newsletter" in exports.segments


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "sources.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "yaml_text, expected",
    [
        (
            "sources:\n  crm:\n    columns: {source_record_id: id}\n    delimitr: ';'\n",
            "sources.crm.delimitr: unknown key",
        ),
        (
            "sources:\n  crm:\n    columns: {source_record_id: id}\n    delimiter: ':'\n",
            "sources.crm.delimiter: Input should be",
        ),
        (
            "sources:\n  crm:\n    columns: {source_record_id: id, shoe_size: Maat}\n",
            "unknown field(s) shoe_size",
        ),
        (
            "sources:\n  crm:\n    columns: {email: Email}\n",
            "required: field(s) source_record_id have no column mapping",
        ),
        (
            "sources:\n  crm:\n    columns: {source_record_id: id}\n"
            "    default_country: Nederland\n",
            "not an ISO 3166-1 alpha-2 code",
        ),
        (
            "sources:\n  crm:\n    columns: {source_record_id: id}\n    encoding: klingon\n",
            "unknown encoding 'klingon'",
        ),
        (
            "sources:\n  CRM Export:\n    columns: {source_record_id: id}\n",
            "String should match pattern",
        ),
        ("defaults: {country: NL}\n", "sources: required key is missing"),
        ("sources:\n  crm:\n    columns: [a, b\n", "line 4"),
    ],
)
def test_broken_sources_yaml_names_file_key_and_reason(tmp_path, yaml_text, expected):
    path = write(tmp_path, yaml_text)
    with pytest.raises(ConfigError) as err:
        load_sources(path)
    message = str(err.value)
    assert str(path) in message
    assert expected in message


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="sources.yaml: file not found"):
        load_sources(tmp_path / "sources.yaml")


def test_export_to_unknown_destination(tmp_path):
    p = tmp_path / "exports.yaml"
    p.write_text(
        "segments:\n  nl:\n    filter: \"country = 'NL'\"\n    columns: [customer_id]\n"
        "    destinations: [mailchimp]\n"
    )
    with pytest.raises(
        ConfigError, match="segments.nl.destinations: unknown destination 'mailchimp'"
    ):
        load_exports(p)


def test_cli_reports_config_error_with_exit_code_2(project, capsys):
    from assets.cli import main

    (project.config_dir / "sources.yaml").write_text("sources:\n  crm:\n    colums: {}\n")
    assert main(["validate-config"]) == 2
    err = capsys.readouterr().err
    assert "sources.yaml: sources.crm.colums: unknown key" in err


def test_bad_segment_filter_is_named(project, capsys):
    from assets.cli import main

    (project.config_dir / "exports.yaml").write_text(
        'segments:\n  vip:\n    filter: "shoe_size > 40"\n    columns: [customer_id]\n'
    )
    assert main(["validate-config"]) == 2
    err = capsys.readouterr().err
    assert "segments.vip" in err and "shoe_size" in err
