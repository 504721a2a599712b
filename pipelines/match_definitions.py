"""What the matcher compares and blocks on: one object per comparison and per blocking rule.

As in Splink's settings, a comparison is declared once: its name, its agreement levels (lowest
first, the last one exact agreement), the prior m and u of each level, the match feature whose
value frequency adjusts an exact agreement, and whether that adjustment is on by default. The
columns it adds to `match_edges` follow from its name. A blocking rule is a key expression over
the match features and the comparisons that key decides.

pipelines/match reads these: comparison.py computes the levels, scoring.py the weights,
blocking.py the pairs, settings.py the defaults and the names matching.yaml accepts, engine.py
the evidence. The warehouse schema derives `match_records` and `match_edges` from them, which is
why this module sits outside pipelines/match: the schema reads it without importing the engine.
Adding a comparison means an entry here and its levels in `comparison.compare`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Comparison:
    name: str
    levels: tuple[str, ...]  # lowest first; the last one is exact agreement
    prior_m: tuple[float, ...]  # prior belief per level among matches (scoring.py)
    prior_u: tuple[float, ...]  # ... and among non-matches
    tf_column: str  # the encoded match feature whose frequency adjusts an exact agreement
    term_frequency: bool = True  # adjusted by default (`term_frequency` in matching.yaml)
    # Levels below the last that are exact agreements too (of another kind of value: a shared
    # line against a personal number); their frequency adjusts them as well.
    also_exact: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not len(self.levels) == len(self.prior_m) == len(self.prior_u):
            raise ValueError(f"comparison {self.name}: one prior m and u per level")

    @property
    def exact(self) -> int:
        """The level of exact agreement."""
        return len(self.levels) - 1

    @property
    def exact_levels(self) -> tuple[int, ...]:
        """Every level of exact agreement, the last one included."""
        return (*self.also_exact, self.exact)

    @property
    def edge_columns(self) -> dict[str, str]:
        """The columns of `match_edges` that keep this comparison's level and weight of a pair."""
        return {f"{self.name}_level": "TINYINT", f"{self.name}_weight": "DOUBLE"}


COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "first_name",
        ("different", "same initial", "similar", "close or call name", "exact"),
        prior_m=(0.03, 0.05, 0.05, 0.12, 0.75),
        prior_u=(0.93, 0.04, 0.02, 0.005, 0.005),
        tf_column="fn",
    ),
    Comparison(
        "last_name",
        ("different", "similar", "close", "exact"),
        prior_m=(0.03, 0.03, 0.06, 0.88),
        prior_u=(0.97, 0.02, 0.006, 0.004),
        tf_column="ln",
    ),
    Comparison(
        "birth_date",
        ("different", "two digits off", "one digit off or day/month swapped", "exact"),
        prior_m=(0.02, 0.01, 0.04, 0.93),
        prior_u=(0.9985, 0.0012, 0.0002, 0.0001),
        tf_column="birth_key",
        term_frequency=False,
    ),
    Comparison(
        "email",
        ("different", "domain typo", "exact"),
        prior_m=(0.25, 0.10, 0.65),
        prior_u=(0.99999, 0.000009, 0.000001),
        tf_column="email",
    ),
    # A personal number (a mobile, or an identifier of unknown type: features.py) belongs to one
    # person; a fixed line is shared by a household. Exact agreement on either is its own level,
    # so that each gets its own weight (scoring.py: the personal number's from the pairs).
    Comparison(
        "phone",
        (
            "different",
            "one digit off or two swapped",
            "exact, shared line",
            "exact personal number",
        ),
        prior_m=(0.30, 0.02, 0.18, 0.50),
        prior_u=(0.99998, 0.000015, 0.000003, 0.000002),
        tf_column="phone",
        also_exact=(2,),
    ),
    Comparison(
        "address",
        (
            "different",
            "same postcode or city and street",
            "same street and number",
            "same number, near",
            "exact",
        ),
        prior_m=(0.15, 0.05, 0.03, 0.05, 0.72),
        prior_u=(0.99, 0.009, 0.0005, 0.0003, 0.0002),
        tf_column="address_key",
    ),
)
COMPARISON_NAMES: tuple[str, ...] = tuple(c.name for c in COMPARISONS)
# The comparison whose exact level "exact personal number" is an identifier (scoring.py).
PERSONAL_NUMBER = "phone"
EDGE_COLUMNS: dict[str, str] = {k: v for c in COMPARISONS for k, v in c.edge_columns.items()}


