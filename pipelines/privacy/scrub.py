"""Rewrite the files under `data/` without one person's rows, and find what is left of them.

Erasure reaches beyond the warehouse: the landing archive keeps every drop, the local inbox may
still hold it, the outbox holds segment files and `.eml` copies of export mails, the demo keeps
its truth file. `scrub_tree` walks all of `data/` (but the warehouse and `secrets/`) and
rewrites each file that holds the person:

- CSV/TXT: read as ingest reads them (pipelines/ingest/landed.py: the source's `encoding`, UTF-16
  with a BOM, UTF-8 or cp1252 for `auto`); the records that hold the person are removed (the
  first line too, when a drop has no header row); every other byte stays as it was (quoting,
  line ends, encoding, BOM). A file ingest refuses to read is scrubbed byte for byte;
- `.gz` and `.zip`: the members are rewritten the same way; `.eml`: the attachments;
- Parquet: the rows are filtered; a manifest next to a rewritten export file (`<file>.json`,
  `<file>.done`) gets the new row count, size and sha256.
The file's modification time is kept, so retention sees the same file. A drop in the local
inbox that is already in the landing archive is deleted instead of rewritten: the sensor would
take a rewritten file (new size) for a new version of the drop.
A record holds the person when it contains one of their email addresses, or a field is one of
their phone numbers (digits compared), customer ids, or (in that source's files) a source
record id in the id column.

Then every file's final content (decompressed, mail parts decoded) is searched for any email
or phone number of the person (`ScrubReport.residue`, `find_residue`), so an erasure reports
honestly what it could not rewrite (a file type it does not know, a value outside a record).
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from pathlib import Path

from pipelines.ingest.decode import sniff_delimiter
from pipelines.ingest.errors import FileRejected
from pipelines.ingest.landed import Encoding, ReadLimits, encoding_of, sample_text
from pipelines.privacy.person import Person
from pipelines.warehouse import sql_literal

TEXT_SUFFIXES = (".csv", ".txt", ".tsv", ".dat", ".psv")
MANIFEST_SUFFIXES = (".json", ".done")
RESIDUE_ENCODINGS = ("utf-8", "cp1252", "utf-16-le", "utf-16-be")
csv.field_size_limit(1 << 30)


@dataclass(frozen=True)
class Matcher:
    """What identifies the person in a file (see the module docstring)."""

    emails: frozenset[str]  # lower case
    digits: frozenset[str]  # phone numbers as digit strings
    phones: frozenset[str]  # phone numbers as written and E.164
    ids: frozenset[str]  # customer ids
    record_ids: dict[str, frozenset[str]]  # source -> source record ids

    @classmethod
    def of(cls, person: Person) -> Matcher:
        by_source: dict[str, set[str]] = {}
        for source, rid in person.records:
            by_source.setdefault(source, set()).add(rid)
        return cls(
            emails=frozenset(person.email_tokens),
            digits=frozenset(person.digit_forms),
            phones=frozenset(person.phone_tokens),
            ids=frozenset(person.customer_ids),
            record_ids={s: frozenset(v) for s, v in by_source.items()},
        )

    def hits(self, text: str, source: str | None) -> list[int] | None:
        """Sorted offsets in `text` where a value of the person may start: the only places a
        record can match (`record_matches` decides). None: offsets unusable, check every record.

        Literal searches for addresses, ids and written phone numbers, and per number one
        regular expression for its national digits with any separators between them (every
        written form of a number contains those digits).
        """
        low = text.lower()
        if len(low) != len(text):  # a rare character that lower-cases to two
            return None
        out: list[int] = []
        for tokens, haystack in (
            (self.emails, low),
            (self.ids | self.record_ids.get(source, frozenset()), text),
            (self.phones, text),
        ):
            for token in tokens:
                start = haystack.find(token)
                while start >= 0:
                    out.append(start)
                    start = haystack.find(token, start + 1)
        for pattern in self._digit_patterns():
            out += [m.start() for m in pattern.finditer(text)]
        return sorted(out)

    def _digit_patterns(self) -> list[re.Pattern]:
        shortest = [d for d in self.digits if not any(o != d and o in d for o in self.digits)]
        return [re.compile(r"[ \-./()]*".join(d)) for d in sorted(shortest)]

    def record_matches(
        self, fields: list[str], raw: str, id_index: int | None, source: str | None
    ) -> bool:
        low = raw.lower()
        if any(e in low for e in self.emails):
            return True
        record_ids = self.record_ids.get(source, frozenset()) if source else frozenset()
        for i, value in enumerate(fields):
            v = value.strip().strip('"').strip()
            if not v:
                continue
            if v in self.ids or (i == id_index and v in record_ids):
                return True
            digits = re.sub(r"\D", "", v)
            if len(digits) >= 7 and digits in self.digits:
                return True
        return False


@dataclass
class ScrubReport:
    files_rewritten: list[str] = field(default_factory=list)  # paths relative to data/
    files_deleted: list[str] = field(default_factory=list)
    rows_removed: int = 0
    found: dict[str, int] = field(default_factory=dict)  # file -> rows holding the person
    residue: list[str] = field(
        default_factory=list
    )  # files still holding an email or phone afterwards


@dataclass(frozen=True)
class FileContext:
    source: str | None = (
        None  # the source whose drop this is (landing/<source>/..., inbox/<source>/...)
    )
    id_header: str | None = None  # the header of its source_record_id column
    delimiter: str = "auto"
    encoding: str = "auto"
    limits: ReadLimits = ReadLimits()


BYTE_FOR_BYTE = Encoding("latin-1", "latin-1")  # decodes any bytes, each to one character


def _read(name: str, data: bytes, ctx: FileContext) -> tuple[str, Encoding]:
    """The text of a file and the encoding it was read with, as ingest reads it, so the person
    is looked for in the text ingest loaded. The text keeps a byte-order mark, so encoding it
    with `exact_codec` gives back the same bytes. A file ingest refuses (it does not decode,
    it looks like UTF-16 without a BOM) may still hold the person: it is read byte for byte."""
    try:
        encoding = encoding_of(data, ctx.encoding, name, ctx.limits)
        return data.decode(encoding.exact_codec), encoding
    except (FileRejected, UnicodeDecodeError):
        return data.decode(BYTE_FOR_BYTE.codec), BYTE_FOR_BYTE


def _header_key(text: str) -> str:
    return " ".join(text.strip().strip('"').lstrip("\ufeff").split()).casefold()


def scrub_delimited(
    name: str, data: bytes, m: Matcher, ctx: FileContext
) -> tuple[bytes | None, int, int]:
    """(new bytes or None when nothing matched, records removed, data records kept)."""
    text, encoding = _read(name, data, ctx)
    hits = m.hits(text, ctx.source)
    if hits == []:
        return None, 0, -1
    delimiter = sniff_delimiter(sample_text(data, encoding), ctx.delimiter)
    consumed: list[str] = []

    def lines():
        for line in io.StringIO(text, newline=""):
            consumed.append(line)
            yield line

    reader = csv.reader(lines(), delimiter=delimiter, quotechar='"', strict=False)
    out: list[str] = []
    removed = kept = 0
    id_index = None
    first = True
    offset, next_hit = 0, 0
    for fields in reader:
        raw = "".join(consumed)
        consumed.clear()
        start, offset = offset, offset + len(raw)
        if first:
            first = False
            if hits != [] and m.record_matches(fields, raw, None, ctx.source):
                removed += 1  # a drop without a header row: its first line is a record
                continue
            out.append(raw)
            if ctx.id_header:
                keys = [_header_key(h) for h in fields]
                want = _header_key(ctx.id_header)
                id_index = keys.index(want) if want in keys else None
            continue
        if hits is not None:
            while next_hit < len(hits) and hits[next_hit] < start:
                next_hit += 1
            candidate = next_hit < len(hits) and hits[next_hit] < offset
        else:
            candidate = True
        if candidate and m.record_matches(fields, raw, id_index, ctx.source):
            removed += 1
        else:
            kept += 1
            out.append(raw)
    out.append("".join(consumed))  # a trailing partial line the reader did not return
    if not removed:
        return None, 0, kept
    return "".join(out).encode(encoding.exact_codec), removed, kept


def scrub_bytes(
    name: str, data: bytes, m: Matcher, ctx: FileContext
) -> tuple[bytes | None, int, int]:
    """Dispatch on the file name: gzip, zip, eml, or delimited text."""
    low = name.lower()
    if low.endswith(".gz"):
        try:
            inner = gzip.decompress(data)
        except (OSError, EOFError):
            return None, 0, -1
        new, removed, kept = scrub_bytes(name[:-3], inner, m, ctx)
        return (gzip.compress(new, mtime=0) if new is not None else None), removed, kept
    if low.endswith(".zip"):
        return _scrub_zip(data, m, ctx)
    if low.endswith(".eml"):
        return _scrub_eml(data, m, ctx)
    if low.endswith(TEXT_SUFFIXES):
        return scrub_delimited(name, data, m, ctx)
    return None, 0, -1


def _scrub_zip(data: bytes, m: Matcher, ctx: FileContext) -> tuple[bytes | None, int, int]:
    try:
        zin = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return None, 0, -1
    removed_total, kept_total, changed = 0, 0, False
    members = []
    with zin:
        for info in zin.infolist():
            content = zin.read(info) if not info.is_dir() else b""
            new, removed, kept = (
                scrub_bytes(info.filename, content, m, ctx) if not info.is_dir() else (None, 0, 0)
            )
            if new is not None:
                changed = True
                content = new
            removed_total += removed
            kept_total += max(kept, 0)
            members.append((info, content))
    if not changed:
        return None, 0, kept_total
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zout:
        for info, content in members:
            zout.writestr(info, content, compress_type=info.compress_type)
    return buf.getvalue(), removed_total, kept_total


def _scrub_eml(data: bytes, m: Matcher, ctx: FileContext) -> tuple[bytes | None, int, int]:
    msg = BytesParser(policy=policy.default).parsebytes(data)
    removed_total, changed = 0, False
    for part in msg.walk():
        if part.is_multipart():
            continue
        name = part.get_filename()
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        new, removed, _ = scrub_bytes(name, payload, m, ctx)
        if new is None:
            continue
        changed = True
        removed_total += removed
        part.set_payload(base64.encodebytes(new).decode("ascii"))
        if "Content-Transfer-Encoding" in part:
            part.replace_header("Content-Transfer-Encoding", "base64")
        else:
            part["Content-Transfer-Encoding"] = "base64"
    if not changed:
        return None, 0, -1
    return msg.as_bytes(policy=policy.default), removed_total, -1


def _write_keeping_times(path: Path, data: bytes) -> None:
    st = path.stat()
    tmp = path.with_name("." + path.name + ".scrub.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(tmp, path)


def _update_manifest(path: Path, rows: int) -> None:
    """Bring `<file>.json` / `<file>.done` next to a rewritten export file up to date."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    size = path.stat().st_size
    for suffix in MANIFEST_SUFFIXES:
        manifest = path.with_name(path.name + suffix)
        if not manifest.exists():
            continue
        text = manifest.read_text(encoding="utf-8")
        if suffix == ".json":
            try:
                info = json.loads(text)
            except json.JSONDecodeError:
                continue
            info.update(
                {
                    k: v
                    for k, v in (("rows", rows), ("size_bytes", size), ("sha256", digest))
                    if k in info
                }
            )
            _write_keeping_times(manifest, (json.dumps(info, indent=2) + "\n").encode("utf-8"))
        else:
            values = {"rows": str(rows), "size_bytes": str(size), "sha256": digest}
            lines = []
            for line in text.splitlines():
                key = line.split("=", 1)[0]
                lines.append(f"{key}={values[key]}" if key in values and "=" in line else line)
            _write_keeping_times(manifest, ("\n".join(lines) + "\n").encode("utf-8"))


