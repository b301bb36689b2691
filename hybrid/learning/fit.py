"""Fitting fusion weights to judged (or click-labelled) queries. Pure: numpy only.

The data is a `Problem`: per query, its sub-query results as a SignalTable, which
signals ran, and the gain of every retrieved document. The objective is mean nDCG@10
(linear gains, as ranx's `ndcg`); `tests/test_learning.py` pins it against ranx. It is
computed here, vectorised over many weightings at once, because a search tries
thousands of them; every number reported to users is computed by ranx
(`hybrid.evaluation.metrics`).

- `fit_global`: one convex combination of the signals and the normaliser / combiner
  pair, by random search on the simplex followed by coordinate ascent.
- `fit_selected`: `fit_global`, kept only where inner cross-validation shows it beats
  the static weighting it started from (on small or noisy query sets it may not).
- `fit_per_query`: a softmax-linear model over query features choosing among candidate
  weightings, trained for expected nDCG, blended with the global weights by an amount
  chosen on held-out folds (`hybrid.planner.adaptive.WeightModel`).
- `fit_domain`: the training queries' feature distribution, which says how far a
  query is from them (a learned profile falls back to its static weights as it gets
  farther: `hybrid.planner.adaptive.Fallback`).
- `folds`: the cross-validation splits; `cross_validate` fits on each training split
  and scores the held-out queries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hybrid.evaluation.offline import QueryResults
from hybrid.planner.adaptive import Domain, WeightModel
from hybrid.planner.table import SignalTable

K = 10
DISCOUNT = 1.0 / np.log2(np.arange(2, K + 2))
CONFIGS: tuple[tuple[str, str], ...] = tuple(
    (n, c) for n in ("min_max", "l2", "z_score")
    for c in ("arithmetic_mean", "geometric_mean", "harmonic_mean")) + (("min_max", "rrf"),)


@dataclass
class Problem:
    signals: list[str]
    qids: list[str]
    tables: list[SignalTable]
    ran: np.ndarray                 # (queries, signals) bool
    gains: list[np.ndarray]         # per query: gain of each table row
    ideal: np.ndarray               # (queries,) ideal DCG@10
    features: list[dict[str, float]]
    weight: np.ndarray              # (queries,) how much each query counts (sums to 1)
    groups: list[str] = field(default_factory=list)  # task of each query

    @classmethod
    def build(cls, collected: Mapping[str, QueryResults], labels: Mapping[str, Mapping[str, float]],
              signals: Sequence[str], groups: Mapping[str, str] | None = None) -> Problem:
        """Queries with at least one positive label; each group (task) weighs the same."""
        qids = [q for q in collected if any(g > 0 for g in labels.get(q, {}).values())]
        tables = [collected[q].table(signals) for q in qids]
        gains = [np.array([float(labels[q].get(d, 0.0)) for d in t.docs]) for q, t in
                 zip(qids, tables, strict=True)]
        ideal = np.array([_dcg(np.sort(np.array(list(labels[q].values()), float))[::-1])
                          for q in qids])
        group = [(groups or {}).get(q, "all") for q in qids]
        sizes = {g: group.count(g) for g in set(group)}
        weight = np.array([1.0 / sizes[g] for g in group])
        return cls(list(signals), qids, tables, np.array([collected[q].ran(signals)
                                                         for q in qids]).reshape(len(qids), -1),
                   gains, ideal, [collected[q].features(signals) for q in qids],
                   weight / weight.sum() if len(qids) else weight, group)

    def subset(self, idx: Sequence[int] | np.ndarray) -> Problem:
        idx = list(idx)
        w = self.weight[idx]
        return Problem(self.signals, [self.qids[i] for i in idx],
                       [self.tables[i] for i in idx], self.ran[idx],
                       [self.gains[i] for i in idx], self.ideal[idx],
                       [self.features[i] for i in idx], w / w.sum() if w.sum() else w,
                       [self.groups[i] for i in idx])


def _dcg(gains: np.ndarray) -> float:
    g = gains[:K]
    return float((g * DISCOUNT[:len(g)]).sum())


def ndcg(problem: Problem, weights: np.ndarray, normalizer: str, combiner: str,
         per_query: bool = False) -> np.ndarray:
    """nDCG@10 of every query (rows) under every weighting (columns of `weights`,
    shape (signals, W)); or, with per_query, one weighting per query ((queries, signals)
    -> (queries,))."""
    out = np.zeros((len(problem.qids),) if per_query else (len(problem.qids), weights.shape[1]))
    for q, table in enumerate(problem.tables):
        if not table.docs or problem.ideal[q] == 0:
            continue
        w = weights[q] * problem.ran[q] if per_query else weights * problem.ran[q][:, None]
        scores = table.scores(w, normalizer=normalizer, combiner=combiner)
        top = SignalTable.order(scores)[:K]
        g = problem.gains[q][top]
        d = DISCOUNT[:len(top)]
        out[q] = ((g * d).sum(axis=0) if g.ndim == 1 else (g * d[:, None]).sum(axis=0)) \
            / problem.ideal[q]
    return out


@dataclass
class GlobalFit:
    weights: dict[str, float]
    normalizer: str
    combiner: str
    score: float                    # weighted mean nDCG@10 on the data it was fit on
    tried: int


def simplex_candidates(n_signals: int, n_random: int, rng: np.random.Generator) -> np.ndarray:
    """(signals, W): the vertices, the pairwise midpoints, the centre, random points."""
    eye = np.eye(n_signals)
    mids = [(eye[i] + eye[j]) / 2 for i in range(n_signals) for j in range(i + 1, n_signals)]
    rand = (rng.dirichlet(np.ones(n_signals), size=n_random) if n_random
            else np.empty((0, n_signals)))
    return np.vstack([eye, *mids, np.full(n_signals, 1.0 / n_signals), rand]).T


def fit_global(problem: Problem, *, configs: Sequence[tuple[str, str]] = CONFIGS,
               n_random: int = 120, rounds: int = 3, seed: int = 0,
               start: Sequence[Mapping[str, float]] = (), min_gain: float = 0.005
               ) -> GlobalFit:
    """`start`: weightings tried first under every config (the base profile's, equal
    weights). The fit keeps the best of them unless it finds a weighting better by
    `min_gain` nDCG on the data it sees: on few queries, a smaller gain is mostly noise."""
    rng = np.random.default_rng(seed)
    s = len(problem.signals)
    best: GlobalFit | None = None
    fallback: GlobalFit | None = None
    tried = 0
    given = [np.array([w.get(x, 0.0) for x in problem.signals]) for w in start]
    given = [g / g.sum() for g in given if g.sum() > 0]
    for normalizer, combiner in configs:
        cands = simplex_candidates(s, n_random, rng)
        if given:
            cands = np.hstack([np.array(given).T, cands])
        means = problem.weight @ ndcg(problem, cands, normalizer, combiner)
        tried += cands.shape[1]
        if given:
            i = int(np.argmax(means[:len(given)]))
            if fallback is None or means[i] > fallback.score + 1e-9:
                fallback = GlobalFit(dict(zip(problem.signals, map(float, cands[:, i]),
                                              strict=True)), normalizer, combiner,
                                     float(means[i]), 0)
        w = cands[:, int(np.argmax(means))]
        score = float(means.max())
        for _ in range(rounds):  # coordinate ascent: scale one weight at a time
            steps = []
            for i in range(s):
                for f in (0.0, 0.25, 0.5, 0.75, 1.5, 2.0, 4.0):
                    v = w.copy()
                    v[i] = w[i] * f if w[i] > 0 else (0.1 if f > 1 else 0.0)
                    if v.sum() > 0:
                        steps.append(v / v.sum())
            grid = np.array(steps).T
            means = problem.weight @ ndcg(problem, grid, normalizer, combiner)
            tried += grid.shape[1]
            if means.max() <= score + 1e-12:
                break
            w, score = grid[:, int(np.argmax(means))], float(means.max())
        if best is None or score > best.score + 1e-9:
            best = GlobalFit(dict(zip(problem.signals, map(float, w), strict=True)),
                             normalizer, combiner, score, 0)
    assert best is not None
    if fallback is not None and best.score - fallback.score < min_gain:
        best = fallback
    best.tried = tried
    return best


def fit_selected(problem: Problem, *, start: Sequence[Mapping[str, float]], k: int = 3,
                 seed: int = 0, **options: Any) -> GlobalFit:
    """`fit_global`, kept only if it beats the best start weighting on held-out queries:
    inner k-fold cross-validation on `problem` compares fitting with keeping the static
    weighting, and the winner is then fitted on all of `problem`."""
    fitted = held = 0.0
    for test in folds(len(problem.qids), k, seed + 7):
        train = np.setdiff1d(np.arange(len(problem.qids)), test)
        if not len(train):
            continue
        inner, outer = problem.subset(train), problem.subset(test)
        w = problem.weight[test]
        fitted += w @ global_score(outer, fit_global(inner, start=start, seed=seed, **options))
        held += w @ global_score(outer, keep_start(inner, start, **options))
    if fitted > held:
        return fit_global(problem, start=start, seed=seed, **options)
    return keep_start(problem, start, **options)


def keep_start(problem: Problem, start: Sequence[Mapping[str, float]],
               configs: Sequence[tuple[str, str]] = CONFIGS, **_: Any) -> GlobalFit:
    """The best of the start weightings (under the best normaliser / combiner)."""
    return fit_global(problem, start=start, n_random=0, rounds=0, min_gain=float("inf"),
                      configs=configs)


def folds(n: int, k: int, seed: int = 0) -> list[np.ndarray]:
    """k disjoint test index sets covering range(n)."""
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(order[i::k]) for i in range(min(k, n))]


def cross_validate(problem: Problem, fit: Callable[[Problem], Any],
                   score: Callable[[Problem, Any], np.ndarray], k: int = 5, seed: int = 0
                   ) -> tuple[np.ndarray, list[Any]]:
    """Per query, its nDCG@10 under the fit made without it; and the fits."""
    out = np.zeros(len(problem.qids))
    fits = []
    for test in folds(len(problem.qids), k, seed):
        train = np.setdiff1d(np.arange(len(problem.qids)), test)
        fitted = fit(problem.subset(train))
        out[test] = score(problem.subset(test), fitted)
        fits.append((test, fitted))
    return out, fits


def global_score(problem: Problem, fit: GlobalFit) -> np.ndarray:
    w = np.array([[fit.weights[s]] for s in problem.signals])
    return ndcg(problem, w, fit.normalizer, fit.combiner)[:, 0]


# -- query-dependent weights -------------------------------------------------------------
BLENDS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass
class PerQueryFit:
    base: GlobalFit
    model: WeightModel


def _feature_matrix(problem: Problem, names: Sequence[str] | None = None
                    ) -> tuple[list[str], np.ndarray]:
    if names is None:
        keys = sorted({k for f in problem.features for k in f})
        x = np.array([[f.get(k, 0.0) for k in keys] for f in problem.features])
        keep = [i for i in range(len(keys)) if x.shape[0] and np.ptp(x[:, i]) > 0]
        return [keys[i] for i in keep], x[:, keep] if keep else np.zeros((len(x), 0))
    return list(names), np.array([[f.get(k, 0.0) for k in names] for f in problem.features])


def _train_softmax(x: np.ndarray, gains: np.ndarray, sample: np.ndarray, l2: float = 0.01,
                   steps: int = 400, lr: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Maximise sum_q sample_q * sum_k softmax(x_q W + b)_k * gains_qk - l2 |W|^2."""
    n, f = x.shape
    k = gains.shape[1]
    w, b = np.zeros((f, k)), np.zeros(k)
    for _ in range(steps):
        logits = x @ w + b
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        expected = (p * gains).sum(axis=1, keepdims=True)
        grad_logits = sample[:, None] * p * (gains - expected)   # d objective / d logits
        w += lr * (x.T @ grad_logits - 2 * l2 * w)
        b += lr * grad_logits.sum(axis=0)
    return w, b


