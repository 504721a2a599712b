"""`type: email`: one message with the files (or a zip of them), counts and the quality summary."""

from __future__ import annotations

from pipelines.config import EmailDestination
from pipelines.export.destinations.base import DeliveryContext
from pipelines.export.files import WrittenFile
from pipelines.export.message import export_message
from pipelines.file_names import render_file_name
from pipelines.transport.mail import deliver_mail


class Email:
    kind = "email"

    def deliver(
        self, dest: EmailDestination, files: list[WrittenFile], context: DeliveryContext
    ) -> dict[str, str]:
        """Every file travels in the same message, so every file went to the same place."""
        seg = context.segment
        context.stage.mkdir(parents=True, exist_ok=True, mode=0o700)
        stem = render_file_name(
            seg.file_name, segment=context.name, now=context.now, mode=seg.format.mode
        ).rsplit(".", 1)[0]
        message = export_message(
            dest,
            context.name,
            seg,
            context.summary,
            files,
            context.quality(),
            work_dir=context.stage,
            zip_name=stem + ".zip",
            quality_report=context.quality_report,
        )
        where = deliver_mail(context.config.smtp, message, context.outbox)
        return {f.name: where for f in files}

    def describe(self, dest: EmailDestination) -> str:
        return f"email ({len(dest.to)} recipients)"
