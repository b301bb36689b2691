"""The vector half of the embedded engine.

Every vector is a row in SQLite (WAL), which any process may write and which survives
`kill -9`. Each row carries the sequence number of the transaction that wrote it. For
search, a field's rows up to some sequence are folded into a snapshot on disk (an HNSW
graph from faiss, see graph.py, the raw matrix and the ids, memory-mapped and shared
between processes); rows written after it, the delta, are searched exactly in memory and shadow
the snapshot. A writer folds the delta into a new snapshot once it grows past a
threshold, and `commit()` folds whatever is pending. A fold only reads and inserts the
delta's rows. Deleted vectors are rows with a NULL vector.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hybrid.engines.base import EXACT_KNN_BELOW
from hybrid.engines.embedded.graph import Graph, needs_rebuild
from hybrid.engines.embedded.lexical import file_lock
from hybrid.engines.schema import DEFAULT_EF_SEARCH, Field
from hybrid.errors import EngineError

FOLD_THRESHOLD = 10_000
EXACT_BELOW = EXACT_KNN_BELOW  # a snapshot of fewer vectors is scanned, not searched
_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    field TEXT NOT NULL, key INTEGER NOT NULL, id TEXT NOT NULL, vec BLOB, seq INTEGER NOT NULL,
    hash TEXT, model TEXT, writes INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS vector_errors (
    field TEXT NOT NULL, key INTEGER NOT NULL, id TEXT NOT NULL, hash TEXT, reason TEXT NOT NULL,
    at REAL NOT NULL, PRIMARY KEY (field, key));
CREATE UNIQUE INDEX IF NOT EXISTS vectors_by_key ON vectors (field, key);
CREATE INDEX IF NOT EXISTS vectors_by_seq ON vectors (field, seq);
CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY CHECK (id = 0), seq INTEGER NOT NULL);
INSERT OR IGNORE INTO counter VALUES (0, 0);
"""
# field, key, id, vector (None: delete), and the provenance of the vector: content hash
# of what it encodes and the encoder's name/version (None when supplied from outside)
Row = tuple[str, int, str, "np.ndarray | None", "str | None", "str | None"]


def score(sim: np.ndarray, space: str) -> np.ndarray:
    """OpenSearch's k-NN score for a similarity: cosine (1 + cos) / 2, clamped to [0, 1]
    (float rounding can take a cosine a hair past -1 or 1); inner product scaled as
    Lucene's max-inner-product (1 / (1 - ip) below zero, ip + 1 above), so always > 0."""
    if space == "cosinesimil":
        return np.clip((1.0 + sim) / 2.0, 0.0, 1.0)
    return np.where(sim < 0, 1.0 / (1.0 - sim), sim + 1.0)


@dataclass
class _Snapshot:
    seq: int
    keys: np.ndarray  # sorted int64
    ids: np.ndarray  # unicode, aligned with keys
    matrix: np.ndarray  # float32 rows aligned with keys
    hnsw: Graph | None = None
    stamp: bytes = b""

    @classmethod
    def empty(cls, dim: int) -> _Snapshot:
        return cls(0, np.zeros(0, dtype=np.int64), np.zeros(0, dtype="U1"),
                   np.zeros((0, dim), dtype=np.float32))


