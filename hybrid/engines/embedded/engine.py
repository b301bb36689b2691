"""The embedded engine: tantivy for BM25, filters and facets; SQLite + HNSW for vectors.

One folder holds an index: `mapping.json` (the mapping it was created with),
`lexical/` (tantivy) and `vectors/` (SQLite rows and HNSW snapshots). Any number of
processes may open it; writes from several processes are serialised by file locks.
A write is durable when the call returns.
"""

from __future__ import annotations

import json
import math
import os
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tantivy

from hybrid.engines import documents, filters
from hybrid.engines.base import (
    SUPPLIED,
    Hit,
    ItemResult,
    SearchResult,
    check_window,
)
from hybrid.engines.embedded import analysis
from hybrid.engines.embedded.lexical import LexicalIndex, doc_key, file_lock
from hybrid.engines.embedded.vectors import VectorStore, score
from hybrid.engines.schema import IndexSchema
from hybrid.errors import QueryError, SchemaError

EXACT_FILTER_LIMIT = 10_000  # filtered k-NN searches exactly when this few documents pass
WORKERS = 4  # search_many's k-NN threads: one per search, for searches from several threads


@dataclass(frozen=True)
class LexicalRequest:
    """A validated lexical_search (lexical_body), for search_many."""

    text: str
    fields: Mapping[str, float] | None
    filter: filters.Filter | None  # normalised
    facets: dict[str, Any]  # normalised
    size: int
    offset: int
    source: bool


@dataclass(frozen=True)
class KnnRequest:
    """A validated knn_search (knn_body), for search_many."""

    field: str
    vector: np.ndarray  # prepared: float32, unit length on cosine fields
    k: int
    filter: filters.Filter | None  # normalised
    source: bool


