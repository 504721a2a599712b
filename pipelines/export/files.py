"""Write segment files: CSV safe to open in a spreadsheet, manifests, zip archives.

File names come from `pipelines.file_names.render_file_name`.

The CSV is written by DuckDB (`COPY`), with every value formatted in SQL first:
- dates and timestamps with the segment's `date_format` / `datetime_format`;
- free text that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or
  carriage return) is prefixed with `'`, unless the whole value is a plain number such as an E.164
  phone `+31612345678`: typed values are written as they are, so they stay importable;
- header names renamed per `format.header`.
DuckDB writes UTF-8; a BOM is prepended for `utf-8-sig`, and `cp1252` is transcoded in chunks
(characters cp1252 lacks are transliterated, e.g. `Ĳ` -> `IJ`, or become `?`, and counted).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
import shutil
import threading
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.config import ExportFormat
from pipelines.warehouse import sql_literal

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = r"[+-]?[0-9]+(\.[0-9]+)?"  # a number or an E.164 phone: no formula, written as is
RISKY_SQL = r"^[=+\-@\t\r]"
PLAIN_NUMBER_SQL = "^" + PLAIN_NUMBER + "$"
CHUNK = 1 << 20


def neutralise(value: str) -> str:
    """Prefix free text that a spreadsheet would run as a formula (CSV injection)."""
    if value.startswith(FORMULA_START) and not re.fullmatch(PLAIN_NUMBER, value):
        return "'" + value
    return value


def sql_name(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


@dataclass
class WrittenFile:
    path: Path
    part: str
    rows: int
    sha256: str
    size_bytes: int
    replaced_characters: int = 0

    @property
    def name(self) -> str:
        return self.path.name


def column_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return {name: typ for name, typ, *_ in con.execute(f"DESCRIBE {table}").fetchall()}


def formatted_columns(types: dict[str, str], columns: list[str], fmt: ExportFormat) -> list[str]:
    """SQL select items that format each exported column for the file (see module docstring)."""
    out = []
    for col in columns:
        q = sql_name(col)
        typ = types[col].upper()
        if typ == "DATE":
            expr = f"strftime({q}, {sql_literal(fmt.date_format)})"
        elif typ.startswith("TIMESTAMP"):
            expr = f"strftime({q}, {sql_literal(fmt.datetime_format)})"
        elif typ == "VARCHAR":
            expr = (
                f"CASE WHEN regexp_matches({q}, {sql_literal(RISKY_SQL)})"
                f" AND NOT regexp_matches({q}, {sql_literal(PLAIN_NUMBER_SQL)}) "
                f"THEN '''' || {q} ELSE {q} END"
            )
        else:
            expr = q
        out.append(f"{expr} AS {sql_name(fmt.header.get(col, col))}")
    return out


def write_csv(
    con: duckdb.DuckDBPyConnection, query: str, path: Path, fmt: ExportFormat, *, part: str = ""
) -> WrittenFile:
    """Write the rows of `query` (already formatted) to `path` atomically; sha256 of the final
    bytes."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    raw = path.with_name("." + path.name + ".utf8.part")
    tmp = path.with_name("." + path.name + ".part")
    try:
        options = (
            f"FORMAT csv, HEADER true, DELIMITER {sql_literal(fmt.delimiter)}, "
            "QUOTE '\"', NEW_LINE '\r\n'"
        )
        rows = con.execute(f"COPY ({query}) TO {sql_literal(str(raw))} ({options})").fetchone()[0]
        replaced = _encode(raw, tmp, fmt.encoding)
        digest = hashlib.sha256()
        with open(tmp, "rb") as fh:
            while block := fh.read(CHUNK):
                digest.update(block)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    finally:
        raw.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    return WrittenFile(
        path=path,
        part=part,
        rows=int(rows),
        sha256=digest.hexdigest(),
        size_bytes=path.stat().st_size,
        replaced_characters=replaced,
    )


_replaced = threading.local()


def _transliterate(err: UnicodeEncodeError) -> tuple[str, int]:
    """Codec error handler: `Ĳ` -> `IJ`, `ł` -> `?`; counts what it replaced."""
    _replaced.count = getattr(_replaced, "count", 0) + (err.end - err.start)
    out = []
    for ch in err.object[err.start : err.end]:
        alt = unicodedata.normalize("NFKD", ch).encode(err.encoding, "ignore").decode(err.encoding)
        out.append(alt or "?")
    return "".join(out), err.end


codecs.register_error("crmclean_transliterate", _transliterate)


def _encode(src: Path, dest: Path, encoding: str) -> int:
    """Copy UTF-8 `src` to `dest` in `encoding`; returns how many characters had to be replaced."""
    if encoding == "utf-8":
        os.replace(src, dest)
        return 0
    if encoding == "utf-8-sig":
        with open(src, "rb") as fr, open(dest, "wb") as fw:
            fw.write(codecs.BOM_UTF8)
            shutil.copyfileobj(fr, fw, CHUNK)
        return 0
    _replaced.count = 0
    with open(src, encoding="utf-8", newline="") as fr, open(dest, "wb") as fw:
        while text := fr.read(CHUNK):
            fw.write(text.encode(encoding, "crmclean_transliterate"))
    return _replaced.count


def write_manifest(
    file: WrittenFile, kind: str, *, segment: str, mode: str, created_at: datetime
) -> Path:
    """`<file>.json` (JSON) or `<file>.done` (key=value lines): file name, rows, sha256."""
    info = {
        "file": file.name,
        "segment": segment,
        "mode": mode,
        "rows": file.rows,
        "size_bytes": file.size_bytes,
        "sha256": file.sha256,
        "created_at": created_at.isoformat(timespec="seconds"),
    }
    if kind == "json":
        path = file.path.with_name(file.name + ".json")
        text = json.dumps(info, indent=2) + "\n"
    else:
        path = file.path.with_name(file.name + ".done")
        text = "".join(f"{k}={v}\n" for k, v in info.items())
    path.write_text(text, encoding="utf-8")
    os.chmod(path, 0o600)
    return path


def zip_files(files: list[Path], dest: Path) -> Path:
    """One deflated zip archive holding `files` under their own names."""
    tmp = dest.with_name("." + dest.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for f in files:
            zf.write(f, arcname=f.name)
    os.chmod(tmp, 0o600)
    os.replace(tmp, dest)
    return dest
