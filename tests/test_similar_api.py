"""Similar products, the session signal and user deletion over real HTTP (`hybrid
serve` on the small real index), and `hybrid similar` as a command."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hybrid.testing.servers import ApiServer

requests = pytest.importorskip("requests")
pytestmark = [pytest.mark.integration, pytest.mark.slow]
KEY = "similar-key"
AUTH = {"X-API-Key": KEY}
PERSONAL = {"name": "personal", "signals": [
    {"name": "bm25", "kind": "lexical", "weight": 0.3},
    {"name": "text:text_vector", "kind": "knn", "field": "text_vector", "encoder": "e5-small",
     "weight": 0.4},
    {"name": "session", "kind": "knn", "input": "session", "field": "image_text_vector",
     "encoder": "stored:image_text_vector", "weight": 0.6}]}


@pytest.fixture(scope="module")
def api(small_index: tuple[Path, Path, dict[str, str]]) -> Any:
    folder, index, env = small_index
    server = ApiServer(index, folder / "similar-serve.log", api_key=KEY, workers=1,
                       env={**env, "HYBRID_VECTORS": '"off"'})
    server.start()
    yield server
    server.stop()


def _get(api: Any, path: str, **params: Any) -> requests.Response:
    return requests.get(f"{api.url}{path}", params={
        k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}, timeout=120)


def _first_shirt(api: Any) -> dict[str, Any]:
    r = requests.post(f"{api.url}/search", json={"q": "shirt", "size": 1}, timeout=60)
    return r.json()["hits"][0]  # type: ignore[no-any-return]


def test_similar_products_over_http(api: Any) -> None:
    shirt = _first_shirt(api)
    r = _get(api, f"/products/{shirt['id']}/similar", size=5, explain="true")
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["similar_to"] == shirt["id"] and res["profile"]["name"] == "similar"
    ids = [h["id"] for h in res["hits"]]
    assert len(ids) == 5 and shirt["id"] not in ids
    assert {"product:text_vector", "product:image_vector", "product:image_text_vector"} <= {
        s["name"] for s in res["signals"]}
    assert set(res["skipped"]) <= {"product:fused_vector"}
    assert all(set(h["explain"]) >= {"bm25", "product:image_vector"} for h in res["hits"])
    assert sum("shirt" in h["fields"]["title"].lower() for h in res["hits"]) >= 3
    page2 = _get(api, f"/products/{shirt['id']}/similar", size=5, page=2).json()
    every = _get(api, f"/products/{shirt['id']}/similar", size=10).json()
    assert ids + [h["id"] for h in page2["hits"]] == [h["id"] for h in every["hits"]]
    gender = shirt["fields"]["attributes"]["gender"]
    faceted = _get(api, f"/products/{shirt['id']}/similar",
                   filter={"term": {"attributes.gender": gender}},
                   facets={"gender": {"terms": {"field": "attributes.gender"}}}).json()
    assert faceted["facets"]["gender"] == [{"key": gender, "count": faceted["total"]}]
    assert shirt["id"] not in [h["id"] for h in faceted["hits"]]


def test_similar_problems(api: Any) -> None:
    r = _get(api, "/products/no-such-product/similar")
    assert r.status_code == 404 and r.headers["Content-Type"] == "application/problem+json"
    assert "no-such-product" in r.json()["detail"]
    shirt = _first_shirt(api)
    for params in ({"q": "shirt"}, {"size": "0"}, {"filter": "{"}, {"profile": "nope"}):
        r = _get(api, f"/products/{shirt['id']}/similar", **params)
        assert 400 <= r.status_code < 500, (params, r.text)


def test_product_without_vectors_lists_skipped_signals(api: Any) -> None:
    item = {"id": "plain-tee", "title": "Plain Men White Tshirt", "category": ["Apparel"]}
    assert requests.post(f"{api.url}/products", json=[item], headers=AUTH,
                         timeout=60).status_code == 200
    res = _get(api, "/products/plain-tee/similar").json()
    assert {"product:text_vector", "product:image_vector",
            "product:image_text_vector"} <= set(res["skipped"])
    assert res["skipped"]["product:text_vector"] == "product 'plain-tee' has no text_vector vector"
    assert [s["name"] for s in res["signals"]] == ["bm25"] and res["hits"]


def test_hybrid_similar_command(small_index: tuple[Path, Path, dict[str, str]], api: Any
                                ) -> None:
    _, index, env = small_index
    shirt = _first_shirt(api)

    def hybrid(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "hybrid.cli.main", "--index", str(index),
                               "similar", *args], capture_output=True, text=True, timeout=300,
                              env={**os.environ, **env, "HF_HUB_OFFLINE": "1"})

    out = hybrid(shirt["id"], "--size", "3", "--facet", "attributes.gender")
    assert out.returncode == 0, out.stderr
    assert f"products like {shirt['id']!r}" in out.stdout and "gender:" in out.stdout
    lines = out.stdout.splitlines()
    body = lines[next(n for n, line in enumerate(lines) if line.startswith("-")) + 1:]
    rows = [line for line in body if line[:1].isdigit()]
    assert len(rows) == 3 and all(shirt["id"] not in row.split() for row in rows)
    as_json = json.loads(hybrid(shirt["id"], "--json", "--size", "3").stdout)
    assert [r.split()[2] for r in rows] == [h["id"] for h in as_json["hits"]]
    missing = hybrid("no-such-product")
    assert missing.returncode == 2
    assert missing.stderr.strip() == "hybrid: error: no product with id 'no-such-product'"


def test_session_signal_and_user_deletion(small_index: tuple[Path, Path, dict[str, str]],
                                          api: Any) -> None:
    _, index, _ = small_index
    assert requests.put(f"{api.url}/profiles/personal", json=PERSONAL, headers=AUTH,
                        timeout=30).status_code == 201

    def search(q: str, **unit: str) -> dict[str, Any]:
        r = requests.post(f"{api.url}/search", json={"q": q, "profile": "personal",
                                                     "size": 10, **unit}, timeout=60)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    new = search("shirt", user_id="newcomer")
    assert new["skipped"]["session"].startswith("no events of this shopper")
    plain = requests.post(f"{api.url}/search", json={"q": "shirt", "size": 10, "weights": {
        "session": 0}, "profile": "personal"}, timeout=60).json()
    assert [h["id"] for h in new["hits"]] == [h["id"] for h in plain["hits"]]

    first = search("watch", user_id="alice", session_id="alice-1")
    clicked = first["hits"][:2]
    events = [{"action_name": "click", "query_id": first["query_id"], "object_id": h["id"],
               "position": i + 1, "user_id": "alice", "session_id": "alice-1"}
              for i, h in enumerate(clicked)]
    events.append({"action_name": "view", "query_id": first["query_id"],
                   "object_id": clicked[0]["id"], "user_id": "alice", "session_id": "alice-1"})
    assert requests.post(f"{api.url}/events", json=events, timeout=30).status_code == 200
    later = search("black", user_id="alice", session_id="alice-1")
    assert "session" not in later["skipped"]
    assert "session" in [s["name"] for s in later["signals"]]
    assert "vector" not in json.dumps(later).replace("_vector", "")  # no vector comes back

    assert requests.delete(f"{api.url}/users/alice", timeout=30).status_code == 401
    r = requests.delete(f"{api.url}/users/alice", headers=AUTH, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["deleted"]["events"] == 3 and r.json()["deleted"]["queries"] == 2
    assert r.json()["deleted"]["user_vectors"] >= 1
    db = sqlite3.connect(index / "events.sqlite")
    for table in ("queries", "events", "user_vectors"):
        rows = db.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608 - fixed names
        assert not [row for row in rows if {"alice", "alice-1"} & set(map(str, row))], table
    db.close()
    for f in index.glob("events.sqlite*"):
        assert b"alice" not in f.read_bytes(), f
    again = search("black", user_id="alice")
    assert again["skipped"]["session"].startswith("no events of this shopper")
    # an id with a line break or a slash reaches the endpoint, not the router's 404
    # (found by the fuzz run: Werkzeug's path converter stops at a line break)
    for odd in ("a%0Ab", "a/b"):
        r = requests.delete(f"{api.url}/users/{odd}", headers=AUTH, timeout=30)
        assert r.status_code == 200 and r.json()["user_id"] == odd.replace("%0A", "\n"), r.text
    r = requests.get(f"{api.url}/products/no%0Asuch", timeout=30)
    assert r.status_code == 404
    assert "requested URL was not found" not in r.json()["detail"], r.text


def _fused_matches(index: Path, alpha: float) -> None:
    import numpy as np

    from hybrid.encoders.registry import load_encoder
    from hybrid.engines.embedded import EmbeddedEngine
    from hybrid.ingest.plan import product_text
    from hybrid.learning.fused import fuse

    with EmbeddedEngine(index) as engine:
        docs = [d for d in engine.scan() if d.get("images")][:8]
        stored = engine.get_vectors([d["id"] for d in docs], ["image_text_vector",
                                                              "fused_vector"])
    assert len(stored) == len(docs) and all(len(v) == 2 for v in stored.values())
    text = load_encoder("minilm").encode_documents([product_text(d) for d in docs])
    image = np.stack([stored[d["id"]]["image_text_vector"] for d in docs])
    want = fuse(image, text, alpha)
    got = np.stack([stored[d["id"]]["fused_vector"] for d in docs])
    assert np.allclose(got, want, atol=1e-4)


def test_workers_fuse_image_and_text(small_index: tuple[Path, Path, dict[str, str]]) -> None:
    _fused_matches(small_index[1], 0.5)  # the default alpha until one is learned


def test_learn_fused_alpha(small_index: tuple[Path, Path, dict[str, str]], shared_data: Path,
                           tmp_path: Path) -> None:
    _, index, env = small_index
    copy = tmp_path / "index"
    shutil.copytree(index, copy)
    res = subprocess.run([sys.executable, "-m", "hybrid.cli.main", "--index", str(copy),
                          "learn", "--fused-alpha", "--data", str(shared_data / "dev"),
                          "--task", "fashion_text", "--task", "fashion_image"],
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, **env, "HF_HUB_OFFLINE": "1"})
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout.splitlines()[0])
    assert set(report["queries"]) == {"fashion_text", "fashion_image"}
    assert len(report["ndcg@10"]) == 11 and report["written"] >= 150
    stored = json.loads((copy / "fused.json").read_text())
    assert stored["alpha"] == report["alpha"] and 0 <= stored["alpha"] <= 1
    _fused_matches(copy, stored["alpha"])
    again = subprocess.run([sys.executable, "-m", "hybrid.cli.main", "--index", str(copy),
                            "status", "--json"], capture_output=True, text=True, timeout=600,
                           env={**os.environ, **env, "HF_HUB_OFFLINE": "1"})
    assert json.loads(again.stdout)["fused_vector"]["pending"] == 0  # the workers agree
