"""Where export files go: one class per destination type, looked up by the config `type`.

Adding a destination type: its config model in `pipelines/config.py` (`Destination`), a module
here with a class implementing `base.Destination`, and one entry in `DESTINATIONS`.
"""

from __future__ import annotations

from pipelines.export.destinations.base import DeliveryContext, Destination
from pipelines.export.destinations.email import Email
from pipelines.export.destinations.local import Local
from pipelines.export.destinations.sftp import Sftp

DESTINATIONS: dict[str, Destination] = {
    "local": Local(),
    "sftp": Sftp(),
    "email": Email(),
}

__all__ = ["DESTINATIONS", "Destination", "DeliveryContext", "destination_of"]


def destination_of(dest) -> Destination:
    """The implementation of a destination's config model, by its `type`."""
    return DESTINATIONS[dest.type]
