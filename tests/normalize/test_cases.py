"""The case table (cases.yaml): each tricky input through its per-value function AND through
`normalize_staged`, with the expected value, status and reason."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pytest

from pipelines.normalize import (
    normalize_address,
    normalize_bool,
    normalize_city,
    normalize_country,
    normalize_date,
    normalize_email,
    normalize_first_name,
    normalize_last_name,
    normalize_phone,
    normalize_postcode,
    normalize_record,
    normalize_staged,
)
from tests.normalize.conftest import (
    DEFAULT_COUNTRY,
    TODAY,
    fetch_by_line,
    load_cases,
    source_for,
    stage_rows,
)

CASES = load_cases()


def test_the_table_is_big_enough():
    assert sum(len(rows) for rows in CASES.values()) >= 150


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


# Per field: how a case becomes a staged row, and what the output row must then say.
GROUPS: dict[str, dict[str, Any]] = {
    "email": {
        "fields": ["email"],
        "row": lambda c: {"email": c[0]},
        "expect": lambda c: {
            "email": c[1],
            "email_status": c[2],
            "email_reason": c[3],
            "email_suggestion": c[4],
            "email_is_role": c[5],
            "email_is_disposable": c[6],
            "email_raw": c[0],
        },
    },
    "phone": {
        "fields": ["phone", "country"],
        "row": lambda c: {"phone": c[0], "country": c[1]},
        "expect": lambda c: {
            "phone": c[2],
            "phone_status": c[3],
            "phone_type": c[4] if c[2] else None,
            "phone_reason": None if c[2] else c[4],
        },
    },
    "postcode": {
        "fields": ["postcode", "country"],
        "row": lambda c: {"postcode": c[0], "country": c[1]},
        "expect": lambda c: {"postcode": c[2], "postcode_status": c[3], "postcode_reason": c[4]},
    },
    "first_name": {
        "fields": ["first_name", "country"],
        "row": lambda c: {"first_name": c[0], "country": c[1]},
        "expect": lambda c: {
            "first_name": c[2],
            "first_name_status": c[3],
            "first_name_is_initials": c[4],
        },
    },
    "last_name": {
        "fields": ["last_name", "infix", "country"],
        "row": lambda c: {"last_name": c[0], "infix": c[1], "country": c[2]},
        "expect": lambda c: {"infix": c[3], "last_name": c[4], "last_name_status": c[5]},
    },
    "address": {
        "fields": ["street", "house_number", "address_line"],
        "row": lambda c: {"street": c[0], "house_number": c[1], "address_line": c[2]},
        "expect": lambda c: {
            "street": c[3],
            "house_number": c[4],
            "house_number_suffix": c[5],
            "street_status": c[6],
            "house_number_status": c[7],
        },
    },
    "country": {
        "fields": ["country"],
        "row": lambda c: {"country": c[0]},
        "expect": lambda c: {"country": c[1], "country_status": c[2]},
    },
    "birth_date": {
        "fields": ["birth_date"],
        "row": lambda c: {"birth_date": c[0]},
        "format": lambda c: c[1],
        "expect": lambda c: {
            "birth_date": _date(c[2]),
            "birth_date_status": c[3],
            "birth_date_reason": c[4],
            "birth_date_ambiguous": c[5],
        },
    },
    "last_purchase_at": {
        "fields": ["last_purchase_at"],
        "row": lambda c: {"last_purchase_at": c[0]},
        "options": {"date_format": "%Y-%m-%d", "datetime_format": "%Y-%m-%dT%H:%M:%S"},
        "expect": lambda c: {
            "last_purchase_at": dt.datetime.fromisoformat(c[1]) if c[1] else None,
            "last_purchase_at_status": c[2],
            "last_purchase_at_reason": c[3],
        },
    },
    # The e-mail cases again, with the provider flags (closed, consumer) checked too.
    "email_domains": {
        "fields": ["email"],
        "row": lambda c: {"email": c[0]},
        "expect": lambda c: {
            "email": c[1],
            "email_status": c[2],
            "email_reason": c[3],
            "email_suggestion": c[4],
            "email_is_role": c[5],
            "email_is_disposable": c[6],
            "email_is_closed_provider": c[7],
            "email_is_personal_provider": c[8],
        },
    },
    # A country the file leaves empty, from the other fields of the row (the source's default is
    # NL).
    "country_inferred": {
        "fields": ["country", "postcode", "city", "phone"],
        "row": lambda c: {"country": c[0], "postcode": c[1], "city": c[2], "phone": c[3]},
        "expect": lambda c: {
            "country": c[4],
            "country_status": c[5],
            "country_reason": c[6],
            "phone": c[7],
        },
    },
    "newsletter_opt_in": {
        "fields": ["newsletter_opt_in"],
        "row": lambda c: {"newsletter_opt_in": c[0]},
        "expect": lambda c: {"newsletter_opt_in": c[1], "newsletter_opt_in_status": c[2]},
    },
}


# Groups that reuse another group's row and expectations (a separate block of cases.yaml).
SAME_AS = {
    "birth_date_placeholders": "birth_date",
    "last_purchase_at_placeholders": "last_purchase_at",
    "first_name_markers": "first_name",
    "newsletter_opt_in_markers": "newsletter_opt_in",
}
GROUPS.update({alias: GROUPS[group] for alias, group in SAME_AS.items()})

# Country-dependent depth: infixes and Belgian particles, street abbreviations, city names.
GROUPS.update(
    {
        "names": {
            "fields": ["first_name", "infix", "last_name", "country"],
            "row": lambda c: {
                "first_name": c[0],
                "infix": c[1],
                "last_name": c[2],
                "country": c[3],
            },
            "expect": lambda c: {
                "first_name": c[4],
                "infix": c[5],
                "last_name": c[6],
                "first_name_status": c[7],
                "last_name_status": c[8],
            },
        },
        "address_by_country": {
            "fields": ["street", "house_number", "address_line", "country"],
            "row": lambda c: {
                "street": c[0],
                "house_number": c[1],
                "address_line": c[2],
                "country": c[3],
            },
            "expect": lambda c: {
                "street": c[4],
                "house_number": c[5],
                "house_number_suffix": c[6],
                "street_status": c[7],
                "house_number_status": c[8],
            },
        },
        "city": {
            "fields": ["city", "country"],
            "row": lambda c: {"city": c[0], "country": c[1]},
            "expect": lambda c: {"city": c[2]},
        },
    }
)


def _per_value_depth(group: str, c: list[Any]) -> dict[str, Any]:
    """The per-value functions of the country-dependent groups."""
    if group == "names":
        first = normalize_first_name(c[0], c[3])
        last = normalize_last_name(c[2], c[1], c[3], first.infix)
        return {
            "first_name": first.value,
            "infix": last.infix,
            "last_name": last.value,
            "first_name_status": first.status,
            "last_name_status": last.status,
        }
    if group == "address_by_country":
        r = normalize_address(c[0], c[1], c[2], c[3])
        return {
            "street": r.street.value,
            "house_number": r.house.number,
            "house_number_suffix": r.house.suffix,
            "street_status": r.street.status,
            "house_number_status": r.house.status,
        }
    return {"city": normalize_city(c[0], c[1])}


def _per_value(group: str, c: list[Any]) -> dict[str, Any]:
    """The same expectations, from the per-value functions."""
    group = SAME_AS.get(group, group)
    if group in ("names", "address_by_country", "city"):
        return _per_value_depth(group, c)
    if group == "email_domains":
        r = normalize_email(c[0])
        return {
            "email": r.value,
            "email_status": r.status,
            "email_reason": r.reason,
            "email_suggestion": r.suggestion,
            "email_is_role": r.is_role,
            "email_is_disposable": r.is_disposable,
            "email_is_closed_provider": r.is_closed_provider,
            "email_is_personal_provider": r.is_personal_provider,
        }
    if group == "country_inferred":
        # Several fields decide together: the row-at-a-time reference is the per-value path here.
        row = normalize_record(
            {"country": c[0], "postcode": c[1], "city": c[2], "phone": c[3]},
            source=source_for(GROUPS[group]["fields"]),
            default_country=DEFAULT_COUNTRY,
            today=TODAY,
        )
        return {k: row[k] for k in ("country", "country_status", "country_reason", "phone")}
    if group == "email":
        r = normalize_email(c[0])
        return {
            "email": r.value,
            "email_status": r.status,
            "email_reason": r.reason,
            "email_suggestion": r.suggestion,
            "email_is_role": r.is_role,
            "email_is_disposable": r.is_disposable,
            "email_raw": c[0],
        }
    if group == "phone":
        r = normalize_phone(c[0], c[1] or DEFAULT_COUNTRY)
        return {
            "phone": r.value,
            "phone_status": r.status,
            "phone_type": r.type,
            "phone_reason": r.reason,
        }
    if group == "postcode":
        r = normalize_postcode(c[0], c[1])
        return {"postcode": r.value, "postcode_status": r.status, "postcode_reason": r.reason}
    if group == "first_name":
        r = normalize_first_name(c[0], c[1])
        return {
            "first_name": r.value,
            "first_name_status": r.status,
            "first_name_is_initials": r.is_initials,
        }
    if group == "last_name":
        r = normalize_last_name(c[0], c[1], c[2])
        return {"infix": r.infix, "last_name": r.value, "last_name_status": r.status}
    if group == "address":
        r = normalize_address(c[0], c[1], c[2])
        return {
            "street": r.street.value,
            "house_number": r.house.number,
            "house_number_suffix": r.house.suffix,
            "street_status": r.street.status,
            "house_number_status": r.house.status,
        }
    if group == "country":
        r = normalize_country(c[0])
        return {"country": r.value, "country_status": r.status}
    if group == "birth_date":
        r = normalize_date(c[0], (c[1],), birth=True, today=TODAY)
        return {
            "birth_date": r.value.date() if r.value else None,
            "birth_date_status": r.status,
            "birth_date_reason": r.reason,
            "birth_date_ambiguous": r.ambiguous,
        }
    if group == "last_purchase_at":
        r = normalize_date(c[0], ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"), today=TODAY)
        return {
            "last_purchase_at": r.value,
            "last_purchase_at_status": r.status,
            "last_purchase_at_reason": r.reason,
        }
    if group == "newsletter_opt_in":
        s = source_for([])
        r = normalize_bool(c[0], s.true_values, s.false_values)
        return {"newsletter_opt_in": r.value, "newsletter_opt_in_status": r.status}
    raise AssertionError(group)


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> dict[str, dict[int, dict[str, Any]]]:
    """Every group's cases staged as rows of one table and normalized in one `normalize_staged`
    call (one per date format for birth dates). Result: group -> case index -> output row."""
    con = duckdb.connect(str(tmp_path_factory.mktemp("normalize") / "cases.duckdb"))
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for group, spec in GROUPS.items():
        by_format: dict[str, list[int]] = {}
        for i, case in enumerate(CASES[group]):
            by_format.setdefault(spec.get("format", lambda c: "%Y-%m-%d")(case), []).append(i)
        out[group] = {}
        for fmt, indexes in by_format.items():
            source = source_for(spec["fields"], **spec.get("options", {"date_format": fmt}))
            rows = [{"source_record_id": str(i), **spec["row"](CASES[group][i])} for i in indexes]
            fields = ["source_record_id", *spec["fields"]]
            stage_rows(con, "staged", rows, fields)
            normalize_staged(
                con,
                "staged",
                "normalized",
                source=source,
                default_country=DEFAULT_COUNTRY,
                today=TODAY,
            )
            for line, row in fetch_by_line(con, "normalized").items():
                out[group][indexes[line - 2]] = row
    con.close()
    return out


def _params(group: str):
    return [
        pytest.param(group, i, id=f"{group}:{case[0]!r}") for i, case in enumerate(CASES[group])
    ]


ALL = [p for group in GROUPS for p in _params(group)]


@pytest.mark.parametrize(("group", "index"), ALL)
def test_per_value(group: str, index: int):
    case = CASES[group][index]
    assert _per_value(group, case) == GROUPS[group]["expect"](case)


@pytest.mark.parametrize(("group", "index"), ALL)
def test_batch(group: str, index: int, batch):
    case = CASES[group][index]
    row = batch[group][index]
    expected = GROUPS[group]["expect"](case)
    assert {k: row[k] for k in expected} == expected


def test_reasons_are_documented_and_go_with_invalid(batch):
    from pipelines.fields import VALIDATED_FIELDS
    from pipelines.normalize.reasons import CHANGING_CORRECTIONS, INFERRED_REASONS, REASONS

    for rows in batch.values():
        for row in rows.values():
            for field in VALIDATED_FIELDS:
                status, reason = row[f"{field}_status"], row[f"{field}_reason"]
                if status == "corrected":
                    assert reason is None or reason in CHANGING_CORRECTIONS, (
                        field,
                        status,
                        reason,
                    )
                elif status == "inferred":
                    assert reason in INFERRED_REASONS, (field, status, reason)
                else:
                    assert (reason is not None) == (status == "invalid"), (field, status, reason)
                assert reason is None or reason in REASONS, reason
