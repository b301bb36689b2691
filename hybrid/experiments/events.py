"""UBI events (User Behavior Insights): validation into one flat record. Pure.

An event is what a user did with a search's results:

    {"action_name": "click", "query_id": "...", "object_id": "f15970", "position": 3,
     "user_id": "u1", "session_id": "s1", "timestamp": "2026-11-30T12:00:00Z",
     "event_id": "...", "user_query": "boys blue shirts", "value": 29.9}

- `action_name`: impression, click, view (a product page seen), add_to_cart or purchase.
- `query_id` (the search's, from its response) and `object_id` (the product) are
  required; `position` (1-based) is required for impressions and clicks.
- UBI's nested form is read too: `event_attributes.object.object_id` and
  `event_attributes.position.ordinal`; `client_id` is taken as the user id.
- `event_id` makes a retry count once; without one, the id is a hash of the event's
  content, so resending the same event is also a duplicate.
- `timestamp`: ISO 8601 or seconds since the epoch; the server's time when absent.

These are the field names `hybrid learn --clicks` reads (`hybrid.learning.clicks`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hybrid.errors import QueryError

ACTIONS = ("impression", "click", "view", "add_to_cart", "purchase")
POSITIONED = ("impression", "click")
CONVERSIONS = ("add_to_cart", "purchase")
MAX_ID = 256
MAX_POSITION = 10_000
_KEYS = {"event_id", "action_name", "query_id", "object_id", "position", "user_id",
         "session_id", "client_id", "timestamp", "user_query", "value", "event_attributes",
         "message", "message_type", "application", "object_id_field"}


class EventError(QueryError):
    """An event is malformed; `field` names the field at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"'{field}' {reason}")
        self.field = field


def validate(raw: Any, now: float) -> dict[str, Any]:
    """The event as a flat record with every known field (None where absent) and
    `timestamp` in epoch seconds; raises EventError naming the first bad field."""
    if not isinstance(raw, Mapping):
        raise EventError("event", "must be a JSON object")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise EventError(unknown[0], f"is not an event field; use {', '.join(sorted(_KEYS))}")
    attrs = raw.get("event_attributes")
    if attrs is not None and not isinstance(attrs, Mapping):
        raise EventError("event_attributes", "must be an object")
    attrs = dict(attrs or {})
    action = raw.get("action_name")
    if action not in ACTIONS:
        raise EventError("action_name", f"must be one of {', '.join(ACTIONS)}, got {action!r}")
    obj: Mapping[str, Any] = attrs["object"] if isinstance(attrs.get("object"), Mapping) else {}
    pos: Mapping[str, Any] = (attrs["position"] if isinstance(attrs.get("position"), Mapping)
                              else {})
    event: dict[str, Any] = {
        "action_name": action,
        "query_id": _text(raw, "query_id", required=True),
        "object_id": _text({"object_id": raw.get("object_id", obj.get("object_id"))},
                           "object_id", required=True),
        "position": _position(raw.get("position", pos.get("ordinal")), action),
        "user_id": _text(raw, "user_id") or _text(raw, "client_id"),
        "session_id": _text(raw, "session_id"),
        "user_query": _text(raw, "user_query", limit=1000),
        "value": _value(raw.get("value")),
        "timestamp": _timestamp(raw.get("timestamp"), now),
    }
    event["event_id"] = _text(raw, "event_id") or _content_id(raw)
    return event


def _text(raw: Mapping[str, Any], key: str, required: bool = False, limit: int = MAX_ID
          ) -> str | None:
    v = raw.get(key)
    if v is None or v == "":
        if required:
            raise EventError(key, "is required")
        return None
    if isinstance(v, int | float) and not isinstance(v, bool):
        v = str(v)
    if not isinstance(v, str):
        raise EventError(key, f"must be a string, got {type(v).__name__}")
    if len(v) > limit:
        raise EventError(key, f"is {len(v)} characters long; the limit is {limit}")
    return v


def _position(v: Any, action: str) -> int | None:
    if v is None:
        if action in POSITIONED:
            raise EventError("position", f"is required for {action} events (1-based rank)")
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_POSITION:
        raise EventError("position", f"must be an integer from 1 to {MAX_POSITION}, got {v!r}")
    return v


def _value(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
        raise EventError("value", f"must be a non-negative number, got {v!r}")
    return float(v)


def _timestamp(v: Any, now: float) -> float:
    if v is None:
        return now
    if isinstance(v, int | float) and not isinstance(v, bool):
        if not math.isfinite(v) or not 0 <= v < 1e11:
            raise EventError("timestamp", f"seconds since the epoch out of range: {v!r}")
        return float(v)
    if isinstance(v, str):
        try:
            t = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError as e:
            raise EventError("timestamp", f"is not ISO 8601: {v!r}") from e
        if t.tzinfo is None:
            t = t.replace(tzinfo=UTC)
        try:
            return t.timestamp()
        except (OverflowError, OSError, ValueError) as e:
            raise EventError("timestamp", f"out of range: {v!r}") from e
    raise EventError("timestamp", "must be ISO 8601 text or seconds since the epoch")


def _content_id(raw: Mapping[str, Any]) -> str:
    body = json.dumps(raw, sort_keys=True, default=str, ensure_ascii=False)
    return "h" + hashlib.sha256(body.encode()).hexdigest()[:31]