def _scrub_parquet(path: Path, m: Matcher, *, dry_run: bool) -> tuple[int, bool]:
    """(rows holding the person, rewritten)."""
    import duckdb

    con = duckdb.connect()
    try:
        src = "read_parquet(" + sql_literal(str(path)) + ")"
        cols = [(n, t) for n, t, *_ in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
        params = {
            k: sorted(v)
            for k, v in (("emails", m.emails), ("ids", m.ids), ("digits", m.digits))
            if v
        }
        preds = []
        for name, typ in cols:
            if typ != "VARCHAR":
                continue
            c = '"' + name.replace('"', '""') + '"'
            if "emails" in params:
                preds.append(f"len(list_filter($emails, lambda e: contains(lower({c}), e))) > 0")
            if "ids" in params:
                preds.append(f"list_contains($ids, trim({c}))")
            if "digits" in params:
                preds.append(f"list_contains($digits, regexp_replace({c}, '[^0-9]', '', 'g'))")
        if not preds:
            return 0, False
        where = " OR ".join(preds)
        hits = con.execute(f"SELECT count(*) FROM {src} WHERE {where}", params).fetchone()[0]
        if not hits or dry_run:
            return hits, False
        tmp = path.with_name("." + path.name + ".scrub.part")
        con.execute(
            f"COPY (SELECT * FROM {src} WHERE NOT coalesce(({where}), false)) "
            f"TO {sql_literal(str(tmp))} (FORMAT parquet)",
            params,
        )
    finally:
        con.close()
    st = path.stat()
    os.chmod(tmp, 0o600)
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(tmp, path)
    return hits, True


def data_files(data_dir: Path, exclude: set[Path]) -> list[Path]:
    """Every regular file under `data_dir` but `secrets/`, partial writes and the excluded paths
    (a path excludes everything whose name starts with it: `warehouse.duckdb` also its `.wal`)."""
    out = []
    excluded = [str(p.resolve()) for p in exclude]
    for path in sorted(Path(data_dir).rglob("*")):
        if (
            not path.is_file()
            or path.is_symlink()
            or str(path.resolve()).startswith(tuple(excluded))
        ):
            continue
        rel = path.relative_to(data_dir)
        if rel.parts[0] == "secrets" or path.name.endswith(".part"):
            continue
        out.append(path)
    return out


def context_for(rel: Path, sources: dict) -> FileContext:
    """Which source a file under landing/ or inbox/ belongs to, and how to read it."""
    if len(rel.parts) > 2 and rel.parts[0] in ("landing", "inbox") and rel.parts[1] in sources:
        source = sources[rel.parts[1]]
        return FileContext(
            source=rel.parts[1],
            id_header=source.columns.get("source_record_id"),
            delimiter=source.delimiter,
            encoding=source.encoding,
            limits=ReadLimits.of(source),
        )
    return FileContext()


def scrub_tree(
    data_dir: Path,
    m: Matcher,
    *,
    sources: dict,
    exclude: set[Path],
    dry_run: bool = False,
    delete_instead: frozenset[str] = frozenset(),
) -> ScrubReport:
    """Rewrite (or, with `dry_run`, only count) every file under `data_dir` holding the person.

    Files named in `delete_instead` (paths relative to `data_dir`) are deleted rather than
    rewritten when they hold the person: inbox copies of drops already in the landing archive.
    Each file is read once: after rewriting, its final content is searched for any email or
    phone of the person (`report.residue`), whatever its type.
    """
    report = ScrubReport()
    for path in data_files(data_dir, exclude):
        rel = path.relative_to(data_dir)
        if path.name.lower().endswith(".parquet"):
            hits, rewritten = _scrub_parquet(path, m, dry_run=dry_run)
            if hits:
                report.found[str(rel)] = hits
                report.rows_removed += hits if rewritten else 0
                if rewritten:
                    report.files_rewritten.append(str(rel))
                else:
                    report.residue.append(str(rel))
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        new, removed = None, 0
        if not path.name.lower().endswith(MANIFEST_SUFFIXES):
            new, removed, kept = scrub_bytes(path.name, data, m, context_for(rel, sources))
        if new is not None and removed:
            report.found[str(rel)] = removed
            if not dry_run and rel.as_posix() in delete_instead:
                path.unlink()
                report.rows_removed += removed
                report.files_deleted.append(str(rel))
                continue
            if not dry_run:
                _write_keeping_times(path, new)
                report.rows_removed += removed
                report.files_rewritten.append(str(rel))
                if kept >= 0 and rel.parts[0] == "outbox":
                    _update_manifest(path, kept)
                data = new
        if holds_values(path.name, data, m):
            report.residue.append(str(rel))
    return report


def _blobs(name: str, data: bytes) -> list[bytes]:
    """The searchable bytes of a file: itself, decompressed members and decoded mail parts."""
    low = name.lower()
    blobs = [data]
    try:
        if low.endswith(".gz"):
            blobs += _blobs(name[:-3], gzip.decompress(data))
        elif low.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                blobs += [
                    b
                    for i in zf.infolist()
                    if not i.is_dir()
                    for b in _blobs(i.filename, zf.read(i))
                ]
        elif low.endswith(".eml"):
            msg = BytesParser(policy=policy.default).parsebytes(data)
            for part in msg.walk():
                if not part.is_multipart():
                    blobs += _blobs(
                        part.get_filename() or "part.txt", part.get_payload(decode=True) or b""
                    )
    except (OSError, EOFError, zipfile.BadZipFile):
        pass
    return blobs


def holds_values(name: str, data: bytes, m: Matcher) -> bool:
    """Does the file (decompressed, decoded) contain an email or phone number of the person?
    Searched as bytes, whatever the file's type: UTF-8, cp1252 and UTF-16 (either byte order),
    which ingest reads too."""
    emails = {e.encode(enc, "ignore") for e in m.emails for enc in RESIDUE_ENCODINGS}
    phones = {
        p.encode(enc, "ignore")
        for p in m.phones
        if len(re.sub(r"\D", "", p)) >= 7
        for enc in RESIDUE_ENCODINGS
    }
    for blob in _blobs(name, data):
        low = blob.lower()
        if any(e and e in low for e in emails) or any(p in blob for p in phones):
            return True
    return False


def find_residue(data_dir: Path, m: Matcher, *, exclude: set[Path]) -> list[str]:
    """Files under `data_dir` that still contain an email address or phone number of the person."""
    found = []
    for path in data_files(data_dir, exclude):
        rel = str(path.relative_to(data_dir))
        if path.name.lower().endswith(".parquet"):
            if _scrub_parquet(path, m, dry_run=True)[0]:
                found.append(rel)
        elif holds_values(path.name, path.read_bytes(), m):
            found.append(rel)
    return found