def per_query_candidates(base: GlobalFit, signals: Sequence[str]) -> np.ndarray:
    """(K, signals): the global weights, each signal alone, each signal doubled."""
    g = np.array([base.weights[s] for s in signals])
    rows = [g, *np.eye(len(signals))]
    for i in range(len(signals)):
        v = g.copy()
        v[i] = v[i] * 2 + 0.1
        rows.append(v / v.sum())
    return np.array(rows)


def fit_per_query(problem: Problem, base: GlobalFit | None = None, inner_k: int = 3,
                  seed: int = 0, start: Sequence[Mapping[str, float]] = ()) -> PerQueryFit:
    base = base or fit_global(problem, seed=seed, start=start)
    names, x = _feature_matrix(problem)
    mean = x.mean(axis=0) if x.size else np.zeros(0)
    scale = x.std(axis=0) if x.size else np.zeros(0)
    scale = np.where(scale > 0, scale, 1.0)
    z = (x - mean) / scale
    cands = per_query_candidates(base, problem.signals)
    gains = ndcg(problem, cands.T, base.normalizer, base.combiner)  # (Q, K)

    def model_for(idx: np.ndarray, blend: float) -> WeightModel:
        coef, intercept = _train_softmax(z[idx], gains[idx], problem.weight[idx] / problem
                                         .weight[idx].sum())
        return WeightModel(tuple(names), tuple(mean), tuple(scale),
                           tuple(dict(zip(problem.signals, map(float, c), strict=True))
                                 for c in cands),
                           tuple(tuple(map(float, row)) for row in coef.T),
                           tuple(map(float, intercept)), blend)

    totals = np.zeros(len(BLENDS))
    for test in folds(len(problem.qids), inner_k, seed + 1):
        train = np.setdiff1d(np.arange(len(problem.qids)), test)
        if not len(train):
            continue
        sub = problem.subset(test)
        for i, blend in enumerate(BLENDS):
            totals[i] += problem.weight[test] @ per_query_score(sub, PerQueryFit(
                base, model_for(train, blend)))
    blend = BLENDS[int(np.argmax(totals + 1e-9 * (np.arange(len(BLENDS)) == 0)))]
    return PerQueryFit(base, model_for(np.arange(len(problem.qids)), blend))


