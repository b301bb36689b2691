"""The event store in OpenSearch, in the User Behavior Insights indices: searches in
`<prefix>ubi_queries`, events in `<prefix>ubi_events` (prefix empty by default, as the
UBI plugin names them). Documents follow UBI's shape: a search's shown ids in
`query_response_object_ids` and its experiment, variant and teams in `query_attributes`;
an event's product and rank in `event_attributes.object.object_id` and
`event_attributes.position.ordinal`, the user in `client_id`.

Events are created with their event id as the document id, so a second copy is refused
(409) and reported as a duplicate. Writes do not wait for a refresh (a search must not
wait a second for its log line); reads refresh the two indices first.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from hybrid.errors import EngineError

_KEYWORD = {"type": "keyword"}
_DATE = {"type": "date", "format": "strict_date_optional_time||epoch_millis"}
MAPPINGS = {
    "queries": {"properties": {
        "query_id": _KEYWORD, "user_query": _KEYWORD, "client_id": _KEYWORD,
        "session_id": _KEYWORD, "timestamp": _DATE, "logged": {"type": "long"},
        "query_response_object_ids": _KEYWORD,
        "query_attributes": {"properties": {
            "experiment": _KEYWORD, "variant": _KEYWORD, "profile": _KEYWORD,
            "teams": _KEYWORD, "took_ms": {"type": "float"}}}}},
    "events": {"properties": {
        "action_name": _KEYWORD, "query_id": _KEYWORD, "client_id": _KEYWORD,
        "session_id": _KEYWORD, "user_query": _KEYWORD, "timestamp": _DATE,
        "logged": {"type": "long"},
        "event_attributes": {"properties": {
            "object": {"properties": {"object_id": _KEYWORD}},
            "position": {"properties": {"ordinal": {"type": "integer"}}},
            "value": {"type": "double"}}}}},
}


class OpenSearchEventStore:
    """EventStore (`hybrid.search.events`) over an opensearch-py client."""

    def __init__(self, client: Any, prefix: str = "") -> None:
        self.client = client
        self.queries_index = f"{prefix}ubi_queries"
        self.events_index = f"{prefix}ubi_events"
        self._ready = False

    def _ensure(self) -> None:
        if self._ready:
            return
        for index, kind in ((self.queries_index, "queries"), (self.events_index, "events")):
            try:
                if not self.client.indices.exists(index=index):
                    self.client.indices.create(index=index, body={"mappings": MAPPINGS[kind]},
                                               params={"ignore": 400})  # created meanwhile
            except Exception as e:  # noqa: BLE001 - any client error is the store's
                raise EngineError(f"cannot create {index}: {e}") from e
        self._ready = True

    def log_query(self, record: Mapping[str, Any]) -> None:
        self._ensure()
        doc = {"query_id": record["query_id"], "user_query": record.get("user_query"),
               "client_id": record.get("user_id"), "session_id": record.get("session_id"),
               "timestamp": int(float(record["timestamp"]) * 1000), "logged": time.time_ns(),
               "query_response_object_ids": list(record.get("hits") or []),
               "query_attributes": {k: record.get(k) for k in
                                    ("experiment", "variant", "profile", "teams", "took_ms")}}
        try:
            self.client.index(index=self.queries_index, id=record["query_id"], body=doc)
        except Exception as e:  # noqa: BLE001
            raise EngineError(f"cannot write to {self.queries_index}: {e}") from e

    def add_events(self, events: Sequence[Mapping[str, Any]]) -> list[bool]:
        if not events:
            return []
        self._ensure()
        body: list[dict[str, Any]] = []
        for n, e in enumerate(events):
            body.append({"create": {"_index": self.events_index, "_id": e["event_id"]}})
            attributes: dict[str, Any] = {"object": {"object_id": e["object_id"]}}
            if e.get("position") is not None:
                attributes["position"] = {"ordinal": e["position"]}
            if e.get("value") is not None:
                attributes["value"] = e["value"]
            body.append({"action_name": e["action_name"], "query_id": e["query_id"],
                         "client_id": e.get("user_id"), "session_id": e.get("session_id"),
                         "user_query": e.get("user_query"),
                         "timestamp": int(float(e["timestamp"]) * 1000),
                         "logged": time.time_ns() + n, "event_attributes": attributes})
        try:
            res = self.client.bulk(body=body)
        except Exception as e:  # noqa: BLE001
            raise EngineError(f"cannot write events to {self.events_index}: {e}") from e
        out = []
        for item in res["items"]:
            status = item["create"]["status"]
            if status not in (201, 409):
                raise EngineError(f"cannot write an event to {self.events_index}: "
                                  f"{item['create'].get('error')}")
            out.append(status == 201)
        return out

    def queries(self, experiment: str | None = None) -> Iterator[dict[str, Any]]:
        query = ({"term": {"query_attributes.experiment": experiment}}
                 if experiment is not None else {"match_all": {}})
        for doc in self._scan(self.queries_index, query):
            attrs = doc.get("query_attributes") or {}
            yield {"query_id": doc["query_id"], "timestamp": doc["timestamp"] / 1000,
                   "user_query": doc.get("user_query"), "user_id": doc.get("client_id"),
                   "session_id": doc.get("session_id"), "experiment": attrs.get("experiment"),
                   "variant": attrs.get("variant"), "profile": attrs.get("profile"),
                   "hits": list(doc.get("query_response_object_ids") or []),
                   "teams": attrs.get("teams"), "took_ms": attrs.get("took_ms")}

    def events(self, experiment: str | None = None) -> Iterator[dict[str, Any]]:
        searches = {q["query_id"]: q for q in self.queries(experiment)}
        for doc in self._scan(self.events_index, {"match_all": {}}):
            q = searches.get(doc["query_id"])
            if experiment is not None and q is None:
                continue
            q = q or {}
            attrs = doc.get("event_attributes") or {}
            row = {"event_id": doc["_id"], "query_id": doc["query_id"],
                   "action_name": doc["action_name"],
                   "object_id": (attrs.get("object") or {}).get("object_id"),
                   "position": (attrs.get("position") or {}).get("ordinal"),
                   "user_id": doc.get("client_id") or q.get("user_id"),
                   "session_id": doc.get("session_id") or q.get("session_id"),
                   "user_query": doc.get("user_query") or q.get("user_query"),
                   "value": attrs.get("value"), "timestamp": doc["timestamp"] / 1000,
                   "experiment": q.get("experiment"), "variant": q.get("variant")}
            yield {k: v for k, v in row.items() if v is not None}

    def _scan(self, index: str, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every matching document, oldest logged first."""
        from opensearchpy import helpers

        self._ensure()
        try:
            self.client.indices.refresh(index=index)
            hits = list(helpers.scan(self.client, index=index, preserve_order=True,
                                     query={"query": query, "sort": [{"logged": "asc"}]}))
        except Exception as e:  # noqa: BLE001
            raise EngineError(f"cannot read {index}: {e}") from e
        for hit in hits:
            yield hit["_source"] | {"_id": hit["_id"]}
