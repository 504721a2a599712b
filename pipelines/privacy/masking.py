"""Mask email addresses and phone numbers wherever text leaves the warehouse for a log.

    mask_email("jan.jansen@gmail.com")  -> "j***@gmail.com"
    mask_phone("+31612345678")          -> "+31 6 ****5678"
    mask_text("mail jan@x.nl or 06-12345678") -> "mail j***@x.nl or 06 ****5678"

`install_log_masking()` makes every log record of this process pass through `mask_text`: a log
record factory (so it also covers Dagster's `context.log`, whose logger is not in the logging
hierarchy) plus a `MaskingFilter` on the `dagster`, `crmclean`, `pipelines` and `assets` loggers
and the root handlers. It is idempotent; the code location installs it when it loads.
"""

from __future__ import annotations

import logging
import re

import phonenumbers

# The domain ends in a letters-only top-level domain, so `user@127.0.0.1:22` (an SFTP login,
# not personal data) stays readable in logs.
EMAIL_PATTERN = re.compile(r"[\w.%+'’-]+@(?:[\w-]+\.)+[^\W\d_]{2,}(?![\w-])")
# Phone-like: starts with +, 00 or a trunk 0 followed by a digit, then 8 to 14 more digits with
# spaces, dashes, dots, slashes or brackets between them. Dates (2026-11-23), times (06:00) and
# decimals (0.9134) do not start that way; a masked number (`****5678`) does not match again.
PHONE_PATTERN = re.compile(r"(?<![\w+*-])(?:\+|0(?=\d))\d?(?:[ \-./()]{0,2}\d){7,14}(?![\w*]|-\d)")


def mask_email(value: str | None) -> str | None:
    """`jan.jansen@gmail.com` -> `j***@gmail.com`: the first character and the domain stay."""
    if value is None:
        return None
    text = str(value).strip()
    local, at, domain = text.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_phone(value: str | None) -> str | None:
    """`+31612345678` -> `+31 6 ****5678`; a national `06-12345678` -> `06 ****5678`.

    Only the country code, the first digit of the number and its last four digits stay.
    """
    if value is None:
        return None
    text = str(value).strip()
    digits = re.sub(r"\D", "", text)
    if text.startswith(("+", "00")):
        try:
            number = phonenumbers.parse("+" + digits[2:] if text.startswith("00") else text, None)
            nsn = phonenumbers.national_significant_number(number)
            if len(nsn) > 5:
                return f"+{number.country_code} {nsn[0]} ****{nsn[-4:]}"
            return f"+{number.country_code} ****"
        except phonenumbers.NumberParseException:
            pass
    if len(digits) <= 5:
        return "****"
    return f"{digits[:2]} ****{digits[-4:]}"


def mask_text(text: str) -> str:
    """Every email address and phone number in `text`, masked."""
    if "@" in text:
        text = EMAIL_PATTERN.sub(lambda m: mask_email(m.group()), text)
    if any(c.isdigit() for c in text):
        text = PHONE_PATTERN.sub(lambda m: mask_phone(m.group()), text)
    return text


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Replace the record's message by its masked form (args are merged into the message)."""
    if getattr(record, "_crmclean_masked", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a malformed %-format: leave it for logging to report
        return record
    masked = mask_text(message)
    if masked != message:
        record.msg = masked
        record.args = ()
    record._crmclean_masked = True
    return record


class MaskingFilter(logging.Filter):
    """A logging filter that masks email addresses and phone numbers in any record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


MASKED_LOGGERS = ("dagster", "crmclean", "pipelines", "assets")


def install_log_masking() -> None:
    """Mask every log record this process creates from now on (idempotent)."""
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "_crmclean_masking", False):

        def masking_factory(*args, **kwargs):
            return mask_record(factory(*args, **kwargs))

        masking_factory._crmclean_masking = True
        logging.setLogRecordFactory(masking_factory)
    for name in MASKED_LOGGERS:
        _add_filter(logging.getLogger(name))
    for handler in logging.getLogger().handlers:
        _add_filter(handler)


def _add_filter(target: logging.Filterer) -> None:
    if not any(isinstance(f, MaskingFilter) for f in target.filters):
        target.addFilter(MaskingFilter())
