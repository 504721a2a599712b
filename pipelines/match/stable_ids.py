"""Stable customer ids: a customer keeps its id from run to run, through joins, merges and splits.

Given the new clusters of the re-clustered records (`_m_assign(record_key, cluster, ord)`) and
the customer each record belonged to before (`_m_old(record_key, customer_id)`):

- each old id goes to the new cluster holding most of its records (its "largest part"; ties go
  to the cluster whose first record sorts first);
- a cluster that receives several old ids is a merge: the oldest id (earliest `created_at`)
  survives, every other one is recorded in `customer_merges` as old -> surviving id, `merge`;
- a cluster that receives none gets a new id; where its records came from older customers (the
  smaller part of a split), `customer_merges` records old -> new id, `split`.

New ids are `C` + 10 Crockford base32 characters of a hash of the cluster's first record, with
a salt that is bumped until the id was never used before (not by a customer, not in
`customer_merges`), so a retired id never comes back for someone else. They are made in SQL
(`customer_id_sql`, the same function as `make_customer_id`): a full run at ten million
contacts makes millions of them.
"""

from __future__ import annotations

import hashlib

import duckdb

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


def make_customer_id(source: str, source_record_id: str, salt: int = 0) -> str:
    digest = hashlib.sha256(f"{source}\x1f{source_record_id}\x1f{salt}".encode()).digest()
    number = int.from_bytes(digest[:8], "big") >> 14  # 50 bits
    chars = []
    for _ in range(10):
        chars.append(ALPHABET[number & 31])
        number >>= 5
    return "C" + "".join(reversed(chars))


def customer_id_sql(source: str, source_record_id: str, salt: str) -> str:
    """`make_customer_id` as a DuckDB expression over three SQL expressions."""
    text = f"{source} || chr(31) || {source_record_id} || chr(31) || CAST({salt} AS VARCHAR)"
    number = f"(CAST('0x' || substr(sha256({text}), 1, 16) AS UBIGINT) >> 14)"  # 50 bits
    chars = " || ".join(
        f"substr('{ALPHABET}', CAST(({number} >> {5 * i}) & 31 AS INTEGER) + 1, 1)"
        for i in reversed(range(10))
    )
    return f"'C' || {chars}"


def _attempt(rows: str) -> str:
    """SQL: `_m_attempt(cluster, source, source_record_id, salt, customer_id)` from `rows`."""
    return f"""
        CREATE OR REPLACE TEMP TABLE _m_attempt AS
        SELECT cluster, source, source_record_id, salt,
               {customer_id_sql("source", "source_record_id", "salt")} AS customer_id
        FROM ({rows}) s
        """


