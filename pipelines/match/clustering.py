"""Coherent clustering: link records strongest evidence first, never into a contradiction.

Plain connected components over the linked pairs chains a family together: father and son share
an address, son and daughter share the family e-mail. Here a link between two clusters is made
only when no record of the one contradicts any record of the other (clearly different first
names, different birth dates, a never-merge override). Links are taken in a fixed order —
weight descending, then by the records' (source, source_record_id) rank — so the result for a
group of connected records depends on nothing outside it: re-clustering only the affected
groups of a daily drop gives the same partition as a run from scratch.

A contradiction between the two clusters is forgiven when some record of the one agrees with
some record of the other on a personal number (a mobile number, an identifier) — a household
shares an address, a landline and an e-mail address, not a personal number — or when more
pairs across the two clusters link than contradict: one garbled record among five that agree
does not keep a person apart, while a nameless record that would bridge two siblings does.
Nor does a contradiction on one field with a record that its cluster took in on a personal
number despite a conflict on that same field, when the joining record links to the record it
was taken in with: that record's value is known to be wrong, and whichever link came first
must not decide.

Always-merge overrides are applied first and are not checked; never-merge overrides block a
link whatever else. Overrides win.

A record left on its own by a conflict on one field (first name or birth date) may still join
the one customer it conflicts with (`lone_conflicts`): a garbled first name looks like a twin,
and only the other records tell them apart. The engine allows it only on data sets that confirm
too few twins for the join to be one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pipelines.match.comparison import RecordArrays, compare, component_pairs


@dataclass
class Clusters:
    records: np.ndarray  # the record indices that were clustered
    labels: np.ndarray  # per record: the smallest record index of its cluster
    # int64 (links, 3): (a, b, edge position or -1 for an override) that joined clusters, in the
    # order made. An array, not tuples: there are millions at ten million contacts.
    links: np.ndarray


def _links(rows) -> np.ndarray:
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def cluster(
    records: np.ndarray,
    edge_l: np.ndarray,
    edge_r: np.ndarray,
    edge_weight: np.ndarray,
    order: np.ndarray,
    *,
    contradicts: Callable[[int, int], bool],
    vouches: Callable[[int, int], bool] = lambda i, j: False,
    always: list[tuple[int, int]] = (),
    never: set[tuple[int, int]] = frozenset(),
    conflict_of: Callable[[int, int], int] = lambda i, j: 0,
    overruled: dict[int, list[tuple[int, int]]] | None = None,
) -> Clusters:
    """Cluster `records` (indices) using the candidate links (edge_l[i], edge_r[i]) above the
    threshold.

    Most linked records form a lone pair: two records with one link between them and no other
    link or override. Such a link has no ordering to respect and is decided on its own, in bulk;
    only the links of larger groups go through the ordered union-find below.
    """
    edge_l = np.asarray(edge_l, dtype=np.int64)
    edge_r = np.asarray(edge_r, dtype=np.int64)
    labels = np.asarray(records, dtype=np.int64).copy()
    if len(edge_l):
        lo = np.minimum(order[edge_l], order[edge_r])
        hi = np.maximum(order[edge_l], order[edge_r])
        sequence = np.lexsort((hi, lo, -edge_weight))
        del lo, hi
    else:
        sequence = np.zeros(0, dtype=np.int64)
    rank = np.empty(len(sequence), dtype=np.int64)
    rank[sequence] = np.arange(len(sequence))

    # Lone pairs: both ends have this one link only and are named in no override.
    overridden = np.array([x for pair in (*always, *never) for x in pair], dtype=np.int64)
    ends = np.concatenate([edge_l, edge_r, overridden])
    degree = np.bincount(ends, minlength=int(ends.max()) + 1 if len(ends) else 0)
    lone = (
        (degree[edge_l] == 1) & (degree[edge_r] == 1) if len(edge_l) else np.zeros(0, dtype=bool)
    )
    del ends, degree
    lone_pos = np.flatnonzero(lone)
    # A lone pair's only cross pair is its own link: blocked by a contradiction nobody vouches for.
    lone_join = np.fromiter(
        (
            not (contradicts(a, b) and not vouches(a, b))
            for a, b in zip(edge_l[lone_pos].tolist(), edge_r[lone_pos].tolist(), strict=True)
        ),
        dtype=bool,
        count=len(lone_pos),
    )
    lone_pos = lone_pos[lone_join] if len(lone_pos) else lone_pos
    lone_l, lone_r = edge_l[lone_pos], edge_r[lone_pos]

    always_links, group_links, members = _cluster_groups(
        np.flatnonzero(~lone),
        edge_l,
        edge_r,
        rank,
        contradicts=contradicts,
        vouches=vouches,
        always=always,
        never=never,
        conflict_of=conflict_of,
        overruled=overruled or {},
    )

    # Links in the order they were made: overrides, then by strength (lone pairs among the rest).
    made = np.concatenate([_links(group_links), np.stack([lone_l, lone_r, lone_pos], axis=1)])
    merged = np.argsort(rank[made[:, 2]], kind="stable")
    links = np.concatenate([_links(always_links), made[merged]])
    del made

    # A label that does not depend on union order: the smallest member of each cluster.
    joined, joined_label = [lone_l, lone_r], [np.minimum(lone_l, lone_r)] * 2
    for m in members:
        joined.append(np.asarray(m, dtype=np.int64))
        joined_label.append(np.full(len(m), min(m), dtype=np.int64))
    joined = np.concatenate(joined) if joined else np.zeros(0, dtype=np.int64)
    if len(joined):
        joined_label = np.concatenate(joined_label)
        by_value = np.argsort(labels, kind="stable")
        at = by_value[np.searchsorted(labels[by_value], joined)]
        labels[at] = joined_label
    return Clusters(records=records, labels=labels, links=links)


def _cluster_groups(
    positions: np.ndarray,
    edge_l: np.ndarray,
    edge_r: np.ndarray,
    rank: np.ndarray,
    *,
    contradicts: Callable[[int, int], bool],
    vouches: Callable[[int, int], bool],
    always: list[tuple[int, int]],
    never: set[tuple[int, int]],
    conflict_of: Callable[[int, int], int],
    overruled: dict[int, list[tuple[int, int]]],
) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]], list[list[int]]]:
    """The ordered union-find over the links at `positions` (and the overrides).

    Returns the override links made, the scored links made (in the order made) and the members
    of every cluster of more than one record.
    """
    sub_l, sub_r = edge_l[positions], edge_r[positions]
    linked_records = np.unique(
        np.concatenate(
            [sub_l, sub_r, np.array([x for pair in always for x in pair], dtype=np.int64)]
        )
    ).tolist()
    parent: dict[int, int] = {x: x for x in linked_records}
    del linked_records
    # The members of each root of more than one record (a lone root is its only member): a list
    # per linked record would cost more than the union-find itself.
    members: dict[int, list[int]] = {}

    def group(root: int) -> list[int]:
        return members.get(root) or [root]

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(ra: int, rb: int) -> None:
        into, other = group(ra), group(rb)
        if len(into) < len(other):
            ra, rb, into, other = rb, ra, other, into
        parent[rb] = ra
        members.pop(rb, None)
        into.extend(other)
        members[ra] = into

    # A pair (a < b) as one number, a * n + b: a set of ints holds a third of what tuples do.
    n = int(max(sub_l.max(initial=-1), sub_r.max(initial=-1), *(x for p in always for x in p))) + 1
    linked = set((np.minimum(sub_l, sub_r) * n + np.maximum(sub_l, sub_r)).tolist())

    def is_linked(a: int, b: int) -> bool:
        return (a * n + b if a < b else b * n + a) in linked

    def explained(x: int, y: int, ra: int, rb: int) -> bool:
        """x contradicts y on one field where y (or x) is already known to be wrong: its own
        cluster took it in on a personal number despite a conflict on that field, with a
        record that x (or y) links to."""
        field = conflict_of(x, y)
        if not field:
            return False
        for mine, other, root in ((y, x, rb), (x, y, ra)):
            for z, fields in overruled.get(mine, ()):
                if fields & field and find(z) == root and is_linked(other, z):
                    return True
        return False

    def blocked(ra: int, rb: int) -> bool:
        contradicting = supporting = 0
        for x in group(ra):
            for y in group(rb):
                if (x, y) in never or (y, x) in never:
                    return True
                if contradicts(x, y):
                    if not explained(x, y, ra, rb):
                        contradicting += 1
                elif is_linked(x, y):
                    supporting += 1
        if contradicting == 0 or supporting > contradicting:
            return False
        return not any(vouches(x, y) for x in group(ra) for y in group(rb))

    always_links: list[tuple[int, int, int]] = []
    for a, b in always:
        ra, rb = find(a), find(b)
        if ra != rb:
            union(ra, rb)
            always_links.append((a, b, -1))

    group_links: list[tuple[int, int, int]] = []
    sequence = positions[np.argsort(rank[positions], kind="stable")]
    for at in range(0, len(sequence), 100_000):  # Python ints for a slice at a time
        part = sequence[at : at + 100_000]
        for pos, a, b in zip(
            part.tolist(), edge_l[part].tolist(), edge_r[part].tolist(), strict=True
        ):
            ra, rb = find(a), find(b)
            if ra == rb or blocked(ra, rb):
                continue
            union(ra, rb)
            group_links.append((a, b, pos))
    return always_links, group_links, list(members.values())


@dataclass
class Forgiven:
    """Lone records whose one conflicting field may be a typo, and the cluster each may join."""

    records: np.ndarray  # the lone records (indices)
    targets: np.ndarray  # per lone record: the label of the cluster it joins
    edges: np.ndarray  # per lone record: the position of its strongest conflict edge
    confirmed: int  # cluster pairs of two records or more each that a conflict edge joins
    candidates: int  # merges the lone records would make (a pair of lone records counts once)


def lone_conflicts(
    n: int,
    labels: np.ndarray,
    records: np.ndarray,
    edge_l: np.ndarray,
    edge_r: np.ndarray,
    conflict_l: np.ndarray,
    conflict_r: np.ndarray,
    conflict_kind: np.ndarray,
    conflict_weight: np.ndarray,
    within_l: np.ndarray,
    within_r: np.ndarray,
    within_conflict: np.ndarray,
    within_contradiction: np.ndarray,
    never: set[tuple[int, int]] = frozenset(),
) -> Forgiven:
    """Which lone records a single-field conflict (conflict_l[i], conflict_r[i]) may join.

    A twin looks like a duplicate with a garbled first name; only the cluster tells them apart.
    A record may join the cluster X it conflicts with when it is lone (a cluster of its own: no
    other record confirms its name), links and conflicts with X only, conflicts on one field,
    contradicts no record of X on anything else, and X conflicts with no other person confirmed
    by two records or more: a distinct first name (or birth date) seen on several records is a
    real person, and so is anyone next to one.
    Whether such joins are made at all is decided from the whole data set (`twins_expected`).
    """
    label_of = np.full(n, -1, dtype=np.int64)
    label_of[records] = labels
    size = np.bincount(labels, minlength=n)
    la, lb = label_of[conflict_l], label_of[conflict_r]
    keep = (la >= 0) & (lb >= 0) & (la != lb)
    cl, cr, kind = conflict_l[keep], conflict_r[keep], conflict_kind[keep]
    pos = np.flatnonzero(keep)
    la, lb = la[keep], lb[keep]
    lone = np.zeros(n, dtype=bool)
    lone[records] = size[labels] == 1

    big = (size[la] >= 2) & (size[lb] >= 2)
    confirmed = len(np.unique(np.minimum(la[big], lb[big]) * n + np.maximum(la[big], lb[big])))
    # A cluster next to a record that is not lone has a distinct person beside it.
    crowded = np.zeros(n, dtype=bool)
    crowded[la[~lone[cr]]] = True
    crowded[lb[~lone[cl]]] = True

    # One row per (lone record, cluster it conflicts with).
    side = np.concatenate([lone[cl], lone[cr]])
    y = np.concatenate([cl, cr])[side]
    t = np.concatenate([lb, la])[side]
    k = np.concatenate([kind, kind])[side]
    p = np.concatenate([pos, pos])[side]
    w = conflict_weight[p]
    ok = np.zeros(n, dtype=bool)
    ok[y] = True
    # Links the clustering did not make count too: a lone record linked to one cluster and
    # conflicting with others of it has X as its only target; one linked elsewhere has two.
    linked = np.concatenate([edge_l, edge_r])
    linked_to = label_of[np.concatenate([edge_r, edge_l])]
    mine = lone[linked] & (linked_to != label_of[linked])
    every_y, every_t = np.concatenate([y, linked[mine]]), np.concatenate([t, linked_to[mine]])
    for ys, values in ((every_y, every_t), (y, k)):  # one target cluster, one kind of conflict
        pairs = np.unique(np.stack([ys, values]), axis=1)
        ok[pairs[0][np.bincount(pairs[0], minlength=n)[pairs[0]] > 1]] = False
    target = np.full(n, -1, dtype=np.int64)
    target[y] = t
    kind_of = np.zeros(n, dtype=np.int8)
    kind_of[y] = k
    best = np.full(n, -1, dtype=np.int64)  # the strongest conflict edge of each lone record
    order = np.lexsort((p, -w))
    _, first = np.unique(y[order], return_index=True)
    best[y[order][first]] = p[order][first]
    at = np.flatnonzero(ok)
    ok[at[crowded[target[at]]]] = False
    # A lone target must take this record and no other (a chain of lone records is no person).
    at = np.flatnonzero(ok)
    mutual = target[target[at]] == at
    ok[at[lone[target[at]] & ~mutual]] = False

    # Anything else that contradicts inside the would-be cluster, or a never-merge override.
    a, b = np.asarray(within_l, dtype=np.int64), np.asarray(within_r, dtype=np.int64)
    veto = np.zeros(n, dtype=bool)
    for x, other in ((a, b), (b, a)):
        into = ok[x] & (target[x] == label_of[other]) & within_contradiction
        veto[x[into & ((within_conflict == 0) | (within_conflict != kind_of[x]))]] = True
        # two lone records joining the same cluster must not contradict each other
        veto[x[ok[x] & ok[other] & (target[x] == target[other]) & within_contradiction]] = True
    for x, other in list(never) + [(j, i) for i, j in never]:
        if ok[x] and target[x] == label_of[other]:
            veto[x] = True
    ok &= ~veto

    joined = np.flatnonzero(ok)
    merges = np.unique(np.minimum(joined, target[joined]) * n + np.maximum(joined, target[joined]))
    return Forgiven(
        records=joined,
        targets=target[joined],
        edges=best[joined],
        confirmed=int(confirmed),
        candidates=int(len(merges)),
    )


def twins_expected(confirmed: int, singleton_share: float) -> float:
    """How many of the lone conflicts are twins, given the twin pairs the data confirm.

    A person has one record with probability q (the share of one-record clusters). Of twin pairs,
    (1-q)² show two records or more on both sides (confirmed); the rest have a lone side and look
    exactly like a duplicate with a garbled field.
    """
    both = (1.0 - singleton_share) ** 2
    if confirmed == 0:
        return 0.0
    return float("inf") if both <= 0 else confirmed * (1.0 - both) / both


def apply_forgiven(labels: np.ndarray, records: np.ndarray, forgiven: Forgiven) -> np.ndarray:
    """The labels once the lone records joined their clusters (a label: the smallest member)."""
    if not len(forgiven.records):
        return labels
    y, t = forgiven.records, forgiven.targets
    # A pair of lone records that take each other is one group; otherwise the group is the target.
    group = np.where(np.isin(t, y) & np.isin(y, t), np.minimum(y, t), t)
    new = np.full(int(max(labels.max(), y.max(), t.max())) + 1, -1, dtype=np.int64)
    low = np.minimum(group, np.minimum(y, t))
    order = np.argsort(group, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(group[order])) + 1]
    group_low = np.minimum.reduceat(low[order], starts)
    new[group[order][starts]] = group_low
    out = labels.copy()
    old = np.concatenate([t, y])
    target_label = new[np.concatenate([group, group])]
    mapping = np.arange(len(new), dtype=np.int64)
    mapping[old] = target_label
    inside = out < len(mapping)
    out[inside] = mapping[out[inside]]
    return out


# Pairs compared at once inside the components: comparing every pair in one go costs several
# times the pairs' own arrays (a level per comparison, similarities, term frequencies).
WITHIN_BATCH = 2_000_000


@dataclass
class Within:
    """What clustering needs of the comparison of the pairs inside the components."""

    contradiction: np.ndarray  # bool per pair
    personal_number: np.ndarray  # bool per pair
    conflict: np.ndarray  # int8 per pair (`Compared.conflict`)
    overruled: np.ndarray  # int8 per pair (`Compared.overruled`)


def _compare_within(rec: RecordArrays, pl: np.ndarray, pr: np.ndarray, options: dict) -> Within:
    parts = []
    for at in range(0, max(len(pl), 1), WITHIN_BATCH):
        c = compare(rec, pl[at : at + WITHIN_BATCH], pr[at : at + WITHIN_BATCH], **options)
        parts.append((c.contradiction, c.personal_number, c.conflict, c.overruled))
        del c
    return Within(*(np.concatenate(column) for column in zip(*parts, strict=True)))


def cluster_records(
    rec: RecordArrays,
    records: np.ndarray,
    el: np.ndarray,
    er: np.ndarray,
    ew: np.ndarray,
    kind: np.ndarray,
    plain: int,
    always: list[tuple[int, int]],
    never: set[tuple[int, int]],
    options: dict,
) -> tuple[Clusters, Forgiven]:
    """`cluster` and `lone_conflicts` over `records` and their scored edges.

    The edges (el[i], er[i]) come links first (`plain` of them), then the pairs kept apart by one
    conflict (`kind`). Nothing here looks beyond a connected component of the edges, the always-
    and the never-merge pairs, so a Spark worker clustering one component gets what a run over
    everything gets.
    """
    # Every pair that could end up in one customer lies inside a connected component: compare
    # them all.
    links_l = np.concatenate([el, np.array([a for a, _ in always], dtype=np.int64)])
    links_r = np.concatenate([er, np.array([b for _, b in always], dtype=np.int64)])
    pl, pr = component_pairs(records, links_l, links_r)
    del links_l, links_r
    within = _compare_within(rec, pl, pr, options)
    # A pair (i < j) as one number, i * n + j: a set of ints holds a third of what tuples do.
    n = rec.n
    code = np.minimum(pl, pr) * n + np.maximum(pl, pr)
    contradicting = set(code[within.contradiction].tolist())
    personal = set(code[within.personal_number].tolist())

    overruled: dict[int, list[tuple[int, int]]] = {}
    at = np.flatnonzero(within.overruled)
    for a, b, fields in zip(
        pl[at].tolist(), pr[at].tolist(), within.overruled[at].tolist(), strict=True
    ):
        overruled.setdefault(a, []).append((b, fields))
        overruled.setdefault(b, []).append((a, fields))
    # The field a contradiction rests on matters only next to a record with an overruled one.
    vouched_in = np.fromiter(overruled, np.int64, len(overruled))
    near = np.isin(pl, vouched_in) | np.isin(pr, vouched_in)
    keep = within.contradiction & (within.conflict > 0) & near
    conflicts = dict(zip(code[keep].tolist(), within.conflict[keep].tolist(), strict=True))
    del code, near, keep

    def contradicts(i: int, j: int) -> bool:
        return (i * n + j if i < j else j * n + i) in contradicting

    def conflict_of(i: int, j: int) -> int:
        return conflicts.get(i * n + j if i < j else j * n + i, 0)

    def vouches(i: int, j: int) -> bool:
        return (i * n + j if i < j else j * n + i) in personal

    result = cluster(
        records,
        el[:plain],
        er[:plain],
        ew[:plain],
        rec.order,
        contradicts=contradicts,
        vouches=vouches,
        always=always,
        never=never,
        conflict_of=conflict_of,
        overruled=overruled,
    )
    forgiven = lone_conflicts(
        rec.n,
        result.labels,
        records,
        el[:plain],
        er[:plain],
        el[plain:],
        er[plain:],
        kind[plain:],
        ew[plain:],
        pl,
        pr,
        within.conflict,
        within.contradiction,
        never,
    )
    return result, forgiven
