"""Operations: liveness, readiness, Prometheus metrics, the OpenAPI description, and
the admin endpoints (index statistics, folding pending vectors), which need the key."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from hybrid.api.metrics import exposition
from hybrid.api.openapi import spec
from hybrid.api.problems import problem
from hybrid.api.security import require_key
from hybrid.api.services import services

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    svc = services()
    if not svc.ready.is_set():
        return problem(503, "loading the encoders the default profile needs", "not-ready")
    return jsonify({"status": "ready", "documents": svc.engine.count(),
                    "unavailable_signals": svc.unavailable})


@bp.get("/metrics")
def metrics() -> Response:
    return exposition()


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(spec())


@bp.get("/admin/stats")
@require_key
def stats() -> Response:
    return jsonify(services().engine.stats())


@bp.post("/admin/commit")
@require_key
def commit() -> Response:
    engine = services().engine
    engine.commit()
    return jsonify({"committed": True, "vectors": engine.stats()["vectors"]})
