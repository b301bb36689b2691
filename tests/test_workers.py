"""Vectors through the queue: a real Redis server and real Celery workers.

A small catalog of real products (images from the shared catalog, spoken clips from the
dev set) plus a corrupt image and a silent clip goes in through `hybrid index` with
REDIS_URL set; workers compute the vectors. Workers and Redis are killed with SIGKILL
mid-way; every product still ends with its vectors, none written twice. Each test runs
on the embedded engine and on OpenSearch (the test node of conftest's opensearch_url).
"""

from __future__ import annotations

import json
import os
import random
import struct
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hybrid.engines import open_index
from hybrid.testing.servers import CeleryWorker, RedisServer, ServerMissing

pytestmark = [pytest.mark.integration, pytest.mark.slow]
HYBRID = Path(sys.executable).parent / "hybrid"
FIELDS = ("text_vector", "image_vector", "audio_vector")


def _silent_wav(path: Path, seconds: float = 1.0) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(struct.pack("<h", 0) * int(16000 * seconds))


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: Any, shared_data: Path) -> Path:
    folder = tmp_path_factory.mktemp("catalog")
    rows = [json.loads(line) for line in
            (shared_data / "catalog" / "products.jsonl").read_text().splitlines()[:40]]
    out = []
    for r in rows:
        out.append({"id": r["product_id"], "title": r["title"],
                    "category": [r.get("master_category", ""), r.get("article_type", "")],
                    "attributes": {"colour": r.get("colour", "")},
                    "images": [str(shared_data / "catalog" / r["image"])]})
    (folder / "corrupt.jpg").write_bytes(os.urandom(2048))
    out.append({"id": "bad-image", "title": "Broken photo shirt",
                "images": [str(folder / "corrupt.jpg")]})
    clips = [json.loads(line) for line in
             (shared_data / "dev" / "spoken" / "queries.jsonl").read_text().splitlines()[:2]]
    for i, c in enumerate(clips):
        out.append({"id": f"voice{i}", "title": f"Voice note {i}",
                    "audio": [str(shared_data / "dev" / c["audio"])]})
    _silent_wav(folder / "silence.wav")
    out.append({"id": "silent", "title": "Quiet product", "audio": [str(folder / "silence.wav")]})
    path = folder / "products.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in out) + "\n")
    return path


