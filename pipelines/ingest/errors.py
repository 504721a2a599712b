"""Errors of a whole file: they name the file (and line and field where there is one)."""

from __future__ import annotations


class FileRejected(ValueError):
    """The file cannot be loaded at all (missing required column, undecodable bytes, empty)."""

    def __init__(
        self, file_name: str, reason: str, *, line: int | None = None, field: str | None = None
    ):
        where = file_name
        if line is not None:
            where += f", line {line}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {reason}")
        self.file_name = file_name
        self.reason = reason
        self.line = line
        self.field = field