@dataclass(frozen=True)
class BlockingRule:
    name: str
    key: str  # SQL over the columns of `_m_rec`; NULL: the record has no key for the rule
    # The comparisons the key decides: pairs found by the rule agree on them, matches or not,
    # so EM training on that rule's pairs leaves them out (scoring.estimate_m).
    determines: tuple[str, ...]
    # Finer keys (SQL over `_m_rec`) that split a block larger than `max_block_size`: each is
    # appended to the key in turn, and records are compared within each part (blocking.py).
    refine: tuple[str, ...] = ()


# What the records of one person share inside a block of a common key: the region (the first
# two characters of the postcode: a province in NL and BE, a county in SE), the birth year, the
# start of the street, the initial of the other name.
_REGION = "left(postcode, 2)"
_BIRTH_YEAR = "CAST(year(birth_date) AS VARCHAR)"
_STREET = "left(street, 4)"


BLOCKING_RULES: tuple[BlockingRule, ...] = (
    BlockingRule("email", "email", ("email",)),
    BlockingRule("phone", "phone", ("phone",)),
    BlockingRule(
        "postcode_house_number",
        "postcode || ' ' || house_number",
        ("address",),
        refine=(_STREET, "left(ln, 2)"),
    ),
    BlockingRule(
        "birth_date_last_name",
        "CAST(birth_date AS VARCHAR) || ' ' || left(ln, 3)",
        ("birth_date", "last_name"),
        refine=("fn_initial", _REGION),
    ),
    BlockingRule(
        "birth_date_first_name",
        "CASE WHEN NOT fn_is_initials THEN CAST(birth_date AS VARCHAR) || ' ' || left(fn, 3) END",
        ("birth_date", "first_name"),
        refine=("left(ln, 1)", _REGION),
    ),
    BlockingRule(
        "first_name_last_name",
        "CASE WHEN NOT fn_is_initials THEN fn || ' ' || ln END",
        ("first_name", "last_name"),
        refine=(_REGION, _BIRTH_YEAR),
    ),
    BlockingRule(
        "postcode_last_name",
        "postcode || ' ' || left(ln, 4)",
        ("address", "last_name"),
        refine=("fn_initial", _STREET),
    ),
    BlockingRule(
        "street_house_number_city", "street || ' ' || house_number || ' ' || city", ("address",)
    ),
    BlockingRule(
        "email_local_part", "CASE WHEN length(email_local) >= 6 THEN email_local END", ("email",)
    ),
    # first and last name in either order (a form filled in the wrong way round)
    BlockingRule(
        "birth_date_name_pair",
        "CAST(birth_date AS VARCHAR) || ' ' || least(left(fn, 2), left(ln, 2))"
        " || greatest(left(fn, 2), left(ln, 2))",
        ("birth_date", "first_name", "last_name"),
        refine=(_REGION,),
    ),
    # a first name on a street (the house number left out, the surname mistyped)
    BlockingRule(
        "street_city_first_name",
        "CASE WHEN NOT fn_is_initials THEN street || ' ' || city || ' ' || left(fn, 3) END",
        ("address", "first_name"),
        refine=("left(ln, 1)", "hn_base"),
    ),
)
BLOCKING_RULE_NAMES: tuple[str, ...] = tuple(r.name for r in BLOCKING_RULES)

# The match features of a record (pipelines/match/features.py derives them from `contacts`),
# kept in `match_records` so that a daily run derives them only for new and changed contacts.
FEATURE_TYPES: dict[str, str] = {
    **{
        c: "VARCHAR"
        for c in (
            "fn",
            "fn_initial",
            "ln",
            "email",
            "email_local",
            "phone",
            "postcode",
            "house_number",
            "hn_base",
            "address_key",
            "street",
            "city",
        )
    },
    "fn_is_initials": "BOOLEAN",
    "phone_is_personal": "BOOLEAN",
    "birth_date": "DATE",
}

for _rule in BLOCKING_RULES:
    if set(_rule.determines) - set(COMPARISON_NAMES):
        raise ValueError(f"blocking rule {_rule.name}: determines an unknown comparison")
