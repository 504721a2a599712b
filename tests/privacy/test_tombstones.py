"""Tombstones: the SQL hash equals HMAC-SHA256, the key comes from the environment or a private
file, and a changed key is noticed instead of silently letting erased people back in."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

import duckdb
import pytest

from pipelines.privacy.tombstones import (
    KEY_ENV,
    TombstoneKeyError,
    add_tombstones,
    hmac_hex,
    hmac_sql,
    key_file,
    pad_params,
    tombstone_key,
    tombstoned_customers,
    unmatchable_tombstones,
)
from pipelines.warehouse import connect


@pytest.mark.parametrize(
    "key",
    [
        b"sixteen-chars-ok",
        b"k" * 64,
        b"a much longer key than one sha-256 block of sixty-four bytes!!!!!",
    ],
)
def test_sql_hmac_is_hmac_sha256(key):
    con = duckdb.connect()
    values = ["jan@example.nl", "åsa.öberg@example.se", "x" * 300]
    con.execute("CREATE TABLE v (s VARCHAR)")
    con.executemany("INSERT INTO v VALUES (?)", [[s] for s in values])
    got = [
        r[0]
        for r in con.execute(
            f"SELECT {hmac_sql('email', 's')} FROM v ORDER BY rowid", pad_params(key)
        ).fetchall()
    ]
    assert got == [
        hmac.new(key, f"email:{s}".encode(), hashlib.sha256).hexdigest() for s in values
    ]
    assert got[0] == hmac_hex(key, "email", values[0])


def test_key_from_environment_or_a_generated_private_file(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "short")
    with pytest.raises(TombstoneKeyError, match="shorter than 16"):
        tombstone_key(tmp_path)
    monkeypatch.setenv(KEY_ENV, "a-long-enough-secret-key")
    assert tombstone_key(tmp_path) == b"a-long-enough-secret-key"
    assert not key_file(tmp_path).exists()
    monkeypatch.delenv(KEY_ENV)
    first = tombstone_key(tmp_path)
    assert len(first) == 64 and tombstone_key(tmp_path) == first  # created once, then reused
    assert key_file(tmp_path).stat().st_mode & 0o077 == 0
    assert key_file(tmp_path).parent.stat().st_mode & 0o077 == 0


def test_customers_matching_a_tombstone_and_a_changed_key(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    con.execute(
        """INSERT INTO customers (customer_id, email, phone) VALUES
           ('c1', 'jan@example.nl', NULL), ('c2', NULL, '+31612345678'),
           ('c3', 'piet@example.nl', '+31687654321')"""
    )
    key = b"the-first-key-0123456789"
    n = add_tombstones(
        con,
        key,
        emails={"jan@example.nl"},
        phones={"+31612345678"},
        erasure_id="e1",
        now=datetime(2026, 1, 1),
    )
    assert n == 2
    assert (
        add_tombstones(
            con,
            key,
            emails={"jan@example.nl"},
            phones=set(),
            erasure_id="e2",
            now=datetime(2026, 1, 2),
        )
        == 0
    )
    assert tombstoned_customers(con, key) == 2
    assert sorted(r[0] for r in con.execute("SELECT customer_id FROM _tombstoned").fetchall()) == [
        "c1",
        "c2",
    ]
    # Stored: only hashes, never the address.
    assert "jan@example.nl" not in repr(con.execute("SELECT * FROM tombstones").fetchall())
    other = b"a-different-key-987654321"
    assert tombstoned_customers(con, other) == 0
    assert unmatchable_tombstones(con, other) == 2 and unmatchable_tombstones(con, key) == 0
