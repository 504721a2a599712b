"""`type: sftp`: an SFTP server, with the host-key and secret rules of the sources."""

from __future__ import annotations

from pipelines.config import SftpDestination
from pipelines.export.destinations.base import DeliveryContext, put_all
from pipelines.export.files import WrittenFile
from pipelines.transport import open_transport


class Sftp:
    kind = "sftp"

    def deliver(
        self, dest: SftpDestination, files: list[WrittenFile], context: DeliveryContext
    ) -> dict[str, str]:
        """Through the sources' transport (pipelines/transport/sftp.py): temporary name, rename."""
        transport = open_transport(dest.location, dest.sftp, config_dir=context.config_dir)
        try:
            return put_all(transport, files, context, dest.location)
        finally:
            transport.close()

    def describe(self, dest: SftpDestination) -> str:
        return dest.location
