"""Exact agreement on a personal number (a mobile, an identifier) or on a whole address, weighed
from the pairs that show it; and clustering that does not let the order of links decide.

The examples are modelled on records the benchmarks miss or missed: FEBRL's duplicates whose
names and birth date are garbled while the identifier and the address agree, and a demo
customer whose typo'd first name sits on a record sharing her mobile number.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from pipelines.config import ConfigError
from pipelines.match import MatchSettings
from pipelines.match.clustering import cluster
from pipelines.match.comparison import FIRST_NAME, RECORD_COLUMNS, compare, records_from_arrow
from pipelines.match.scoring import exact_u_from_pairs
from pipelines.match.settings import Training, load_match_settings
from pipelines.match_definitions import COMPARISON_NAMES, COMPARISONS
from tests.match.conftest import add_contacts, contact, customer_of, run
from tests.match.town import town

HOME = dict(
    street="Hinchcliffestraat",
    house_number="220",
    postcode="3146 KL",
    city="Maassluis",
    country="NL",
)


def garbled_person() -> list[dict]:
    """One person: a clean record and one whose first and last names are typed wrong and that has
    no birth date, while the mobile number and the address agree (as FEBRL4's `lily green` and
    `brandon tallaxdira`, or `david candida` and `alysaha hyland`: one soc_sec_id each)."""
    return [
        contact(
            "crm",
            "G1",
            first_name="David",
            last_name="Candida",
            birth_date="1978-11-04",
            phone="+31658294711",
            phone_type="mobile",
            **HOME,
        ),
        contact(
            "webshop",
            "G2",
            first_name="Alysaha",
            last_name="Hyland",
            phone="+31658294711",
            phone_type="mobile",
            **HOME,
        ),
    ]


def household() -> list[dict]:
    """Two people at one address sharing the landline: different first names, no birth date."""
    home = dict(HOME, street="Kirklandlaan", house_number="40", postcode="3149 AB")
    return [
        contact(
            "crm",
            f"H{i}",
            first_name=first,
            last_name="Webb",
            phone="+31105682368",
            phone_type="fixed_line",
            **home,
        )
        for i, first in enumerate(("Holly", "Harold"), start=1)
    ]


def test_a_personal_number_outweighs_garbled_names_and_a_shared_line_does_not(warehouse):
    add_contacts(warehouse, town() + garbled_person() + household())
    run(warehouse)
    assert customer_of(warehouse, "crm", "G1") == customer_of(warehouse, "webshop", "G2")
    assert customer_of(warehouse, "crm", "H1") != customer_of(warehouse, "crm", "H2")
    model = warehouse.execute("SELECT model FROM match_model").fetchall()[0][0]
    assert '"from_pairs": {"phone"' in model


def test_weighed_by_frequencies_alone_the_garbled_pair_stays_apart(warehouse):
    """The setting `training.exact_weight_from_pairs: []` keeps the weights of value frequencies:
    one unique value then barely outweighs the prior, and four contradicting fields win."""
    add_contacts(warehouse, town() + garbled_person())
    run(warehouse, settings=MatchSettings(training=Training(exact_weight_from_pairs=[])))
    assert customer_of(warehouse, "crm", "G1") != customer_of(warehouse, "webshop", "G2")


def _levels(rows: list[dict]) -> np.ndarray:
    out = np.full((len(rows), len(COMPARISONS)), -1, dtype=np.int8)
    for i, row in enumerate(rows):
        for name, level in row.items():
            out[i, COMPARISON_NAMES.index(name)] = level
    return out


def test_relatives_sharing_mobile_numbers_lower_the_weight_of_one():
    m = {c.name: list(c.prior_m) for c in COMPARISONS}
    u = {c.name: list(c.prior_u) for c in COMPARISONS}
    same = dict(first_name=4, last_name=3, birth_date=3, phone=3, address=4)
    # a parent's mobile number on a grown-up child's record, who lives elsewhere
    relative = dict(first_name=0, last_name=3, birth_date=0, phone=3, address=0)
    personal_only = _levels([same] * 200)
    shared = _levels([same] * 150 + [relative] * 50)
    u_own, share_own, pairs = exact_u_from_pairs(personal_only, "phone", m, u, prior=1e-5)
    u_shared, share_shared, _ = exact_u_from_pairs(shared, "phone", m, u, prior=1e-5)
    assert pairs == 200
    assert share_own > 0.99 and share_shared == pytest.approx(0.75, abs=0.03)
    assert u_shared > 50 * u_own  # a mobile shared by relatives tells far less
    # too few pairs at the level to tell: nothing is estimated
    assert exact_u_from_pairs(personal_only[:10], "phone", m, u, prior=1e-5)[0] is None


def _records(rows: list[dict]):
    strings = [c for c in RECORD_COLUMNS if c not in ("idx", "record_key", "ord")]
    table = {
        "idx": list(range(len(rows))),
        "record_key": list(range(len(rows))),
        "ord": list(range(len(rows))),
    }
    for col in strings:
        table[col] = [row.get(col) for row in rows]
    types = {"fn_is_initials": pa.bool_(), "phone_is_personal": pa.bool_(), "birth": pa.int32()}
    types.update(idx=pa.int64(), record_key=pa.int64(), ord=pa.int64())
    return records_from_arrow(
        pa.table({k: pa.array(v, types.get(k, pa.string())) for k, v in table.items()})
    )


def test_phone_and_address_levels():
    """A personal number is not a shared line; an exact address needs the street to agree."""
    base = dict(fn="anna", ln="webb", postcode="4122", house_number="6", hn_base="6")
    rec = _records(
        [
            dict(base, phone="3116798", phone_is_personal=True, street="cleland street"),
            dict(base, phone="3116798", phone_is_personal=True, street="cleland street"),
            dict(base, phone="+31105682368", phone_is_personal=False, street="cleland street"),
            dict(base, phone="+31105682368", phone_is_personal=False, street="hawker place"),
            dict(base, phone="3116789", phone_is_personal=True),
        ]
    )
    got = compare(rec, np.array([0, 2, 0, 0]), np.array([1, 3, 3, 4])).levels
    phone = got[:, COMPARISON_NAMES.index("phone")].tolist()
    address = got[:, COMPARISON_NAMES.index("address")].tolist()
    assert phone[:2] == [3, 2]  # exact personal number; exact shared line
    assert phone[3] == 1  # two neighbouring digits swapped
    exact = COMPARISONS[COMPARISON_NAMES.index("address")].exact
    assert address[0] == exact and address[3] == exact  # the street agrees, or one has none
    # same postcode and number on another street: where a postcode covers a town, not exact
    assert address[1] == exact - 1


def test_a_record_vouched_in_on_a_personal_number_does_not_block_its_own_duplicates():
    """Three records of one person (demo customer `aya vanbovene`): `Aa` and `Aya` share a
    mobile, `Aya` again on another record with an old number. The mobile link is the strongest
    and is made first; `Aa` then contradicts the third record on the first name, a conflict the
    cluster has already overruled between `Aa` and `Aya`."""
    contradicting = {(0, 2)}
    conflict = {(0, 2): FIRST_NAME}

    def contradicts(i, j):
        return (min(i, j), max(i, j)) in contradicting

    def vouches(i, j):
        return {i, j} == {0, 1}

    records = np.arange(3)
    edges = dict(
        edge_l=np.array([0, 1]), edge_r=np.array([1, 2]), edge_weight=np.array([40.0, 30.0])
    )
    order = np.arange(3)
    got = cluster(
        records,
        **edges,
        order=order,
        contradicts=contradicts,
        vouches=vouches,
        conflict_of=lambda i, j: conflict.get((min(i, j), max(i, j)), 0),
        overruled={0: [(1, FIRST_NAME)], 1: [(0, FIRST_NAME)]},
    )
    assert len(set(got.labels.tolist())) == 1
    # without the overruled conflict the order of links decides: the third record stays out
    apart = cluster(records, **edges, order=order, contradicts=contradicts, vouches=vouches)
    assert len(set(apart.labels.tolist())) == 2


def test_an_unknown_comparison_for_exact_weights_from_pairs_is_refused(tmp_path):
    path = tmp_path / "matching.yaml"
    path.write_text("training:\n  exact_weight_from_pairs: [phone, shoe_size]\n")
    with pytest.raises(ConfigError, match="exact_weight_from_pairs"):
        load_match_settings(path)


def test_a_model_estimated_for_other_levels_is_estimated_again(warehouse):
    """A warehouse matched before the phone had its personal-number level keeps a model with
    three phone levels: the next run estimates the weights again and re-matches everything."""
    add_contacts(warehouse, town(people=60))
    run(warehouse)
    text = warehouse.execute("SELECT model FROM match_model").fetchall()[0][0]
    old = json.loads(text)
    for key in ("m", "u"):
        old[key]["phone"] = old[key]["phone"][:3]
    warehouse.execute("UPDATE match_model SET model = ?", [json.dumps(old)])
    result = run(warehouse)
    assert result.full_run and result.retrained
    assert warehouse.execute("SELECT count(*) FROM match_model").fetchall()[0][0] == 2
