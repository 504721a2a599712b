"""Tombstones: what is left of an erased person, so that they stay erased.

A tombstone is HMAC-SHA256(key, "email:<normalized email>") or (key, "phone:<E.164>"). It cannot
be turned back into the address without the key, yet when a later drop brings the same address
back, the customer is matched to the tombstone and suppressed with reason `erasure`.

The key:
- `CRMCLEAN_TOMBSTONE_KEY` (at least 16 characters) when set: keep it in the secret store with
  the other credentials, outside `data/`. Production should set it.
- Unset: a random key is created once in `<data_dir>/secrets/tombstone.key` (owner-only) and a
  warning is logged, so the embedded default works out of the box. Someone holding both that file
  and the warehouse could test guessed addresses against the tombstones; with the key elsewhere
  they cannot.
Each tombstone stores `key_id`, a fingerprint of the key that made it. Tombstones of another key
can no longer be matched; `unmatchable_tombstones` counts them so a changed key is noticed.

The hash is computed in SQL (sha256 over the HMAC pads) so every customer is checked set-based;
`hmac_hex` is the Python reference the tests compare it with.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.settings import private_dir
from pipelines.warehouse import only_customers

KEY_ENV = "CRMCLEAN_TOMBSTONE_KEY"
MIN_KEY_LENGTH = 16
_BLOCK = 64  # SHA-256 block size, the HMAC pad length

log = logging.getLogger(__name__)


class TombstoneKeyError(ValueError):
    """The tombstone key in the environment is unusable."""


def key_file(data_dir: Path) -> Path:
    return Path(data_dir) / "secrets" / "tombstone.key"


def tombstone_key(data_dir: Path) -> bytes:
    """The HMAC key: from CRMCLEAN_TOMBSTONE_KEY, else the generated key file (see module doc)."""
    value = os.environ.get(KEY_ENV)
    if value:
        if len(value) < MIN_KEY_LENGTH:
            raise TombstoneKeyError(
                f"{KEY_ENV} is shorter than {MIN_KEY_LENGTH} characters; use a long random value"
            )
        return value.encode("utf-8")
    path = key_file(data_dir)
    if path.exists():
        return path.read_text(encoding="ascii").strip().encode("ascii")
    private_dir(path.parent)
    generated = secrets.token_hex(32)
    tmp = path.with_name("." + path.name + ".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(generated + "\n")
    os.replace(tmp, path)
    log.warning(
        "%s is not set: created a tombstone key in %s. Set %s (kept outside data/) in production.",
        KEY_ENV,
        path,
        KEY_ENV,
    )
    return generated.encode("ascii")


def existing_tombstone_key(data_dir: Path) -> bytes | None:
    """The key if one is configured or was generated before; never creates one (read-only use)."""
    if os.environ.get(KEY_ENV) or key_file(data_dir).exists():
        return tombstone_key(data_dir)
    return None


def key_id(key: bytes) -> str:
    """A fingerprint of the key (not the key): which key made a tombstone."""
    return hmac.new(key, b"crmclean tombstone key id", hashlib.sha256).hexdigest()[:16]


def hmac_hex(key: bytes, kind: str, value: str) -> str:
    """The reference: HMAC-SHA256(key, "<kind>:<value>") as hex."""
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def _pads(key: bytes) -> dict[str, bytes]:
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return {"ipad": bytes(b ^ 0x36 for b in key), "opad": bytes(b ^ 0x5C for b in key)}


def hmac_sql(kind: str, expr: str) -> str:
    """SQL of HMAC-SHA256 over "<kind>:" || expr, with the pads as parameters $ipad and $opad
    (pass `pad_params(key)`), so the key never becomes part of a stored SQL text."""
    assert kind in ("email", "phone")
    return f"sha256($opad::BLOB || unhex(sha256($ipad::BLOB || encode('{kind}:' || {expr}))))"


def pad_params(key: bytes) -> dict[str, bytes]:
    return _pads(key)


def add_tombstones(
    con: duckdb.DuckDBPyConnection,
    key: bytes,
    *,
    emails: set[str],
    phones: set[str],
    erasure_id: str,
    now: datetime,
) -> int:
    """Record tombstones of normalized emails and E.164 phones not yet tombstoned; returns how
    many."""
    kid = key_id(key)
    rows = [("email", hmac_hex(key, "email", e)) for e in sorted(emails)] + [
        ("phone", hmac_hex(key, "phone", p)) for p in sorted(phones)
    ]
    if not rows:
        return 0
    con.execute("CREATE OR REPLACE TEMP TABLE _new_tombstones (kind VARCHAR, hash VARCHAR)")
    con.executemany("INSERT INTO _new_tombstones VALUES (?, ?)", rows)
    added = con.execute(
        """INSERT INTO tombstones (kind, hash, key_id, erasure_id, created_at)
           SELECT DISTINCT n.kind, n.hash, ?, ?, ? FROM _new_tombstones n
           WHERE NOT EXISTS (SELECT 1 FROM tombstones t
                             WHERE t.kind = n.kind AND t.hash = n.hash AND t.key_id = ?)""",
        [kid, erasure_id, now, kid],
    ).fetchone()[0]
    con.execute("DROP TABLE _new_tombstones")
    return added


def tombstoned_customers(
    con: duckdb.DuckDBPyConnection,
    key: bytes,
    table: str = "_tombstoned",
    *,
    touched: str | None = None,
) -> int:
    """Temp table `table(customer_id)`: customers whose email or phone hashes to a tombstone;
    with `touched` (a table of customer_id), only among those customers."""
    email_hash, phone_hash = hmac_sql("email", "c.email"), hmac_sql("phone", "c.phone")
    only = only_customers(touched, "c")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table} AS
            WITH current_key AS (SELECT kind, hash FROM tombstones WHERE key_id = $kid),
            hashed AS (
                SELECT c.customer_id, 'email' AS kind, {email_hash} AS hash FROM customers c
                {only} WHERE c.email IS NOT NULL
                UNION ALL
                SELECT c.customer_id, 'phone' AS kind, {phone_hash} AS hash FROM customers c
                {only} WHERE c.phone IS NOT NULL
            )
            SELECT DISTINCT h.customer_id FROM hashed h JOIN current_key t USING (kind, hash)""",
        {"kid": key_id(key), **pad_params(key)},
    )
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def is_tombstoned(
    con: duckdb.DuckDBPyConnection, key: bytes, *, emails: set[str], phones: set[str]
) -> bool:
    hashes = [hmac_hex(key, "email", e) for e in emails] + [
        hmac_hex(key, "phone", p) for p in phones
    ]
    if not hashes:
        return False
    marks = ", ".join("?" * len(hashes))
    return bool(
        con.execute(
            f"SELECT count(*) FROM tombstones WHERE key_id = ? AND hash IN ({marks})",
            [key_id(key), *hashes],
        ).fetchone()[0]
    )


def unmatchable_tombstones(con: duckdb.DuckDBPyConnection, key: bytes) -> int:
    """Tombstones made with another key: they no longer protect anyone (the key was changed)."""
    return con.execute(
        "SELECT count(*) FROM tombstones WHERE key_id <> ?", [key_id(key)]
    ).fetchone()[0]
