"""Dates and timestamps in each source's declared format; ambiguity flagged, never guessed.

- The source's `date_format` / `datetime_format` (strftime codes) is tried first: a match is
  `valid`.
- Fallbacks that cannot be misread are `corrected`: ISO `1985-06-23` (year first), the declared
  order with another separator (`23/06/1985` for `%d-%m-%Y`), a date with a midnight time.
- `date_format: auto` (a source that does not know its own format): ISO, or day and month in
  either order when only one reading is a real date (`31/12/1985`); `05/06/1985` could be 5 June
  or 6 May, so it is `invalid` with reason `ambiguous_day_month` and `birth_date_ambiguous`.
- Placeholders CRMs write for "unknown" are `missing`, not invalid: a date of only zeros
  (`00-00-0000`, `0000-00-00 00:00:00`) and the stand-in days `PLACEHOLDER_DAYS` (`01-01-1900`,
  `1900-01-01`, `31-12-9999`, Excel's `1899-12-30`, .NET's `0001-01-01`) in any format read.
- Birth dates in the future (`future_date`) or more than 120 years ago (`too_old`) are invalid;
  so are other timestamps more than a day in the future or before 1900.

Batch path: values whose shape is exactly the declared format's (`format_regex`) are parsed in
SQL with `try_strptime`, which agrees with Python's `strptime` on such fixed-width digits; the
rest go through `normalize_date` once per distinct value.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import NamedTuple

from pipelines.normalize.text import clean_text, is_missing

# Days systems write when the real date is unknown; no real birth or purchase falls on them often
# enough to matter, and a wrong "born 1 January 1900" is worse than an empty field.
PLACEHOLDER_DAYS: tuple[dt.date, ...] = (
    dt.date(1900, 1, 1),
    dt.date(1899, 12, 30),
    dt.date(1899, 12, 31),
    dt.date(9999, 12, 31),
    dt.date(1, 1, 1),
)
# Only zeros for digits, in a date's shape (`00-00-0000`, `00/00/0000`, `0000-00-00 00:00:00`).
ZERO_DATE = re.compile(
    r"0{1,4}[-/. ]0{1,2}[-/. ]0{1,4}(?:[ T]0{1,2}:0{1,2}(?::0{1,2}(?:\.0+)?)?)?"
)
BIRTH_MAX_AGE_YEARS = 120
EARLIEST_TIMESTAMP = dt.datetime(1900, 1, 1)
FUTURE_TOLERANCE = dt.timedelta(days=1)
AUTO = "auto"

_DIRECTIVE_REGEX = {
    "%Y": r"\d{4}",
    "%m": r"\d{2}",
    "%d": r"\d{2}",
    "%H": r"\d{2}",
    "%M": r"\d{2}",
    "%S": r"\d{2}",
    "%y": r"\d{2}",
    "%f": r"\d{6}",
}


class DateResult(NamedTuple):
    value: dt.datetime | None  # a date for birth dates (time 00:00), a timestamp otherwise
    status: str
    reason: str | None
    ambiguous: bool | None


def format_regex(fmt: str) -> str | None:
    """A regular expression (RE2 and Python alike) of the exact shape `fmt` produces with zero
    padding; None when the format uses codes the SQL fast path does not reproduce (month names,
    ...)."""
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%":
            code = fmt[i : i + 2]
            if code not in _DIRECTIVE_REGEX:
                return None
            out.append(_DIRECTIVE_REGEX[code])
            i += 2
        else:
            out.append(re.escape(fmt[i]))
            i += 1
    return "".join(out)


def _try(text: str, fmt: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text, fmt)
    except ValueError:
        return None


def _date_order(fmt: str) -> str | None:
    """'dmy', 'mdy' or 'ymd' for a numeric date format such as %d-%m-%Y."""
    codes = re.findall(r"%([dmYy])", fmt)
    order = "".join({"d": "d", "m": "m", "Y": "y", "y": "y"}[c] for c in codes)
    return order if len(order) == 3 else None


_NUMERIC = re.compile(r"(\d{1,4})[-/. ](\d{1,2})[-/. ](\d{1,4})(?:[ T]00:00(?::00(?:\.0+)?)?)?")


def _build(y: int, m: int, d: int) -> dt.datetime | None:
    try:
        return dt.datetime(y, m, d)
    except ValueError:
        return None


def _parse_flexible(text: str, order: str | None) -> tuple[dt.datetime | None, str | None, bool]:
    """Fallback parsing: (value, reason when none, ambiguous). `order` None means auto."""
    m = _NUMERIC.fullmatch(text)
    if not m:
        return None, "wrong_format", False
    a, b, c = m.groups()
    if len(a) == 4:  # year first: ISO order, never ambiguous
        value = _build(int(a), int(b), int(c))
        return value, None if value else "not_a_date", False
    if len(c) != 4:
        return None, "wrong_format", False
    year, first, second = int(c), int(a), int(b)
    dmy, mdy = _build(year, second, first), _build(year, first, second)
    if order == "dmy":
        return dmy, None if dmy else "not_a_date", False
    if order == "mdy":
        return mdy, None if mdy else "not_a_date", False
    if order is not None:
        return None, "wrong_format", False
    if dmy and mdy and dmy != mdy:
        return None, "ambiguous_day_month", True
    value = dmy or mdy
    return value, None if value else "not_a_date", False


def parse_datetime(
    clean: str, formats: tuple[str, ...]
) -> tuple[dt.datetime | None, str, str | None, bool]:
    """(value, status, reason, ambiguous) of a cleaned, present value."""
    for fmt in formats:
        if fmt != AUTO:
            value = _try(clean, fmt)
            if value is not None:
                return value, "valid", None, False
    # ISO timestamps with a time of day are unambiguous whatever the declared format.
    for iso in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"):
        value = _try(clean, iso)
        if value is not None:
            return value, "corrected", None, False
    orders = [_date_order(f) for f in formats if f != AUTO]
    order = None if AUTO in formats or not any(orders) else next(o for o in orders if o)
    value, reason, ambiguous = _parse_flexible(clean, order)
    if value is None:
        return None, "invalid", reason, ambiguous
    return value, "corrected", None, False


def normalize_date(
    raw: str | None,
    formats: tuple[str, ...],
    *,
    birth: bool = False,
    today: dt.date | None = None,
) -> DateResult:
    """Parse with the declared formats; check the range (birth dates: not future, not over 120
    years)."""
    clean = clean_text(raw)
    if is_missing(clean) or ZERO_DATE.fullmatch(clean):
        return DateResult(None, "missing", None, None)
    value, status, reason, ambiguous = parse_datetime(clean, formats)
    if value is None:
        return DateResult(None, status, reason, ambiguous)
    if value.date() in PLACEHOLDER_DAYS:
        return DateResult(None, "missing", None, None)
    return check_range(value, status, birth=birth, today=today)


def placeholder_sql(ts_expr: str) -> str:
    """SQL: the parsed time stamp `ts_expr` falls on a placeholder day (see `PLACEHOLDER_DAYS`).

    Every placeholder day lies before 1900-01-02 or in 9999, so one cheap range test lets the
    usual date through before the day list is looked at."""
    assert all(d < dt.date(1900, 1, 2) or d.year == 9999 for d in PLACEHOLDER_DAYS)
    days = " OR ".join(
        f"CAST({ts_expr} AS DATE) = DATE '{d.isoformat()}'" for d in PLACEHOLDER_DAYS
    )
    return (
        f"(({ts_expr} < TIMESTAMP '1900-01-02' OR {ts_expr} >= TIMESTAMP '9999-01-01') "
        f"AND ({days}))"
    )


def check_range(
    value: dt.datetime, status: str, *, birth: bool, today: dt.date | None = None
) -> DateResult:
    today = today or dt.date.today()
    if birth:
        value = dt.datetime(value.year, value.month, value.day)
        if value.date() > today:
            return DateResult(None, "invalid", "future_date", False)
        oldest = years_before(today, BIRTH_MAX_AGE_YEARS)
        if value.date() < oldest:
            return DateResult(None, "invalid", "too_old", False)
        return DateResult(value, status, None, False)
    if value > latest_timestamp(today):
        return DateResult(None, "invalid", "future_date", False)
    if value < EARLIEST_TIMESTAMP:
        return DateResult(None, "invalid", "too_old", False)
    return DateResult(value, status, None, False)


def latest_timestamp(today: dt.date) -> dt.datetime:
    """The latest acceptable time stamp: the end of today plus the tolerance (time zones,
    clocks)."""
    return dt.datetime.combine(today + dt.timedelta(days=1), dt.time()) + FUTURE_TOLERANCE


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def normalize_date_args(args: tuple) -> DateResult:
    raw, formats, birth, today = args
    return normalize_date(raw, formats, birth=birth, today=today)


def date_formats(
    date_format: str, datetime_format: str | None, *, timestamp: bool
) -> tuple[str, ...]:
    """Formats to try for a field: timestamps try the datetime format, then the date format."""
    if timestamp and datetime_format:
        return (datetime_format, date_format)
    return (date_format,)
