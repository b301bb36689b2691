"""Where searches and UBI events are kept: the `EventStore` interface, and its
embedded implementation in SQLite (`<index>/events.sqlite`, WAL; events are fsynced on
commit, the per-search log is not).

Two tables, as UBI's two indices: `queries` (ubi_queries: one row per search, with
the experiment and variant it ran under and the ids it showed) and `events`
(ubi_events: impressions, clicks, add_to_cart, purchases). Events are idempotent on
their event id: storing one again changes nothing and reports a duplicate. Several
processes (gunicorn workers) may write at once; SQLite serialises them.

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

    def _read(self, sql: str, args: list[Any]) -> Iterator[sqlite3.Row]:
        try:
            rows = self._db().execute(sql, args).fetchall()
        except sqlite3.Error as e:
            raise EngineError(f"cannot read the event store {self.path}: {e}") from e
        yield from rows


def open_event_store(index: str | Path) -> EventStore:
    return SQLiteEventStore(Path(index) / "events.sqlite")
