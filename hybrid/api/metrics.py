"""Prometheus metrics. Under gunicorn (`hybrid serve`) every worker writes to the
folder in PROMETHEUS_MULTIPROC_DIR and /metrics adds them up; a single process
serves its own registry."""

from __future__ import annotations

import os
import time
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

REQUESTS = Counter("hybrid_http_requests_total", "HTTP requests answered",
                   ["endpoint", "method", "status"])
LATENCY = Histogram("hybrid_http_request_seconds", "HTTP request latency", ["endpoint"],
                    buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
PHASES = Histogram("hybrid_search_phase_seconds", "time per search phase", ["phase"],
                   buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5))
SUBQUERIES = Histogram("hybrid_subquery_seconds", "time per sub-query", ["signal"],
                       buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5))
PRODUCTS = Counter("hybrid_products_written_total", "products written over HTTP", ["outcome"])
SHADOW = Counter("hybrid_shadow_requests_total", "searches offered to the shadow profiles: "
                 "queued, dropped (queue full), logged, failed", ["outcome"])


def count_shadow(outcome: str) -> None:
    SHADOW.labels(outcome).inc()


def observe_search(result: dict[str, Any]) -> None:
    for phase, ms in result.get("took_ms", {}).items():
        PHASES.labels(phase).observe(ms / 1000)
    for s in result.get("signals", []):
        SUBQUERIES.labels(s["name"]).observe(s["took_ms"] / 1000)


def exposition() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = DEFAULT_REGISTRY
    # content_type, not mimetype: werkzeug adds a charset to a text/* mimetype, and
    # CONTENT_TYPE_LATEST already has one (the header would name it twice)
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def register(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _count(resp: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        REQUESTS.labels(endpoint, request.method, str(resp.status_code)).inc()
        if "started" in g:
            LATENCY.labels(endpoint).observe(time.perf_counter() - g.started)
        return resp
