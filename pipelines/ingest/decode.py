"""Turn a landed file into plain UTF-8 records that DuckDB's CSV reader can take.

Streams everything: `.gz` and `.zip` members are read in blocks, never whole, with limits on the
unpacked size and the expansion ratio. Two passes over the bytes: the first checks them (valid
UTF-8? a byte-order mark? NUL bytes? limits), the second decodes and splits them into records.

Decoding is strict: UTF-16 with a byte-order mark; UTF-8 (BOM stripped) if every byte is valid
UTF-8, else cp1252, unless the source names an encoding. A file declared cp1252 (or another
single-byte encoding) that is valid UTF-8 with multi-byte characters is read as UTF-8 and noted,
or refused, per the source. No statistical guessing; charset-normalizer only gives a hint.

The record splitter counts the file's records itself, independently of DuckDB: every record is
written with its physical line number in front (`<line><delimiter><record>`), so a line number
never has to be reconstructed. A quoted field that does not close within `max_quoted_lines`
lines (or `max_record_length` characters, or before the end of the file), or one whose next
lines read as whole records by themselves, is an unbalanced quote: the line where it opens is
quarantined and the lines after it are read again. Records
longer than `max_record_length` are quarantined too, without ever being held whole.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import zipfile
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

from pipelines.ingest.errors import FileRejected

DELIMITERS = ",;\t|"
LINE_COLUMN = "__line"  # the column holding each record's physical line number
BLOCK = 1 << 20
SAMPLE = 65536
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
class Quarantined:
    """A record the splitter rejected before DuckDB saw it."""

    line: int
    raw: str  # at most RAW_LINE_LIMIT characters of it
    length: int  # its whole length in characters
    reason: str


RAW_LINE_LIMIT = (
    2000  # characters of a rejected record kept in rejected_rows.raw_line (length: raw_length)
)


@dataclass(frozen=True)
class Decoded:
    path: (
        Path  # UTF-8, no BOM; each record prefixed with its physical line number and the delimiter
    )
    encoding: str  # what the source bytes were read as
    delimiter: str
    newline: str  # "\r\n" or "\n"
    lines: int = 0  # physical lines (a last line without a newline counts)
    records: int = 0  # data records (header excluded), quarantined ones included
    quarantined: list[Quarantined] = field(default_factory=list)
    encoding_note: str | None = None  # why `encoding` is not what the source declares


# ---------------------------------------------------------------------------------------------
# bytes: plain files, .gz and .zip members, streamed


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
            f"the archive expands more than {limits.max_unpack_ratio:g} times its {packed:,} bytes "
            "(max_unpack_ratio): refused as a possible zip bomb",
        )


@contextmanager
def open_bytes(path: Path, display_name: str, limits: ReadLimits) -> Iterator[BinaryIO]:
    """The file's (unpacked) bytes as a stream."""
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


@dataclass
class _Inspection:
    sample: bytes = b""
    size: int = 0
    blank: bool = True
    utf8_error: tuple[int, int] | None = None  # (offset, line)
    non_ascii: bool = False


def _inspect(path: Path, display_name: str, limits: ReadLimits, check_utf8: bool) -> _Inspection:
    """First pass: size limits, a sample, and whether the bytes are valid UTF-8."""
    out = _Inspection()
    packed = path.stat().st_size
    archive = path.name.lower().endswith((".gz", ".zip"))
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    newlines = 0
    try:
        with open_bytes(path, display_name, limits) as fh:
            while block := fh.read(BLOCK):
                if len(out.sample) < SAMPLE:
                    out.sample += block[: SAMPLE - len(out.sample)]
                out.size += len(block)
                if archive:
                    _check_unpacked(out.size, packed, display_name, limits)
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
    except (OSError, EOFError, zipfile.BadZipFile) as e:  # gzip.BadGzipFile is an OSError
        kind = "zip" if path.name.lower().endswith(".zip") else "gzip"
        raise FileRejected(display_name, f"not a valid {kind} file ({e})") from None
    return out


def _nul_verdict(sample: bytes) -> str | None:
    """Why a file is refused whole for its NUL bytes: UTF-16 without BOM, or mostly NULs."""
    if not sample or sample.count(0) * 4 < len(sample):
        return None  # a few NULs: the rows holding them are rejected one by one
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if max(even, odd) >= 0.9 * (even + odd) and max(even, odd) * 3 >= len(sample) // 2:
        return "NUL bytes in every other position: this looks like UTF-16 without a byte-order mark; save it as UTF-8"
    if sample.count(0) * 2 >= len(sample):
        return "mostly NUL bytes: this is not a text file"
    return None


