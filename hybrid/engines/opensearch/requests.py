"""Pure builders of the OpenSearch request bodies the engine sends, and readers of the
answers. No I/O: every body here is checked against the OpenSearch REST API
specification by the unit tests, without a server.

Documents in OpenSearch keep the catalog's fields at the top level, each vector as a
top-level `knn_vector` field, and the provenance of each vector in `hybrid_vectors`:
    {"<vector field>": {"hash": str|None, "model": str|None, "writes": int,
                        "error": str|None, "error_hash": str|None}}
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

from hybrid.engines import documents, filters
from hybrid.engines.base import Hit, SearchResult
from hybrid.engines.schema import Field, IndexSchema

META = "hybrid_vectors"  # provenance of each vector field, beside the vectors
KNN_ENGINES = ("lucene", "faiss", "nmslib")
MAX_REASON = 2000  # characters of an error reason kept (a keyword term has a size limit)
ID_ORDER: list[Any] = [{"_score": "desc"}, "id"]  # ties broken by id, ascending


def index_body(schema: IndexSchema, knn_engine: str | None = None,
               shards: int | None = None, replicas: int | None = None) -> dict[str, Any]:
    """The `PUT /<index>` body: the mapping file's settings and mappings, with every
    knn_vector field's HNSW engine set to `knn_engine` (None keeps the file's), the
    provenance object, and the file itself kept in `_meta.hybrid.mapping` (a JSON
    string) so that an index can be reopened with exactly the mapping it was made with."""
    if knn_engine is not None and knn_engine not in KNN_ENGINES:
        raise ValueError(f"k-NN engine {knn_engine!r} is not one of {', '.join(KNN_ENGINES)}")
    body = copy.deepcopy(schema.body)
    props = body["mappings"].setdefault("properties", {})
    for name in schema.vector_fields:
        method = props[name].setdefault("method", {"name": "hnsw"})
        if knn_engine is not None:
            method["engine"] = knn_engine
    props[META] = {"type": "object", "properties": {
        name: {"type": "object", "properties": {
            "hash": {"type": "keyword"}, "model": {"type": "keyword"},
            "writes": {"type": "integer"}, "error": {"type": "keyword"},
            "error_hash": {"type": "keyword", "index": False}}}
        for name in schema.vector_fields}}
    meta = body["mappings"].setdefault("_meta", {}).setdefault("hybrid", {})
    meta["mapping"] = json.dumps(schema.body, sort_keys=True)
    index = body.setdefault("settings", {}).setdefault("index", {})
    if shards is not None:
        index["number_of_shards"] = shards
    if replicas is not None:
        index["number_of_replicas"] = replicas
    return body


def stored_mapping(mapping_response: Mapping[str, Any]) -> dict[str, Any] | None:
    """The mapping file an index was created with, from `GET /<index>/_mapping`."""
    for entry in mapping_response.values():
        raw = entry.get("mappings", {}).get("_meta", {}).get("hybrid", {}).get("mapping")
        if isinstance(raw, str):
            loaded: dict[str, Any] = json.loads(raw)
            return loaded
    return None


def prepare_vector(field: Field, vec: Any) -> list[float]:
    """`documents.prepare_vector` as a list of floats, as a request body carries it."""
    out: list[float] = documents.prepare_vector(field, vec).astype(float).tolist()
    return out


# -- documents --------------------------------------------------------------------------
def to_source(doc: Mapping[str, Any], vectors: Mapping[str, list[float]],
              kept: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A catalog document as stored: its fields, its vectors as top-level fields. `kept`
    is what an earlier version of the document holds that the new one does not replace
    (vector fields and their provenance), from `kept_part`."""
    src = {k: v for k, v in doc.items() if k != "vectors"}
    src.update(dict(kept or {}))
    meta = dict(src.get(META) or {})
    for name, vec in vectors.items():
        src[name] = vec
        meta[name] = {"hash": None, "model": None, "writes": meta.get(name, {}).get("writes", 0)
                      + 1, "error": None, "error_hash": None}
    if meta:
        src[META] = meta
    return src


def kept_part(source: Mapping[str, Any], vector_fields: Sequence[str]) -> dict[str, Any]:
    """The part of a stored document that survives replacing it: vectors and provenance."""
    return {k: v for k, v in source.items() if k in vector_fields or k == META}


def from_source(source: Mapping[str, Any], vector_fields: Sequence[str]) -> dict[str, Any]:
    """A stored document as the catalog's dict (no vectors, no provenance)."""
    return {k: v for k, v in source.items() if k not in vector_fields and k != META}


