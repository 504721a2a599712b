"""Fellegi-Sunter scoring: match weights learnt from the data itself, without labels.

For every comparison level, `m` is the probability of that level among true matches and `u`
among non-matches; a pair's match weight is the sum over comparisons of log2(m / u) (bits).

- `u` comes from random record pairs (almost all non-matches); the u of exact agreement is
  computed exactly from value frequencies: the chance that two random records share a value.
- `m` and the share of matches among candidate pairs come from expectation-maximisation over
  the candidate pairs (u held fixed), counted once per distinct pattern of levels. Pairs that a
  household contradiction keeps apart are left out: they are non-matches by rule, and letting
  them in would teach the model that matches often disagree on first name.
- A small Dirichlet prior (each comparison's `prior_m`, `prior_u`) keeps the estimates sane on
  tiny data sets (tests, a first drop of a few hundred rows); on real volumes the data
  outweighs it.
- The exact level of the comparisons in `training.exact_weight_from_pairs` (a personal number,
  a whole address) takes its u from the share of matches among the candidate pairs at that
  level instead (`exact_u_from_pairs`): frequencies cannot show that a value held by one person
  is held by no one else, the pairs can.
- Term-frequency adjustment: an exact agreement on a value shared by many records (`de Vries`,
  a family e-mail address, a switchboard number) counts log2(u_exact / tf(value)) bits less
  than the average exact agreement, one on a rare value (`Wijnaldum`) a little more. The
  average is the frequency of the values agreed on at that level (`Model.tf_reference`; the
  phone's shared lines and personal numbers each their own).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from pipelines.match.comparison import RecordArrays, compare
from pipelines.match_definitions import COMPARISON_NAMES, COMPARISONS, PERSONAL_NUMBER, Comparison

# How many pairs the prior beliefs (`Comparison.prior_m`, `.prior_u`) weigh.
PRIOR_PAIRS_M = 50.0
PRIOR_PAIRS_U = 2_000.0
TF_ADJUSTMENT_LIMIT = 8.0  # bits, either way
_BASE = 8  # pattern encoding: levels -1..6 as one base-8 digit per comparison


@dataclass
class Model:
    """Estimated m and u per comparison level, and the share of matches among candidate pairs."""

    m: dict[str, list[float]]
    u: dict[str, list[float]]
    prior: float
    records: int = 0
    pairs: int = 0
    iterations: int = 0
    trained_at: str = ""
    term_frequency: list[str] = field(default_factory=list)
    records_per_person: float = 1.0  # k: duplicates make a value more frequent than its people are
    # lone records that conflict on one field may join (clustering.lone_conflicts): decided on a
    # full run from the twins the data confirm
    forgive_lone_conflicts: bool = False
    # per comparison and exact level (as text): the mean frequency of the values agreed on there,
    # which a value's own frequency is measured against (term-frequency adjustment)
    tf_reference: dict[str, dict[str, float]] = field(default_factory=dict)
    # comparisons whose exact level was weighed from the pairs at that level
    # (`training.exact_weight_from_pairs`): [share of matches among them, pairs]
    from_pairs: dict[str, list[float]] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Model:
        return cls(**json.loads(text))

    def level_weights(self) -> dict[str, np.ndarray]:
        """log2(m/u) per comparison level (bits)."""
        return {
            f: np.log2(np.asarray(self.m[f]) / np.asarray(self.u[f])) for f in COMPARISON_NAMES
        }

    def reference(self, comparison: str, level: int) -> float:
        """The mean value frequency at an exact level (models stored before `tf_reference`:
        the u of the last level)."""
        return self.tf_reference.get(comparison, {}).get(str(level), self.u[comparison][level])

    def prior_weight(self) -> float:
        return math.log2(self.prior / (1.0 - self.prior))


@dataclass
class Scores:
    weights: np.ndarray  # float32 (pairs, comparisons): per comparison weight incl. term frequency
    total: np.ndarray  # float64 per pair: the match weight in bits

    def probability(self, model: Model) -> np.ndarray:
        return 1.0 / (1.0 + np.exp2(-(self.total + model.prior_weight())))


def score(model: Model, rec: RecordArrays, l: np.ndarray, levels: np.ndarray) -> Scores:  # noqa: E741
    """Per-comparison weights and the total match weight of each pair."""
    return score_levels(
        model, levels, lambda column, exact: rec.tf(column, model.records_per_person)[l[exact]]
    )


def score_levels(
    model: Model, levels: np.ndarray, tf_of: Callable[[str, np.ndarray], np.ndarray]
) -> Scores:
    """`score` with the term frequencies from `tf_of(column, exact)`: the left records' tf of the
    pairs in the mask `exact` (a Spark worker gets them joined to its pairs, not from `rec`)."""
    per_level = model.level_weights()
    weights = np.zeros(levels.shape, dtype=np.float32)
    for k, c in enumerate(COMPARISONS):
        f = c.name
        lv = levels[:, k]
        table = np.append(per_level[f], 0.0)  # index -1 -> the appended 0 (no information)
        weights[:, k] = table[lv]
        if f in model.term_frequency:
            for level in c.exact_levels:
                exact = lv == level
                if exact.any():
                    tf = tf_of(c.tf_column, exact)
                    adjust = np.log2(model.reference(f, level) / np.maximum(tf, 1e-12))
                    weights[exact, k] += np.clip(
                        adjust, -TF_ADJUSTMENT_LIMIT, TF_ADJUSTMENT_LIMIT
                    ).astype(np.float32)
    return Scores(weights=weights, total=weights.sum(axis=1, dtype=np.float64))


def estimate_u(
    rec: RecordArrays, random_pairs: int, seed: int, per_person: float = 1.0, **compare_options
) -> dict[str, list[float]]:
    """u per level: exact agreement from value frequencies, the other levels from random pairs."""
    rng = np.random.default_rng(seed)
    n = rec.n
    u: dict[str, list[float]] = {}
    if n >= 2:
        k = min(random_pairs, max(10_000, n * (n - 1) // 2))
        i = rng.integers(0, n, k)
        j = rng.integers(0, n, k)
        keep = i != j
        levels = compare(rec, i[keep], j[keep], **compare_options).levels
    else:
        levels = np.full((0, len(COMPARISONS)), -1, dtype=np.int8)
    n_pairs_exact = n * (n - 1) / 2
    for k, c in enumerate(COMPARISONS):
        size = len(c.levels)
        lv = levels[:, k]
        counts = np.bincount(lv[lv >= 0], minlength=size).astype(np.float64)[:size]
        prior = np.asarray(c.prior_u)
        observed = counts.sum()
        if observed > n_pairs_exact:  # a small data set: the sample repeats its few distinct pairs
            counts *= n_pairs_exact / observed
            observed = counts.sum()
        inexact = [x for x in range(size) if x not in c.exact_levels]
        below = (counts[inexact] + PRIOR_PAIRS_U * prior[inexact]) / (observed + PRIOR_PAIRS_U)
        out = np.zeros(size)
        for level, chance in _exact_chances(rec, c, per_person).items():
            out[level] = (chance * n_pairs_exact + PRIOR_PAIRS_U * prior[level]) / (
                n_pairs_exact + PRIOR_PAIRS_U
            )
        out[inexact] = below / below.sum() * (1.0 - out.sum())
        u[c.name] = [float(x) for x in out]
    return u


@dataclass
class LevelPatterns:
    """Candidate pairs counted per distinct (levels, rule mask, usable): all that training reads.

    Training counts pairs per pattern of levels, so it needs no pair by itself: a run compares
    its pairs batch by batch and merges each batch's patterns (`combine`), in memory that grows
    with the distinct patterns (thousands), not with the pairs (tens of millions).
    """

    levels: np.ndarray  # int8 (patterns, comparisons)
    masks: np.ndarray  # int64: the rules that found the pairs
    usable: np.ndarray  # bool: no contradiction (training leaves the others out of EM)
    counts: np.ndarray  # float64: how many pairs have the pattern

    @staticmethod
    def keys(levels: np.ndarray, masks: np.ndarray, usable: np.ndarray) -> np.ndarray:
        """One int64 per pair: its levels (a base-8 digit each), usable flag and rule mask."""
        code = _encode(levels, range(levels.shape[1]))
        bits = 3 * levels.shape[1]
        return code | (usable.astype(np.int64) << bits) | (masks.astype(np.int64) << (bits + 1))

    @classmethod
    def from_keys(cls, keys: np.ndarray, counts: np.ndarray, comparisons: int) -> LevelPatterns:
        bits = 3 * comparisons
        return cls(
            levels=_decode(keys & ((1 << bits) - 1), comparisons, np.int8),
            masks=keys >> (bits + 1),
            usable=(keys >> bits) & 1 == 1,
            counts=np.asarray(counts, dtype=np.float64),
        )

    @classmethod
    def of(cls, levels: np.ndarray, masks: np.ndarray, usable: np.ndarray) -> LevelPatterns:
        keys, counts = _distinct(cls.keys(levels, masks, usable))
        return cls.from_keys(keys, counts, levels.shape[1])

    @classmethod
    def combine(cls, parts: list[LevelPatterns], comparisons: int) -> LevelPatterns:
        if not parts:
            return cls.from_keys(np.zeros(0, np.int64), np.zeros(0), comparisons)
        keys = np.concatenate([cls.keys(p.levels, p.masks, p.usable) for p in parts])
        distinct, counts = _distinct(keys, np.concatenate([p.counts for p in parts]))
        return cls.from_keys(distinct, counts, comparisons)

    @property
    def pairs(self) -> int:
        return int(self.counts.sum())


def _exact_chances(rec: RecordArrays, c: Comparison, per_person: float) -> dict[int, float]:
    """Per exact level, the chance that two records of different people agree there (value
    frequencies): on the personal number's comparison a shared line and a personal number
    apart, elsewhere the one exact level."""
    if c.name == PERSONAL_NUMBER and c.also_exact:
        personal = rec.phone_is_personal
        return {
            c.also_exact[0]: rec.exact_u(c.tf_column, per_person, ~personal),
            c.exact: rec.exact_u(c.tf_column, per_person, personal),
        }
    return {c.exact: rec.exact_u(c.tf_column, per_person)}


def tf_references(rec: RecordArrays, per_person: float) -> dict[str, dict[str, float]]:
    """Per comparison and exact level, the mean value frequency of the records agreeing there:
    what a value's own frequency is measured against."""
    out: dict[str, dict[str, float]] = {}
    for c in COMPARISONS:
        chances = _exact_chances(rec, c, per_person)
        codes = rec.codes[c.tf_column]
        present = max(int((codes >= 0).sum()), 1)
        refs = {}
        for level, chance in chances.items():
            if c.name == PERSONAL_NUMBER and c.also_exact:
                kind = rec.phone_is_personal if level == c.exact else ~rec.phone_is_personal
                holders = int(((codes >= 0) & kind).sum())
            else:
                holders = present
            refs[str(level)] = float(chance * present / holders) if holders else float(chance)
        out[c.name] = refs
    return out


