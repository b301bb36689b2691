"""Query-dependent fusion weights: a small model that reads a query's features and
mixes a few candidate weightings. Pure: numbers in, weights out; fitted by
`hybrid.learning`, stored in the profile as plain JSON.

    p = softmax(coef @ standardised(features) + intercept)       one per candidate
    weights = (1 - blend) * profile weights + blend * sum_k p_k * candidate_k

`blend` 0 gives the profile's global weights back, so cross-validation can choose how
far to trust the model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hybrid.errors import ProfileError

MAX_CANDIDATE_WEIGHT = 1e6  # as a profile's weights


@dataclass(frozen=True)
class WeightModel:
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    candidates: tuple[dict[str, float], ...]
    coef: tuple[tuple[float, ...], ...]   # (candidates, features)
    intercept: tuple[float, ...]
    blend: float = 1.0

    def __post_init__(self) -> None:
        k, f = len(self.candidates), len(self.features)
        if not k or len(self.coef) != k or len(self.intercept) != k:
            raise ProfileError("weight model: one coefficient row and intercept per candidate")
        if len(self.mean) != f or len(self.scale) != f or any(len(r) != f for r in self.coef):
            raise ProfileError("weight model: one mean, scale and coefficient per feature")
        if not 0.0 <= self.blend <= 1.0:
            raise ProfileError("weight model: blend must be between 0 and 1")
        numbers = [*self.mean, *self.scale, *self.intercept, *(v for r in self.coef for v in r)]
        if not all(math.isfinite(v) for v in numbers):
            raise ProfileError("weight model: means, scales and coefficients must be finite")
        if not all(0.0 <= w <= MAX_CANDIDATE_WEIGHT for c in self.candidates for w in c.values()):
            raise ProfileError(f"weight model: candidate weights must be numbers from 0 to "
                               f"{MAX_CANDIDATE_WEIGHT:g}")

    def probabilities(self, features: Mapping[str, float]) -> list[float]:
        x = [(float(features.get(name, 0.0)) - m) / (s or 1.0)
             for name, m, s in zip(self.features, self.mean, self.scale, strict=True)]
        logits = [_bounded(b + sum(c * v for c, v in zip(row, x, strict=True)))
                  for row, b in zip(self.coef, self.intercept, strict=True)]
        top = max(logits)
        exps = [math.exp(v - top) for v in logits]
        total = sum(exps)
        return [e / total for e in exps]

    def weights(self, base: Mapping[str, float], features: Mapping[str, float]
                ) -> dict[str, float]:
        """`base` re-weighted for a query with these features; a signal that no
        candidate names keeps its base weight."""
        p = self.probabilities(features)
        out = {}
        for name, w in base.items():
            if not any(name in c for c in self.candidates):
                out[name] = w
                continue
            mixed = sum(pk * c.get(name, 0.0) for pk, c in zip(p, self.candidates, strict=True))
            out[name] = (1 - self.blend) * w + self.blend * mixed
        return out

    def settled(self, base: Mapping[str, float]) -> dict[str, float] | None:
        """The weights `weights` gives `base` whatever the query, when the candidates agree
        on every signal of `base` (the default's photo rule, for a query without a photo);
        None when they depend on the query."""
        named = [n for n in base if any(n in c for c in self.candidates)]
        first = self.candidates[0]
        if any(c.get(n, 0.0) != first.get(n, 0.0) for c in self.candidates for n in named):
            return None
        return {n: (1 - self.blend) * w + self.blend * first.get(n, 0.0) if n in named else w
                for n, w in base.items()}

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(self.features), "mean": list(self.mean),
                "scale": list(self.scale), "candidates": [dict(c) for c in self.candidates],
                "coef": [list(r) for r in self.coef], "intercept": list(self.intercept),
                "blend": self.blend}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WeightModel:
        try:
            return cls(tuple(map(str, d["features"])), tuple(map(float, d["mean"])),
                       tuple(map(float, d["scale"])),
                       tuple({str(k): float(v) for k, v in c.items()} for c in d["candidates"]),
                       tuple(tuple(map(float, r)) for r in d["coef"]),
                       tuple(map(float, d["intercept"])), float(d.get("blend", 1.0)))
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
            raise ProfileError(f"weight model is malformed: {e}") from e


def _bounded(logit: float) -> float:
    """A logit that overflowed (huge feature over a tiny scale) stays a finite extreme,
    so the softmax still picks a candidate instead of giving NaN weights."""
    if math.isnan(logit):
        return -1e300
    return max(-1e300, min(1e300, logit))
@dataclass(frozen=True)
class Domain:
    """Where a learned weighting was fitted: the feature distribution of its training
    queries. `distance` is the largest standardised deviation of a query's features
    (a feature's deviation from the training mean in training standard deviations,
    with `scale` at least FLOOR so that a feature constant in training, such as
    `has_audio`, counts any change as very large): a query is unlike the training
    queries when any one feature is far outside their range, however many others agree.
    `trust` is 1 up to `near` (the distance most training queries fall within) and
    falls linearly to 0 at `far`."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    near: float
    far: float

    FLOOR = 0.01

    def __post_init__(self) -> None:
        f = len(self.features)
        if len(self.mean) != f or len(self.scale) != f:
            raise ProfileError("domain: one mean and scale per feature")
        if any(s <= 0 for s in self.scale) or not 0 <= self.near < self.far:
            raise ProfileError("domain: scales must be > 0 and 0 <= near < far")

    def distance(self, features: Mapping[str, float]) -> float:
        if not self.features:
            return 0.0
        return max(abs(float(features.get(n, 0.0)) - m) / s
                   for n, m, s in zip(self.features, self.mean, self.scale, strict=True))

    def trust(self, features: Mapping[str, float]) -> float:
        d = self.distance(features)
        return min(1.0, max(0.0, (self.far - d) / (self.far - self.near)))

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(self.features), "mean": list(self.mean),
                "scale": list(self.scale), "near": self.near, "far": self.far}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Domain:
        try:
            return cls(tuple(map(str, d["features"])), tuple(map(float, d["mean"])),
                       tuple(map(float, d["scale"])), float(d["near"]), float(d["far"]))
        except (KeyError, TypeError, ValueError) as e:
            raise ProfileError(f"domain is malformed: {e}") from e


