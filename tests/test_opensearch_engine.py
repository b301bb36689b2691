"""The OpenSearch engine on a real OpenSearch node: the shared conformance suite, and what
only it promises (versioned indices behind an alias, reindex, per-item bulk errors,
_msearch, server-side fusion). On the test node (conftest's opensearch_url:
OPENSEARCH_URL, else the node under .cache/ started for the session)."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import pytest
from engine_conformance import DIM, EngineConformance, _vec, corpus, small_schema

from hybrid.engines.opensearch import OpenSearchEngine, OpenSearchSettings
from hybrid.engines.schema import IndexSchema
from hybrid.errors import QueryError, SchemaError

pytestmark = pytest.mark.integration


class TestOpenSearchConformance(EngineConformance):
    """Test indices are small, so their k-NN is exact (knn_score)."""

    @pytest.fixture
    def engine(self, os_index: Any) -> Any:
        return os_index()


class TestOpenSearchConformanceOnTheGraph(EngineConformance):
    """The same promises with k-NN through the lucene HNSW graph, as above
    EXACT_KNN_BELOW documents."""

    @pytest.fixture
    def engine(self, os_index: Any) -> Any:
        e = os_index()
        e.exact_below = 0
        return e


@pytest.fixture
def loaded(os_index: Any) -> OpenSearchEngine:
    e: OpenSearchEngine = os_index()
    e.add(corpus())
    return e


def test_index_is_versioned_behind_an_alias_and_keeps_its_mapping(loaded: Any,
                                                                  os_settings: Any) -> None:
    assert loaded.versions() == [f"{loaded.alias}-v1"]
    again = OpenSearchEngine(loaded.alias, settings=os_settings)
    assert again.schema.body == small_schema().body and again.count() == 60
    with pytest.raises(SchemaError, match="another mapping"):
        OpenSearchEngine(loaded.alias, settings=os_settings, mapping="mappings/products.json")
    again.close()


def test_reindex_builds_a_new_version_and_moves_the_alias(loaded: Any) -> None:
    loaded.set_vectors("image_vector", {"p003": _vec(3)}, provenance={"p003": ("h", "m")})
    report = loaded.reindex()
    assert report["to"] == f"{loaded.alias}-v2" and report["documents"] == 60
    assert loaded.versions() == [f"{loaded.alias}-v2"]
    assert loaded.count() == 60
    assert loaded.knn_search("image_vector", _vec(3), k=1).hits[0].id == "p003"
    assert loaded.vector_info("image_vector", ["p003"])["p003"]["hash"] == "h"


def test_bulk_item_errors_name_the_product_and_the_reason(os_index: Any) -> None:
    e = os_index()
    res = e.add([{"id": "ok", "title": "fine", "price": 3.0},
                 {"id": "bad-price", "title": "x", "price": "cheap"},
                 {"id": "bad-field", "title": "x", "colour_code": 7}])
    assert [(r.id, r.ok) for r in res] == [("ok", True), ("bad-price", False),
                                          ("bad-field", False)]
    assert "price" in res[1].error and "colour_code" in res[2].error
    assert e.count() == 1


def test_add_keeps_stored_vectors_that_a_document_does_not_bring(loaded: Any) -> None:
    loaded.set_vectors("image_vector", {"p001": _vec(101)})
    loaded.add([{"id": "p001", "title": "renamed"}])
    assert loaded.get("p001")["title"] == "renamed"
    assert loaded.knn_search("image_vector", _vec(101), k=1).hits[0].id == "p001"
    assert loaded.knn_search("text_vector", _vec(1), k=1).hits[0].id == "p001"


def test_bulk_load_defers_refresh_and_puts_the_settings_back(os_index: Any) -> None:
    e = os_index()
    index = e.versions()[0]

    def settings() -> dict[str, Any]:
        got: dict[str, Any] = e.client.indices.get_settings(index=index)[index]["settings"]
        return got["index"]

    before = settings()
    with e.bulk_load():
        inside = settings()
        e.add(corpus()[:30])
        with e.bulk_load():  # nested: the outer block restores
            e.add(corpus()[30:])
        assert e.count() == 0  # not refreshed yet
        assert e.get("p001") is not None  # a get by id is real-time
    assert (inside["refresh_interval"], inside["number_of_replicas"]) == ("-1", "0")
    after = settings()
    assert after.get("refresh_interval") == before.get("refresh_interval")
    assert after["number_of_replicas"] == before["number_of_replicas"]
    assert e.count() == 60
    assert e.knn_search("text_vector", _vec(7), k=1).hits[0].id == "p007"
    with pytest.raises(RuntimeError), e.bulk_load():
        raise RuntimeError("a failed load")
    assert settings().get("refresh_interval") == before.get("refresh_interval")


def test_a_small_index_answers_k_nn_exactly(os_index: Any) -> None:
    """The reported case's kind: the lucene graph at k 100 missed 10% of the true top 10
    of the demo catalog's grocery text queries; below EXACT_KNN_BELOW documents the
    sub-query is the k-NN plugin's exact knn_score, on the same score scale."""
    e = os_index()
    rng = np.random.default_rng(4)
    x = rng.normal(size=(600, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    e.add([{"id": f"d{i:04d}", "title": "x", "vectors": {"text_vector": x[i].tolist()}}
           for i in range(600)])
    assert "script_score" in e.knn_query("text_vector", x[0], 10, None)
    for q in rng.normal(size=(20, DIM)).astype(np.float32):
        q /= np.linalg.norm(q)
        exact = np.argsort(-(x @ q), kind="stable")[:10]
        hits = e.knn_search("text_vector", q, k=10).hits
        assert [h.id for h in hits] == [f"d{i:04d}" for i in exact]
        assert [h.score for h in hits] == pytest.approx([(1 + x[i] @ q) / 2 for i in exact],
                                                        abs=1e-5)
    e.exact_below = 0  # above the threshold: the graph
    assert "knn" in e.knn_query("text_vector", x[0], 10, None)
    graph = e.knn_search("text_vector", x[3], k=1).hits
    assert graph[0].id == "d0003" and graph[0].score == pytest.approx(1.0, abs=1e-5)


def test_the_node_takes_the_mappings_ef_search(os_index: Any) -> None:
    """A lucene field examines max(k, ef_search) candidates when the query says so
    (method_parameters): the index setting alone leaves it at k."""
    body = json.loads(json.dumps(small_schema().body))
    body["settings"]["index"]["knn.algo_param.ef_search"] = 300
    e = os_index(mapping=IndexSchema.from_dict(body))
    e.exact_below = 0  # the graph
    x = np.random.default_rng(6).normal(size=(50, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    e.add([{"id": f"d{i:02d}", "title": "x", "vectors": {"text_vector": x[i].tolist()}}
           for i in range(50)])
    spec = e.knn_query("text_vector", x[0], 10, None)["knn"]["text_vector"]
    assert spec["method_parameters"] == {"ef_search": 300}
    hits = e.knn_search("text_vector", x[7], k=3).hits
    assert len(hits) == 3 and hits[0].id == "d07"


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "graph"])
def test_knn_filter_inside_the_clause_still_returns_k_hits(os_index: Any, exact: bool) -> None:
    e = os_index()
    if not exact:
        e.exact_below = 0
    rng = np.random.default_rng(0)
    docs = [{"id": f"d{i:04d}", "title": "x", "brand": "Rare" if i % 100 == 0 else "Common",
             "vectors": {"text_vector": rng.normal(size=DIM).tolist()}} for i in range(1000)]
    e.add(docs)
    hits = e.knn_search("text_vector", _vec(5), k=8, filter={"term": {"brand": "Rare"}}).hits
    assert len(hits) == 8 and all(int(h.id[1:]) % 100 == 0 for h in hits)


def test_ties_are_broken_by_id(os_index: Any) -> None:
    e = os_index()
    e.add([{"id": f"t{i}", "title": "same words"} for i in (5, 3, 9, 1)])
    assert [h.id for h in e.lexical_search("same", size=10).hits] == ["t1", "t3", "t5", "t9"]


def test_msearch_runs_every_subquery_in_one_round_trip(loaded: Any) -> None:
    bodies = [loaded.lexical_body("black shoes", size=20, source=False),
              loaded.knn_body("text_vector", _vec(42), k=7, filter={"term": {"brand": "Nike"}},
                              source=False)]
    lexical, knn = loaded.search_many(bodies)
    assert [(h.id, h.score) for h in lexical.hits] == [
        (h.id, h.score) for h in loaded.lexical_search("black shoes", size=20).hits]
    assert [h.id for h in knn.hits] == [h.id for h in loaded.knn_search(
        "text_vector", _vec(42), k=7, filter={"term": {"brand": "Nike"}}).hits]


def test_hybrid_query_refuses_fusions_the_server_cannot_run(loaded: Any) -> None:
    with pytest.raises(QueryError, match="RRF"):
        loaded.hybrid_search([loaded.lexical_query("shoes", None, None)] * 2, weights=[2, 1],
                             combiner="rrf")


def test_hybrid_search_leaves_a_tie_across_the_cut_to_the_planner(os_index: Any) -> None:
    e = os_index()
    e.add([{"id": f"t{i}", "title": "same words", "vectors": {"text_vector": _vec(i)}}
           for i in range(6)]
          + [{"id": f"u{i}", "title": " ".join(["other"] * (i + 1)),
              "vectors": {"text_vector": _vec(10 + i)}} for i in range(6)])
    knn = e.knn_query("text_vector", _vec(0), 3, None)
    # six equal BM25 scores, cut at 3: the node would keep others than the planner
    assert e.hybrid_search([e.lexical_query("same", None, None), knn], weights=[1, 1],
                           size=3, combiner="geometric_mean") is None
    res = e.hybrid_search([e.lexical_query("other", None, None), knn], weights=[1, 1],
                          size=3, combiner="geometric_mean")
    assert res is not None and len(res.hits) >= 3
    # place 10,001 is past the result window: the probe cannot look, so the planner fuses
    assert e.hybrid_search([e.lexical_query("other", None, None)], weights=[1],
                           size=10_000) is None


def test_settings_reach_the_client() -> None:
    url = os.environ.get("OPENSEARCH_URL", "http://127.0.0.1:9200")
    assert OpenSearchSettings.from_env().client_options()["hosts"] == [url]


def hybrid_cli(*args: str, env: dict[str, str] | None = None) -> Any:
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "hybrid.cli.main", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


def test_cli_indexes_searches_and_reindexes_on_opensearch(tmp_path: Any, os_locator: str
                                                          ) -> None:
    import json

    catalog = tmp_path / "c.jsonl"
    catalog.write_text("".join(json.dumps(d) + "\n" for d in [
        {"id": "a1", "title": "Red running shoes", "brand": "Nike", "price": 50},
        {"id": "a2", "title": "Blue cotton shirt", "brand": "Puma", "price": "cheap"},
        {"id": "a3", "title": "Black running shoes", "brand": "Puma", "price": 70}]))
    alias = os_locator.removeprefix("opensearch:")
    env = {"HYBRID_ENGINE": "opensearch", "HYBRID_STATE_DIR": str(tmp_path / "state")}
    res = hybrid_cli("--index", alias, "index", str(catalog), "--no-vectors", "--no-progress",
                     env=env)
    assert res.returncode == 0, res.stderr
    assert "indexed 2 products" in res.stdout and "a2" in res.stdout  # the bad price, named
    found = hybrid_cli("--index", alias, "search", "running shoes", "--filter", "brand=Puma",
                       "--json", env=env)
    assert [h["id"] for h in json.loads(found.stdout)["hits"]] == ["a3"]
    moved = hybrid_cli("--index", alias, "reindex", env=env)
    assert moved.returncode == 0 and f"to {alias}-v2" in moved.stdout, moved.stderr
    stats = json.loads(hybrid_cli("--index", alias, "stats", "--json", env=env).stdout)
    assert stats["documents"] == 2 and stats["index"] == [f"{alias}-v2"]
    embedded = hybrid_cli("--index", str(tmp_path / "ix"), "--engine", "embedded", "reindex")
    assert embedded.returncode == 2 and "OpenSearch" in embedded.stderr
