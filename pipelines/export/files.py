"""Write a segment as a CSV file, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path

import pandas as pd

from pipelines.config import ExportFormat

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """Prefix free text that a spreadsheet would run as a formula (CSV injection)."""
    return "'" + value if value.startswith(FORMULA_START) else value


def write_csv(df: pd.DataFrame, path: Path, fmt: ExportFormat, *, typed_columns: set[str] = frozenset()) -> str:
    """Write `df` to `path` atomically, returning the file's sha256.

    Columns in `typed_columns` hold validated values (E.164 phones, ids, dates) and are written as
    they are; every other text cell is neutralised against formula injection.
    """
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime(fmt.date_format)
        elif out[col].dtype == object and col not in typed_columns:
            text = out[col].astype("string")
            risky = text.str.match(r"^[=+\-@\t\r]").fillna(False).astype(bool)
            out[col] = out[col].where(~risky, "'" + text)
    out = out.rename(columns=fmt.header)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("." + path.name + ".part")
    out.to_csv(tmp, index=False, sep=fmt.delimiter, encoding=fmt.encoding, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    os.replace(tmp, path)
    return digest
