"""The match keys of privacy work: the batch path (SQL fast path + Python) agrees with
`email_key`."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.privacy.addresses import (
    email_key,
    normalize_address_columns,
    phone_digit_forms,
    phone_key,
)

WRITTEN = st.one_of(
    st.emails(),
    st.emails().map(str.upper),
    st.emails().map(lambda e: f"  {e.title()} \u00a0"),
    st.sampled_from(
        [
            "n.v.t.",
            "",
            "-",
            "jan@gmial.com",
            "not an email",
            "Åsa@Exämple.se",
            "a..b@x.nl",
            "x@localhost",
        ]
    ),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(WRITTEN, min_size=1, max_size=30))
def test_batch_keys_equal_the_per_value_key(values):
    con = duckdb.connect()
    con.execute("CREATE TABLE t (e VARCHAR, p VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [[v, None] for v in values])
    normalize_address_columns(
        con, table="t", email_column="e", phone_column="p", region_sql="'NL'"
    )
    got = dict(con.execute("SELECT raw, email FROM _email_keys").fetchall())
    assert {v: got.get(v) for v in values} == {v: email_key(v) for v in values}


def test_phone_keys_and_their_written_forms():
    assert phone_key("06-12345678", "NL") == "+31612345678"
    assert phone_key("0032 475 12 34 56", "NL") == "+32475123456"
    assert phone_key("12", "NL") is None
    assert phone_digit_forms("+31612345678") == {
        "31612345678",
        "0031612345678",
        "0612345678",
        "612345678",
        "310612345678",
        "00310612345678",
    }
