"""How two result lists for one query differ: what shadow traffic logs per query and
`hybrid shadow report` aggregates. Pure: no I/O.

- overlap@k: |top-k of A ∩ top-k of B| / k.
- rank-biased overlap (Webber, Moffat and Zobel 2010, the extrapolated RBO_ext at the
  depth of the longer list, persistence p = 0.9): 1 for identical rankings, 0 for disjoint;
  agreement near the top weighs more.
- rank changes: for each document in both lists, its rank in B minus its rank in A
  (negative: B ranks it higher).
- gained / lost: in B's list but not A's / in A's but not B's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

RBO_P = 0.9


def overlap_at(a: Sequence[str], b: Sequence[str], k: int) -> float:
    if k < 1:
        raise ValueError("k must be at least 1")
    return len(set(a[:k]) & set(b[:k])) / k


def rbo(a: Sequence[str], b: Sequence[str], p: float = RBO_P) -> float:
    """Extrapolated rank-biased overlap of two rankings (without repeats), in [0, 1]. A
    shorter list counts as padded with documents the other never has; two empty lists
    agree (1.0)."""
    if not 0 < p < 1:
        raise ValueError("p must be in (0, 1)")
    depth = max(len(a), len(b))
    if depth == 0:
        return 1.0
    seen_a: set[str] = set()
    seen_b: set[str] = set()
    overlap = 0
    total = 0.0
    for d in range(1, depth + 1):
        x = a[d - 1] if d <= len(a) else None
        y = b[d - 1] if d <= len(b) else None
        if x is not None and x == y:
            overlap += 1
            seen_a.add(x)
            seen_b.add(x)
        else:
            if x is not None:
                overlap += x in seen_b
                seen_a.add(x)
            if y is not None:
                overlap += y in seen_a
                seen_b.add(y)
        total += overlap / d * p ** d
    return min(1.0, overlap / depth * p ** depth + (1 - p) / p * total)


def compare(a: Sequence[str], b: Sequence[str], k: int) -> dict[str, Any]:
    """What differs between ranking `a` (served) and `b` (shadow), both best first."""
    rank_a = {d: i + 1 for i, d in enumerate(a)}
    rank_b = {d: i + 1 for i, d in enumerate(b)}
    changes = {d: rank_b[d] - r for d, r in rank_a.items() if d in rank_b}
    return {"k": k, "overlap": overlap_at(a, b, k), "rbo": round(rbo(a, b), 6),
            "rank_changes": {d: c for d, c in changes.items() if c},
            "mean_abs_rank_change": (sum(abs(c) for c in changes.values()) / len(changes)
                                     if changes else None),
            "gained": [d for d in b if d not in rank_a],
            "lost": [d for d in a if d not in rank_b]}
