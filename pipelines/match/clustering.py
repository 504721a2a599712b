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

Always-merge overrides are applied first and are not checked; never-merge overrides block a
link whatever else. Overrides win.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass
class Clusters:
    records: np.ndarray  # the record indices that were clustered
    labels: np.ndarray  # per record: the smallest record index of its cluster
    links: list[tuple[int, int, int]]  # (a, b, edge position or -1 for an override) that joined clusters


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
) -> Clusters:
    """Cluster `records` (indices) using the candidate links (edge_l[i], edge_r[i]) above the threshold."""
    # Only records with a link or an always-merge can join others; the rest stay alone.
    linked_records = np.unique(np.concatenate([
        np.asarray(edge_l, dtype=np.int64), np.asarray(edge_r, dtype=np.int64),
        np.array([x for pair in always for x in pair], dtype=np.int64)])).tolist()
    parent: dict[int, int] = {x: x for x in linked_records}
    members: dict[int, list[int]] = {x: [x] for x in linked_records}

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(ra: int, rb: int) -> None:
        if len(members[ra]) < len(members[rb]):
            ra, rb = rb, ra
        parent[rb] = ra
        members[ra].extend(members.pop(rb))

    linked = set(zip(np.minimum(edge_l, edge_r).tolist(), np.maximum(edge_l, edge_r).tolist()))

    def blocked(ra: int, rb: int) -> bool:
        contradicting = supporting = 0
        vouched = False
        for x in members[ra]:
            for y in members[rb]:
                if (x, y) in never or (y, x) in never:
                    return True
                if contradicts(x, y):
                    contradicting += 1
                elif ((x, y) if x < y else (y, x)) in linked:
                    supporting += 1
                vouched = vouched or vouches(x, y)
        return contradicting > 0 and not vouched and supporting <= contradicting

    links: list[tuple[int, int, int]] = []
    for a, b in always:
        ra, rb = find(a), find(b)
        if ra != rb:
            union(ra, rb)
            links.append((a, b, -1))

    if len(edge_l):
        lo = np.minimum(order[edge_l], order[edge_r])
        hi = np.maximum(order[edge_l], order[edge_r])
        sequence = np.lexsort((hi, lo, -edge_weight))
        ls, rs = edge_l[sequence].tolist(), edge_r[sequence].tolist()
        for pos, a, b in zip(sequence.tolist(), ls, rs):
            ra, rb = find(a), find(b)
            if ra == rb or blocked(ra, rb):
                continue
            union(ra, rb)
            links.append((a, b, pos))

    # A label that does not depend on union order: the smallest member of each cluster.
    smallest = {root: min(m) for root, m in members.items() if len(m) > 1}
    labels = np.asarray(records, dtype=np.int64).copy()
    if smallest:
        joined = np.array([x for root, m in members.items() if len(m) > 1 for x in m], dtype=np.int64)
        joined_label = np.array([smallest[find(int(x))] for x in joined.tolist()], dtype=np.int64)
        by_value = np.argsort(labels, kind="stable")
        at = by_value[np.searchsorted(labels[by_value], joined)]
        labels[at] = joined_label
    return Clusters(records=records, labels=labels, links=links)
