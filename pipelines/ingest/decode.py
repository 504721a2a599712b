"""Turn a landed file into plain UTF-8 text that DuckDB's CSV reader can take.

Unpacks `.gz` and `.zip`, then decodes strictly: UTF-8 (BOM stripped) if every byte is valid
UTF-8, else cp1252, unless the source names an encoding. No statistical guessing that turns
`Västerås` into `Västerĺs`; charset-normalizer is only asked for a hint when both fail.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pipelines.ingest.errors import FileRejected

DELIMITERS = ",;\t|"


@dataclass(frozen=True)
class Decoded:
    path: Path  # UTF-8 text, no BOM
    encoding: str  # what the source bytes were
    delimiter: str
    newline: str  # "\r\n" or "\n"
    lines: int = 0  # physical lines (a last line without a newline counts)


def _raw_bytes(path: Path, display_name: str) -> bytes:
    name = path.name.lower()
    if name.endswith(".gz"):
        try:
            return gzip.decompress(path.read_bytes())
        except (OSError, EOFError) as e:
            raise FileRejected(display_name, f"not a valid gzip file ({e})") from None
    if name.endswith(".zip"):
        try:
            with zipfile.ZipFile(path) as zf:
                members = [m for m in zf.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX/")]
                if len(members) != 1:
                    raise FileRejected(
                        display_name, f"a zip drop must hold exactly one data file, found {len(members)}"
                    )
                return zf.read(members[0])
        except zipfile.BadZipFile as e:
            raise FileRejected(display_name, f"not a valid zip file ({e})") from None
    return path.read_bytes()


def _decode(data: bytes, encoding: str, display_name: str) -> tuple[str, str]:
    if encoding != "auto":
        enc = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
        try:
            return data.decode(enc), encoding
        except UnicodeDecodeError as e:
            line = data.count(b"\n", 0, e.start) + 1
            raise FileRejected(
                display_name, f"byte 0x{data[e.start]:02x} at offset {e.start} is not valid {encoding}", line=line
            ) from None
    try:
        return data.decode("utf-8-sig"), "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as e:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:65536]).best()
        hint = f"; it looks like {best.encoding}: set `encoding` for this source" if best else ""
        line = data.count(b"\n", 0, e.start) + 1
        raise FileRejected(display_name, f"neither UTF-8 nor cp1252 (offset {e.start}){hint}", line=line) from None


def sniff_delimiter(text: str, configured: str) -> str:
    if configured != "auto":
        return configured
    sample = text[:65536]
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = sample.split("\n", 1)[0]
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def decode_to_utf8(path: Path, dest: Path, *, encoding: str, delimiter: str, display_name: str) -> Decoded:
    """Write `path` as UTF-8 to `dest`, returning what was detected."""
    data = _raw_bytes(path, display_name)
    if not data.strip():
        raise FileRejected(display_name, "the file is empty")
    text, used = _decode(data, encoding, display_name)
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise FileRejected(display_name, "NUL bytes: this is not a text file (or it is UTF-16)", line=line)
    newline = "\r\n" if "\r\n" in text[:65536] else "\n"
    with io.open(dest, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    return Decoded(path=dest, encoding=used, delimiter=sniff_delimiter(text, delimiter), newline=newline, lines=lines)
