"""From a search request and a fusion profile to the sub-queries to run and how to fuse
them. Pure: no I/O; what the shell knows about the index (a signal's encoder missing,
a vector field still empty) comes in as `unavailable`.

Pagination is stable: every sub-query goes to the profile's depth whatever the page,
so each page of a query slices the same fused ranking (sorted by score, then id), with
no duplicates or gaps; `total` is the length of that ranking, the union of what the
sub-queries returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from hybrid.engines.filters import normalize, normalize_facets
from hybrid.engines.schema import TEXT as TEXT_KIND
from hybrid.engines.schema import IndexSchema
from hybrid.errors import NoSignalError, QueryError
from hybrid.planner.adaptive import Fallback, WeightModel, query_weights
from hybrid.planner.features import query_features, scripts_of
from hybrid.planner.fusion import Ranked
from hybrid.planner.profile import (
    AUDIO,
    IMAGE,
    KNN,
    LEXICAL,
    PRODUCT,
    SESSION,
    TEXT,
    Profile,
    valid_name,
)
from hybrid.planner.template import TemplateSpec

MAX_SIZE = 100
MAX_TEXT = 1000
MAX_WINDOW = 10_000  # offset + size, as OpenSearch's index.max_result_window


@dataclass(frozen=True)
class SearchRequest:
    """A validated query: which inputs it has (the image and audio themselves stay with
    the shell), filters, facets, the page, the profile and inline weights."""

    text: str = ""
    image: bool = False
    audio: bool = False
    filter: dict[str, Any] | None = None
    facets: dict[str, Any] = field(default_factory=dict)
    page: int = 1
    size: int = 10
    profile: str | None = None
    weights: dict[str, float] = field(default_factory=dict)
    explain: bool = False
    similar_to: str | None = None  # a product id: find products like it (product signals)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


def parse_request(data: Mapping[str, Any], schema: IndexSchema, *, image: bool = False,
                  audio: bool = False, max_size: int = MAX_SIZE) -> SearchRequest:
    """Validate a request body (JSON object, or form fields already parsed)."""
    if not isinstance(data, Mapping):
        raise QueryError("the request body must be a JSON object")
    allowed = {"q", "filter", "facets", "page", "size", "profile", "weights", "explain",
               "image_url", "image_base64", "audio_base64"}
    unknown = set(data) - allowed
    if unknown:
        raise QueryError(f"unknown request key(s) {', '.join(sorted(unknown))}; "
                         f"use {', '.join(sorted(allowed))}")
    text = data.get("q", "") or ""
    if not isinstance(text, str):
        raise QueryError("'q' must be a string")
    if len(text) > MAX_TEXT:
        raise QueryError(f"'q' is {len(text)} characters long; the limit is {MAX_TEXT}")
    page = _int(data.get("page", 1), "page", 1, MAX_WINDOW)
    size = _int(data.get("size", 10), "size", 1, max_size)
    if page * size > MAX_WINDOW:
        raise QueryError(f"page {page} of size {size} ends beyond result {MAX_WINDOW}, the "
                         "deepest a query pages")
    profile = data.get("profile")
    if profile is not None and not _profile_ref(profile):
        raise QueryError(f"'profile' must be a profile name, or name@version, got {profile!r}")
    weights = data.get("weights") or {}
    if not isinstance(weights, Mapping):
        raise QueryError("'weights' maps signal names to numbers")
    explain = flag(data.get("explain", False), "explain")
    return SearchRequest(text=text.strip(), image=image, audio=audio,
                         filter=normalize(data.get("filter"), schema),
                         facets=normalize_facets(data.get("facets"), schema),
                         page=page, size=size, profile=profile, weights=dict(weights),
                         explain=explain)


_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")


def flag(value: Any, name: str) -> bool:
    """A boolean from JSON or from a query string / form field ("true", "false", "1",
    "0", "yes", "no", "on", "off"); anything else is a QueryError, not a silent false."""
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    if not isinstance(value, bool):
        raise QueryError(f"'{name}' must be true or false, got {value!r}")
    return value


def _profile_ref(ref: Any) -> bool:
    if not isinstance(ref, str):
        return False
    name, at, version = ref.partition("@")
    return valid_name(name) and (not at or (version.isdigit() and 0 < len(version) < 10))


def _int(v: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise QueryError(f"'{name}' must be an integer from {lo} to {hi}, got {v!r}")
    return v


@dataclass(frozen=True)
class SubQuery:
    signal: str
    kind: str                 # lexical | knn | template
    input: str                # text | image | audio
    weight: float
    depth: int
    field: str | None = None  # knn
    encoder: str | None = None
    fields: dict[str, float] | None = None  # lexical: field -> boost
    template: TemplateSpec | None = None    # template: the shop's own search
    scripts: tuple[str, ...] | None = None  # text: the scripts its encoder reads


@dataclass(frozen=True)
class Plan:
    subqueries: tuple[SubQuery, ...]
    transcribe: bool          # audio given and some text signal runs: use its transcript
    normalizer: str
    combiner: str
    missing: str | None
    rrf_k: int
    filter: dict[str, Any] | None
    facets: dict[str, Any]
    offset: int
    size: int
    explain: bool
    skipped: dict[str, str]   # signal -> why it does not run for this query
    model: WeightModel | None = None  # query-dependent weights, from the profile
    fallback: Fallback | None = None  # learned profiles: static weights for unfamiliar queries

    @property
    def weights(self) -> dict[str, float]:
        return {q.signal: q.weight for q in self.subqueries}

    def for_transcript(self, transcript: str) -> Plan:
        """The plan once a spoken query's transcript is known: text signals whose
        encoder cannot read it are skipped too (unless nothing else would run)."""
        scripts = scripts_of(transcript)
        drop = {q.signal: why for q in self.subqueries if (why := _unreadable(q, scripts))}
        if not drop or len(drop) == len(self.subqueries):
            return self
        return replace(self, subqueries=tuple(q for q in self.subqueries
                                              if q.signal not in drop),
                       skipped=self.skipped | drop)

    def fusion_weights(self, text: str, modalities: tuple[str, ...],
                       results: Mapping[str, Ranked],
                       totals: Mapping[str, int] | None = None) -> dict[str, float]:
        """The weights to fuse this query's results with: the profile's, or what its
        query-dependent model makes of the query and its sub-query results, mixed with
        the fallback's as far as the query is unlike the ones the weights were learned on."""
        if self.model is None and self.fallback is None:
            return self.weights
        signals = [q.signal for q in self.subqueries]
        features = query_features(text, modalities, results, signals, totals)
        return query_weights(self.weights, self.model, self.fallback, features)


