"""The one reader of landed files: which bytes are the data, and which encoding they are in.

Ingest (decode.py), the landed-file quality checks and the privacy scrub all read a drop through
this module, so they agree on every file: the same member, the same limits, the same encoding.

Bytes: `open_landed` streams a plain file, a `.gz`, or the one data member of a `.zip` (no
absolute or `..` member names), refusing an archive that unpacks past the source's limits.

Encoding: `choose_encoding` (a landed file) and `encoding_of` (bytes in memory) are the meaning
of a source's `encoding` setting. UTF-16 with a byte-order mark is read as UTF-16. `auto`: UTF-8
(BOM stripped) if every byte is valid UTF-8, else cp1252. A declared single-byte encoding (cp1252)
of a file that is valid UTF-8 with multi-byte characters is read as UTF-8 and noted, or refused,
per `utf8_in_declared_encoding`. Any other declared encoding is taken as it is. The whole file
decides, never a head of it: one non-UTF-8 byte at the end makes an `auto` file cp1252.
"""

from __future__ import annotations

import codecs
import gzip
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

from pipelines.ingest.errors import FileRejected

BLOCK = 1 << 20
# Why an empty file is refused: the quality check `file_not_empty` reports this refusal itself
# (every other one it leaves to `file_loads`).
EMPTY_FILE = "the file is empty"
SAMPLE = 65536  # the bytes the delimiter and line end are guessed from
MIN_UNPACK_ALLOWANCE = 16 << 20  # a tiny archive may always expand this far, whatever its ratio
SINGLE_BYTE = {
    "cp1252",
    "latin-1",
    "iso8859-1",
    "iso8859-15",
    "cp1250",
    "cp1257",
    "cp850",
    "mac-roman",
}


@dataclass(frozen=True)
class ReadLimits:
    """The per-source limits of reading one file (see `Source` in pipelines/config.py)."""

    quotechar: str = '"'
    max_quoted_lines: int = 50
    max_record_length: int = 1_000_000
    utf8_in_declared_encoding: str = "read_as_utf8"
    max_unpacked_bytes: int = 4_000_000_000
    max_unpack_ratio: float = 200

    @classmethod
    def of(cls, source) -> ReadLimits:
        return cls(
            quotechar=source.quotechar,
            max_quoted_lines=source.max_quoted_lines,
            max_record_length=source.max_record_length,
            utf8_in_declared_encoding=source.utf8_in_declared_encoding,
            max_unpacked_bytes=source.max_unpacked_bytes,
            max_unpack_ratio=source.max_unpack_ratio,
        )


@dataclass(frozen=True)
class Encoding:
    """How a file's bytes read as text."""

    codec: str  # decodes the bytes, dropping a byte-order mark (utf-8-sig, utf-16)
    name: str  # what the file is recorded as read with (ingest_log.encoding)
    note: str | None = None  # why this is not what the source declares
    bom: bytes = b""  # the byte-order mark the file starts with

    @property
    def exact_codec(self) -> str:
        """The codec that keeps a byte-order mark as U+FEFF: text decoded with it encodes back
        to the very same bytes, which is what rewriting a file needs."""
        name = codecs.lookup(self.codec).name
        if name == "utf-16":
            return "utf-16-be" if self.bom == codecs.BOM_UTF16_BE else "utf-16-le"
        if name == "utf-8-sig":
            return "utf-8"
        return self.codec


# ---------------------------------------------------------------------------------------------
# bytes: plain files, .gz and the .zip member, streamed


def _unsafe_member(name: str) -> bool:
    posix, win = PurePosixPath(name), PureWindowsPath(name)
    return (
        posix.is_absolute()
        or win.is_absolute()
        or bool(win.drive)
        or ".." in posix.parts
        or ".." in win.parts
    )


def _zip_member(
    zf: zipfile.ZipFile, display_name: str, limits: ReadLimits, packed: int
) -> zipfile.ZipInfo:
    members = [
        m for m in zf.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX/")
    ]
    for m in zf.infolist():
        if _unsafe_member(m.filename):
            raise FileRejected(
                display_name,
                f"zip member name {m.filename!r} is absolute or contains '..': refused",
            )
    if len(members) != 1:
        raise FileRejected(
            display_name, f"a zip drop must hold exactly one data file, found {len(members)}"
        )
    member = members[0]
    _check_unpacked(member.file_size, packed, display_name, limits)
    return member


def _check_unpacked(unpacked: int, packed: int, display_name: str, limits: ReadLimits) -> None:
    allowed_by_ratio = max(packed * limits.max_unpack_ratio, MIN_UNPACK_ALLOWANCE)
    if unpacked > limits.max_unpacked_bytes:
        raise FileRejected(
            display_name,
            f"the archive unpacks to more than {limits.max_unpacked_bytes:,} bytes "
            "(max_unpacked_bytes): refused",
        )
    if unpacked > allowed_by_ratio:
        raise FileRejected(
            display_name,
            f"the archive expands more than {limits.max_unpack_ratio:g} times its "
            f"{packed:,} bytes (max_unpack_ratio): refused as a possible zip bomb",
        )


