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
        p = self.probabilities(features)
        out = {}
        for name, w in base.items():
            mixed = sum(pk * c.get(name, 0.0) for pk, c in zip(p, self.candidates, strict=True))
            out[name] = (1 - self.blend) * w + self.blend * mixed
        return out

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
