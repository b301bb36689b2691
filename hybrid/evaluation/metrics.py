"""Ranking metrics and significance tests, computed by ranx (not written here).

A run is {qid: {doc: score}}; qrels are {qid: {doc: grade}}. Queries without any
judgment are left out; a judged query the run has no results for scores 0.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from hybrid.evaluation.judgments import Qrels

METRICS = ("ndcg@10", "mrr@10", "recall@100", "precision@10")
NO_RESULT = "\x00no-result"
Run = Mapping[str, Mapping[str, float]]


def _ranx() -> Any:
    try:
        import ranx
    except ImportError as e:
        from hybrid.errors import HybridError

        raise HybridError("evaluation needs ranx: pip install 'hybrid[eval]'") from e
    return ranx


def _pair(qrels: Qrels, run: Run, name: str = "run") -> tuple[Any, Any]:
    ranx = _ranx()
    judged = {q: d for q, d in qrels.items() if d}
    q = ranx.Qrels({k: dict(v) for k, v in judged.items()})
    # a query with no results gets one document no judgment names: it scores 0 (ranx
    # cannot hold an empty result list)
    r = ranx.Run({k: {d: float(s) for d, s in run.get(k, {}).items()} or {NO_RESULT: 0.0}
                  for k in judged}, name=name)
    return q, r


def evaluate(qrels: Qrels, run: Run, metrics: Sequence[str] = METRICS
             ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """(mean per metric, per metric {qid: value})."""
    q, r = _pair(qrels, run)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's type-safety notes
        means = _ranx().evaluate(q, r, list(metrics), make_comparable=True)
    if isinstance(means, float):
        means = {metrics[0]: means}
    per_query = {m: {k: float(v) for k, v in r.scores[m].items()} for m in metrics}
    return {m: float(v) for m, v in means.items()}, per_query


def compare(qrels: Qrels, runs: Mapping[str, Run], baseline: str,
            metrics: Sequence[str] = METRICS, test: str = "student"
            ) -> dict[str, dict[str, dict[str, Any]]]:
    """For every run but the baseline, per metric: its mean, the baseline's, the paired
    test's p-value against the baseline, and wins / ties / losses per query."""
    ranx = _ranx()
    pairs = {name: _pair(qrels, run, name) for name, run in runs.items()}
    q = next(iter(pairs.values()))[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = ranx.compare(q, [r for _, r in pairs.values()], metrics=list(metrics),
                              stat_test=test, make_comparable=True).to_dict()
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name in runs:
        if name == baseline:
            continue
        mine = report[name]
        out[name] = {m: {"mean": float(mine["scores"][m]),
                         "baseline": float(report[baseline]["scores"][m]),
                         "p_value": float(mine["comparisons"][baseline][m]),
                         **{k.lower(): int(v) for k, v in
                            mine["win_tie_loss"][baseline][m].items()}}
                     for m in metrics}
    return out
