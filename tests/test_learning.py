"""Metrics against ranx, fitting weights where the truth is known, click models."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hybrid.evaluation.judgments import from_json, read_qrels, write_qrels
from hybrid.evaluation.metrics import compare, evaluate
from hybrid.evaluation.offline import QueryResults, rank, run_of
from hybrid.learning.clicks import estimate_pbm, naive_ctr, sessions, simulate
from hybrid.learning.fit import (
    Problem,
    cross_validate,
    fit_global,
    fit_per_query,
    global_score,
    ndcg,
    per_query_score,
    top_features,
)
from hybrid.planner.profile import Profile

pytestmark = pytest.mark.unit
SIGNALS = ["A", "B", "C"]


def test_metrics_on_a_hand_made_run() -> None:
    qrels = {"q1": {"a": 2, "b": 1}, "q2": {"c": 1}}
    run = {"q1": {"b": 3.0, "z": 2.0, "a": 1.0}, "q2": {"x": 2.0, "c": 1.0}}
    means, per_query = evaluate(qrels, run)
    idcg1 = 2 + 1 / np.log2(3)
    assert per_query["ndcg@10"]["q1"] == pytest.approx((1 + 2 / np.log2(4)) / idcg1)
    assert per_query["ndcg@10"]["q2"] == pytest.approx(1 / np.log2(3))
    assert per_query["mrr@10"] == pytest.approx({"q1": 1.0, "q2": 0.5})
    assert means["precision@10"] == pytest.approx((0.2 + 0.1) / 2)
    assert means["recall@100"] == pytest.approx(1.0)
    worse = {"q1": {"z": 1.0}, "q2": {"x": 1.0}}
    cmp = compare(qrels, {"base": worse, "better": run}, baseline="base")
    assert cmp["better"]["ndcg@10"]["w"] == 2 and cmp["better"]["ndcg@10"]["l"] == 0
    assert 0 <= cmp["better"]["ndcg@10"]["p_value"] <= 1


def synthetic(n: int, truth: dict[str, float], seed: int = 0, digits_flip: bool = False
              ) -> tuple[dict[str, QueryResults], dict[str, dict[str, int]]]:
    """Queries whose relevance is the min-max fusion of three signals under `truth`
    (or, with digits_flip, signal A alone for queries with digits, B alone otherwise)."""
    rng = np.random.default_rng(seed)
    collected, qrels = {}, {}
    for q in range(n):
        docs = [f"d{i}" for i in range(60)]
        raw = {s: rng.gamma(2.0, 1.0, 60) for s in SIGNALS}
        norm = {s: (v - v.min()) / (v.max() - v.min()) for s, v in raw.items()}
        text = f"query {q}"
        if digits_flip:
            has_digits = q % 2 == 0
            text = f"model x{q}00" if has_digits else "soft warm scarf"
            true = norm["A"] if has_digits else norm["B"]
        else:
            true = sum(truth[s] * norm[s] for s in SIGNALS)
        order = np.argsort(-true)
        qrels[f"q{q}"] = {docs[i]: 3 - r // 4 for r, i in enumerate(order[:12])}
        results = {s: [(docs[i], float(raw[s][i])) for i in np.argsort(-raw[s])[:40]]
                   for s in SIGNALS}
        collected[f"q{q}"] = QueryResults(f"q{q}", text, ("text",), results,
                                          {s: 40 for s in SIGNALS})
    return collected, qrels


def test_objective_matches_ranx() -> None:
    collected, qrels = synthetic(30, {"A": 0.5, "B": 0.3, "C": 0.2})
    problem = Problem.build(collected, qrels, SIGNALS)
    weights = {"A": 0.2, "B": 0.5, "C": 0.3}
    ours = ndcg(problem, np.array([[weights[s]] for s in SIGNALS]), "min_max",
                "arithmetic_mean")[:, 0]
    profile = Profile.from_dict({"name": "p", "signals": [
        {"name": s, "kind": "knn", "field": "f", "encoder": "e", "weight": w}
        for s, w in weights.items()]})
    _, per_query = evaluate(qrels, run_of(collected, profile))
    assert ours == pytest.approx([per_query["ndcg@10"][q] for q in problem.qids])


def test_learn_recovers_known_weights() -> None:
    truth = {"A": 0.6, "B": 0.3, "C": 0.1}
    collected, qrels = synthetic(80, truth)
    fit = fit_global(Problem.build(collected, qrels, SIGNALS),
                     configs=[("min_max", "arithmetic_mean")], seed=1)
    assert fit.weights == pytest.approx(truth, abs=0.08)
    assert fit.score > 0.97
    # and the normaliser / combiner search keeps a config that fits as well
    assert fit_global(Problem.build(collected, qrels, SIGNALS), n_random=30).score > 0.97


def test_cross_validated_scores_are_held_out() -> None:
    collected, qrels = synthetic(40, {"A": 0.6, "B": 0.3, "C": 0.1})
    problem = Problem.build(collected, qrels, SIGNALS)
    seen: list[set[str]] = []

    def fit(train: Problem) -> object:
        seen.append(set(train.qids))
        return fit_global(train, configs=[("min_max", "arithmetic_mean")], n_random=20)

    scores, fits = cross_validate(problem, fit, global_score, k=4)
    assert len(fits) == 4 and scores.shape == (40,)
    for (test, _), train in zip(fits, seen, strict=True):
        assert not {problem.qids[i] for i in test} & train


def test_per_query_weights_follow_the_query() -> None:
    collected, qrels = synthetic(80, {}, digits_flip=True)
    problem = Problem.build(collected, qrels, SIGNALS)
    glob, _ = cross_validate(problem, lambda p: fit_global(p, n_random=30), global_score, k=4)
    per, fits = cross_validate(problem, lambda p: fit_per_query(p), per_query_score, k=4)
    assert per.mean() > glob.mean() + 0.15
    model = fits[0][1].model
    assert model.blend > 0 and "digits" in top_features(model) + ["model_number"]
    # the fitted model, saved in a profile, ranks the same offline
    profile = Profile.from_dict({"name": "pq", "signals": [
        {"name": s, "kind": "knn", "field": "f", "encoder": "e",
         "weight": fits[0][1].base.weights[s]} for s in SIGNALS],
        "normalizer": fits[0][1].base.normalizer, "combiner": fits[0][1].base.combiner,
        "model": model.to_dict()})
    again = Profile.from_dict(profile.to_dict())
    assert rank(collected["q0"], again) == rank(collected["q0"], profile)


def test_position_based_model_removes_the_bias() -> None:
    rng = np.random.default_rng(3)
    qrels, rankings = {}, {}
    for q in range(40):
        docs = [f"q{q}d{i}" for i in range(15)]
        qrels[f"q{q}"] = {docs[i]: int(rng.integers(0, 3)) for i in range(15)}
        rankings[f"q{q}"] = [list(rng.permutation(docs)[:10]) for _ in range(4)]
    events = simulate(rankings, qrels, per_query=200, eta=1.0, seed=4)
    searches = sessions(events)
    theta, gamma = estimate_pbm(searches)
    assert theta[0] == 1.0
    assert theta[1] == pytest.approx(1 / 2, abs=0.08)
    assert theta[4] == pytest.approx(1 / 5, abs=0.06)
    truth = {0: 0.05, 1: 0.5, 2: 0.9}
    corrected = [abs(gamma[q][d] - truth[qrels[q][d]]) for q in gamma for d in gamma[q]]
    assert np.median(corrected) < 0.08
    # click-through rates without the correction are far off
    ctr = naive_ctr(searches)
    errors = [abs(ctr[q][d] - truth[qrels[q][d]]) for q in ctr for d in ctr[q]]
    assert np.median(corrected) < np.median(errors) / 3


def test_judgment_files_round_trip(tmp_path: Path) -> None:
    qrels = {"q1": {"a": 2, "b": 0}, "q2": {"c": 1}}
    for name in ("j.json", "j.trec"):
        write_qrels(qrels, tmp_path / name)
        assert read_qrels(tmp_path / name) == qrels
    (tmp_path / "three.tsv").write_text("q1\ta\t2\nq1\tb\t0\nq2\tc\t1\n")
    assert read_qrels(tmp_path / "three.tsv") == qrels
    assert from_json([{"qid": "q1", "doc": "a", "grade": 2}]) == {"q1": {"a": 2}}


def test_a_run_with_no_results_scores_zero() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    means, per_query = evaluate(qrels, {})
    assert means["ndcg@10"] == 0.0 and per_query["mrr@10"] == {"q1": 0.0, "q2": 0.0}
    cmp = compare(qrels, {"none": {}, "some": {"q1": {"a": 1.0}}}, baseline="none")
    assert cmp["some"]["ndcg@10"]["mean"] == pytest.approx(0.5)


def test_selection_keeps_the_static_weights_when_learning_does_not_generalise() -> None:
    from hybrid.learning.fit import fit_selected

    collected, _ = synthetic(40, {"A": 0.6, "B": 0.3, "C": 0.1}, seed=5)
    rng = np.random.default_rng(9)  # relevance unrelated to any signal: nothing to learn
    noise = {q: {f"d{i}": int(rng.integers(1, 3)) for i in rng.choice(60, 8, replace=False)}
             for q in collected}
    start = [{"A": 1.0, "B": 1.0, "C": 1.0}]
    kept = fit_selected(Problem.build(collected, noise, SIGNALS), start=start)
    assert kept.weights == pytest.approx({"A": 1 / 3, "B": 1 / 3, "C": 1 / 3})
    truth = {"A": 0.6, "B": 0.3, "C": 0.1}
    collected, qrels = synthetic(60, truth)
    learned = fit_selected(Problem.build(collected, qrels, SIGNALS), start=start,
                           configs=[("min_max", "arithmetic_mean")])
    assert learned.weights == pytest.approx(truth, abs=0.08)


def test_a_task_keeps_only_the_judgments_of_its_queries(tmp_path: Path) -> None:
    from hybrid.evaluation.judgments import load_task

    task = tmp_path / "spoken"
    task.mkdir()
    (task / "queries.jsonl").write_text('{"qid": "q1", "text": "red shoes"}\n')
    (task / "qrels.tsv").write_text("q1\ta\t2\nq2\tb\t1\n")  # q2 is judged, not asked
    assert load_task(task).qrels == {"q1": {"a": 2}}


def test_learning_from_clicks_scores_only_the_queries_with_clicks() -> None:
    """Clicks on half the judged queries: the cross-validation table scores those 12
    (each by a fit made without it), not all 24 with the other 12 at nDCG 0."""
    from hybrid.evaluation.judgments import Query, QuerySet
    from hybrid.evaluation.suite import learn, score_learned

    collected, qrels = synthetic(24, {"A": 0.6, "B": 0.3, "C": 0.1})
    tasks = [QuerySet("t", [Query(q, "t", f"query {q}") for q in collected], qrels)]
    clicked = [f"q{i}" for i in range(0, 24, 2)]
    labels = {"t": {q: {d: g / 3 for d, g in qrels[q].items()} for q in clicked}}
    base = Profile.from_dict({"name": "base", "signals": [
        {"name": s, "kind": "knn", "field": "f", "encoder": "e", "weight": 1.0}
        for s in SIGNALS]})
    learned = learn(base, {"t": collected}, labels, k=2, name="from-clicks")
    assert set(learned.runs["t"]) == set(clicked)

    result = score_learned(tasks, {"t": collected}, base, learned, only_ranked=True)
    assert (result["scored"], result["judged"]) == (12, 24)
    only = {q: qrels[q] for q in clicked}
    for label, run in [("from-clicks (cv)", learned.runs["t"]),
                       ("base@1", run_of({q: collected[q] for q in clicked}, base))]:
        expected, _ = evaluate(only, run)
        got = result["overall"]["profiles"][label]["means"]["ndcg@10"]
        assert got == pytest.approx(expected["ndcg@10"]), label
    assert result["tasks"]["t"]["queries"] == 12
    cv = result["overall"]["profiles"]["from-clicks (cv)"]["means"]["ndcg@10"]
    assert cv > 0.8  # the truth is learnable; diluted by 12 zeros it could not pass 0.5

    every = score_learned(tasks, {"t": collected}, base, learned)  # judgments: all judged
    assert (every["scored"], every["judged"]) == (24, 24)
    assert every["overall"]["profiles"]["from-clicks (cv)"]["means"]["ndcg@10"] < 0.5


def test_learned_weights_fall_back_to_the_static_ones_for_unfamiliar_queries() -> None:
    from hybrid.evaluation.suite import learn
    from hybrid.learning.fit import fit_domain

    # trained where A is right, the static profile says B
    collected, qrels = synthetic(60, {"A": 1.0, "B": 0.0, "C": 0.0})
    base = Profile.from_dict({"name": "static", "signals": [
        {"name": s, "kind": "knn", "field": "f", "encoder": "e", "weight": w}
        for s, w in {"A": 0.0, "B": 1.0, "C": 0.0}.items()]})
    learned = learn(base, {"t": collected}, {"t": qrels}, k=3).profile
    assert learned.fallback is not None and learned.fallback.weights == base.weights
    assert learned.weights["A"] > 0.5 and learned.combiner == base.combiner
    assert Profile.from_dict(learned.to_dict()) == learned
    familiar = collected["q0"]
    assert rank(familiar, learned)[:10] == rank(familiar, replace(learned, fallback=None))[:10]
    # a query unlike the training ones (longer text, audio, other score ranges)
    odd = QueryResults("odd", "a much longer spoken query than any seen in training",
                       ("text", "audio"), {s: [(d, x * 40) for d, x in r]
                                           for s, r in familiar.results.items()},
                       familiar.totals)
    static = rank(odd, base)
    assert rank(odd, learned)[:len(static)] == static  # then the docs only A found, at 0
    domain = fit_domain([c.features(SIGNALS) for c in collected.values()])
    trusts = [domain.trust(c.features(SIGNALS)) for c in collected.values()]
    assert np.mean(np.array(trusts) == 1.0) >= 0.85
    assert domain.trust(odd.features(SIGNALS)) == 0.0
    assert learn(base, {"t": collected}, {"t": qrels}, k=3, fallback=False
                 ).profile.fallback is None


def test_one_feature_far_outside_training_is_enough_to_fall_back() -> None:
    """The reported case: a profile learned on catalog photos kept most of its trust for
    shop photos (fashion_image -> grocery_image lost 0.26 nDCG@10), because they differ
    in a few of the photo's features only and a root mean square over all features
    diluted that. Any one feature far out now withdraws the trust."""
    from hybrid.planner.adaptive import Domain

    rng = np.random.default_rng(0)
    names = [f"f{i}" for i in range(20)]
    train = [{n: float(v) for n, v in zip(names, row, strict=True)}
             for row in rng.normal(0.9, 0.03, (200, len(names)))]
    train = [f | {"constant": 1.0} for f in train]
    from hybrid.learning.fit import fit_domain
    domain = fit_domain(train)
    assert np.mean([domain.trust(f) == 1.0 for f in train]) >= 0.85
    shop = dict(train[0]) | {"f0": 0.7}  # one of 21 features 6-7 deviations out
    assert domain.trust(shop) == 0.0
    assert domain.trust(dict(train[0]) | {"constant": 0.0}) == 0.0  # a flag constant in training
    assert Domain.from_dict(domain.to_dict()) == domain
