"""Experiments over HTTP, and how a search joins one.

- `POST /experiments` (key) creates one from `Experiment.to_dict()`; `GET /experiments`,
  `GET /experiments/<name>`, `POST /experiments/<name>/stop` (key), and
  `GET /experiments/<name>/report` (`hybrid.experiments.report`).
- `POST /events` stores UBI events, one or a list (`hybrid.experiments.events`);
  `GET /events/export` (key: the events carry user and session ids) streams them as
  JSON lines, ready for `hybrid learn --clicks`.
- `search_logged` runs a search: a request with a `user_id` or `session_id` and no
  explicit profile joins the running experiment (the one it names, else the oldest),
  bucketed by `hybrid.experiments.bucketing`; an interleaving experiment answers with
  the variants' rankings interleaved, each hit naming its `variant`. Every search is
  logged to the event store with its query id, experiment and variant. A profile's
  session signals get the shopper's session vector (`hybrid.search.session`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from flask import Blueprint, Response, jsonify, request

from hybrid.api import jsonbody
from hybrid.api.security import require_key
from hybrid.api.services import Services, services
from hybrid.errors import EngineError, QueryError, TooLargeError
from hybrid.experiments import report
from hybrid.experiments.bucketing import assign, unit_hash
from hybrid.experiments.events import EventError, validate
from hybrid.experiments.interleaving import probabilistic, team_draft
from hybrid.experiments.model import INTERLEAVING, PROBABILISTIC, Experiment
from hybrid.planner.plan import SearchRequest

bp = Blueprint("experiments", __name__)
log = logging.getLogger(__name__)
UNIT_FIELDS = ("user_id", "session_id", "experiment")


@dataclass(frozen=True)
class Unit:
    """Who searches: the ids a request carries for bucketing, and the experiment it asks
    for (None: whichever is running)."""

    user_id: str | None = None
    session_id: str | None = None
    experiment: str | None = None

    @property
    def id(self) -> str | None:
        return self.user_id or self.session_id

    @classmethod
    def pop(cls, data: dict[str, Any]) -> Unit:
        """Take the unit fields out of a request's fields (the rest is the query)."""
        values = {}
        for key in UNIT_FIELDS:
            v = data.pop(key, None)
            if v is not None and (not isinstance(v, str | int) or isinstance(v, bool)
                                  or not 0 < len(str(v)) <= 256):
                raise QueryError(f"'{key}' must be a string of 1 to 256 characters")
            values[key] = None if v is None else str(v)
        return cls(**values)


def search_logged(svc: Services, req: SearchRequest, unit: Unit, *, image: Any = None,
                  audio: np.ndarray | None = None) -> dict[str, Any]:
    started = time.time()
    exp, variant = _bucket(svc, req, unit)
    teams = None
    if exp is not None and exp.kind == INTERLEAVING:
        result, teams = _interleaved(svc, req, exp, unit, image, audio)
    else:
        ref = exp.variant(variant).profile if exp and variant else req.profile
        profile = _profile(svc, ref)
        result = svc.searcher.search(req, profile, image=image, audio=audio,
                                     **personal(svc, profile, unit))
    result["experiment"] = exp.name if exp else None
    result["variant"] = variant
    try:
        svc.events.log_query({
            "query_id": result["query_id"], "timestamp": started,
            "user_query": req.text or result.get("transcript") or "",
            "user_id": unit.user_id, "session_id": unit.session_id,
            "experiment": result["experiment"], "variant": variant,
            "profile": f"{result['profile']['name']}@{result['profile']['version']}",
            "hits": [h["id"] for h in result["hits"]], "teams": teams,
            "took_ms": result["took_ms"].get("total")})
    except EngineError as e:  # the answer matters more than its log line
        log.warning("search %s not logged: %s", result["query_id"], e)
    return result


def personal(svc: Services, profile: Any, unit: Unit) -> dict[str, Any]:
    """The query vectors and skip reasons of the profile's session signals for this
    shopper (keyword arguments of `Searcher.search`)."""
    vectors, unavailable = svc.sessions.inputs(profile, unit.user_id, unit.session_id)
    return {"vectors": vectors, "unavailable": unavailable}


def _bucket(svc: Services, req: SearchRequest, unit: Unit) -> tuple[Experiment | None, str | None]:
    if unit.experiment is not None:
        exp = svc.experiments.get(unit.experiment)
        if not exp.running:
            raise QueryError(f"experiment {exp.name!r} is stopped")
        if unit.id is None:
            raise QueryError("joining an experiment needs a user_id or session_id")
    elif unit.id is None or req.profile is not None:
        return None, None
    else:
        running = svc.experiments.running()
        if not running:
            return None, None
        exp = running[0]
    if req.profile is not None:
        raise QueryError("a search in an experiment cannot name a profile: the experiment "
                         "chooses it")
    assert unit.id is not None
    variant = assign(exp, unit.id)
    if variant is None:
        return None, None
    return exp, (None if exp.kind == INTERLEAVING else variant)


def _profile(svc: Services, ref: str | None) -> Any:
    return svc.profiles.resolve(ref or svc.config["PROFILE"])


