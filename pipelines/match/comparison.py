"""Comparison: per candidate pair and per field, a discrete agreement level (Fellegi-Sunter's γ).

The records of a run are loaded once as dictionary-encoded columns (`RecordArrays`): equality is
an integer comparison, and string similarity (rapidfuzz, `process.cpdist` over all cores) runs
once per DISTINCT pair of values, not once per record pair. Level -1 means "no information"
(a value is missing on either side) and weighs nothing.

Besides levels, `compare` flags strong contradictions: first names that are clearly different
(not equal, not a call name of each other, not matching initials) or birth dates that differ by
more than a typo or a day/month swap. Such pairs never link, whatever their weight: this is what
keeps household members, twins and people sharing an e-mail address apart (a lone record whose
contradiction rests on one field is the exception, see clustering.py). Nor does a pair that
agrees on nothing personal while its e-mail addresses differ (`household_only`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein

from pipelines.match.nicknames import NICKNAME_PAIRS
from pipelines.match_definitions import COMPARISON_NAMES, FEATURE_TYPES

# The encoded string columns of a run's records: every text match feature.
_STRING_COLUMNS = tuple(c for c, t in FEATURE_TYPES.items() if t == "VARCHAR")
# Column of each comparison in `Compared.levels`.
_AT = {name: k for k, name in enumerate(COMPARISON_NAMES)}


@dataclass
class RecordArrays:
    """The match features of every record of a run, indexed by `_m_rec.idx` (0..n-1)."""

    n: int
    codes: dict[str, np.ndarray]  # column -> int32 code per record, -1 when missing
    values: dict[str, np.ndarray]  # column -> the distinct values (object array), indexed by code
    fn_is_initials: np.ndarray
    phone_is_personal: (
        np.ndarray
    )  # a mobile number (or an identifier of unknown type), not a household line
    birth: np.ndarray  # yyyymmdd as int32, -1 when missing
    keys: np.ndarray  # the stable record_key per idx
    order: (
        np.ndarray
    )  # rank of (source, source_record_id) per idx: a tie-break independent of run history
    # tf per (column, records per person), computed once: scoring asks for it per batch of pairs
    _tf: dict = field(default_factory=dict, repr=False, compare=False)

    def _counts(self, column: str) -> tuple[np.ndarray, np.ndarray, int]:
        codes = self.codes[column]
        present = codes >= 0
        counts = np.bincount(codes[present], minlength=len(self.values[column])).astype(np.float64)
        return codes, counts, int(present.sum())

    def tf(self, column: str, per_person: float = 1.0) -> np.ndarray:
        """Per record, the chance that a record of ANOTHER person holds the same value (NaN:
        missing).

        A value held by c records is held by about c - k records of other people, k being the
        records per person (duplicates): max(c - k, 1) / records with a value.
        """
        if (column, per_person) in self._tf:
            return self._tf[column, per_person]
        codes, counts, present = self._counts(column)
        share = np.maximum(counts - per_person, 1.0) / max(1, present)
        out = np.full(self.n, np.nan)
        has = codes >= 0
        out[has] = share[codes[has]]
        out.flags.writeable = False
        self._tf[column, per_person] = out
        return out

    def exact_u(
        self, column: str, per_person: float = 1.0, among: np.ndarray | None = None
    ) -> float:
        """Chance that two records of different people (both with a value) agree exactly: the
        mean tf.

        With `among` (bool per record), the chance that they agree on a value of such records
        (a personal number rather than a shared line).
        """
        codes, counts, present = self._counts(column)
        if present < 2:
            return 1e-9
        share = np.maximum(counts - per_person, 1.0) / present
        if among is not None:
            chosen = (codes >= 0) & among
            counts = np.bincount(codes[chosen], minlength=len(counts)).astype(np.float64)
        return float((counts * share).sum() / present)


# The columns of a record that comparisons read, and the DuckDB SQL that selects them from
# `_m_rec` (transpiled for Spark).
RECORD_COLUMNS = (
    "idx",
    "record_key",
    "ord",
    *_STRING_COLUMNS,
    "fn_is_initials",
    "phone_is_personal",
    "birth",
)
RECORD_SELECT = f"""idx, record_key, ord, {", ".join(_STRING_COLUMNS)}, fn_is_initials,
    phone_is_personal, CAST(strftime(birth_date, '%Y%m%d') AS INTEGER) AS birth"""


def load_records(con: duckdb.DuckDBPyConnection) -> RecordArrays:
    """Read `_m_rec` (ordered by idx) into dictionary-encoded numpy arrays."""
    table = con.sql(f"SELECT {RECORD_SELECT} FROM _m_rec ORDER BY idx").to_arrow_table()
    return records_from_arrow(table)


def records_from_arrow(table: pa.Table) -> RecordArrays:
    """Records (the columns of `RECORD_SELECT`, in index order) as dictionary-encoded arrays.

    Codes are local to the table: comparisons only test them for equality and look values up,
    so a batch of pairs on a Spark worker compares exactly as the whole run does.
    """
    n = table.num_rows
    codes: dict[str, np.ndarray] = {}
    values: dict[str, np.ndarray] = {}
    for col in _STRING_COLUMNS:
        encoded = pc.dictionary_encode(table[col]).combine_chunks()
        idx = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
        codes[col] = idx
        values[col] = np.array(encoded.dictionary.to_pylist(), dtype=object)
    birth = table["birth"].fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
    encoded = pc.dictionary_encode(table["birth"]).combine_chunks()
    codes["birth_key"] = (
        encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
    )
    values["birth_key"] = np.array(encoded.dictionary.to_pylist(), dtype=object)
    return RecordArrays(
        n=n,
        codes=codes,
        values=values,
        fn_is_initials=table["fn_is_initials"]
        .fill_null(False)
        .to_numpy(zero_copy_only=False)
        .astype(bool),
        phone_is_personal=table["phone_is_personal"]
        .fill_null(True)
        .to_numpy(zero_copy_only=False)
        .astype(bool),
        birth=birth,
        keys=table["record_key"].to_numpy(zero_copy_only=False).astype(np.int64),
        order=table["ord"].to_numpy(zero_copy_only=False).astype(np.int64),
    )


def _distinct_pair_scores(
    rec: RecordArrays,
    column: str,
    l: np.ndarray,  # noqa: E741
    r: np.ndarray,
    mask: np.ndarray,
    scorer,
    dtype=np.float32,
) -> np.ndarray:
    """scorer(value_l, value_r) for the pairs in `mask`, computed once per distinct value pair."""
    out = np.zeros(len(l), dtype=dtype)
    if not mask.any():
        return out
    cl = rec.codes[column][l[mask]].astype(np.int64)
    cr = rec.codes[column][r[mask]].astype(np.int64)
    lo, hi = np.minimum(cl, cr), np.maximum(cl, cr)  # the scorers used here are symmetric
    width = len(rec.values[column]) + 1
    combo, inverse = np.unique(lo * width + hi, return_inverse=True)
    vals = rec.values[column]
    a, b = vals[combo // width], vals[combo % width]
    scores = process.cpdist(
        a, b, scorer=scorer, workers=-1, dtype=dtype if dtype != np.float32 else None
    )
    out[mask] = np.asarray(scores, dtype=dtype)[inverse.ravel()]
    return out


def _nickname_mask(
    rec: RecordArrays,
    l: np.ndarray,  # noqa: E741
    r: np.ndarray,
    mask: np.ndarray,
) -> np.ndarray:
    out = np.zeros(len(l), dtype=bool)
    if not mask.any():
        return out
    cl = rec.codes["fn"][l[mask]].astype(np.int64)
    cr = rec.codes["fn"][r[mask]].astype(np.int64)
    width = len(rec.values["fn"]) + 1
    combo, inverse = np.unique(cl * width + cr, return_inverse=True)
    vals = rec.values["fn"]
    hit = np.fromiter(
        ((vals[c // width], vals[c % width]) in NICKNAME_PAIRS for c in combo),
        dtype=bool,
        count=len(combo),
    )
    out[mask] = hit[inverse.ravel()]
    return out


def _digits_off(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How many of the 8 digits of two yyyymmdd numbers differ."""
    off = np.zeros(len(a), dtype=np.int8)
    x, y = a.astype(np.int64), b.astype(np.int64)
    for _ in range(8):
        off += x % 10 != y % 10
        x, y = x // 10, y // 10
    return off


