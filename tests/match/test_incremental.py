"""Incremental matching gives the same partition of records as a run from scratch on the same
records."""

from __future__ import annotations

import random
from datetime import timedelta

from pipelines.warehouse import connect
from tests.match.conftest import NOW, add_contacts, contact, partition, remove_contacts, run
from tests.match.test_households import family
from tests.match.town import town


def drops() -> list[tuple[list[dict], list[tuple[str, str]]]]:
    """Three days: (rows added or updated, records removed)."""
    rows = town(400, seed=11) + family()
    rng = random.Random(3)
    day1 = [r for r in rows if r["source"] == "crm" and rng.random() < 0.6]
    seen = {(r["source"], r["source_record_id"]) for r in day1}
    day2 = [r for r in rows if (r["source"], r["source_record_id"]) not in seen]
    # Day 3: some people moved or changed their e-mail; some records were deleted at the source.
    changed = []
    for r in rng.sample(rows, 40):
        new = dict(r)
        if rng.random() < 0.5:
            new.update(
                street="Nieuwe Gracht",
                house_number=str(rng.randint(1, 99)),
                postcode="3512 LT",
                city="Utrecht",
            )
        else:
            new.update(email=f"new{rng.randint(1, 10**6)}@outlook.com")
        changed.append(
            contact(
                new.pop("source"),
                new.pop("source_record_id"),
                **{k: v for k, v in new.items() if not k.endswith("_status")},
            )
        )
    removed = [(r["source"], r["source_record_id"]) for r in rng.sample(rows, 15)]
    return [(day1, []), (day2, []), (changed, removed)]


def test_incremental_runs_match_a_run_from_scratch(warehouse, tmp_path):
    for day, (rows, removed) in enumerate(drops()):
        add_contacts(warehouse, rows)
        remove_contacts(warehouse, removed)
        result = run(warehouse, now=NOW + timedelta(days=day))
        assert result.full_run == (day == 0)
    assert (
        result.records_reclustered < result.contacts / 2
    )  # day 3 touched only part of the records
    incremental = partition(warehouse)

    scratch = connect(tmp_path / "scratch.duckdb")
    cols = [r[0] for r in warehouse.execute("SELECT * FROM contacts LIMIT 0").description]
    rows = [dict(zip(cols, r)) for r in warehouse.execute("SELECT * FROM contacts").fetchall()]
    add_contacts(scratch, rows)
    run(scratch, now=NOW + timedelta(days=3))
    from_scratch = partition(scratch)
    scratch.close()
    assert incremental == from_scratch, (
        f"{len(incremental - from_scratch)} incremental groups differ: "
        f"{sorted(map(sorted, incremental ^ from_scratch))[:6]}"
    )