def _interleaved(svc: Services, req: SearchRequest, exp: Experiment, unit: Unit, image: Any,
                 audio: np.ndarray | None) -> tuple[dict[str, Any], list[str]]:
    """One list interleaved from every variant's ranking down to the end of the page;
    the same user, query and page get the same list (the draft is seeded by them)."""
    t = time.perf_counter()
    deep = replace(req, page=1, size=req.offset + req.size, facets={})
    profiles = [_profile(svc, v.profile) for v in exp.variants]
    results = [svc.searcher.search(deep if i else replace(deep, facets=req.facets), p,
                                   image=image, audio=audio, **personal(svc, p, unit))
               for i, p in enumerate(profiles)]  # facets: of the first variant's set
    seed = unit_hash(exp.salt, exp.name, f"{unit.id}\x1f{req.text}")
    rng = np.random.default_rng(int(seed * 2**63))
    draft = probabilistic if exp.method == PROBABILISTIC else team_draft
    shown = draft([[h["id"] for h in r["hits"]] for r in results], deep.size, rng)
    shown = shown[req.offset:req.offset + req.size]
    hits = {(h["id"], i): h for i, r in enumerate(results) for h in r["hits"]}
    result = results[0] | {
        "page": req.page, "size": req.size,
        "total": len({h["id"] for r in results for h in r["hits"]}),
        "hits": [hits[(doc, team)] | {"variant": exp.variants[team].name}
                 for doc, team in shown],
        "signals": [s for r in results for s in r["signals"]],
        "took_ms": results[0]["took_ms"] | {
            "total": round((time.perf_counter() - t) * 1000, 3)}}
    return result, [exp.variants[team].name for _, team in shown]


# -- experiments -----------------------------------------------------------------------
@bp.post("/experiments")
@require_key
def create() -> tuple[Response, int]:
    svc = services()
    body = jsonbody.loads(request.get_data())
    if not isinstance(body, dict):
        raise QueryError("send the experiment as a JSON object")
    exp = Experiment.from_dict(body)
    for v in exp.variants:
        _profile(svc, v.profile)  # every profile must exist (404 otherwise)
    return jsonify(svc.experiments.create(exp).to_dict()), 201


@bp.get("/experiments")
def list_experiments() -> Response:
    return jsonify({"experiments": [e.to_dict() for e in services().experiments.all()]})


@bp.get("/experiments/<name>")
def get_experiment(name: str) -> Response:
    return jsonify(services().experiments.get(name).to_dict())


@bp.post("/experiments/<name>/stop")
@require_key
def stop(name: str) -> Response:
    return jsonify(services().experiments.stop(name).to_dict())


@bp.get("/experiments/<name>/report")
def get_report(name: str) -> Response:
    svc = services()
    exp = svc.experiments.get(name)
    return jsonify(report.build(exp, list(svc.events.queries(name)),
                                list(svc.events.events(name))))


# -- events ----------------------------------------------------------------------------
@bp.post("/events")
def post_events() -> tuple[Response, int]:
    """One event (200; a 400 problem naming the field if it is bad), or a list (200,
    or 207 when some are rejected, with one result per item)."""
    svc = services()
    body = jsonbody.loads(request.get_data(), max_depth=jsonbody.BATCH_DEPTH)
    now = time.time()
    if isinstance(body, dict):
        event = validate(body, now)  # EventError: a 400 problem naming the field
        stored = svc.events.add_events([event])[0]
        return jsonify(_summary([_item(0, event, stored)])), 200
    if not isinstance(body, list) or not body:
        raise QueryError("send one event (a JSON object) or a non-empty list of them")
    if len(body) > int(svc.config["MAX_BATCH"]):
        raise TooLargeError(f"{len(body)} events in one request; the limit is "
                            f"{svc.config['MAX_BATCH']}")
    items: list[dict[str, Any]] = [{}] * len(body)
    good = []
    for i, raw in enumerate(body):
        try:
            good.append((i, validate(raw, now)))
        except EventError as e:
            items[i] = {"index": i, "event_id": None, "status": "rejected",
                        "field": e.field, "error": str(e)}
    if good:
        for (i, event), stored in zip(good, svc.events.add_events([e for _, e in good]),
                                      strict=True):
            items[i] = _item(i, event, stored)
    summary = _summary(items)
    return jsonify(summary), 207 if summary["rejected"] else 200


def _item(i: int, event: dict[str, Any], stored: bool) -> dict[str, Any]:
    return {"index": i, "event_id": event["event_id"],
            "status": "stored" if stored else "duplicate"}


def _summary(items: list[dict[str, Any]]) -> dict[str, Any]:
    count = {s: sum(1 for it in items if it["status"] == s)
             for s in ("stored", "duplicate", "rejected")}
    return {"stored": count["stored"], "duplicates": count["duplicate"],
            "rejected": count["rejected"], "items": items}


@bp.get("/events/export")
@require_key
def export() -> Response:
    """Every event as one JSON line, oldest first (`?experiment=NAME`: that one's).
    Needs the API key (401 otherwise): the lines carry user and session ids."""
    svc = services()
    name = request.args.get("experiment")
    if name is not None:
        svc.experiments.get(name)
    rows = list(svc.events.events(name))

    def lines() -> Iterator[str]:
        for row in rows:
            yield json.dumps(row, ensure_ascii=False) + "\n"

    return Response(lines(), mimetype="application/x-ndjson")

