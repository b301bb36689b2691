"""The vector task: decode each input, encode the batch, write the vectors.

The same function runs in a Celery worker and in-process (embedded mode). It is keyed
by document id, content hash and encoder version, so running it twice writes once. An
input that cannot be decoded is recorded on its product with the reason and never
stops the rest of the batch.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hybrid.encoders.base import DecodeError
from hybrid.encoders.registry import load_encoder, version_of
from hybrid.ingest.plan import AUDIO, DEFAULT_SPECS, IMAGE, TEXT, Job, VectorSpec

SPECS = {s.field: s for s in DEFAULT_SPECS}
_engines: dict[str, Any] = {}
_lock = threading.Lock()


def engine_at(index: str) -> Any:
    """One engine per index folder per process (workers reuse it across tasks)."""
    from hybrid.engines.embedded import EmbeddedEngine

    with _lock:
        if index not in _engines:
            _engines[index] = EmbeddedEngine(index)
        return _engines[index]


def file_hash(source: str) -> str:
    """Content hash of a local file (its path when it cannot be read: the task reports
    the real problem); URLs hash as their text."""
    try:
        return hashlib.sha256(Path(source).read_bytes()).hexdigest()[:32]
    except OSError:
        return hashlib.sha256(("unreadable:" + source).encode()).hexdigest()[:32]


def decoder(modality: str) -> Callable[[str], Any]:
    if modality == TEXT:
        return lambda text: text
    if modality == IMAGE:
        from hybrid.encoders.image import load_image

        return load_image
    from hybrid.encoders.audio import load_audio

    return load_audio


def encode_jobs(index: str, field: str, jobs: Sequence[Mapping[str, Any]],
                spec: VectorSpec | None = None) -> dict[str, Any]:
    """Compute and write the vectors of `jobs` (dicts of hybrid.ingest.plan.Job).
    Returns counts: written, skipped, failed, and ids whose transcript changed."""
    spec = spec or SPECS[field]
    engine = engine_at(index)
    todo = [Job.from_dict(j) for j in jobs]
    version = version_of(spec.encoder)
    stored = engine.vector_info(field, [j.id for j in todo])
    todo = [j for j in todo if not (stored.get(j.id, {}).get("hash") == j.hash
                                    and stored.get(j.id, {}).get("model") == version)]
    decode = decoder(spec.modality)
    inputs, ok, errors = [], [], {}
    for job in todo:
        try:
            inputs.append(decode(job.source))
            ok.append(job)
        except DecodeError as e:
            errors[job.id] = (job.hash, str(e))
    if errors:
        engine.record_vector_errors(field, errors)
    result: dict[str, Any] = {"field": field, "written": 0, "skipped": len(jobs) - len(todo),
                              "failed": len(errors), "transcribed": []}
    if spec.modality == AUDIO:  # failed clips get an empty transcript: the text can go on
        result["transcribed"] = _transcribe(engine, ok, inputs, [j for j in todo
                                                                 if j.id in errors])
    if not ok:
        return result
    vectors = load_encoder(spec.encoder).encode_documents(inputs)
    res = engine.set_vectors(field, {j.id: np.asarray(v) for j, v in zip(ok, vectors, strict=True)},
                             provenance={j.id: (j.hash, version) for j in ok})
    result["written"] = sum(r.ok and not r.skipped for r in res)
    result["skipped"] += sum(r.skipped for r in res)
    refused = {r.id: (None, r.error or "refused") for r in res if not r.ok and r.id}
    if refused:
        engine.record_vector_errors(field, refused)
        result["failed"] += len(refused)
    return result


def _transcribe(engine: Any, jobs: list[Job], waveforms: list[Any], failed: list[Job]
                ) -> list[str]:
    """Speech to text: the transcript joins the product's lexical fields (and, through
    product_text, its text vector). Returns the ids whose transcript changed."""
    texts = []
    if jobs:
        from hybrid.encoders.audio import get_transcriber

        texts = [t.text for t in get_transcriber().transcribe(waveforms)]
    docs = engine.get_many([j.id for j in [*jobs, *failed]])
    updated = [docs[job.id] | {"transcript": text}
               for job, text in zip([*jobs, *failed], [*texts, *[""] * len(failed)], strict=True)
               if job.id in docs and docs[job.id].get("transcript") != text]
    if updated:
        engine.add(updated)  # one write for the batch; stored vectors are kept
    return [str(d["id"]) for d in updated]
