"""Fusion pinned against hand-computed values, OpenSearch's normalization-processor
rules, and ranx's implementation of RRF as a reference."""

from __future__ import annotations

import math
import warnings

import pytest

from hybrid.errors import ProfileError
from hybrid.planner.fusion import fuse, l2, min_max, z_score

pytestmark = pytest.mark.unit

A = [("a", 10.0), ("b", 6.0), ("c", 2.0)]
B = [("b", 0.9), ("d", 0.5)]
W = {"A": 0.4, "B": 0.6}


def scores(fused: list) -> dict[str, float]:  # type: ignore[type-arg]
    return {f.id: f.score for f in fused}


def test_normalisers_follow_opensearch() -> None:
    # min-max: the minimum becomes 0.001 so it stays ranked; all equal -> 1.0
    assert min_max([10, 6, 2]) == [1.0, 0.5, 0.001]
    assert min_max([3.0, 3.0]) == [1.0, 1.0]
    assert min_max([]) == []
    assert l2([10, 6, 2]) == pytest.approx([10 / math.sqrt(140), 6 / math.sqrt(140),
                                            2 / math.sqrt(140)])
    assert l2([0, 0]) == [0.001, 0.001]
    # z-score with the sample standard deviation (std of 10, 6, 2 is 4); <= 0 -> 0.001
    assert z_score([10, 6, 2]) == [1.0, 0.001, 0.001]
    assert z_score([5.0]) == [1.0]


def test_arithmetic_mean_counts_a_missing_signal_as_zero() -> None:
    fused = fuse({"A": A, "B": B}, W)
    assert [f.id for f in fused] == ["b", "a", "d", "c"]
    assert scores(fused) == pytest.approx({"a": 0.4, "b": 0.8, "c": 0.0004, "d": 0.0006})
    a = fused[1].signals
    assert a["B"].missing and a["B"].raw is None and a["B"].normalized == 0.0
    assert a["A"].rank == 1 and a["A"].raw == 10.0 and a["A"].normalized == 1.0


def test_ignore_policy_renormalises_over_the_signals_that_found_the_document() -> None:
    fused = fuse({"A": A, "B": B}, W, missing="ignore")
    assert [f.id for f in fused] == ["a", "b", "c", "d"]  # c and d tie: id order
    assert scores(fused) == pytest.approx({"a": 1.0, "b": 0.8, "c": 0.001, "d": 0.001})
    assert fused[0].signals["B"].normalized is None


def test_geometric_and_harmonic_means() -> None:
    geo = scores(fuse({"A": A, "B": B}, W, combiner="geometric_mean"))
    assert geo == pytest.approx({"a": 1.0, "b": 0.5 ** 0.4, "c": 0.001, "d": 0.001})
    har = scores(fuse({"A": A, "B": B}, W, combiner="harmonic_mean"))
    assert har["b"] == pytest.approx(1 / (0.4 / 0.5 + 0.6 / 1.0))
    # "zero" makes a true product: any missing signal zeroes the geometric mean
    strict = scores(fuse({"A": A, "B": B}, W, combiner="geometric_mean", missing="zero"))
    assert strict["a"] == 0.0 and strict["b"] == pytest.approx(0.5 ** 0.4)


def test_rrf_with_weights_and_constant() -> None:
    got = scores(fuse({"A": A, "B": B}, W, combiner="rrf", rrf_k=60))
    assert got == pytest.approx({"a": 0.4 / 61, "b": 0.4 / 62 + 0.6 / 61, "c": 0.4 / 63,
                                 "d": 0.6 / 62})
    got = scores(fuse({"A": A, "B": B}, {}, combiner="rrf", rrf_k=1))
    assert got["b"] == pytest.approx(1 / 3 + 1 / 2)


@pytest.mark.parametrize("combiner", ["arithmetic_mean", "geometric_mean", "harmonic_mean",
                                      "rrf"])
@pytest.mark.parametrize("normalizer", ["min_max", "l2", "z_score"])
@pytest.mark.parametrize("missing", [None, "zero", "ignore"])
def test_contributions_add_up_to_the_fused_score(combiner: str, normalizer: str,
                                                 missing: str | None) -> None:
    c = [("c", 3.0), ("a", 2.5), ("e", 0.1), ("b", 0.05)]
    for f in fuse({"A": A, "B": B, "C": c}, {"A": 0.2, "B": 0.5, "C": 0.3},
                  normalizer=normalizer, combiner=combiner, missing=missing):
        assert sum(s.contribution for s in f.signals.values()) == pytest.approx(f.score)
        assert set(f.signals) == {"A", "B", "C"}