def source_excludes(vector_fields: Sequence[str]) -> list[str]:
    return [*vector_fields, META]


def vector_update(field: str, vector: list[float], hash_: str | None, model: str | None,
                  writes: int) -> dict[str, Any]:
    """The partial-update body that writes one vector field and its provenance."""
    return {"doc": {field: vector, META: {field: {
        "hash": hash_, "model": model, "writes": writes, "error": None, "error_hash": None}}}}


def error_update(field: str, hash_: str | None, reason: str) -> dict[str, Any]:
    return {"doc": {META: {field: {"error": reason[:MAX_REASON], "error_hash": hash_}}}}


def vector_info(source: Mapping[str, Any], field: str) -> dict[str, Any] | None:
    """{"hash", "model", "error", "writes"[, "error_hash"]} of one document's field, or
    None when it holds neither a vector nor a recorded error."""
    meta = (source.get(META) or {}).get(field) or {}
    writes = int(meta.get("writes") or 0)
    if not writes and meta.get("error") is None:
        return None
    out: dict[str, Any] = {"hash": meta.get("hash") if writes else None,
                           "model": meta.get("model") if writes else None,
                           "error": meta.get("error")}
    if writes:
        out["writes"] = writes
    if meta.get("error") is not None:
        out["error_hash"] = meta.get("error_hash")
    return out


def vector_info_query(field: str) -> dict[str, Any]:
    """Documents holding a vector or a recorded error in `field`."""
    return {"bool": {"should": [{"exists": {"field": f"{META}.{field}.writes"}},
                                {"exists": {"field": f"{META}.{field}.error"}}],
                     "minimum_should_match": 1}}


# -- queries ----------------------------------------------------------------------------
def lexical_query(text: str, fields: Mapping[str, float], flt: Mapping[str, Any] | None
                  ) -> dict[str, Any]:
    """BM25 over `fields` with boosts, per-field scores summed (most_fields), inside the
    filter. Empty text: every document passing the filter, with score 0."""
    clauses: list[dict[str, Any]] = [dict(flt)] if flt else []
    if not text.strip():
        return {"bool": {"filter": clauses or [{"match_all": {}}]}}
    should = [{"match": {name: {"query": text, "boost": boost}}}
              for name, boost in fields.items()]
    query: dict[str, Any] = {"bool": {"should": should, "minimum_should_match": 1}}
    if clauses:
        query["bool"]["filter"] = clauses
    return query


def knn_query(field: str, vector: list[float], k: int, flt: Mapping[str, Any] | None,
              ef_search: int = 0) -> dict[str, Any]:
    """k-NN with the filter inside the clause (efficient filtering: k hits even when the
    filter passes few documents). An `ef_search` above k goes in method_parameters (k-NN
    2.16+): a lucene field examines max(k, ef_search) candidates, as the embedded
    engine's graph does, where the index setting alone would leave it at k."""
    spec: dict[str, Any] = {"vector": vector, "k": k}
    if flt:
        spec["filter"] = flt
    if ef_search > k:
        spec["method_parameters"] = {"ef_search": ef_search}
    return {"knn": {field: spec}}


def exact_knn_query(field: str, vector: list[float], space: str,
                    flt: Mapping[str, Any] | None) -> dict[str, Any]:
    """Exact k-NN: every document with a vector in `field` that passes the filter,
    scored by the k-NN plugin's `knn_score` script in `space`, on the same scale as the
    approximate query's scores (for cosinesimil, (1 + cos) / 2)."""
    must: list[Any] = [{"exists": {"field": field}}, *([flt] if flt else [])]
    return {"script_score": {"query": {"bool": {"filter": must}}, "script": {
        "source": "knn_score", "lang": "knn",
        "params": {"field": field, "query_value": vector, "space_type": space}}}}


def aggregations(facets: Mapping[str, Any]) -> dict[str, Any]:
    """Normalised facets (hybrid.engines.filters.normalize_facets) as aggregations."""
    aggs: dict[str, Any] = {}
    for name, spec in facets.items():
        if "terms" in spec:
            t = spec["terms"]
            aggs[name] = {"terms": {"field": t["field"], "size": t["size"],
                                    "order": [{"_count": "desc"}, {"_key": "asc"}]}}
        else:
            r = spec["range"]
            aggs[name] = {"range": {"field": r["field"], "ranges": [dict(x) for x in r["ranges"]]}}
    return aggs


