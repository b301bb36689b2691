"""The fused product vector: F = normalise(α·I + (1 − α)·T), α chosen by nDCG@10 on
judged queries, and the fused field's place in the vector jobs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hybrid.ingest.fused import fused_hash, fused_source
from hybrid.ingest.plan import DEFAULT_SPECS, FUSED, content_hash, plan, source_of
from hybrid.learning.fused import alpha_grid, best_alpha, fuse, ndcg_at_k

pytestmark = pytest.mark.unit


def test_fuse_weights_and_missing_sides() -> None:
    i = np.array([[1.0, 0.0], [0.0, 0.0]])
    t = np.array([[0.0, 2.0], [0.0, 3.0]])
    assert np.allclose(fuse(i, t, 1.0)[0], [1, 0]) and np.allclose(fuse(i, t, 0.0)[0], [0, 1])
    mid = fuse(i, t, 0.25)[0]
    assert np.isclose(np.linalg.norm(mid), 1) and mid[1] / mid[0] == pytest.approx(3.0)
    assert np.allclose(fuse(i, t, 0.9)[1], [0, 1])  # no image: the text alone
    assert np.allclose(fuse(None, t, 0.5), [[0, 1], [0, 1]])
    with pytest.raises(ValueError):
        fuse(i, t, 1.5)


def test_ndcg_matches_ranx() -> None:
    ranx = pytest.importorskip("ranx")
    gains = {"a": 2, "b": 1, "c": 1}
    ranked = ["x", "b", "a", "y", "c"]
    q = ranx.Qrels({"q": gains})
    r = ranx.Run({"q": {d: 10.0 - n for n, d in enumerate(ranked)}})
    assert ndcg_at_k(ranked, gains) == pytest.approx(ranx.evaluate(q, r, "ndcg_burges@10"))


def test_alpha_grid_finds_the_mix_that_ranks_best() -> None:
    # products whose image side alone answers image-like queries, text side text-like
    rng = np.random.default_rng(0)
    n, dim = 40, 16
    image, text = rng.normal(size=(n, dim)), rng.normal(size=(n, dim))
    ids = [f"p{i}" for i in range(n)]
    image_queries = [(image[i] + 0.1 * rng.normal(size=dim), {ids[i]: 2.0}, ())
                     for i in range(20)]
    scores = alpha_grid(ids, image, text, image_queries)
    assert best_alpha(scores) >= 0.5 and scores[1.0] > 0.9 > 0.3 > scores[0.0]
    text_queries = [(text[i] + 0.1 * rng.normal(size=dim), {ids[i]: 2.0}, ()) for i in range(20)]
    by_text = alpha_grid(ids, image, text, text_queries)
    assert best_alpha(by_text) <= 0.5 and by_text[0.0] > 0.9 > 0.3 > by_text[1.0]
    excluded = alpha_grid(ids, image, text, [(image[0], {ids[0]: 2.0}, (ids[0],))])
    assert max(excluded.values()) == 0.0  # the excluded product is never ranked
    assert best_alpha({0.0: 0.5, 0.5: 0.5, 1.0: 0.4}) == 0.5  # ties: nearest the default


def test_fused_jobs_cover_text_image_and_alpha() -> None:
    spec = next(s for s in DEFAULT_SPECS if s.modality == FUSED)
    doc = {"id": "p1", "title": "red shirt", "images": ["a.jpg"]}
    source = source_of(doc, FUSED)
    assert source is not None and json.loads(source) == {"text": "red shirt", "image": "a.jpg"}
    files = {"a.jpg": "h1", "b.jpg": "h2"}
    h = content_hash(FUSED, source, files.__getitem__)
    other_image = fused_source("red shirt", "b.jpg")
    assert other_image is not None and content_hash(FUSED, other_image, files.__getitem__) != h
    assert fused_hash(source, files.__getitem__, lambda s: s) == "red shirt\x1fh1"
    jobs = plan([doc], spec, "v-alpha-0.5", {}, files.__getitem__)
    assert [(j.id, j.field, j.hash) for j in jobs] == [("p1", "fused_vector", h)]
    done = {"p1": {"hash": h, "model": "v-alpha-0.5"}}
    assert plan([doc], spec, "v-alpha-0.5", done, files.__getitem__) == []
    assert len(plan([doc], spec, "v-alpha-0.7", done, files.__getitem__)) == 1  # new α