def _choose_encoding(
    path: Path, encoding: str, display_name: str, limits: ReadLimits
) -> tuple[str, str, str | None]:
    """(codec for the second pass, name to record, note) for the file."""
    with open_bytes(path, display_name, limits) as fh:
        head = fh.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not head.startswith(
        codecs.BOM_UTF32_LE
    ):
        _inspect(path, display_name, limits, check_utf8=False)  # the limits
        if encoding == "auto" or codecs.lookup(encoding).name.startswith("utf-16"):
            return "utf-16", "utf-16", None
        return (
            "utf-16",
            "utf-16",
            f"declared {encoding}, but the file starts with a UTF-16 byte-order mark: read as UTF-16",
        )
    declared = "auto" if encoding == "auto" else codecs.lookup(encoding).name
    info = _inspect(
        path,
        display_name,
        limits,
        check_utf8=declared in ("auto", "utf-8") or declared in SINGLE_BYTE,
    )
    if info.blank:
        raise FileRejected(display_name, "the file is empty")
    verdict = _nul_verdict(info.sample)
    if verdict:
        line = info.sample.count(b"\n", 0, info.sample.index(0)) + 1
        raise FileRejected(display_name, verdict, line=line)
    bom = info.sample.startswith(codecs.BOM_UTF8)
    if declared == "auto":
        if info.utf8_error is None:
            return "utf-8-sig", "utf-8-sig" if bom else "utf-8", None
        return "cp1252", "cp1252", None
    if declared == "utf-8":
        if info.utf8_error is not None:
            offset, line = info.utf8_error
            raise FileRejected(
                display_name, f"the byte at offset {offset} is not valid {encoding}", line=line
            )
        return "utf-8-sig", encoding, None
    if declared in SINGLE_BYTE and info.utf8_error is None and info.non_ascii:
        if limits.utf8_in_declared_encoding == "refuse":
            raise FileRejected(
                display_name,
                f"declared {encoding}, but the file is valid UTF-8 with multi-byte characters: "
                "set `encoding: utf-8` for this source (or utf8_in_declared_encoding: read_as_utf8)",
            )
        note = f"declared {encoding}, but the file is valid UTF-8 with multi-byte characters: read as UTF-8"
        return "utf-8-sig", "utf-8-sig" if bom else "utf-8", note
    return encoding, encoding, None


# ---------------------------------------------------------------------------------------------
# text: records, counted independently of DuckDB


def _record_pattern(delimiter: str, quotechar: str) -> re.Pattern:
    """A complete record: fields that are quoted (closed, `""` escapes, may span lines) or not."""
    d, q = re.escape(delimiter), re.escape(quotechar)
    fld = f"(?:{q}(?:[^{q}]|{q}{q})*{q}[^{d}\\r\\n]*|[^{d}{q}\\r\\n][^{d}\\r\\n]*|)"
    return re.compile(f"{fld}(?:{d}{fld})*")


