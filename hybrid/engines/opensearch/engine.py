"""The OpenSearch engine: the engine protocol on an OpenSearch 2.x cluster (opensearch-py).

An engine works on an alias (e.g. "products") in front of a versioned index
("products-v1", "products-v2", ...); `reindex` builds the next version and moves the
alias in one atomic `_aliases` call. The index is created from `mappings/products.json`
and keeps that file in its mapping's `_meta`, so it reopens with the same schema and
refuses another. Writes are visible to searches when they return (the index is
refreshed). Request bodies come from the pure builders in `requests` and `pipelines`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from opensearchpy.exceptions import NotFoundError as OSNotFoundError
from opensearchpy.exceptions import RequestError

from hybrid.engines import documents, filters
from hybrid.engines.base import (
    EXACT_KNN_BELOW,
    MAX_RESULT_WINDOW,
    ItemResult,
    SearchResult,
    check_window,
)
from hybrid.engines.embedded import analysis
from hybrid.engines.opensearch import bulk, pipelines
from hybrid.engines.opensearch import requests as rq
from hybrid.engines.opensearch.config import OpenSearchSettings
from hybrid.engines.schema import TEXT, IndexSchema
from hybrid.errors import EngineError, NotFoundError, QueryError, SchemaError

# k-NN asks the graph for this many more candidates than it returns, so that documents
# tied at the k-th place are all among them and the tie goes to the smallest id (the
# engine protocol's order), as on the embedded engine: exact while fewer than k + 10
# documents tie there
KNN_TIE_CANDIDATES = 10
CONFLICT_ROUNDS = 5  # re-reads of a document another writer changed in between
PAGE = 1000
EXACT_CHECK_S = 30.0  # how often the document count that picks exact k-NN is read again
EXACT_SPACES = ("cosinesimil",)  # where knn_score scores as the knn query does


class OpenSearchEngine:
    name = "opensearch"

    def __init__(self, index: str = "products", *,
                 mapping: str | Path | IndexSchema | None = None,
                 settings: OpenSearchSettings | None = None, client: Any = None,
                 create: bool = True, policy: bulk.BulkPolicy | None = None) -> None:
        self.settings = settings or OpenSearchSettings.from_env()
        self.client = client if client is not None else self.settings.client()
        self.alias = index
        self.policy = policy or bulk.BulkPolicy()
        self._pipelines: set[str] = set()
        self._loading = False  # inside bulk_load: writes are not refreshed one by one
        self.exact_below = EXACT_KNN_BELOW  # k-NN is exact below this many documents
        self._small: tuple[float, bool] = (-1e9, False)  # (when read, below exact_below)
        wanted = mapping if isinstance(mapping, IndexSchema) else (
            IndexSchema.load(mapping) if mapping is not None else None)
        self.schema = self._open(wanted, create)
        self.vector_names = list(self.schema.vector_fields)

    @property
    def locator(self) -> str:
        """How tasks and other processes name this index (see hybrid.engines.open_index)."""
        return f"opensearch:{self.alias}"

    # -- index lifecycle ------------------------------------------------------------
    def _open(self, wanted: IndexSchema | None, create: bool) -> IndexSchema:
        for _ in range(3):
            if self.client.indices.exists(index=self.alias):
                body = rq.stored_mapping(self.client.indices.get_mapping(index=self.alias))
                if body is None:
                    raise SchemaError(f"OpenSearch index {self.alias!r} was not created by "
                                      "hybrid (no _meta.hybrid.mapping)")
                schema = IndexSchema.from_dict(body)
                if wanted is not None and wanted.body != schema.body:
                    raise SchemaError(f"the index {self.alias!r} was created with another "
                                      "mapping; use 'hybrid reindex --mapping' or a new name")
                return schema
            if not create:
                raise NotFoundError(f"no OpenSearch index or alias {self.alias!r}")
            schema = wanted or IndexSchema.load()
            try:
                self._create(rq.versioned(self.alias, 1), schema)
                return schema
            except RequestError as e:  # another process created it first
                if "already_exists" not in str(e):
                    raise SchemaError(f"OpenSearch refused the index: {e}") from e
        raise EngineError(f"could not open or create {self.alias!r}")

    def _create(self, name: str, schema: IndexSchema, alias: bool = True) -> None:
        body = rq.index_body(schema, self.settings.knn_engine, self.settings.shards,
                             self.settings.replicas)
        if alias:
            body["aliases"] = {self.alias: {}}
        self.client.indices.create(index=name, body=body)

    def versions(self) -> list[str]:
        """The concrete indices behind the alias."""
        try:
            return sorted(self.client.indices.get_alias(name=self.alias))
        except OSNotFoundError:
            return []

    def reindex(self, mapping: IndexSchema | None = None, keep_old: bool = False
                ) -> dict[str, Any]:
        """Build the next version of the index (from `mapping`, default the current one),
        copy every document with its vectors into it, then move the alias to it in one
        atomic call: searches never see a missing or half-built index. Writes made while
        the copy runs go to the old version; run it when no ingest is running."""
        old = self.versions()
        if not old:
            raise NotFoundError(f"{self.alias!r} is not an alias of a versioned index")
        numbers = [n for o in old if (n := rq.version_of(self.alias, o)) is not None]
        new = rq.versioned(self.alias, max(numbers, default=0) + 1)
        schema = mapping or self.schema
        self._create(new, schema, alias=False)
        start, copied = time.perf_counter(), 0
        batch: list[bulk.Action] = []
        for hit in self._scroll({"match_all": {}}, source=True):
            batch.append(({"index": {"_id": hit["_id"]}}, hit["_source"]))
            if len(batch) >= self.policy.max_actions:
                copied += self._copy(new, batch)
                batch = []
        copied += self._copy(new, batch)
        self.client.indices.refresh(index=new)
        self.client.indices.update_aliases(body=rq.alias_actions(self.alias, new, old))
        if not keep_old:
            self.client.indices.delete(index=",".join(old))
        self.schema = schema
        self.vector_names = list(schema.vector_fields)
        return {"alias": self.alias, "from": old, "to": new, "documents": copied,
                "seconds": round(time.perf_counter() - start, 3), "kept_old": keep_old}

    def _copy(self, index: str, actions: list[bulk.Action]) -> int:
        if not actions:
            return 0
        items = bulk.send(self.client, index, actions, self.policy)
        failed = [(a[0]["index"]["_id"], bulk.item_error(i)) for a, i in
                  zip(actions, items, strict=True) if "error" in i]
        if failed:
            raise EngineError(f"reindex: {len(failed)} documents refused, e.g. {failed[0]}")
        return len(actions)

    def drop(self) -> None:
        """Delete the alias and every version behind it (tests, `index --fresh`)."""
        names = self.versions() or ([self.alias] if self.client.indices.exists(
            index=self.alias) else [])
        if names:
            self.client.indices.delete(index=",".join(names))
        try:
            ours = [p for p in self.client.search_pipeline.get() if p.startswith(
                f"{self.alias}-fusion-")]
        except OSNotFoundError:
            ours = []
        for p in ours:
            self.client.search_pipeline.delete(id=p)
        self._pipelines.clear()

    # -- writing --------------------------------------------------------------------
    def add(self, docs: Iterable[Mapping[str, Any]]) -> list[ItemResult]:
        results, latest = documents.accept(docs, self.schema, rq.prepare_vector)
        errors = self._write_docs(latest)
        for r in results:
            if r.ok and r.id in errors:
                r.ok, r.error = False, errors[r.id]
        if latest:
            self._refresh()
        return results

    def _write_docs(self, docs: Mapping[str, tuple[Mapping[str, Any], dict[str, list[float]]]]
                    ) -> dict[str, str]:
        """Index whole documents, keeping the vectors already stored for fields a document
        does not bring. A document another writer changed between our read and our write
        is read and written again. Returns id -> reason for the refused ones."""
        todo, errors = list(docs), {}
        for _ in range(CONFLICT_ROUNDS):
            if not todo:
                break
            stored = self._mget(todo, includes=rq.source_excludes(self.vector_names))
            actions: list[bulk.Action] = []
            for doc_id in todo:
                doc, vecs = docs[doc_id]
                found = stored.get(doc_id)
                if found is None:
                    actions.append(({"create": {"_id": doc_id}}, rq.to_source(doc, vecs)))
                else:
                    kept = rq.kept_part(found["_source"], self.vector_names)
                    actions.append(({"index": {"_id": doc_id, "if_seq_no": found["_seq_no"],
                                               "if_primary_term": found["_primary_term"]}},
                                    rq.to_source(doc, vecs, kept)))
            items = bulk.send(self.client, self.alias, actions, self.policy)
            todo = []
            for (head, _), item in zip(actions, items, strict=True):
                doc_id = next(iter(head.values()))["_id"]
                if item.get("status") == 409:
                    todo.append(doc_id)
                elif "error" in item:
                    errors[doc_id] = bulk.item_error(item)
        for doc_id in todo:
            errors[doc_id] = "conflict: the document kept changing while it was written"
        return errors

    def update(self, doc_id: str, fields: Mapping[str, Any]) -> None:
        merged = documents.updated(doc_id, self.get(doc_id), fields)
        vecs = documents.update_vectors(fields, self.schema, rq.prepare_vector)
        errors = self._write_docs({doc_id: (merged, vecs)})
        self._refresh()
        if errors:
            raise EngineError(f"update of {doc_id!r} refused: {errors[doc_id]}")

    def set_vectors(self, field: str, vectors: Mapping[str, Sequence[float] | np.ndarray], *,
                    provenance: Mapping[str, tuple[str, str]] | None = None
                    ) -> list[ItemResult]:
        """Write one vector field of existing documents (a partial update). A vector
        already stored with the same provenance (content hash, encoder version) is not
        written again: its result has skipped=True. Concurrent writers of one document
        are serialised by its sequence number, so a vector is never written twice."""
        f = documents.vector_field(self.schema, field)
        provenance = provenance or {}
        results = {i: ItemResult(i, True) for i in vectors}
        prepared: dict[str, list[float]] = {}
        for doc_id in vectors:
            try:
                prepared[doc_id] = rq.prepare_vector(f, vectors[doc_id])
            except ValueError as e:
                results[doc_id] = ItemResult(doc_id, False, str(e))
        todo = list(prepared)
        for _ in range(CONFLICT_ROUNDS):
            if not todo:
                break
            stored = self._mget(todo, includes=[f"{rq.META}.{field}"])
            actions: list[bulk.Action] = []
            for doc_id in todo:
                found = stored.get(doc_id)
                if found is None:
                    results[doc_id] = ItemResult(doc_id, False, "no such document")
                    continue
                meta = (found["_source"].get(rq.META) or {}).get(field) or {}
                h, model = provenance.get(doc_id, (None, None))
                writes = int(meta.get("writes") or 0)
                if h is not None and writes and (meta.get("hash"), meta.get("model")) == (h, model):
                    results[doc_id].skipped = True
                    continue
                actions.append(({"update": {"_id": doc_id, "if_seq_no": found["_seq_no"],
                                            "if_primary_term": found["_primary_term"]}},
                                 rq.vector_update(field, prepared[doc_id], h, model, writes + 1)))
            todo = []
            for (head, _), item in zip(actions, bulk.send(self.client, self.alias, actions,
                                                           self.policy), strict=True):
                doc_id = head["update"]["_id"]
                if item.get("status") == 409:
                    todo.append(doc_id)
                elif item.get("status") == 404:
                    results[doc_id] = ItemResult(doc_id, False, "no such document")
                elif "error" in item:
                    results[doc_id] = ItemResult(doc_id, False, bulk.item_error(item))
        for doc_id in todo:
            results[doc_id] = ItemResult(doc_id, False, "conflict: the document kept changing")
        self._refresh()
        return [results[i] for i in vectors]

    def record_vector_errors(self, field: str, errors: Mapping[str, tuple[str | None, str]]
                             ) -> None:
        """Remember why documents' inputs could not be encoded: id -> (hash, reason).
        Ids of documents that no longer exist are ignored."""
        documents.vector_field(self.schema, field)
        actions: list[bulk.Action] = [({"update": {"_id": i, "retry_on_conflict": 5}},
                                       rq.error_update(field, h, reason))
                                      for i, (h, reason) in errors.items()]
        items = bulk.send(self.client, self.alias, actions, self.policy)
        bad = [bulk.item_error(i) for i in items if "error" in i and i.get("status") != 404]
        if bad:
            raise EngineError(f"could not record {len(bad)} vector errors: {bad[0]}")
        self._refresh()

    def vector_info(self, field: str, ids: Sequence[str] | None = None
                    ) -> dict[str, dict[str, Any]]:
        """Per id: hash, model and write count of the stored vector, or the error that
        stopped it."""
        documents.vector_field(self.schema, field)
        include = [f"{rq.META}.{field}"]
        if ids is not None:
            sources = {i: d["_source"] for i, d in self._mget(list(ids), includes=include).items()}
        else:
            sources = {h["_id"]: h["_source"] for h in self._scroll(
                rq.vector_info_query(field), source=True, includes=include)}
        out = {}
        for doc_id, src in sources.items():
            info = rq.vector_info(src, field)
            if info is not None:
                out[doc_id] = info
        return out

    def delete(self, ids: Iterable[str]) -> int:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return 0
        items = bulk.send(self.client, self.alias, [({"delete": {"_id": i}}, None) for i in ids],
                          self.policy)
        self._refresh()
        return sum(1 for i in items if i.get("result") == "deleted")

    # -- reading --------------------------------------------------------------------
    def get(self, doc_id: str) -> dict[str, Any] | None:
        found = self._mget([doc_id], excludes=rq.source_excludes(self.vector_names))
        return rq.from_source(found[doc_id]["_source"], self.vector_names) \
            if doc_id in found else None

    def get_many(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found = self._mget(list(ids), excludes=rq.source_excludes(self.vector_names))
        return {i: rq.from_source(d["_source"], self.vector_names) for i, d in found.items()}

    def get_vectors(self, ids: Sequence[str], fields: Sequence[str] | None = None
                    ) -> dict[str, dict[str, np.ndarray]]:
        wanted = list(self.vector_names) if fields is None else list(fields)
        spaces = {name: documents.vector_field(self.schema, name).space for name in wanted}
        out: dict[str, dict[str, np.ndarray]] = {}
        if not wanted:
            return out
        for doc_id, d in self._mget(list(ids), includes=wanted).items():
            got = {}
            for name in wanted:
                value = d["_source"].get(name)
                if value is None:
                    continue
                vec = np.asarray(value, dtype=np.float32)
                if spaces[name] == "cosinesimil" and (norm := float(np.linalg.norm(vec))) > 0:
                    vec = vec / norm
                got[name] = vec
            if got:
                out[doc_id] = got
        return out

    def _mget(self, ids: list[str], includes: list[str] | None = None,
              excludes: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """Found documents by id: {"_source", "_seq_no", "_primary_term"}."""
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), PAGE):
            params: dict[str, Any] = {}
            if includes is not None:
                params["_source_includes"] = ",".join(includes)
            if excludes:
                params["_source_excludes"] = ",".join(excludes)
            resp = self.client.mget(body={"ids": ids[start:start + PAGE]}, index=self.alias,
                                    params=params)
            for d in resp["docs"]:
                if d.get("found"):
                    d.setdefault("_source", {})
                    out[str(d["_id"])] = d
        return out

    def scan(self) -> Iterator[dict[str, Any]]:
        """Every document in the index, in id order."""
        for hit in self._scroll({"match_all": {}}, source=True,
                                excludes=rq.source_excludes(self.vector_names)):
            yield rq.from_source(hit["_source"], self.vector_names)

    def _scroll(self, query: Mapping[str, Any], source: bool = True,
                includes: list[str] | None = None, excludes: list[str] | None = None
                ) -> Iterator[dict[str, Any]]:
        """Hits of `query` in id order, a page at a time (search_after)."""
        after: list[Any] | None = None
        src: Any = {"includes": includes or ["*"], "excludes": excludes or []} if source else False
        while True:
            body: dict[str, Any] = {"query": dict(query), "size": PAGE,
                                    "sort": ["id"], "_source": src}
            if after is not None:
                body["search_after"] = after
            hits = self.client.search(index=self.alias, body=body)["hits"]["hits"]
            yield from hits
            if len(hits) < PAGE:
                return
            after = hits[-1]["sort"]

    def count(self, filter: Mapping[str, Any] | None = None) -> int:
        query = filters.to_opensearch(filters.normalize(filter, self.schema))
        return int(self.client.count(index=self.alias, body={"query": query})["count"])

    def default_fields(self, text: str) -> dict[str, float]:
        """The mapping's search fields; CJK-analysed ones only for text with CJK in it."""
        return analysis.default_fields(self.schema, text)

    def _filter_clause(self, filter: Mapping[str, Any] | None) -> dict[str, Any] | None:
        flt = filters.normalize(filter, self.schema)
        return None if flt is None else filters.to_opensearch(flt)

    def lexical_body(self, text: str, *, fields: Mapping[str, float] | None = None,
                     filter: Mapping[str, Any] | None = None,
                     facets: Mapping[str, Any] | None = None, size: int = 10,
                     offset: int = 0, source: bool = True) -> dict[str, Any]:
        """The `_search` body of a lexical_search (validated; no I/O)."""
        check_window(size, offset)
        aggs = filters.normalize_facets(facets, self.schema)
        return rq.search_body(self.lexical_query(text, fields, filter), size=size,
                              offset=offset, source=source, vector_fields=self.vector_names,
                              facets=aggs)

    def lexical_query(self, text: str, fields: Mapping[str, float] | None,
                      filter: Mapping[str, Any] | None) -> dict[str, Any]:
        if not isinstance(text, str):
            raise QueryError(f"the query text must be a string, got {type(text).__name__}")
        if fields is not None and not isinstance(fields, Mapping):
            raise QueryError("fields must map field names to boosts")
        for name, boost in (fields or {}).items():
            if isinstance(boost, bool) or not isinstance(boost, int | float) \
                    or not np.isfinite(boost) or boost < 0:
                raise QueryError(f"the boost of {name!r} must be a finite number >= 0, "
                                 f"got {boost!r}")
        fields = dict(fields) if fields else self.default_fields(text)
        for name in fields:
            f = self.schema.resolve(name)
            if f is None or f.kind != TEXT:
                raise QueryError(f"cannot search {name!r} as text: text fields are "
                                 f"{', '.join(p.path for p in self.schema.of_kind(TEXT))}")
        return rq.lexical_query(text, fields, self._filter_clause(filter))

    def lexical_search(self, text: str, *, fields: Mapping[str, float] | None = None,
                       filter: Mapping[str, Any] | None = None,
                       facets: Mapping[str, Any] | None = None,
                       size: int = 10, offset: int = 0, source: bool = True) -> SearchResult:
        body = self.lexical_body(text, fields=fields, filter=filter, facets=facets, size=size,
                                 offset=offset, source=source)
        resp = self._search(body)
        return rq.read_hits(resp, self.vector_names,
                            filters.normalize_facets(facets, self.schema))

    def knn_body(self, field: str, vector: Sequence[float] | np.ndarray, *, k: int = 10,
                 filter: Mapping[str, Any] | None = None, source: bool = True,
                 candidates: int = 0
                 ) -> dict[str, Any]:
        """The `_search` body of a k-NN sub-query (validated; its only I/O is the document
        count that `exact_knn` reads every EXACT_CHECK_S seconds): the graph's k
        candidates, or every document's exact score on a small index, as the `hybrid`
        query's k-NN sub-query collects them (so the two fusion paths agree); `candidates`
        widens the graph search (knn_search's exact ties)."""
        self.knn_query(field, vector, k, filter)  # validates k before it is widened
        wide = min(k + candidates, max(k, MAX_RESULT_WINDOW))
        return rq.search_body(self.knn_query(field, vector, wide, filter), size=k,
                              source=source, vector_fields=self.vector_names)

    def knn_query(self, field: str, vector: Sequence[float] | np.ndarray, k: int,
                  filter: Mapping[str, Any] | None) -> dict[str, Any]:
        f = documents.vector_field(self.schema, field)
        check_window(k, 0)
        if k < 1:
            raise QueryError("k must be at least 1")
        try:
            vec = rq.prepare_vector(f, vector)
        except ValueError as e:
            raise QueryError(str(e)) from e
        if f.space in EXACT_SPACES and self.exact_knn():
            return rq.exact_knn_query(field, vec, f.space, self._filter_clause(filter))
        return rq.knn_query(field, vec, k, self._filter_clause(filter), f.ef_search)

    def exact_knn(self) -> bool:
        """Whether k-NN is exact here: the index holds fewer than `exact_below`
        (EXACT_KNN_BELOW) documents, read again every EXACT_CHECK_S seconds, as the
        embedded engine scans a small snapshot instead of searching its graph."""
        if self.exact_below <= 0:
            return False
        when, small = self._small
        if time.monotonic() - when > EXACT_CHECK_S:
            small = self.count() < self.exact_below
            self._small = (time.monotonic(), small)
        return small

    def knn_search(self, field: str, vector: Sequence[float] | np.ndarray, *, k: int = 10,
                   filter: Mapping[str, Any] | None = None, source: bool = True
                   ) -> SearchResult:
        if isinstance(k, int) and k == 0:
            return SearchResult([], 0)
        resp = self._search(self.knn_body(field, vector, k=k, filter=filter, source=source,
                                          candidates=KNN_TIE_CANDIDATES))
        res = rq.read_hits(resp, self.vector_names)
        return SearchResult(res.hits, len(res.hits))  # the hits, not the candidates

    def search_many(self, bodies: Sequence[Mapping[str, Any]]) -> list[SearchResult]:
        """Several `_search` bodies (from lexical_body / knn_body) in one `_msearch`
        round trip; results in order. Facets are not read (use lexical_search)."""
        if not bodies:
            return []
        resp = self.client.msearch(body=rq.msearch_lines(self.alias, bodies))
        out = []
        for body, r in zip(bodies, resp["responses"], strict=True):
            if "error" in r:
                raise EngineError(f"a sub-query failed: {r['error']}")
            res = rq.read_hits(r, self.vector_names)
            if "knn" in body.get("query", {}):  # the hits, not the candidates
                res = SearchResult(res.hits, len(res.hits))
            out.append(res)
        return out

    @staticmethod
    def why_not_server_side(normalizer: str, combiner: str, missing: str | None,
                            weights: Sequence[float]) -> str | None:
        """None when hybrid_search can run this fusion exactly, else the reason."""
        return pipelines.why_not_server_side(normalizer, combiner, missing, list(weights))

    def hybrid_search(self, queries: Sequence[Mapping[str, Any]], *, weights: Sequence[float],
                      normalizer: str = "min_max", combiner: str = "arithmetic_mean",
                      rrf_k: int = 60, size: int = 100) -> SearchResult | None:
        """Fuse on the server: a `hybrid` query of `queries` (from lexical_query /
        knn_query, at most 5) through a search pipeline made for this fusion (created
        once, named by its content). Ties are broken by id, as the planner does.

        None when the fusion could differ from the planner's: when documents tie across
        the cut at `size` in a sub-query other than k-NN, the node keeps those of lowest
        Lucene doc id and the planner those of smallest product id, and a tied document
        kept by one and not the other is fused differently (at the minimum, min_max's
        0.001 crushes a geometric or harmonic mean, while a missing score is skipped).
        A probe per such sub-query, in the same `_msearch` round trip, finds the ties;
        fuse those searches on the client (search_many). k-NN sub-queries cannot differ:
        both paths take the graph's own k candidates. None too when the probe cannot
        read place `size + 1` (past MAX_RESULT_WINDOW)."""
        why = pipelines.why_not_server_side(normalizer, combiner, None, list(weights))
        if why:
            raise QueryError(f"this fusion cannot run on the server: {why}")
        body = pipelines.pipeline_body(normalizer, combiner, list(weights), rrf_k)
        name = pipelines.pipeline_name(self.alias, body)
        if name not in self._pipelines:
            self.client.search_pipeline.put(id=name, body=body)
            self._pipelines.add(name)
        probes = [rq.cut_probe(q, size) for q in queries if "knn" not in q]
        if probes and size + 1 > MAX_RESULT_WINDOW:
            return None  # the probe cannot read past the result window
        bodies = [rq.hybrid_body(queries, size, pipeline=name), *probes]
        resp = self.client.msearch(body=rq.msearch_lines(self.alias, bodies))["responses"]
        for r in resp:
            if "error" in r:
                raise QueryError(f"OpenSearch refused the query: {r['error']}")
        if any(rq.tied_at_cut(r) for r in resp[1:]):
            return None
        res = rq.read_hits(resp[0], self.vector_names)
        res.hits.sort(key=lambda h: (-h.score, h.id))
        return res

    def _search(self, body: Mapping[str, Any], **params: Any) -> dict[str, Any]:
        try:
            resp: dict[str, Any] = self.client.search(index=self.alias, body=body,
                                                      params=params or None)
        except RequestError as e:
            raise QueryError(f"OpenSearch refused the query: {e.info or e}") from e
        return resp

    # -- upkeep ---------------------------------------------------------------------
    @contextmanager
    def bulk_load(self) -> Iterator[OpenSearchEngine]:
        """A block of many writes (a first ingest, a benchmark): while it runs, the index
        is not refreshed (`refresh_interval: -1`, and writes return without a refresh)
        and has no replicas, so the node builds fewer, larger segments (and HNSW graphs)
        and copies nothing. At the end, even on an error, the index's own settings are
        put back and it is refreshed once. Searches during the block may miss its writes."""
        if self._loading:  # nested: the outer block restores
            yield self
            return
        names = self.versions() or [self.alias]
        saved = {}
        for name, entry in self.client.indices.get_settings(index=",".join(names)).items():
            index = entry["settings"]["index"]
            saved[name] = {"refresh_interval": index.get("refresh_interval"),
                           "number_of_replicas": index.get("number_of_replicas")}
        self.client.indices.put_settings(index=",".join(names), body={"index": {
            "refresh_interval": "-1", "number_of_replicas": 0}})
        self._loading = True
        try:
            yield self
        finally:
            self._loading = False
            for name, settings in saved.items():  # None puts the cluster default back
                self.client.indices.put_settings(index=name, body={"index": settings})
            self.client.indices.refresh(index=self.alias)

    def _refresh(self) -> None:
        if not self._loading:
            self.client.indices.refresh(index=self.alias)

    def refresh(self) -> None:
        """Writes are refreshed when they return; nothing to catch up on."""

    def commit(self) -> None:
        self._refresh()

    def stats(self) -> dict[str, Any]:
        st = self.client.indices.stats(index=self.alias, metric="docs,store")
        size = sum(i["primaries"]["store"]["size_in_bytes"] for i in st["indices"].values())
        vectors = {}
        for name in self.vector_names:
            n = int(self.client.count(index=self.alias, body={"query": {
                "exists": {"field": f"{rq.META}.{name}.writes"}}})["count"])
            vectors[name] = {"vectors": n, "snapshot": n, "delta": 0}
        return {"engine": self.name, "path": self.locator, "index": self.versions(),
                "url": self.settings.url, "documents": self.count(), "vectors": vectors,
                "disk_bytes": size, "search_fields": self.schema.search_fields}

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> OpenSearchEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

