"""Where crmclean keeps its files, from environment variables with embedded defaults.

Everything lives under one data directory (default `./data`): the inbox of the local sources,
the landing archive, the DuckDB warehouse, the outbox and the reports. Tests and operators move
it all at once with `CRMCLEAN_DATA_DIR`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paths:
    data_dir: Path
    config_dir: Path

    @classmethod
    def from_env(cls) -> Paths:
        data = Path(os.environ.get("CRMCLEAN_DATA_DIR", "data"))
        config = Path(os.environ.get("CRMCLEAN_CONFIG_DIR", "sftp_config"))
        return cls(data_dir=data.absolute(), config_dir=config.absolute())

    @property
    def warehouse(self) -> Path:
        return Path(os.environ.get("CRMCLEAN_WAREHOUSE", self.data_dir / "warehouse.duckdb"))

    @property
    def inbox(self) -> Path:
        return self.data_dir / "inbox"

    @property
    def landing(self) -> Path:
        return self.data_dir / "landing"

    @property
    def outbox(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def reports(self) -> Path:
        return self.data_dir / "reports"

    @property
    def sources_file(self) -> Path:
        return self.config_dir / "sources.yaml"

    @property
    def exports_file(self) -> Path:
        return self.config_dir / "exports.yaml"

    @property
    def overrides_file(self) -> Path:
        return self.config_dir / "match_overrides.yaml"


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) readable by the owner only: this is personal data.

    Only folders created here are restricted: an existing folder (say `/tmp`, or a data folder the
    operator prepared) keeps its permissions, so pointing the warehouse at `/tmp/x.duckdb` never
    locks everybody else out of `/tmp`.
    """
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)  # mkdir's mode is masked by the umask
    return path


def private_umask() -> None:
    """Make every file this process creates owner-only (0600 files, 0700 folders)."""
    os.umask(0o077)
