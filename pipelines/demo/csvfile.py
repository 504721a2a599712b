"""Delimited text files written the way each source system writes them, atomically.

Rows are joined column-wise with pyarrow (no Python loop per row). A file appears only complete:
it is written to a temporary file in the same folder, flushed, made owner-only (0600) and then
renamed, so a sensor never picks up half a drop.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def quote(values: pa.Array) -> pa.Array:
    """Always quoted, inner quotes doubled (RFC 4180)."""
    return pc.binary_join_element_wise('"', pc.replace_substring(values, '"', '""'), '"', "")


def join_fields(columns: list[pa.Array], delimiter: str, quote_all: bool) -> pa.Array:
    """One line of text per row (without line end). Fields are quoted always, or when needed."""
    if quote_all:
        fields = [quote(c) for c in columns]
    else:
        special = "[" + re.escape(delimiter) + '"\r\n]'
        fields = [pc.if_else(pc.match_substring_regex(c, special), quote(c), c) for c in columns]
    return pc.binary_join_element_wise(*fields, delimiter)


def header_line(names: list[str], delimiter: str, quote_all: bool) -> str:
    return delimiter.join(f'"{n}"' if quote_all else n for n in names)


def encode_lines(header: str, lines: pa.Array, *, eol: str, encoding: str, bom: bool) -> bytes:
    """Header and rows as the bytes of the file."""
    big = pa.large_string()  # 64-bit offsets: a file may exceed 2 GB
    ended = pc.binary_join_element_wise(lines.cast(big), pa.scalar(eol, big), pa.scalar("", big))
    offsets = np.frombuffer(ended.buffers()[1], dtype=np.int64)
    body = ended.buffers()[2]
    text_bytes = (
        body.slice(int(offsets[0]), int(offsets[len(ended)] - offsets[0])).to_pybytes()
        if len(ended)
        else b""
    )
    head = (header + eol).encode(encoding)
    if encoding.replace("-", "").lower() == "utf8":
        payload = head + text_bytes
        return (b"\xef\xbb\xbf" if bom else b"") + payload
    return head + text_bytes.decode("utf-8").encode(encoding)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file and a rename; the file is readable by owner
    only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
