"""Export file names from a template: the config checks a template with it when it loads, and
exports name their files with it, so both share this module and neither imports the other."""

from __future__ import annotations

import re
from datetime import datetime

FIELDS = "segment, date, part, mode"


def render_file_name(
    template: str, *, segment: str, now: datetime, part: str | None = None, mode: str = "full"
) -> str:
    """`newsletter_{date:%Y%m%d}.csv` -> `newsletter_20261124.csv`.

    Fields: `{segment}`, `{date}` (the export time, with any strftime format), `{part}` (the split
    value) and `{mode}`. A split segment whose template has no `{part}` gets `_<part>` before the
    extension, so parts never overwrite each other.
    """
    safe_part = re.sub(r"[^A-Za-z0-9_-]+", "_", part or "").strip("_") or (
        "unknown" if part is not None else ""
    )
    try:
        name = template.format(segment=segment, date=now, part=safe_part, mode=mode)
    except (KeyError, IndexError, ValueError) as e:
        raise ValueError(
            f"file_name {template!r}: {type(e).__name__}: {e}; fields are {FIELDS}"
        ) from None
    if part is not None and "{part}" not in template:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem}_{safe_part}.{ext}" if dot else f"{name}_{safe_part}"
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"file_name {template!r} renders to {name!r}: not a plain file name")
    return name