class FieldVectors:
    """One vector field as one reader sees it: a snapshot plus the delta after it."""

    def __init__(self, store: VectorStore, field: Field) -> None:
        self.store, self.field, self.dim = store, field, field.dimension
        self.dir = store.path / field.path
        self.dir.mkdir(parents=True, exist_ok=True)
        self.manifest = self.dir / "snapshot.json"
        self.snap = _Snapshot.empty(self.dim)
        self.delta: dict[int, tuple[str, np.ndarray | None]] = {}
        self.delta_seq = 0
        self._delta_keys = np.zeros(0, dtype=np.int64)
        self._delta_matrix = np.zeros((0, self.dim), dtype=np.float32)
        self._shadowed = np.zeros(0, dtype=np.int64)

    # -- keeping up with writers -----------------------------------------------------
    def refresh(self, head: int) -> None:
        try:
            stamp = self.manifest.read_bytes()  # content, not mtime: two folds can share one
        except FileNotFoundError:
            stamp = b""
        changed = stamp != self.snap.stamp
        if changed:
            self.snap = self._load_snapshot(stamp)
            self.delta, self.delta_seq = {}, self.snap.seq
        if head > self.delta_seq:
            for key, doc_id, vec, seq in self.store.rows_after(self.field.path, self.delta_seq):
                self.delta[key] = (doc_id, None if vec is None
                                   else np.frombuffer(vec, dtype=np.float32))
                self.delta_seq = max(self.delta_seq, seq)
            self.delta_seq = max(self.delta_seq, head)
            changed = True
        if changed:
            live = [(k, v) for k, (_, v) in self.delta.items() if v is not None]
            self._delta_keys = np.array([k for k, _ in live], dtype=np.int64)
            self._delta_matrix = (np.stack([v for _, v in live]) if live
                                  else np.zeros((0, self.dim), dtype=np.float32))
            self._shadowed = np.fromiter(self.delta, dtype=np.int64, count=len(self.delta))

    def _load_snapshot(self, stamp: bytes) -> _Snapshot:
        if not stamp:
            return _Snapshot.empty(self.dim)
        meta = json.loads(stamp)
        base = self.dir / meta["name"]
        keys = np.load(f"{base}.keys.npy")
        ids = np.load(f"{base}.ids.npy")
        matrix = np.load(f"{base}.matrix.npy", mmap_mode="r")
        hnsw = None
        if len(keys) and os.path.exists(f"{base}.faiss"):
            hnsw = Graph.load(base)
        elif len(keys):  # a snapshot from before faiss: its graph is rebuilt in memory
            hnsw = Graph.build(self.dim, self.field.hnsw_m, self.field.hnsw_ef_construction,
                               keys, np.asarray(matrix))
        return _Snapshot(int(meta["seq"]), keys, ids, matrix, hnsw, stamp)

    # -- searching --------------------------------------------------------------------
    def count(self) -> int:
        shadowed = np.isin(self._shadowed, self.snap.keys).sum() if len(self._shadowed) else 0
        return int(len(self.snap.keys) - shadowed + len(self._delta_keys))

    def ids(self, keys: np.ndarray) -> np.ndarray:
        """Document ids (a str array) of keys that this field holds (snapshot or delta)."""
        if not len(self.snap.keys):
            return np.array([self.delta[k][0] for k in keys.tolist()], dtype=str)
        pos = np.minimum(np.searchsorted(self.snap.keys, keys), len(self.snap.keys) - 1)
        out = self.snap.ids[pos]
        if self.delta:
            out = out.astype(object)
            for i, key in enumerate(keys.tolist()):
                if key in self.delta:
                    out[i] = self.delta[key][0]
            out = out.astype(str)
        return out

    def exact(self, q: np.ndarray, k: int, allowed: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k over all vectors, or over the keys in `allowed`."""
        rows = np.arange(len(self.snap.keys))
        if allowed is not None:
            allowed = np.unique(allowed)
            pos = np.searchsorted(self.snap.keys, allowed)
            inside = pos < len(self.snap.keys)
            rows = pos[inside][self.snap.keys[pos[inside]] == allowed[inside]]
        keys = self.snap.keys[rows]
        if len(self._shadowed):
            keep = ~np.isin(keys, self._shadowed)
            rows, keys = rows[keep], keys[keep]
        sims = _dot(np.asarray(self.snap.matrix[rows]), q)
        dkeys, dmat = self._delta_keys, self._delta_matrix
        if allowed is not None and len(dkeys):
            mask = np.isin(dkeys, allowed)
            dkeys, dmat = dkeys[mask], dmat[mask]
        keys = np.concatenate([keys, dkeys])
        sims = np.concatenate([sims, _dot(dmat, q)])
        return _top(keys, sims, k)

    def approximate(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """HNSW over the snapshot (shadowed keys dropped) merged with the exact delta.
        A snapshot of fewer than EXACT_BELOW vectors, or asking for a large share of
        one, is answered exactly."""
        n = len(self.snap.keys)
        if n < EXACT_BELOW or (k + len(self._shadowed)) * 4 >= n:
            return self.exact(q, k)
        keys = np.zeros(0, dtype=np.int64)
        sims = np.zeros(0, dtype=np.float32)
        if self.snap.hnsw is not None:
            want = min(k + len(self._shadowed), len(self.snap.keys))
            keys, sims = self.snap.hnsw.search(q, want,
                                               self.field.ef_search or DEFAULT_EF_SEARCH)
            if len(self._shadowed):
                keep = ~np.isin(keys, self._shadowed)
                keys, sims = keys[keep], sims[keep]
        if len(self._delta_keys):
            keys = np.concatenate([keys, self._delta_keys])
            sims = np.concatenate([sims, _dot(self._delta_matrix, q)])
        return _top(keys, sims, k)


def _write_rows(path: str, order: np.ndarray, old: np.ndarray, kept: np.ndarray,
                new: np.ndarray, chunk: int = 8192) -> None:
    """Save the rows old[kept] followed by new, taken in `order`, as a .npy file, a chunk
    at a time: a fold holds no copy of the whole matrix (peak memory of a build)."""
    dim = new.shape[1]
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": np.lib.format.dtype_to_descr(
            np.dtype(np.float32)), "fortran_order": False, "shape": (len(order), dim)})
        for lo in range(0, len(order), chunk):
            pick = order[lo:lo + chunk]
            from_old = pick < len(kept)
            block = np.empty((len(pick), dim), dtype=np.float32)
            block[from_old] = old[kept[pick[from_old]]]
            block[~from_old] = new[pick[~from_old] - len(kept)]
            fh.write(block.data)


def _dot(rows: np.ndarray, q: np.ndarray) -> np.ndarray:
    """rows @ q without BLAS: OpenBLAS runs a matrix-vector product of a few thousand
    rows on all cores and spins while it waits for them, measured at 9x the CPU time
    and 10x the latency of this loop on a busy 2-core machine."""
    return np.einsum("ij,j->i", rows, q) if len(rows) else np.zeros(0, np.float32)


def _top(keys: np.ndarray, sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k most similar, best first, and every other one tying with the k-th (the
    engine orders ties by document id, which only it knows)."""
    if len(keys) > k:
        kth = np.partition(sims, len(sims) - k)[len(sims) - k] if k else np.inf
        part = np.flatnonzero(sims >= kth)
        keys, sims = keys[part], sims[part]
    order = np.lexsort((keys, -sims))
    return keys[order], sims[order]


class VectorStore:
    def __init__(self, path: Path, fields: dict[str, Field]) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        for f in fields.values():
            if f.space == "l2":
                raise EngineError(f"vector field {f.path!r}: the embedded engine supports "
                                  "cosinesimil and innerproduct spaces")
        self._lock = threading.Lock()
        try:
            self.db = sqlite3.connect(path / "vectors.sqlite", timeout=60, isolation_level=None,
                                      check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
        except sqlite3.Error as e:
            raise EngineError(f"cannot open the vector store at {path}: {e}") from e
        self.fields = {name: FieldVectors(self, f) for name, f in fields.items()}
        self._loaded = False

    def head(self) -> int:
        with self._lock:
            return int(self.db.execute("SELECT seq FROM counter").fetchone()[0])

    def refresh(self) -> None:
        head = self.head()
        for fv in self.fields.values():
            fv.refresh(head)

    def rows_after(self, field: str, seq: int, upto: int | None = None
                   ) -> list[tuple[int, str, bytes | None, int]]:
        sql = "SELECT key, id, vec, seq FROM vectors WHERE field = ? AND seq > ?"
        params: tuple[object, ...] = (field, seq)
        if upto is not None:
            sql, params = sql + " AND seq <= ?", (*params, upto)
        with self._lock:
            return self.db.execute(sql, params).fetchall()

    def write(self, rows: Iterable[Row], skip_unchanged: bool = False) -> set[int]:
        """Rows in one transaction. With skip_unchanged, a row whose stored vector has the
        same provenance (hash and model) is left alone, so a task that runs twice writes
        once. Returns the keys written."""
        rows = list(rows)
        with self._lock:
            cur = self.db.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                if skip_unchanged:
                    rows = [r for r in rows if r[4] is None or cur.execute(
                        "SELECT 1 FROM vectors WHERE field = ? AND key = ? AND hash = ? "
                        "AND model IS ? AND vec IS NOT NULL", (r[0], r[1], r[4], r[5])
                    ).fetchone() is None]
                seq = cur.execute("UPDATE counter SET seq = seq + 1 RETURNING seq").fetchone()[0]
                cur.executemany(
                    "INSERT INTO vectors (field, key, id, vec, seq, hash, model) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (field, key) DO UPDATE SET "
                    "id = excluded.id, vec = excluded.vec, seq = excluded.seq, "
                    "hash = excluded.hash, model = excluded.model, writes = vectors.writes + 1",
                    [(f, k, i, None if v is None else v.tobytes(), seq, h, m)
                     for f, k, i, v, h, m in rows])
                cur.executemany("DELETE FROM vector_errors WHERE field = ? AND key = ?",
                                [(r[0], r[1]) for r in rows])
                cur.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:
                    cur.execute("ROLLBACK")
                raise
        for name in {r[0] for r in rows}:
            self.fold(name)
        return {r[1] for r in rows}

    def delete_keys(self, keys: Sequence[int]) -> None:
        self.write((name, int(k), "", None, None, None) for name in self.fields for k in keys)

    def record_errors(self, field: str, errors: Iterable[tuple[int, str, str | None, str]]
                      ) -> None:
        """(key, id, content hash, reason) of inputs that could not be encoded."""
        with self._lock:
            self.db.executemany(
                "INSERT OR REPLACE INTO vector_errors (field, key, id, hash, reason, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(field, k, i, h, r, time.time()) for k, i, h, r in errors])

    def info(self, field: str, keys: Sequence[int] | None = None) -> dict[str, dict[str, Any]]:
        """Per document id: the stored vector's hash, model and how many times it was
        written, or the last error."""
        out: dict[str, dict[str, Any]] = {}
        where = "field = ?"
        params: list[object] = [field]
        if keys is not None:
            where += f" AND key IN ({','.join('?' * len(keys))})"
            params += [int(k) for k in keys]
        with self._lock:
            for doc_id, h, model, writes in self.db.execute(
                    f"SELECT id, hash, model, writes FROM vectors WHERE {where} "
                    "AND vec IS NOT NULL", params):
                out[doc_id] = {"hash": h, "model": model, "error": None, "writes": writes}
            for doc_id, h, reason in self.db.execute(
                    f"SELECT id, hash, reason FROM vector_errors WHERE {where}", params):
                out.setdefault(doc_id, {"hash": None, "model": None, "error": None})
                out[doc_id]["error"] = reason
                out[doc_id]["error_hash"] = h
        return out

    def stored(self, keys: Sequence[int], fields: Sequence[str]
               ) -> dict[str, dict[str, np.ndarray]]:
        """id -> {field: vector} of the stored (not deleted) vectors of those keys."""
        out: dict[str, dict[str, np.ndarray]] = {}
        if not keys or not fields:
            return out
        sql = (f"SELECT id, field, vec FROM vectors WHERE key IN ({','.join('?' * len(keys))})"
               f" AND field IN ({','.join('?' * len(fields))}) AND vec IS NOT NULL")
        with self._lock:
            rows = self.db.execute(sql, [int(k) for k in keys] + list(fields)).fetchall()
        for doc_id, name, vec in rows:
            out.setdefault(doc_id, {})[name] = np.frombuffer(vec, dtype=np.float32).copy()
        return out

    def pending(self, field: str) -> int:
        fv = self.fields[field]
        fv.refresh(self.head())
        with self._lock:
            return int(self.db.execute(
                "SELECT COUNT(*) FROM vectors WHERE field = ? AND seq > ?",
                (field, fv.snap.seq)).fetchone()[0])

    def fold(self, field: str, force: bool = False) -> bool:
        """Write a new snapshot of `field` if its delta is large (or pending, if forced).
        Forced, it also saves the graph of a snapshot written before faiss."""
        pending = self.pending(field)
        fv = self.fields[field]
        if force:
            self._save_rebuilt_graph(fv)
        if pending == 0 or (pending < FOLD_THRESHOLD and not force):
            return False
        with file_lock(fv.dir / ".fold.lock"):
            fv.refresh(self.head())
            old, seq = fv.snap, self.head()
            rows = self.rows_after(field, old.seq, seq)
            if not rows:
                return False
            changed = np.array([r[0] for r in rows], dtype=np.int64)
            live = [r for r in rows if r[2] is not None]
            keep = ~np.isin(old.keys, changed)
            keys = np.concatenate([old.keys[keep], np.array([r[0] for r in live], np.int64)])
            ids = np.concatenate([old.ids[keep].astype(str), np.array([r[1] for r in live], str)])
            new_vecs = (np.frombuffer(b"".join(r[2] or b"" for r in live), dtype=np.float32)
                        .reshape(len(live), fv.dim) if live else np.zeros((0, fv.dim), np.float32))
            order = np.argsort(keys, kind="stable")
            name = f"snap-{seq:012d}"
            base = fv.dir / name
            keys, ids = keys[order], ids[order]
            np.save(f"{base}.keys.npy", keys)
            np.save(f"{base}.ids.npy", ids)
            _write_rows(f"{base}.matrix.npy", order, old.matrix, np.flatnonzero(keep), new_vecs)
            gone = old.keys[~keep]
            prev = fv.dir / json.loads(fv.manifest.read_text())["name"] if old.seq else None
            if (prev is None or not os.path.exists(f"{prev}.faiss")
                    or needs_rebuild(old.hnsw, len(gone))):  # from the whole new matrix
                hnsw = Graph.build(fv.dim, fv.field.hnsw_m, fv.field.hnsw_ef_construction,
                                   keys, np.load(f"{base}.matrix.npy", mmap_mode="r"))
            else:  # the previous graph, its changed nodes dead, the new vectors added
                add = np.array([r[0] for r in live], np.int64)
                hnsw = Graph.load(prev, writable=True).extend(gone, add, new_vecs)
            hnsw.save(base)
            tmp = fv.dir / "snapshot.json.tmp"
            tmp.write_text(json.dumps({"seq": seq, "name": name, "count": len(keys)}))
            os.replace(tmp, fv.manifest)
            for p in fv.dir.glob("snap-*"):
                if not p.name.startswith(name + "."):
                    p.unlink(missing_ok=True)
        fv.refresh(self.head())
        return True

    @staticmethod
    def _save_rebuilt_graph(fv: FieldVectors) -> None:
        """A snapshot from before faiss has no graph on disk and each process rebuilds it
        when it loads the snapshot: save the rebuilt one beside the snapshot."""
        with file_lock(fv.dir / ".fold.lock"):
            if not fv.manifest.exists():
                return
            base = fv.dir / json.loads(fv.manifest.read_text())["name"]
            if os.path.exists(f"{base}.faiss"):
                return
            fv.refresh(0)
            if fv.snap.hnsw is not None and fv.snap.stamp == fv.manifest.read_bytes():
                fv.snap.hnsw.save(base)

    def ids_of(self, keys: np.ndarray) -> list[str | None]:
        """The document ids of keys, from the fields' snapshots and deltas (a key is a
        hash of its id, so any field that has one knows it); None for the others."""
        if not self._loaded:  # a process that has not searched vectors yet
            self.refresh()
            self._loaded = True
        out: list[str | None] = [None] * len(keys)
        missing = np.arange(len(keys))
        for fv in sorted(self.fields.values(), key=lambda f: -len(f.snap.keys)):
            if not len(missing):
                break
            snap_keys = fv.snap.keys
            if len(snap_keys):
                pos = np.minimum(np.searchsorted(snap_keys, keys[missing]), len(snap_keys) - 1)
                hit = snap_keys[pos] == keys[missing]
                for i, doc_id in zip(missing[hit].tolist(), fv.snap.ids[pos[hit]].tolist(),
                                     strict=True):
                    out[i] = doc_id
                missing = missing[~hit]
            for i in missing.tolist():
                known = fv.delta.get(int(keys[i]))
                if known is not None and known[1] is not None:
                    out[i] = known[0]
            missing = np.array([i for i in missing.tolist() if out[i] is None], dtype=np.int64)
        return out

    def stats(self) -> dict[str, dict[str, int]]:
        self.refresh()
        return {name: {"vectors": fv.count(), "snapshot": len(fv.snap.keys),
                       "delta": len(fv.delta)} for name, fv in self.fields.items()}

    def close(self) -> None:
        with self._lock:
            self.db.close()