def _patterns(
    levels: np.ndarray, active: list[int], weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct level patterns over the `active` comparisons, and how many pairs have each
    (`weights`: how many pairs each row of `levels` stands for; one each when None)."""
    if len(levels) == 0:
        return np.zeros((0, len(active)), dtype=np.int64), np.zeros(0)
    patterns, counts = _distinct(_encode(levels, active), weights)
    return _decode(patterns, len(active), np.int64), counts


def _encode(levels: np.ndarray, columns) -> np.ndarray:
    """One int64 per row: the levels of `columns`, a base-8 digit each (level + 1)."""
    code = np.zeros(len(levels), dtype=np.int64)
    for k in columns:
        code = code * _BASE + (levels[:, k].astype(np.int64) + 1)
    return code


def _decode(code: np.ndarray, width: int, dtype) -> np.ndarray:
    """The levels `_encode` packed into `code`, `width` of them per row."""
    out = np.zeros((len(code), width), dtype=dtype)
    rest = code.copy()
    for pos in reversed(range(width)):
        out[:, pos] = rest % _BASE - 1
        rest //= _BASE
    return out


def _distinct(
    keys: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct keys and how many pairs have each (`weights`: pairs per key, one when None)."""
    if weights is None:
        distinct, counts = np.unique(keys, return_counts=True)
    else:
        distinct, inverse = np.unique(keys, return_inverse=True)
        counts = np.bincount(inverse.ravel(), weights=weights, minlength=len(distinct))
    return distinct, counts.astype(np.float64)


def _log_table(probabilities) -> np.ndarray:
    return np.append(
        np.log(np.asarray(probabilities, dtype=np.float64)), 0.0
    )  # index -1: no information


def em_session(
    levels: np.ndarray,
    active: list[int],
    m: dict[str, np.ndarray],
    u: dict[str, list[float]],
    iterations: int,
    tolerance: float,
    counts: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], float, int]:
    """EM over the `active` comparisons of some candidate pairs, u fixed (`counts`: how many
    pairs each row of `levels` stands for, one each when None).

    Returns (m of the active ones, share, rounds).
    """
    pat, counts = _patterns(levels, active, counts)
    chosen = [COMPARISONS[k] for k in active]
    names = [c.name for c in chosen]
    log_u = np.zeros(len(pat))
    for pos, f in enumerate(names):
        log_u += _log_table(u[f])[pat[:, pos]]
    m = {f: m[f].copy() for f in names}
    share = 0.5
    rounds = 0
    while rounds < iterations:
        rounds += 1
        log_m = np.zeros(len(pat))
        for pos, f in enumerate(names):
            log_m += _log_table(m[f])[pat[:, pos]]
        logit = math.log(share) - math.log1p(-share) + log_m - log_u
        post = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))
        weighted = post * counts
        new_share = float((weighted.sum() + 1.0) / (counts.sum() + 2.0))
        change = abs(new_share - share)
        for pos, c in enumerate(chosen):
            f, size = c.name, len(c.levels)
            lv = pat[:, pos]
            sums = np.bincount(lv[lv >= 0], weights=weighted[lv >= 0], minlength=size)[:size]
            new_m = (sums + PRIOR_PAIRS_M * np.asarray(c.prior_m)) / (sums.sum() + PRIOR_PAIRS_M)
            change = max(change, float(np.abs(new_m - m[f]).max()))
            m[f] = new_m
        share = min(max(new_share, 1e-9), 1 - 1e-9)
        if change < tolerance:
            break
    return m, share, rounds


