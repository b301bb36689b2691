"""The shopper's own behaviour as a signal: session and user vectors from UBI events.

A shopper's events (views, clicks, add-to-cart, purchases; not impressions) name the
products they touched. The *session vector* is the weighted mean of those products'
stored vectors in one field over the session's events, each weighted by its action and
halved every SESSION_HALF_LIFE later events; the *user vector* is the same over the
user's events of the last `days` days, halved every USER_HALF_LIFE_DAYS of age, and is
stored (`EventStore.put_user_vector`) until it is `days` old. A "session" signal's
query vector is the session vector plus LONG_TERM_SHARE of the user vector (both unit
length), and it re-ranks what the query's other signals found (`Searcher.retrieve`).
A shopper with no events has no vector: the signal is skipped, and the ranking is the
one the profile gives without it. Vectors are never returned by the API.

`decayed_mean`, `session_weights`, `user_weights` and `combine` are pure;
`SessionVectors` reads the event store and the engine.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hybrid.planner.profile import SESSION, Profile, stored_field

ACTION_WEIGHTS = {"view": 0.5, "click": 1.0, "add_to_cart": 2.0, "purchase": 3.0}
SESSION_HALF_LIFE = 3.0       # events: an event counts half as much 3 events later
SESSION_WINDOW_S = 1800.0     # without a session id: the user's last 30 minutes
SESSION_EVENTS = 50           # the most recent events a session vector is made of
USER_HALF_LIFE_DAYS = 7.0
LONG_TERM_SHARE = 0.5         # the user vector's weight beside the session's
NO_HISTORY = "no events of this shopper yet (send user_id or session_id with their events)"


def decayed_mean(vectors: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray | None:
    """Unit-length weighted mean of the vectors (rows of equal length); None if there
    are none, the weights are all 0 or the mean is the zero vector."""
    pairs = [(v, w) for v, w in zip(vectors, weights, strict=True) if w > 0]
    if not pairs:
        return None
    mean = np.sum([w * np.asarray(v, dtype=np.float64) for v, w in pairs], axis=0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm).astype(np.float32) if norm > 0 else None


def session_weights(actions: Sequence[str]) -> list[float]:
    """Weights of a session's events, oldest first: action weight, halved every
    SESSION_HALF_LIFE later events."""
    n = len(actions)
    return [ACTION_WEIGHTS.get(a, 0.0) * 0.5 ** ((n - 1 - i) / SESSION_HALF_LIFE)
            for i, a in enumerate(actions)]


def user_weights(actions: Sequence[str], timestamps: Sequence[float], now: float
                 ) -> list[float]:
    """Weights of a user's events: action weight, halved every USER_HALF_LIFE_DAYS."""
    return [ACTION_WEIGHTS.get(a, 0.0) * 0.5 ** (max(now - t, 0.0) / 86400 / USER_HALF_LIFE_DAYS)
            for a, t in zip(actions, timestamps, strict=True)]


def combine(session: np.ndarray | None, user: np.ndarray | None,
            share: float = LONG_TERM_SHARE) -> np.ndarray | None:
    """The session signal's query vector: session + share * user, unit length."""
    parts = [(v, w) for v, w in ((session, 1.0), (user, share)) if v is not None]
    return decayed_mean([v for v, _ in parts], [w for _, w in parts])


class SessionVectors:
    """Session and user vectors of one event store and engine."""

    def __init__(self, events: Any, engine: Any, *, days: float = 30.0) -> None:
        self.events, self.engine, self.days = events, engine, float(days)

    def inputs(self, profile: Profile, user_id: str | None, session_id: str | None,
               now: float | None = None) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """(signal -> query vector, signal -> why not) for the profile's session signals."""
        signals = [s for s in profile.signals if s.input == SESSION and s.weight > 0]
        if not signals:
            return {}, {}
        now = time.time() if now is None else now
        vectors: dict[str, np.ndarray] = {}
        unavailable: dict[str, str] = {}
        by_field: dict[str, np.ndarray | None] = {}
        for s in signals:
            field = stored_field(s)
            if field is None or field not in self.engine.schema.vector_fields:
                unavailable[s.name] = f"the index has no vector field {field!r}"
                continue
            if field not in by_field:
                by_field[field] = combine(self.session_vector(user_id, session_id, field, now),
                                          self.user_vector(user_id, field, now))
            vec = by_field[field]
            if vec is None:
                unavailable[s.name] = NO_HISTORY
            else:
                vectors[s.name] = vec
        return vectors, unavailable

    def session_vector(self, user_id: str | None, session_id: str | None, field: str,
                       now: float) -> np.ndarray | None:
        if session_id is not None:
            events = self.events.touched(session_id=session_id, limit=SESSION_EVENTS)
        elif user_id is not None:
            events = self.events.touched(user_id=user_id, since=now - SESSION_WINDOW_S,
                                         limit=SESSION_EVENTS)
        else:
            return None
        return self._mean(events, field, session_weights([e["action_name"] for e in events]))

    def user_vector(self, user_id: str | None, field: str, now: float) -> np.ndarray | None:
        """The stored user vector if no event came after it, else one made afresh from
        the user's events of the last `days` days (and stored)."""
        if user_id is None:
            return None
        since = now - self.days * 86400
        self.events.expire_user_vectors(since)
        events = self.events.touched(user_id=user_id, since=since)
        if not events:
            return None
        last = max(float(e["timestamp"]) for e in events)
        stored = self.events.user_vector(user_id, field)
        if stored is not None and stored[1] >= last:
            return np.asarray(stored[0])
        vec = self._mean(events, field, user_weights([e["action_name"] for e in events],
                                                     [float(e["timestamp"]) for e in events],
                                                     now))
        if vec is not None:
            self.events.put_user_vector(user_id, field, vec, last, now)
        return vec

    def _mean(self, events: Sequence[Mapping[str, Any]], field: str, weights: Sequence[float]
              ) -> np.ndarray | None:
        if not events:
            return None
        stored = self.engine.get_vectors(list({str(e["object_id"]) for e in events}), [field])
        pairs = [(stored[e["object_id"]][field], w) for e, w in zip(events, weights, strict=True)
                 if field in stored.get(e["object_id"], {})]
        return decayed_mean([v for v, _ in pairs], [w for _, w in pairs])
