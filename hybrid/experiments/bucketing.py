"""Deterministic, sticky bucketing: the same (salt, experiment, user or session id)
always lands in the same variant, with no state kept. Pure.

The id is hashed with SHA-256; the first 8 bytes, read as a number in [0, 1), decide
whether the id is in the experiment at all (below `traffic`) and, rescaled, which
variant it falls in by the cumulative traffic shares.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from itertools import accumulate

from hybrid.experiments.model import Experiment


def unit_hash(salt: str, experiment: str, unit: str) -> float:
    """A uniform number in [0, 1) from (salt, experiment, unit id)."""
    digest = hashlib.sha256(f"{salt}\x1f{experiment}\x1f{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def assign(experiment: Experiment, unit: str) -> str | None:
    """The variant name for this user or session id, or None when the id falls outside
    the experiment's `traffic` share."""
    u = unit_hash(experiment.salt, experiment.name, unit)
    if u >= experiment.traffic:
        return None
    edges = list(accumulate(experiment.shares()))
    i = min(bisect_right(edges, u / experiment.traffic), len(edges) - 1)
    return experiment.variants[i].name
