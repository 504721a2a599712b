"""Segment filters, helper columns and the safety rules, on a real DuckDB warehouse file."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pytest

from pipelines.config import ConfigError, Segment, load_exports
from pipelines.segments.build import build_segment, create_candidates_view, validate_segment
from tests.segments.people import customer, warehouse

REPO = Path(__file__).resolve().parents[2]
SHIPPED = load_exports(REPO / "sftp_config" / "exports.yaml")


def members(con, name: str, segment: Segment, today: date) -> list[str]:
    build_segment(con, name, segment, today, table="t")
    return [r[0] for r in con.execute("SELECT _customer_id FROM t ORDER BY _order").fetchall()]


def test_shipped_config_has_the_examples_and_they_validate(tmp_path):
    assert set(SHIPPED.segments) == {
        "newsletter",
        "winback",
        "birthdays_next_7_days",
        "incomplete_profiles",
        "by_country",
        "welcome",
        "reactivation",
        "sunset",
        "top_customers",
        "category_affinity",
    }
    con = warehouse(tmp_path / "w.duckdb", [])
    for name, segment in SHIPPED.segments.items():
        validate_segment(con, name, segment, date(2026, 11, 24))
        assert segment.requires_opt_in, f"{name} is a marketing segment: it must require opt-in"
    assert SHIPPED.segments["by_country"].split_by == "country"


@pytest.mark.parametrize(
    "filter_, expected",
    [
        ("shoe_size > 40", 'segments.vip: Binder Error: Referenced column "shoe_size" not found'),
        ("country = 'NL' AND", "segments.vip.filter: not one SQL boolean expression"),
        ("true) OR (is_suppressed", "segments.vip.filter: not one SQL boolean expression"),
        ("true; DELETE FROM customers", "segments.vip.filter: ';' is not allowed"),
        ("age > $min_age", "segments.vip.filter: uses $min_age but params: has no such key"),
    ],
)
def test_bad_filter_is_a_config_error_naming_the_segment(tmp_path, filter_, expected):
    con = warehouse(tmp_path / "w.duckdb", [customer("c1")])
    with pytest.raises(ConfigError) as err:
        # model_construct: validate_segment's own checks, whatever config loading checked before
        validate_segment(
            con,
            "vip",
            Segment.model_construct(filter=filter_, columns=["customer_id"]),
            date(2026, 11, 24),
        )
    assert expected in str(err.value)
    assert con.execute("SELECT count(*) FROM customers").fetchone()[0] == 1


def test_bad_column_and_order_are_named(tmp_path):
    con = warehouse(tmp_path / "w.duckdb", [])
    with pytest.raises(ConfigError, match=r"segments.vip: .*shoe_size"):
        validate_segment(
            con,
            "vip",
            Segment(filter="true", columns=["customer_id", "shoe_size"]),
            date(2026, 11, 24),
        )
    with pytest.raises(ConfigError, match=r"segments.vip: .*nonsense"):
        validate_segment(
            con,
            "vip",
            Segment(filter="true", columns=["customer_id"], order_by="nonsense"),
            date(2026, 11, 24),
        )
    with pytest.raises(ConfigError, match=r"segments.vip: .*colour"):
        validate_segment(
            con,
            "vip",
            Segment(filter="true", columns=["customer_id"], split_by="colour"),
            date(2026, 11, 24),
        )


def birthdays(tmp_path, born: dict[str, date], today: date) -> list[str]:
    con = warehouse(
        tmp_path / f"b{today}.duckdb", [customer(k, birth_date=v) for k, v in born.items()]
    )
    return members(con, "birthdays_next_7_days", SHIPPED.segments["birthdays_next_7_days"], today)


def test_birthdays_on_28_february_of_a_common_year(tmp_path):
    born = {
        "leapling": date(2000, 2, 29),  # celebrates on 28 February in 2027
        "today": date(1990, 2, 28),
        "march_1": date(1990, 3, 1),
        "march_6": date(1985, 3, 6),  # 6 days ahead: in
        "march_7": date(1985, 3, 7),  # 7 days ahead: out
        "yesterday": date(1970, 2, 27),  # 364 days ahead: out
        "unknown": None,
    }
    assert sorted(birthdays(tmp_path, born, date(2027, 2, 28))) == [
        "leapling",
        "march_1",
        "march_6",
        "today",
    ]


def test_birthdays_on_28_february_of_a_leap_year(tmp_path):
    con = warehouse(
        tmp_path / "w.duckdb",
        [
            customer("leapling", birth_date=date(2000, 2, 29)),
            customer("today", birth_date=date(1990, 2, 28)),
        ],
    )
    create_candidates_view(con, date(2028, 2, 28))
    rows = con.execute(
        "SELECT customer_id, next_birthday, days_to_birthday, age "
        "FROM segment_candidates ORDER BY customer_id"
    ).fetchall()
    assert rows == [("leapling", date(2028, 2, 29), 1, 27), ("today", date(2028, 2, 28), 0, 38)]


def test_leapling_age_and_window_in_a_common_year(tmp_path):
    con = warehouse(tmp_path / "w.duckdb", [customer("leapling", birth_date=date(2000, 2, 29))])
    for today, next_birthday, days, age in [
        (date(2027, 2, 22), date(2027, 2, 28), 6, 26),
        (date(2027, 2, 27), date(2027, 2, 28), 1, 26),
        (date(2027, 2, 28), date(2027, 2, 28), 0, 27),
        (date(2027, 3, 1), date(2028, 2, 29), 365, 27),
    ]:
        create_candidates_view(con, today)
        assert con.execute(
            "SELECT next_birthday, days_to_birthday, age FROM segment_candidates"
        ).fetchone() == (
            next_birthday,
            days,
            age,
        ), today
    assert birthdays(tmp_path, {"leapling": date(2000, 2, 29)}, date(2027, 2, 22)) == ["leapling"]


def test_birthdays_on_31_december_cross_the_year(tmp_path):
    born = {
        "new_years_eve": date(1985, 12, 31),
        "jan_1": date(1985, 1, 1),
        "jan_6": date(1999, 1, 6),
        "jan_7": date(1999, 1, 7),
        "dec_30": date(1985, 12, 30),
        "leapling": date(2000, 2, 29),
    }
    assert birthdays(tmp_path, born, date(2026, 12, 31)) == ["new_years_eve", "jan_1", "jan_6"]
    con = warehouse(tmp_path / "x.duckdb", [customer("jan_1", birth_date=date(1985, 1, 1))])
    create_candidates_view(con, date(2026, 12, 31))
    assert con.execute(
        "SELECT next_birthday, days_to_birthday, age FROM segment_candidates"
    ).fetchone() == (date(2027, 1, 1), 1, 41)


def test_winback_window_is_configurable(tmp_path):
    today = date(2026, 11, 24)
    bought = {
        "5_months": datetime(2026, 6, 1, 10),
        "6_months": datetime(2026, 5, 24, 10),
        "23_months": datetime(2024, 12, 1, 10),
        "24_months": datetime(2024, 11, 24, 10),
        "never": None,
    }
    con = warehouse(
        tmp_path / "w.duckdb", [customer(k, last_purchase_at=v) for k, v in bought.items()]
    )
    winback = SHIPPED.segments["winback"]
    assert winback.params == {"min_months": 6, "max_months": 24}
    assert sorted(members(con, "winback", winback, today)) == ["23_months", "6_months"]
    longer = winback.model_copy(update={"params": {"min_months": 12, "max_months": 36}})
    assert members(con, "winback", longer, today) == ["24_months", "23_months"]


def test_incomplete_profiles_name_what_is_missing(tmp_path):
    con = warehouse(
        tmp_path / "w.duckdb",
        [
            customer("complete"),
            customer("no_birth_date", birth_date=None),
            customer("no_phone", phone=None, city=None),
            customer("no_email", birth_date=None, email=None, email_status="missing"),
        ],
    )
    build_segment(
        con,
        "incomplete_profiles",
        SHIPPED.segments["incomplete_profiles"],
        date(2026, 11, 24),
        table="t",
    )
    assert con.execute(
        "SELECT customer_id, missing_fields FROM t ORDER BY customer_id"
    ).fetchall() == [
        ("no_birth_date", "birth_date"),
        ("no_phone", "phone,city"),
    ]


def test_marketing_segments_require_opt_in_whatever_the_filter(tmp_path):
    con = warehouse(
        tmp_path / "w.duckdb",
        [
            customer("yes"),
            customer("no", newsletter_opt_in=False),
            customer("unknown", newsletter_opt_in=None),
        ],
    )
    everyone = Segment(filter="true OR newsletter_opt_in IS NOT TRUE", columns=["customer_id"])
    assert members(con, "all", everyone, date(2026, 11, 24)) == ["yes"]
    service = everyone.model_copy(update={"requires_opt_in": False})
    assert members(con, "all", service, date(2026, 11, 24)) == ["no", "unknown", "yes"]


@pytest.mark.parametrize(
    "reason", ["unsubscribe", "hard_bounce", "complaint", "erasure", "no_consent"]
)
def test_suppressed_by_id_email_or_phone_never_in_a_segment(tmp_path, reason):
    people = [customer(f"c{i}") for i in range(5)]
    suppressions = [
        {"customer_id": "c0", "reason": reason},
        {"email": "  C1@Example.NL ", "reason": reason},  # matched whatever the case and spaces
        {"phone": people[2]["phone"], "reason": reason},
    ]
    con = warehouse(tmp_path / "w.duckdb", people, suppressions)
    marketing = Segment(filter="is_suppressed OR NOT is_suppressed", columns=["customer_id"])
    assert members(con, "all", marketing, date(2026, 11, 24)) == ["c3", "c4"]
    # Service mail (no opt-in needed): every reason bars it except missing consent.
    service = marketing.model_copy(update={"requires_opt_in": False})
    expected = ["c0", "c1", "c2", "c3", "c4"] if reason == "no_consent" else ["c3", "c4"]
    assert members(con, "all", service, date(2026, 11, 24)) == expected
    create_candidates_view(con, date(2026, 11, 24))
    assert con.execute(
        "SELECT customer_id, suppression_reasons FROM segment_candidates "
        "WHERE is_suppressed ORDER BY 1"
    ).fetchall() == [("c0", reason), ("c1", reason), ("c2", reason)]


@pytest.mark.parametrize(
    "order_by, expected",
    [
        ("customer_id -- newest first", "comments are not allowed"),
        ("customer_id /* newest */", "comments are not allowed"),
        ("customer_id) AS _order, * FROM segment_candidates", "unbalanced parentheses"),
        ("customer_id; DROP TABLE customers", "';' is not allowed"),
    ],
)
def test_order_by_cannot_escape_its_clause(tmp_path, order_by, expected):
    con = warehouse(tmp_path / "w.duckdb", [customer("c1")])
    with pytest.raises(ConfigError, match=rf"segments.vip.order_by: {re.escape(expected)}"):
        segment = Segment.model_construct(
            filter="true", columns=["customer_id"], order_by=order_by
        )
        validate_segment(con, "vip", segment, date(2026, 11, 24))


def test_order_by_may_use_expressions(tmp_path):
    con = warehouse(
        tmp_path / "w.duckdb",
        [customer("b", city="Zwolle"), customer("a", city=None), customer("c", city="Assen")],
    )
    segment = Segment(
        filter="true", columns=["customer_id"], order_by="coalesce(city, 'zzz') DESC, customer_id"
    )
    assert members(con, "s", segment, date(2026, 11, 24)) == ["a", "b", "c"]


def test_filter_may_use_a_subquery_over_other_tables(tmp_path):
    from tests.segments.people import insert

    con = warehouse(tmp_path / "w.duckdb", [customer("a"), customer("b"), customer("c")])
    insert(
        con,
        "customer_sources",
        [
            {"customer_id": "a", "source": "webshop", "source_record_id": "w1"},
            {"customer_id": "b", "source": "crm", "source_record_id": "k1"},
        ],
    )
    segment = Segment(
        filter=(
            "customer_id IN (SELECT customer_id FROM customer_sources WHERE source = 'webshop')"
        ),
        columns=["customer_id"],
    )
    assert members(con, "webshop", segment, date(2026, 11, 24)) == ["a"]
