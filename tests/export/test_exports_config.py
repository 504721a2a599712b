"""exports.yaml mistakes are reported with the file, the key and the reason."""

from __future__ import annotations

import pytest

from pipelines.config import ConfigError, load_exports


@pytest.mark.parametrize(
    "segment_yaml, expected",
    [
        ("format: {mode: delta}", "segments.s: format.mode: delta needs customer_id in columns"),
        ("schedule: daily", "segments.s.schedule: 'daily': a cron schedule has five fields"),
        ("timezone: Europe/Amsterdm", "segments.s.timezone: 'Europe/Amsterdm': unknown time zone"),
        (
            "format: {delimiter: ';;'}",
            "segments.s.format.delimiter: ';;': the delimiter must be one character",
        ),
        (
            "format: {encoding: latin-1}",
            "segments.s.format.encoding: Input should be 'utf-8', 'utf-8-sig' or 'cp1252'",
        ),
        ("manifest: xml", "segments.s.manifest: Input should be 'none', 'json' or 'done'"),
        (
            "guards: {min_rows: -1}",
            "segments.s.guards.min_rows: Input should be greater than or equal to 0",
        ),
        ("requires_optin: false", "segments.s.requires_optin: unknown key"),
    ],
)
def test_segment_mistakes_are_named(tmp_path, segment_yaml, expected):
    path = tmp_path / "exports.yaml"
    path.write_text(
        f"segments:\n  s:\n    filter: 'true'\n    columns: [email]\n    {segment_yaml}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_exports(path)
    assert f"{path}: {expected}" in str(err.value)


def test_destination_mistakes_are_named(tmp_path):
    path = tmp_path / "exports.yaml"
    path.write_text("destinations:\n  box: {type: ftp}\nsegments: {}\n")
    with pytest.raises(
        ConfigError, match="destinations.box: Input tag 'ftp' found using 'type' does not match"
    ):
        load_exports(path)


def test_file_name_and_subject_templates_are_checked(tmp_path):
    path = tmp_path / "exports.yaml"
    path.write_text(
        "segments:\n  s:\n    filter: 'true'\n    columns: [email]\n"
        "    file_name: '{segmnt}_{date:%Y}.csv'\n"
    )
    with pytest.raises(
        ConfigError,
        match=r"segments.s.file_name: file_name '\{segmnt\}_\{date:%Y\}.csv': KeyError",
    ):
        load_exports(path)
    path.write_text(
        "destinations:\n  m: {type: email, to: [a@example.test], subject: '{segment} {count}'}\n"
        "segments: {}\n"
    )
    with pytest.raises(
        ConfigError, match=r"destinations.m.email.subject: .*fields are segment, rows, files"
    ):
        load_exports(path)