@dataclass(frozen=True)
class Fallback:
    """What a learned profile falls back to for queries unlike its training queries:
    the static weighting it started from (weights, and that profile's own model if it
    has one), and the `domain` that says how far to trust the learned weights."""

    weights: dict[str, float]
    domain: Domain
    model: WeightModel | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"weights": dict(self.weights), "domain": self.domain.to_dict()}
        if self.model is not None:
            d["model"] = self.model.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Fallback:
        if not isinstance(d, Mapping) or not isinstance(d.get("weights"), Mapping) \
                or not isinstance(d.get("domain"), Mapping):
            raise ProfileError("fallback needs 'weights' (an object) and 'domain'")
        try:
            weights = {str(k): float(v) for k, v in d["weights"].items()}
        except (TypeError, ValueError) as e:
            raise ProfileError(f"fallback weights must be numbers: {e}") from e
        if any(not math.isfinite(v) or v < 0 for v in weights.values()):
            raise ProfileError("fallback weights must be finite numbers >= 0")
        return cls(weights, Domain.from_dict(d["domain"]),
                   WeightModel.from_dict(d["model"]) if d.get("model") else None)


def query_weights(weights: Mapping[str, float], model: WeightModel | None,
                  fallback: Fallback | None, features: Mapping[str, float]
                  ) -> dict[str, float]:
    """One query's fusion weights over the signals in `weights` (those that ran):
    the profile's weights, or its model's; with a fallback, mixed with the fallback's
    by the domain's trust in this query (both sides normalised to sum 1 first):

        w = trust * learned + (1 - trust) * fallback
    """
    own = model.weights(weights, features) if model is not None else dict(weights)
    if fallback is None:
        return own
    base = {n: fallback.weights.get(n, 0.0) for n in weights}
    if fallback.model is not None:
        base = fallback.model.weights(base, features)
    t = fallback.domain.trust(features)
    a, b = _unit(own), _unit(base)
    return {n: t * a[n] + (1 - t) * b[n] for n in weights}


def _unit(w: Mapping[str, float]) -> dict[str, float]:
    total = sum(w.values())
    return {n: v / total for n, v in w.items()} if total > 0 else dict(w)
