"""What every destination type implements, and what an export hands it.

A destination type (`local`, `sftp`, `email`, ...) is one class with `deliver`: it gets the
export's files and a `DeliveryContext`, delivers every file or raises, and returns where each
file went (file name -> location, for `export_log.location`). Types are looked up by the config
`type` in `pipelines.export.destinations.DESTINATIONS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pipelines.config import ExportsConfig, Segment
from pipelines.export.files import WrittenFile, write_manifest


@dataclass
class DeliveryContext:
    """One segment's export, as far as a destination needs to know it."""

    name: str  # the segment's name
    segment: Segment
    config: ExportsConfig
    now: datetime  # local export time (file names, manifests)
    outbox: Path
    stage: Path  # a private work folder for this destination (archives, attachments)
    config_dir: Path | None = None  # for known_hosts and other files named in the config
    quality_report: Path | None = None  # the latest HTML quality report, if any
    summary: dict[str, Any] = field(default_factory=dict)  # rows, previous, added, ... excluded
    quality: Callable[[], list[str]] = list  # the quality summary lines, read only when asked


class Destination(Protocol):
    kind: str  # shown as the asset's kind in the Dagster UI: file, sftp, email

    def deliver(
        self, dest: Any, files: list[WrittenFile], context: DeliveryContext
    ) -> dict[str, str]:
        """Deliver every file to `dest` (its config model) or raise; file name -> location."""
        ...

    def describe(self, dest: Any) -> str:
        """A short, secret-free description for messages."""
        ...


def with_manifests(
    files: list[WrittenFile], context: DeliveryContext
) -> list[tuple[WrittenFile, Path | None]]:
    """Each file with its manifest (`segment.manifest`), written next to it; None without."""
    seg = context.segment
    if seg.manifest == "none":
        return [(f, None) for f in files]
    return [
        (
            f,
            write_manifest(
                f, seg.manifest, segment=context.name, mode=seg.format.mode, created_at=context.now
            ),
        )
        for f in files
    ]


def put_all(transport, files: list[WrittenFile], context: DeliveryContext, where: str):
    """Every file through `transport`, its manifest after it (a manifest means "complete")."""
    out = {}
    for f, manifest in with_manifests(files, context):
        transport.put(f.path, f.name)
        if manifest is not None:
            transport.put(manifest, manifest.name)
        out[f.name] = f"{where.rstrip('/')}/{f.name}"
    return out