def plan(request: SearchRequest, profile: Profile, schema: IndexSchema,
         unavailable: Mapping[str, str] | None = None) -> Plan:
    """The sub-queries of `request` under `profile` (with the request's inline weights).

    A signal runs when the query has its input (text, or audio whose transcript stands
    for text), its weight is above 0, its field exists and the shell did not report it
    unavailable. A query with no text, image or audio browses: BM25 signals alone, with
    an empty query that matches every document passing the filter. A text signal whose
    encoder reads only some scripts (`Signal.scripts`, e.g. MiniLM: Latin) is skipped for
    a query written mostly in another script.
    """
    profile = profile.with_weights(request.weights) if request.weights else profile
    unavailable = unavailable or {}
    has = {TEXT: bool(request.text) or request.audio, IMAGE: request.image, AUDIO: request.audio,
           PRODUCT: request.similar_to is not None}
    browse = not any(has.values())
    has[SESSION] = True  # the shell reports a shopper with no history as unavailable
    scripts = scripts_of(request.text)
    subqueries: list[SubQuery] = []
    skipped: dict[str, str] = {}
    for s in profile.signals:
        reason = _why_not(s, profile.runs(s.name), has, browse, schema, unavailable) \
            or _unreadable(s, scripts)
        if reason:
            skipped[s.name] = reason
            continue
        subqueries.append(SubQuery(s.name, s.kind, s.input, s.weight, s.depth or profile.depth,
                                   s.field, s.encoder, s.fields, s.template,
                                   s.scripts))
    if not subqueries:
        raise NoSignalError("no signal of profile "
                            f"{profile.name!r} can answer this query: "
                            + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    transcribe = request.audio and any(q.input == TEXT for q in subqueries)
    subqueries, model = _settled(subqueries, profile.model)
    return Plan(tuple(subqueries), transcribe, profile.normalizer, profile.combiner,
                profile.missing, profile.rrf_k, request.filter,
                request.facets, request.offset, request.size, request.explain, skipped,
                model, profile.fallback)


def _settled(subqueries: list[SubQuery], model: WeightModel | None
             ) -> tuple[list[SubQuery], WeightModel | None]:
    """A query-dependent model that gives the signals that run the same weights whatever
    the query (the default's photo rule, for a query without a photo): those weights, and
    no model, so that an engine can fuse the plan itself."""
    if model is None:
        return subqueries, None
    fixed = model.settled({q.signal: q.weight for q in subqueries})
    if fixed is None:
        return subqueries, model
    return [replace(q, weight=fixed[q.signal]) for q in subqueries], None


def _unreadable(s: Any, scripts: Mapping[str, float]) -> str | None:
    """Why a text signal's encoder cannot read the query: most of its letters are in
    scripts the encoder was not trained on."""
    if s.scripts is None or s.input != TEXT or not scripts:
        return None
    foreign = sum(v for k, v in scripts.items() if k not in s.scripts)
    if foreign <= 0.5:
        return None
    return (f"its encoder {s.encoder or s.name} reads {', '.join(s.scripts)} script only; "
            f"the query is mostly {max(scripts, key=lambda k: scripts[k])}")


def _why_not(s: Any, runs: bool, has: Mapping[str, bool], browse: bool, schema: IndexSchema,
             unavailable: Mapping[str, str]) -> str | None:
    if not runs:
        return "weight is 0"
    if browse:
        return None if s.kind == LEXICAL else "no text, image or audio to compare"
    if not has[s.input]:
        return f"the query has no {s.input}"
    if s.kind == KNN and (s.field not in schema.vector_fields):
        return f"the index has no vector field {s.field!r}"
    if s.kind == LEXICAL and s.fields:
        bad = [f for f in s.fields if f not in schema.fields
               or schema.fields[f].kind != TEXT_KIND]
        if bad:
            return f"not text fields of the index: {', '.join(bad)}"
    return unavailable.get(s.name)
