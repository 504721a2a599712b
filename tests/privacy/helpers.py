"""Real drops through the real ingest steps (land, stage, load), without Dagster.

`identity_customers` stands in for the matcher where a test is about privacy rules, not matching:
one customer per source record, with its email and phone.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.config import SourcesConfig, load_sources
from pipelines.ingest.discover import partition_key
from pipelines.ingest.land import file_id_for, land
from pipelines.ingest.load import stage_drop
from pipelines.kinds import LoadContext, load_drop
from pipelines.kinds.contacts import load_contacts
from pipelines.settings import Paths
from pipelines.transport.local import LocalTransport


def config(paths: Paths) -> SourcesConfig:
    return load_sources(paths.sources_file)


def drop(
    paths: Paths,
    source: str,
    name: str,
    content: str | bytes,
    *,
    encoding: str = "utf-8",
    mtime: datetime | None = None,
) -> Path:
    """Write a file into the source's local inbox (optionally with a given export time)."""
    folder = paths.inbox / source
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    if mtime is not None:
        stamp = mtime.timestamp()
        os.utime(path, (stamp, stamp))
    return path


def ingest(
    con: duckdb.DuckDBPyConnection,
    paths: Paths,
    cfg: SourcesConfig,
    source: str,
    name: str,
    *,
    now: datetime | None = None,
) -> dict:
    """Land, stage and load one inbox file of `source`; returns the load's figures."""
    transport = LocalTransport(paths.inbox / source)
    remote = next(f for f in transport.list([name]) if f.name == name)
    key = partition_key(source, remote)
    land(
        con, transport, landing_root=paths.landing, source=source, remote=remote, partition_key=key
    )
    file_id = file_id_for(key)
    spec = cfg.sources[source]
    stage_drop(
        con, file_id=file_id, source_name=source, source=spec, tmp_root=paths.data_dir / "tmp"
    )
    if spec.kind == "contacts":
        r = load_contacts(
            con,
            file_id=file_id,
            source_name=source,
            source=spec,
            default_country=cfg.country_of(source),
        )
        return {"file_id": file_id, "rows": r.rows}
    return {
        "file_id": file_id,
        **load_drop(
            con,
            LoadContext(
                file_id=file_id,
                source_name=source,
                source=spec,
                config=cfg,
                paths=paths,
                now=now or datetime.now(UTC).replace(tzinfo=None),
            ),
        ),
    }


def identity_customers(con: duckdb.DuckDBPyConnection) -> None:
    """customers = one per contact (id `<source>:<record id>`), customer_sources linking them."""
    con.execute("DELETE FROM customers")
    con.execute("DELETE FROM customer_sources")
    con.execute(
        """INSERT INTO customers (customer_id, first_name, last_name, email, phone, email_status,
                                  phone_status, newsletter_opt_in, country)
           SELECT source || ':' || source_record_id, first_name, last_name, email, phone,
                  email_status, phone_status, newsletter_opt_in, country FROM contacts"""
    )
    con.execute(
        """INSERT INTO customer_sources (customer_id, source, source_record_id, match_score)
           SELECT source || ':' || source_record_id, source, source_record_id, 1.0 FROM contacts"""
    )
