"""The source loop: where each source lives, which of its files are ready, and archiving them.

Plain functions over the sources config and the project paths; the Dagster sensor and
`crmclean run` both call `ready_drops` and keep its state in their cursor.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pipelines.config import SourcesConfig
from pipelines.ingest.discover import (
    discover,
    listing_patterns,
    parse_partition_key,
    partition_key,
)
from pipelines.settings import Paths
from pipelines.transport import TransportAuthError, TransportError, open_transport


def source_location(cfg: SourcesConfig, paths: Paths, source_name: str) -> str:
    """The source's `location` (an sftp:// URL or a folder), default `<inbox>/<source>`."""
    source = cfg.sources[source_name]
    return source.location or str(paths.inbox / source_name)


@dataclass
class ReadyDrops:
    keys: list[str]  # one partition key per ready file
    state: dict  # the cursor state after this listing
    problems: list[str] = field(default_factory=list)  # sources that could not be listed


def ready_drops(
    cfg: SourcesConfig, paths: Paths, state: dict, now: float | None = None
) -> ReadyDrops:
    """List every source and return the files that are complete and not yet requested.

    A source that cannot be reached is skipped and named in `problems`; refused credentials or
    a changed host key raise, so they fail loudly instead of skipping quietly.
    """
    state = dict(state)
    keys: list[str] = []
    problems: list[str] = []
    for name, source in cfg.sources.items():
        location = source_location(cfg, paths, name)
        try:
            transport = open_transport(location, source.sftp, config_dir=paths.config_dir)
            try:
                listing = transport.list(listing_patterns(source.patterns, source.done_marker))
            finally:
                transport.close()
        except TransportAuthError:
            raise
        except TransportError as e:
            problems.append(f"{name}: {e}")
            continue
        ready, state[name] = discover(
            listing,
            state.get(name),
            settle_seconds=cfg.settle_of(name),
            done_marker=source.done_marker,
            now=time.time() if now is None else now,
        )
        keys += [partition_key(name, f) for f in ready]
    return ReadyDrops(keys, state, problems)


def archive_remote(cfg: SourcesConfig, paths: Paths, key: str) -> None:
    """After a successful load, move the remote file to `processed/` when the source asks."""
    source_name, name, _ = parse_partition_key(key)
    source = cfg.sources[source_name]
    if source.after_load != "move_to_processed":
        return
    location = source_location(cfg, paths, source_name)
    with open_transport(location, source.sftp, config_dir=paths.config_dir) as t:
        if t.exists(name):
            t.move(name, f"processed/{name}")
        if source.done_marker and t.exists(name + source.done_marker):
            t.move(name + source.done_marker, f"processed/{name}{source.done_marker}")