def _fresh_ids(con: duckdb.DuckDBPyConnection) -> None:
    """`_m_fresh(cluster, customer_id)`: a new id for each cluster that kept none.

    The rule (ids used to be made one by one, and must not change): clusters in ascending order
    each take the first salt, from 0, whose id no earlier cluster took; the clusters whose id
    was ever used before (by a customer, in `customer_merges`) go round again with the next
    salt, and every id tried stays taken. Within a round, every cluster whose id is taken (by an
    earlier round, or by an earlier cluster of this one) moves to its next salt, until none is:
    an id stays with the first cluster that ever holds it, so this ends where the one-by-one
    loop ends. Hash collisions are rare, so a round is nearly always one check.
    """
    con.execute(
        _attempt(
            """
            SELECT a.cluster, r.source, r.source_record_id, 0 AS salt FROM (
                SELECT cluster, arg_min(record_key, ord) AS record_key
                FROM _m_assign GROUP BY cluster
            ) a JOIN match_records r ON r.record_key = a.record_key
            WHERE a.cluster NOT IN (SELECT cluster FROM _m_kept)
            """
        )
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _m_taken (customer_id VARCHAR);"
        "CREATE OR REPLACE TEMP TABLE _m_fresh (cluster BIGINT, customer_id VARCHAR)"
    )
    while con.execute("SELECT count(*) FROM _m_attempt").fetchall()[0][0]:
        while True:
            bumped = con.execute(
                f"""
                UPDATE _m_attempt SET salt = salt + 1,
                       customer_id = {customer_id_sql("source", "source_record_id", "salt + 1")}
                WHERE customer_id IN (SELECT customer_id FROM _m_taken)
                   OR cluster IN (
                       SELECT cluster FROM (
                           SELECT cluster, row_number() OVER (PARTITION BY customer_id
                                                              ORDER BY cluster) AS rn
                           FROM _m_attempt
                           WHERE customer_id IN (SELECT customer_id FROM _m_attempt
                                                 GROUP BY customer_id HAVING count(*) > 1)
                       ) s WHERE rn > 1)
                """
            ).fetchall()[0][0]
            if not bumped:
                break
        con.execute(
            """
            INSERT INTO _m_taken SELECT customer_id FROM _m_attempt;
            CREATE OR REPLACE TEMP TABLE _m_used AS
            SELECT cluster, source, source_record_id, salt + 1 AS salt FROM _m_attempt
            WHERE customer_id IN (SELECT customer_id FROM customers)
               OR customer_id IN (SELECT old_customer_id FROM customer_merges)
               OR customer_id IN (SELECT new_customer_id FROM customer_merges);
            INSERT INTO _m_fresh SELECT cluster, customer_id FROM _m_attempt
            WHERE cluster NOT IN (SELECT cluster FROM _m_used);
            """
        )
        con.execute(_attempt("SELECT * FROM _m_used"))
    con.execute("DROP TABLE _m_attempt; DROP TABLE IF EXISTS _m_used; DROP TABLE _m_taken")


def assign_ids(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Create `_m_ids(cluster, customer_id, is_new)` and `_m_id_changes(old, new, kind)`; return
    counts."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _m_overlap AS
        SELECT a.cluster, o.customer_id, count(*) AS n, min(a.ord) AS first_ord
        FROM _m_assign a JOIN _m_old o ON o.record_key = a.record_key
        GROUP BY a.cluster, o.customer_id
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _m_home AS
        SELECT customer_id, cluster FROM (
            SELECT customer_id, cluster,
                   row_number() OVER (PARTITION BY customer_id ORDER BY n DESC, first_ord) AS rn
            FROM _m_overlap
        ) s WHERE rn = 1
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _m_kept AS
        SELECT cluster, customer_id FROM (
            SELECT h.cluster, h.customer_id,
                   row_number() OVER (PARTITION BY h.cluster
                                      ORDER BY c.created_at NULLS LAST, h.customer_id) AS rn
            FROM _m_home h LEFT JOIN customers c ON c.customer_id = h.customer_id
        ) s WHERE rn = 1
        """
    )
    _fresh_ids(con)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _m_ids AS
        SELECT cluster, customer_id, false AS is_new FROM _m_kept
        UNION ALL SELECT cluster, customer_id, true AS is_new FROM _m_fresh
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _m_id_changes AS
        -- merged away: an old id whose largest part went to a cluster that kept another id
        SELECT h.customer_id AS old_customer_id, i.customer_id AS new_customer_id, 'merge' AS kind
        FROM _m_home h JOIN _m_ids i ON i.cluster = h.cluster
        WHERE h.customer_id <> i.customer_id
        UNION ALL
        -- split off: records of an old id that now live under another id, the old id's home
        -- being elsewhere
        SELECT o.customer_id, i.customer_id, 'split'
        FROM _m_overlap o
        JOIN _m_home h ON h.customer_id = o.customer_id AND h.cluster <> o.cluster
        JOIN _m_ids i ON i.cluster = o.cluster
        """
    )
    new, merged, split = con.execute(
        """SELECT (SELECT count(*) FROM _m_fresh),
                  (SELECT count(*) FROM _m_id_changes WHERE kind = 'merge'),
                  (SELECT count(*) FROM _m_id_changes WHERE kind = 'split')"""
    ).fetchall()[0]
    return {"new": new, "merged": merged, "split": split}
