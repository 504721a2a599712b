"""Peak memory of decoding + staging a drop: plain CSV vs the same CSV zipped (members streamed).

    python benchmarks/ingest_archive.py --mb 500

Each variant runs in its own child process, so each peak (ru_maxrss) is its own. The zip is far
more compressible than the 200x default `max_unpack_ratio`, so that limit is raised here.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from pipelines.config import Source
from pipelines.ingest.decode import ReadLimits, decode_to_utf8
from pipelines.ingest.stage import stage_file
from pipelines.warehouse import connect, transaction
path, work = Path(sys.argv[1]), Path(sys.argv[2])
source = Source(columns={"source_record_id": "KlantID", "first_name": "Voornaam",
                         "last_name": "Achternaam", "email": "Email", "city": "Plaats"},
                encoding="cp1252", delimiter=";", max_unpack_ratio=100000)
t = time.perf_counter()
decoded = decode_to_utf8(path, work / "drop.csv", encoding="cp1252", delimiter=";",
                         display_name=path.name, limits=ReadLimits.of(source))
con = connect(work / "w.duckdb")
con.execute("SET enable_progress_bar = false")
with transaction(con):
    r = stage_file(con, file_id="f", source_name="crm", source=source, decoded=decoded,
                   file_name=path.name)
assert r.rows_read == r.rows_loaded + r.rows_rejected == decoded.records
print(f"{r.rows_read} {time.perf_counter() - t:.1f} "
      f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
"""


def make_csv(path: Path, mb: int) -> int:
    rows = 0
    with open(path, "w", encoding="cp1252", newline="") as fh:
        fh.write("KlantID;Voornaam;Achternaam;Email;Plaats\r\n")
        block = []
        while fh.tell() < mb * 1_000_000:
            for _ in range(10_000):
                rows += 1
                block.append(f"{rows};Jan;Jansen-de Vries;jan.{rows % 977}@example.nl;Utrecht\r\n")
            fh.write("".join(block))
            block.clear()
    return rows


def measure(path: Path) -> tuple[int, float, float]:
    with tempfile.TemporaryDirectory() as work:
        out = (
            subprocess.run(
                [sys.executable, "-c", CHILD, str(path), work, str(REPO)],
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.splitlines()[-1]
            .split()
        )
    return int(out[0]), float(out[1]), float(out[2])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--mb", type=int, default=500)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "klanten.csv"
        rows = make_csv(plain, args.mb)
        packed = Path(tmp) / "klanten.zip"
        with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            zf.write(plain, "klanten.csv")
        size, zsize = plain.stat().st_size, packed.stat().st_size
        print(
            f"{rows:,} rows, {size / 1e6:.0f} MB plain, {zsize / 1e6:.1f} MB zipped "
            f"({size / zsize:.0f}x)"
        )
        for label, path in (("plain", plain), ("zip", packed)):
            n, seconds, peak = measure(path)
            print(f"{label:5}: {n:,} rows in {seconds:.1f} s, peak {peak:,.0f} MB")


if __name__ == "__main__":
    main()
