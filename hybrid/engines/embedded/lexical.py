"""The lexical half of the embedded engine: a tantivy index built from the mapping.

Documents keep their source as stored JSON, so the lexical index is also the document
store. Writers from any process take a file lock, open tantivy's writer, commit and let
go; readers reload when the content of tantivy's meta.json changes (its mtime can stay
the same across two commits a few milliseconds apart), so a commit is seen by the next
search in every process. Scores are divided by (k1 + 1): tantivy multiplies BM25 by it,
Lucene (and so OpenSearch) does not.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tantivy

from hybrid.engines import filters
from hybrid.engines.embedded import analysis
from hybrid.engines.schema import BOOLEAN, KEYWORD, NUMBER, TEXT, Field, IndexSchema
from hybrid.errors import EngineError, FilterError

K1 = 1.2
ID, KEY, SOURCE = "_id", "_key", "_source"
_WRITER_HEAP = 128_000_000
MAX_BOOST = 1e6  # field boosts: scores stay finite
FEW_KEYS = 64  # up to this many keys are looked up by term queries, not a term set


def doc_key(doc_id: str) -> int:
    """A stable 63-bit integer for a document id (the key of its vectors)."""
    return int.from_bytes(hashlib.blake2b(doc_id.encode(), digest_size=8).digest(), "big") >> 1


def tname(path: str) -> str:
    """tantivy field name of a mapping path: dots mean JSON sub-paths in tantivy."""
    return path.replace(".", "__")


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class LexicalIndex:
    def __init__(self, path: Path, schema: IndexSchema) -> None:
        self.path, self.schema = path, schema
        path.mkdir(parents=True, exist_ok=True)
        self.tschema = _tantivy_schema(schema)
        try:
            self.index = tantivy.Index(self.tschema, path=str(path), reuse=True)
        except (OSError, ValueError) as e:
            raise EngineError(f"cannot open the lexical index at {path}: {e}") from e
        self.analyzers: dict[str, tantivy.TextAnalyzer] = {}
        for a in schema.analyzers.values():
            self.analyzers[a.name] = analysis.build(a)
            self.index.register_tokenizer(analysis.tokenizer_name(a), self.analyzers[a.name])
        self.index.config_reader(reload_policy="Manual")
        self._meta = path / "meta.json"
        self._seen: bytes | None = None
        self.refresh()

    # -- reading --------------------------------------------------------------------
    def refresh(self) -> None:
        """Reload when a writer, here or in another process, committed (meta.json changed)."""
        try:
            stamp = self._meta.read_bytes()
        except FileNotFoundError:
            return
        if stamp != self._seen:
            self.index.reload()
            self._seen = stamp

    def searcher(self) -> tantivy.Searcher:
        self.refresh()
        return self.index.searcher()

    def text_query(self, text: str, fields: Mapping[str, float]) -> tantivy.Query | None:
        """OR of every analysed query token in every field, each boosted by its field."""
        clauses = []
        for path, boost in fields.items():
            f = self.schema.fields.get(path)
            if f is None or f.kind != TEXT:
                raise FilterError(f"cannot search {path!r}: not a text field of the mapping")
            if (isinstance(boost, bool) or not isinstance(boost, int | float)
                    or not math.isfinite(boost) or not 0 <= boost <= MAX_BOOST):
                raise FilterError(f"the boost of {path!r} must be a number from 0 to "
                                  f"{MAX_BOOST:g}, got {boost!r}")
            for token in self.tokens(f, text):
                q = tantivy.Query.term_query(self.tschema, tname(path), token)
                if boost != 1.0:
                    q = tantivy.Query.boost_query(q, float(boost))
                clauses.append((tantivy.Occur.Should, q))
        return tantivy.Query.boolean_query(clauses) if clauses else None

    def tokens(self, f: Field, text: str) -> list[str]:
        spec = self.schema.analyzers[f.analyzer or "standard"]
        if spec.tokenizer == analysis.CJK_TOKENIZER:
            return analysis.cjk_tokens(text)
        return list(self.analyzers[spec.name].analyze(analysis.prepare(spec, text)))

    def filter_query(self, flt: Mapping[str, Any] | None) -> tantivy.Query:
        return _filter_query(flt, self.schema, self.tschema)

    def search(self, query: tantivy.Query, limit: int, offset: int = 0,
               aggs: Mapping[str, Any] | None = None, source: bool = True,
               scored: bool = True,
               ids_of: Callable[[np.ndarray], list[str | None]] | None = None
               ) -> tuple[list[tuple[float, str, dict[str, Any] | None]], int, dict[str, Any]]:
        """(score on Lucene's scale, id, stored document if `source`) hits, total, facets.

        Hits are ordered by score, then id (ascending), whatever the order of ingest:
        the tie group at the page's end is read whole before the page is cut. With
        `scored=False` every hit scores 0 and the order is by id alone. `ids_of` may
        name the ids of keys (None where it does not know one), which spares loading
        documents just for their ids; only the page's documents are loaded for source."""
        s = self.searcher()
        ranked, total = _ranked(s, query, offset + limit, scored, ids_of)
        hits = []
        for score, doc_id, addr in ranked[offset:offset + limit]:
            src = _source(s, addr) if source else None
            hits.append((score / (K1 + 1), doc_id, src))
        facets = {}
        if aggs:
            facets = _facets(s.aggregate(query, _tantivy_aggs(aggs, self.schema)), aggs)
        return hits, total, facets

    def count(self, query: tantivy.Query) -> int:
        res = self.searcher().search(query, 1, count=True)
        return int(res.count or 0)  # type: ignore[attr-defined]

    def keys(self, query: tantivy.Query, limit: int) -> np.ndarray:
        """Keys of up to `limit` documents matching a query (unscored use)."""
        s = self.searcher()
        res = s.search(query, max(limit, 1), count=False)
        return np.asarray(s.fast_field_values(KEY, [a for _, a in res.hits]), dtype=np.int64)

    def _among(self, s: tantivy.Searcher, keys: Sequence[int] | np.ndarray,
               flt: tantivy.Query | None) -> tuple[list[Any], list[Any]]:
        if len(keys) <= FEW_KEYS:  # one term query each: several times faster for a page
            q = tantivy.Query.boolean_query([
                (tantivy.Occur.Should, tantivy.Query.term_query(self.tschema, KEY, int(k)))
                for k in keys])
        else:
            q = tantivy.Query.term_set_query(self.tschema, KEY, [int(k) for k in keys])
        if flt is not None:
            q = tantivy.Query.boolean_query([(tantivy.Occur.Must, q), (tantivy.Occur.Must, flt)])
        addrs = [a for _, a in s.search(q, len(keys), count=False).hits]
        return s.fast_field_values(KEY, addrs), addrs

    def keys_among(self, keys: Sequence[int] | np.ndarray, flt: tantivy.Query | None = None
                   ) -> set[int]:
        """Those of `keys` whose documents exist and pass `flt` (no document is loaded)."""
        if not len(keys):
            return set()
        found, _ = self._among(self.searcher(), keys, flt)
        return {int(k) for k in found if k is not None}

    def sources_by_key(self, keys: Sequence[int] | np.ndarray, flt: tantivy.Query | None = None
                       ) -> dict[int, dict[str, Any]]:
        """The stored documents among `keys` (those that exist and pass `flt`)."""
        if not len(keys):
            return {}
        s = self.searcher()
        found, addrs = self._among(s, keys, flt)
        return {int(k): _source(s, a) for k, a in zip(found, addrs, strict=True) if k is not None}

    def get(self, doc_id: str) -> dict[str, Any] | None:
        s = self.searcher()
        res = s.search(tantivy.Query.term_query(self.tschema, ID, doc_id), 1, count=False)
        return _source(s, res.hits[0][1]) if res.hits else None

    def scan(self, batch: int = 1000) -> Iterator[dict[str, Any]]:
        """Every stored document, from one consistent searcher."""
        s = self.searcher()
        q = tantivy.Query.all_query()
        for offset in range(0, int(s.num_docs), batch):
            for _, addr in s.search(q, batch, count=False, offset=offset).hits:
                yield _source(s, addr)

    def num_docs(self) -> int:
        return int(self.searcher().num_docs)

    # -- writing --------------------------------------------------------------------
    def write(self, upserts: Sequence[Mapping[str, Any]], deletes: Sequence[str] = ()) -> None:
        """Delete then add, in one tantivy commit, under the cross-process write lock."""
        docs = [self.to_document(d) for d in upserts]
        with file_lock(self.path / ".hybrid-write.lock"):
            try:
                w = self.index.writer(_WRITER_HEAP, 1)
            except ValueError as e:
                raise EngineError(f"cannot open the index writer at {self.path}: {e}") from e
            for doc_id in [*deletes, *(str(d["id"]) for d in upserts)]:
                w.delete_documents_by_term(ID, doc_id)
            for doc in docs:
                w.add_document(doc)
            w.commit()
            w.wait_merging_threads()
        self.refresh()

    def to_document(self, doc: Mapping[str, Any]) -> tantivy.Document:
        return to_document(doc, self.schema)


def to_document(doc: Mapping[str, Any], schema: IndexSchema) -> tantivy.Document:
    """Map a catalog document onto the tantivy fields of the schema (copy_to included)."""
    d = tantivy.Document()
    doc_id = str(doc["id"])
    d.add_text(ID, doc_id)
    d.add_unsigned(KEY, doc_key(doc_id))
    source = {k: v for k, v in doc.items() if k != "vectors"}
    d.add_bytes(SOURCE, json.dumps(source, ensure_ascii=False).encode())
    copies: dict[str, list[str]] = {}
    for f in schema.fields.values():
        if f.path == "id":
            continue
        for v in _values(doc.get(f.source)):
            _add(d, f, v, schema)
            for target in f.copy_to:
                copies.setdefault(target, []).append(str(v))
    for obj, templates in schema.dynamic.items():
        members = doc.get(obj)
        if not isinstance(members, Mapping) or not members:
            continue
        d.add_json(tname(obj), json.dumps(members))
        text_tmpl = templates.get("string")
        for v in members.values():
            for x in _values(v):
                if isinstance(x, str) and text_tmpl:
                    for target in text_tmpl.copy_to:
                        copies.setdefault(target, []).append(x)
    for target, values in copies.items():
        for v in values:
            _add(d, schema.fields[target], v, schema)
    return d


def _add(d: tantivy.Document, f: Field, v: Any, schema: IndexSchema) -> None:
    name = tname(f.path)
    if f.kind == TEXT:
        d.add_text(name, analysis.prepare(schema.analyzers[f.analyzer or "standard"], str(v)))
    elif f.kind == KEYWORD:
        d.add_text(name, str(v))
    elif f.kind == NUMBER and isinstance(v, int | float) and not isinstance(v, bool):
        d.add_float(name, float(v))
    elif f.kind == BOOLEAN and isinstance(v, bool):
        d.add_boolean(name, v)


def _values(v: Any) -> list[Any]:
    if v is None or v == "":
        return []
    return [x for x in v if x is not None and x != ""] if isinstance(v, list) else [v]


def _ranked(s: tantivy.Searcher, query: tantivy.Query, want: int, scored: bool,
            ids_of: Callable[[np.ndarray], list[str | None]] | None = None
            ) -> tuple[list[tuple[float, str, tantivy.DocAddress]], int]:
    """The best `want` hits (more when there are ties at the cut) as (score, id,
    address), by score then id, and how many documents match. tantivy itself breaks
    ties by document address, which is ingest order. Ids come from `ids_of` (keys to
    ids) where it knows them, else from the stored documents."""
    # past the cut: shows whether a tie group crosses it, and is usually deep enough to
    # hold it (BM25 ties are common: equal term counts in equal-length fields); 4x, not
    # 2x: a tie group at the cut often runs past 2x, and searching again costs a whole
    # search, more than the deeper top-n does
    n = 4 * want + 1
    while True:
        res = (s.search(query, n, count=True) if scored else
               s.search(query, n, count=True, order_by_field=ID, order=tantivy.Order.Asc))
        hits, total = res.hits, int(res.count or 0)  # type: ignore[attr-defined]
        if want == 0:
            return [], total
        if not scored:  # every hit scores 0: by id alone
            return [(0.0, str(key), a) for key, a in hits], total
        if len(hits) < n or hits[-1][0] < hits[want - 1][0]:
            break  # every document scoring as the last one wanted is in
        n *= 2
    if len(hits) > want:  # the wanted ones and their tie group; the rest cannot make it
        cut, end = hits[want - 1][0], want
        while end < len(hits) and hits[end][0] >= cut:
            end += 1
        hits = hits[:end]
    addrs = [a for _, a in hits]
    known: list[str | None] = [None] * len(addrs)
    if ids_of is not None and addrs:
        known = ids_of(np.asarray(s.fast_field_values(KEY, addrs), dtype=np.int64))
    ranked = sorted((-float(score), str(s.doc(a)[ID][0]) if i is None else i, a)
                    for (score, a), i in zip(hits, known, strict=True))  # ids are unique
    return [(-neg, i, a) for neg, i, a in ranked], total


def _source(s: tantivy.Searcher, addr: tantivy.DocAddress) -> dict[str, Any]:
    raw = s.doc(addr)[SOURCE][0]
    return json.loads(bytes(raw))


def _tantivy_schema(schema: IndexSchema) -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field(ID, stored=True, fast=True, tokenizer_name="raw", index_option="basic")
    sb.add_unsigned_field(KEY, stored=False, indexed=True, fast=True)
    sb.add_bytes_field(SOURCE, stored=True, indexed=False)
    for f in schema.fields.values():
        if f.path == "id":
            continue
        name = tname(f.path)
        if f.kind == TEXT:
            spec = schema.analyzers[f.analyzer or "standard"]
            sb.add_text_field(name, tokenizer_name=analysis.tokenizer_name(spec),
                              index_option="freq")
        elif f.kind == KEYWORD:
            sb.add_text_field(name, fast=True, tokenizer_name="raw", index_option="basic")
        elif f.kind == NUMBER:
            sb.add_float_field(name, indexed=True, fast=True)
        elif f.kind == BOOLEAN:
            sb.add_boolean_field(name, indexed=True, fast=True)
    for obj in schema.dynamic:
        sb.add_json_field(tname(obj), tokenizer_name="raw", fast=True, index_option="basic")
    return sb.build()


def _path(path: str, schema: IndexSchema) -> str:
    """tantivy name of a filterable path: mapped fields mangled, dynamic members as
    JSON sub-paths ("attributes.colour")."""
    if path == "id":
        return ID
    return tname(path) if path in schema.fields else path


def _filter_query(flt: Mapping[str, Any] | None, schema: IndexSchema,
                  ts: tantivy.Schema) -> tantivy.Query:
    Q, Occur = tantivy.Query, tantivy.Occur
    if flt is None:
        return Q.all_query()
    (op, arg), = flt.items()
    if op in ("and", "or"):
        occur = Occur.Must if op == "and" else Occur.Should
        return Q.boolean_query([(occur, _filter_query(x, schema, ts)) for x in arg])
    if op == "not":
        return Q.boolean_query([(Occur.Must, Q.all_query()),
                                (Occur.MustNot, _filter_query(arg, schema, ts))])
    if op == "exists":
        return Q.exists_query(_path(arg["field"], schema), True)
    (path, value), = arg.items()
    f = schema.resolve(path)
    name = _path(path, schema)
    numeric = f is not None and f.kind == NUMBER
    if op == "range":
        return _range(ts, name, value)
    values = value if op == "terms" else [value]
    if numeric:
        parts = [_range(ts, name, {"gte": float(v), "lte": float(v)}) for v in values]
        return parts[0] if len(parts) == 1 else Q.boolean_query([(Occur.Should, p) for p in parts])
    if f is not None and f.kind == BOOLEAN:
        return Q.term_set_query(ts, name, [bool(v) for v in values])
    return Q.term_set_query(ts, name, [str(v) for v in values])


def _range(ts: tantivy.Schema, name: str, r: Mapping[str, float]) -> tantivy.Query:
    lo = max((r[k] for k in ("gt", "gte") if k in r), default=None)
    hi = min((r[k] for k in ("lt", "lte") if k in r), default=None)
    inc_lo = lo is None or ("gte" in r and r["gte"] == lo and not ("gt" in r and r["gt"] == lo))
    inc_hi = hi is None or ("lte" in r and r["lte"] == hi and not ("lt" in r and r["lt"] == hi))
    return tantivy.Query.range_query(ts, name, tantivy.FieldType.Float, lo, hi, inc_lo, inc_hi)


def _tantivy_aggs(aggs: Mapping[str, Any], schema: IndexSchema) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, spec in aggs.items():
        (kind, arg), = spec.items()
        tfield = _path(arg["field"], schema)
        if kind == "terms":
            out[name] = {"terms": {"field": tfield, "size": arg["size"]}}
        else:
            out[name] = {"range": {"field": tfield, "ranges": arg["ranges"]}}
    return out


def _facets(raw: Mapping[str, Any], aggs: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, spec in aggs.items():
        buckets = raw.get(name, {}).get("buckets", [])
        if "terms" in spec:
            out[name] = [{"key": b["key"], "count": int(b["doc_count"])} for b in buckets]
            continue
        # tantivy adds buckets for the gaps between the requested ranges; OpenSearch doesn't
        by_bounds = {(b.get("from"), b.get("to")): b for b in buckets}
        out[name] = []
        for r in spec["range"]["ranges"]:
            b = by_bounds.get((r.get("from"), r.get("to")), {})
            out[name].append({"key": filters.range_key(r)} | r
                             | {"count": int(b.get("doc_count", 0))})
    return out