@contextmanager
def open_landed(path: Path, display_name: str, limits: ReadLimits) -> Iterator[BinaryIO]:
    """The file's (unpacked) bytes as a stream: the file itself, its gzip content, or the one
    data member of a zip. A zip's unpacked size is checked against the limits here; a gzip's
    is only known once read: `choose_encoding` reads it all first and checks it, so call that
    before streaming a whole file."""
    name = path.name.lower()
    if name.endswith(".gz"):
        with gzip.open(path, "rb") as fh:
            yield fh
    elif name.endswith(".zip"):
        try:
            zf = zipfile.ZipFile(path)
        except zipfile.BadZipFile as e:
            raise FileRejected(display_name, f"not a valid zip file ({e})") from None
        with zf:
            member = _zip_member(zf, display_name, limits, path.stat().st_size)
            with zf.open(member) as fh:
                yield fh
    else:
        with open(path, "rb") as fh:
            yield fh


def _blocks(path: Path, display_name: str, limits: ReadLimits) -> Iterator[bytes]:
    """All of the file's unpacked bytes, block by block: refused past the unpack limits or when
    the archive is broken."""
    packed = path.stat().st_size
    archive = path.name.lower().endswith((".gz", ".zip"))
    size = 0
    with _broken_archive(path, display_name), open_landed(path, display_name, limits) as fh:
        while block := fh.read(BLOCK):
            size += len(block)
            if archive:
                _check_unpacked(size, packed, display_name, limits)
            yield block


@contextmanager
def _broken_archive(path: Path, display_name: str) -> Iterator[None]:
    """A .gz or .zip that is not one, or is cut short, is the file's fault: a clear refusal."""
    try:
        yield
    except (OSError, EOFError, zipfile.BadZipFile) as e:  # gzip.BadGzipFile is an OSError
        name = path.name.lower()
        if not name.endswith((".gz", ".zip")):
            raise
        kind = "zip" if name.endswith(".zip") else "gzip"
        raise FileRejected(display_name, f"not a valid {kind} file ({e})") from None


# ---------------------------------------------------------------------------------------------
# encoding: one pass over all the bytes decides


@dataclass
class _Inspection:
    sample: bytes = b""
    size: int = 0
    blank: bool = True
    utf8_error: tuple[int, int] | None = None  # (offset, line)
    non_ascii: bool = False


def _inspect(blocks: Iterable[bytes], check_utf8: bool) -> _Inspection:
    """A sample, whether the bytes are blank, and whether they are valid UTF-8."""
    out = _Inspection()
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    newlines = 0
    for block in blocks:
        if len(out.sample) < SAMPLE:
            out.sample += block[: SAMPLE - len(out.sample)]
        out.size += len(block)
        if out.blank and block.strip():
            out.blank = False
        if check_utf8 and out.utf8_error is None:
            if not out.non_ascii and not block.isascii():
                out.non_ascii = True
            try:
                decoder.decode(block)
            except UnicodeDecodeError as e:
                out.utf8_error = (
                    out.size - len(block) + e.start,
                    newlines + block.count(b"\n", 0, e.start) + 1,
                )
            newlines += block.count(b"\n")
    if check_utf8 and out.utf8_error is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            out.utf8_error = (out.size, newlines + 1)
    return out


def _nul_verdict(sample: bytes) -> str | None:
    """Why a file is refused whole for its NUL bytes: UTF-16 without BOM, or mostly NULs."""
    if not sample or sample.count(0) * 4 < len(sample):
        return None  # a few NULs: the rows holding them are rejected one by one
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if max(even, odd) >= 0.9 * (even + odd) and max(even, odd) * 3 >= len(sample) // 2:
        return (
            "NUL bytes in every other position: this looks like UTF-16 without a byte-order "
            "mark; save it as UTF-8"
        )
    if sample.count(0) * 2 >= len(sample):
        return "mostly NUL bytes: this is not a text file"
    return None


