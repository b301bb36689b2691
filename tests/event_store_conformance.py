"""The suite every event store inherits and passes (SQLite now; OpenSearch's UBI
indices when that store is written). A subclass provides an `event_store` fixture: a
fresh, empty store, removed after the test."""

from __future__ import annotations

from typing import Any

import pytest

from hybrid.experiments.events import validate

NOW = 1_764_500_000.0


def search(qid: str, experiment: str | None = "exp1", variant: str | None = "control",
           **extra: Any) -> dict[str, Any]:
    return {"query_id": qid, "timestamp": NOW, "user_query": f"text of {qid}",
            "user_id": "u1", "session_id": None, "experiment": experiment,
            "variant": variant, "profile": "default@1", "hits": ["a", "b"], "teams": None,
            "took_ms": 12.5} | extra


def click(qid: str, doc: str = "a", position: int = 1, **extra: Any) -> dict[str, Any]:
    return validate({"action_name": "click", "query_id": qid, "object_id": doc,
                     "position": position} | extra, NOW)


class EventStoreConformance:
    @pytest.fixture
    def event_store(self) -> Any:
        raise NotImplementedError

    def test_searches_round_trip_in_order_and_by_experiment(self, event_store: Any) -> None:
        event_store.log_query(search("q1", teams=["control", "treatment"]))
        event_store.log_query(search("q2", experiment=None, variant=None))
        event_store.log_query(search("q3", variant="treatment"))
        assert [q["query_id"] for q in event_store.queries()] == ["q1", "q2", "q3"]
        mine = list(event_store.queries("exp1"))
        assert [q["query_id"] for q in mine] == ["q1", "q3"]
        assert mine[0] == search("q1", teams=["control", "treatment"])

    def test_an_event_id_is_stored_once(self, event_store: Any) -> None:
        first = click("q1", event_id="e1")
        assert event_store.add_events([first, click("q1", "b", 2)]) == [True, True]
        assert event_store.add_events([first | {"position": 5}, click("q1", "b", 2)]
                                      ) == [False, False]
        stored = list(event_store.events())
        assert [(e["event_id"], e["position"]) for e in stored] == [
            ("e1", 1), (stored[1]["event_id"], 2)]

    def test_events_carry_their_search(self, event_store: Any) -> None:
        event_store.log_query(search("q1", variant="treatment"))
        event_store.add_events([click("q1"), click("elsewhere"),
                                click("q1", "b", 2, user_query="own text")])
        everything = list(event_store.events())
        assert len(everything) == 3
        joined, alone, own = everything
        assert (joined["user_query"], joined["experiment"], joined["variant"],
                joined["user_id"]) == ("text of q1", "exp1", "treatment", "u1")
        assert "experiment" not in alone and "user_query" not in alone
        assert own["user_query"] == "own text"
        assert [e["query_id"] for e in event_store.events("exp1")] == ["q1", "q1"]
