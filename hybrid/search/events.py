"""Where searches and UBI events are kept: the `EventStore` interface, and its
embedded implementation in SQLite (`<index>/events.sqlite`, WAL; events are fsynced on
commit, the per-search log is not).

Two tables, as UBI's two indices, `queries` (ubi_queries: one row per search, with
the experiment and variant it ran under and the ids it showed) and `events`
(ubi_events: impressions, clicks, add_to_cart, purchases). Events are idempotent on
their event id: storing one again changes nothing and reports a duplicate. Several
processes (gunicorn workers) may write at once; SQLite serialises them. A third table,
`user_vectors`, keeps each user's long-term vector (`hybrid.search.session`) until it
expires; `delete_user` removes a user's searches, events, sessions and vectors, with
SQLite's secure_delete on and the write-ahead log truncated, so no copy stays in the file.

An OpenSearch implementation would write the same records to the `ubi_queries` and
`ubi_events` indices, using the event id as the document id.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hybrid.errors import EngineError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queries (
  query_id TEXT PRIMARY KEY, timestamp REAL NOT NULL, user_query TEXT, user_id TEXT,
  session_id TEXT, experiment TEXT, variant TEXT, profile TEXT, hits TEXT NOT NULL,
  teams TEXT, took_ms REAL);
CREATE INDEX IF NOT EXISTS queries_experiment ON queries (experiment);
CREATE TABLE IF NOT EXISTS events (
  event_id TEXT PRIMARY KEY, query_id TEXT NOT NULL, action_name TEXT NOT NULL,
  object_id TEXT NOT NULL, position INTEGER, user_id TEXT, session_id TEXT,
  user_query TEXT, value REAL, timestamp REAL NOT NULL);
CREATE INDEX IF NOT EXISTS events_query ON events (query_id);
CREATE INDEX IF NOT EXISTS events_user ON events (user_id);
CREATE INDEX IF NOT EXISTS events_session ON events (session_id);
CREATE INDEX IF NOT EXISTS queries_user ON queries (user_id);
CREATE INDEX IF NOT EXISTS queries_session ON queries (session_id);
CREATE TABLE IF NOT EXISTS user_vectors (
  user_id TEXT NOT NULL, field TEXT NOT NULL, vec BLOB NOT NULL, last_event REAL NOT NULL,
  updated REAL NOT NULL, PRIMARY KEY (user_id, field));
"""
QUERY_FIELDS = ("query_id", "timestamp", "user_query", "user_id", "session_id", "experiment",
                "variant", "profile", "hits", "teams", "took_ms")
EVENT_FIELDS = ("event_id", "query_id", "action_name", "object_id", "position", "user_id",
                "session_id", "user_query", "value", "timestamp")


class EventStore(Protocol):
    def log_query(self, record: Mapping[str, Any]) -> None:
        """Keep one search (QUERY_FIELDS; `hits` and `teams` are lists)."""

    def add_events(self, events: Sequence[Mapping[str, Any]]) -> list[bool]:
        """Keep validated events (EVENT_FIELDS); per event, False if its id was known."""

    def queries(self, experiment: str | None = None) -> Iterator[dict[str, Any]]:
        """Searches, of one experiment or all, in the order they were logged."""

    def events(self, experiment: str | None = None) -> Iterator[dict[str, Any]]:
        """Events in the order they arrived, with `user_query`, `experiment` and
        `variant` filled in from their search where it was logged here."""

    def touched(self, *, user_id: str | None = None, session_id: str | None = None,
                since: float = 0.0, limit: int = 500) -> list[dict[str, Any]]:
        """The last `limit` events (not impressions) of a user or a session since a time,
        oldest first: {"object_id", "action_name", "timestamp"}."""

    def user_vector(self, user_id: str, field: str) -> tuple[np.ndarray, float] | None:
        """A user's stored long-term vector in `field` and the time of the last event in it."""

    def put_user_vector(self, user_id: str, field: str, vector: np.ndarray, last_event: float,
                        now: float) -> None: ...

    def expire_user_vectors(self, before: float) -> int:
        """Delete user vectors last updated before `before` (epoch seconds); how many."""

    def delete_user(self, user_id: str) -> dict[str, int]:
        """Remove every search, event and vector of a user and of their sessions;
        counts by table."""