def test_any_number_of_subqueries() -> None:
    lists = {f"s{i}": [(f"d{(i + j) % 30}", float(20 - j)) for j in range(20)]
             for i in range(12)}
    fused = fuse(lists, {name: 1.0 for name in lists})
    assert len(fused) == 30 and len(fused[0].signals) == 12
    assert fused == sorted(fused, key=lambda f: (-f.score, f.id))


def test_duplicates_within_a_list_keep_the_first() -> None:
    fused = fuse({"A": [("x", 3.0), ("x", 1.0), ("y", 2.0)]}, {"A": 1.0})
    assert fused[0].signals["A"].raw == 3.0 and fused[1].signals["A"].rank == 2


def test_unknown_names_are_refused() -> None:
    """The project's own error (a QueryError, so a 400 over HTTP), not a ValueError."""
    with pytest.raises(ProfileError, match="unknown combiner"):
        fuse({"A": A}, {}, combiner="max")
    with pytest.raises(ProfileError, match="unknown normalizer"):
        fuse({"A": A}, {}, normalizer="sigmoid")
    with pytest.raises(ProfileError, match="missing policy"):
        fuse({"A": A}, {}, missing="min")


def test_rrf_matches_ranx() -> None:
    ranx = pytest.importorskip("ranx")
    runs = [ranx.Run({"q": dict(A)}), ranx.Run({"q": dict(B)}),
            ranx.Run({"q": {"d": 4.0, "c": 3.0, "a": 1.0}})]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's notes on ranx's own casts
        ref = ranx.fuse(runs, method="rrf", params={"k": 60}).to_dict()["q"]
    ours = scores(fuse({"A": A, "B": B, "C": [("d", 4.0), ("c", 3.0), ("a", 1.0)]}, {},
                       combiner="rrf"))
    assert ours == pytest.approx(ref)