def estimate_m(
    levels: np.ndarray,
    masks: np.ndarray,
    sessions: list[tuple[int, list[int]]],
    u: dict[str, list[float]],
    iterations: int,
    tolerance: float,
    counts: np.ndarray | None = None,
) -> tuple[dict[str, list[float]], int]:
    """m per comparison level from one EM session per blocking rule (as Splink trains).

    `sessions` holds (rule bit, comparisons the rule's key determines). A session sees only the
    pairs that rule found and leaves out the comparisons its key decides: pairs blocked on first
    and last name agree on them by construction, matches or not, so they teach nothing about
    names, but all the more about birth dates, e-mail, phone and address. Each comparison's m
    is the average over the sessions that estimated it (the prior where none did). `counts`: how
    many pairs each row stands for (`LevelPatterns`), one each when None.
    """
    if counts is None:
        counts = np.ones(len(levels))
    start = {c.name: np.asarray(c.prior_m, dtype=np.float64) for c in COMPARISONS}
    estimates: dict[str, list[np.ndarray]] = {f: [] for f in COMPARISON_NAMES}
    total_rounds = 0
    for bit, determined in sessions:
        chosen = (masks >> bit) & 1 == 1
        if counts[chosen].sum() < 50:
            continue
        active = [k for k in range(len(COMPARISONS)) if k not in determined]
        m, _, rounds = em_session(
            levels[chosen], active, start, u, iterations, tolerance, counts[chosen]
        )
        total_rounds += rounds
        for f, values in m.items():
            estimates[f].append(values)
    out = {
        f: [float(x) for x in (np.mean(estimates[f], axis=0) if estimates[f] else start[f])]
        for f in COMPARISON_NAMES
    }
    return out, total_rounds