@dataclass
class Compared:
    levels: np.ndarray  # int8 (pairs, comparisons in definition order); -1 = no information
    contradiction: np.ndarray  # bool per pair: may never link
    personal_number: np.ndarray  # bool per pair: agree on a personal number (mobile, identifier)
    # int8 per contradicting pair: the one field it rests on (FIRST_NAME or BIRTH_DATE), else 0.
    # A contradiction on one field may be a typo, which clustering can forgive (clustering.py).
    conflict: np.ndarray
    # bool per pair: nothing personal agrees (first name, birth date, personal number) and the
    # e-mail addresses differ: what a household shares, and two people's own addresses. No link.
    household_only: np.ndarray
    # int8 per pair agreeing on a personal number: the fields (FIRST_NAME | BIRTH_DATE bits) of
    # the contradiction that agreement overruled, else 0. Such a record is known to show a wrong
    # value there, which clustering takes into account (clustering.py).
    overruled: np.ndarray | None = None


FIRST_NAME, BIRTH_DATE = 1, 2  # `Compared.conflict`: the only field a contradiction rests on


def _cross_similarity(
    rec: RecordArrays, a_col: str, a: np.ndarray, b_col: str, b: np.ndarray
) -> np.ndarray:
    """Jaro-Winkler of rec[a_col][a[i]] against rec[b_col][b[i]] (two columns), per pair."""
    out = np.zeros(len(a), dtype=np.float32)
    if len(a) == 0:
        return out
    left = rec.values[a_col][rec.codes[a_col][a]]
    right = rec.values[b_col][rec.codes[b_col][b]]
    out[:] = np.asarray(
        process.cpdist(left, right, scorer=JaroWinkler.normalized_similarity, workers=-1)
    )
    return out