def test_weighted_sum_of_min_max_matches_ranx() -> None:
    """ranx's min-max sends the minimum to 0 where OpenSearch keeps 0.001: lists whose
    minimum is the same document in every list make the two agree up to that term."""
    ranx = pytest.importorskip("ranx")
    x = [("a", 10.0), ("b", 6.0), ("z", 2.0)]
    y = [("b", 0.9), ("a", 0.7), ("z", 0.5)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ranx.fuse([ranx.Run({"q": dict(x)}), ranx.Run({"q": dict(y)})], norm="min-max",
                        method="wsum", params={"weights": [0.4, 0.6]}).to_dict()["q"]
    ours = scores(fuse({"x": x, "y": y}, {"x": 0.4, "y": 0.6}))
    assert ours["a"] == pytest.approx(ref["a"]) and ours["b"] == pytest.approx(ref["b"])
    assert ours["z"] == pytest.approx(0.001) and ref["z"] == pytest.approx(0.0)


@pytest.mark.parametrize("combiner", ["arithmetic_mean", "geometric_mean", "harmonic_mean",
                                      "rrf"])
@pytest.mark.parametrize("normalizer", ["min_max", "l2", "z_score"])
@pytest.mark.parametrize("missing", [None, "zero", "ignore"])
def test_the_array_path_ranks_as_fuse_does(combiner: str, normalizer: str,
                                           missing: str | None) -> None:
    import random

    import numpy as np

    from hybrid.planner.table import SignalTable

    rng = random.Random(7)
    for _ in range(5):
        lists = {s: sorted(((f"d{rng.randrange(60)}", rng.uniform(0, 20)) for _ in range(30)),
                           key=lambda x: -x[1]) for s in ("A", "B", "C")}
        lists["D"] = []  # ran, found nothing
        weights = {s: rng.uniform(0, 1) for s in lists}
        kw = {"normalizer": normalizer, "combiner": combiner, "missing": missing}
        reference = [(f.id, f.score) for f in fuse(lists, weights, **kw)]
        table = SignalTable.from_lists(lists, list(lists))
        got = table.ranking(np.array([weights[s] for s in lists]), **kw)
        assert [d for d, _ in got] == [d for d, _ in reference]
        assert [s for _, s in got] == pytest.approx([s for _, s in reference])


def test_only_explains_the_page_with_the_same_scores() -> None:
    full = {f.id: f.score for f in fuse({"A": A, "B": B}, W)}
    page = fuse({"A": A, "B": B}, W, only=["d", "a", "zz"])
    assert [(f.id, f.score) for f in page] == [("a", full["a"]), ("d", full["d"])]


COMBINERS = ["arithmetic_mean", "geometric_mean", "harmonic_mean", "rrf"]


@pytest.mark.parametrize("combiner", COMBINERS)
@pytest.mark.parametrize("normalizer", ["min_max", "l2", "z_score"])
@pytest.mark.parametrize("missing", [None, "zero", "ignore"])
def test_scores_stay_in_their_documented_ranges(combiner: str, normalizer: str,
                                                missing: str | None) -> None:
    """Normalised scores in [0, 1] ([0, (n - 1) / sqrt(n)] for z_score over n results);
    fused scores in that range for the means and in [0, sum of weights / (k + 1)] for
    RRF, on both paths, even for raw scores a hair below 0 (a k-NN score of -6e-08 made
    l2 give a negative fused score)."""
    import random

    import numpy as np

    from hybrid.planner.table import SignalTable

    rng = random.Random(3)
    for _ in range(8):
        lists = {s: sorted(((f"d{rng.randrange(40)}", rng.choice(
            [-6e-08, 0.0, 1e-12, rng.uniform(0, 1), rng.uniform(0, 30)])) for _ in range(15)),
            key=lambda x: -x[1]) for s in ("A", "B", "C")}
        weights = {s: rng.choice([0.0, 1e-9, rng.uniform(0, 1), 1e6]) for s in lists}
        n = max(len({d for d, _ in x}) for x in lists.values())
        high = (n - 1) / math.sqrt(n) if normalizer == "z_score" else 1.0
        top = high if combiner != "rrf" else sum(weights.values()) / 61
        kw = {"normalizer": normalizer, "combiner": combiner, "missing": missing}
        for f in fuse(lists, weights, **kw):
            assert 0.0 <= f.score <= top * (1 + 1e-12), (f, weights)
            for s in f.signals.values():
                assert s.normalized is None or 0.0 <= s.normalized <= high * (1 + 1e-12)
                assert s.contribution >= 0.0
        table = SignalTable.from_lists(lists, list(lists))
        got = table.scores(np.array([weights[s] for s in lists]), **kw)
        assert np.all(got >= 0) and np.all(got <= top * (1 + 1e-12))


@pytest.mark.parametrize("combiner", COMBINERS[:3])
@pytest.mark.parametrize("scale", [1e308, 1e-300])
def test_extreme_weights_do_not_flatten_the_ranking(combiner: str, scale: float) -> None:
    """Equal weights of 1e308 summed to inf and gave every document 0 (so id order); a
    weighted mean is the same whatever the scale of its weights."""
    import numpy as np

    from hybrid.planner.table import SignalTable

    plain = [(f.id, f.score) for f in fuse({"A": A, "B": B}, {"A": 1.0, "B": 1.0},
                                           combiner=combiner)]
    huge = [(f.id, f.score) for f in fuse({"A": A, "B": B}, {"A": scale, "B": scale},
                                          combiner=combiner)]
    assert [d for d, _ in huge] == [d for d, _ in plain]
    assert [s for _, s in huge] == pytest.approx([s for _, s in plain])
    table = SignalTable.from_lists({"A": A, "B": B}, ["A", "B"])
    got = table.ranking(np.array([scale, scale]), combiner=combiner)
    assert [d for d, _ in got] == [d for d, _ in plain]
    assert [s for _, s in got] == pytest.approx([s for _, s in plain])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1.0, "1"])
def test_weights_that_are_not_finite_non_negative_numbers_are_refused(bad: object) -> None:
    import numpy as np

    from hybrid.planner.table import SignalTable

    with pytest.raises(ProfileError, match="weight"):
        fuse({"A": A, "B": B}, {"A": bad, "B": 1.0})  # type: ignore[dict-item]
    if isinstance(bad, float):
        with pytest.raises(ProfileError, match="weight"):
            SignalTable.from_lists({"A": A}, ["A"]).scores(np.array([bad]))
