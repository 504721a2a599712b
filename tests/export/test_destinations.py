"""Every destination `type` the config accepts has exactly one implementation in the registry."""

from __future__ import annotations

import typing

from pipelines.config import Destination, LocalDestination, SftpDestination
from pipelines.export.destinations import DESTINATIONS, destination_of


def _config_types() -> set[str]:
    models = typing.get_args(typing.get_args(Destination)[0])
    return {typing.get_args(m.model_fields["type"].annotation)[0] for m in models}


def test_registry_matches_the_config_types():
    assert _config_types() == {"local", "sftp", "email"}
    assert set(DESTINATIONS) == _config_types()


def test_lookup_by_type_describes_without_secrets():
    sftp = SftpDestination(type="sftp", location="sftp://u@host:22/in")
    assert destination_of(sftp).describe(sftp) == "sftp://u@host:22/in"
    assert destination_of(sftp).kind == "sftp"
    assert destination_of(LocalDestination(type="local")).describe(
        LocalDestination(type="local")
    ) == ("outbox")
