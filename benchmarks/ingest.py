"""Ingest benchmark: a demo CRM drop served by a real OpenSSH sshd, landed and staged.

    python benchmarks/ingest.py --rows 1000000

Times download (SFTP -> landing, with sha256), decode (cp1252 -> UTF-8) and stage (DuckDB CSV
reader -> staged_rows / rejected_rows) separately; prints MB/s, rows/s and peak memory, and
checks that rows_read = rows_loaded + rows_rejected. Needs /usr/sbin/sshd (openssh-server).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.config import SftpOptions, load_sources  # noqa: E402
from pipelines.ingest.decode import decode_to_utf8  # noqa: E402
from pipelines.ingest.land import land  # noqa: E402
from pipelines.ingest.stage import stage_file  # noqa: E402
from pipelines.transport import open_transport  # noqa: E402
from pipelines.warehouse import connect, transaction  # noqa: E402
from tests.fixtures.sshd import destroy_server, generate_client_keys, make_server  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


CRM_ROWS_PER_PERSON = (
    0.77  # the demo CRM export covers ~77% of the people (with in-source duplicates)
)


def crm_drop(rows: int, cache: Path) -> Path:
    """A demo CRM drop (cp1252, `;`) with about `rows` data rows, generated once per size.

    Generated in a child process, so that the peak memory printed below is the ingest's alone.
    """
    target = cache / f"crm-{rows}"
    done = target / "inbox" / "crm"
    if not (done.is_dir() and any(done.glob("*.csv"))):
        shutil.rmtree(target, ignore_errors=True)
        people = max(1, round(rows / CRM_ROWS_PER_PERSON))
        code = (
            "import sys; from datetime import date; from pathlib import Path; "
            "from pipelines.demo import generate; "
            "generate(Path(sys.argv[1]) / 'inbox', Path(sys.argv[1]) / 'truth.parquet', "
            f"people={people}, seed=1, day=date(2026, 11, 23))"
        )
        subprocess.run([sys.executable, "-c", code, str(target)], check=True, cwd=REPO)
    return next(done.glob("*.csv"))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "crmclean-bench-cache",
        help="generated drops are kept here and reused",
    )
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="crmclean-bench-ingest-"))
    server = None
    try:
        t = time.perf_counter()
        drop = crm_drop(args.rows, args.cache)
        print(
            f"drop {drop.name}: {drop.stat().st_size / 1e6:.1f} MB (generated or reused in "
            f"{time.perf_counter() - t:.1f} s)"
        )

        keys = generate_client_keys(work / "keys")
        server = make_server(keys)
        remote_dir = server.new_dir("drops")
        server.write(remote_dir / drop.name, drop.read_bytes())
        os.environ["CRMCLEAN_BENCH_KEY"] = str(keys["ed25519"].path)
        options = SftpOptions(
            password_env=None,
            key_file_env="CRMCLEAN_BENCH_KEY",
            key_passphrase_env=None,
            known_hosts=str(server.known_hosts),
        )
        source = load_sources(REPO / "sftp_config" / "sources.yaml").sources["crm"]
        con = connect(work / "warehouse.duckdb")

        t0 = time.perf_counter()
        with open_transport(server.location(remote_dir), options) as transport:
            remote = transport.list(["*.csv"])[0]
            landed = land(
                con,
                transport,
                landing_root=work / "landing",
                source="crm",
                remote=remote,
                partition_key=f"crm/{remote.name}@20261123T050000",
            )
        t1 = time.perf_counter()
        decoded = decode_to_utf8(
            landed.path,
            work / "drop.utf8.csv",
            encoding=source.encoding,
            delimiter=source.delimiter,
            display_name=drop.name,
        )
        t2 = time.perf_counter()
        with transaction(con):
            result = stage_file(
                con,
                file_id=landed.file_id,
                source_name="crm",
                source=source,
                decoded=decoded,
                file_name=drop.name,
            )
        t3 = time.perf_counter()
        mb = landed.size_bytes / 1e6
        assert result.rows_read == result.rows_loaded + result.rows_rejected
        print(
            f"rows: read {result.rows_read:,} = loaded {result.rows_loaded:,} + rejected "
            f"{result.rows_rejected:,}"
        )
        print(f"download + sha256: {t1 - t0:6.2f} s  {mb / (t1 - t0):7.1f} MB/s")
        print(f"decode (cp1252):   {t2 - t1:6.2f} s  {mb / (t2 - t1):7.1f} MB/s")
        print(f"parse + stage:     {t3 - t2:6.2f} s  {result.rows_read / (t3 - t2):9,.0f} rows/s")
        print(
            f"landed + staged:   {t3 - t0:6.2f} s  {result.rows_read / (t3 - t0):9,.0f} rows/s  "
            "(target < 15 s for 1M rows)"
        )
        print(f"peak memory:       {peak_mb():,.0f} MB (max RSS)")
    finally:
        if server is not None:
            destroy_server(server)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
