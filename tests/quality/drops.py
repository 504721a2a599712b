"""Seeded CRM drops for the quality tests, and the engine steps of one drop without Dagster.

`crm_rows(n)` makes n plausible Dutch CRM records (deterministic); `write_crm` writes them the
way the CRM exports them (cp1252, semicolons, Dutch headers), optionally with broken emails or
a column left out. `ingest_file` runs land -> stage -> load -> checks on one file, the same
engine functions the Dagster assets call.
"""

from __future__ import annotations

import os
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from pipelines.config import SourcesConfig
from pipelines.ingest.discover import partition_key
from pipelines.ingest.errors import FileRejected
from pipelines.ingest.land import file_id_for, land
from pipelines.ingest.load import stage_drop
from pipelines.kinds import LoadContext, load_drop
from pipelines.quality import checks
from pipelines.settings import Paths
from pipelines.transport.local import LocalTransport

CRM_HEADER = [
    "KlantID",
    "Voornaam",
    "Tussenvoegsel",
    "Achternaam",
    "Email",
    "Telefoon",
    "Straat",
    "Huisnummer",
    "Postcode",
    "Plaats",
    "Land",
    "Geboortedatum",
    "Nieuwsbrief",
    "LaatsteAankoop",
]
FIRST = [
    "Jan",
    "Piet",
    "Anna",
    "Sanne",
    "Daan",
    "Emma",
    "Lars",
    "Sophie",
    "Bram",
    "Julia",
    "Noah",
    "Tess",
]
LAST = [
    ("", "Jansen"),
    ("de", "Vries"),
    ("van", "Dijk"),
    ("", "Bakker"),
    ("van der", "Berg"),
    ("", "Visser"),
    ("", "Smit"),
    ("de", "Boer"),
    ("", "Mulder"),
    ("van", "Leeuwen"),
]
STREETS = ["Hoofdstraat", "Kerkstraat", "Dorpsstraat", "Stationsweg", "Molenweg", "Schoolstraat"]
CITIES = [
    ("1011 AB", "Amsterdam"),
    ("3011 CD", "Rotterdam"),
    ("3511 EF", "Utrecht"),
    ("2511 GH", "Den Haag"),
]


def crm_rows(
    n: int, seed: int = 1, bad_email_share: float = 0.0, start_id: int = 1
) -> list[dict[str, str]]:
    rnd = random.Random(seed)
    rows = []
    bad = set(rnd.sample(range(n), int(round(n * bad_email_share))))
    for i in range(n):
        first = rnd.choice(FIRST)
        infix, last = rnd.choice(LAST)
        postcode, city = rnd.choice(CITIES)
        local = f"{first}.{(infix + last).replace(' ', '')}{start_id + i}".lower()
        email = f"{local}@example.nl" if i not in bad else f"{local}(at)example..nl"
        born = date(1950, 1, 1) + timedelta(days=rnd.randrange(0, 20000))
        rows.append(
            {
                "KlantID": f"K{start_id + i:06d}",
                "Voornaam": first,
                "Tussenvoegsel": infix,
                "Achternaam": last,
                "Email": email,
                "Telefoon": f"06{rnd.randrange(10_000_000, 99_999_999)}",
                "Straat": rnd.choice(STREETS),
                "Huisnummer": str(rnd.randrange(1, 200)),
                "Postcode": postcode,
                "Plaats": city,
                "Land": "NL",
                "Geboortedatum": born.strftime("%d-%m-%Y"),
                "Nieuwsbrief": rnd.choice(["ja", "nee"]),
                "LaatsteAankoop": (
                    date(2026, 1, 1) - timedelta(days=rnd.randrange(0, 900))
                ).strftime("%d-%m-%Y"),
            }
        )
    return rows


def write_crm(
    path: Path,
    rows: list[dict[str, str]],
    *,
    drop_columns: tuple[str, ...] = (),
    header_only: bool = False,
    mtime: float | None = None,
) -> Path:
    header = [h for h in CRM_HEADER if h not in drop_columns]
    lines = [";".join(header)]
    if not header_only:
        lines += [";".join(r[h] for h in header) for r in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    config: SourcesConfig,
    source_name: str,
    path: Path,
    landing: Path,
) -> str:
    """Land, stage, load and check one file, as the Dagster drop run does; returns its file_id."""
    source = config.sources[source_name]
    transport = LocalTransport(path.parent)
    remote = next(f for f in transport.list([path.name]) if f.name == path.name)
    key = partition_key(source_name, remote)
    land(
        con, transport, landing_root=landing, source=source_name, remote=remote, partition_key=key
    )
    file_id = file_id_for(key)
    checks.record(con, checks.inspect_landed_file(con, file_id, source))
    try:
        stage_drop(
            con,
            file_id=file_id,
            source_name=source_name,
            source=source,
            tmp_root=landing.parent / "tmp",
        )
        load_drop(
            con,
            LoadContext(
                file_id=file_id,
                source_name=source_name,
                source=source,
                config=config,
                paths=Paths(data_dir=landing.parent, config_dir=landing.parent / "config"),
                now=datetime.now(UTC).replace(tzinfo=None),
            ),
        )
    except FileRejected:
        pass
    checks.record(con, checks.evaluate_load(con, file_id, source))
    return file_id
