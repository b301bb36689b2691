"""What the API's views share within one process (engine, searcher, profile store),
kept apart from `app.py` so that blueprints need not import the module that builds the app."""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import current_app

from hybrid.catalog.media import MediaRoots
from hybrid.search.inputs import Limits


class Services:
    """What the views share within one process: the engine, the searcher, the profile
    and experiment stores, the event store. Opened on first use, so gunicorn workers
    each open their own after forking."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        from hybrid.engines import locate, state_dir

        self.index = locate(str(config["INDEX"]))  # a folder, or opensearch:<alias>
        self.state = state_dir(self.index)  # profiles, experiments, events, uploads
        self._lock = threading.Lock()
        self._engine: Any = None
        self._searcher: Any = None
        self._shadow: Any = None
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
        from hybrid.search.events import open_event_store
        from hybrid.search.experiments import ExperimentStore
        from hybrid.search.profiles import ProfileStore

        self.profiles = ProfileStore(self.state / "profiles")
        self.experiments = ExperimentStore(self.state / "experiments")
        self.events = open_event_store(self.state)  # opened on first use, per thread

    @property
    def engine(self) -> Any:
        with self._lock:
            if self._engine is None:
                from hybrid.engines import open_index

                self._engine = open_index(self.index)
            return self._engine

    @property
    def searcher(self) -> Any:
        engine = self.engine
        with self._lock:
            if self._searcher is None:
                from hybrid.search.searcher import Searcher

                self._searcher = Searcher(engine, connections=self.config["CONNECTIONS"],
                                          server_fusion=bool(self.config["SERVER_FUSION"]))
            return self._searcher

    @property
    def sessions(self) -> Any:
        """Session and user vectors (`hybrid.search.session`) of this index's events."""
        from hybrid.search.session import SessionVectors

        return SessionVectors(self.events, self.engine,
                              days=float(self.config["USER_VECTOR_DAYS"]))

    def media(self) -> MediaRoots:
        """Where product media may be read from: the index's upload store and catalog
        folders, MEDIA_ROOTS (else HYBRID_MEDIA_ROOTS), capped at MAX_MEDIA_BYTES."""
        return MediaRoots.for_index(self.state, self.config.get("MEDIA_ROOTS"),
                                    self.config.get("MAX_MEDIA_BYTES"))

    @property
    def shadow(self) -> Any:
        """The process's ShadowRunner (hybrid.search.shadow), from the SHADOW_* config."""
        searcher = self.searcher
        with self._lock:
            if self._shadow is None:
                from hybrid.api.metrics import count_shadow
                from hybrid.search.shadow import ShadowRunner

                profiles = self.config["SHADOW_PROFILES"]
                if isinstance(profiles, str):
                    profiles = [p for p in profiles.split(",") if p]
                log = self.config["SHADOW_LOG"] or self.state / "shadow" / "shadow.jsonl"
                self._shadow = ShadowRunner(
                    searcher.search, self._profile, profiles,
                    float(self.config["SHADOW_SAMPLE"]), log,
                    int(self.config["SHADOW_QUEUE"]), count_shadow)
            return self._shadow

    def _profile(self, ref: str) -> Any:
        return self.profiles.resolve(ref)

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
