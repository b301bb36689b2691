"""The embedded engine: the shared conformance suite plus what only it promises."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from engine_conformance import DIM, EngineConformance, _vec, corpus, small_schema

from hybrid.engines import open_engine
from hybrid.engines.embedded import EmbeddedEngine, vectors
from hybrid.errors import HybridError, SchemaError

pytestmark = pytest.mark.integration


class TestEmbeddedConformance(EngineConformance):
    @pytest.fixture
    def engine(self, tmp_path: Path) -> Any:
        e = EmbeddedEngine(tmp_path / "index", mapping=small_schema())
        yield e
        e.close()


@pytest.fixture
def index(tmp_path: Path) -> Any:
    e = EmbeddedEngine(tmp_path / "index", mapping=small_schema())
    e.add(corpus())
    yield e
    e.close()


def test_reopen_keeps_documents_vectors_and_mapping(index: Any) -> None:
    index.commit()
    again = EmbeddedEngine(index.path)
    assert again.count() == 60
    assert again.schema.body == index.schema.body
    assert again.knn_search("text_vector", corpus()[7]["vectors"]["text_vector"], k=1).hits[0].id \
        == "p007"
    with pytest.raises(SchemaError, match="another mapping"):
        EmbeddedEngine(index.path, mapping="mappings/products.json")


def test_writes_milliseconds_apart_are_all_seen(index: Any) -> None:
    # Commits inside one filesystem-timestamp tick leave meta.json's mtime unchanged; a
    # reader that watched the mtime missed every second write here about a third of runs.
    for doc in corpus()[:20]:
        index.delete([doc["id"]])
        assert index.get(doc["id"]) is None
        index.add([doc])
        assert index.get(doc["id"]) is not None
    assert index.count() == 60


def test_vectors_fold_into_hnsw_and_the_delta_shadows_the_snapshot(index: Any,
                                                                    monkeypatch: Any) -> None:
    field = index.vectors.fields["text_vector"]
    assert len(field.snap.keys) == 0 and len(field.delta) == 60
    index.commit()
    assert len(field.snap.keys) == 60 and field.snap.hnsw is not None and not field.delta
    index.set_vectors("text_vector", {"p003": np.eye(DIM)[0]})
    index.delete(["p004"])
    assert len(field.delta) == 2  # one replaced, one tombstone, snapshot untouched
    hits = index.knn_search("text_vector", np.eye(DIM)[0], k=60).hits
    assert hits[0].id == "p003" and "p004" not in {h.id for h in hits} and len(hits) == 59
    monkeypatch.setattr(vectors, "FOLD_THRESHOLD", 1)
    index.set_vectors("text_vector", {"p006": np.eye(DIM)[1]})  # crosses the threshold
    assert not field.delta and len(field.snap.keys) == 59
    assert index.knn_search("text_vector", np.eye(DIM)[1], k=1).hits[0].id == "p006"
    assert len(list(field.dir.glob("snap-*.faiss"))) == 1  # older snapshots removed


def test_hnsw_recall_on_structured_vectors(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n, dim = 3000, 64
    body = small_schema().body
    body["mappings"]["properties"]["text_vector"]["dimension"] = dim
    e = EmbeddedEngine(tmp_path / "ix", mapping=type(small_schema()).from_dict(body))
    latent = rng.normal(size=(60, 12))[rng.integers(0, 60, n)] + 0.5 * rng.normal(size=(n, 12))
    x = latent @ rng.normal(size=(12, dim)) + 0.1 * rng.normal(size=(n, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    e.add([{"id": f"d{i}", "title": "x", "vectors": {"text_vector": x[i].tolist()}}
           for i in range(n)])
    e.commit()
    assert e.vectors.fields["text_vector"].snap.hnsw is not None
    recalls = []
    for q in x[rng.integers(0, n, 50)] + 0.05 * rng.normal(size=(50, dim)):
        q /= np.linalg.norm(q)
        exact = {f"d{i}" for i in np.argsort(-(x @ q))[:10]}
        got = {h.id for h in e.knn_search("text_vector", q, k=10).hits}
        recalls.append(len(got & exact) / 10)
    assert np.mean(recalls) >= 0.95


def test_cjk_query_fields_only_when_the_text_has_cjk(index: Any) -> None:
    assert "title.cjk" not in index.default_fields("red shoes")
    assert "title.cjk" in index.default_fields("红色 shoes")


def test_registry_names_the_engines() -> None:
    with pytest.raises(HybridError, match="embedded"):
        open_engine("elastic")


def test_stats(index: Any) -> None:
    stats = index.stats()
    assert stats["documents"] == 60
    assert stats["vectors"]["text_vector"]["vectors"] == 60
    assert json.dumps(stats)


def test_search_many_answers_as_each_search_alone(index: Any) -> None:
    """Sub-queries side by side (the k-NN ones in a worker thread) give what each gives
    alone, in the order asked; a k-NN-only batch runs one of them in this thread."""
    flt = {"term": {"brand": "Nike"}}
    asked = [("lexical", "running shoes", {"size": 20, "source": False}),
             ("knn", _vec(4), {"k": 7, "source": False}),
             ("knn", _vec(9), {"k": 5, "filter": flt, "source": True}),
             ("lexical", "grip", {"size": 5, "filter": flt})]

    def alone(kind: str, arg: Any, kw: dict[str, Any]) -> Any:
        return (index.lexical_search(arg, **kw) if kind == "lexical"
                else index.knn_search("text_vector", arg, **kw))

    def body(kind: str, arg: Any, kw: dict[str, Any]) -> Any:
        return (index.lexical_body(arg, **kw) if kind == "lexical"
                else index.knn_body("text_vector", arg, **kw))

    for batch in (asked, [a for a in asked if a[0] == "knn"], asked[:1], []):
        together = index.search_many([body(*a) for a in batch])
        for a, got in zip(batch, together, strict=True):
            want = alone(*a)
            assert [(h.id, h.score, h.source) for h in got.hits] == \
                [(h.id, h.score, h.source) for h in want.hits]
            assert got.total == want.total
    with pytest.raises(HybridError):  # a bad sub-query is refused before anything runs
        index.knn_body("text_vector", [1.0, 2.0], k=3)