def _decide(
    head: bytes,
    inspect: Callable[[bool], _Inspection],
    encoding: str,
    display_name: str,
    limits: ReadLimits,
) -> Encoding:
    """The encoding of a file from its first bytes and `inspect(check_utf8)`, a pass over all
    of them (which also enforces the unpack limits)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not head.startswith(
        codecs.BOM_UTF32_LE
    ):
        inspect(False)  # the limits
        bom = head[:2]
        if encoding == "auto" or codecs.lookup(encoding).name.startswith("utf-16"):
            return Encoding("utf-16", "utf-16", bom=bom)
        note = (
            f"declared {encoding}, but the file starts with a UTF-16 byte-order mark: "
            "read as UTF-16"
        )
        return Encoding("utf-16", "utf-16", note, bom=bom)
    declared = "auto" if encoding == "auto" else codecs.lookup(encoding).name
    info = inspect(declared in ("auto", "utf-8") or declared in SINGLE_BYTE)
    if info.blank:
        raise FileRejected(display_name, EMPTY_FILE)
    verdict = _nul_verdict(info.sample)
    if verdict:
        line = info.sample.count(b"\n", 0, info.sample.index(0)) + 1
        raise FileRejected(display_name, verdict, line=line)
    bom = codecs.BOM_UTF8 if info.sample.startswith(codecs.BOM_UTF8) else b""
    if declared == "auto":
        if info.utf8_error is None:
            return Encoding("utf-8-sig", "utf-8-sig" if bom else "utf-8", bom=bom)
        return Encoding("cp1252", "cp1252")
    if declared == "utf-8":
        if info.utf8_error is not None:
            offset, line = info.utf8_error
            raise FileRejected(
                display_name, f"the byte at offset {offset} is not valid {encoding}", line=line
            )
        return Encoding("utf-8-sig", encoding, bom=bom)
    if declared in SINGLE_BYTE and info.utf8_error is None and info.non_ascii:
        if limits.utf8_in_declared_encoding == "refuse":
            raise FileRejected(
                display_name,
                f"declared {encoding}, but the file is valid UTF-8 with multi-byte characters: "
                "set `encoding: utf-8` for this source "
                "(or utf8_in_declared_encoding: read_as_utf8)",
            )
        note = (
            f"declared {encoding}, but the file is valid UTF-8 with multi-byte characters: "
            "read as UTF-8"
        )
        return Encoding("utf-8-sig", "utf-8-sig" if bom else "utf-8", note, bom=bom)
    return Encoding(encoding, encoding)


def choose_encoding(path: Path, encoding: str, display_name: str, limits: ReadLimits) -> Encoding:
    """The encoding of a landed file, read as `open_landed` reads it, for a source whose
    `encoding` setting is `encoding`. Refuses (`FileRejected`) an empty file, one that is
    mostly NUL bytes or UTF-16 without a byte-order mark, declared UTF-8 that is not, and an
    archive that is broken or unpacks past the limits."""
    with _broken_archive(path, display_name), open_landed(path, display_name, limits) as fh:
        head = fh.read(4)
    return _decide(
        head,
        lambda check_utf8: _inspect(_blocks(path, display_name, limits), check_utf8),
        encoding,
        display_name,
        limits,
    )


def encoding_of(
    data: bytes, encoding: str, display_name: str, limits: ReadLimits | None = None
) -> Encoding:
    """`choose_encoding` for a file's content already in memory (unpacked)."""
    blocks = (data[i : i + BLOCK] for i in range(0, len(data), BLOCK))
    return _decide(
        data[:4],
        lambda check_utf8: _inspect(blocks, check_utf8),
        encoding,
        display_name,
        limits or ReadLimits(),
    )


def decode_head(data: bytes, encoding: Encoding) -> str:
    """The text of a file's first bytes, strictly decoded (`UnicodeDecodeError` otherwise); a
    character cut off at their end is left out."""
    return codecs.getincrementaldecoder(encoding.codec)("strict").decode(data, final=False)


def sample_text(data: bytes, encoding: Encoding) -> str:
    """The text of a file's first `SAMPLE` bytes, what its delimiter and line end are guessed
    from; bytes that do not decode are left out."""
    return data[:SAMPLE].decode(encoding.codec, errors="ignore")


def _first_bad_byte(
    path: Path, codec: str, display_name: str, limits: ReadLimits
) -> tuple[int, int, int]:
    """(offset, line, byte) of the first byte `codec` cannot decode."""
    decoder = codecs.getincrementaldecoder(codec)("strict")
    offset = newlines = 0
    with open_landed(path, display_name, limits) as fh:
        while block := fh.read(BLOCK):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as e:
                return (
                    offset + e.start,
                    newlines + block.count(b"\n", 0, e.start) + 1,
                    block[e.start],
                )
            offset += len(block)
            newlines += block.count(b"\n")
    return offset, newlines + 1, 0


def undecodable(
    path: Path, used: Encoding, encoding: str, display_name: str, limits: ReadLimits
) -> FileRejected:
    """Why a landed file that does not decode as `used` is refused: where its first bad byte
    is, and which encoding it looks like (charset-normalizer only gives this hint)."""
    from charset_normalizer import from_bytes

    with open_landed(path, display_name, limits) as fh:
        best = from_bytes(fh.read(SAMPLE)).best()
    hint = f"; it looks like {best.encoding}: set `encoding` for this source" if best else ""
    what = "neither UTF-8 nor cp1252" if encoding == "auto" else f"not valid {encoding}"
    offset, line, byte = _first_bad_byte(path, used.codec, display_name, limits)
    return FileRejected(
        display_name, f"{what} (byte 0x{byte:02x} at offset {offset:,}){hint}", line=line
    )
