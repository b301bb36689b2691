"""Run a plan: encode the query's inputs, run the sub-queries side by side, fuse,
page, fetch the page's documents and count facets over the fused result set.

The I/O shell around `hybrid.planner`: every decision about what to run and how to
fuse is made there; this module talks to the engine and the encoders and keeps time.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from hybrid.encoders.base import DecodeError, Encoder, EncoderError, base_pass
from hybrid.engines.filters import empty_facets
from hybrid.errors import QueryError, UnavailableError
from hybrid.planner.fusion import Fused, fuse
from hybrid.planner.plan import Plan, SearchRequest, SubQuery, plan
from hybrid.planner.profile import (
    AUDIO,
    IMAGE,
    KNN,
    PRODUCT,
    SESSION,
    STORED,
    TEMPLATE,
    TEXT,
    Profile,
)
from hybrid.planner.table import SignalTable
from hybrid.search.template import TemplateRunner

log = logging.getLogger(__name__)
CLIENT_ERRORS = (QueryError, DecodeError)  # the query's own fault: a 4xx, never skipped
# sub-queries run together: (signal -> ranked (id, raw score), signal -> total, signal -> ms)
Batch = tuple[dict[str, list[tuple[str, float]]], dict[str, int], dict[str, float]]


@dataclass
class Retrieval:
    """A planned query after its sub-queries ran: what fusion starts from."""

    plan: Plan
    text: str                    # the query text, with the audio's transcript
    modalities: tuple[str, ...]  # which inputs the request carried
    transcript: str | None
    results: dict[str, list[tuple[str, float]]]  # signal -> ranked (id, raw score)
    totals: dict[str, int]       # signal -> how many documents matched
    took: dict[str, float]
    sub_took: dict[str, float]
    fused: list[tuple[str, float]] | None = None  # the server's fused ranking, if it fused


RETRY_UNAVAILABLE_S = 30.0  # how long a failed encoder load or an empty field is believed
VOCABULARY_S = 300.0  # how long the catalog vocabulary for speech is kept
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif")


def _load(name: str) -> Encoder:
    from hybrid.encoders.registry import load_encoder

    return load_encoder(name)


def _transcribe(waveform: np.ndarray, prompt: str | None = None) -> str:
    from hybrid.encoders.audio import get_transcriber

    return get_transcriber(initial_prompt=prompt).transcribe([waveform])[0].text


class Searcher:
    """Answers SearchRequests on one engine. Thread-safe; one per process."""

    def __init__(self, engine: Any, *, encoder: Callable[[str], Encoder] = _load,
                 transcribe: Callable[[np.ndarray, str | None], str] = _transcribe,
                 threads: int = 6, connections: Mapping[str, Any] | None = None,
                 vocabulary: bool = True, server_fusion: bool = False) -> None:
        """`transcribe(waveform, prompt)`: speech to text; `vocabulary`: prompt it with
        the catalog's common values (brands, categories, colours; see
        hybrid.search.vocabulary), so that it writes the words the catalog uses;
        `connections`: where template signals send the shop's own search;
        `server_fusion`: let an engine that can (OpenSearch) fuse a plan itself."""
        self.engine = engine
        # One BLAS thread in this process: numpy's OpenBLAS woke its threads for a query's
        # small products (the aligned projection of a photo's features, fusion), and they
        # waited for cores that the encoders' torch threads held: one 1280 -> 384
        # projection took 15.7 ms right after EfficientNet on a busy 2-core machine, 0.25
        # ms on one thread. Process-wide, as BLAS threading is.
        threadpool_limits(1, user_api="blas")
        # fuse on the engine (OpenSearch's hybrid query) when the plan allows it exactly
        self.server_fusion = server_fusion and callable(getattr(engine, "hybrid_search", None))
        self.encoder = encoder
        self._transcribe = transcribe
        self.vocabulary = vocabulary
        self._prompt: tuple[float, str | None] = (-1e9, None)
        self.templates = TemplateRunner(connections)
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="subquery")
        self._lock = threading.Lock()
        self._failed: dict[str, tuple[float, str]] = {}  # encoder -> (when, why)
        self._counts: tuple[float, dict[str, int]] = (0.0, {})

    # -- availability -----------------------------------------------------------------
    def unavailable(self, profile: Profile) -> dict[str, str]:
        """Signals of `profile` that cannot run now, and why: the encoder cannot load,
        the index holds no vectors in the field yet, or a template's connection is unknown."""
        counts = self._vector_counts()
        out = {}
        for s in profile.signals:
            if s.kind == TEMPLATE and s.template is not None:
                why = self.templates.problem(s.template)
                if why:
                    out[s.name] = why
                continue
            if s.kind != KNN or s.field is None or s.encoder is None:
                continue
            if counts.get(s.field, 0) == 0:
                out[s.name] = (f"no {s.field} vectors in the index: none computed yet, or no "
                               "product has their input ('hybrid status' tells which)")
                continue
            if s.encoder.startswith(STORED):  # the caller supplies its query vector
                continue
            why = self._encoder_problem(s.encoder)
            if why:
                out[s.name] = why
        return out

    def warm(self, profile: Profile) -> dict[str, str]:
        """Load the encoders the profile needs; returns the signals that cannot run."""
        for s in profile.signals:
            if s.encoder:
                self._encoder_problem(s.encoder)
        return self.unavailable(profile)

    def _vector_counts(self) -> dict[str, int]:
        when, counts = self._counts
        if time.monotonic() - when > RETRY_UNAVAILABLE_S or not counts:
            vectors = self.engine.stats().get("vectors", {})
            counts = {f: int(v.get("vectors", 0)) for f, v in vectors.items()}
            self._counts = (time.monotonic(), counts)
        return counts

    def _encoder_problem(self, name: str) -> str | None:
        with self._lock:
            failed = self._failed.get(name)
            if failed and time.monotonic() - failed[0] < RETRY_UNAVAILABLE_S:
                return failed[1]
        try:
            self.encoder(name)
        except EncoderError as e:
            with self._lock:
                self._failed[name] = (time.monotonic(), f"encoder {name} unavailable: {e}")
                return self._failed[name][1]
        return None

    def speech_prompt(self) -> str | None:
        """The catalog vocabulary that spoken queries are transcribed with (None when
        `vocabulary` is off or the index has none), recomputed every VOCABULARY_S."""
        if not self.vocabulary:
            return None
        when, prompt = self._prompt
        if time.monotonic() - when > VOCABULARY_S:
            from hybrid.search.vocabulary import catalog_terms, speech_prompt

            documents = int(self.engine.stats().get("documents") or 0)
            prompt = speech_prompt(catalog_terms(self.engine), documents)
            self._prompt = (time.monotonic(), prompt)
        return prompt

    def transcribe(self, audio: np.ndarray) -> str:
        return self._transcribe(audio, self.speech_prompt())

    # -- search -----------------------------------------------------------------------
    def retrieve(self, request: SearchRequest, profile: Profile, *, image: Any = None,
                 audio: np.ndarray | None = None,
                 vectors: Mapping[str, np.ndarray] | None = None,
                 unavailable: Mapping[str, str] | None = None) -> Retrieval:
        """Plan the request and run its sub-queries (transcribing and encoding first):
        everything before fusion. Evaluation and learning start from here too.

        vectors: signal name -> query vector the caller already has (a product's stored
        vector, a session vector), used instead of encoding; unavailable: signal name ->
        why it cannot run for this request (e.g. the product has no such vector)."""
        took: dict[str, float] = {}
        given = dict(vectors or {})
        unfed = {s.name: f"no {s.input} vector for this query" for s in profile.signals
                 if s.input in (PRODUCT, SESSION) and s.name not in given}
        the_plan = plan(request, profile, self.engine.schema,
                        {**self.unavailable(profile), **unfed, **(unavailable or {})})
        text = request.text
        transcript = None
        failed: dict[str, str] = {}  # signal -> why it failed on this query
        if the_plan.transcribe and audio is not None:
            t = time.perf_counter()
            try:
                transcript = self.transcribe(audio).strip()
            except CLIENT_ERRORS:
                raise
            except Exception:  # noqa: BLE001 - the other signals still answer
                log.exception("transcription failed")
                if not text:
                    failed |= {q.signal: "the audio could not be transcribed (the server "
                               "log has the details)" for q in the_plan.subqueries
                               if q.input == TEXT}
            text = f"{text} {transcript or ''}".strip()
            if transcript:
                the_plan = the_plan.for_transcript(text)
            took["transcribe"] = _ms(t)
        inputs = {TEXT: text, IMAGE: image, AUDIO: audio}
        t = time.perf_counter()
        server = not failed and self._on_server(the_plan)
        batched = server or callable(getattr(self.engine, "search_many", None))
        local = batched and getattr(self.engine, "in_process", False)  # threads, no round trip
        encodes = any(q.kind == KNN and q.encoder is not None and q.signal not in given
                      for q in the_plan.subqueries if q.signal not in failed)
        # Lexical sub-queries need no vectors: they run while the query is encoded,
        # unless the engine takes all its sub-queries in one round trip (OpenSearch's
        # _msearch); an engine in this process (search_many overlapping them in
        # threads) takes them with the k-NN ones when there is nothing to encode.
        # Template signals always run on their own.
        early_lexical = not batched or (encodes and local)
        early = {q.signal: self.pool.submit(self._run_one, q, the_plan, text, None)
                 for q in the_plan.subqueries if q.kind != KNN and q.signal not in failed
                 and (q.kind == TEMPLATE or early_lexical)}
        # Likewise, an in-process engine starts each k-NN sub-query as soon as its query
        # vector exists: in the encoder's own thread, and while the others still encode.

        def search(vectors: dict[str, np.ndarray]) -> Batch:  # vectors of planned signals
            return self._run_batched([q for q in the_plan.subqueries if q.signal in vectors],
                                     the_plan, text, vectors)

        encoded, pipelined = self._encode(the_plan, inputs, failed, skip=given,
                                          search=search if local and not server else None)
        query_vectors = given | encoded
        took["encode"] = _ms(t)
        t = time.perf_counter()
        fused = None
        results: dict[str, list[tuple[str, float]]] = {}
        totals: dict[str, int] = {}
        sub_took: dict[str, float] = {}
        futures = dict(early)

        def one_by_one(qs: list[SubQuery]) -> None:  # a sub-query that fails leaves the others
            futures.update({q.signal: self.pool.submit(self._run_one, q, the_plan, text,
                                                       query_vectors.get(q.signal))
                            for q in qs})

        on_engine = [q for q in the_plan.subqueries if q.kind != TEMPLATE and q.input != SESSION
                     and q.signal not in failed and q.signal not in early
                     and q.signal not in pipelined
                     and (q.kind != KNN or q.signal in query_vectors)]
        if batched and on_engine:
            try:
                if server and len(on_engine) == len(the_plan.subqueries):
                    fused, got = self._run_on_server(the_plan, text, query_vectors)
                else:
                    got = self._run_batched(on_engine, the_plan, text, query_vectors)
                results, totals, sub_took = got
            except CLIENT_ERRORS:
                raise
            except Exception as e:  # noqa: BLE001 - template signals may still answer
                log.exception("the engine's sub-queries failed")
                if server or not local:
                    failed |= {q.signal: f"the sub-query failed ({type(e).__name__}; the "
                               "server log has the details)" for q in on_engine}
                else:
                    one_by_one(on_engine)
        elif not batched:
            futures |= {q.signal: self.pool.submit(self._run_one, q, the_plan, text,
                                                   query_vectors[q.signal])
                        for q in the_plan.subqueries
                        if q.kind == KNN and q.input != SESSION and q.signal in query_vectors}
        for f in dict.fromkeys(pipelined.values()):
            names = [n for n, g in pipelined.items() if g is f]
            try:
                hits, counts, times = f.result()
                results |= hits
                totals |= counts
                sub_took |= times
            except CLIENT_ERRORS:
                raise
            except Exception:  # noqa: BLE001 - again one by one, as for the batch above
                log.exception("the engine's sub-queries failed")
                one_by_one([q for q in the_plan.subqueries if q.signal in names])
        for q in the_plan.subqueries:
            if q.signal not in futures:
                continue
            try:
                results[q.signal], totals[q.signal], sub_took[q.signal] = \
                    futures[q.signal].result()
            except CLIENT_ERRORS:
                raise
            except Exception as e:  # noqa: BLE001 - one failed signal, the others answer
                log.exception("sub-query %s failed", q.signal)
                failed[q.signal] = f"the sub-query failed ({type(e).__name__}; the server " \
                                   "log has the details)"
        found = sorted({d for hits in results.values() for d, _ in hits})
        for q in the_plan.subqueries:  # session signals re-rank what the others found
            if q.input == SESSION and q.signal in query_vectors:
                results[q.signal], totals[q.signal], sub_took[q.signal] = self._rerank(
                    q, the_plan, query_vectors[q.signal], found)
        took["retrieve"] = _ms(t)
        the_plan = _without(the_plan, failed)
        modalities = tuple(m for m, v in ((TEXT, request.text), (IMAGE, image is not None),
                                          (AUDIO, audio is not None)) if v)
        return Retrieval(the_plan, text, modalities, transcript, results, totals, took,
                         sub_took, fused)

    def search(self, request: SearchRequest, profile: Profile, *, image: Any = None,
               audio: np.ndarray | None = None,
               vectors: Mapping[str, np.ndarray] | None = None,
               unavailable: Mapping[str, str] | None = None) -> dict[str, Any]:
        """One page of fused results (see `retrieve` for vectors and unavailable)."""
        start = time.perf_counter()
        r = self.retrieve(request, profile, image=image, audio=audio, vectors=vectors,
                          unavailable=unavailable)
        the_plan, took = r.plan, r.took
        t = time.perf_counter()
        weights = the_plan.fusion_weights(r.text, r.modalities, r.results, r.totals)
        names = [q.signal for q in the_plan.subqueries]
        fusion: dict[str, Any] = {"normalizer": the_plan.normalizer,
                                  "combiner": the_plan.combiner, "rrf_k": the_plan.rrf_k,
                                  "missing": the_plan.missing}
        ranked = r.fused if r.fused is not None else SignalTable.from_lists(
            r.results, names).ranking(np.array([weights[n] for n in names]), **fusion)
        page = ranked[the_plan.offset:the_plan.offset + the_plan.size]
        explained = {f.id: f for f in fuse(r.results, weights, only=[d for d, _ in page],
                                           **fusion)} if the_plan.explain else {}
        took["fuse"] = _ms(t)
        t = time.perf_counter()
        docs = self.engine.get_many([d for d, _ in page]) if page else {}
        took["fetch"] = _ms(t)
        facets: dict[str, Any] = empty_facets(the_plan.facets)  # each asked-for facet
        if the_plan.facets and ranked:
            t = time.perf_counter()
            facets = self._facets(the_plan, [d for d, _ in ranked])
            took["facets"] = _ms(t)
        took["total"] = _ms(start)
        return {
            "query_id": uuid.uuid4().hex,
            "profile": {"name": profile.name, "version": profile.version},
            "total": len(ranked), "page": request.page, "size": request.size,
            "hits": [self._hit(d, score, docs.get(d), explained.get(d)) for d, score in page],
            "facets": facets,
            "signals": [{"name": q.signal, "weight": weights[q.signal],
                         "hits": len(r.results[q.signal]), "took_ms": r.sub_took[q.signal]}
                        for q in the_plan.subqueries],
            "skipped": the_plan.skipped,
            "transcript": r.transcript,
            "took_ms": took,
        }

    def _encode(self, the_plan: Plan, inputs: Mapping[str, Any], failed: dict[str, str],
                skip: Mapping[str, Any] | None = None,
                search: Callable[[dict[str, np.ndarray]], Batch] | None = None
                ) -> tuple[dict[str, np.ndarray], dict[str, Future[Batch]]]:
        """One query vector per (encoder, input), the encoders running side by side. An
        encoder that maps another's output (a DerivedEncoder) shares that one's pass.
        An encoder that fails on this query adds its signals to `failed`, with the
        reason, instead of failing the search (a client's bad input still raises).
        Signals in `skip` already have their query vector.

        With `search(vectors)` (signal -> query vector; runs their sub-queries), k-NN
        sub-queries start as soon as their vectors exist, rather than once every encoder
        has finished: a pass's own vectors are searched in the thread that encoded them,
        right after it hands them over (no thread to wake; the calling thread meanwhile
        maps them to the derived encoders' vectors, such as a photo's aligned text-space
        vector), and derived vectors are searched in a pool thread while other passes
        still run (otherwise by the caller, after this returns).
        Returns (signal -> query vector, signal -> its started search)."""
        skip = skip or {}
        knn = [q for q in the_plan.subqueries if q.kind == KNN and q.encoder is not None
               and q.signal not in failed and q.signal not in skip]
        wanted = sorted({(str(q.encoder), q.input) for q in knn}, key=str)
        jobs: dict[tuple[str, str], tuple[tuple[int, str], Any]] = {}
        bases: dict[tuple[int, str], Encoder] = {}
        broken: dict[tuple[str, str], str] = {}
        for name, inp in wanted:
            try:
                source, project = base_pass(self.encoder(name))
            except EncoderError as e:
                broken[(name, inp)] = f"encoder {name} unavailable: {e}"
                continue
            jobs[(name, inp)] = ((id(source), inp), project)
            bases[(id(source), inp)] = source
        started: dict[str, Future[Batch]] = {}
        passes: dict[tuple[int, str], Future[np.ndarray]] = {}
        for key, source in bases.items():
            own = [q.signal for q in knn if q.input != SESSION
                   and jobs.get((str(q.encoder), q.input)) == (key, None)]
            then: Future[Batch] | None = Future() if search is not None and own else None
            if then is not None:
                started.update(dict.fromkeys(own, then))
            passes[key] = Future()
            self.pool.submit(_encode_pass, source, inputs[key[1]], passes[key], own, then,
                             search)
        by_key: dict[tuple[str, str], np.ndarray] = {}
        pending = set(passes.values())
        for done in as_completed(list(pending)):
            pending.discard(done)
            new = {}
            for (name, inp), (key, project) in jobs.items():
                if passes[key] is not done:
                    continue
                try:
                    vec = done.result() if project is None else project(done.result()[None])[0]
                    if not _finite(vec):
                        raise EncoderError("the query vector is not finite")
                    by_key[(name, inp)] = new[(name, inp)] = vec
                except CLIENT_ERRORS:
                    raise
                except Exception as e:  # noqa: BLE001 - this signal fails, the others answer
                    log.exception("encoder %s failed on a query", name)
                    broken[(name, inp)] = (f"encoder {name} failed on this query "
                                           f"({type(e).__name__}; the server log has the "
                                           "details)")
            derived = {q.signal: new[(str(q.encoder), q.input)] for q in knn
                       if q.signal not in started and q.input != SESSION
                       and (str(q.encoder), q.input) in new}
            if search is not None and pending and derived:
                started.update(dict.fromkeys(derived, self.pool.submit(search, derived)))
        for q in knn:
            if (str(q.encoder), q.input) in broken:
                failed[q.signal] = broken[(str(q.encoder), q.input)]
        return {q.signal: by_key[(str(q.encoder), q.input)] for q in knn
                if (str(q.encoder), q.input) in by_key}, started

    def _run_one(self, q: SubQuery, the_plan: Plan, text: str, vector: np.ndarray | None
                 ) -> tuple[list[tuple[str, float]], int, float]:
        t = time.perf_counter()
        if q.kind == KNN:
            assert q.field is not None and vector is not None
            res = self.engine.knn_search(q.field, vector, k=q.depth, filter=the_plan.filter,
                                         source=False)
        elif q.kind == TEMPLATE:
            assert q.template is not None
            ranked, total = self.templates.search(q.template, text, the_plan.filter, q.depth)
            return ranked, total, _ms(t)
        else:
            res = self.engine.lexical_search(text, fields=q.fields, filter=the_plan.filter,
                                             size=q.depth, source=False)
        return [(h.id, h.score) for h in res.hits], res.total, _ms(t)

    def _rerank(self, q: SubQuery, the_plan: Plan, vector: np.ndarray, found: list[str]
                ) -> tuple[list[tuple[str, float]], int, float]:
        """Score the documents the other signals found by similarity to `vector`:
        a k-NN search confined to them, so it adds none of its own."""
        t = time.perf_counter()
        if not found:
            return [], 0, _ms(t)
        assert q.field is not None
        flt: dict[str, Any] = {"terms": {"id": found}}
        if the_plan.filter:
            flt = {"and": [the_plan.filter, flt]}
        res = self.engine.knn_search(q.field, vector, k=len(found), filter=flt, source=False)
        return [(h.id, h.score) for h in res.hits], res.total, _ms(t)

    def _run_batched(self, subqueries: list[SubQuery], the_plan: Plan, text: str,
                     vectors: Mapping[str, np.ndarray]) -> Batch:
        """The engine's sub-queries (BM25, k-NN) in one round trip (the engine's
        search_many: OpenSearch's _msearch). Each one's time is that of the round trip."""
        t = time.perf_counter()
        bodies = [self.engine.knn_body(q.field, vectors[q.signal], k=q.depth,
                                       filter=the_plan.filter, source=False)
                  if q.kind == KNN else
                  self.engine.lexical_body(text, fields=q.fields, filter=the_plan.filter,
                                           size=q.depth, source=False)
                  for q in subqueries]
        found = self.engine.search_many(bodies)
        took = _ms(t)
        names = [q.signal for q in subqueries]
        return ({n: [(h.id, h.score) for h in r.hits] for n, r in zip(names, found, strict=True)},
                {n: r.total for n, r in zip(names, found, strict=True)},
                dict.fromkeys(names, took))

    def _on_server(self, the_plan: Plan) -> bool:
        """Whether the engine can fuse this plan itself, exactly as the planner would."""
        if not self.server_fusion or the_plan.model is not None \
                or the_plan.fallback is not None or the_plan.explain \
                or len({q.depth for q in the_plan.subqueries}) != 1 \
                or any(q.kind == TEMPLATE for q in the_plan.subqueries):
            return False
        why = self.engine.why_not_server_side(the_plan.normalizer, the_plan.combiner,
                                              the_plan.missing,
                                              [q.weight for q in the_plan.subqueries])
        return why is None

    def _run_on_server(self, the_plan: Plan, text: str, vectors: Mapping[str, np.ndarray]
                       ) -> tuple[list[tuple[str, float]] | None,
                                  tuple[dict[str, Any], dict[str, int], dict[str, float]]]:
        """One hybrid query: the engine normalises and combines (OpenSearch's search
        pipeline). Each sub-query collects the top `depth` documents, as the planner's do,
        and the fused top `depth` comes back (the planner ranks the whole union). Per-signal
        lists stay empty: only the fused ranking comes back. When the engine cannot fuse
        this search as the planner would (documents tied across a sub-query's cut, see
        OpenSearchEngine.hybrid_search), the sub-queries run batched and the fused ranking
        is None: the planner fuses them."""
        t = time.perf_counter()
        queries = [self.engine.knn_query(q.field, vectors[q.signal], q.depth, the_plan.filter)
                   if q.kind == KNN else
                   self.engine.lexical_query(text, q.fields, the_plan.filter)
                   for q in the_plan.subqueries]
        res = self.engine.hybrid_search(
            queries, weights=[q.weight for q in the_plan.subqueries],
            normalizer=the_plan.normalizer, combiner=the_plan.combiner, rrf_k=the_plan.rrf_k,
            size=the_plan.subqueries[0].depth)
        if res is None:
            return None, self._run_batched(list(the_plan.subqueries), the_plan, text, vectors)
        took = _ms(t)
        names = [q.signal for q in the_plan.subqueries]
        return ([(h.id, h.score) for h in res.hits],
                ({n: [] for n in names}, dict.fromkeys(names, 0), dict.fromkeys(names, took)))

    def _facets(self, the_plan: Plan, ids: list[str]) -> dict[str, Any]:
        """Facets count the fused result set (every document a page can reach)."""
        flt: dict[str, Any] = {"terms": {"id": ids}}
        if the_plan.filter:
            flt = {"and": [the_plan.filter, flt]}
        return self.engine.lexical_search("", filter=flt, facets=the_plan.facets, size=0,
                                          source=False).facets

    @staticmethod
    def _hit(doc_id: str, score: float, doc: Mapping[str, Any] | None,
             explained: Fused | None) -> dict[str, Any]:
        stored = {k: v for k, v in (doc or {}).items() if k not in ("vectors", "id")}
        hit: dict[str, Any] = {"id": doc_id, "score": score,
                               "fields": public_fields(doc_id, stored),
                               "image_url": image_url(doc_id, stored)}
        if explained is not None:
            hit["explain"] = {name: s.to_dict() for name, s in explained.signals.items()}
        return hit


