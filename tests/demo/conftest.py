"""Shared demo drops for the tests: generated once per session, read back like a parser would."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipelines.demo import DemoSummary, generate

DAY = dt.date(2025, 11, 23)
PEOPLE = 2000
SOURCES_YAML = Path(__file__).resolve().parents[2] / "sftp_config" / "sources.yaml"


@dataclass
class Drop:
    summary: DemoSummary
    truth: pd.DataFrame
    raw: dict[str, bytes]  # source -> file bytes
    header: dict[str, list[str]]
    rows: dict[str, list[list[str]]]  # source -> parsed data rows, in file order


def source_config() -> dict:
    return yaml.safe_load(SOURCES_YAML.read_text(encoding="utf-8"))["sources"]


def decode(source: str, raw: bytes) -> str:
    encoding = source_config()[source]["encoding"]
    return raw.decode("utf-8-sig" if encoding == "auto" else encoding)


def parse(source: str, raw: bytes) -> tuple[list[str], list[list[str]]]:
    config = source_config()[source]
    reader = csv.reader(
        io.StringIO(decode(source, raw), newline=""), delimiter=config["delimiter"]
    )
    header, *rows = list(reader)
    return header, rows


def make_drop(folder: Path, people: int = PEOPLE, seed: int = 42, day: dt.date = DAY) -> Drop:
    summary = generate(
        folder / "inbox", folder / "truth.parquet", people=people, seed=seed, day=day
    )
    raw = {source: path.read_bytes() for source, path in summary.files.items()}
    parsed = {source: parse(source, data) for source, data in raw.items()}
    return Drop(
        summary=summary,
        truth=pd.read_parquet(summary.truth_path),
        raw=raw,
        header={s: h for s, (h, _) in parsed.items()},
        rows={s: r for s, (_, r) in parsed.items()},
    )


@pytest.fixture(scope="session")
def drop(tmp_path_factory) -> Drop:
    return make_drop(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="session")
def next_day_drop(tmp_path_factory) -> Drop:
    return make_drop(tmp_path_factory.mktemp("demo_next"), day=DAY + dt.timedelta(days=1))


@pytest.fixture(scope="session")
def big_drop(tmp_path_factory) -> Drop:
    """Ten times larger, so that the 0.1% broken rows come in every kind."""
    return make_drop(tmp_path_factory.mktemp("demo_big"), people=20_000)
