"""Fixtures of the quality tests: a real DuckDB warehouse file and the repository's source
config."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import SourcesConfig, load_sources
from pipelines.warehouse import connect

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def config() -> SourcesConfig:
    return load_sources(REPO / "sftp_config" / "sources.yaml")


@pytest.fixture
def con(tmp_path: Path):
    con = connect(tmp_path / "warehouse.duckdb")
    yield con
    con.close()


@pytest.fixture
def drop(tmp_path: Path, con, config):
    """`drop(name, rows, **write_options) -> file_id`: write a CRM file and run it through the
    engine."""
    from tests.quality.drops import ingest_file, write_crm

    def _drop(name: str, rows, source: str = "crm", cfg: SourcesConfig | None = None, **kw) -> str:
        path = write_crm(tmp_path / "inbox" / source / name, rows, **kw)
        return ingest_file(con, cfg or config, source, path, tmp_path / "landing")

    return _drop
