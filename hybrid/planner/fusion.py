"""Score fusion: normalisers and combiners chosen by name, and `fuse`, which turns the
ranked lists of several sub-queries into one ranking with every score explained.

Pure: no I/O, no globals. Semantics follow OpenSearch's normalization-processor:
- min_max: (s - min) / (max - min); a score equal to the minimum becomes 0.001 so the
  document stays in the ranking; a list whose scores are all equal normalises to 1.0.
- l2: s / sqrt(sum of squares); 0.001 when every score is 0.
- z_score: (s - mean) / std over the sub-query's list; values <= 0 become 0.001;
  a list with no spread normalises to 1.0. (OpenSearch returns the raw maximum for a
  score equal to the mean, which mixes scales; here that score is 0.001 like any
  other at or below the mean.)
- arithmetic_mean: sum(w * s) / sum(w); geometric_mean: exp(sum(w * ln s) / sum(w));
  harmonic_mean: sum(w) / sum(w / s); rrf: sum(w / (k + rank)), rank from 1.

Ranges: raw scores are >= 0 (BM25; k-NN (1 + cos) / 2 in [0, 1]). Normalised scores are
in [0, 1], except z_score's, in [0.001, (n - 1) / sqrt(n)] over a list of n. Weights are
finite numbers >= 0 (ProfileError otherwise); the means divide them by the largest
first, which changes no mean but keeps 1e308 or 1e-300 from overflowing or underflowing.
So the means' fused scores lie in the normalised range, and RRF's in
[0, sum(w) / (k + 1)].

A document that a sub-query did not return is *missing* from that signal. Policy
"zero" scores it 0 there with the signal's weight still counted (OpenSearch's
arithmetic mean and RRF); "ignore" leaves that signal out of the document's mean, so
the weights of the signals that found it are renormalised (OpenSearch's geometric and
harmonic means, which skip scores <= 0). `missing=None` picks OpenSearch's behaviour
for the combiner.

Explain: every fused document carries, per signal, its raw score, rank, normalised
score and contribution; contributions add up to the fused score. For arithmetic mean
and RRF the contribution is the signal's own term; for the geometric and harmonic
means, which are not sums, the fused score is shared in proportion to w * s.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from hybrid.errors import ProfileError

MIN_SCORE = 0.001
SINGLE_RESULT_SCORE = 1.0
RRF_K = 60

Ranked = Sequence[tuple[str, float]]  # (document id, raw score), best first


def min_max(scores: Sequence[float]) -> list[float]:
    if not scores:
        return []
    lo, hi = min(scores), max(scores)
    if hi == lo:
        return [SINGLE_RESULT_SCORE] * len(scores)
    out = [(s - lo) / (hi - lo) for s in scores]
    return [MIN_SCORE if v == 0.0 else v for v in out]


def l2(scores: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(s * s for s in scores))
    if norm == 0.0 or not math.isfinite(norm):
        return [MIN_SCORE] * len(scores)
    return [max(s / norm, 0.0) for s in scores]  # a negative raw score is not below 0


def z_score(scores: Sequence[float]) -> list[float]:
    if not scores:
        return []
    mean = sum(scores) / len(scores)
    # sample standard deviation, as commons-math DescriptiveStatistics computes it
    var = sum((s - mean) ** 2 for s in scores) / (len(scores) - 1) if len(scores) > 1 else 0.0
    std = math.sqrt(var)
    if std == 0.0:
        return [SINGLE_RESULT_SCORE] * len(scores)
    return [max((s - mean) / std, 0.0) or MIN_SCORE for s in scores]


NORMALIZERS: dict[str, Callable[[Sequence[float]], list[float]]] = {
    "min_max": min_max, "l2": l2, "z_score": z_score,
}


def arithmetic_mean(scores: Sequence[float], weights: Sequence[float]) -> float:
    total = sum(weights)
    return sum(w * s for s, w in zip(scores, weights, strict=True)) / total if total else 0.0


def geometric_mean(scores: Sequence[float], weights: Sequence[float]) -> float:
    pairs = [(s, w) for s, w in zip(scores, weights, strict=True) if s > 0 and w > 0]
    total = sum(w for _, w in pairs)
    if not total:
        return 0.0
    return math.exp(sum(w * math.log(s) for s, w in pairs) / total)


def harmonic_mean(scores: Sequence[float], weights: Sequence[float]) -> float:
    pairs = [(s, w) for s, w in zip(scores, weights, strict=True) if s > 0 and w > 0]
    total = sum(w for _, w in pairs)
    return total / sum(w / s for s, w in pairs) if total else 0.0


COMBINERS: dict[str, Callable[[Sequence[float], Sequence[float]], float]] = {
    "arithmetic_mean": arithmetic_mean, "geometric_mean": geometric_mean,
    "harmonic_mean": harmonic_mean,
}
RRF = "rrf"
COMBINER_NAMES = (*COMBINERS, RRF)
MISSING_POLICIES = ("zero", "ignore")


def default_missing(combiner: str) -> str:
    """OpenSearch's handling of a document absent from a sub-query, per combiner."""
    return "ignore" if combiner in ("geometric_mean", "harmonic_mean") else "zero"


@dataclass
class SignalScore:
    raw: float | None          # the sub-query's own score; None when missing
    rank: int | None           # 1-based position in the sub-query's list
    normalized: float | None   # None when missing and ignored
    contribution: float
    missing: bool = False

    def to_dict(self) -> dict[str, float | int | bool | None]:
        return {"raw": self.raw, "rank": self.rank, "normalized": self.normalized,
                "contribution": self.contribution, "missing": self.missing}


