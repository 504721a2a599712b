"""Turn a landed file into plain UTF-8 records that DuckDB's CSV reader can take.

The bytes and their encoding come from landed.py, the reader ingest shares with the quality
checks and the privacy scrub: the file is streamed, never held whole. Two passes over the bytes:
the first decides the encoding (and checks the limits, NUL bytes, emptiness), the second decodes
the bytes strictly and splits them into records. No statistical guessing; charset-normalizer
only gives a hint when a file does not decode.

The record splitter counts the file's records itself, independently of DuckDB: every record is
written with its physical line number in front (`<line><delimiter><record>`), so a line number
never has to be reconstructed. A quoted field that does not close within `max_quoted_lines`
lines (or `max_record_length` characters, or before the end of the file), or one whose next
lines read as whole records by themselves, is an unbalanced quote: the line where it opens is
quarantined and the lines after it are read again. Records
longer than `max_record_length` are quarantined too, without ever being held whole.
"""

from __future__ import annotations

import csv
import io
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.ingest.errors import FileRejected
from pipelines.ingest.landed import (
    BLOCK,
    EMPTY_FILE,
    SAMPLE,
    ReadLimits,
    choose_encoding,
    open_landed,
    sample_text,
    undecodable,
)

DELIMITERS = ",;\t|"
LINE_COLUMN = "__line"  # the column holding each record's physical line number


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
        """The record whose quoted field opens on line `first`, or None (quarantined, lines put
        back)."""
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
            why = (
                f"closes only on line {parts[-1][0]}, "
                f"in a record of {fields} fields instead of {self.width}"
            )
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
        too_long = (
            f"the record is longer than {limits.max_record_length:,} characters "
            "(max_record_length)"
        )
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
    """Write the records of `path` as UTF-8 to `dest` (line numbers in front), returning what
    was found."""
    limits = limits or ReadLimits()
    chosen = choose_encoding(path, encoding, display_name, limits)
    with open_landed(path, display_name, limits) as raw:
        text_sample = sample_text(raw.read(SAMPLE), chosen)
    newline = "\r\n" if "\r\n" in text_sample else "\n"
    delim = sniff_delimiter(text_sample, delimiter)
    with (
        open_landed(path, display_name, limits) as raw,
        open(dest, "w", encoding="utf-8", newline="") as out,
    ):
        fh = io.TextIOWrapper(raw, encoding=chosen.codec, errors="strict", newline="")
        try:
            splitter = _Splitter(fh, out, delim, limits, display_name)
            splitter.run()
        except UnicodeDecodeError:
            raise undecodable(path, chosen, encoding, display_name, limits) from None
    if splitter.width is None:
        raise FileRejected(display_name, EMPTY_FILE)
    return Decoded(
        path=dest,
        encoding=chosen.name,
        delimiter=delim,
        newline=newline,
        lines=splitter.lines.number,
        records=splitter.records,
        quarantined=splitter.quarantined,
        encoding_note=chosen.note,
    )
