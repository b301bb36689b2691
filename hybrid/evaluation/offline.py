"""Collected sub-query results, fused under any profile without touching the index.

`collect` (the I/O shell) runs each query's signals once and keeps their ranked lists;
here a profile's weights, normaliser, combiner and query-dependent model turn them into
the ranking the API would return. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from hybrid.planner.adaptive import query_weights
from hybrid.planner.features import query_features
from hybrid.planner.profile import Profile
from hybrid.planner.table import SignalTable


@dataclass
class QueryResults:
    """One query's sub-query results, as `Searcher.retrieve` returned them."""

    qid: str
    text: str                                   # with the transcript of spoken queries
    modalities: tuple[str, ...]
    results: dict[str, list[tuple[str, float]]]  # signal -> ranked (doc, raw score)
    totals: dict[str, int] = field(default_factory=dict)
    _tables: dict[tuple[str, ...], SignalTable] = field(default_factory=dict, repr=False)

    def table(self, signals: Sequence[str]) -> SignalTable:
        key = tuple(signals)
        if key not in self._tables:
            self._tables[key] = SignalTable.from_lists(self.results, signals)
        return self._tables[key]

    def ran(self, signals: Sequence[str]) -> np.ndarray:
        return np.array([s in self.results for s in signals])

    def features(self, signals: Sequence[str]) -> dict[str, float]:
        ran = [s for s in signals if s in self.results]
        return query_features(self.text, self.modalities,
                              {s: self.results[s] for s in ran}, ran, self.totals)

    def without(self, docs: Sequence[str]) -> QueryResults:
        """The same results with some documents removed (a query's own product)."""
        if not docs:
            return self
        drop = set(docs)
        return replace(self, results={s: [(d, x) for d, x in r if d not in drop]
                                      for s, r in self.results.items()}, _tables={})

    def to_dict(self) -> dict[str, Any]:
        return {"qid": self.qid, "text": self.text, "modalities": list(self.modalities),
                "results": {s: [[d, x] for d, x in r] for s, r in self.results.items()},
                "totals": self.totals}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> QueryResults:
        return cls(str(d["qid"]), str(d["text"]), tuple(d["modalities"]),
                   {s: [(str(doc), float(x)) for doc, x in r] for s, r in d["results"].items()},
                   {s: int(n) for s, n in d.get("totals", {}).items()})


def rank(qr: QueryResults, profile: Profile, k: int = 100) -> list[tuple[str, float]]:
    """What the API would rank for this query under `profile`: the signals that take
    part (`Profile.runs`) and ran, weighted by the profile (its model, its fallback),
    fused, best first."""
    signals = [s.name for s in profile.signals if profile.runs(s.name) and s.name in qr.results]
    if not signals:
        return []
    weights = profile.weights
    if profile.model is not None or profile.fallback is not None:
        weights = query_weights({s: weights[s] for s in signals}, profile.model,
                                profile.fallback, qr.features(signals))
    w = np.array([weights[s] for s in signals])
    return qr.table(signals).ranking(w, k, normalizer=profile.normalizer,
                                     combiner=profile.combiner, missing=profile.missing,
                                     rrf_k=profile.rrf_k)


def run_of(collected: Mapping[str, QueryResults], profile: Profile, k: int = 100
           ) -> dict[str, dict[str, float]]:
    """A run ({qid: {doc: score}}) of the profile over collected queries. Scores are
    n, n-1, ..., 1 down our ranking, so an evaluator that sorts by score keeps our order
    for ties too."""
    run = {}
    for qid, qr in collected.items():
        ranked = rank(qr, profile, k)
        # strictly decreasing scores that keep our order (ties broken by id already)
        run[qid] = {d: float(len(ranked) - i) for i, (d, _) in enumerate(ranked)}
    return run
