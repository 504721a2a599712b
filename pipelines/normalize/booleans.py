"""Yes/no fields (newsletter opt-in, double opt-in) read with the source's own true/false words."""

from __future__ import annotations

from typing import NamedTuple

from pipelines.normalize.text import clean_text, is_missing


class BoolResult(NamedTuple):
    value: bool | None
    status: str
    reason: str | None


def normalize_bool(
    raw: str | None,
    true_values: list[str] | tuple[str, ...],
    false_values: list[str] | tuple[str, ...],
) -> BoolResult:
    """`Ja` -> True, `nee` -> False (case-insensitive); anything else -> invalid
    `not_a_boolean`."""
    clean = clean_text(raw)
    low = clean.lower() if clean is not None else None
    trues = {v.lower() for v in true_values}
    falses = {v.lower() for v in false_values}
    # A declared yes/no word wins over a missing marker ("n" is "no", not "unknown").
    if low in trues:
        return BoolResult(True, "valid", None)
    if low in falses:
        return BoolResult(False, "valid", None)
    if is_missing(clean):
        return BoolResult(None, "missing", None)
    return BoolResult(None, "invalid", "not_a_boolean")