def compare(
    rec: RecordArrays,
    l: np.ndarray,  # noqa: E741
    r: np.ndarray,
    *,
    first_name_max_similarity: float = 0.78,
    birth_date_must_agree: bool = True,
) -> Compared:
    """Levels of every comparison for the pairs (l[i], r[i]) of record indices."""
    p = len(l)
    levels = np.full((p, len(COMPARISON_NAMES)), -1, dtype=np.int8)
    c = rec.codes

    # first name: exact, call name, Jaro-Winkler, matching initial
    fl, fr = c["fn"][l], c["fn"][r]
    fn_both = (fl >= 0) & (fr >= 0)
    initials = fn_both & (rec.fn_is_initials[l] | rec.fn_is_initials[r])
    same_initial = c["fn_initial"][l] == c["fn_initial"][r]
    exact = fn_both & ~initials & (fl == fr)
    fuzzy = fn_both & ~initials & ~exact
    jw = _distinct_pair_scores(rec, "fn", l, r, fuzzy, JaroWinkler.normalized_similarity)
    nick = _nickname_mask(rec, l, r, fuzzy)
    fn_lv = np.zeros(p, dtype=np.int8)
    fn_lv[initials & same_initial] = 1
    fn_lv[fuzzy & (jw >= 0.80)] = 2
    fn_lv[fuzzy & ((jw >= 0.92) | nick)] = 3
    fn_lv[exact] = 4
    fn_lv[~fn_both] = -1
    fn_differs = (initials & ~same_initial) | (fuzzy & ~nick & (jw < first_name_max_similarity))

    # last name (infix included)
    ll, lr = c["ln"][l], c["ln"][r]
    ln_both = (ll >= 0) & (lr >= 0)
    exact = ln_both & (ll == lr)
    fuzzy = ln_both & ~exact
    sim = _distinct_pair_scores(rec, "ln", l, r, fuzzy, JaroWinkler.normalized_similarity)
    ln_lv = np.zeros(p, dtype=np.int8)
    ln_lv[fuzzy & (sim >= 0.80)] = 1
    ln_lv[fuzzy & (sim >= 0.92)] = 2
    ln_lv[exact] = 3
    ln_lv[~ln_both] = -1

    # first and last name swapped between the records (a form filled in the wrong order)
    maybe = fn_both & ln_both & (fn_lv <= 1) & (ln_lv <= 1)
    at = np.flatnonzero(maybe)
    swapped = np.zeros(p, dtype=bool)
    crossed = np.zeros(p, dtype=bool)
    if len(at):
        one = _cross_similarity(rec, "fn", l[at], "ln", r[at])
        two = _cross_similarity(rec, "ln", l[at], "fn", r[at])
        swapped[at] = (one >= 0.85) & (two >= 0.85)
        crossed[at] = ~swapped[at] & ((one >= 0.95) | (two >= 0.95))
    fn_lv[swapped] = 3
    ln_lv[swapped] = 2
    fn_lv[crossed] = (
        2  # one record's first name is the other's surname: a swap with a changed name
    )
    ln_lv[crossed] = 1
    fn_differs &= ~(swapped | crossed)
    levels[:, _AT["first_name"]] = fn_lv
    levels[:, _AT["last_name"]] = ln_lv

    # birth date: exact, one digit or day/month swap, two digits
    bl, br = rec.birth[l], rec.birth[r]
    both = (bl >= 0) & (br >= 0)
    off = _digits_off(bl, br)
    day_month = (
        (bl // 10000 == br // 10000)
        & ((bl // 100) % 100 == br % 100)
        & (bl % 100 == (br // 100) % 100)
    )
    bd_lv = np.zeros(p, dtype=np.int8)
    bd_lv[off == 2] = 1
    bd_lv[(off == 1) | day_month] = 2
    bd_lv[off == 0] = 3
    bd_lv[~both] = -1
    levels[:, _AT["birth_date"]] = bd_lv
    birth_differs = both & (bd_lv == 0)

    # email: exact, or the same local part at a misspelt domain (gmial.com). The same local part at
    # another provider is not counted: local parts are made of names, so namesakes share them.
    el, er = c["email"][l], c["email"][r]
    both = (el >= 0) & (er >= 0)
    exact = both & (el == er)
    same_local = (
        both & ~exact & (c["email_local"][l] == c["email_local"][r]) & (c["email_local"][l] >= 0)
    )
    dist = _distinct_pair_scores(
        rec, "email", l, r, same_local, Levenshtein.distance, dtype=np.int32
    )
    lv = np.zeros(p, dtype=np.int8)
    lv[same_local & (dist <= 2)] = 1
    lv[exact] = 2
    lv[~both] = -1
    levels[:, _AT["email"]] = lv
    email_differs = lv == 0

    # phone: exact, or one typo: a digit off or two neighbouring digits swapped (optimal string
    # alignment)
    pl, pr = c["phone"][l], c["phone"][r]
    both = (pl >= 0) & (pr >= 0)
    exact = both & (pl == pr)
    fuzzy = both & ~exact
    dist = _distinct_pair_scores(rec, "phone", l, r, fuzzy, OSA.distance, dtype=np.int32)
    both_personal = rec.phone_is_personal[l] & rec.phone_is_personal[r]
    lv = np.zeros(p, dtype=np.int8)
    lv[fuzzy & (dist <= 1)] = 1
    lv[exact] = 2  # a line a household may share
    lv[exact & both_personal] = 3  # a personal number: a mobile, an identifier
    lv[~both] = -1
    levels[:, _AT["phone"]] = lv
    personal_number = (exact | (fuzzy & (dist <= 1))) & both_personal

    # address: postcode, house number, street, city together
    def eq(col: str) -> np.ndarray:
        a, b = c[col][l], c[col][r]
        return (a >= 0) & (a == b)

    pc_eq, hn_eq, base_eq, city_eq = eq("postcode"), eq("house_number"), eq("hn_base"), eq("city")
    pcl, pcr = c["postcode"][l], c["postcode"][r]
    pc_fuzzy = (pcl >= 0) & (pcr >= 0) & ~pc_eq
    pc_close = pc_eq | (
        pc_fuzzy
        & (
            _distinct_pair_scores(
                rec, "postcode", l, r, pc_fuzzy, Levenshtein.distance, dtype=np.int32
            )
            <= 1
        )
    )
    sl, sr = c["street"][l], c["street"][r]
    st_both = (sl >= 0) & (sr >= 0)
    st_fuzzy = st_both & (sl != sr)
    st = _distinct_pair_scores(rec, "street", l, r, st_fuzzy, fuzz.token_set_ratio) / 100.0
    st = np.where(st_both & (sl == sr), 1.0, st)
    ad_lv = np.zeros(p, dtype=np.int8)
    ad_lv[pc_eq | (city_eq & (st >= 0.85))] = 1
    ad_lv[(hn_eq & (st >= 0.85)) | (pc_close & hn_eq) | (pc_eq & (st >= 0.85))] = 2
    ad_lv[(pc_eq & base_eq) | ((st >= 0.9) & hn_eq & (city_eq | pc_close))] = 3
    # Exact: postcode and number, and the street where both records name one. Where postcodes
    # cover a whole town (BE, SE, AU), others on another street share a postcode and number.
    street_differs = st_both & (st < 0.9)
    ad_lv[pc_eq & hn_eq & ~street_differs] = 4
    has_l = (pcl >= 0) | (sl >= 0)
    has_r = (pcr >= 0) | (sr >= 0)
    ad_lv[~(has_l & has_r)] = -1
    levels[:, _AT["address"]] = ad_lv

    # Strong contradictions keep records apart, unless they agree on a personal number (a mobile,
    # an identifier): household members share an address, a surname, a landline, an e-mail
    # address, but not a personal number. Then a differing first name or birth date is a data
    # error.
    contradiction = fn_differs.copy()
    if birth_date_must_agree:
        contradiction |= birth_differs
    else:
        birth_differs = np.zeros(p, dtype=bool)
    overruled = np.zeros(p, dtype=np.int8)
    overruled[contradiction & personal_number & fn_differs] |= FIRST_NAME
    overruled[contradiction & personal_number & birth_differs] |= BIRTH_DATE
    contradiction &= ~personal_number
    personal = (fn_lv >= 3) | (bd_lv >= 2) | personal_number
    conflict = np.zeros(p, dtype=np.int8)
    conflict[contradiction & fn_differs & ~birth_differs] = FIRST_NAME
    conflict[contradiction & birth_differs & ~fn_differs] = BIRTH_DATE
    return Compared(
        levels=levels,
        contradiction=contradiction,
        personal_number=personal_number,
        conflict=conflict,
        household_only=~personal & email_differs,
        overruled=overruled,
    )


def component_pairs(
    records: np.ndarray, edge_l: np.ndarray, edge_r: np.ndarray, max_size: int = 2_000
):
    """All record pairs (i < j) inside each connected component of the edges among `records`.

    Clustering needs to know about every pair it could put in one customer, not only the
    candidate pairs; those pairs all lie inside a component. Components larger than `max_size`
    (bad data: one placeholder value chaining thousands) contribute their edges only.
    """
    if len(records) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    by_value = np.argsort(records, kind="stable")  # the position of each record index
    a = by_value[np.searchsorted(records, edge_l, sorter=by_value)].astype(np.int64)
    b = by_value[np.searchsorted(records, edge_r, sorter=by_value)].astype(np.int64)
    label = np.arange(len(records), dtype=np.int64)
    while True:  # min-label propagation with pointer jumping
        low = np.minimum(label[a], label[b])
        new = label.copy()
        np.minimum.at(new, a, low)
        np.minimum.at(new, b, low)
        new = new[new]
        if np.array_equal(new, label):
            break
        label = new
    order = np.argsort(label, kind="stable")
    sorted_labels = label[order]
    starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    lefts, rights = [], []
    for size in np.unique(sizes):
        if size < 2 or size > max_size:
            continue
        groups = order[
            starts[sizes == size][:, None] + np.arange(size)[None, :]
        ]  # (n_groups, size)
        i, j = np.triu_indices(size, k=1)
        lefts.append(records[groups[:, i].ravel()])
        rights.append(records[groups[:, j].ravel()])
    big = (
        np.isin(label, sorted_labels[starts[sizes > max_size]])
        if (sizes > max_size).any()
        else None
    )
    if big is not None:
        keep = big[a]
        lefts.append(records[a[keep]])
        rights.append(records[b[keep]])
    if not lefts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(lefts), np.concatenate(rights)
