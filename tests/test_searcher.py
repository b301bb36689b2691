"""The searcher on a real embedded index, with encoders that fail at query time: the
signals that can still run answer, and the failed ones are listed with their reason."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from engine_conformance import DIM, corpus, small_schema

from hybrid.engines.embedded import EmbeddedEngine
from hybrid.errors import EngineError, UnavailableError
from hybrid.planner.plan import parse_request
from hybrid.planner.profile import KNN, LEXICAL, TEXT, Profile, Signal
from hybrid.search.searcher import Searcher

pytestmark = pytest.mark.integration


class FixedEncoder:
    """A real encoder of fixed output: loads fine; `fail` makes it raise on a query,
    `nan` makes it return a vector that is not finite, `objects` one that is not numbers."""

    modality, dim, version = "text", DIM, "test/1"

    def __init__(self, name: str, fail: bool = False, nan: bool = False,
                 objects: bool = False) -> None:
        self.name, self.fail, self.nan, self.objects = name, fail, nan, objects

    def encode_queries(self, items: Any, batch_size: int = 32) -> np.ndarray:
        if self.fail:
            raise RuntimeError("CUDA error: device-side assert triggered at /srv/models/x")
        if self.objects:
            return np.array([[None] * DIM for _ in items], dtype=object)
        v = np.full((len(items), DIM), np.nan if self.nan else 1.0, dtype=np.float32)
        return v / np.sqrt(DIM)

    encode_documents = encode_queries


ENCODERS = {"good": FixedEncoder("good"), "broken": FixedEncoder("broken", fail=True),
            "nan": FixedEncoder("nan", nan=True), "objects": FixedEncoder("objects", objects=True)}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: Any) -> Any:
    e = EmbeddedEngine(Path(tmp_path_factory.mktemp("searcher")) / "index",
                       mapping=small_schema())
    e.add(corpus())
    yield e
    e.close()


def profile(*encoders: str, lexical: bool = True) -> Profile:
    signals = [Signal("bm25", LEXICAL, TEXT, 1.0)] if lexical else []
    signals += [Signal(f"text:{name}", KNN, TEXT, 1.0, "text_vector", name) for name in encoders]
    return Profile("p", tuple(signals))


def run(engine: Any, p: Profile, **kw: Any) -> dict[str, Any]:
    searcher = Searcher(engine, encoder=ENCODERS.__getitem__, **kw)
    return searcher.search(parse_request({"q": "running shoes"}, engine.schema), p)


@pytest.mark.parametrize("bad", ["broken", "nan", "objects"])
def test_an_encoder_failing_on_a_query_skips_its_signal(engine: Any, bad: str) -> None:
    """The signal is skipped with the reason, and the search answers: a vector of
    objects once left its early-started k-NN unanswered, and the search waited forever
    (run in a daemon thread here, so such a hang fails the test instead)."""
    answer: list[dict[str, Any]] = []
    caller = threading.Thread(target=lambda: answer.append(run(engine, profile("good", bad))),
                              daemon=True)
    caller.start()
    caller.join(30)
    assert answer, "the search did not answer"
    res = answer[0]
    assert [s["name"] for s in res["signals"]] == ["bm25", "text:good"]
    assert res["hits"] and res["total"] > 0
    why = res["skipped"][f"text:{bad}"]
    assert f"encoder {bad} failed on this query" in why
    assert "/srv" not in why  # the exception's text stays in the server log


def test_when_no_signal_can_run_the_search_is_unavailable(engine: Any) -> None:
    with pytest.raises(UnavailableError, match="no signal could answer"):
        run(engine, profile("broken", lexical=False))


def test_a_failed_transcription_leaves_the_acoustic_signal(engine: Any) -> None:
    def deaf(_: np.ndarray) -> str:
        raise RuntimeError("decoder crashed")

    searcher = Searcher(engine, encoder=ENCODERS.__getitem__, transcribe=deaf)
    p = Profile("p", (Signal("bm25", LEXICAL, TEXT, 1.0),
                      Signal("audio:text_vector", KNN, "audio", 1.0, "text_vector", "good")))
    req = parse_request({}, engine.schema, audio=True)
    res = searcher.search(req, p, audio=np.zeros(16000, np.float32))
    assert [s["name"] for s in res["signals"]] == ["audio:text_vector"]
    assert "could not be transcribed" in res["skipped"]["bm25"]
    with pytest.raises(UnavailableError):
        searcher.search(req, Profile("lex", (Signal("bm25", LEXICAL, TEXT, 1.0),)),
                        audio=np.zeros(16000, np.float32))


class GraphlessEngine(EmbeddedEngine):
    """A real embedded index whose k-NN searches fail inside the engine, as an
    unreadable HNSW graph makes them."""

    def _knn_candidates(self, r: Any) -> Any:
        raise EngineError("cannot read the HNSW graph")


def test_a_sub_query_failing_in_the_engine_leaves_the_others(tmp_path: Path) -> None:
    """With its query vector given, the plan's sub-queries go to the engine together
    (search_many); when that fails they run again one by one, so BM25 still answers."""
    e = GraphlessEngine(tmp_path / "index", mapping=small_schema())
    try:
        e.add(corpus())
        searcher = Searcher(e, encoder=ENCODERS.__getitem__)
        req = parse_request({"q": "running shoes"}, e.schema)
        vec = np.ones(DIM, np.float32) / np.sqrt(DIM)
        res = searcher.search(req, profile("good"), vectors={"text:good": vec})
        assert [s["name"] for s in res["signals"]] == ["bm25"] and res["hits"]
        assert "the sub-query failed (EngineError" in res["skipped"]["text:good"]
        assert "HNSW" not in res["skipped"]["text:good"]  # the details stay in the log
    finally:
        e.close()


def test_given_vectors_search_as_encoded_ones(engine: Any) -> None:
    """The same plan, its query vector encoded (BM25 runs while it is encoded) or given
    (all sub-queries go to the engine together), ranks the same."""
    searcher = Searcher(engine, encoder=ENCODERS.__getitem__)
    req = parse_request({"q": "running shoes"}, engine.schema)
    encoded = searcher.search(req, profile("good"))
    given = searcher.search(req, profile("good"), vectors={
        "text:good": ENCODERS["good"].encode_queries(["running shoes"])[0]})
    assert [(h["id"], h["score"]) for h in given["hits"]] == \
        [(h["id"], h["score"]) for h in encoded["hits"]]
    assert given["total"] == encoded["total"]


class SlowEncoder(FixedEncoder):
    """Encodes only once `go` is set (or after `wait` seconds); `saw` tells which."""

    def __init__(self, name: str, go: threading.Event, wait: float = 10.0) -> None:
        super().__init__(name)
        self.go, self.wait, self.saw = go, wait, False

    def encode_queries(self, items: Any, batch_size: int = 32) -> np.ndarray:
        self.saw = self.go.wait(self.wait)
        return super().encode_queries(items, batch_size)


class WatchedEngine(EmbeddedEngine):
    """A real embedded index that sets `searched` when a batch of sub-queries reaches it."""

    searched = threading.Event()

    def search_many(self, bodies: Any) -> Any:
        self.searched.set()
        return super().search_many(bodies)


def test_a_finished_encoders_sub_queries_start_while_another_still_encodes(
        tmp_path: Path) -> None:
    """Text encoders finish before an image one: their k-NN sub-queries do not wait."""
    e = WatchedEngine(tmp_path / "index", mapping=small_schema())
    try:
        e.add(corpus())
        slow = SlowEncoder("slow", e.searched)
        encoders = {"good": ENCODERS["good"], "slow": slow}
        searcher = Searcher(e, encoder=encoders.__getitem__)
        res = searcher.search(parse_request({"q": "running shoes"}, e.schema),
                              profile("good", "slow"))
        assert slow.saw, "the finished encoder's k-NN waited for the slow encoder"
        assert [s["name"] for s in res["signals"]] == ["bm25", "text:good", "text:slow"]
        assert all(s["hits"] for s in res["signals"]) and not res["skipped"]
    finally:
        e.close()


class WaitingProjection:
    """A derived encoder (the aligned image encoder's shape) over `base`, whose map
    waits until the engine has been sent a batch of sub-queries (or `wait` seconds)."""

    modality, dim, version = "text", DIM, "test/1"

    def __init__(self, base: FixedEncoder, searched: threading.Event) -> None:
        self.base, self.searched, self.saw = base, searched, False

    def from_base(self, vectors: np.ndarray) -> np.ndarray:
        self.saw = self.searched.wait(10.0)
        return vectors

    def encode_queries(self, items: Any, batch_size: int = 32) -> np.ndarray:
        return self.from_base(self.base.encode_queries(items))


def test_an_encoders_own_sub_queries_start_before_its_derived_vectors_are_made(
        tmp_path: Path) -> None:
    """A photo's EfficientNet vector is searched while it is still being mapped to the
    aligned text-space vector, not after: the derived map here waits for that search."""
    e = WatchedEngine(tmp_path / "index", mapping=small_schema())
    e.searched = threading.Event()
    try:
        e.add(corpus())
        derived = WaitingProjection(ENCODERS["good"], e.searched)
        encoders = {"good": ENCODERS["good"], "derived": derived}
        searcher = Searcher(e, encoder=encoders.__getitem__)
        res = searcher.search(parse_request({"q": "running shoes"}, e.schema),
                              profile("good", "derived", lexical=False))
        assert derived.saw, "the base encoder's k-NN waited for the derived vector"
        assert [s["name"] for s in res["signals"]] == ["text:good", "text:derived"]
        assert all(s["hits"] for s in res["signals"]) and not res["skipped"]
        good, both = (searcher.search(parse_request({"q": "running shoes"}, e.schema),
                                      profile(*names, lexical=False))
                      for names in (["good"], ["good", "derived"]))
        assert [h["id"] for h in good["hits"]] == [h["id"] for h in both["hits"]]
    finally:
        e.close()


def test_a_started_sub_query_that_fails_leaves_the_others(tmp_path: Path) -> None:
    e = GraphlessEngine(tmp_path / "index", mapping=small_schema())
    try:
        e.add(corpus())
        slow = SlowEncoder("slow", threading.Event(), wait=0.3)
        encoders = {"good": ENCODERS["good"], "slow": slow}
        searcher = Searcher(e, encoder=encoders.__getitem__)
        res = searcher.search(parse_request({"q": "running shoes"}, e.schema),
                              profile("good", "slow"))
        assert [s["name"] for s in res["signals"]] == ["bm25"] and res["hits"]
        for name in ("text:good", "text:slow"):
            assert "the sub-query failed (EngineError" in res["skipped"][name]
    finally:
        e.close()


def test_a_searching_process_runs_blas_on_one_thread(engine: Any) -> None:
    """numpy's BLAS threads fought the encoders' torch threads for the cores: a photo's
    1280 -> 384 projection took 15.7 ms on a busy machine, 0.25 ms on one thread."""
    from threadpoolctl import threadpool_info, threadpool_limits

    with threadpool_limits(2, user_api="blas"):
        Searcher(engine, encoder=ENCODERS.__getitem__)
        blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
        assert blas and all(i["num_threads"] == 1 for i in blas), blas
