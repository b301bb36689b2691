"""Several processes on one embedded index: concurrent writers, and readers that keep up.

The engine promises that any number of processes may open an index, that writes from
several processes are serialised by file locks, and that a reader sees another process's
commit on its next call (it checks for changes on every call; no reopen, no refresh()).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from docvec import VEC_SRC, small_mapping, vec_for

from hybrid.engines.embedded import EmbeddedEngine

pytestmark = pytest.mark.integration

EVERYTHING = {"term": {"brand": "Acme"}}  # a filter every document here passes: exact k-NN
VISIBLE_WITHIN = 1.0  # seconds
BRAND_FACET = {"brand": {"terms": {"field": "brand"}}}


PRELUDE = (
    VEC_SRC
    + """
import sys

import hybrid.engines.embedded.vectors as vectors_module
from hybrid.engines.embedded import EmbeddedEngine


def doc(doc_id, **extra):
    return {"id": doc_id, "title": f"document {doc_id}", "brand": "Acme",
            "category": ["Test"], "price": 10.0, **extra}


def check(results, what):
    bad = [r for r in results if not r.ok]
    if bad:
        sys.exit(f"{what} refused: {bad[:3]}")
"""
)

# argv: index, prefix, count, batch. Opens the index, says READY, waits for "go" on
# stdin, then adds `count` documents in batches and gives each batch its vectors.
WRITER = (
    PRELUDE
    + """
vectors_module.FOLD_THRESHOLD = 100  # folds (under the fold lock) happen in both writers
index, prefix, count, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
engine = EmbeddedEngine(index)
print("READY", flush=True)
assert sys.stdin.readline().strip() == "go"
for start in range(0, count, batch):
    ids = [f"{prefix}-{n:04d}" for n in range(start, min(start + batch, count))]
    check(engine.add([doc(i) for i in ids]), "add")
    check(engine.set_vectors("text_vector", {i: vec_for(i) for i in ids}), "set_vectors")
engine.close()
"""
)

# argv: index, then one JSON command: {"add": [ids], "vectors": [ids], "fold": n}
ONE_SHOT = (
    PRELUDE
    + """
import json

index, cmd = sys.argv[1], json.loads(sys.argv[2])
if cmd.get("fold"):
    vectors_module.FOLD_THRESHOLD = cmd["fold"]
engine = EmbeddedEngine(index)
if cmd.get("add"):
    check(engine.add([doc(i, title=f"late arrival zebra {i}") for i in cmd["add"]]), "add")
if cmd.get("vectors"):
    check(engine.set_vectors("text_vector", {i: vec_for(i) for i in cmd["vectors"]}),
          "set_vectors")
if cmd.get("batches"):
    for b in range(cmd["batches"]):
        ids = [f"{cmd['prefix']}-{b:03d}-{n:02d}" for n in range(cmd["batch"])]
        check(engine.add([doc(i, vectors={"text_vector": vec_for(i)}) for i in ids]), "add")
