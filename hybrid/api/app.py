"""The search service: `create_app(config)` builds the Flask app.

Configuration comes from the defaults below, then the JSON file named by
HYBRID_CONFIG_FILE, then environment variables with the HYBRID_ prefix (HYBRID_INDEX,
HYBRID_API_KEY, HYBRID_FETCH_IMAGE_URLS=true, ...; values are parsed as JSON where
they can be), then the `config` argument.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from hybrid.search.inputs import Limits

DEFAULTS: dict[str, Any] = {
    "INDEX": "var/index",
    "API_KEY": None,               # writes, profile changes and admin need it; None: refused
    "PROFILE": "default",          # the profile searches use unless they name one
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
}


class Services:
    """What the views share within one process: the engine, the searcher, the profile
    store. Opened on first use, so gunicorn workers each open their own after forking."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.index = Path(config["INDEX"])
        self._lock = threading.Lock()
        self._engine: Any = None
        self._searcher: Any = None
        self._refreshed = time.monotonic()
        self.ready = threading.Event()
        self.unavailable: dict[str, str] = {}
        self.limits = Limits(
            image_bytes=int(config["MAX_IMAGE_BYTES"]),
            image_pixels=int(config["MAX_IMAGE_PIXELS"]),
            image_formats=tuple(config["IMAGE_FORMATS"]),
            audio_bytes=int(config["MAX_AUDIO_BYTES"]),
            audio_seconds=float(config["MAX_AUDIO_SECONDS"]),
            fetch_urls=bool(config["FETCH_IMAGE_URLS"]),
            fetch_timeout=float(config["FETCH_TIMEOUT"]))
        from hybrid.search.profiles import ProfileStore

        self.profiles = ProfileStore(self.index / "profiles")

    @property
    def engine(self) -> Any:
        with self._lock:
            if self._engine is None:
                from hybrid.engines import open_engine

                self._engine = open_engine("embedded", path=self.index)
            return self._engine

    @property
    def searcher(self) -> Any:
        engine = self.engine
        with self._lock:
            if self._searcher is None:
                from hybrid.search.searcher import Searcher

                self._searcher = Searcher(engine)
            return self._searcher

    def refresh(self, force: bool = False) -> None:
        """See other processes' writes, at most once per REFRESH_INTERVAL (at once after
        this process wrote: a client sees its own writes)."""
        now = time.monotonic()
        if force or now - self._refreshed >= float(self.config["REFRESH_INTERVAL"]):
            self._refreshed = now
            self.engine.refresh()

    def warm(self) -> None:
        try:
            profile = self.profiles.get(self.config["PROFILE"])
            self.unavailable = self.searcher.warm(profile)
        finally:
            self.ready.set()


def services() -> Services:
    svc: Services = current_app.extensions["hybrid"]
    return svc


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    if os.environ.get("HYBRID_CONFIG_FILE"):
        app.config.from_file(os.environ["HYBRID_CONFIG_FILE"], load=_load_json)
    app.config.from_prefixed_env("HYBRID")
    if config:
        app.config.update(config)
    app.json.sort_keys = False  # type: ignore[attr-defined]

    from hybrid.api import metrics, ops, problems, products, profiles, search

    problems.register(app)
    metrics.register(app)
    for bp in (search.bp, products.bp, profiles.bp, ops.bp):
        app.register_blueprint(bp)
    svc = Services(app.config)
    app.extensions["hybrid"] = svc
    if app.config["WARM"]:
        threading.Thread(target=svc.warm, name="warm-up", daemon=True).start()
    else:
        svc.ready.set()
    return app


def _load_json(f: Any) -> Any:
    import json

    return json.load(f)
