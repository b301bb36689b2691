"""The real OpenSearch node the engine is tested on: the mapping, BM25 with the mapping's
analyzers, k-NN with an efficient filter, and the server-side `hybrid` query through both
search pipelines. If one of these fails, the node (or the cluster in OPENSEARCH_URL) lacks a
module or plugin the engine needs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hybrid.testing.opensearch_node import OpenSearchNode

pytestmark = pytest.mark.integration
MAPPING = Path(__file__).resolve().parents[1] / "mappings" / "products.json"
PRODUCTS = [  # id, title, category, unit vector direction
    ("p1", "Black leather handbag", "Bags", 0),
    ("p2", "Running shoes for men", "Shoes", 1),
    ("p3", "红色运动鞋 running", "Shoes", 2),
    ("p4", "Red apple", "Fruit", 3),
]


def _vector(axis: int, dim: int = 384) -> list[float]:
    v = np.full(dim, 0.01)
    v[axis] = 1.0
    return [float(x) for x in v / np.linalg.norm(v)]


@pytest.fixture
def products(opensearch_client: Any, opensearch_index_name: Callable[[], str]) -> str:
    index = opensearch_index_name()
    opensearch_client.indices.create(index=index, body=json.loads(MAPPING.read_text()))
    for pid, title, category, axis in PRODUCTS:
        opensearch_client.index(index=index, id=pid, body={
            "id": pid, "title": title, "category": category,
            "attributes": {"colour": "Red" if "Red" in title else "Black"},
            "text_vector": _vector(axis)})
    opensearch_client.indices.refresh(index=index)
    return index


def _ids(response: dict[str, Any]) -> list[str]:
    return [hit["_id"] for hit in response["hits"]["hits"]]


def test_node_has_the_modules_and_plugins_the_engine_needs(opensearch_client: Any) -> None:
    nodes = opensearch_client.nodes.info(metric="plugins")["nodes"].values()
    for node in nodes:
        names = {p["name"] for p in node["plugins"]} | {m["name"] for m in node["modules"]}
        assert {"opensearch-knn", "opensearch-neural-search", "lang-painless",
                "analysis-common", "reindex"} <= names


def test_bm25_uses_the_mappings_analyzers(opensearch_client: Any, products: str) -> None:
    stemmed = opensearch_client.search(index=products, body={
        "query": {"match": {"title": "run shoe"}}})  # porter2 stems both sides
    assert _ids(stemmed)[0] == "p2"
    cjk = opensearch_client.search(index=products, body={
        "query": {"match": {"title.cjk": "运动鞋"}}})  # cjk bigrams
    assert _ids(cjk) == ["p3"]
    dynamic = opensearch_client.search(index=products, body={
        "query": {"match": {"attributes_text": "red"}}})  # dynamic template copy_to
    assert _ids(dynamic) == ["p4"]


def test_knn_with_a_filter_inside_the_clause_returns_k_matching_hits(
        opensearch_client: Any, products: str) -> None:
    body = {"size": 2, "query": {"knn": {"text_vector": {
        "vector": _vector(0), "k": 2, "filter": {"term": {"category": "Shoes"}}}}}}
    assert sorted(_ids(opensearch_client.search(index=products, body=body))) == ["p2", "p3"]
    nearest = {"size": 1, "query": {"knn": {"text_vector": {"vector": _vector(3), "k": 1}}}}
    assert _ids(opensearch_client.search(index=products, body=nearest)) == ["p4"]


@pytest.mark.parametrize("processor", [
    {"normalization-processor": {
        "normalization": {"technique": "min_max"},
        "combination": {"technique": "arithmetic_mean", "parameters": {"weights": [0.5, 0.5]}}}},
    {"score-ranker-processor": {"combination": {"technique": "rrf", "rank_constant": 60}}},
], ids=["min_max", "rrf"])
def test_hybrid_query_through_a_search_pipeline(
        opensearch_client: Any, products: str, processor: dict[str, Any]) -> None:
    pipeline = f"{products}-pipeline"
    opensearch_client.transport.perform_request(
        "PUT", f"/_search/pipeline/{pipeline}", body={"phase_results_processors": [processor]})
    body = {"size": 4, "query": {"hybrid": {"queries": [
        {"match": {"title": "running shoes"}},  # p2, p3
        {"knn": {"text_vector": {"vector": _vector(1), "k": 2}}},  # p2 first
    ]}}}
    hits = opensearch_client.search(index=products, body=body,
                                    params={"search_pipeline": pipeline})["hits"]["hits"]
    assert hits[0]["_id"] == "p2"  # first in both sub-queries
    assert {"p2", "p3"} <= {h["_id"] for h in hits}


def test_msearch_runs_every_sub_query_in_one_round_trip(
        opensearch_client: Any, products: str) -> None:
    responses = opensearch_client.msearch(body=[
        {"index": products}, {"query": {"match": {"title": "apple"}}},
        {"index": products}, {"size": 3, "query": {"knn": {"text_vector": {
            "vector": _vector(0), "k": 3}}}},
    ])["responses"]
    assert [len(r["hits"]["hits"]) for r in responses] == [1, 3]


def test_reindex_into_a_new_version_and_switch_the_alias(
        opensearch_client: Any, products: str) -> None:
    new = f"{products}-v2"
    opensearch_client.indices.create(index=new, body=json.loads(MAPPING.read_text()))
    copied = opensearch_client.reindex(body={"source": {"index": products},
                                             "dest": {"index": new}}, refresh=True)
    assert copied["created"] == len(PRODUCTS) and not copied["failures"]
    alias = f"{products}-alias"
    opensearch_client.indices.update_aliases(body={"actions": [
        {"add": {"index": products, "alias": alias}}]})
    opensearch_client.indices.update_aliases(body={"actions": [
        {"remove": {"index": products, "alias": alias}},
        {"add": {"index": new, "alias": alias}}]})
    assert list(opensearch_client.indices.get_alias(name=alias)) == [new]
    hit = opensearch_client.search(index=alias, body={"query": {"knn": {"text_vector": {
        "vector": _vector(3), "k": 1}}}, "size": 1})["hits"]["hits"][0]
    assert (hit["_index"], hit["_id"]) == (new, "p4")


def test_a_missing_node_is_reported_with_the_command_that_assembles_it(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="assemble"):
        OpenSearchNode(home=tmp_path / "nowhere")
