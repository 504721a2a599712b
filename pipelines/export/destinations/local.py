"""`type: local`: a folder on this machine, by default the private outbox."""

from __future__ import annotations

import os
from pathlib import Path

from pipelines.config import LocalDestination
from pipelines.export.destinations.base import DeliveryContext, put_all
from pipelines.export.files import WrittenFile
from pipelines.transport import LocalTransport


class Local:
    kind = "file"

    def deliver(
        self, dest: LocalDestination, files: list[WrittenFile], context: DeliveryContext
    ) -> dict[str, str]:
        """Into `dest.path`, or the embedded default `<outbox>/<segment>/`; owner-only."""
        root = Path(dest.path) if dest.path else context.outbox / context.name
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        out = put_all(LocalTransport(root), files, context, str(root))
        if not dest.path:  # the embedded outbox is private; a configured folder keeps its rules
            for f in files:
                os.chmod(root / f.name, 0o600)
        return out

    def describe(self, dest: LocalDestination) -> str:
        return dest.path or "outbox"
