"""The session signal on a real embedded index and a real SQLite event store: a
shopper's touched products pull their neighbours up, a shopper with no history gets
exactly the ranking without the signal, user vectors expire, and deleting a user
leaves nothing of theirs in the store's file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from docvec import small_mapping

from hybrid.engines.embedded import EmbeddedEngine
from hybrid.planner.plan import parse_request
from hybrid.planner.profile import KNN, LEXICAL, SESSION, TEXT, Profile, Signal
from hybrid.search.events import SQLiteEventStore
from hybrid.search.searcher import Searcher
from hybrid.search.session import (
    NO_HISTORY,
    SessionVectors,
    combine,
    decayed_mean,
    session_weights,
)

NOW = 1_800_000_000.0
PROFILE = Profile("personal", (Signal("bm25", LEXICAL, TEXT, 1.0),
                               Signal("session", KNN, SESSION, 1.0, "text_vector",
                                      "stored:text_vector")))


def _unit(i: int) -> list[float]:
    v = [0.0] * 8
    v[i % 8] = 1.0
    v[(i + 1) % 8] = 0.2
    return v


@pytest.mark.unit
def test_decayed_mean_and_weights() -> None:
    a, b = np.eye(2, dtype=np.float32)
    assert decayed_mean([], []) is None and decayed_mean([a], [0.0]) is None
    assert np.allclose(decayed_mean([a, b], [1, 1]), np.array([1, 1]) / np.sqrt(2))
    w = session_weights(["click", "click", "click", "click"])
    assert w[-1] == 1.0 and w[0] == pytest.approx(0.5)  # three events later: half
    assert session_weights(["purchase"])[0] > session_weights(["view"])[0]
    assert session_weights(["impression"]) == [0.0]
    assert combine(None, None) is None
    assert np.allclose(combine(a, None), a)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Searcher, SQLiteEventStore]]:
    engine = EmbeddedEngine(tmp_path / "index", mapping=small_mapping(tmp_path))
    engine.add([{"id": f"p{i}", "title": f"blue shirt {i}",
                 "vectors": {"text_vector": _unit(i)}} for i in range(16)])
    store = SQLiteEventStore(tmp_path / "index" / "events.sqlite")
    s = Searcher(engine)
    yield s, store
    s.pool.shutdown()
    engine.close()


def _events(store: SQLiteEventStore, user: str, session: str, products: list[str],
            at: float = NOW) -> None:
    store.log_query({"query_id": f"q-{user}-{session}", "timestamp": at, "user_query": "shirt",
                     "user_id": user, "session_id": session, "hits": products})
    store.add_events([{"event_id": f"{user}-{session}-{i}", "query_id": f"q-{user}-{session}",
                       "action_name": "click", "object_id": p, "position": i + 1,
                       "timestamp": at + i} for i, p in enumerate(products)])


def _search(s: Searcher, store: SQLiteEventStore, user: str | None, session: str | None,
            profile: Profile = PROFILE, **data: Any) -> dict[str, Any]:
    vectors, unavailable = SessionVectors(store, s.engine).inputs(profile, user, session,
                                                                   now=NOW + 60)
    return s.search(parse_request({"q": "blue shirt", "size": 16, **data}, s.engine.schema),
                    profile, vectors=vectors, unavailable=unavailable)


@pytest.mark.integration
def test_session_pulls_up_what_the_shopper_touched(world: Any) -> None:
    s, store = world
    _events(store, "u1", "s1", ["p3", "p3", "p11"])  # p3 and p11 share a direction
    res = _search(s, store, "u1", "s1", explain=True)
    assert [x["name"] for x in res["signals"]] == ["bm25", "session"]
    assert {h["id"] for h in res["hits"][:2]} == {"p3", "p11"}
    assert "vector" not in str(res["hits"][0]["explain"]["session"])  # only scores
    by_user = _search(s, store, "u1", None)  # the user's stored vector alone
    assert {h["id"] for h in by_user["hits"][:2]} == {"p3", "p11"}


@pytest.mark.integration
def test_no_history_is_the_ranking_without_the_signal(world: Any) -> None:
    s, store = world
    _events(store, "u1", "s1", ["p3"])
    new = _search(s, store, "u2", "s9", explain=True)
    assert new["skipped"] == {"session": NO_HISTORY}
    without = _search(s, store, "u2", "s9", profile=replace(PROFILE, signals=PROFILE.signals[:1]))
    assert [(h["id"], h["score"]) for h in new["hits"]] == \
           [(h["id"], h["score"]) for h in without["hits"]]
    anonymous = _search(s, store, None, None)
    assert [h["id"] for h in anonymous["hits"]] == [h["id"] for h in without["hits"]]


@pytest.mark.integration
def test_user_vectors_expire(world: Any) -> None:
    s, store = world
    _events(store, "u1", "s1", ["p3"], at=NOW - 40 * 86400)  # older than the 30 days
    sv = SessionVectors(store, s.engine, days=30)
    assert sv.user_vector("u1", "text_vector", NOW) is None
    store.put_user_vector("u1", "text_vector", np.ones(8, dtype=np.float32), NOW - 40 * 86400,
                          NOW - 31 * 86400)
    sv.user_vector("u1", "text_vector", NOW)
    assert store.user_vector("u1", "text_vector") is None  # deleted, not just ignored


@pytest.mark.integration
def test_delete_user_leaves_nothing_of_theirs(world: Any, tmp_path: Path) -> None:
    s, store = world
    _events(store, "shopper-42", "sess-42", ["p1", "p2"])
    _events(store, "other", "sess-7", ["p5"])
    # an event sent with the session id only, after a search logged with the user
    store.add_events([{"event_id": "e-anon", "query_id": "q-x", "action_name": "view",
                       "object_id": "p4", "session_id": "sess-42", "timestamp": NOW}])
    assert _search(s, store, "shopper-42", "sess-42")["skipped"] == {}
    assert store.user_vector("shopper-42", "text_vector") is not None
    counts = store.delete_user("shopper-42")
    assert counts == {"events": 3, "queries": 1, "user_vectors": 1}
    path = tmp_path / "index" / "events.sqlite"
    db = sqlite3.connect(path)
    for table in ("queries", "events", "user_vectors"):
        rows = db.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608 - fixed names
        assert not [r for r in rows if "shopper-42" in map(str, r) or "sess-42" in map(str, r)]
    assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1  # the other's stay
    db.close()
    for f in path.parent.glob("events.sqlite*"):
        raw = f.read_bytes()
        assert b"shopper-42" not in raw and b"sess-42" not in raw, f
    assert _search(s, store, "shopper-42", None)["skipped"] == {"session": NO_HISTORY}
