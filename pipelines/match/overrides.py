"""Operator overrides of the matcher (`sftp_config/match_overrides.yaml`): they always win.

    never_merge:
      - [crm:K1001, webshop:W-77]     # twins Anna and Eva de Vries
    always_merge:
      - [crm:K2002, webshop:W-88]     # same person, changed name after marriage

A record is written `<source>:<source_record_id>`. A pair named in both lists is an error, and
so is an always-merge group that would hold a never-merge pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipelines.config import ConfigError, _load

Record = tuple[str, str]  # (source, source_record_id)


def _parse_record(text: str) -> Record:
    source, sep, record_id = str(text).partition(":")
    if not sep or not source.strip() or not record_id.strip():
        raise ValueError(
            f"{text!r}: write a record as <source>:<source_record_id>, e.g. crm:K1001"
        )
    return source.strip(), record_id.strip()


class _OverridesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    never_merge: list[list[str]] = Field(default_factory=list)
    always_merge: list[list[str]] = Field(default_factory=list)

    @field_validator("never_merge", "always_merge")
    @classmethod
    def _pairs(cls, v: list[list[str]]) -> list[list[str]]:
        for i, pair in enumerate(v):
            if len(pair) != 2:
                raise ValueError(f"item {i}: a pair needs exactly two records, got {len(pair)}")
            for text in pair:
                _parse_record(text)
        return v


@dataclass(frozen=True)
class Overrides:
    never: tuple[tuple[Record, Record], ...] = ()
    always: tuple[tuple[Record, Record], ...] = ()
    records: frozenset[Record] = field(default_factory=frozenset)

    @property
    def empty(self) -> bool:
        return not self.never and not self.always


def load_overrides(path: Path | None) -> Overrides:
    """The overrides in `path`; none when there is no file."""
    if path is None or not Path(path).exists():
        return Overrides()
    data = _load(_OverridesFile, Path(path))
    never = tuple((_parse_record(a), _parse_record(b)) for a, b in data.never_merge)
    always = tuple((_parse_record(a), _parse_record(b)) for a, b in data.always_merge)
    never_set = {frozenset(p) for p in never}
    for a, b in always:
        if frozenset((a, b)) in never_set:
            raise ConfigError(
                f"{path}: {a[0]}:{a[1]} and {b[0]}:{b[1]} are in both never_merge and always_merge"
            )
    # An always-merge group must not contain a never-merge pair.
    group: dict[Record, Record] = {}

    def find(x: Record) -> Record:
        while group.get(x, x) != x:
            x = group[x]
        return x

    for a, b in always:
        ra, rb = find(a), find(b)
        if ra != rb:
            group[rb] = ra
    for a, b in never:
        if find(a) == find(b):
            raise ConfigError(
                f"{path}: never_merge {a[0]}:{a[1]} / {b[0]}:{b[1]} contradicts always_merge "
                "pairs that join them"
            )
    records = frozenset(r for pair in never + always for r in pair)
    return Overrides(never=never, always=always, records=records)