def _is_url(value: Any) -> bool:
    return str(value).startswith(("http://", "https://"))


def public_fields(doc_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A stored document as clients see it: no file path of the server. `images` keeps
    http(s) URLs, and the first image, when it is a file here, becomes its image_url;
    `audio` keeps URLs only."""
    out = dict(fields)
    for key in ("images", "audio"):
        media = fields.get(key)
        if not isinstance(media, list):
            if media is not None:
                out.pop(key)
            continue
        public = [str(m) for m in media if _is_url(m)]
        if key == "images" and media and not _is_url(media[0]):
            public.insert(0, str(image_url(doc_id, fields)))
        out[key] = public
    return out


def image_url(doc_id: str, fields: Mapping[str, Any]) -> str | None:
    """Where a client gets the product's first image: its own URL, or this service's
    /products/<id>/image for a file on the server's disk."""
    images = fields.get("images") or []
    if not images:
        return None
    first = str(images[0])
    if _is_url(first):
        return first
    from urllib.parse import quote

    return f"/products/{quote(doc_id, safe='')}/image"


def _without(the_plan: Plan, failed: Mapping[str, str]) -> Plan:
    """The plan less the signals that failed on this query, which join `skipped` with
    their reasons; UnavailableError (503) when no signal is left."""
    if not failed:
        return the_plan
    left = tuple(q for q in the_plan.subqueries if q.signal not in failed)
    if not left:
        raise UnavailableError("no signal could answer this query: " + "; ".join(
            f"{k}: {v}" for k, v in failed.items()))
    return replace(the_plan, subqueries=left, skipped=the_plan.skipped | dict(failed))


def _encode_pass(encoder: Encoder, item: Any, out: Future[np.ndarray], own: list[str],
                 then: Future[Batch] | None,
                 search: Callable[[dict[str, np.ndarray]], Batch] | None) -> None:
    """Encode `item` into `out`; then, with `then`, search the signals `own` with that
    vector. `then` is always set, to no results when the vector failed, is not finite
    or is not numbers at all (`out` tells the caller why), so the caller never waits
    for it in vain."""
    vec = None
    try:
        vec = encoder.encode_queries([item])[0]
    except BaseException as e:  # noqa: BLE001 - handed to the caller through `out`
        out.set_exception(e)
    else:
        out.set_result(vec)
    if then is None:
        return
    batch: Batch = ({}, {}, {})
    try:
        if search is not None and vec is not None and _finite(vec):
            batch = search(dict.fromkeys(own, vec))
    except BaseException as e:  # noqa: BLE001 - raised where the caller reads `then`
        then.set_exception(e)
        return
    then.set_result(batch)


def _finite(vec: Any) -> bool:
    """Whether `vec` is numbers, all finite (an encoder may return anything)."""
    try:
        return bool(np.all(np.isfinite(vec)))
    except (TypeError, ValueError):
        return False


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)