class SQLiteEventStore:
    """The embedded engine's EventStore. One connection per thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()

    def _db(self, durable: bool = True) -> sqlite3.Connection:
        """This thread's connection. Durable (events): every commit is fsynced. Not
        durable (the per-search log, written on every search): a commit survives the
        process crashing but not the machine, and costs well under a millisecond instead of
        several (an fsync)."""
        key = "durable" if durable else "fast"
        db = getattr(self._local, key, None)
        if db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
                db.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten
                db.executescript(_SCHEMA)
            except (OSError, sqlite3.Error) as e:
                raise EngineError(f"cannot open the event store {self.path}: {e}") from e
            db.row_factory = sqlite3.Row
            setattr(self._local, key, db)
        return db

    def log_query(self, record: Mapping[str, Any]) -> None:
        row = [record.get(k) for k in QUERY_FIELDS]
        row[QUERY_FIELDS.index("hits")] = json.dumps(list(record.get("hits") or []))
        teams = record.get("teams")
        row[QUERY_FIELDS.index("teams")] = None if teams is None else json.dumps(list(teams))
        sql = "INSERT OR IGNORE INTO queries VALUES (" + ",".join("?" * len(row)) + ")"
        try:
            self._db(durable=False).execute(sql, row)
        except sqlite3.Error as e:
            raise EngineError(f"cannot write to the event store {self.path}: {e}") from e

    def add_events(self, events: Sequence[Mapping[str, Any]]) -> list[bool]:
        db = self._db()
        out = []
        sql = "INSERT OR IGNORE INTO events VALUES (" + ",".join("?" * len(EVENT_FIELDS)) + ")"
        try:
            db.execute("BEGIN IMMEDIATE")
            for e in events:
                out.append(db.execute(sql, [e.get(k) for k in EVENT_FIELDS]).rowcount == 1)
            db.execute("COMMIT")
        except sqlite3.Error as e:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise EngineError(f"cannot write events to {self.path}: {e}") from e
        return out

    def queries(self, experiment: str | None = None) -> Iterator[dict[str, Any]]:
        sql, args = "SELECT * FROM queries", []
        if experiment is not None:
            sql, args = sql + " WHERE experiment = ?", [experiment]
        for row in self._read(sql + " ORDER BY rowid", args):
            d = dict(row)
            d["hits"] = json.loads(d["hits"])
            d["teams"] = json.loads(d["teams"]) if d["teams"] else None
            yield d

    def events(self, experiment: str | None = None) -> Iterator[dict[str, Any]]:
        sql = ("SELECT e.event_id, e.query_id, e.action_name, e.object_id, e.position, "
               "COALESCE(e.user_id, q.user_id) AS user_id, "
               "COALESCE(e.session_id, q.session_id) AS session_id, "
               "COALESCE(e.user_query, q.user_query) AS user_query, e.value, e.timestamp, "
               "q.experiment, q.variant FROM events e LEFT JOIN queries q USING (query_id)")
        args: list[Any] = []
        if experiment is not None:
            sql, args = sql + " WHERE q.experiment = ?", [experiment]
        for row in self._read(sql + " ORDER BY e.rowid", args):
            yield {k: v for k, v in dict(row).items() if v is not None}

    def touched(self, *, user_id: str | None = None, session_id: str | None = None,
                since: float = 0.0, limit: int = 500) -> list[dict[str, Any]]:
        if user_id is None and session_id is None:
            return []
        who, args = [], []
        for column, value in (("user_id", user_id), ("session_id", session_id)):
            if value is not None:
                who.append(f"COALESCE(e.{column}, q.{column}) = ?")
                args.append(value)
        sql = ("SELECT e.object_id, e.action_name, e.timestamp FROM events e "
               "LEFT JOIN queries q USING (query_id) WHERE e.action_name != 'impression' "
               f"AND e.timestamp >= ? AND ({' AND '.join(who)}) "
               "ORDER BY e.timestamp DESC, e.rowid DESC LIMIT ?")
        rows = [dict(r) for r in self._read(sql, [since, *args, limit])]
        return rows[::-1]

    def user_vector(self, user_id: str, field: str) -> tuple[np.ndarray, float] | None:
        rows = list(self._read("SELECT vec, last_event FROM user_vectors WHERE user_id = ? "
                               "AND field = ?", [user_id, field]))
        if not rows:
            return None
        return np.frombuffer(rows[0]["vec"], dtype=np.float32).copy(), float(rows[0][1])

    def put_user_vector(self, user_id: str, field: str, vector: np.ndarray, last_event: float,
                        now: float) -> None:
        self._write("INSERT OR REPLACE INTO user_vectors VALUES (?, ?, ?, ?, ?)",
                    [user_id, field, np.asarray(vector, dtype=np.float32).tobytes(),
                     last_event, now])

    def expire_user_vectors(self, before: float) -> int:
        return self._write("DELETE FROM user_vectors WHERE updated < ?", [before])

    def delete_user(self, user_id: str) -> dict[str, int]:
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
            sessions = [r[0] for r in db.execute(
                "SELECT session_id FROM queries WHERE user_id = ? AND session_id IS NOT NULL "
                "UNION SELECT session_id FROM events WHERE user_id = ? AND session_id IS NOT "
                "NULL", [user_id, user_id])]
            db.execute("CREATE TEMP TABLE IF NOT EXISTS gone (session_id TEXT PRIMARY KEY)")
            db.execute("DELETE FROM gone")
            db.executemany("INSERT OR IGNORE INTO gone VALUES (?)", [(s,) for s in sessions])
            mine = ("(user_id = :u OR session_id IN (SELECT session_id FROM gone))")
            counts = {
                "events": db.execute(
                    f"DELETE FROM events WHERE {mine} OR query_id IN "
                    f"(SELECT query_id FROM queries WHERE {mine})", {"u": user_id}).rowcount,
                "queries": db.execute(f"DELETE FROM queries WHERE {mine}",
                                      {"u": user_id}).rowcount,
                "user_vectors": db.execute("DELETE FROM user_vectors WHERE user_id = :u",
                                           {"u": user_id}).rowcount}
            db.execute("DELETE FROM gone")
            db.execute("COMMIT")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # no old page left in the log
        except sqlite3.Error as e:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise EngineError(f"cannot delete user data from {self.path}: {e}") from e
        return counts

    def _write(self, sql: str, args: list[Any]) -> int:
        try:
            return int(self._db().execute(sql, args).rowcount)
        except sqlite3.Error as e:
            raise EngineError(f"cannot write to the event store {self.path}: {e}") from e

    def _read(self, sql: str, args: list[Any]) -> Iterator[sqlite3.Row]:
        try:
            rows = self._db().execute(sql, args).fetchall()
        except sqlite3.Error as e:
            raise EngineError(f"cannot read the event store {self.path}: {e}") from e
        yield from rows


def open_event_store(index: str | Path) -> EventStore:
    return SQLiteEventStore(Path(index) / "events.sqlite")