def per_query_weights(problem: Problem, fit: PerQueryFit) -> np.ndarray:
    base = fit.base.weights
    return np.array([[w[s] for s in problem.signals] for w in
                     (fit.model.weights(base, f) for f in problem.features)])


def per_query_score(problem: Problem, fit: PerQueryFit) -> np.ndarray:
    return ndcg(problem, per_query_weights(problem, fit), fit.base.normalizer,
                fit.base.combiner, per_query=True)


def top_features(model: WeightModel, n: int = 8) -> list[str]:
    """The features the model leans on most (largest coefficient spread)."""
    coef = np.array(model.coef)
    if coef.size == 0:
        return []
    spread = np.ptp(coef, axis=0)
    return [model.features[i] for i in np.argsort(-spread)[:n] if spread[i] > 0]


# -- how far a query is from the training queries ------------------------------------
NEAR_QUANTILE = 0.9   # training queries within this quantile of distance: full trust
FAR_FACTOR = 1.5      # no trust from this multiple of the near distance


def fit_domain(features: Sequence[Mapping[str, float]]) -> Domain:
    """The training queries' features (every feature any of them has), their mean and
    spread, and the distances that bound full and no trust (see Domain). Compute the
    features over the signals that will run for the profile (`Profile.runs`), as the
    planner does: per-signal features depend on which other signals ran."""
    keys = sorted({k for f in features for k in f})
    x = np.array([[f.get(k, 0.0) for k in keys] for f in features]) \
        if features else np.zeros((0, len(keys)))
    mean = x.mean(axis=0) if len(x) else np.zeros(len(keys))
    scale = np.maximum(x.std(axis=0) if len(x) else np.zeros(len(keys)), Domain.FLOOR)
    domain = Domain(tuple(keys), tuple(map(float, mean)), tuple(map(float, scale)), 0.0, 1.0)
    d = np.array([domain.distance(f) for f in features]) if len(x) else np.zeros(1)
    near = float(np.quantile(d, NEAR_QUANTILE))
    return Domain(domain.features, domain.mean, domain.scale, near,
                  max(near * FAR_FACTOR, near + 1e-6))
