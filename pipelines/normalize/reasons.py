"""Every reason code a `<field>_reason` column can hold, and what it means.

A reason is set where the status is not `valid`: always with `invalid`, never with `missing`
(missing is its own answer), always with `inferred` (the evidence the value came from), and with
`corrected` only where the correction changed what the value means, not just how it is written
(`CHANGING_CORRECTIONS`: a fixed e-mail domain); a reformat says it all by its status (text.py).
"""

from __future__ import annotations

REASONS: dict[str, str] = {
    # e-mail
    "syntax": "not a valid address (email-validator, offline)",
    "no_at_sign": "no @ in the text",
    "too_long": (
        "longer than the standard allows (e-mail) or than any number of the country (phone)"
    ),
    "reserved_domain": (
        "a special-use domain that cannot receive mail (.test, .local, .invalid, ...)"
    ),
    "domain_typo": (
        "probably a misspelt provider domain (hotmaill.con); the likely address: email_suggestion"
    ),
    "domain_typo_corrected": (
        "an obvious misspelling of a provider domain, corrected (gmial.com -> gmail.com)"
    ),
    "closed_mail_provider": (
        "a provider that closed its mail service (hetnet.nl, swipnet.se); kept for matching"
    ),
    # phone
    "not_a_number": "no phone number in the text",
    "invalid_country_code": (
        "an unknown calling code, or a national number without a known country"
    ),
    "too_short": "fewer digits than any number of the country",
    "invalid_length": "a digit count no number of the country has",
    "local_number_only": "only dialable locally (no area code)",
    "invalid_number": (
        "the right length, but no number range of the country (phonenumbers.is_valid_number)"
    ),
    # postcode
    "wrong_shape_for_country": "does not fit the postcode pattern of the row's country",
    # names and address
    "not_a_name": "digits or symbols where a name belongs",
    "not_a_street": "no letters in the street",
    # the reference postcode table (reference.py), when one is configured
    "unknown_postcode": "not in the configured reference postcode table of the row's country",
    "street_not_at_postcode": "the reference postcode table lists other streets for this postcode",
    "not_a_house_number": "no house number (digits plus an optional suffix) in the text",
    # country
    "unknown_country": "not a country name or code in Dutch, English, Swedish, French or German",
    # country, inferred (status `inferred`) from other fields of the row
    "from_postcode_prefix": "the postcode's country prefix (B-1000, S-123 45)",
    "from_postcode": (
        "a postcode shape only one country uses (NL 1234 AB) or that is Swedish (123 45)"
    ),
    "from_city": "a city name that belongs to one country (Antwerpen, Göteborg)",
    "from_phone": "the calling code of a phone number written internationally (+32 ...)",
    "from_source_country": (
        "a postcode or national phone number valid in the source's default country"
    ),
    # dates
    "wrong_format": "neither the source's declared format nor an unambiguous other date",
    "not_a_date": "the right shape but no such day (31-02-1985, 31-13-1985)",
    "ambiguous_day_month": (
        "format unknown and both day-month and month-day readings are real dates"
    ),
    "future_date": "in the future (birth date), or more than a day ahead (time stamps)",
    "too_old": "a birth date more than 120 years ago, or a time stamp before 1900",
    # yes/no
    "not_a_boolean": "not one of the source's true_values / false_values",
}

# Reasons that go with `corrected` (the others go with `invalid` or `inferred`).
CHANGING_CORRECTIONS: frozenset[str] = frozenset({"domain_typo_corrected"})
INFERRED_REASONS: frozenset[str] = frozenset(r for r in REASONS if r.startswith("from_"))
