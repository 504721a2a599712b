"""Normalize and validate every contact field, the way a Dutch, Belgian or Swedish marketer needs
it.

    from pipelines.normalize import normalize_staged
    normalize_staged(con, "staged_view", "normalized", source=source, default_country="NL")

`normalize_staged` is the set-based batch path (DuckDB SQL plus library calls once per distinct
value); the per-value functions below are the reference it agrees with, and what tests and
other stages call for a single value. Every validated field gets a status (`valid`,
`corrected`, `invalid`, `missing`) and, with `invalid`, a reason code (`reasons.REASONS`); see
`text.py` for the exact meaning of `valid` and `corrected`, and `region.py` for which country a
row's phone, postcode and names are read in.
"""

from pipelines.normalize.address import (
    normalize_address,
    normalize_city,
    normalize_house_number,
    normalize_street,
)
from pipelines.normalize.booleans import normalize_bool
from pipelines.normalize.country import normalize_country
from pipelines.normalize.dates import normalize_date
from pipelines.normalize.email import normalize_email
from pipelines.normalize.names import normalize_first_name, normalize_last_name
from pipelines.normalize.phone import normalize_phone
from pipelines.normalize.postcode import normalize_postcode
from pipelines.normalize.reasons import REASONS
from pipelines.normalize.record import normalize_record
from pipelines.normalize.staged import normalize_staged

__all__ = [
    "REASONS",
    "normalize_address",
    "normalize_bool",
    "normalize_city",
    "normalize_country",
    "normalize_date",
    "normalize_email",
    "normalize_first_name",
    "normalize_house_number",
    "normalize_last_name",
    "normalize_phone",
    "normalize_postcode",
    "normalize_record",
    "normalize_staged",
    "normalize_street",
]
