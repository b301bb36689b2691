"""The search API over real HTTP: `hybrid serve` (gunicorn, 2 workers) on a small
real index with text, image and aligned-image vectors."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import struct
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client import CONTENT_TYPE_LATEST

from hybrid.testing.servers import ApiServer

requests = pytest.importorskip("requests")
pytestmark = [pytest.mark.integration, pytest.mark.slow]
KEY = "test-key-123"
AUTH = {"Authorization": f"Bearer {KEY}"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def api(small_index: tuple[Path, Path, dict[str, str]]) -> Any:
    folder, index, env = small_index
    server = ApiServer(index, folder / "serve.log", api_key=KEY, env={
        **env, "HYBRID_MAX_CONTENT_LENGTH": "2000000", "HYBRID_MAX_IMAGE_BYTES": "1000000"})
    server.start()
    yield server
    server.stop()


def search(api: Any, **body: Any) -> dict[str, Any]:
    r = requests.post(f"{api.url}/search", json=body, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def catalog_image(shared_data: Path, product: str) -> bytes:
    return (shared_data / "catalog" / "images" / "fashion" / f"{product[1:]}.jpg").read_bytes()


def wav(seconds: float, amplitude: int = 0) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(struct.pack("<h", amplitude) * int(16000 * seconds))
    return buf.getvalue()


def check_explained(hit: dict[str, Any]) -> None:
    parts = hit["explain"].values()
    assert sum(p["contribution"] for p in parts) == pytest.approx(hit["score"], abs=1e-9)
    for p in parts:
        assert p["missing"] == (p["raw"] is None)
        if not p["missing"]:
            assert 0 < p["normalized"] <= 1 and p["rank"] >= 1


def test_text_query_is_fused_and_explained(api: Any) -> None:
    res = search(api, q="navy blue shirt", explain=True, size=5)
    assert [s["name"] for s in res["signals"]] == ["bm25", "text:text_vector",
                                                   "text:image_text_vector"]
    assert res["profile"] == {"name": "default", "version": 1}
    assert re.fullmatch(r"[0-9a-f]{32}", res["query_id"])
    top = res["hits"][0]
    assert "shirt" in top["fields"]["title"].lower()
    assert top["image_url"] == f"/products/{top['id']}/image"
    for hit in res["hits"]:
        check_explained(hit)
    assert [h["score"] for h in res["hits"]] == sorted((h["score"] for h in res["hits"]),
                                                       reverse=True)
    assert {"encode", "retrieve", "fuse", "fetch", "total"} <= set(res["took_ms"])
    img = requests.get(api.url + top["image_url"], timeout=10)
    assert img.status_code == 200 and img.headers["Content-Type"] == "image/jpeg"


def test_get_search_for_simple_use(api: Any) -> None:
    r = requests.get(f"{api.url}/search", params={"q": "track pants", "size": 3}, timeout=60)
    assert r.status_code == 200 and len(r.json()["hits"]) == 3


def test_image_upload_finds_the_product_itself(api: Any, shared_data: Path) -> None:
    r = requests.post(f"{api.url}/search", files={"image": ("p.jpg",
                                                            catalog_image(shared_data, "f15970"),
                                                            "image/jpeg")},
                      data={"explain": "true", "size": "5"}, timeout=120)
    assert r.status_code == 200, r.text
    res = r.json()
    assert [s["name"] for s in res["signals"]] == ["image:image_vector",
                                                   "image:image_text_vector"]
    assert res["hits"][0]["id"] == "f15970"
    for hit in res["hits"]:
        check_explained(hit)


def test_text_and_image_together(api: Any, shared_data: Path) -> None:
    image = base64.b64encode(catalog_image(shared_data, "f21379")).decode()
    res = search(api, q="black track pants", image_base64=image, explain=True)
    assert len(res["signals"]) == 5
    assert res["hits"][0]["id"] == "f21379"
    check_explained(res["hits"][0])


def test_spoken_query_is_transcribed(api: Any, shared_data: Path) -> None:
    clip = json.loads((shared_data / "dev" / "spoken" / "queries.jsonl").read_text()
                      .splitlines()[0])
    audio = (shared_data / "dev" / clip["audio"]).read_bytes()
    r = requests.post(f"{api.url}/search", files={"audio": ("q.wav", audio, "audio/wav")},
                      timeout=300)
    assert r.status_code == 200, r.text
    res = r.json()
    words = set(clip["transcript"].lower().split())
    assert words & set(re.findall(r"[a-z]+", res["transcript"].lower()))
    assert "bm25" in [s["name"] for s in res["signals"]]
    assert "no audio_vector vectors" in res["skipped"]["audio:audio_vector"]
    assert res["hits"]


def test_filters_and_facets(api: Any) -> None:
    res = search(api, q="shirt", filter={"term": {"attributes.gender": "Women"}},
                 facets={"colour": {"terms": {"field": "attributes.colour", "size": 50}},
                         "type": {"terms": {"field": "category", "size": 50}}}, size=100)
    assert res["total"] == len(res["hits"]) > 0
    assert all(h["fields"]["attributes"]["gender"] == "Women" for h in res["hits"])
    colours: dict[str, int] = {}
    for h in res["hits"]:
        c = h["fields"]["attributes"]["colour"]
        colours[c] = colours.get(c, 0) + 1
    assert {f["key"]: f["count"] for f in res["facets"]["colour"]} == colours


def test_pages_have_no_duplicates_or_gaps(api: Any) -> None:
    whole = search(api, q="men casual shirt", size=100)
    whole["hits"] += search(api, q="men casual shirt", size=100, page=2)["hits"]
    total = whole["total"]
    assert 100 < total < 200
    seen: list[str] = []
    page = 1
    while len(seen) < total:
        res = search(api, q="men casual shirt", size=7, page=page)
        assert res["total"] == total
        seen += [h["id"] for h in res["hits"]]
        page += 1
    assert seen == [h["id"] for h in whole["hits"]]
    assert len(set(seen)) == total
    past = search(api, q="men casual shirt", size=7, page=page)
    assert past["hits"] == [] and past["total"] == total


def test_writes_need_the_key(api: Any) -> None:
    product = [{"id": "k1", "title": "Keyless zebra lamp"}]
    assert requests.post(f"{api.url}/products", json=product, timeout=10).status_code == 401
    bad = requests.post(f"{api.url}/products", json=product, timeout=10,
                        headers={"X-API-Key": "wrong"})
    assert bad.status_code == 401 and bad.headers["Content-Type"] == "application/problem+json"
    assert requests.delete(f"{api.url}/products/f15970", timeout=10).status_code == 401
    assert requests.put(f"{api.url}/profiles/x", json={"signals": [{"kind": "lexical"}]},
                        timeout=10).status_code == 401
    assert requests.get(f"{api.url}/admin/stats", timeout=10).status_code == 401


def test_ingest_over_http(api: Any) -> None:
    batch = {"products": [{"id": "z1", "title": "Quokka plush toy", "brand": "Zoo"},
                          {"id": "z2", "title": "Quokka travel mug", "price": "12.50"},
                          {"id": "z3"}]}
    r = requests.post(f"{api.url}/products", json=batch, headers=AUTH, timeout=30)
    assert r.status_code == 207, r.text
    body = r.json()
    assert body["written"] == 2 and body["rejected"] == 1
    assert body["items"][2]["status"] == "rejected" and "title" in body["items"][2]["error"]
    deadline = time.monotonic() + 5  # the other worker sees it within its refresh interval
    while time.monotonic() < deadline:
        ids = {h["id"] for h in search(api, q="quokka", weights={
            "text:text_vector": 0, "text:image_text_vector": 0})["hits"]}
        if ids == {"z1", "z2"}:
            break
        time.sleep(0.2)
    assert ids == {"z1", "z2"}
    assert requests.get(f"{api.url}/products/z2", timeout=10).json()["price"] == 12.5
    assert requests.delete(f"{api.url}/products/z1", headers=AUTH, timeout=10).status_code == 200
    assert requests.delete(f"{api.url}/products/z1", headers=AUTH, timeout=10).status_code == 404
    requests.delete(f"{api.url}/products/z2", headers=AUTH, timeout=10)


def test_profiles_by_name_and_version(api: Any) -> None:
    lexical = {"signals": [{"kind": "lexical", "fields": {"title": 1.0}}], "depth": 50}
    r = requests.put(f"{api.url}/profiles/titles", json=lexical, headers=AUTH, timeout=10)
    assert r.status_code == 201 and r.json()["version"] == 1
    r = requests.put(f"{api.url}/profiles/titles", json=lexical | {"combiner": "rrf"},
                     headers=AUTH, timeout=10)
    assert r.json()["version"] == 2
    res = search(api, q="shirt", profile="titles@1")
    assert res["profile"] == {"name": "titles", "version": 1} and res["total"] <= 50
    assert [s["name"] for s in res["signals"]] == ["bm25"]
    assert search(api, q="shirt", profile="titles")["profile"]["version"] == 2
    listed = requests.get(f"{api.url}/profiles", timeout=10).json()["profiles"]
    assert {"name": "titles", "versions": [1, 2], "inputs": ["text"]} in listed
    similar = next(p for p in listed if p["name"] == "similar")
    assert "product" in similar["inputs"]  # the inspector does not offer it for the search box
    inline = search(api, q="shirt", weights={"bm25": 0, "text:image_text_vector": 0})
    assert [s["name"] for s in inline["signals"]] == ["text:text_vector"]


def test_a_damaged_profile_does_not_hide_the_others(api: Any) -> None:
    """GET /profiles reads each profile's latest version for its inputs: a file that no
    longer parses lists no inputs, and the others are still listed (it once answered 400
    for the whole list, so the inspector's menus offered nothing). Read by name, or used
    by a search, it is the server's fault: 500, not the 400 it once was."""
    folder = Path(api.index) / "profiles" / "damaged"
    folder.mkdir(parents=True)
    try:
        (folder / "v1.json").write_text('{"name": "damaged", "signals": [')
        r = requests.get(f"{api.url}/profiles", timeout=10)
        assert r.status_code == 200
        listed = {p["name"]: p for p in r.json()["profiles"]}
        assert listed["damaged"] == {"name": "damaged", "versions": [1], "inputs": []}
        assert "text" in listed["default"]["inputs"]
        (folder / "v2.json").write_text('{"name": "damaged", "signals": []}')
        for r, version in ((requests.get(f"{api.url}/profiles/damaged?version=1", timeout=10),
                            1),
                           (requests.post(f"{api.url}/search", json={
                               "q": "shirt", "profile": "damaged"}, timeout=10), 2)):
            assert r.status_code == 500
            problem = r.json()
            assert problem["type"] == "/problems/damaged-data", problem
            assert f"the stored profile 'damaged' version {version}" in problem["detail"]
            assert str(api.index) not in problem["detail"]
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize("kwargs, status, detail", [
    ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400,
     "not valid JSON"),
    ({"data": b"q=x", "headers": {"Content-Type": "text/plain"}}, 400, "multipart"),
    ({"json": {"q": "x", "page": 200, "size": 100}}, 400, "beyond result 10000"),
    ({"json": {"q": "x", "profile": "nope"}}, 404, "no profile named 'nope'"),
    ({"json": {"q": "x", "profile": "default@7"}}, 404,
     "profile 'default' has no version 7; its versions are 1"),
    ({"json": {"q": "x", "explain": "maybe"}}, 400, "'explain' must be true or false"),
    ({"json": {"q": "x", "weights": {"bm25": 1e308, "text:text_vector": 1e308}}}, 400,
     "weight of bm25 must be a number from 0 to 1e+06"),
    # integers no float holds: found by a longer session of numeric extremes
    ({"data": '{"q": "x", "weights": {"bm25": 1%s}}' % ("0" * 400), "headers": JSON}, 400,
     "weight of bm25"),
    ({"data": '{"q": "x", "filter": {"range": {"price": {"gt": 1%s}}}}' % ("0" * 400),
      "headers": JSON}, 400, "finite number"),
    ({"data": '{"q": "x", "filter": {"term": {"price": 1%s}}}' % ("0" * 400),
      "headers": JSON}, 400, "numbers or booleans"),
    ({"files": {"q": (None, "x"), "explain": (None, "maybe")}}, 400,
     "'explain' must be true or false"),
    ({"json": {"q": "x", "filter": {"term": {"weight": 3}}}}, 400, "cannot filter"),
    ({"json": {"image_url": "http://127.0.0.1/x.jpg"}}, 400, "disabled"),
    ({"files": {"image": ("x.jpg", b"\x00" * 5000, "image/jpeg")}}, 415, "not an image"),
    ({"files": {"image": ("x.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 1_100_000)}}, 413,
     "limit is 1000000"),
    ({"data": b"x" * 2_100_000, "headers": {"Content-Type": "application/json"}}, 413,
     "limit of 2000000 bytes"),
    ({"files": {"audio": ("a.wav", wav(31, 3000), "audio/wav")}}, 413, "limit is 30 s"),
    ({"files": {"audio": ("a.wav", wav(1), "audio/wav")}}, 400, "silent"),
    # not audio: 415 as for an image, and no decoder's errno text ("[Errno 1094995529]")
    ({"files": {"audio": ("a.mp3", b"\x00" * 5000, "audio/mpeg")}}, 415,
     "audio: not audio in a format that can be read"),
    # found by fuzzing: a part name werkzeug cannot parse, and facets that are a number
    ({"data": b'--B\r\nContent-Disposition: form-data; name="\x7f\\"\r\n\r\nx\r\n--B--\r\n',
      "headers": {"Content-Type": "multipart/form-data; boundary=B"}}, 400, "cannot be read"),
    ({"json": {"q": "x", "facets": 1}}, 400, "object of named facets"),
    # wrong-typed filter values: a 400 naming the field and its type, never a 500
    ({"json": {"q": "running shoe", "filter": {"term": {"price": "abc"}}}}, 400,
     "'price' is a numeric field"),
    ({"json": {"q": "x", "filter": {"terms": {"price": ["abc"]}}}}, 400, "numeric field"),
    ({"json": {"q": "x", "filter": {"not": {"term": {"price": ""}}}}}, 400, "numeric field"),
    ({"json": {"q": "x", "filter": {"range": {"attributes.colour": {"gt": 1}}}}}, 400,
     "needs a numeric field"),
    ({"files": {"q": (None, "x"), "filter": (None, '{"term": {"price": "abc"}}')}}, 400,
     "numeric field"),
])
def test_bad_requests_get_problem_details(api: Any, kwargs: dict[str, Any], status: int,
                                          detail: str) -> None:
    r = requests.post(f"{api.url}/search", timeout=60, **kwargs)
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and detail in body["detail"]
    assert body["type"].startswith("/problems/") and body["title"]


@pytest.mark.parametrize("length, status, detail", [
    (5000, 400, "'q' is 5000 characters long; the limit is 1000"),
    (9000, 414, "send long queries by POST /search")])
def test_a_long_get_query_gets_problem_details(api: Any, length: int, status: int,
                                               detail: str) -> None:
    """gunicorn answered a 5,000-character GET with an HTML 414 before the app saw it."""
    r = requests.get(f"{api.url}/search?q={'a' * length}", timeout=60)
    assert r.status_code == status and r.headers["Content-Type"] == "application/problem+json"
    assert detail in r.json()["detail"] and r.json()["status"] == status


DEEP_NOT = '{"q": "x", "filter": ' + '{"not": ' * 1000 + '{"term": {"brand": "x"}}' + \
    "}" * 1001


@pytest.mark.parametrize("method, path, body", [
    ("post", "/search", "[" * 1000 + "]" * 1000),
    ("post", "/search", DEEP_NOT),
    ("post", "/search", '{"q": "x", "facets": ' + "[" * 1000 + "]" * 1000 + "}"),
    ("post", "/products", "[" * 1000 + "]" * 1000),
    ("put", "/profiles/deep", '{"signals": ' + "[" * 1000 + "]" * 1000 + "}"),
    ("post", "/experiments", '{"name": "deep", "variants": ' + "[" * 1000 + "]" * 1000 + "}"),
    ("post", "/events", "[" * 1000 + "]" * 1000),
    ("put", "/judgments", '{"query": "x", "doc": ' + "[" * 1000 + "]" * 1000 + "}"),
])
def test_deeply_nested_json_is_a_400_on_every_endpoint(api: Any, method: str, path: str,
                                                       body: str) -> None:
    r = requests.request(method, api.url + path, data=body, headers={
        **AUTH, "Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 400, r.text
    assert r.headers["Content-Type"] == "application/problem+json"
    limit = 256 if path in ("/products", "/events") else 32  # batches: items checked alone
    assert f"nested deeper than {limit} levels" in r.json()["detail"]
    deep = '{"not": ' * 100 + '{"term": {"brand": "x"}}' + "}" * 100
    form = requests.get(f"{api.url}/search", params={"q": "x", "filter": deep}, timeout=30)
    assert form.status_code == 400 and "nested deeper" in form.json()["detail"]


def test_a_decompression_bomb_upload_is_a_413(api: Any) -> None:
    from test_inputs import bomb_png

    for size in ((40000, 40000), (6000, 6000)):
        r = requests.post(f"{api.url}/search", files={"image": ("b.png", bomb_png(*size),
                                                                "image/png")}, timeout=60)
        assert r.status_code == 413 and "pixels" in r.json()["detail"], r.text
        assert r.headers["Content-Type"] == "application/problem+json"


def test_requested_facets_are_present_when_nothing_matches(api: Any) -> None:
    facets = {"colour": {"terms": {"field": "attributes.colour"}},
              "price": {"range": {"field": "price", "ranges": [{"to": 50}]}}}
    res = search(api, q="shirt", filter={"term": {"brand": "No Such Brand"}}, facets=facets)
    assert res["total"] == 0 and res["hits"] == []
    assert res["facets"] == {"colour": [], "price": [{"key": "*-50", "to": 50.0, "count": 0}]}
    r = requests.get(f"{api.url}/search", params={"q": "x", "explain": "maybe"}, timeout=60)
    assert r.status_code == 400 and "'explain'" in r.json()["detail"]


def test_get_search_with_a_wrong_typed_filter_is_a_problem(api: Any) -> None:
    r = requests.get(f"{api.url}/search", params={"q": "x", "filter": json.dumps(
        {"term": {"price": "abc"}})}, timeout=60)
    assert r.status_code == 400 and "'price' is a numeric field" in r.json()["detail"]


def test_profiles_refuse_weights_out_of_range(api: Any) -> None:
    body = {"signals": [{"kind": "lexical", "weight": 1e308},
                        {"kind": "knn", "field": "text_vector", "encoder": "e5-small"}]}
    r = requests.put(f"{api.url}/profiles/huge", json=body, headers=AUTH, timeout=10)
    assert r.status_code == 400 and "from 0 to 1e+06" in r.json()["detail"]
    huge_k = '{"signals": [{"kind": "lexical"}], "combiner": "rrf", "rrf_k": 1%s}' % ("0" * 400)
    r = requests.put(f"{api.url}/profiles/huge", data=huge_k, headers=AUTH | JSON, timeout=10)
    assert r.status_code == 400 and "rrf_k" in r.json()["detail"]


def strings(obj: Any) -> list[str]:
    if isinstance(obj, dict):
        return [x for k, v in obj.items() for x in strings(k) + strings(v)]
    if isinstance(obj, list):
        return [x for v in obj for x in strings(v)]
    return [obj] if isinstance(obj, str) else []


def test_no_answer_shows_a_file_path_of_the_server(api: Any, shared_data: Path) -> None:
    """Search hits showed fields.images as the server's absolute paths; the image is
    served through image_url instead, and no other answer names a server path."""
    from hybrid.api.problems import redact_paths

    res = search(api, q="navy blue shirt", explain=True, size=5)
    answers = [res, requests.get(f"{api.url}/products/f15970", timeout=10).json(),
               requests.get(f"{api.url}/admin/stats", headers=AUTH, timeout=10).json(),
               requests.get(f"{api.url}/readyz", timeout=10).json(),
               requests.get(f"{api.url}/profiles/default", timeout=10).json()]
    roots = (str(shared_data), str(api.index.parent), "/tmp/", "/home/", "/work/")
    for answer in answers:
        for text in strings(answer):
            assert not text.startswith(roots) and redact_paths(text) == text, text
    hit = res["hits"][0]
    assert hit["fields"]["images"] == [hit["image_url"]] == [f"/products/{hit['id']}/image"]
    assert requests.get(api.url + hit["image_url"], timeout=10).status_code == 200
    product = answers[1]
    assert product["images"] == [product["image_url"]] == ["/products/f15970/image"]


def test_ops_endpoints(api: Any) -> None:
    assert requests.get(f"{api.url}/healthz", timeout=10).json() == {"status": "ok"}
    ready = requests.get(f"{api.url}/readyz", timeout=10).json()
    search(api, q="shirt")  # at least one POST /search, whichever tests ran before
    assert ready["documents"] >= 170
    answer = requests.get(f"{api.url}/metrics", timeout=10)
    assert answer.headers["Content-Type"] == CONTENT_TYPE_LATEST  # its charset once
    metrics = answer.text
    assert re.search(r'hybrid_http_requests_total\{endpoint="/search",method="POST",'
                     r'status="200"\} [1-9]', metrics)
    assert "hybrid_search_phase_seconds_bucket" in metrics
    stats = requests.get(f"{api.url}/admin/stats", headers=AUTH, timeout=10).json()
    assert stats["vectors"]["text_vector"]["vectors"] >= 170


def test_openapi_describes_every_endpoint(api: Any) -> None:
    from hybrid.api import create_app

    spec = requests.get(f"{api.url}/openapi.json", timeout=10).json()
    assert spec["openapi"] == "3.1.0"
    app = create_app({"WARM": False, "INDEX": str(api.index)})
    routes: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "{" + {"product_id": "id"}.get(
            m.group(1), m.group(1)) + "}", rule.rule)
        routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    described = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    assert routes == described


def test_offline_evaluation_ranks_as_the_api_does(api: Any) -> None:
    """`hybrid eval` and `hybrid learn` score rankings rebuilt from collected sub-query
    results: they must be the rankings the service returns."""
    from hybrid.engines import open_index
    from hybrid.evaluation.collect import collection_profile, one
    from hybrid.evaluation.judgments import Query
    from hybrid.evaluation.offline import rank
    from hybrid.planner.profile import Profile, default_profile
    from hybrid.search.searcher import Searcher

    searcher = Searcher(open_index(str(api.index)))
    profile = default_profile()
    # and a query-dependent model: short queries lean on BM25, longer ones on vectors
    model = {"features": ["len"], "mean": [1.0], "scale": [0.5], "blend": 1.0,
             "candidates": [{"bm25": 1.0, "text:text_vector": 0.0,
                             "text:image_text_vector": 0.0},
                            {"bm25": 0.1, "text:text_vector": 0.5,
                             "text:image_text_vector": 0.4}],
             "coef": [[-3.0], [3.0]], "intercept": [0.0, 0.0]}
    adaptive = requests.put(f"{api.url}/profiles/adaptive", headers=AUTH, timeout=10,
                            json=profile.to_dict() | {"name": "adaptive", "model": model})
    assert adaptive.status_code == 201, adaptive.text
    adaptive_profile = Profile.from_dict(adaptive.json())
    for text in ("navy blue shirt", "apple", "women black casual handbags with zip"):
        collected = one(searcher, Query("q", "t", text=text), collection_profile(profile))
        for p, name in ((profile, "default"), (adaptive_profile, "adaptive")):
            offline = [d for d, _ in rank(collected, p, k=10)]
            res = search(api, q=text, size=10, profile=name)
            assert offline == [h["id"] for h in res["hits"]]
    short = search(api, q="apple", profile="adaptive")["signals"]
    long = search(api, q="women black casual handbags with zip", profile="adaptive")["signals"]
    assert short[0]["weight"] > long[0]["weight"]  # bm25's weight follows the query


def test_an_image_query_runs_efficientnet_once_for_both_image_signals(
        small_index: tuple[Path, Path, dict[str, str]], shared_data: Path,
        monkeypatch: Any) -> None:
    """The aligned image encoder maps EfficientNet's features; an image query needs both,
    so the searcher computes the features once and maps them."""
    from hybrid.encoders.align import AlignedImageEncoder
    from hybrid.encoders.registry import load_encoder
    from hybrid.engines import open_engine
    from hybrid.planner.plan import parse_request, plan
    from hybrid.planner.profile import default_profile
    from hybrid.search.inputs import Limits, decode_image
    from hybrid.search.searcher import Searcher

    folder, index, _ = small_index
    aligned = AlignedImageEncoder(folder / "models" / "alignment")
    searcher = Searcher(open_engine("embedded", path=index),
                        encoder=lambda n: aligned if n == "aligned-image" else load_encoder(n))
    engine = searcher.engine
    image = decode_image((shared_data / "catalog" / "images" / "fashion" / "10000.jpg")
                         .read_bytes(), Limits())
    the_plan = plan(parse_request({}, engine.schema, image=True), default_profile(),
                    engine.schema, {})
    assert {q.signal for q in the_plan.subqueries} == {"image:image_vector",
                                                       "image:image_text_vector"}
    expected = {"image:image_vector": aligned.base.encode_queries([image])[0],
                "image:image_text_vector": aligned.encode_queries([image])[0]}
    calls = []
    real = aligned.base.encode_queries
    monkeypatch.setattr(aligned.base, "encode_queries",
                        lambda items, *a: calls.append(len(items)) or real(items, *a))
    vectors, _ = searcher._encode(the_plan, {"image": image, "text": "", "audio": None}, {})
    assert calls == [1]
    for name, vec in expected.items():
        np.testing.assert_allclose(vectors[name], vec, atol=1e-5)
