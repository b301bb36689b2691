"""The OpenSearch engine's pure request builders, each body checked against the OpenSearch
REST API specification (../shared/opensearch-api-spec), and `_bulk` retries against a
real HTTP server that answers like an overloaded node. No OpenSearch node needed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import opensearch_spec as spec
import pytest
from engine_conformance import DIM, small_schema

from hybrid.engines import filters
from hybrid.engines.opensearch import OpenSearchSettings, bulk, pipelines
from hybrid.engines.opensearch import requests as rq
from hybrid.errors import HybridError

pytestmark = [pytest.mark.unit,
              pytest.mark.skipif(not spec.available(),
                                 reason=f"OpenSearch API spec not found at {spec.SPEC}")]

VECTORS = ["text_vector", "image_vector", "image_text_vector", "audio_vector"]
FILTER = filters.to_opensearch(filters.normalize(
    {"and": [{"term": {"brand": "Nike"}}, {"range": {"price": {"gte": 10, "lt": 50}}},
             {"not": {"terms": {"attributes.colour": ["Red", "Blue"]}}},
             {"or": [{"exists": {"field": "price"}}, {"term": {"category": "Shoes"}}]}]},
    small_schema()))
FACETS = filters.normalize_facets(
    {"colour": {"terms": {"field": "attributes.colour", "size": 5}},
     "price": {"range": {"field": "price", "ranges": [{"to": 50}, {"from": 50}]}}},
    small_schema())


def test_index_body_is_a_valid_create_request_and_keeps_the_mapping_file() -> None:
    schema = small_schema()
    body = rq.index_body(schema, knn_engine="faiss", shards=2, replicas=1)
    assert spec.errors(mapping_errors_cheaply(body), "indices", "indices.create") == []
    props = body["mappings"]["properties"]
    assert {props[v]["method"]["engine"] for v in VECTORS} == {"faiss"}
    assert props[rq.META]["properties"]["text_vector"]["properties"]["hash"]["type"] == "keyword"
    assert body["settings"]["index"]["number_of_shards"] == 2
    assert rq.stored_mapping({"products-v1": {"mappings": body["mappings"]}}) == schema.body
    assert schema.body["mappings"]["properties"]["text_vector"]["method"]["engine"] == "lucene"
    assert rq.index_body(schema)["mappings"]["properties"]["text_vector"]["method"][
        "engine"] == "lucene"
    with pytest.raises(ValueError, match="lucene"):
        rq.index_body(schema, knn_engine="annoy")


def mapping_errors_cheaply(body: dict[str, Any]) -> dict[str, Any]:
    """`body` with the provenance object checked here, leaf by leaf, and left out of what
    is returned for checking whole: the spec's oneOf over property types makes jsonschema
    take minutes on an object nested two deep (measured: 442 s for this one)."""
    body = json.loads(json.dumps(body))
    meta = body["mappings"]["properties"].pop(rq.META)
    shells = [{**meta, "properties": {}}] + [{**sub, "properties": {}}
                                             for sub in meta["properties"].values()]
    leaves = [leaf for sub in meta["properties"].values() for leaf in sub["properties"].values()]
    for prop in shells + leaves:
        assert spec.errors({"mappings": {"properties": {"x": prop}}}, "indices",
                           "indices.create") == []
    return body


def test_search_bodies_are_valid() -> None:
    lexical = rq.search_body(rq.lexical_query("red shoes", {"title": 3.0, "description": 1.0},
                                              FILTER),
                             size=10, offset=20, vector_fields=VECTORS, facets=FACETS)
    knn = rq.search_body(rq.knn_query("text_vector", [0.1] * DIM, 7, FILTER), size=7,
                         source=False)
    every = rq.search_body(rq.lexical_query("", {"title": 1.0}, None), size=0)
    exact = rq.search_body(rq.exact_knn_query("text_vector", [0.1] * DIM, "cosinesimil",
                                              FILTER), size=7, source=False)
    wide = rq.search_body(rq.knn_query("text_vector", [0.1] * DIM, 7, None, ef_search=200),
                          size=7, source=False)
    assert wide["query"]["knn"]["text_vector"]["method_parameters"] == {"ef_search": 200}
    assert "method_parameters" not in rq.knn_query("text_vector", [0.1] * DIM, 100, None,
                                                   ef_search=100)["knn"]["text_vector"]
    for body in (lexical, knn, every, exact, wide):
        assert spec.errors(body, "_core", "search") == []
    assert lexical["sort"] == [{"_score": "desc"}, "id"]
    assert lexical["query"]["bool"]["minimum_should_match"] == 1  # the filter alone is no match
    assert knn["query"]["knn"]["text_vector"]["filter"] == FILTER  # efficient filtering
    assert exact["query"]["script_score"]["query"]["bool"]["filter"] == [
        {"exists": {"field": "text_vector"}}, FILTER]  # only documents with a vector
    assert every["query"] == {"bool": {"filter": [{"match_all": {}}]}}
    assert lexical["aggs"]["price"]["range"]["ranges"] == [{"to": 50.0}, {"from": 50.0}]


def test_the_spec_catches_a_bad_body() -> None:
    bad = rq.search_body(rq.knn_query("text_vector", [0.1] * DIM, 7, None), size=7)
    bad["query"]["knn"]["text_vector"]["k"] = "seven"
    assert any("k" in e for e in spec.errors(bad, "_core", "search"))


def test_msearch_and_bulk_requests_are_valid() -> None:
    bodies = [rq.search_body(rq.lexical_query("shoes", {"title": 1.0}, None), size=100,
                             source=False),
              rq.search_body(rq.knn_query("text_vector", [0.2] * DIM, 100, FILTER), size=100,
                             source=False)]
    lines = rq.msearch_lines("products", bodies)
    assert spec.msearch_errors(lines) == [] and len(lines) == 4
    doc = {"id": "p1", "title": "x", "vectors": {"text_vector": [0.5] * DIM}}
    actions = [({"create": {"_id": "p1"}}, rq.to_source(doc, doc["vectors"])),
               ({"index": {"_id": "p2", "if_seq_no": 3, "if_primary_term": 1}}, {"id": "p2"}),
               ({"update": {"_id": "p1", "if_seq_no": 4, "if_primary_term": 1}},
                rq.vector_update("image_vector", [0.1] * DIM, "h", "enc/1", 2)),
               ({"update": {"_id": "p3", "retry_on_conflict": 5}},
                rq.error_update("image_vector", None, "not an image")),
               ({"delete": {"_id": "p4"}}, None)]
    ndjson = [line for head, body in actions for line in (head, body) if line is not None]
    assert spec.errors(ndjson, "_core", "bulk", spec.NDJSON) == []


def test_alias_switch_and_pipelines_are_valid() -> None:
    actions = rq.alias_actions("products", "products-v3", ["products-v2"])
    assert spec.errors(actions, "indices", "indices.update_aliases") == []
    assert actions["actions"][-1] == {"add": {"index": "products-v3", "alias": "products"}}
    for norm in ("min_max", "l2"):
        for comb in pipelines.COMBINERS:
            body = pipelines.pipeline_body(norm, comb, [2.0, 1.0, 1.0])
            assert spec.errors(body, "search_pipeline", "search_pipeline.put") == []
            proc = body["phase_results_processors"][0]["normalization-processor"]
            assert proc["combination"]["parameters"]["weights"] == [0.5, 0.25, 0.25]
    rrf = pipelines.pipeline_body("min_max", "rrf", [1.0, 1.0], rrf_k=40)
    assert spec.errors(rrf, "search_pipeline", "search_pipeline.put") == []
    # the spec lists l2 and min_max only, as OpenSearch 2.19.1 does (it refuses z_score)
    z = pipelines.pipeline_body("z_score", "arithmetic_mean", [1.0, 1.0])
    errs = spec.errors(z, "search_pipeline", "search_pipeline.put")
    assert errs and all("z_score" in e for e in errs)
    assert pipelines.why_not_server_side("z_score", "arithmetic_mean", None, [1, 1])
    name = pipelines.pipeline_name("products", rrf)
    assert name.startswith("products-fusion-")
    assert name == pipelines.pipeline_name("products", json.loads(json.dumps(rrf)))
    assert name != pipelines.pipeline_name("products", z)


def test_hybrid_query_is_valid_and_takes_at_most_five_subqueries() -> None:
    subs = [rq.lexical_query("shoes", {"title": 3.0}, FILTER),
            rq.knn_query("text_vector", [0.3] * DIM, 100, FILTER)]
    body = rq.hybrid_body(subs, 100)
    assert spec.errors(body, "_core", "search") == []
    assert spec.schema_errors(body["query"], "_common.query_dsl", "QueryContainer") == []
    with pytest.raises(ValueError, match="1 to 5"):
        rq.hybrid_body(subs * 3, 100)
    piped = rq.hybrid_body(subs, 100, pipeline="products-fusion-0123")
    assert piped["search_pipeline"] == "products-fusion-0123"
    probe = rq.cut_probe(subs[0], 100)
    assert (probe["from"], probe["size"]) == (99, 2)
    assert spec.errors(probe, "_core", "search") == []
    assert spec.msearch_errors(rq.msearch_lines("products", [piped, probe])) == []


def test_a_tie_across_the_cut_is_read_from_the_probe() -> None:
    def answer(*scores: float) -> dict[str, Any]:
        return {"hits": {"hits": [{"_id": str(i), "_score": s} for i, s in enumerate(scores)]}}

    assert rq.tied_at_cut(answer(2.5, 2.5))
    assert not rq.tied_at_cut(answer(2.5, 2.25))
    assert not rq.tied_at_cut(answer(2.5))  # the list ends at the cut
    assert not rq.tied_at_cut(answer())


@pytest.mark.parametrize(("args", "fits"), [
    (("min_max", "arithmetic_mean", None, [0.5, 0.3, 0.2]), True),
    (("l2", "harmonic_mean", "ignore", [1, 1]), True),
    (("z_score", "arithmetic_mean", None, [1, 1]), False),  # not in OpenSearch 2.19
    (("l2", "geometric_mean", "zero", [1, 1]), False),     # OpenSearch ignores missing here
    (("min_max", "rrf", None, [1, 1, 1]), True),
    (("min_max", "rrf", None, [2, 1]), False),              # 2.19's RRF has no weights
    (("min_max", "arithmetic_mean", None, [1] * 6), False),  # more than 5 sub-queries
])
def test_which_fusions_run_on_the_server(args: tuple[Any, ...], fits: bool) -> None:
    assert (pipelines.why_not_server_side(*args) is None) is fits
    assert pipelines.why_not_server_side("min_max", "arithmetic_mean", None, [1, 1],
                                         adaptive=True) is not None


def test_documents_round_trip_with_vectors_and_provenance() -> None:
    doc = {"id": "p1", "title": "t", "vectors": {"text_vector": [1.0] * DIM}}
    src = rq.to_source(doc, doc["vectors"])
    assert src["text_vector"] == [1.0] * DIM and "vectors" not in src
    assert rq.from_source(src, VECTORS) == {"id": "p1", "title": "t"}
    assert rq.vector_info(src, "text_vector") == {"hash": None, "model": None, "error": None,
                                                  "writes": 1}
    kept = rq.kept_part(src, VECTORS)
    again = rq.to_source({"id": "p1", "title": "u"}, {}, kept)
    assert again["text_vector"] == [1.0] * DIM and again["title"] == "u"
    assert rq.vector_info(again, "image_vector") is None
    err = {rq.META: {"image_vector": {"error": "bad", "error_hash": "h"}}}
    assert rq.vector_info(err, "image_vector") == {"hash": None, "model": None, "error": "bad",
                                                   "error_hash": "h"}


def test_prepare_vector_checks_like_the_embedded_engine() -> None:
    f = small_schema().vector_fields["text_vector"]
    assert abs(sum(x * x for x in rq.prepare_vector(f, [2.0] * DIM)) - 1) < 1e-6
    for bad, why in (([1.0, 2.0], "dimensions"), ([0.0] * DIM, "zero vector"),
                     ([float("nan")] * DIM, "finite"), ("abc", "list of numbers")):
        with pytest.raises(ValueError, match=why):
            rq.prepare_vector(f, bad)


def test_facets_are_read_in_the_protocol_shape() -> None:
    aggs = {"colour": {"buckets": [{"key": "Red", "doc_count": 3}]},
            "price": {"buckets": [{"key": "*-50.0", "to": 50.0, "doc_count": 2},
                                  {"key": "50.0-*", "from": 50.0, "doc_count": 0}]}}
    assert rq.read_facets(aggs, FACETS) == {
        "colour": [{"key": "Red", "count": 3}],
        "price": [{"key": "*-50", "to": 50.0, "count": 2},
                  {"key": "50-*", "from": 50.0, "count": 0}]}


def test_settings_from_the_environment() -> None:
    s = OpenSearchSettings.from_env({"OPENSEARCH_URL": "https://a:9200,https://b:9200",
                                     "OPENSEARCH_API_KEY": "k", "OPENSEARCH_TIMEOUT": "5"})
    opts = s.client_options()
    assert opts["hosts"] == ["https://a:9200", "https://b:9200"] and opts["verify_certs"]
    assert opts["headers"] == {"Authorization": "ApiKey k"} and opts["timeout"] == 5.0
    basic = OpenSearchSettings.from_env({"OPENSEARCH_USER": "u", "OPENSEARCH_PASSWORD": "p",
                                         "OPENSEARCH_VERIFY_CERTS": "false"}).client_options()
    assert basic["http_auth"] == ("u", "p") and basic["verify_certs"] is False
    for bad in ({"OPENSEARCH_USER": "u", "OPENSEARCH_PASSWORD": "p", "OPENSEARCH_API_KEY": "k"},
                {"OPENSEARCH_USER": "u"}, {"OPENSEARCH_TIMEOUT": "soon"}):
        with pytest.raises(HybridError):
            OpenSearchSettings.from_env(bad)


def test_batches_respect_count_and_size() -> None:
    actions = [({"index": {"_id": str(i)}}, {"t": "x" * 100}) for i in range(10)]
    assert [len(b) for b in bulk.batches(actions, bulk.BulkPolicy(max_actions=4))] == [4, 4, 2]
    small = bulk.BulkPolicy(max_bytes=300)
    assert all(len(b) <= 2 for b in bulk.batches(actions, small))
    assert sum(len(b) for b in bulk.batches(actions, small)) == 10


# -- _bulk retries, against a real HTTP server that answers like a busy node ------------
class BusyNode(BaseHTTPRequestHandler):
    """First request: 429 for the whole request. Second: item "b" 503, item "c" a
    mapping error. Third: everything fine."""

    calls: list[list[dict[str, Any]]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        raw = self.rfile.read(int(self.headers["Content-Length"])).decode()
        lines = [json.loads(x) for x in raw.splitlines() if x.strip()]
        ids = [next(iter(x.values()))["_id"] for x in lines[::2]]
        BusyNode.calls.append(lines)
        n = len(BusyNode.calls)
        if n == 1:
            self._send(429, {"error": {"type": "es_rejected_execution_exception",
                                       "reason": "queue full"}, "status": 429})
            return
        items = []
        for i in ids:
            if n == 2 and i == "b":
                items.append({"index": {"_id": i, "status": 503, "error": {
                    "type": "unavailable_shards_exception", "reason": "busy"}}})
            elif i == "c":
                items.append({"index": {"_id": i, "status": 400, "error": {
                    "type": "mapper_parsing_exception", "reason": "failed to parse field [price]",
                    "caused_by": {"reason": "For input string: \"cheap\""}}}})
            else:
                items.append({"index": {"_id": i, "status": 201, "result": "created"}})
        self._send(200, {"took": 1, "errors": True, "items": items})

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def busy_node() -> Iterator[str]:
    BusyNode.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), BusyNode)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_bulk_retries_429_and_5xx_and_reports_item_errors(busy_node: str) -> None:
    client = OpenSearchSettings(url=busy_node, retries=0).client()
    waits: list[float] = []
    actions = [({"index": {"_id": i}}, {"id": i, "price": "cheap" if i == "c" else 1.0})
               for i in "abc"]
    items = bulk.send(client, "products", actions, bulk.BulkPolicy(backoff=0.1),
                      sleep=waits.append)
    assert [i.get("status") for i in items] == [201, 201, 400]
    assert bulk.item_error(items[2]) == ('mapper_parsing_exception: failed to parse field '
                                         '[price] (For input string: "cheap")')
    sent = [[next(iter(x.values()))["_id"] for x in call[::2]] for call in BusyNode.calls]
    assert sent == [["a", "b", "c"], ["a", "b", "c"], ["b"]]  # only the 503 item again
    assert waits == [0.1, 0.2]  # backoff doubles
