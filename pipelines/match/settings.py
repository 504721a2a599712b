"""Thresholds and weights of the matcher, from the optional `sftp_config/matching.yaml`.

Every key has a default, so the file may be absent or hold only what an operator changes.
Mistakes are reported as `<file>: <key.path>: <what is wrong>`, like the other config files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipelines.config import ConfigError, _load
from pipelines.match_definitions import BLOCKING_RULE_NAMES, COMPARISON_NAMES, COMPARISONS

SurvivorshipRule = Literal[
    "status", "source_priority", "recency", "consensus", "personal", "consumer"
]
SURVIVORSHIP_GROUPS = ("name", "email", "phone", "address", "birth_date")
# The order each group uses unless matching.yaml says otherwise (survivorship.py has the rules).
DEFAULT_SURVIVORSHIP: dict[str, list[str]] = {
    "name": ["status", "consensus", "source_priority", "recency"],
    "email": ["status", "recency", "personal", "consumer", "source_priority"],
    "phone": ["status", "recency", "source_priority"],
    "address": ["status", "recency", "source_priority"],
    "birth_date": ["status", "consensus", "source_priority", "recency"],
}


def _refuse_unknown(setting: str, what: str, given, known) -> None:
    """A clear error naming the unknown names in a list setting and the known ones."""
    unknown = [name for name in given if name not in known]
    if unknown:
        raise ValueError(
            f"{setting}: unknown {what}(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(Strict):
    """When a scored pair links two records into one customer."""

    link_probability: float = Field(
        0.9, gt=0, lt=1, description="pairs whose match probability is at least this link records"
    )


class Blocking(Strict):
    """Which candidate pairs get compared: the union of these rules (see blocking.py)."""

    rules: list[str] = Field(default_factory=lambda: list(BLOCKING_RULE_NAMES))
    max_block_size: int = Field(
        50,
        ge=2,
        description="larger blocks of one key are split by its finer keys, else left out",
    )

    @model_validator(mode="after")
    def _known_rules(self) -> Blocking:
        _refuse_unknown("rules", "rule", self.rules, BLOCKING_RULE_NAMES)
        if not self.rules:
            raise ValueError("rules: at least one blocking rule is needed")
        return self


class Training(Strict):
    """Unsupervised estimation of the match weights (u from random pairs, m by EM)."""

    @model_validator(mode="after")
    def _known_comparisons(self) -> Training:
        _refuse_unknown(
            "exact_weight_from_pairs", "comparison", self.exact_weight_from_pairs, COMPARISON_NAMES
        )
        return self

    random_pairs: int = Field(400_000, ge=1_000, description="random record pairs that estimate u")
    em_iterations: int = Field(40, ge=1, le=1000)
    em_tolerance: float = Field(1e-5, gt=0)
    retrain_growth: float = Field(
        0.5,
        ge=0,
        description="re-estimate when the records grew by this share since the last estimate",
    )
    seed: int = 42
    exact_weight_from_pairs: list[str] = Field(
        default_factory=lambda: ["phone", "address"],
        description="comparisons whose exact level (phone: a personal number) is weighed by the "
        "share of matches among the candidate pairs at that level rather than by value "
        "frequencies alone; needs a blocking rule on that comparison alone",
    )


class Households(Strict):
    """Strong contradictions that keep two records apart whatever their weight (household
    members, twins)."""

    first_name_max_similarity: float = Field(
        0.78,
        ge=0,
        le=1,
        description="first names below this Jaro-Winkler similarity (and no nickname or "
        "initial) differ",
    )
    birth_date_must_agree: bool = True


class Survivorship(Strict):
    """Which record's value a customer shows, per field group: the first rule that decides wins.

    `groups` sets the order of one group; `default`, when given, the order of every group not in
    `groups`; otherwise each group has its own built-in order (DEFAULT_SURVIVORSHIP).
    """

    default: list[SurvivorshipRule] | None = None
    groups: dict[str, list[SurvivorshipRule]] = Field(default_factory=dict)
    b2c: bool = Field(
        True, description="consumers: a consumer mail provider beats a company domain (`consumer`)"
    )
    export_date_counts_as_update: bool = Field(
        False,
        description="recency: compare a drop's export date with update times (default: own "
        "evidence first)",
    )

    @model_validator(mode="after")
    def _known_groups(self) -> Survivorship:
        _refuse_unknown("groups", "group", self.groups, SURVIVORSHIP_GROUPS)
        return self

    def rules_for(self, group: str) -> list[SurvivorshipRule]:
        if group in self.groups:
            return self.groups[group]
        return self.default if self.default is not None else DEFAULT_SURVIVORSHIP[group]  # type: ignore[return-value]


class MatchSettings(Strict):
    backend: Literal["duckdb", "spark"] = Field(
        "duckdb",
        description="where blocking, comparison, scoring and clustering run: the embedded DuckDB "
        "warehouse, or Apache Spark (the same partition; see docs/scaling.md)",
    )
    thresholds: Thresholds = Field(default_factory=Thresholds)
    blocking: Blocking = Field(default_factory=Blocking)
    training: Training = Field(default_factory=Training)
    households: Households = Field(default_factory=Households)
    survivorship: Survivorship = Field(default_factory=Survivorship)
    term_frequency: list[str] = Field(
        default_factory=lambda: [c.name for c in COMPARISONS if c.term_frequency],
        description="comparisons whose exact agreement counts for less on common values",
    )

    @model_validator(mode="after")
    def _known_comparisons(self) -> MatchSettings:
        _refuse_unknown("term_frequency", "comparison", self.term_frequency, COMPARISON_NAMES)
        return self


def load_match_settings(path: Path | None) -> MatchSettings:
    """The settings in `path`, or the defaults when there is no such file."""
    if path is None or not Path(path).exists():
        return MatchSettings()
    return _load(MatchSettings, Path(path))


__all__ = ["MatchSettings", "load_match_settings", "ConfigError"]
