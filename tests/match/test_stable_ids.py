"""Customer ids survive a re-run, a new drop, a merge (the older id survives) and a split (the
largest part keeps it)."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from pipelines.match.stable_ids import _fresh_ids, customer_id_sql, make_customer_id
from tests.match.conftest import (
    NOW,
    add_contacts,
    contact,
    customer_of,
    partition,
    remove_contacts,
    run,
)
from tests.match.town import town

KARIN = dict(first_name="Karin", last_name="Dijkstra", birth_date="1979-03-14")
KARIN_HOME = dict(
    street="Molenweg", house_number="7", postcode="3812 KL", city="Amersfoort", country="NL"
)


KARIN_AWAY = dict(postcode="9711 AB", house_number="90", country="NL")
# Eva Smit's name and home, shared by her crm and webshop records.
EVA = dict(
    last_name="Smit",
    street="Dorpsstraat",
    house_number="4",
    postcode="8021 AB",
    city="Zwolle",
    country="NL",
    email="eva.smit@gmail.com",
)


def ids(con) -> dict[tuple[str, str], str]:
    return {
        (s, r): c
        for c, s, r in con.execute(
            "SELECT customer_id, source, source_record_id FROM customer_sources"
        ).fetchall()
    }


def karin_moved():
    """Karin in the webshop after a move, with only a phone: too little to link by itself."""
    return contact(
        "webshop",
        "KW1",
        first_name="Karin",
        last_name="Dijkstra",
        phone="+31655501234",
        **KARIN_AWAY,
    )


def test_ids_look_right_and_survive_a_rerun(warehouse):
    add_contacts(warehouse, town())
    limit = warehouse.execute("SELECT current_setting('memory_limit')").fetchall()
    run(warehouse)
    assert (
        warehouse.execute("SELECT current_setting('memory_limit')").fetchall() == limit
    )  # lowered only during the run
    before = ids(warehouse)
    assert all(re.fullmatch(r"C[0-9A-HJKMNP-TV-Z]{10}", c) for c in before.values())
    customers_before = warehouse.execute("SELECT * FROM customers ORDER BY customer_id").fetchall()
    result = run(warehouse, now=NOW + timedelta(days=1))
    assert ids(warehouse) == before
    assert (result.new, result.merged, result.split, result.changed, result.records_matched) == (
        0,
        0,
        0,
        0,
        0,
    )
    assert (
        warehouse.execute("SELECT * FROM customers ORDER BY customer_id").fetchall()
        == customers_before
    )
    assert warehouse.execute("SELECT count(*) FROM customer_merges").fetchall()[0][0] == 0


def test_a_new_drop_joins_existing_customers_and_adds_new_ones(warehouse):
    add_contacts(warehouse, town())
    add_contacts(
        warehouse,
        [
            contact(
                "crm", "K1", email="karin.d@gmail.com", phone="+31655501234", **KARIN, **KARIN_HOME
            )
        ],
    )
    run(warehouse)
    before = ids(warehouse)
    karin = before[("crm", "K1")]
    add_contacts(
        warehouse,
        [
            contact(
                "webshop", "KW1", email="karin.d@gmail.com", **KARIN, **KARIN_HOME
            ),  # Karin again
            contact(
                "webshop",
                "NEW1",
                first_name="Bas",
                last_name="Kuiper",
                email="bas.kuiper@gmail.com",
                birth_date="1990-01-01",
                postcode="2611 AA",
                house_number="1",
                country="NL",
            ),
        ],
    )
    result = run(warehouse, now=NOW + timedelta(days=1))
    after = ids(warehouse)
    assert {k: v for k, v in after.items() if k in before} == before  # nobody else moved
    assert after[("webshop", "KW1")] == karin
    assert after[("webshop", "NEW1")] not in before.values()
    assert (result.new, result.merged, result.split) == (1, 0, 0)
    assert result.records_matched == 2
    assert result.changed == 1  # Karin's golden record gained a source
    assert (
        warehouse.execute(
            "SELECT source_count FROM customers WHERE customer_id = ?", [karin]
        ).fetchall()[0][0]
        == 2
    )


def test_a_merge_keeps_the_older_id_and_records_the_retired_one(warehouse):
    add_contacts(warehouse, town())
    # Day 1: Karin in the CRM. Day 2: Karin in the webshop after a move, with only a phone: too
    # little to link, so a second customer. Day 3: a record with her e-mail and phone joins both.
    add_contacts(
        warehouse, [contact("crm", "K1", email="karin.d@gmail.com", **KARIN, **KARIN_HOME)]
    )
    run(warehouse)
    older = customer_of(warehouse, "crm", "K1")
    add_contacts(
        warehouse,
        [
            karin_moved(),
        ],
    )
    run(warehouse, now=NOW + timedelta(days=1))
    newer = customer_of(warehouse, "webshop", "KW1")
    assert newer != older
    add_contacts(
        warehouse,
        [
            contact(
                "webshop",
                "KW2",
                email="karin.d@gmail.com",
                phone="+31655501234",
                **KARIN,
                postcode="9711 AB",
                house_number="90",
                country="NL",
            )
        ],
    )
    result = run(warehouse, now=NOW + timedelta(days=2))
    assert customer_of(warehouse, "webshop", "KW1") == older
    assert customer_of(warehouse, "webshop", "KW2") == older
    assert result.merged == 1
    merges = warehouse.execute(
        'SELECT old_customer_id, new_customer_id, kind, "at" FROM customer_merges'
    ).fetchall()
    assert merges == [(newer, older, "merge", NOW + timedelta(days=2))]
    assert (
        warehouse.execute(
            "SELECT count(*) FROM customers WHERE customer_id = ?", [newer]
        ).fetchall()[0][0]
        == 0
    )
    assert (
        warehouse.execute(
            "SELECT count(*) FROM match_evidence WHERE customer_id = ?", [older]
        ).fetchall()[0][0]
        == 2
    )


def test_a_split_leaves_the_id_with_the_largest_part(warehouse):
    add_contacts(warehouse, town())
    base = EVA
    add_contacts(
        warehouse,
        [
            contact("crm", "E1", first_name="Eva", birth_date="1988-07-07", **base),
            contact("webshop", "EW1", first_name="Eva", birth_date="1988-07-07", **base),
            contact("webshop", "EW2", first_name="Eva", birth_date="1988-07-07", **base),
        ],
    )
    run(warehouse)
    eva = customer_of(warehouse, "crm", "E1")
    assert {customer_of(warehouse, "webshop", r) for r in ("EW1", "EW2")} == {eva}
    # The CRM record turns out to be someone else (the webshop records are the majority).
    add_contacts(
        warehouse, [contact("crm", "E1", first_name="Mark", birth_date="1955-01-20", **base)]
    )
    result = run(warehouse, now=NOW + timedelta(days=1))
    assert customer_of(warehouse, "webshop", "EW1") == eva
    assert customer_of(warehouse, "webshop", "EW2") == eva
    mark = customer_of(warehouse, "crm", "E1")
    assert mark != eva
    assert result.split == 1 and result.new == 1
    assert warehouse.execute(
        "SELECT old_customer_id, new_customer_id, kind FROM customer_merges"
    ).fetchall() == [(eva, mark, "split")]
    assert (
        warehouse.execute(
            "SELECT first_name FROM customers WHERE customer_id = ?", [eva]
        ).fetchall()[0][0]
        == "Eva"
    )


def test_removed_records_leave_their_customer(warehouse):
    add_contacts(warehouse, town(50))
    run(warehouse)
    everyone = ids(warehouse)
    pair = [k for k in everyone if k[0] == "webshop"][0]
    person = everyone[pair]
    solo = [k for k, v in everyone.items() if list(everyone.values()).count(v) == 1][0]
    remove_contacts(warehouse, [pair, solo])
    result = run(warehouse, now=NOW + timedelta(days=1))
    after = ids(warehouse)
    assert pair not in after and solo not in after
    assert person in after.values()  # the other record of the pair keeps the id
    assert (
        warehouse.execute(
            "SELECT count(*) FROM customers WHERE customer_id = ?", [everyone[solo]]
        ).fetchall()[0][0]
        == 0
    )
    assert result.records_removed == 2
    assert len(partition(warehouse)) == len(set(everyone.values())) - 1


# ---------------------------------------------------------------------------------------------
# New ids are made in SQL; they must be the ids the former one-by-one Python loop made.


def one_by_one(con) -> dict[int, str]:
    """The former loop: {cluster: new id} for the clusters of `_m_assign` that kept no id."""
    fresh = con.execute(
        """
        SELECT a.cluster, r.source, r.source_record_id FROM (
            SELECT cluster, arg_min(record_key, ord) AS record_key FROM _m_assign GROUP BY cluster
        ) a JOIN match_records r ON r.record_key = a.record_key
        WHERE a.cluster NOT IN (SELECT cluster FROM _m_kept)
        """
    ).fetchall()
    used = {
        c
        for (c,) in con.execute(
            "SELECT customer_id FROM customers UNION SELECT old_customer_id FROM customer_merges "
            "UNION SELECT new_customer_id FROM customer_merges"
        ).fetchall()
    }
    pending = {c: (s, r) for c, s, r in fresh}
    salt = dict.fromkeys(pending, 0)
    taken: set[str] = set()
    made: dict[int, str] = {}
    while pending:
        attempt = {}
        for c in sorted(pending):
            cid = make_customer_id(*pending[c], salt[c])
            while cid in taken:
                salt[c] += 1
                cid = make_customer_id(*pending[c], salt[c])
            taken.add(cid)
            attempt[c] = cid
        clash = {c for c, cid in attempt.items() if cid in used}
        made.update({c: cid for c, cid in attempt.items() if c not in clash})
        for c in clash:
            salt[c] += 1
        pending = {c: pending[c] for c in clash}
    return made


def test_the_sql_id_is_the_python_id(warehouse):
    keys = [("crm", "1", 0), ("webshop", "Ünïcödé-ß", 3), ("crm", "a" * 200, 12), ("x", "", 1)]
    keys += [("crm", f"C{i:07d}", i % 3) for i in range(2_000)]
    warehouse.execute("CREATE TEMP TABLE k (s VARCHAR, r VARCHAR, salt INTEGER)")
    warehouse.executemany("INSERT INTO k VALUES (?, ?, ?)", keys)
    made = warehouse.execute(
        f"SELECT s, r, salt, {customer_id_sql('s', 'r', 'salt')} FROM k"
    ).fetchall()
    assert len(made) == len(keys)
    assert all(cid == make_customer_id(s, r, salt) for s, r, salt, cid in made)


def test_colliding_ids_go_to_the_same_clusters_as_one_by_one(warehouse):
    """Hash collisions cannot be found at 50 bits, so clusters share a first record's source
    and id here (same hash); ids already used send clusters round again, onto ids taken."""
    con = warehouse
    con.execute(
        """
        CREATE TEMP TABLE _m_assign AS
        SELECT i AS cluster, i AS record_key, 100 - i AS ord FROM range(40) t(i);
        CREATE TEMP TABLE _m_kept AS SELECT 5 AS cluster, 'Ckept' AS customer_id;
        INSERT INTO match_records (record_key, source, source_record_id)
        SELECT i AS record_key, 'crm' AS source,
               CASE WHEN i % 10 < 3 THEN 'shared' || (i // 10) ELSE 'r' || i END
                   AS source_record_id
        FROM range(40) t(i);
        """
    )
    ids = {
        i: make_customer_id("crm", rid, salt)
        for i, rid, salt in [(0, "shared0", 0), (1, "shared0", 3), (2, "r12", 0), (3, "r33", 1)]
    }
    con.executemany("INSERT INTO customers (customer_id) VALUES (?)", [[ids[0]], [ids[1]]])
    con.execute(
        'INSERT INTO customer_merges (old_customer_id, new_customer_id, kind, "at") '
        "VALUES (?, ?, 'merge', ?), (?, 'Cnone', 'merge', ?)",
        [ids[2], ids[3], NOW, make_customer_id("crm", "shared1", 1), NOW],
    )
    expected = one_by_one(con)
    assert len(expected) == 39 and len(set(expected.values())) == 39
    # the clashes reach a fourth salt: used ids and ids of earlier clusters in between
    assert expected[0] == make_customer_id("crm", "shared0", 4)

    _fresh_ids(con)
    assert dict(con.execute("SELECT cluster, customer_id FROM _m_fresh").fetchall()) == expected


def _days(con) -> None:
    """Four days: a town, then new records, a merge, a split, removals and a re-run."""
    add_contacts(con, town(120))
    add_contacts(con, [contact("crm", "K1", email="karin.d@gmail.com", **KARIN, **KARIN_HOME)])
    eva = EVA
    add_contacts(
        con,
        [
            contact(source, rid, first_name="Eva", birth_date="1988-07-07", **eva)
            for source, rid in (("crm", "E1"), ("webshop", "EW1"), ("webshop", "EW2"))
        ],
    )
    run(con)
    add_contacts(
        con,
        [
            karin_moved(),
            contact("crm", "E1", first_name="Mark", birth_date="1955-01-20", **eva),
        ]
        + town(20, seed=11),
    )
    run(con, now=NOW + timedelta(days=1))
    add_contacts(
        con,
        [
            contact(
                "webshop",
                "KW2",
                email="karin.d@gmail.com",
                phone="+31655501234",
                **KARIN,
                **KARIN_AWAY,
            )
        ],
    )
    remove_contacts(con, [("crm", "T3"), ("webshop", "T5")])
    run(con, now=NOW + timedelta(days=2))
    run(con, now=NOW + timedelta(days=3))


# What `_days` gave with the one-by-one loop (sha256 of the sorted customer_sources and
# customer_merges rows, before the ids were made in SQL).
_DAYS_SOURCES = "93c624d2eb049836cea09aee0d40f8479d10910f4f8c5c123538f1408caef11c"
_DAYS_MERGES = "e4f0cb26a7413c2d95016e77010921310496513af8dd46a81cc444d610c0c3db"


def _digest(rows) -> str:
    return hashlib.sha256(repr(sorted(rows)).encode()).hexdigest()


def test_ids_over_several_days_are_those_made_one_by_one(warehouse):
    _days(warehouse)
    sources = warehouse.execute(
        "SELECT source, source_record_id, customer_id FROM customer_sources"
    ).fetchall()
    merges = warehouse.execute(
        'SELECT old_customer_id, new_customer_id, kind, "at" FROM customer_merges'
    ).fetchall()
    assert any(kind == "split" for _, _, kind, _ in merges)
    assert any(kind == "merge" for _, _, kind, _ in merges)
    assert (_digest(sources), _digest(merges)) == (_DAYS_SOURCES, _DAYS_MERGES)
