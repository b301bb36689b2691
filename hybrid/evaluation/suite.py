"""Evaluation and learning over several query sets at once: what `hybrid eval`,
`hybrid learn` and benchmarks/learned_fusion.py share.

Results are collected per task (`collect`), then every profile is scored offline with
ranx, per task and overall (all judged queries pooled), against a baseline profile.
Learned profiles are scored by cross-validation: each query is ranked by a profile
fitted without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from hybrid.evaluation.judgments import JudgmentError, Qrels, QuerySet, load_task
from hybrid.evaluation.metrics import METRICS, compare, evaluate
from hybrid.evaluation.offline import QueryResults, run_of
from hybrid.learning.fit import (
    CONFIGS,
    GlobalFit,
    PerQueryFit,
    Problem,
    fit_domain,
    fit_per_query,
    fit_selected,
    folds,
    top_features,
)
from hybrid.planner.adaptive import Domain, Fallback
from hybrid.planner.profile import Profile

DEV_TASKS = ("fashion_text", "fashion_image", "grocery_image", "grocery_text", "spoken")
Collected = dict[str, dict[str, QueryResults]]  # task -> qid -> results
Runs = dict[str, dict[str, dict[str, float]]]    # task -> run


def load_tasks(data: str | Path, names: Sequence[str] | None = None) -> list[QuerySet]:
    data = Path(data)
    if not names:
        found = sorted(p.parent.name for p in data.glob("*/queries.jsonl"))
        names = [n for n in DEV_TASKS if n in found] + [n for n in found if n not in DEV_TASKS]
    if not names:
        raise JudgmentError(f"no task folders (with queries.jsonl) under {data}")
    return [load_task(data / n) for n in names]


def single_signal(profile: Profile, name: str) -> Profile:
    """`profile` with one signal left on: that signal alone."""
    return replace(profile, name=name.replace(":", "-"), model=None, signals=tuple(
        replace(s, weight=1.0 if s.name == name else 0.0) for s in profile.signals))


def with_fit(base: Profile, fit: GlobalFit | PerQueryFit, name: str,
             domain: Domain | None = None) -> Profile:
    """`base` with the fitted weights; with a `domain`, base's own weighting becomes the
    fallback for queries unlike the training ones (fitted under base's normaliser and
    combiner, so the two weightings mix)."""
    g = fit.base if isinstance(fit, PerQueryFit) else fit
    fallback = Fallback(base.weights, domain, base.model) if domain is not None else None
    return replace(base, name=name, normalizer=g.normalizer, combiner=g.combiner,
                   missing=base.missing if fallback else None,
                   model=fit.model if isinstance(fit, PerQueryFit) else None,
                   fallback=fallback,
                   signals=tuple(replace(s, weight=round(g.weights.get(s.name, 0.0), 6))
                                 for s in base.signals))


def score_runs(tasks: Sequence[QuerySet], runs: Mapping[str, Runs], baseline: str,
               metrics: Sequence[str] = METRICS) -> dict[str, Any]:
    """The report's numbers: per task and overall, every profile's means and per-query
    values, and its comparison with the baseline. `runs`: label -> task -> run."""
    out: dict[str, Any] = {"baseline": baseline, "metrics": list(metrics), "tasks": {},
                           "overall": {"profiles": {}, "compare": {}}}
    pooled_qrels: Qrels = {}
    pooled: dict[str, dict[str, dict[str, float]]] = {label: {} for label in runs}
    for qs in tasks:
        qrels = {q: d for q, d in qs.qrels.items() if d}
        entry: dict[str, Any] = {"queries": len(qrels), "profiles": {}, "compare": {}}
        for label, by_task in runs.items():
            means, per_query = evaluate(qrels, by_task.get(qs.name, {}), metrics)
            entry["profiles"][label] = {"means": means, "per_query": per_query}
            for q, docs in by_task.get(qs.name, {}).items():
                pooled[label][f"{qs.name}/{q}"] = dict(docs)
        if len(runs) > 1 and baseline in runs:
            entry["compare"] = compare(qrels, {lbl: r.get(qs.name, {}) for lbl, r in
                                               runs.items()}, baseline, metrics)
        out["tasks"][qs.name] = entry
        pooled_qrels.update({f"{qs.name}/{q}": d for q, d in qrels.items()})
    for label in runs:
        means, _ = evaluate(pooled_qrels, pooled[label], metrics)
        out["overall"]["profiles"][label] = {"means": means}
    if len(runs) > 1 and baseline in runs:
        out["overall"]["compare"] = compare(pooled_qrels, pooled, baseline, metrics)
    return out


def static_runs(collected: Collected, profiles: Mapping[str, Profile]) -> dict[str, Runs]:
    return {label: {task: run_of(c, p) for task, c in collected.items()}
            for label, p in profiles.items()}


@dataclass
class Learned:
    profile: Profile          # fitted on every query
    runs: Runs                # cross-validated: each query ranked by a fit made without it
    report: dict[str, Any]    # how it was fitted, for the profile's meta


def learn(base: Profile, collected: Collected, labels: Mapping[str, Qrels], *,
          per_query: bool = False, k: int = 5, seed: int = 0, name: str = "learned",
          source: str = "judgments", fallback: bool = True) -> Learned:
    """Fit weights on all tasks together (each task weighing the same), scored by k-fold
    cross-validation. `labels`: task -> the relevance to fit (judgments, or click
    estimates); the caller scores the runs against the judgments. With `fallback` the
    fit keeps base's normaliser and combiner, and the profile falls back to base's
    weighting for queries unlike its training queries (`fit_domain`)."""
    signals = [s.name for s in base.signals]
    merged = {f"{t}/{q}": r for t, c in collected.items() for q, r in c.items()}
    merged_labels = {f"{t}/{q}": d for t, lab in labels.items() for q, d in lab.items()}
    groups = {key: key.split("/", 1)[0] for key in merged}
    problem = Problem.build(merged, merged_labels, signals, groups)
    if not problem.qids:
        raise JudgmentError("no labelled query to learn from")

    # the static weightings, equal weights first: on ties (few queries) they are kept
    start = [{x: 1.0 for x in signals}, base.weights]

    configs = [(base.normalizer, base.combiner)] if fallback else list(CONFIGS)

    def fit(p: Problem) -> GlobalFit | PerQueryFit:
        base_fit = fit_selected(p, seed=seed, start=start, configs=configs)
        if per_query:
            return fit_per_query(p, base_fit, seed=seed)
        return base_fit

    def domain(p: Problem, fitted: GlobalFit | PerQueryFit) -> Domain | None:
        if not fallback:
            return None
        g = fitted.base if isinstance(fitted, PerQueryFit) else fitted
        taking_part = [s for s in signals if g.weights.get(s, 0.0) > 0 or base.weights[s] > 0]
        return fit_domain([merged[q].features(taking_part) for q in p.qids])

    runs: Runs = {t: {} for t in collected}
    blends = []
    for test in folds(len(problem.qids), k, seed):
        train = np.setdiff1d(np.arange(len(problem.qids)), test)
        fitted = fit(problem.subset(train))
        if isinstance(fitted, PerQueryFit):
            blends.append(fitted.model.blend)
        profile = with_fit(base, fitted, name, domain(problem.subset(train), fitted))
        for i in test:
            task, q = problem.qids[i].split("/", 1)
            runs[task].update(run_of({q: collected[task][q]}, profile))
    final = fit(problem)
    profile = with_fit(base, final, name, domain(problem, final))
    report = {"created": datetime.now(UTC).isoformat(timespec="seconds"),
              "source": source, "tasks": sorted(collected), "queries": len(problem.qids),
              "folds": k, "seed": seed, "signals": signals,
              "normalizer": profile.normalizer, "combiner": profile.combiner}
    if isinstance(final, PerQueryFit):
        report |= {"features": top_features(final.model), "blend": final.model.blend,
                   "fold_blends": blends}
    return Learned(replace(profile, meta={"training": report}), runs, report)


def score_learned(tasks: Sequence[QuerySet], collected: Collected, base: Profile,
                  learned: Learned, only_ranked: bool = False) -> dict[str, Any]:
    """The cross-validation table: `base` and the learned profile's held-out runs,
    scored against the judgments of `tasks` (`score_runs`' shape, plus `scored`: the
    number of judged queries scored, and `judged`: of how many). With `only_ranked`,
    only the queries the held-out runs rank count (learning from clicks: the queries
    with clicks; a query without click data has no fit to score, not a score of 0)."""
    judged = sum(1 for qs in tasks for d in qs.qrels.values() if d)
    if only_ranked:
        tasks = [QuerySet(qs.name, [q for q in qs.queries if q.qid in learned.runs.get(
            qs.name, {})], {q: d for q, d in qs.qrels.items()
                            if q in learned.runs.get(qs.name, {})}) for qs in tasks]
    label = f"{base.name}@{base.version}"
    runs = static_runs(collected, {label: base})
    runs[f"{learned.profile.name} (cv)"] = learned.runs
    result = score_runs(tasks, runs, label)
    return result | {"scored": sum(1 for qs in tasks for d in qs.qrels.values() if d),
                     "judged": judged}


def curves(collected: Collected, tasks: Sequence[QuerySet], profile: Profile,
           steps: int = 11, metric: str = "ndcg@10") -> dict[str, Any]:
    """Per task, the metric as the weight moves from one signal to another: the first
    two signals of `profile` that ran for the task's queries."""
    out: dict[str, Any] = {}
    for qs in tasks:
        ran = {s for r in collected.get(qs.name, {}).values() for s in r.results}
        pair = [s.name for s in profile.signals if s.name in ran][:2]
        if len(pair) < 2:
            continue
        alphas = [round(i / (steps - 1), 3) for i in range(steps)]
        values = []
        for alpha in alphas:
            weights = {pair[0]: 1 - alpha, pair[1]: alpha}
            p = replace(profile, model=None, signals=tuple(
                replace(s, weight=weights.get(s.name, 0.0)) for s in profile.signals))
            means, _ = evaluate(qs.qrels, run_of(collected[qs.name], p), [metric])
            values.append(means[metric])
        out[qs.name] = {"signals": pair, "alpha": alphas, metric: values}
    return out


def stamp(result: dict[str, Any], index: str, title: str = "hybrid evaluation"
          ) -> dict[str, Any]:
    return {"title": title, "index": index, "curves": {},
            "created": datetime.now(UTC).isoformat(timespec="seconds")} | result
