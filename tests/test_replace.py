"""Replacing a keyword search, the pure parts and the shadow runner: the template signal
in profiles and plans, the request it sends and how its hits map to hybrid ids, the
field map proposed from a foreign mapping, result-list comparison (overlap, RBO), the
bounded shadow queue and the shadow report."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from hybrid.catalog.source import field_types, flatten, propose, sample_types
from hybrid.engines.schema import IndexSchema
from hybrid.errors import HybridError, ProfileError
from hybrid.evaluation.compare import compare, overlap_at, rbo
from hybrid.evaluation.shadow_report import blocks, read_log, summarize, write
from hybrid.planner.plan import SearchRequest, plan
from hybrid.planner.profile import Profile
from hybrid.planner.template import TemplateSpec, build_request, ranked_ids
from hybrid.search.shadow import ShadowRunner
from hybrid.search.template import connection_options

pytestmark = pytest.mark.unit
MAPPING = Path(__file__).resolve().parents[1] / "mappings" / "products.json"
TEMPLATE = {"connection": "shop", "index": "products-v7", "id_field": "sku",
            "source": {"query": {"match": {"name": "{{query}}"}}, "size": "{{size}}"}}
OLD = {"name": "old", "signals": [{"kind": "template", "name": "old", "template": TEMPLATE}]}


def test_a_template_signal_round_trips_and_plans_for_text_queries() -> None:
    profile = Profile.from_dict({**OLD, "signals": [*OLD["signals"], {"name": "bm25"}]})
    assert Profile.from_dict(profile.to_dict()) == profile
    assert profile.signal("old").template == TemplateSpec.from_dict(TEMPLATE)
    schema = IndexSchema.load(MAPPING)
    the_plan = plan(SearchRequest(text="red shoes"), profile, schema)
    assert [q.kind for q in the_plan.subqueries] == ["template", "lexical"]
    assert the_plan.subqueries[0].template is profile.signal("old").template
    browse = plan(SearchRequest(), profile, schema)
    assert [q.signal for q in browse.subqueries] == ["bm25"] and "old" in browse.skipped


@pytest.mark.parametrize("template, message", [
    ({"index": "p", "source": {}, "url": "http://user:secret@host:9200"}, "credentials"),
    ({"index": "p"}, "one of 'source'"),
    ({"index": "p", "source": {}, "id": "x"}, "one of 'source'"),
    ({"source": {}}, "'index'"),
    ({"index": "p", "id": "x", "url": "ftp://host"}, "http"),
    ({"index": "p", "id": "x", "password": "x"}, "unknown key"),
    ({"index": "p", "id": "x", "url": "http://h:99999"}, "http"),
    ({"index": "p", "id": "x", "url": 7}, "http"),
    ({"index": "p", "id": "x", "params": [1]}, "params"),
])
def test_a_template_spec_refuses_what_it_cannot_use(template: dict[str, Any],
                                                    message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        Profile.from_dict({"name": "old", "signals": [{"kind": "template",
                                                       "template": template}]})


def test_the_request_passes_text_depth_and_filters_to_the_template() -> None:
    spec = TemplateSpec.from_dict(TEMPLATE | {"params": {"boost": 2}})
    clause = {"term": {"brand": "Nike"}}
    body = build_request(spec, "red shoes", clause, 100)
    assert body == {"source": TEMPLATE["source"], "params": {
        "query": "red shoes", "size": 100, "filters": [clause], "filter": clause, "boost": 2}}
    stored = build_request(TemplateSpec(index="p", id="old-search"), "x", None, 5)
    assert stored == {"id": "old-search", "params": {"query": "x", "size": 5, "filters": [],
                                                     "filter": {"match_all": {}}}}


def test_source_hits_map_to_hybrid_ids_by_the_id_field() -> None:
    response = {"hits": {"total": {"value": 42}, "hits": [
        {"_id": "a", "_score": 3.0, "_source": {"sku": "S1"}},
        {"_id": "b", "_score": 2.0, "_source": {}},                 # no id: left out
        {"_id": "c", "_score": 1.5, "_source": {"sku": ["S1"]}},    # repeated: first kept
        {"_id": "d", "_score": None, "_source": {"sku": 7}}]}}       # sorted: rank score
    assert ranked_ids(response, "sku") == ([("S1", 3.0), ("7", 1.0)], 42)
    assert ranked_ids(response, "_id")[0][:2] == [("a", 3.0), ("b", 2.0)]


def test_connections_come_from_config_or_environment_never_the_profile() -> None:
    env = {"HYBRID_CONNECTION_SHOP_URL": "https://search:9200",
           "HYBRID_CONNECTION_SHOP_USER": "u", "HYBRID_CONNECTION_SHOP_PASSWORD": "p",
           "OPENSEARCH_URL": "http://os:9200", "OPENSEARCH_VERIFY_CERTS": "false"}
    assert connection_options("shop", env=env) | {} == {
        "url": "https://search:9200", "user": "u", "password": "p", "api_key": None,
        "verify_certs": True}
    assert connection_options("default", env=env)["verify_certs"] is False
    assert connection_options("shop", {"shop": "http://x:1"}, env={})["url"] == "http://x:1"
    with pytest.raises(Exception, match="HYBRID_CONNECTION_OTHER_URL"):
        connection_options("other", env=env)


def test_a_field_map_is_proposed_from_a_foreign_mapping() -> None:
    mapping = {"mappings": {"properties": {
        "sku": {"type": "keyword"}, "name": {"type": "text"},
        "long_text": {"type": "text"}, "maker": {"type": "keyword"},
        "dept": {"type": "keyword"}, "product_type": {"type": "keyword"},
        "cost": {"type": "scaled_float"}, "embedding": {"type": "knn_vector"},
        "specs": {"properties": {"colour": {"type": "keyword"}, "weight": {"type": "float"}}},
        "in_stock": {"type": "boolean"}}}}
    types = field_types(mapping)
    assert types["specs_colour"] == "keyword"
    proposed = propose(types)
    assert proposed.fields == {"id": "sku", "title": "name", "description": "long_text",
                               "brand": "maker", "category": "product_type", "price": "cost"}
    assert proposed.attributes == ["dept", "specs_colour", "specs_weight"]
    assert proposed.ignore == ["embedding"]
    row = flatten({"sku": "S1", "name": "Red shoe", "specs": {"colour": "Red"}, "cost": 9.5})
    product = proposed.apply(row)
    assert product["attributes"] == {"specs_colour": "Red"} and product["price"] == 9.5
    assert propose({"code": "keyword", "blurb": "text"}).fields["title"] == "blurb"
    assert propose({"title": "text"}).fields["id"] == "_id"


def test_an_exports_column_types_are_guessed_from_sample_rows() -> None:
    rows = [{"id": "1", "name": "Shoe", "blurb": "x" * 100, "price": 3, "tags": ["a"]}]
    rows.append({"id": "2", "price": "4.5", "code": "0012"})  # CSV: numbers as text
    assert sample_types(rows) == {"id": "float", "name": "keyword", "blurb": "text",
                                  "price": "float", "tags": "keyword", "code": "float"}


def test_overlap_and_rank_biased_overlap_pinned() -> None:
    assert overlap_at(list("abcd"), list("dcba"), 2) == 0.0
    assert rbo(list("abc"), list("abc")) == pytest.approx(1.0)
    assert rbo(list("abc"), list("xyz")) == 0.0
    # by hand: X = [0, 2, 3, 4]; (4/4) p^4 + (1-p)/p * (p^2 + p^3 + p^4), p = 0.9
    assert rbo(list("abcd"), list("bacd")) == pytest.approx(
        0.9 ** 4 + 0.1 / 0.9 * (0.9 ** 2 + 0.9 ** 3 + 0.9 ** 4))
    assert rbo([], []) == 1.0 and rbo(["a"], []) == 0.0
    diff = compare(list("abcd"), list("bxae"), 3)
    assert diff["rank_changes"] == {"a": 2, "b": -1}
    assert diff["gained"] == ["x", "e"] and diff["lost"] == ["c", "d"]


def _served(ids: list[str], total: int | None = None) -> dict[str, Any]:
    return {"profile": {"name": "old", "version": 1}, "hits": [{"id": d} for d in ids],
            "total": len(ids) if total is None else total, "took_ms": {"total": 2.0}}


def test_the_shadow_queue_drops_when_full_and_logs_each_comparison(tmp_path: Path) -> None:
    release = threading.Event()
    counts: dict[str, int] = {}

    def search(request: SearchRequest, profile: str, **_: Any) -> dict[str, Any]:
        release.wait(10)
        if profile == "broken":
            raise RuntimeError("no such signal")
        return _served(["b", "a", "x"]) | {"profile": {"name": profile, "version": 2}}

    runner = ShadowRunner(search, lambda name: name, ["new", "broken"], 1.0,
                          tmp_path / "shadow.jsonl", queue_size=1,
                          count=lambda o: counts.__setitem__(o, counts.get(o, 0) + 1))
    request = SearchRequest(text="red shoes", size=3)
    offered = [runner.offer(request, _served(["a", "b", "c"])) for _ in range(5)]
    assert offered[0] and not all(offered)  # never blocked: the rest were dropped
    release.set()
    assert runner.drain()
    assert counts["dropped"] >= 3 and counts["logged"] == counts["queued"]
    line = read_log(tmp_path / "shadow.jsonl")[0]
    new, broken = line["shadows"]
    assert (line["q"], line["served"]["ids"]) == ("red shoes", ["a", "b", "c"])
    assert new["overlap"] == pytest.approx(2 / 3) and new["gained"] == ["x"]
    assert new["lost"] == ["c"] and "no such signal" in broken["error"]
    with pytest.raises(Exception, match="share"):
        ShadowRunner(search, str, ["new"], 1.5, tmp_path / "x")


def test_a_zero_sample_queues_nothing(tmp_path: Path) -> None:
    runner = ShadowRunner(lambda *a, **k: {}, str, ["new"], 0.0, tmp_path / "s.jsonl")
    assert not runner.offer(SearchRequest(text="x"), _served(["a"]))


def test_the_shadow_report_aggregates_the_log(tmp_path: Path) -> None:
    log = tmp_path / "shadow.jsonl"
    lines = []
    for q, served, shadow in [("shoes", ["a", "b"], ["a", "b"]), ("bag", ["c"], ["d", "e"]),
                              ("zzz", [], ["f"])]:
        lines.append({"q": q, "served": {"profile": {"name": "old", "version": 1},
                                         "ids": served, "total": len(served), "took_ms": 3.0},
                      "shadows": [{"profile": {"name": "hybrid", "version": 1}, "ids": shadow,
                                   "total": len(shadow), "took_ms": 9.0}
                                  | compare(served, shadow, 2)]})
    log.write_text("".join(json.dumps(x) + "\n" for x in lines) + "{broken\n")
    summary = summarize(read_log(log), top=2)
    entry = summary["shadows"]["hybrid@1"]
    assert summary["requests"] == 3 and entry["summary"]["compared"] == 3
    assert entry["summary"]["served_zero_rate"] == pytest.approx(1 / 3)
    assert entry["summary"]["zero_rate"] == 0.0
    assert [w["q"] for w in entry["worst"]] == ["bag", "zzz"]
    report = blocks(summary, str(log), {"d": "Black bag"})
    md = write(report, tmp_path / "report.md")
    text = md[0].read_text()
    assert "d Black bag" in text and "hybrid@1" in text
    assert {p.name for p in md[1:]} == {"shadow-overlap.png", "shadow-latency.png"}
    html = write(report, tmp_path / "report.html")[0].read_text()
    assert html.count("data:image/png;base64") == 2
    with pytest.raises(HybridError, match=r"\.md or \.html"):  # one CLI error line
        write(report, tmp_path / "report.txt")


@pytest.mark.integration
def test_import_from_an_export_file_proposes_then_imports(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    from hybrid.cli.main import main

    export = tmp_path / "export.csv"
    export.write_text("sku,name,long_copy,maker,cost\n"
                      f"S1,Red running shoe,{'Light and fast. ' * 6},Acme,49.5\n"
                      f"S2,Blue rain jacket,{'Keeps you dry. ' * 6},Brolly,80\n"
                      ",No id here,x,Acme,1\n")
    index = tmp_path / "index"
    assert main(["--index", str(index), "import", "--from-file", str(export)]) == 0
    proposed = json.loads(capsys.readouterr().out)
    assert proposed["fields"] == {"id": "sku", "title": "name", "description": "long_copy",
                                  "brand": "maker", "price": "cost"}
    assert not index.exists()
    (tmp_path / "map.json").write_text(json.dumps(proposed))
    assert main(["--index", str(index), "import", "--from-file", str(export), "--field-map",
                 str(tmp_path / "map.json"), "--no-vectors", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "indexed 2 products" in out and "rejected 1" in out and "line 4" in out
    assert main(["--index", str(index), "import", "--from-index", "x", "--connection",
                 "nowhere"]) == 2
    assert "HYBRID_CONNECTION_NOWHERE_URL" in capsys.readouterr().err


@pytest.mark.integration
def test_an_unreachable_source_cluster_is_an_engine_error() -> None:
    from hybrid.errors import EngineError
    from hybrid.search.template import TemplateRunner
    from hybrid.testing.servers import free_port

    spec = TemplateSpec(index="products", id="old", url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(EngineError, match="products"):
        TemplateRunner().search(spec, "red shoes", {"term": {"brand": "Nike"}}, 10)
    assert TemplateRunner().problem(spec) is None  # reachable or not, it is configured
    assert "HYBRID_CONNECTION_GONE_URL" in str(TemplateRunner().problem(
        TemplateSpec(index="p", id="x", connection="gone")))