def _strip_eol(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith(("\n", "\r")):
        return text[:-1]
    return text


class _Lines:
    """Physical lines of a text stream with their numbers, each at most `limit` characters held;
    lines pushed back are read again first."""

    def __init__(self, fh: io.TextIOBase, limit: int):
        self.fh, self.limit, self.number = fh, limit, 0
        self.back: deque[tuple[int, str, int]] = deque()

    def next(self) -> tuple[int, str, int] | None:
        """(line number, text (cut at the limit), whole length) or None at the end."""
        if self.back:
            return self.back.popleft()
        text = self.fh.readline(self.limit + 1)
        if not text:
            return None
        self.number += 1
        length, last = len(text), text
        if length > self.limit and not text.endswith(("\n", "\r")):
            while True:  # an over-long line: skip the rest of it, counting
                last = self.fh.readline(BLOCK)
                length += len(last)
                if not last or last.endswith(("\n", "\r")):
                    break
        return (
            self.number,
            text,
            length - (len(last) - len(_strip_eol(last))),
        )  # without its line end

    def push_back(self, items: list[tuple[int, str, int]]) -> None:
        self.back.extendleft(reversed(items))


def _cut(text: str) -> str:
    return _strip_eol(text[:RAW_LINE_LIMIT]) if len(text) > RAW_LINE_LIMIT else _strip_eol(text)


class _Splitter:
    """Cuts a text stream into records and writes them, numbered, to `out`."""

    def __init__(
        self,
        fh: io.TextIOBase,
        out: io.TextIOBase,
        delimiter: str,
        limits: ReadLimits,
        display_name: str,
    ):
        self.lines = _Lines(fh, limits.max_record_length)
        self.out, self.delimiter, self.limits, self.display_name = (
            out,
            delimiter,
            limits,
            display_name,
        )
        self.complete = _record_pattern(delimiter, limits.quotechar).fullmatch
        self.width: int | None = None  # fields of the header
        self.records = 0
        self.quarantined: list[Quarantined] = []

    def _fields(self, record: str) -> int:
        return len(
            next(
                csv.reader(
                    io.StringIO(record), delimiter=self.delimiter, quotechar=self.limits.quotechar
                ),
                [],
            )
        )

    def _looks_like_a_record(self, line: str) -> bool:
        """Whether a line inside a quoted field would be a whole record by itself: then the quote
        is much more likely a stray one than a field spanning lines."""
        if self.width is None or self.width < 2 or line.count(self.delimiter) < self.width - 1:
            return False
        text = _strip_eol(line)
        return bool(self.complete(text)) and self._fields(text) == self.width

    def _reject(self, number: int, text: str, length: int, reason: str) -> None:
        if self.width is None:
            raise FileRejected(self.display_name, f"the header row: {reason}", line=number)
        self.quarantined.append(Quarantined(number, _cut(text), length, reason))
        self.records += 1

    def _quoted_record(self, first: tuple[int, str, int]) -> str | None:
        """The record whose quoted field opens on line `first`, or None (quarantined, lines put back)."""
        limits = self.limits
        parts, size, closed, at_end, looks_like_records = [first], first[2], False, False, False
        while len(parts) < limits.max_quoted_lines and size <= limits.max_record_length:
            nxt = self.lines.next()
            if nxt is None:
                at_end = True
                break
            parts.append(nxt)
            size += nxt[2]
            if nxt[2] > limits.max_record_length:
                break
            if self._looks_like_a_record(nxt[1]):
                looks_like_records = True
                break
            if self.complete(_strip_eol("".join(p[1] for p in parts))):
                closed = True
                break
        record = "".join(p[1] for p in parts)
        fields = self._fields(record) if closed and size <= limits.max_record_length else None
        if fields is not None and (self.width is None or fields == self.width):
            return record
        if looks_like_records:
            why = f"line {parts[-1][0]}, still inside it, reads as a record of its own"
        elif at_end:
            why = "does not close before the end of the file"
        elif fields is not None:
            why = f"closes only on line {parts[-1][0]}, in a record of {fields} fields instead of {self.width}"
        else:
            why = f"does not close within {limits.max_quoted_lines} lines (max_quoted_lines)"
        self._reject(
            first[0],
            first[1],
            first[2],
            f"unbalanced quote: a quoted field opens on this line and {why}",
        )
        self.lines.push_back(parts[1:])
        return None

    def run(self) -> None:
        limits, out, d = self.limits, self.out, self.delimiter
        too_long = f"the record is longer than {limits.max_record_length:,} characters (max_record_length)"
        while (item := self.lines.next()) is not None:
            number, text, length = item
            if length > limits.max_record_length:
                self._reject(number, text, length, too_long)
                continue
            if text in ("\n", "\r\n", "\r"):
                continue  # an empty line is no record (DuckDB skips it too)
            if limits.quotechar in text and not self.complete(_strip_eol(text)):
                text = self._quoted_record(item)
                if text is None:
                    continue
            if self.width is None:
                self.width = self._fields(text)
                out.write(f"{LINE_COLUMN}{d}")
            else:
                self.records += 1
                out.write(f"{number}{d}")
            out.write(text if text.endswith(("\n", "\r")) else text + "\n")


def _first_bad_byte(
    path: Path, codec: str, display_name: str, limits: ReadLimits
) -> tuple[int, int, int]:
    """(offset, line, byte) of the first byte `codec` cannot decode."""
    decoder = codecs.getincrementaldecoder(codec)("strict")
    offset = newlines = 0
    with open_bytes(path, display_name, limits) as fh:
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


def decode_to_utf8(
    path: Path,
    dest: Path,
    *,
    encoding: str,
    delimiter: str,
    display_name: str,
    limits: ReadLimits | None = None,
) -> Decoded:
    """Write the records of `path` as UTF-8 to `dest` (line numbers in front), returning what was found."""
    limits = limits or ReadLimits()
    codec, used, note = _choose_encoding(path, encoding, display_name, limits)
    with open_bytes(path, display_name, limits) as raw:
        sample = raw.read(SAMPLE)
    text_sample = sample.decode(codec, errors="ignore")
    newline = "\r\n" if "\r\n" in text_sample else "\n"
    delim = sniff_delimiter(text_sample, delimiter)
    with (
        open_bytes(path, display_name, limits) as raw,
        open(dest, "w", encoding="utf-8", newline="") as out,
    ):
        fh = io.TextIOWrapper(raw, encoding=codec, errors="strict", newline="")
        try:
            splitter = _Splitter(fh, out, delim, limits, display_name)
            splitter.run()
        except UnicodeDecodeError:
            from charset_normalizer import from_bytes

            best = from_bytes(sample).best()
            hint = (
                f"; it looks like {best.encoding}: set `encoding` for this source" if best else ""
            )
            what = "neither UTF-8 nor cp1252" if encoding == "auto" else f"not valid {encoding}"
            offset, line, byte = _first_bad_byte(path, codec, display_name, limits)
            raise FileRejected(
                display_name, f"{what} (byte 0x{byte:02x} at offset {offset:,}){hint}", line=line
            ) from None
    if splitter.width is None:
        raise FileRejected(display_name, "the file is empty")
    return Decoded(
        path=dest,
        encoding=used,
        delimiter=delim,
        newline=newline,
        lines=splitter.lines.number,
        records=splitter.records,
        quarantined=splitter.quarantined,
        encoding_note=note,
    )
