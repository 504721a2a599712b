"""Mask email addresses and phone numbers wherever text leaves the warehouse for a log.

    mask_email("jan.jansen@gmail.com")  -> "j***@gmail.com"
    mask_phone("+31612345678")          -> "+31 6 ****5678"
    mask_text("mail jan@x.nl or 06-12345678") -> "mail j***@x.nl or 06 ****5678"

`install_log_masking()` makes every log record of this process pass through `mask_text`: a log
record factory (so it also covers Dagster's `context.log`, whose logger is not in the logging
hierarchy) plus a `MaskingFilter` on the `dagster`, `crmclean`, `pipelines` and `assets` loggers
and the root handlers. It is idempotent; the code location installs it when it loads. A logged
traceback (`log.exception`) is masked too.

Error messages do not go through logging: Dagster stores a failed step's exception text (and its
causes) in the event log as it is. `masked_errors()` re-raises an error whose text holds an
address or number as a `MaskedError` with the masked text; wrap code that handles personal data.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

import phonenumbers

# Anything shaped like an address (`x@label.label`) is masked, also a mistyped one
# (`jan@gmail.c0m`, `jan@gmail.com2`, `jan@gmail..com`) and a punycode domain (`.xn--p1ai`):
# a typo is still the person's address. Only a domain of digits and dots is left alone, so
# `user@127.0.0.1:22` (an SFTP login, not personal data) stays readable in logs. The address
# starts at a word character, so a quote around it (`'jan@x.nl'`) stays outside.
EMAIL_PATTERN = re.compile(r"[\w%+-][\w.%+'’-]*@(?![\d.]+(?![\w.-]))[\w-]+(?:\.+[\w-]+)+")
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
    if record.exc_info and not record.exc_text:  # formatters print exc_text when it is set
        record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)
    record._crmclean_masked = True
    return record


class MaskedError(RuntimeError):
    """An error whose text held an email address or phone number; this is its masked text."""


def _chain(error: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    while error is not None and error not in out:
        out.append(error)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return out


@contextmanager
def masked_errors() -> Iterator[None]:
    """Let no exception text with a full email address or phone number leave this block.

    An error whose message (or the message of an error it came from) holds one is replaced by a
    `MaskedError` with the masked messages of the chain, not linked to the original; any other
    error passes through unchanged.
    """
    try:
        yield
    except Exception as error:
        texts = [f"{type(e).__name__}: {e}" for e in _chain(error)]
        masked = [mask_text(t) for t in texts]
        if masked == texts:
            raise
        # `from None`: tracebacks (Python's, Dagster's error info) leave the original out.
        raise MaskedError(" <- ".join(masked)).with_traceback(error.__traceback__) from None


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