class EmbeddedEngine:
    name = "embedded"
    in_process = True  # search_many overlaps sub-queries in threads, no round trip

    def __init__(self, path: str | Path, mapping: str | Path | IndexSchema | None = None) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        with file_lock(self.path / ".open.lock"):  # processes creating one index together
            self.schema = _schema_for(self.path, mapping)
            self.lexical = LexicalIndex(self.path / "lexical", self.schema)
            self.vectors = VectorStore(self.path / "vectors", self.schema.vector_fields)
        self._pool: ThreadPoolExecutor | None = None  # search_many's k-NN worker, when used

    # -- writing --------------------------------------------------------------------
    def add(self, docs: Iterable[Mapping[str, Any]]) -> list[ItemResult]:
        """Add or replace documents. Vectors a document carries are stored with the model
        "supplied": the ingest plan keeps them instead of computing its own."""
        results, latest = documents.accept(docs, self.schema, documents.prepare_vector)
        if latest:
            self.lexical.write([d for d, _ in latest.values()])
            rows = [(f, doc_key(i), i, v, None, SUPPLIED)
                    for i, (_, vs) in latest.items() for f, v in vs.items()]
            if rows:
                self.vectors.write(rows)
        return results

    def update(self, doc_id: str, fields: Mapping[str, Any]) -> None:
        merged = documents.updated(doc_id, self.lexical.get(doc_id), fields)
        vecs = documents.update_vectors(fields, self.schema, documents.prepare_vector)
        self.lexical.write([merged])  # only once every part is known to be valid
        for name, vec in vecs.items():
            self.vectors.write([(name, doc_key(doc_id), doc_id, vec, None, SUPPLIED)])

    def set_vectors(self, field: str, vectors: Mapping[str, Sequence[float] | np.ndarray], *,
                    provenance: Mapping[str, tuple[str, str]] | None = None
                    ) -> list[ItemResult]:
        """Write one vector field. `provenance` gives, per id, the content hash and encoder
        version of the vector; a vector already stored with the same provenance is not
        written again (its result has skipped=True)."""
        f = documents.vector_field(self.schema, field)
        provenance = provenance or {}
        ids = list(vectors)
        existing = self.lexical.keys_among([doc_key(i) for i in ids])
        results, rows = [], []
        for doc_id in ids:
            key = doc_key(doc_id)
            if key not in existing:
                results.append(ItemResult(doc_id, False, "no such document"))
                continue
            try:
                h, model = provenance.get(doc_id, (None, None))
                rows.append((field, key, doc_id, documents.prepare_vector(f, vectors[doc_id]),
                             h, model))
                results.append(ItemResult(doc_id, True))
            except ValueError as e:
                results.append(ItemResult(doc_id, False, str(e)))
        written = self.vectors.write(rows, skip_unchanged=True) if rows else set()
        for r in results:
            r.skipped = r.ok and doc_key(str(r.id)) not in written
        return results

    def record_vector_errors(self, field: str, errors: Mapping[str, tuple[str | None, str]]
                             ) -> None:
        """Remember why documents' inputs could not be encoded: id -> (hash, reason)."""
        documents.vector_field(self.schema, field)
        self.vectors.record_errors(field, [(doc_key(i), i, h, reason)
                                           for i, (h, reason) in errors.items()])

    def vector_info(self, field: str, ids: Sequence[str] | None = None
                    ) -> dict[str, dict[str, Any]]:
        """Per id: hash and model of the stored vector, or the error that stopped it."""
        documents.vector_field(self.schema, field)
        return self.vectors.info(field, None if ids is None else [doc_key(i) for i in ids])

    def get_vectors(self, ids: Sequence[str], fields: Sequence[str] | None = None
                    ) -> dict[str, dict[str, np.ndarray]]:
        wanted = list(self.vectors.fields) if fields is None else list(fields)
        for name in wanted:
            documents.vector_field(self.schema, name)
        live = self.lexical.keys_among([doc_key(i) for i in ids])  # not of deleted documents
        return self.vectors.stored([k for k in (doc_key(i) for i in ids) if k in live], wanted)

    def delete(self, ids: Iterable[str]) -> int:
        ids = list(dict.fromkeys(ids))
        keys = [doc_key(i) for i in ids]
        existing = self.lexical.keys_among(keys)
        if keys and self.vectors.fields:  # vectors first: a crash between leaves no orphans
            self.vectors.delete_keys(keys)
        self.lexical.write([], deletes=ids)
        return len(existing)

    # -- reading --------------------------------------------------------------------
    def get(self, doc_id: str) -> dict[str, Any] | None:
        return self.lexical.get(doc_id)

    def scan(self) -> Iterator[dict[str, Any]]:
        """Every document in the index (its stored source)."""
        return self.lexical.scan()

    def get_many(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found = self.lexical.sources_by_key([doc_key(i) for i in ids])
        return {str(src["id"]): src for src in found.values()}

    def count(self, filter: Mapping[str, Any] | None = None) -> int:
        return self.lexical.count(self.lexical.filter_query(filters.normalize(filter, self.schema)))

    def default_fields(self, text: str) -> dict[str, float]:
        """The mapping's search fields; CJK-analysed ones only for text with CJK in it."""
        return analysis.default_fields(self.schema, text)

    def lexical_body(self, text: str, *, fields: Mapping[str, float] | None = None,
                     filter: Mapping[str, Any] | None = None,
                     facets: Mapping[str, Any] | None = None, size: int = 10,
                     offset: int = 0, source: bool = True) -> LexicalRequest:
        """A lexical_search for `search_many` (window, text, filter and facets checked;
        no I/O)."""
        check_window(size, offset)
        if not isinstance(text, str):
            raise QueryError(f"the query text must be a string, got {type(text).__name__}")
        return LexicalRequest(text, fields, filters.normalize(filter, self.schema),
                              filters.normalize_facets(facets, self.schema), size, offset,
                              source)

    def lexical_search(self, text: str, *, fields: Mapping[str, float] | None = None,
                       filter: Mapping[str, Any] | None = None,
                       facets: Mapping[str, Any] | None = None,
                       size: int = 10, offset: int = 0, source: bool = True) -> SearchResult:
        return self._lexical(self.lexical_body(text, fields=fields, filter=filter,
                                               facets=facets, size=size, offset=offset,
                                               source=source))

    def _lexical(self, r: LexicalRequest) -> SearchResult:
        flt, text = r.filter, r.text
        fq = tantivy.Query.const_score_query(self.lexical.filter_query(flt), 0.0)
        if text.strip():
            tq = self.lexical.text_query(text, r.fields or self.default_fields(text))
            if tq is None:  # nothing left after analysis: OpenSearch's zero_terms_query none
                return SearchResult([], 0, filters.empty_facets(r.facets))
            # no filter: the text query alone (an all-documents clause beside it, which
            # adds 0 to every score, doubled the time of a search)
            query = tq if flt is None else tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, tq), (tantivy.Occur.Must, fq)])
        else:
            query = fq
        hits, total, facet_counts = self.lexical.search(query, r.size, r.offset, r.facets,
                                                        r.source, scored=bool(text.strip()),
                                                        ids_of=self.vectors.ids_of)
        return SearchResult([Hit(i, s, src) for s, i, src in hits], total, facet_counts)

    def knn_body(self, field: str, vector: Sequence[float] | np.ndarray, *, k: int = 10,
                 filter: Mapping[str, Any] | None = None, source: bool = True) -> KnnRequest:
        """A knn_search for `search_many` (validated; no I/O)."""
        f = documents.vector_field(self.schema, field)
        check_window(k, 0)
        try:
            q = documents.prepare_vector(f, vector)
        except ValueError as e:
            raise QueryError(str(e)) from e
        return KnnRequest(field, q, k, filters.normalize(filter, self.schema), source)

    def knn_search(self, field: str, vector: Sequence[float] | np.ndarray, *, k: int = 10,
                   filter: Mapping[str, Any] | None = None, source: bool = True) -> SearchResult:
        r = self.knn_body(field, vector, k=k, filter=filter, source=source)
        return self._knn_hits(r, *self._knn_candidates(r))

    def search_many(self, bodies: Sequence[LexicalRequest | KnnRequest]) -> list[SearchResult]:
        """Several sub-queries (from lexical_body / knn_body) side by side; results in
        order. A worker thread takes the k-NN candidate searches (faiss, which releases
        the GIL) one at a time while this thread runs the lexical ones (tantivy releases
        the GIL too), or the first k-NN when there is none, and then takes whatever k-NN
        search the worker has not started: on a busy machine, where a woken thread waits
        for a core, the round costs no more than one after another. Everything that
        holds the GIL (hits, ids, order) runs here afterwards."""
        knn = [i for i, b in enumerate(bodies) if isinstance(b, KnnRequest)]
        here = [i for i in range(len(bodies)) if i not in knn] or knn[:1]
        queue = deque((i, b) for i in knn if i not in here
                      if isinstance(b := bodies[i], KnnRequest))
        found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        wanted = len(queue)
        if knn:  # here: the worker's every wait for the GIL may stall this thread
            head = self.vectors.head()
            for name in {b.field for b in bodies if isinstance(b, KnnRequest)}:
                self.vectors.fields[name].refresh(head)

        def drain() -> None:
            while True:
                try:
                    i, b = queue.popleft()
                except IndexError:
                    return
                found[i] = self._knn_candidates(b, refreshed=True)

        worker = self._worker().submit(drain) if queue else None
        out: dict[int, SearchResult] = {}
        try:
            for i in here:
                b = bodies[i]
                out[i] = (self._knn_hits(b, *self._knn_candidates(b, refreshed=True))
                          if isinstance(b, KnnRequest) else self._lexical(b))
            drain()
        finally:  # wait for the search the worker is on, if any (an error here too)
            if worker is not None and not worker.cancel() and len(found) < wanted:
                wait([worker])
        if worker is not None and len(found) < wanted:
            worker.result()  # raises the worker's error
        for i, (keys, sims) in found.items():
            b = bodies[i]
            assert isinstance(b, KnnRequest)
            out[i] = self._knn_hits(b, keys, sims)
        return [out[i] for i in range(len(bodies))]

    def _worker(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="knn")
        return self._pool

    def _knn_candidates(self, r: KnnRequest, refreshed: bool = False
                        ) -> tuple[np.ndarray, np.ndarray]:
        """Keys and similarities of the k best vectors passing the filter, best first,
        with every vector tying with the k-th (`refreshed`: the field has caught up
        with the writers already)."""
        k, q, flt = r.k, r.vector, r.filter
        fv = self.vectors.fields[r.field]
        if not refreshed:
            fv.refresh(self.vectors.head())
        if flt is None:
            return fv.approximate(q, k)
        fq = self.lexical.filter_query(flt)
        passing = self.lexical.count(fq)
        if passing <= max(EXACT_FILTER_LIMIT, k):
            return fv.exact(q, k, self.lexical.keys(fq, passing))
        # broad filter: over-fetch from HNSW, keep the candidates that pass
        total = max(fv.count(), 1)
        want = min(total, math.ceil(k * total / passing * 2))
        while True:
            keys, sims = fv.approximate(q, want)
            ok = self.lexical.keys_among(keys, fq)
            if len(ok) >= k or want >= total:
                break
            want = min(total, want * 4)
        mask = np.isin(keys, np.fromiter(ok, dtype=np.int64, count=len(ok)))
        return keys[mask], sims[mask]

    def _knn_hits(self, r: KnnRequest, keys: np.ndarray, sims: np.ndarray) -> SearchResult:
        fv = self.vectors.fields[r.field]
        k = r.k
        scores = score(sims, fv.field.space)
        ids = fv.ids(keys)
        # best first, equal scores by id ascending: the candidates include every tie
        # at the k-th place, so the cut below keeps the smallest ids of a tie group.
        # The candidates come by similarity, so by score; only ties need the ids.
        if len(scores) > 1 and bool(np.any(scores[1:] == scores[:-1])):
            order = np.lexsort((ids, -scores))[:k]
            keys, ids, scores = keys[order], ids[order], scores[order]
        else:
            keys, ids, scores = keys[:k], ids[:k], scores[:k]
        pairs = zip(ids.tolist(), scores.tolist(), strict=True)
        if not r.source:
            return SearchResult([Hit(i, s) for i, s in pairs], len(keys))
        found = self.lexical.sources_by_key(keys)  # drops vectors of deleted documents
        hits = [Hit(i, s, src) for key, (i, s) in zip(keys.tolist(), pairs, strict=True)
                if (src := found.get(key)) is not None]
        return SearchResult(hits, len(hits))

    # -- upkeep ---------------------------------------------------------------------
    def refresh(self) -> None:
        self.lexical.refresh()
        self.vectors.refresh()

    def commit(self) -> None:
        for name in self.vectors.fields:
            self.vectors.fold(name, force=True)

    def stats(self) -> dict[str, Any]:
        size = sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())
        return {"engine": self.name, "path": str(self.path), "documents": self.lexical.num_docs(),
                "vectors": self.vectors.stats(), "disk_bytes": size,
                "search_fields": self.schema.search_fields}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        self.vectors.close()

    def __enter__(self) -> EmbeddedEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()



def _schema_for(path: Path, mapping: str | Path | IndexSchema | None) -> IndexSchema:
    """The index keeps the mapping it was created with; a different one is refused."""
    stored = path / "mapping.json"
    wanted = mapping if isinstance(mapping, IndexSchema) else (
        IndexSchema.load(mapping) if mapping is not None else None)
    if stored.exists():
        schema = IndexSchema.load(stored)
        if wanted is not None and wanted.body != schema.body:
            raise SchemaError(f"the index at {path} was created with another mapping; "
                              "use a new index path or delete this one")
        return schema
    schema = wanted or IndexSchema.load()
    tmp = path / "mapping.json.tmp"
    tmp.write_text(json.dumps(schema.body, indent=2))
    os.replace(tmp, stored)
    return schema
