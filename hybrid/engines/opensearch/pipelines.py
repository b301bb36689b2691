"""Server-side fusion: which fusion profiles OpenSearch's `hybrid` query can run, and the
search pipeline that runs them. Pure: names and bodies only.

OpenSearch 2.19 normalises and combines the sub-query scores of a `hybrid` query in a
search pipeline: `normalization-processor` (min_max or l2; arithmetic, geometric or
harmonic mean, weights summing to 1) or `score-ranker-processor` (RRF, equal weights).
A hybrid query holds at most 5 sub-queries. z_score normalisation is refused by
2.19.1's neural-search ("provided normalization technique is not supported"); the
planner fuses those profiles on the client.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from hybrid.planner.fusion import RRF, default_missing

MAX_SUBQUERIES = 5
NORMALIZERS = ("min_max", "l2")  # z_score: not in OpenSearch 2.19
COMBINERS = ("arithmetic_mean", "geometric_mean", "harmonic_mean")


def why_not_server_side(normalizer: str, combiner: str, missing: str | None,
                        weights: Sequence[float], adaptive: bool = False) -> str | None:
    """None when a search pipeline reproduces this fusion exactly, else the reason."""
    if not 1 <= len(weights) <= MAX_SUBQUERIES:
        return f"{len(weights)} sub-queries; a hybrid query takes 1 to {MAX_SUBQUERIES}"
    if adaptive:
        return "query-dependent weights are computed per query by the planner"
    if missing is not None and missing != default_missing(combiner):
        return f"missing={missing!r} differs from OpenSearch's rule for {combiner}"
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        return "weights must be non-negative with a positive sum"
    if combiner == RRF:
        if len(set(weights)) > 1:
            return "OpenSearch 2.19's RRF takes no weights; these differ"
        return None
    if combiner not in COMBINERS:
        return f"combiner {combiner!r} has no OpenSearch counterpart"
    if normalizer not in NORMALIZERS:
        return f"normalizer {normalizer!r} has no OpenSearch counterpart"
    return None


def pipeline_body(normalizer: str, combiner: str, weights: Sequence[float],
                  rrf_k: int = 60) -> dict[str, Any]:
    """The `PUT /_search/pipeline/<name>` body for a fusion (see why_not_server_side)."""
    if combiner == RRF:
        return {"description": "hybrid: RRF", "phase_results_processors": [
            {"score-ranker-processor": {"combination": {"technique": "rrf",
                                                        "rank_constant": int(rrf_k)}}}]}
    total = float(sum(weights))
    return {"description": f"hybrid: {normalizer}, {combiner}", "phase_results_processors": [
        {"normalization-processor": {
            "normalization": {"technique": normalizer},
            "combination": {"technique": combiner,
                            "parameters": {"weights": [w / total for w in weights]}}}}]}


def pipeline_name(alias: str, body: Mapping[str, Any]) -> str:
    """A name derived from the index alias and the body: equal fusions on one index
    share one pipeline, and an index's pipelines go with it."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    return f"{alias}-fusion-{digest}"