engine.close()
"""
)


def new_index(tmp_path: Path) -> Path:
    index = tmp_path / "ix"
    EmbeddedEngine(index, mapping=small_mapping(tmp_path)).close()
    return index


def one_shot(index: Path, **cmd: Any) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", ONE_SHOT, str(index), json.dumps(cmd)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


def wait_for(probe: Callable[[], bool], limit: float = 5.0) -> float:
    """Seconds until `probe()` is true (polling); fails after `limit` seconds."""
    start = time.monotonic()
    while not probe():
        if time.monotonic() - start > limit:
            pytest.fail(f"not visible after {limit} s")
        time.sleep(0.005)
    return time.monotonic() - start


def top_id(engine: EmbeddedEngine, doc_id: str, **kw: Any) -> str | None:
    hits = engine.knn_search("text_vector", vec_for(doc_id), k=1, **kw).hits
    return hits[0].id if hits else None


# -- concurrent writers ---------------------------------------------------------------


def test_two_writer_processes_at_once(tmp_path: Path) -> None:
    index = new_index(tmp_path)
    count, batch = 300, 20
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(index), prefix, str(count), str(batch)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for prefix in ("alpha", "beta")
    ]
    try:
        for w in writers:  # both have the index open before either writes
            assert w.stdout is not None and w.stdout.readline().strip() == "READY"
        for w in writers:
            assert w.stdin is not None
            w.stdin.write("go\n")
            w.stdin.flush()
        outcomes = [w.communicate(timeout=120) for w in writers]
    finally:
        for w in writers:
            if w.poll() is None:
                w.kill()
                w.wait()
    for w, (_, err) in zip(writers, outcomes, strict=True):
        assert w.returncode == 0, err
        assert "Traceback" not in err and "locked" not in err, err

    ids = [f"{p}-{n:04d}" for p in ("alpha", "beta") for n in range(count)]
    with EmbeddedEngine(index) as engine:
        assert engine.count() == 2 * count
        assert engine.count({"term": {"brand": "Acme"}}) == 2 * count
        assert [i for i in ids if engine.get(i) is None] == []
        assert engine.stats()["vectors"]["text_vector"]["vectors"] == 2 * count
        # Every vector is stored, and is the one its writer set (exact search, cosine 1).
        lost = []
        for i in ids:
            hits = engine.knn_search("text_vector", vec_for(i), k=1, filter=EVERYTHING).hits
            if not hits or hits[0].id != i or hits[0].score < 1 - 1e-5:
                lost.append(i)
        assert lost == []
        # The HNSW path, fed by folds from both processes, finds every one of them too
        # (no node left unreachable, as usearch's threaded insert did: unum-cloud/USearch#735).
        missed = [i for i in ids if top_id(engine, i) != i]
        assert not missed, missed
        engine.commit()
        assert engine.stats()["vectors"]["text_vector"]["delta"] == 0
        assert [i for i in ids[::10] if top_id(engine, i, filter=EVERYTHING) != i] == []


def test_processes_creating_one_new_index_together(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom hybrid.engines.embedded import EmbeddedEngine\n"
        "print('READY', flush=True)\nsys.stdin.readline()\nEmbeddedEngine(sys.argv[1]).close()\n"
    )
    errors = []
    for attempt in range(3):
        index = tmp_path / f"ix{attempt}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", code, str(index)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        for p in procs:  # all imported and waiting; then released at once
            assert p.stdout is not None and p.stdout.readline().strip() == "READY"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("\n")
            p.stdin.flush()
        for p in procs:
            _, err = p.communicate(timeout=60)
            if p.returncode:
                errors.append(err.strip().splitlines()[-1])
    assert errors == []


# -- readers keep up with other processes ----------------------------------------------


def test_reader_sees_another_process_write_on_its_next_call(tmp_path: Path) -> None:
    index = new_index(tmp_path)
    with EmbeddedEngine(index) as reader:
        # The reader is warm: it has searched, so it holds a searcher and vector state.
        assert reader.add([{"id": "first", "title": "first", "brand": "Acme",
                            "vectors": {"text_vector": vec_for("first")}}])[0].ok  # fmt: skip
        assert reader.lexical_search("zebra").total == 0
        assert reader.get("late-1") is None
        assert top_id(reader, "late-1") == "first"

        one_shot(index, add=["late-1"])
        took = wait_for(lambda: reader.get("late-1") is not None)
        assert took < VISIBLE_WITHIN
        assert reader.lexical_search("zebra").hits[0].id == "late-1"
        assert reader.count() == 2

        one_shot(index, vectors=["late-1"])
        took = wait_for(lambda: top_id(reader, "late-1") == "late-1")
        assert took < VISIBLE_WITHIN
        assert top_id(reader, "late-1", filter=EVERYTHING) == "late-1"

        # Many writes with folds: the snapshot the reader holds is replaced (and its
        # files deleted) under it; its next call loads the new one.
        one_shot(index, batches=8, batch=25, prefix="bulk", fold=50)
        assert (index / "vectors" / "text_vector" / "snapshot.json").exists()
        took = wait_for(lambda: reader.count() == 2 + 200)
        assert took < VISIBLE_WITHIN
        assert reader.stats()["vectors"]["text_vector"]["vectors"] == 2 + 200
        for i in ["bulk-000-00", "bulk-003-11", "bulk-007-24", "late-1", "first"]:
            assert top_id(reader, i, filter=EVERYTHING) == i


def test_reader_searches_while_another_process_writes(tmp_path: Path) -> None:
    index = new_index(tmp_path)
    batches, batch = 30, 10
    writer = subprocess.Popen(
        [sys.executable, "-c", ONE_SHOT, str(index),
         json.dumps({"batches": batches, "batch": batch, "prefix": "w", "fold": 40})],
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    seen = []
    probe = np.asarray(vec_for("probe"))
    try:
        with EmbeddedEngine(index) as reader:
            while writer.poll() is None:  # no call may fail while files change under it
                seen.append(reader.count())
                reader.lexical_search("document", filter=EVERYTHING, facets=BRAND_FACET)
                reader.knn_search("text_vector", probe, k=5)
                reader.knn_search("text_vector", probe, k=5, filter=EVERYTHING)
            _, err = writer.communicate(timeout=60)
            assert writer.returncode == 0, err
            # The last commit is seen too, not only those before the reader's last call.
            took = wait_for(lambda: reader.count() == batches * batch)
            assert took < VISIBLE_WITHIN
            assert seen == sorted(seen)  # never goes back
            ids = [f"w-{b:03d}-{n:02d}" for b in range(batches) for n in range(batch)]
            assert reader.stats()["vectors"]["text_vector"]["vectors"] == len(ids)
            assert [i for i in ids if top_id(reader, i, filter=EVERYTHING) != i] == []
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
