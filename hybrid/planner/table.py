"""One query's sub-query results as arrays, fused for many weightings at once.

`hybrid.planner.fusion.fuse` explains a fusion document by document, which is slow in
Python for hundreds of documents; here the results become a matrix (documents x
signals), normalised once per normaliser and combined with a matrix product. The search
path ranks with this and explains only the page; learning scores thousands of
weightings on one table. `tests/test_fusion.py` checks both give the same scores.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from hybrid.errors import ProfileError
from hybrid.planner.fusion import (
    MIN_SCORE,
    NORMALIZERS,
    RRF,
    SINGLE_RESULT_SCORE,
    Ranked,
    default_missing,
)


@dataclass
class SignalTable:
    signals: list[str]
    docs: list[str]
    raw: np.ndarray      # (docs, signals) raw scores, NaN where a signal missed the doc
    ranks: np.ndarray    # (docs, signals) 1-based ranks, 0 where missing
    _norm: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _rows: list[np.ndarray] | None = field(default=None, repr=False)  # per signal, in rank order

    @classmethod
    def from_lists(cls, results: Mapping[str, Ranked], signals: Sequence[str]) -> SignalTable:
        """`signals` fixes the column order; a signal without results is all missing.
        Rows are in id order, so a stable sort by score ranks ties by id."""
        firsts: list[dict[str, float]] = []
        for name in signals:
            ranked = results.get(name, ())
            first = dict(ranked)
            if len(first) != len(ranked):  # a document listed twice keeps its first score
                first = {}
                for doc, score in ranked:
                    first.setdefault(doc, score)
            firsts.append(first)
        docs = sorted(set().union(*firsts))  # code point order, as Python sorts str
        row = {doc: i for i, doc in enumerate(docs)}
        raw = np.full((len(docs), len(signals)), np.nan)
        ranks = np.zeros((len(docs), len(signals)), dtype=np.int32)
        in_rank_order = []
        for j, first in enumerate(firsts):
            rows = np.fromiter(map(row.__getitem__, first), dtype=np.intp, count=len(first))
            raw[rows, j] = np.fromiter(first.values(), dtype=np.float64, count=len(first))
            ranks[rows, j] = np.arange(1, len(first) + 1)
            in_rank_order.append(rows)
        return cls(list(signals), docs, raw, ranks, _rows=in_rank_order)

    @property
    def present(self) -> np.ndarray:
        return ~np.isnan(self.raw)

    def normalized(self, normalizer: str) -> np.ndarray:
        """Per signal, its normaliser applied to the scores it returned; 0 where missing."""
        if normalizer not in NORMALIZERS:
            raise ProfileError(f"unknown normalizer {normalizer!r}")
        if normalizer not in self._norm:
            out = np.zeros_like(self.raw)
            fn = NORMALIZERS[normalizer]
            for j in range(len(self.signals)):
                if self._rows is not None:
                    order = self._rows[j]
                else:
                    rows = np.flatnonzero(self.present[:, j])
                    order = rows[np.argsort(self.ranks[rows, j])]
                if order.size:
                    raw = self.raw[order, j]
                    out[order, j] = (_min_max(raw) if normalizer == "min_max"
                                     else fn(raw.tolist()))
            self._norm[normalizer] = out
        return self._norm[normalizer]

    def scores(self, weights: np.ndarray, *, normalizer: str = "min_max",
               combiner: str = "arithmetic_mean", missing: str | None = None,
               rrf_k: int = 60) -> np.ndarray:
        """Fused scores of every document: (docs,) for weights (signals,), or
        (docs, W) for a batch of weightings (signals, W)."""
        w = np.asarray(weights, dtype=float)
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ProfileError("weights must be finite numbers >= 0")
        if combiner != RRF:  # as fusion.scaled_weights: the means do not change
            top = w.max(axis=0) if w.size else np.ones(w.shape[1:])
            w = w / np.where(top > 0, top, 1.0)
        present = self.present.astype(float)
        policy = missing or default_missing(combiner)
        if combiner == RRF:
            rr = np.where(self.ranks > 0, 1.0 / (rrf_k + np.maximum(self.ranks, 1)), 0.0)
            return rr @ w
        n = self.normalized(normalizer)
        counted = np.ones_like(present) if policy == "zero" else present
        total = counted @ w
        safe = np.where(total > 0, total, 1.0)
        if combiner == "arithmetic_mean":
            return np.where(total > 0, (n @ w) / safe, 0.0)
        positive = (n > 0) & (present > 0)
        if policy == "zero":  # any missing signal with weight > 0 zeroes a true mean
            zeroed = ((1 - present) @ (w > 0).astype(float)) > 0
        else:
            zeroed = np.zeros(total.shape, dtype=bool)
        pw = positive.astype(float) @ w
        pw_safe = np.where(pw > 0, pw, 1.0)
        if combiner == "geometric_mean":
            logs = np.where(positive, np.log(np.where(positive, n, 1.0)), 0.0)
            out = np.where(pw > 0, np.exp((logs @ w) / pw_safe), 0.0)
        elif combiner == "harmonic_mean":
            inv = np.where(positive, 1.0 / np.where(positive, n, 1.0), 0.0)
            denom = inv @ w
            out = np.where((pw > 0) & (denom > 0), pw / np.where(denom > 0, denom, 1.0), 0.0)
        else:
            raise ProfileError(f"unknown combiner {combiner!r}")
        return np.where(zeroed, 0.0, out)

    @staticmethod
    def order(scores: np.ndarray) -> np.ndarray:
        """Row order(s), best first, as `fusion.order_key` orders: by score to 12
        decimals, ties by id (the rows' order). Works on (docs,) and (docs, W)."""
        return np.argsort(-np.round(scores, 12), axis=0, kind="stable")

    def ranking(self, weights: np.ndarray, k: int | None = None, **fusion: object
                ) -> list[tuple[str, float]]:
        """(id, fused score) by score, ties by id, as `fuse` orders them."""
        s = self.scores(weights, **fusion)  # type: ignore[arg-type]
        if not self.docs:
            return []
        order = self.order(s)[:k]
        return [(self.docs[i], float(s[i])) for i in order]


def _min_max(scores: np.ndarray) -> np.ndarray:
    """`fusion.min_max` on an array, with the same float operations (so the same values)."""
    lo, hi = scores.min(), scores.max()
    if hi == lo:
        return np.full(len(scores), SINGLE_RESULT_SCORE)
    out = (scores - lo) / (hi - lo)
    out[out == 0.0] = MIN_SCORE
    return out