@dataclass
class Fused:
    id: str
    score: float
    signals: dict[str, SignalScore] = field(default_factory=dict)


def fuse(results: Mapping[str, Ranked], weights: Mapping[str, float], *,
         normalizer: str = "min_max", combiner: str = "arithmetic_mean",
         rrf_k: int = RRF_K, missing: str | None = None,
         only: Collection[str] | None = None) -> list[Fused]:
    """One ranking from several: `results` maps a signal name to its ranked
    (id, raw score) list. Sorted by fused score, then id, so equal scores page stably.
    `only`: fuse and explain just these documents (the page), normalised over all."""
    if combiner not in COMBINER_NAMES:
        raise ProfileError(f"unknown combiner {combiner!r}; use one of "
                           f"{', '.join(COMBINER_NAMES)}")
    if combiner != RRF and normalizer not in NORMALIZERS:
        raise ProfileError(f"unknown normalizer {normalizer!r}; use one of "
                           f"{', '.join(NORMALIZERS)}")
    policy = missing or default_missing(combiner)
    if policy not in MISSING_POLICIES:
        raise ProfileError(f"unknown missing policy {policy!r}; use zero or ignore")
    names = list(results)
    weights = scaled_weights({n: weights.get(n, 1.0) for n in names}, combiner)
    per_signal: dict[str, dict[str, tuple[float, int, float]]] = {}
    for name in names:
        ranked = _dedupe(results[name])
        raw = [s for _, s in ranked]
        if combiner == RRF:
            norm = [1.0 / (rrf_k + r) for r in range(1, len(ranked) + 1)]
        else:
            norm = NORMALIZERS[normalizer](raw)
        per_signal[name] = {doc: (s, r, n) for r, ((doc, s), n)
                            in enumerate(zip(ranked, norm, strict=True), start=1)}
    docs: dict[str, None] = {}
    for name in names:
        docs.update(dict.fromkeys(per_signal[name]))
    if only is not None:
        docs = {d: None for d in only if d in docs}
    fused = [_fuse_one(doc, names, per_signal, weights, combiner, policy) for doc in docs]
    fused.sort(key=lambda f: order_key(f.score, f.id))
    return fused


def scaled_weights(weights: Mapping[str, float], combiner: str) -> dict[str, float]:
    """Weights checked (finite, >= 0; ProfileError) and, for the means, divided by the
    largest: a weighted mean does not change, and neither huge weights (1e308 each, whose
    sum overflows) nor tiny ones (whose products underflow) can flatten every score."""
    for name, w in weights.items():
        if isinstance(w, bool) or not isinstance(w, int | float) or not _finite(w) or w < 0:
            raise ProfileError(f"the weight of {name} must be a finite number >= 0, got {w!r}")
    top = max(weights.values(), default=0.0)
    if combiner == RRF or top <= 0:
        return {n: float(w) for n, w in weights.items()}
    return {n: w / top for n, w in weights.items()}


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int past 1e308
        return False


def order_key(score: float, doc: str) -> tuple[float, str]:
    """Best first, equal scores by id. Scores are compared to 12 decimals, so the same
    fusion summed in another order (the array path) ranks ties the same way."""
    return (-round(score, 12), doc)


def _dedupe(ranked: Ranked) -> list[tuple[str, float]]:
    seen: set[str] = set()
    out = []
    for doc, score in ranked:
        if doc not in seen:
            seen.add(doc)
            out.append((doc, float(score)))
    return out


def _fuse_one(doc: str, names: Sequence[str],
              per_signal: Mapping[str, Mapping[str, tuple[float, int, float]]],
              weights: Mapping[str, float], combiner: str, policy: str) -> Fused:
    signals: dict[str, SignalScore] = {}
    used: list[tuple[str, float, float]] = []  # (signal, normalised score, weight)
    for name in names:
        w = weights[name]
        hit = per_signal[name].get(doc)
        if hit is not None:
            raw, rank, norm = hit
            signals[name] = SignalScore(raw, rank, norm, 0.0)
            used.append((name, norm, w))
        elif policy == "zero":
            signals[name] = SignalScore(None, None, 0.0, 0.0, missing=True)
            used.append((name, 0.0, w))
        else:
            signals[name] = SignalScore(None, None, None, 0.0, missing=True)
    scores = [s for _, s, _ in used]
    ws = [w for _, _, w in used]
    if combiner == RRF:
        terms = [w * s for s, w in zip(scores, ws, strict=True)]
        score = sum(terms)
    elif combiner == "arithmetic_mean":
        total = sum(ws)
        terms = [w * s / total if total else 0.0 for s, w in zip(scores, ws, strict=True)]
        score = sum(terms)
    elif policy == "zero" and any(s == 0.0 and w > 0 for s, w in zip(scores, ws, strict=True)):
        score, terms = 0.0, [0.0] * len(used)  # a true product or harmonic mean with a 0
    else:
        score = COMBINERS[combiner](scores, ws)
        shares = [w * s for s, w in zip(scores, ws, strict=True)]
        total = sum(shares)
        terms = [score * x / total if total else 0.0 for x in shares]
    for (name, _, _), term in zip(used, terms, strict=True):
        signals[name].contribution = term
    return Fused(doc, score, signals)
