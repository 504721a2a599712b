"""`normalize_record`: one staged row through every per-value function, in plain Python.

This is the reference the batch path (`normalize_staged`) must agree with, and the readable
answer to "what happens to a row": which field feeds which, and which region a phone or
postcode is read in (the row's own country when it has one, else the source's default).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pipelines.config import Source
from pipelines.fields import CONTACT_COLUMNS
from pipelines.normalize.address import normalize_address, normalize_city, normalize_suffix
from pipelines.normalize.booleans import normalize_bool
from pipelines.normalize.country import normalize_country
from pipelines.normalize.dates import date_formats, normalize_date
from pipelines.normalize.email import normalize_email
from pipelines.normalize.mail_domains import closed_mail_domains
from pipelines.normalize.names import normalize_first_name, normalize_last_name
from pipelines.normalize.phone import normalize_phone
from pipelines.normalize.places import brussels_names
from pipelines.normalize.postcode import normalize_postcode
from pipelines.normalize.reference import apply_reference, load_reference
from pipelines.normalize.region import address_country, is_international, phone_country
from pipelines.normalize.text import clean_text

OUTPUT_COLUMNS: tuple[str, ...] = tuple(c for c in CONTACT_COLUMNS if c != "loaded_at")


def normalize_record(
    row: dict[str, Any], *, source: Source, default_country: str, today: dt.date | None = None
) -> dict[str, Any]:
    """A staged row (lineage columns + raw text per mapped field) -> a `contacts` row (no
    loaded_at)."""
    today = today or dt.date.today()
    get = row.get
    out: dict[str, Any] = {c: None for c in OUTPUT_COLUMNS}
    out.update(source=get("source"), file_id=get("file_id"), line_number=get("line_number"))
    out["source_record_id"] = clean_text(get("source_record_id"))

    # Country: the file's, else evidence from the row (region.py); the phone is read where the
    # address says the person lives.
    country = normalize_country(get("country"))
    found, evidence = (
        (None, None)
        if country.value
        else address_country(clean_text(get("postcode")), get("city"))
    )
    region = country.value or found or default_country
    out.update(country=country.value, country_status=country.status, country_reason=country.reason)

    closed = closed_mail_domains(source.closed_mail_domains, source.open_mail_domains)
    email = normalize_email(get("email"), closed)
    out.update(
        email=email.value,
        email_status=email.status,
        email_reason=email.reason,
        email_suggestion=email.suggestion,
        email_is_role=email.is_role,
        email_is_disposable=email.is_disposable,
        email_is_closed_provider=email.is_closed_provider,
        email_is_personal_provider=email.is_personal_provider,
    )

    phone = normalize_phone(get("phone"), region)
    out.update(
        phone=phone.value,
        phone_status=phone.status,
        phone_reason=phone.reason,
        phone_type=phone.type,
    )

    if (
        not country.value
        and not found
        and phone.value
        and is_international(clean_text(get("phone")))
    ):
        found = phone_country(phone.value)
        evidence = "from_phone" if found else None
    place = country.value or found or default_country
    postcode = normalize_postcode(get("postcode"), place)
    out.update(
        postcode=postcode.value, postcode_status=postcode.status, postcode_reason=postcode.reason
    )
    if not found and (
        postcode.status in ("valid", "corrected") or phone.status in ("valid", "corrected")
    ):
        found, evidence = default_country, "from_source_country"
    if country.status == "missing" and found:
        out.update(country=found, country_status="inferred", country_reason=evidence)

    first = normalize_first_name(get("first_name"), place)
    out.update(
        first_name=first.value,
        first_name_status=first.status,
        first_name_reason=first.reason,
        first_name_is_initials=first.is_initials,
    )
    last = normalize_last_name(get("last_name"), get("infix"), place, first.infix)
    out.update(
        infix=last.infix,
        last_name=last.value,
        last_name_status=last.status,
        last_name_reason=last.reason,
    )

    address = normalize_address(get("street"), get("house_number"), get("address_line"), place)
    raw_of = {
        "street": get("street"),
        "house_number": get("house_number"),
        "address_line": get("address_line"),
    }
    out.update(
        street=address.street.value,
        street_status=address.street.status,
        street_reason=address.street.reason,
        house_number=address.house.number,
        house_number_suffix=normalize_suffix(get("house_number_suffix")) or address.house.suffix,
        house_number_status=address.house.status,
        house_number_reason=address.house.reason,
        street_raw=raw_of[address.street_from] if address.street_from else get("street"),
        house_number_raw=raw_of[address.house_from] if address.house_from else get("house_number"),
    )
    out["city"] = normalize_city(get("city"), place, brussels_names(source))

    birth = normalize_date(
        get("birth_date"),
        date_formats(source.date_format, None, timestamp=False),
        birth=True,
        today=today,
    )
    out.update(
        birth_date=birth.value.date() if birth.value else None,
        birth_date_status=birth.status,
        birth_date_reason=birth.reason,
        birth_date_ambiguous=birth.ambiguous,
    )
    stamp_formats = date_formats(source.date_format, source.datetime_format, timestamp=True)
    purchase = normalize_date(get("last_purchase_at"), stamp_formats, today=today)
    out.update(
        last_purchase_at=purchase.value,
        last_purchase_at_status=purchase.status,
        last_purchase_at_reason=purchase.reason,
    )
    for field in ("updated_at", "newsletter_opt_in_at"):
        stamp = normalize_date(get(field), stamp_formats, today=today)
        out.update(
            {field: stamp.value, f"{field}_status": stamp.status, f"{field}_reason": stamp.reason}
        )

    opt_in = normalize_bool(get("newsletter_opt_in"), source.true_values, source.false_values)
    out.update(
        newsletter_opt_in=opt_in.value,
        newsletter_opt_in_status=opt_in.status,
        newsletter_opt_in_reason=opt_in.reason,
    )
    double = normalize_bool(get("double_opt_in"), source.true_values, source.false_values)
    out.update(
        double_opt_in=double.value,
        double_opt_in_status=double.status,
        double_opt_in_reason=double.reason,
    )

    for field in (
        "email",
        "phone",
        "postcode",
        "first_name",
        "last_name",
        "country",
        "birth_date",
        "newsletter_opt_in",
        "last_purchase_at",
        "updated_at",
        "newsletter_opt_in_at",
        "double_opt_in",
    ):
        out[f"{field}_raw"] = get(field)
    # A configured reference postcode table has the last word on postcode, city and street.
    apply_reference(
        out, load_reference(source.postcode_reference), out["country"] or default_country
    )
    return out