@pytest.fixture(params=["embedded", "opensearch"])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where the products go: an index folder, or a fresh OpenSearch index."""
    if request.param == "embedded":
        yield str(tmp_path / "ix")
        return
    yield request.getfixturevalue("os_locator")


@pytest.fixture
def redis(tmp_path: Path) -> Any:
    try:
        server = RedisServer(tmp_path / "redis")
    except ServerMissing as e:
        pytest.skip(str(e))
    server.start()
    yield server
    server.stop()


def hybrid(index: str | Path, *args: str,
           redis_url: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1",  # images and clips are outside the catalog's
           "HYBRID_MEDIA_ROOTS": str(Path(__file__).resolve().parents[2] / "shared" / "data")}
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    return subprocess.run([str(HYBRID), "--index", str(index), *args], capture_output=True,
                          text=True, env=env, timeout=300)


def expected_states(catalog: Path) -> dict[str, dict[str, str]]:
    docs = [json.loads(line) for line in catalog.read_text().splitlines()]
    out = {}
    for d in docs:
        out[d["id"]] = {
            "text_vector": "done",
            "image_vector": "failed" if d["id"] == "bad-image" else
            ("done" if d.get("images") else "none"),
            "audio_vector": "failed" if d["id"] == "silent" else
            ("done" if d.get("audio") else "none")}
    return out


def wait_until_settled(index: str, catalog: Path, timeout: float = 240) -> dict[str, Any]:
    """Poll the index until every vector is done or failed as expected."""
    want = expected_states(catalog)
    deadline = time.monotonic() + timeout
    engine = open_index(index)
    info: dict[str, Any] = {}
    try:
        while time.monotonic() < deadline:
            info = {f: engine.vector_info(f) for f in FIELDS}
            missing = [(i, f) for i, states in want.items() for f, s in states.items()
                       if (s == "done" and i not in info[f])
                       or (s == "failed" and not info[f].get(i, {}).get("error"))]
            if not missing:
                return info
            time.sleep(0.5)
    finally:
        engine.close()
    raise AssertionError(f"not settled after {timeout} s; missing e.g. {missing[:5]}")


def check_written_once(info: dict[str, Any]) -> None:
    twice = [(f, i, v["writes"]) for f, per in info.items() for i, v in per.items()
             if v.get("writes", 1) != 1 and not v.get("error")]
    assert twice == [], f"vectors written more than once: {twice[:5]}"


def test_ingest_through_the_queue(tmp_path: Path, catalog: Path, redis: RedisServer,
                                  index: str) -> None:
    worker = CeleryWorker(redis.url, tmp_path / "worker.log")
    worker.start()
    try:
        res = hybrid(index, "index", str(catalog), "--no-progress", redis_url=redis.url)
        assert res.returncode == 0, res.stderr
        assert "celery" in res.stdout and "enqueued" in res.stdout
        info = wait_until_settled(index, catalog)
        check_written_once(info)
        assert "image" in info["image_vector"]["bad-image"]["error"]
        assert "silent" in info["audio_vector"]["silent"]["error"]
        engine = open_index(index)
        transcript = engine.get("voice0").get("transcript", "")
        assert transcript, "the spoken clip's transcript joins the product's text"
        assert engine.lexical_search(transcript.split()[-1]).total >= 1
        if index.startswith("opensearch:"):  # the worker's vector is in OpenSearch's k-NN field
            stored = engine.client.get(index=engine.alias, id="voice0",
                                       _source_includes="text_vector")["_source"]["text_vector"]
            hit = engine.knn_search("text_vector", stored, k=1).hits[0]
            assert hit.id == "voice0" and hit.score == pytest.approx(1.0, abs=1e-4)
        engine.close()
        status = hybrid(index, "status", "--json")
        counts = json.loads(status.stdout)
        assert counts["image_vector"]["failed"] == 1 and counts["audio_vector"]["failed"] == 1
        assert counts["text_vector"]["pending"] == 0 and counts["text_vector"]["done"] == 44
        # Re-ingesting the unchanged catalog plans no vector work at all, once the
        # fused vectors (computed from the others, so last) are done too.
        deadline = time.monotonic() + 120
        while any(c.get("pending") for c in counts.values()) and time.monotonic() < deadline:
            time.sleep(0.5)
            counts = json.loads(hybrid(index, "status", "--json").stdout)
        assert not any(c.get("pending") for c in counts.values()), counts
        again = hybrid(index, "index", str(catalog), "--no-progress", redis_url=redis.url)
        assert again.returncode == 0, again.stderr
        assert "planned" in again.stdout and "enqueued" not in again.stdout
    finally:
        worker.stop()


def test_killed_worker_and_redis_lose_nothing(tmp_path: Path, catalog: Path,
                                              redis: RedisServer, index: str) -> None:
    rng = random.Random()
    worker = CeleryWorker(redis.url, tmp_path / "worker.log", concurrency=1)
    worker.start()
    try:
        res = hybrid(index, "index", str(catalog), "--no-progress", redis_url=redis.url)
        assert res.returncode == 0, res.stderr
        engine = open_index(index)
        deadline = time.monotonic() + 120
        while not engine.vector_info("text_vector") and time.monotonic() < deadline:
            time.sleep(0.1)
        engine.close()
        time.sleep(rng.uniform(0, 0.5))
        worker.kill()  # mid-batch: its unacked task comes back after the visibility timeout
        redis.kill()  # and the broker too, with tasks still queued
        redis.start()
        worker = CeleryWorker(redis.url, tmp_path / "worker2.log", concurrency=1)
        worker.start()
        # Whatever the dead broker lost is still pending in the index: enqueue it again.
        again = hybrid(index, "encode", "--no-progress", redis_url=redis.url)
        assert again.returncode == 0, again.stderr
        check_written_once(wait_until_settled(index, catalog))
    finally:
        worker.stop()


def test_embedded_mode_needs_no_server(catalog: Path, index: str) -> None:
    res = hybrid(index, "index", str(catalog), "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "in-process" in res.stdout
    check_written_once(wait_until_settled(index, catalog, timeout=5))


@pytest.mark.unit
def test_every_modality_goes_to_a_queue_the_workers_take() -> None:
    """The reported case: fused_vector jobs were sent to a queue named "fused", which
    the app did not declare and no worker took, so with Celery workers (and an image
    alignment, which plans the field) every fused vector stayed pending for ever."""
    import yaml

    from hybrid.ingest.plan import DEFAULT_SPECS, QUEUES
    from workers.app import app

    declared = {q.name for q in app.conf.task_queues}
    assert {QUEUES[s.modality] for s in DEFAULT_SPECS} <= declared
    compose = yaml.safe_load((Path(__file__).parents[1] / "docker-compose.yml").read_text())
    taken = {q for svc in compose["services"].values() if "-Q" in (svc.get("command") or [])
             for q in svc["command"][svc["command"].index("-Q") + 1]
             .split(":-", 1)[-1].rstrip("}").split(",")}
    assert declared <= taken


@pytest.mark.unit
def test_vectors_that_read_the_text_wait_for_the_transcript() -> None:
    """A fused job planned before the transcript wrote after the one the transcript asked
    for (its text was older), so two spoken products stayed pending for ever."""
    from hybrid.ingest.plan import DEFAULT_SPECS, READS_TEXT, awaits_transcript

    spoken = {"id": "v", "title": "voice note", "audio": ["v.wav"]}
    waiting = {s.field for s in DEFAULT_SPECS if awaits_transcript(spoken, s)}
    assert waiting == {s.field for s in DEFAULT_SPECS if s.modality in READS_TEXT}
    assert {"text_vector", "fused_vector"} <= waiting
    assert not any(awaits_transcript(spoken | {"transcript": "hello"}, s) for s in DEFAULT_SPECS)
