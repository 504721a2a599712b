"""`generate`: one day's demo drops for the `crm` and `webshop` sources, plus their ground truth.

    from pipelines.demo import generate
    summary = generate(
        Path("data/inbox"), Path("data/demo_truth.parquet"), people=100_000, seed=42
    )
    print("\\n".join(summary.lines()))

The same (people, seed, day) always gives byte-identical files. Another day with the same people
and seed is the next drop of the same population: some people moved, changed their mobile,
opted out or in, bought again; some joined and as many of the oldest left.

`older_drops=K` also writes the K earlier exports of each source, `drop_interval` days apart
(`klanten_20251026.csv` beside `klanten_20251123.csv`), as an inbox that collected several drops
looks. All files of such a call get the same mtime, so only the date in the file name (and the
rows' activity dates) says which export is newer. The truth covers every drop.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.demo.csvfile import encode_lines, header_line, write_atomic
from pipelines.demo.dirt import DateText
from pipelines.demo.hashing import Draws
from pipelines.demo.orders import write_activity_drops
from pipelines.demo.pools import build_pools
from pipelines.demo.population import BIRTH_RANGE, EPOCH, People, build_people, day_number
from pipelines.demo.records import build_records, presence, record_values
from pipelines.demo.sources import FORMATS, Context, render_crm, render_webshop
from pipelines.demo.truth import truth_table

FILE_NAMES = {"crm": "klanten_{:%Y%m%d}.csv", "webshop": "customers_{:%Y%m%d}.csv"}
RENDERERS = {"crm": render_crm, "webshop": render_webshop}


@dataclass(frozen=True)
class DemoSummary:
    """What a `generate` call wrote, and how much dirt and how many hard negatives it holds."""

    day: dt.date
    seed: int
    people: int
    files: dict[str, Path]  # source -> file written
    rows: dict[str, int]  # source -> data rows in its file
    truth_path: Path
    in_both_sources: int  # people with records in both sources
    duplicate_people: dict[str, int]  # source -> people with 2 or 3 records there
    duplicate_rows: dict[str, int]  # source -> records beyond each person's first
    broken_rows: dict[str, int]  # source -> deliberately broken rows
    family_households: int  # households of 2+ people at one address (hard negatives)
    family_members: int  # people living in such a household
    twins: int  # people with a twin born the same day in the same household
    namesakes: int  # people carrying their group's very common name (Jan de Vries, ...)
    shared_email_people: int  # people using a family member's e-mail address
    older_files: dict[str, list[Path]] = field(
        default_factory=dict
    )  # source -> earlier drops, oldest first
    older_rows: int = 0  # data rows in the earlier drops
    activity_files: dict[str, tuple[Path, int]] = field(default_factory=dict)  # orders, events
    seconds: float = field(default=0.0, compare=False)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def lines(self) -> list[str]:
        out = [
            f"demo data for {self.day.isoformat()} (seed {self.seed}): {self.people:,} people, "
            f"{self.total_rows:,} rows in {self.seconds:.1f} s"
        ]
        for source, path in self.files.items():
            out.append(
                f"  {source:8s} {self.rows[source]:>10,} rows  {path}  (duplicates: "
                f"{self.duplicate_people[source]:,} people, {self.duplicate_rows[source]:,} extra "
                f"rows; broken: {self.broken_rows[source]:,})"
            )
        for source, paths in self.older_files.items():
            if paths:
                out.append(f"  {source:8s} earlier drops: {', '.join(p.name for p in paths)}")
        if self.older_rows:
            out.append(f"  earlier drops: {self.older_rows:,} rows in all")
        out.append(f"  in both sources: {self.in_both_sources:,} people")
        out.append(
            f"  hard negatives: {self.family_households:,} family households "
            f"({self.family_members:,} people), {self.twins:,} twins, {self.namesakes:,} "
            f"namesakes, {self.shared_email_people:,} sharing an e-mail"
        )
        for source, (path, rows) in self.activity_files.items():
            out.append(f"  {source:8s} {rows:>10,} rows  {path}")
        out.append(f"  ground truth: {self.truth_path}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def generate(
    inbox: Path,
    truth_path: Path,
    people: int,
    seed: int = 42,
    day: dt.date | None = None,
    older_drops: int = 0,
    drop_interval: int = 28,
    activity: bool = False,
) -> DemoSummary:
    """Write `inbox/crm/klanten_YYYYMMDD.csv`, `inbox/webshop/customers_YYYYMMDD.csv` and the truth
    (plus `older_drops` earlier exports per source, `drop_interval` days apart; with `activity`,
    the day's orders and engagement drops in `inbox/orders/` and `inbox/mailplatform/`)."""
    if people < 1:
        raise ValueError(f"people must be at least 1, got {people}")
    if older_drops < 0 or drop_interval < 1:
        raise ValueError(
            f"older_drops must be >= 0 and drop_interval >= 1, got {older_drops} and "
            f"{drop_interval}"
        )
    started = time.perf_counter()
    day = day or dt.date.today()
    inbox, truth_path = Path(inbox), Path(truth_path)
    draws = Draws(seed)
    pools = build_pools(seed)

    truths: list[pa.Table] = []
    older_files: dict[str, list[Path]] = {source: [] for source in RENDERERS}
    older_rows = 0
    for k in range(older_drops, 0, -1):  # oldest first
        drop_day = day - dt.timedelta(days=k * drop_interval)
        drop = _write_drops(draws, pools, inbox, drop_day, people)
        truths += drop.truths
        for source, path in drop.files.items():
            older_files[source].append(path)
        older_rows += sum(drop.rows.values())
    drop = _write_drops(draws, pools, inbox, day, people)
    truths += drop.truths
    if older_drops:
        stamp = max(p.stat().st_mtime for p in drop.files.values())
        for path in [*drop.files.values(), *(p for paths in older_files.values() for p in paths)]:
            os.utime(path, (stamp, stamp))

    truth = pa.concat_tables(truths).unify_dictionaries() if len(truths) > 1 else truths[0]
    sink = io.BytesIO()
    pq.write_table(truth, sink, compression="zstd")
    write_atomic(truth_path, sink.getvalue())

    population = drop.population
    activity_files = write_activity_drops(draws, population, inbox, day) if activity else {}
    _, household_size = np.unique(population.household, return_counts=True)
    return DemoSummary(
        day=day,
        seed=seed,
        people=people,
        files=drop.files,
        rows=drop.rows,
        truth_path=truth_path,
        in_both_sources=int((presence(draws, population) == 2).sum()),
        duplicate_people=drop.duplicate_people,
        duplicate_rows=drop.duplicate_rows,
        broken_rows=drop.broken_rows,
        family_households=int((household_size > 1).sum()),
        family_members=int(household_size[household_size > 1].sum()),
        twins=int((population.twin_of >= 0).sum()),
        namesakes=int(population.namesake.sum()),
        shared_email_people=int((population.email_owner != population.pid).sum()),
        older_files=older_files if older_drops else {},
        older_rows=older_rows,
        activity_files=activity_files,
        seconds=time.perf_counter() - started,
    )


@dataclass
class _Drops:
    """What one export day wrote: a file per source and its truth."""

    population: People
    files: dict[str, Path] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    duplicate_people: dict[str, int] = field(default_factory=dict)
    duplicate_rows: dict[str, int] = field(default_factory=dict)
    broken_rows: dict[str, int] = field(default_factory=dict)
    truths: list[pa.Table] = field(default_factory=list)


def _write_drops(draws: Draws, pools, inbox: Path, day: dt.date, people: int) -> _Drops:
    today = day_number(day)
    population = build_people(draws, pools, today, people)
    # Every date written lies between the oldest birth date (or ~14 years before the day, the
    # oldest record update) and the later of the day and the youngest birth date.
    span = [day_number(BIRTH_RANGE[0]), day_number(BIRTH_RANGE[1]), today - 5000, today]
    text = DateText(np.datetime64(EPOCH.isoformat(), "D"), np.array(span))
    out = _Drops(population=population)
    for source, render in RENDERERS.items():
        records = build_records(draws, population, source)
        values = record_values(draws, population, records)
        context = Context(
            draws=draws, pools=pools, people=population, records=records, values=values, text=text
        )
        rendered = render(context)
        fmt = FORMATS[source]
        data = encode_lines(
            header_line(rendered.header, fmt["delimiter"], fmt["quote_all"]),
            rendered.lines,
            eol=fmt["eol"],
            encoding=fmt["encoding"],
            bom=fmt["bom"],
        )
        path = inbox / source / FILE_NAMES[source].format(day)
        write_atomic(path, data)
        del data
        out.files[source] = path
        out.rows[source] = len(records)
        out.duplicate_people[source] = int((records.copy == 1).sum())
        out.duplicate_rows[source] = int((records.copy > 0).sum())
        out.broken_rows[source] = int((rendered.broken_reason > 0).sum())
        out.truths.append(truth_table(context, rendered, path.name, day))
    return out
