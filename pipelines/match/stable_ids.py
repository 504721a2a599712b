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
`customer_merges`), so a retired id never comes back for someone else.
"""

from __future__ import annotations

import hashlib

import duckdb
import pyarrow as pa

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


def make_customer_id(source: str, source_record_id: str, salt: int = 0) -> str:
    digest = hashlib.sha256(f"{source}\x1f{source_record_id}\x1f{salt}".encode()).digest()
    number = int.from_bytes(digest[:8], "big") >> 14  # 50 bits
    chars = []
    for _ in range(10):
        chars.append(ALPHABET[number & 31])
        number >>= 5
    return "C" + "".join(reversed(chars))


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
    # Clusters without a surviving id: a new id from the cluster's first record.
    fresh = con.sql(
        """
        SELECT a.cluster, r.source, r.source_record_id FROM (
            SELECT cluster, arg_min(record_key, ord) AS record_key FROM _m_assign GROUP BY cluster
        ) a JOIN match_records r ON r.record_key = a.record_key
        WHERE a.cluster NOT IN (SELECT cluster FROM _m_kept)
        """
    ).to_arrow_table()
    pending = dict(
        zip(
            fresh["cluster"].to_pylist(),
            zip(fresh["source"].to_pylist(), fresh["source_record_id"].to_pylist()),
        )
    )
    salt = dict.fromkeys(pending, 0)
    con.execute("CREATE OR REPLACE TEMP TABLE _m_fresh (cluster BIGINT, customer_id VARCHAR)")
    taken: set[str] = set()
    while pending:
        clusters, ids = [], []
        for c in sorted(pending):
            source, record_id = pending[c]
            cid = make_customer_id(source, record_id, salt[c])
            while cid in taken:
                salt[c] += 1
                cid = make_customer_id(source, record_id, salt[c])
            taken.add(cid)
            clusters.append(c)
            ids.append(cid)
        attempt = pa.table(
            {"cluster": pa.array(clusters, pa.int64()), "customer_id": pa.array(ids, pa.string())}
        )
        con.register("_m_attempt", attempt)
        clash = {
            c
            for (c,) in con.execute(
                """
            SELECT cluster FROM _m_attempt
            WHERE customer_id IN (SELECT customer_id FROM customers)
               OR customer_id IN (SELECT old_customer_id FROM customer_merges)
               OR customer_id IN (SELECT new_customer_id FROM customer_merges)
            """
            ).fetchall()
        }
        con.execute("INSERT INTO _m_fresh SELECT cluster, customer_id FROM _m_attempt")
        con.unregister("_m_attempt")
        if clash:
            con.execute(
                f"DELETE FROM _m_fresh WHERE cluster IN ({','.join(str(int(c)) for c in clash)})"
            )
        for c in clash:
            salt[c] += 1
        pending = {c: pending[c] for c in clash}
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
