"""Significance tests and confidence intervals for experiment reports, from scipy. Pure.

- `two_proportions`: two-sided z test of p_a = p_b with the pooled proportion.
- `welch`: two-sided Welch t test of two means (MRR of clicks).
- `sign_test`: two-sided binomial (sign) test of interleaving wins, ties left out.
- `uniform_wins`: chi-square test that wins are spread evenly (multileaving).
- `srm`: chi-square test of observed counts against the expected traffic shares.
- `bootstrap_ci`: percentile bootstrap interval of a mean.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

ALPHA = 0.05
SRM_ALPHA = 0.001  # the usual threshold for a sample ratio mismatch


def two_proportions(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float | None:
    """p-value, or None when a side is empty or the pooled rate is 0 or 1."""
    if n_a == 0 or n_b == 0:
        return None
    pooled = (hits_a + hits_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return None
    z = (hits_a / n_a - hits_b / n_b) / se
    return float(2 * stats.norm.sf(abs(z)))


def welch(a: Sequence[float], b: Sequence[float]) -> float | None:
    if len(a) < 2 or len(b) < 2 or (np.ptp(a) == 0 and np.ptp(b) == 0):
        return None
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def sign_test(wins_a: int, wins_b: int) -> float | None:
    if wins_a + wins_b == 0:
        return None
    return float(stats.binomtest(wins_a, wins_a + wins_b, 0.5).pvalue)


def uniform_wins(wins: Sequence[int]) -> float | None:
    if sum(wins) == 0:
        return None
    return float(stats.chisquare(wins).pvalue)


def srm(observed: Sequence[int], shares: Sequence[float]) -> float | None:
    total = sum(observed)
    if total == 0:
        return None
    expected = np.asarray(shares, float) / sum(shares) * total
    return float(stats.chisquare(observed, expected).pvalue)


def bootstrap_ci(values: Sequence[float], level: float = 0.95, resamples: int = 999,
                 seed: int = 0) -> list[float] | None:
    """[low, high] of the mean; None without values."""
    x = np.asarray(values, float)
    if len(x) == 0:
        return None
    if len(x) < 2 or np.ptp(x) == 0:
        return [float(x.mean())] * 2
    res = stats.bootstrap((x,), np.mean, n_resamples=resamples, confidence_level=level,
                          method="percentile", batch=max(1, 2_000_000 // len(x)),
                          random_state=np.random.default_rng(seed))
    return [float(res.confidence_interval.low), float(res.confidence_interval.high)]


def percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None