def estimate_prior(
    levels: np.ndarray,
    m: dict[str, list[float]],
    u: dict[str, list[float]],
    records: int,
    iterations: int = 100,
    counts: np.ndarray | None = None,
) -> float:
    """The probability that two random records match, from the share of matches among candidates.

    m and u fixed, the share is the fixed point of "average posterior"; blocking is assumed to
    find (almost) all matches, so the candidates' matches are all the matches there are.
    """
    if records < 2:
        return 1e-6
    pat, counts = _patterns(levels, list(range(len(COMPARISONS))), counts)
    bayes = np.zeros(len(pat))
    for k, f in enumerate(COMPARISON_NAMES):
        bayes += _log_table(m[f])[pat[:, k]] - _log_table(u[f])[pat[:, k]]
    share = 0.5
    for _ in range(iterations):
        logit = math.log(share) - math.log1p(-share) + bayes
        new = float(
            (counts / (1.0 + np.exp(-np.clip(logit, -700, 700)))).sum() / max(counts.sum(), 1.0)
        )
        new = min(max(new, 1e-9), 1 - 1e-9)
        if abs(new - share) < 1e-7:
            share = new
            break
        share = new
    matches = max(share * counts.sum(), 1.0)
    return float(min(matches / (records * (records - 1) / 2.0), 0.5))