def search_body(query: Mapping[str, Any], *, size: int, offset: int = 0, source: bool = True,
                vector_fields: Sequence[str] = (), facets: Mapping[str, Any] | None = None,
                sort: bool = True) -> dict[str, Any]:
    """A `_search` body: exact totals, ties broken by id, vectors left out of sources."""
    body: dict[str, Any] = {"query": dict(query), "size": size, "track_total_hits": True}
    if offset:
        body["from"] = offset
    if sort:
        body["sort"] = copy.deepcopy(ID_ORDER)
        body["track_scores"] = True
    body["_source"] = {"excludes": source_excludes(vector_fields)} if source else False
    if facets:
        body["aggs"] = aggregations(facets)
    return body


def msearch_lines(index: str, bodies: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The `_msearch` request: a header and a body per search."""
    lines: list[dict[str, Any]] = []
    for body in bodies:
        lines += [{"index": index}, dict(body)]
    return lines


def read_hits(response: Mapping[str, Any], vector_fields: Sequence[str],
              facets: Mapping[str, Any] | None = None) -> SearchResult:
    """A search response as a SearchResult (ids, scores, sources, total, facets)."""
    hits_part = response.get("hits", {})
    hits = []
    for h in hits_part.get("hits", []):
        src = h.get("_source")
        hits.append(Hit(str(h["_id"]), float(h.get("_score") or 0.0),
                        from_source(src, vector_fields) if src is not None else None))
    total = hits_part.get("total", {})
    count = int(total.get("value", 0)) if isinstance(total, Mapping) else int(total or 0)
    return SearchResult(hits, count, read_facets(response.get("aggregations", {}), facets or {}))


def read_facets(aggs: Mapping[str, Any], facets: Mapping[str, Any]) -> dict[str, Any]:
    """Aggregation results in the engine protocol's facet shape."""
    out: dict[str, Any] = {}
    for name, spec in facets.items():
        buckets = aggs.get(name, {}).get("buckets", [])
        if "terms" in spec:
            out[name] = [{"key": b["key"], "count": int(b["doc_count"])} for b in buckets]
            continue
        out[name] = [{"key": filters.range_key(r)} | dict(r) | {"count": int(b.get("doc_count", 0))}
                     for r, b in zip(spec["range"]["ranges"], buckets, strict=False)]
    return out


def hybrid_body(queries: Sequence[Mapping[str, Any]], size: int, source: bool = False,
                vector_fields: Sequence[str] = (), pipeline: str | None = None
                ) -> dict[str, Any]:
    """A `hybrid` query of the sub-queries (at most 5), each returning up to `size`
    documents; the search pipeline (`pipeline`, in the body so that it also works in
    `_msearch`) normalises and combines their scores."""
    if not 1 <= len(queries) <= 5:
        raise ValueError(f"a hybrid query takes 1 to 5 sub-queries, got {len(queries)}")
    body: dict[str, Any] = {"query": {"hybrid": {"queries": [dict(q) for q in queries]}},
                            "size": size}
    body["_source"] = {"excludes": source_excludes(vector_fields)} if source else False
    if pipeline is not None:
        body["search_pipeline"] = pipeline
    return body


def cut_probe(query: Mapping[str, Any], depth: int) -> dict[str, Any]:
    """A `_search` body that reads the scores at places `depth` and `depth + 1` of a
    sub-query (by score only, no sources): equal scores there are a tie at the cut."""
    return {"query": dict(query), "from": depth - 1, "size": 2, "track_total_hits": False,
            "_source": False}


def tied_at_cut(response: Mapping[str, Any]) -> bool:
    """Whether a cut_probe's answer shows documents tied across the cut."""
    hits = response.get("hits", {}).get("hits", [])
    return len(hits) == 2 and hits[0].get("_score") == hits[1].get("_score")


def alias_actions(alias: str, new: str, old: Sequence[str]) -> dict[str, Any]:
    """One `_aliases` request that moves `alias` from `old` indices to `new` atomically."""
    actions: list[dict[str, Any]] = [{"remove": {"index": o, "alias": alias}} for o in old]
    actions.append({"add": {"index": new, "alias": alias}})
    return {"actions": actions}


def versioned(alias: str, version: int) -> str:
    return f"{alias}-v{version}"


def version_of(alias: str, index: str) -> int | None:
    """The version number of `<alias>-v<N>`, or None for another name."""
    prefix = f"{alias}-v"
    tail = index[len(prefix):]
    return int(tail) if index.startswith(prefix) and tail.isdigit() else None
