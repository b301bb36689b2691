"""Plan the vectors an index needs and get them computed: in this process (embedded
mode, no server) or by Celery workers through Redis when REDIS_URL is set."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from hybrid.catalog.media import MediaRoots
from hybrid.encoders.base import EncoderError
from hybrid.encoders.registry import version_of
from hybrid.engines import engine_state_dir
from hybrid.ingest.plan import (
    AUDIO,
    DEFAULT_SPECS,
    FUSED,
    IMAGE,
    QUEUES,
    READS_TEXT,
    TEXT,
    Job,
    VectorSpec,
    plan,
    state_of,
)
from hybrid.ingest.tasks import encode_jobs, file_hash, spec_version

BATCH = {TEXT: 64, IMAGE: 32, AUDIO: 4, FUSED: 32}
Progress = Callable[[str, int], None]


def plan_all(engine: Any, docs: Sequence[Mapping[str, Any]],
             specs: Iterable[VectorSpec] = DEFAULT_SPECS,
             warn: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
             recompute: bool = False, media: MediaRoots | None = None
             ) -> dict[str, list[Job]]:
    """Jobs per vector field for these documents. A field whose encoder is not available
    (package missing, no alignment trained yet) is skipped with a warning. Supplied
    vectors are kept unless `recompute`. Media files are hashed through `media`
    (default: the engine's index roots, hybrid.catalog.media)."""
    out: dict[str, list[Job]] = {}
    ids = [str(d["id"]) for d in docs]
    media = media or MediaRoots.for_index(engine_state_dir(engine))
    hashed = functools.cache(lambda source: file_hash(source, media))  # both image fields
    audio = next((s for s in DEFAULT_SPECS if s.modality == AUDIO), None)
    transcribing = audio is not None and available(audio.encoder)
    for spec in specs:
        if spec.field not in engine.schema.vector_fields:
            continue  # an index made before the field existed
        try:
            version = spec_version(spec, str(engine_state_dir(engine)))
        except EncoderError as e:
            warn(f"skipping {spec.field}: {e}")
            continue
        stored = engine.vector_info(spec.field, ids)
        out[spec.field] = plan(docs, spec, version, stored, hashed, transcribing, recompute)
    return out


def available(encoder: str) -> bool:
    """Whether the encoder can load here (its package installed, its artefact trained)."""
    try:
        version_of(encoder)
    except EncoderError:
        return False
    return True


def status(engine: Any, docs: Iterable[Mapping[str, Any]],
           specs: Iterable[VectorSpec] = DEFAULT_SPECS, media: MediaRoots | None = None
           ) -> dict[str, dict[str, Any]]:
    """Per field: counts of done / pending / failed / none, and some failure reasons."""
    docs = list(docs)
    media = media or MediaRoots.for_index(engine_state_dir(engine))
    hashed = functools.cache(lambda source: file_hash(source, media))  # both image fields
    out: dict[str, dict[str, Any]] = {}
    for spec in specs:
        if spec.field not in engine.schema.vector_fields:
            continue
        try:
            version = spec_version(spec, str(engine_state_dir(engine)))
        except EncoderError as e:
            out[spec.field] = {"unavailable": str(e)}
            continue
        stored = engine.vector_info(spec.field)
        counts = {"done": 0, "pending": 0, "failed": 0, "none": 0}
        failures: list[dict[str, Any]] = []
        for d in docs:
            state = state_of(d, spec, version, stored, hashed)
            counts[state] += 1
            if state == "failed" and len(failures) < 20:
                failures.append({"id": d["id"], "reason": stored[str(d["id"])]["error"]})
        out[spec.field] = counts | {"encoder": version, "failures": failures}
    return out


class _Dispatcher:
    name = ""

    def __init__(self, index: str, progress: Progress | None = None) -> None:
        self.index, self.progress = index, progress
        self.totals: dict[str, dict[str, int]] = {}

    def submit(self, field: str, jobs: Sequence[Job]) -> None:
        """Run or enqueue `jobs` in batches of the field's modality."""
        self.submit_all({field: jobs})

    def submit_all(self, jobs: Mapping[str, Sequence[Job]]) -> None:
        """Run or enqueue the jobs of several fields, taking their batches in turn: the
        two image fields then see the same images one after the other, and the second
        reuses the features the first computed (hybrid.ingest.tasks)."""
        batches = {field: list(self._batches(field, js)) for field, js in jobs.items()}
        for i in range(max((len(b) for b in batches.values()), default=0)):
            for field, items in batches.items():
                if i < len(items):
                    modality, batch = items[i]
                    self.run(field, modality, batch)
                    if self.progress:
                        self.progress(field, len(batch))

    @staticmethod
    def _batches(field: str, jobs: Sequence[Job]) -> Iterable[tuple[str, list[dict[str, str]]]]:
        modality = {s.field: s for s in DEFAULT_SPECS}[field].modality
        size = BATCH[modality]
        for i in range(0, len(jobs), size):
            yield modality, [j.to_dict() for j in jobs[i:i + size]]

    def run(self, field: str, modality: str, batch: list[dict[str, str]]) -> None:
        raise NotImplementedError


class InProcess(_Dispatcher):
    """Embedded mode: the task functions run here, batch by batch."""

    name = "in-process"

    def run(self, field: str, modality: str, batch: list[dict[str, str]]) -> None:
        res = encode_jobs(self.index, field, batch)
        t = self.totals.setdefault(field, {"written": 0, "skipped": 0, "failed": 0})
        for k in t:
            t[k] += int(res[k])
        if res["transcribed"]:  # new transcripts change the product text
            from hybrid.ingest.tasks import engine_at

            engine = engine_at(self.index)
            follow = plan_all(engine, list(engine.get_many(res["transcribed"]).values()),
                              [s for s in DEFAULT_SPECS if s.modality in READS_TEXT])
            for f, js in follow.items():
                self.submit(f, js)


class CeleryQueue(_Dispatcher):
    """Worker mode: each batch becomes a task on its modality's queue."""

    name = "celery"

    def __init__(self, index: str, progress: Progress | None = None) -> None:
        from workers.app import app

        super().__init__(index, progress)
        self.app = app

    def run(self, field: str, modality: str, batch: list[dict[str, str]]) -> None:
        self.app.send_task("hybrid.encode", args=(self.index, field, batch),
                           queue=QUEUES[modality])
        t = self.totals.setdefault(field, {"enqueued": 0})
        t["enqueued"] += len(batch)


def dispatcher(index: str, progress: Progress | None = None) -> InProcess | CeleryQueue:
    return CeleryQueue(index, progress) if os.environ.get("REDIS_URL") else InProcess(index,
                                                                                      progress)