def share_of_matches(
    levels: np.ndarray,
    active: list[int],
    m: dict[str, list[float]],
    u: dict[str, list[float]],
    iterations: int = 100,
    counts: np.ndarray | None = None,
) -> float:
    """The share of matches among some pairs, m and u held fixed (the fixed point of the mean
    posterior over the `active` comparisons); one non-match among the pairs plus two is
    assumed, so the share never claims more than their number can show. `counts`: how many
    pairs each row of `levels` stands for, one each when None."""
    pat, counts = _patterns(levels, active, counts)
    bayes = np.zeros(len(pat))
    for pos, k in enumerate(active):
        f = COMPARISON_NAMES[k]
        bayes += _log_table(m[f])[pat[:, pos]] - _log_table(u[f])[pat[:, pos]]
    total = counts.sum()
    share = 0.5
    for _ in range(iterations):
        logit = math.log(share) - math.log1p(-share) + bayes
        matches = float((counts / (1.0 + np.exp(-np.clip(logit, -700, 700)))).sum())
        new = min(max(matches / total, 1e-9), (total + 1.0) / (total + 2.0))
        if abs(new - share) < 1e-9:
            return new
        share = new
    return share


def exact_u_from_pairs(
    levels: np.ndarray,
    comparison: str,
    m: dict[str, list[float]],
    u: dict[str, list[float]],
    prior: float,
    min_pairs: int = 50,
    counts: np.ndarray | None = None,
) -> tuple[float | None, float, int]:
    """u of a comparison's exact level from the candidate pairs at that level.

    Value frequencies cannot tell how often two people share a value that only one person's
    records show (an identifier, an address in a data set without households): they assume one
    stranger does, which caps the weight of such an agreement at about what the prior takes
    away. The pairs can tell, when a blocking rule finds every one of them: with the trained m
    and u of every other comparison, the share s of matches among them follows (households and
    relatives sharing the value disagree on names and birth dates and count as non-matches).
    The agreement multiplies the odds of a match by s/(1-s) over the prior odds, so
    u = m * prior odds * (1-s)/s: a data set where households share addresses, or relatives a
    mobile, shows a lower share and a lower weight. `counts`: how many pairs each row of
    `levels` stands for (`LevelPatterns`), one each when None. Returns (u, or None when fewer
    than `min_pairs` pairs are at that level; s; the pairs).
    """
    if counts is None:
        counts = np.ones(len(levels))
    k = COMPARISON_NAMES.index(comparison)
    exact = COMPARISONS[k].exact
    chosen = levels[:, k] == exact
    pairs = int(counts[chosen].sum())
    if pairs < min_pairs:
        return None, 0.0, pairs
    active = [x for x in range(len(COMPARISONS)) if x != k]
    share = share_of_matches(levels[chosen], active, m, u, counts=counts[chosen])
    prior_odds = prior / (1.0 - prior)
    value = m[comparison][exact] * prior_odds * (1.0 - share) / share
    return float(min(max(value, 1e-15), 0.5)), float(share), pairs
