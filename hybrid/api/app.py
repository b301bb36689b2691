"""The search service: `create_app(config)` builds the Flask app.

Configuration comes from the defaults below, then the JSON file named by
HYBRID_CONFIG_FILE, then environment variables with the HYBRID_ prefix (HYBRID_INDEX,
HYBRID_API_KEY, HYBRID_FETCH_IMAGE_URLS=true, ...; values are parsed as JSON where
they can be), then the `config` argument.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from flask import Flask
from werkzeug.routing import PathConverter

from hybrid.api.services import Services

DEFAULTS: dict[str, Any] = {
    "INDEX": "var/index",
    "API_KEY": None,               # writes, profile changes and admin need it; None: refused
    "PROFILE": "default",          # the profile searches use unless they name one
    "SIMILAR_PROFILE": "similar",  # the profile of GET /products/<id>/similar
    "USER_VECTOR_DAYS": 30,        # days a user's vector and events count for the session
                                   # signal; older vectors are deleted
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,  # whole request body
    "MAX_IMAGE_BYTES": 10 * 1024 * 1024,
    "MAX_IMAGE_PIXELS": 25_000_000,
    "IMAGE_FORMATS": ["JPEG", "PNG", "WEBP", "GIF", "BMP"],
    "MAX_AUDIO_BYTES": 10 * 1024 * 1024,
    "MAX_AUDIO_SECONDS": 30.0,
    "MAX_PAGE_SIZE": 100,
    "MAX_BATCH": 1000,             # products per POST /products
    "FETCH_IMAGE_URLS": False,
    "FETCH_TIMEOUT": 5.0,
    "REFRESH_INTERVAL": 1.0,       # seconds: other processes' writes show within this
    "WARM": True,                  # load the default profile's encoders at start
    "VECTORS": "auto",             # POST /products: celery (REDIS_URL), background, off
    "MEDIA_ROOTS": None,           # folders product media may be read from, besides the
                                   # index's own (hybrid.catalog.media); None: env only
    "MAX_MEDIA_BYTES": 16 * 1024 * 1024,  # one product image or audio file
    "CONNECTIONS": {},             # template signals: name -> {"url", ...}; or env, see
                                   # hybrid.search.template
    "SHADOW_PROFILES": [],         # profiles run beside the serving one, off the request path
    "SHADOW_SAMPLE": 0.0,          # share of searches that shadows see (0 to 1)
    "SHADOW_QUEUE": 64,            # searches waiting for the shadows; more are dropped
    "SHADOW_LOG": None,            # JSONL path; default <INDEX>/shadow/shadow.jsonl
    "SERVER_FUSION": False,        # OpenSearch: fuse in a search pipeline when it is exact
}


class IdConverter(PathConverter):
    """A product or user id in a URL path (`<id:name>`): any characters, '/' and line
    breaks included. Werkzeug's path converter stops at a line break, so an id with one
    found no route and got the router's 404 instead of the endpoint's answer."""

    regex = r"[^/][\s\S]*?"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.url_map.converters["id"] = IdConverter  # before the blueprints that use it
    app.config.update(DEFAULTS)
    if os.environ.get("HYBRID_CONFIG_FILE"):
        app.config.from_file(os.environ["HYBRID_CONFIG_FILE"], load=_load_json)
    app.config.from_prefixed_env("HYBRID")
    if config:
        app.config.update(config)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    for key in ("FETCH_IMAGE_URLS", "WARM"):  # "False" or "maybe" must not read as true
        app.config[key] = config_flag(app.config[key], key)

    from hybrid.api import (
        experiments,
        inspector,
        judgments,
        metrics,
        ops,
        problems,
        products,
        profiles,
        search,
        similar,
        users,
    )

    problems.register(app)
    metrics.register(app)
    for bp in (search.bp, products.bp, profiles.bp, experiments.bp, ops.bp, judgments.bp,
               inspector.bp, similar.bp, users.bp):
        app.register_blueprint(bp)
    svc = Services(app.config)
    app.extensions["hybrid"] = svc
    if app.config["WARM"]:
        threading.Thread(target=svc.warm, name="warm-up", daemon=True).start()
    else:
        svc.ready.set()
    return app


def config_flag(value: Any, key: str) -> bool:
    """A boolean setting: true/false, or a string such as "True", "0", "off"."""
    from hybrid.errors import HybridError
    from hybrid.planner.plan import flag

    try:
        return flag(value, key)
    except HybridError as e:
        raise HybridError(f"setting HYBRID_{key} must be true or false, got {value!r}") from e


def _load_json(f: Any) -> Any:
    import json

    return json.load(f)
