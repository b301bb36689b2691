"""The vector task: decode each input, encode the batch, write the vectors.

The same function runs in a Celery worker and in-process (embedded mode). It is keyed
by document id, content hash and encoder version, so running it twice writes once. An
input that cannot be decoded is recorded on its product with the reason and never
stops the rest of the batch. Media files are read only through the index's media roots
(hybrid.catalog.media: confined, regular files, size-capped before reading), and a
vector the user supplied is kept unless the job asks to recompute it.

Image features are kept for the last few batches, by encoder version and file hash: the
aligned image encoder maps EfficientNet's features (a DerivedEncoder), so the
image_text_vector batch that follows an image_vector batch of the same images maps the
kept features instead of running the network again.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from hybrid.catalog.media import MediaError, MediaRoots
from hybrid.encoders.base import DecodeError, Encoder, base_pass
from hybrid.encoders.registry import load_encoder, version_of
from hybrid.engines import state_dir
from hybrid.engines.base import SUPPLIED
from hybrid.ingest.fused import encode_fused, fused_version, read_alpha
from hybrid.ingest.plan import AUDIO, DEFAULT_SPECS, FUSED, IMAGE, TEXT, Job, VectorSpec

SPECS = {s.field: s for s in DEFAULT_SPECS}
KEEP_FEATURES = 256  # image features kept, a few batches' worth
_engines: dict[str, Any] = {}
_features: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_lock = threading.Lock()


def engine_at(index: str) -> Any:
    """One engine per index (a folder, or opensearch:<alias>) per process; workers reuse
    it across tasks."""
    from hybrid.engines import open_index

    with _lock:
        if index not in _engines:
            _engines[index] = open_index(index)
        return _engines[index]


def file_hash(source: str, media: MediaRoots) -> str:
    """Content hash of a media file, read within `media`'s rules (its path when it may
    not or cannot be read: the task reports the real problem)."""
    try:
        return hashlib.sha256(media.read(source)).hexdigest()[:32]
    except MediaError:
        return hashlib.sha256(("unreadable:" + source).encode()).hexdigest()[:32]


def decoder(modality: str, media: MediaRoots) -> Callable[[str], Any]:
    """Source -> the encoder's input; media files are read only through `media`."""
    if modality == TEXT:
        return lambda text: text
    if modality == IMAGE:
        from hybrid.encoders.image import load_image

        return lambda source: load_image(media.read(source), label=source)
    from hybrid.encoders.audio import load_audio

    return lambda source: load_audio(media.read(source), label=source)


def spec_version(spec: VectorSpec, index: str | Any) -> str:
    """The version stamped on the field's vectors (the fused field's names its α)."""
    return fused_version(index) if spec.modality == FUSED else version_of(spec.encoder)


def encode_jobs(index: str, field: str, jobs: Sequence[Mapping[str, Any]],
                spec: VectorSpec | None = None) -> dict[str, Any]:
    """Compute and write the vectors of `jobs` (dicts of hybrid.ingest.plan.Job).
    Returns counts: written, skipped, failed, and ids whose transcript changed."""
    spec = spec or SPECS[field]
    engine = engine_at(index)
    todo = [Job.from_dict(j) for j in jobs]
    version = spec_version(spec, index)
    stored = engine.vector_info(field, [j.id for j in todo])
    todo = [j for j in todo if not (stored.get(j.id, {}).get("hash") == j.hash
                                    and stored.get(j.id, {}).get("model") == version)
            and (j.recompute or stored.get(j.id, {}).get("model") != SUPPLIED)]
    result: dict[str, Any] = {"field": field, "written": 0, "skipped": len(jobs) - len(todo),
                              "failed": 0, "transcribed": []}
    if not todo:
        return result
    if spec.modality == FUSED:
        return _fused(index, engine, field, todo, version, result)
    encoder = load_encoder(spec.encoder)
    source, project = base_pass(encoder)
    kept = _kept(source, todo) if spec.modality == IMAGE else {}
    decode = decoder(spec.modality, MediaRoots.for_index(state_dir(index)))
    inputs, ok, errors = [], [], {}
    for job in todo:
        if job.hash in kept:  # decoded and encoded by an earlier batch
            ok.append(job)
            continue
        try:
            inputs.append(decode(job.source))
            ok.append(job)
        except DecodeError as e:
            errors[job.id] = (job.hash, str(e))
    if errors:
        engine.record_vector_errors(field, errors)
    result["failed"] = len(errors)
    if spec.modality == AUDIO:  # failed clips get an empty transcript: the text can go on
        result["transcribed"] = _transcribe(engine, ok, inputs, [j for j in todo
                                                                 if j.id in errors])
    if not ok:
        return result
    if spec.modality == IMAGE:
        feats = _image_features(source, ok, inputs, kept)
        vectors = feats if project is None else project(feats)
    else:
        vectors = encoder.encode_documents(inputs)
    res = engine.set_vectors(field, {j.id: np.asarray(v) for j, v in zip(ok, vectors, strict=True)},
                             provenance={j.id: (j.hash, version) for j in ok})
    result["written"] = sum(r.ok and not r.skipped for r in res)
    result["skipped"] += sum(r.skipped for r in res)
    refused = {r.id: (None, r.error or "refused") for r in res if not r.ok and r.id}
    if refused:
        engine.record_vector_errors(field, refused)
        result["failed"] += len(refused)
    return result


def _fused(index: str, engine: Any, field: str, todo: Sequence[Job], version: str,
           result: dict[str, Any]) -> dict[str, Any]:
    vectors, problems = encode_fused([j.source for j in todo], read_alpha(index),
                                     decoder(IMAGE, MediaRoots.for_index(index)))
    ok = {j.id: v for j, v in zip(todo, vectors, strict=True) if v is not None}
    errors = {todo[n].id: (todo[n].hash, f"image: {why}") for n, why in problems.items()
              if todo[n].id not in ok}
    if errors:
        engine.record_vector_errors(field, errors)
    res = engine.set_vectors(field, ok, provenance={j.id: (j.hash, version) for j in todo
                                                    if j.id in ok}) if ok else []
    result["written"] = sum(r.ok and not r.skipped for r in res)
    result["skipped"] += sum(r.skipped for r in res)
    result["failed"] = len(errors) + sum(not r.ok for r in res)
    return result


def _kept(source: Encoder, jobs: Sequence[Job]) -> dict[str, np.ndarray]:
    with _lock:
        return {j.hash: _features[(source.version, j.hash)] for j in jobs
                if (source.version, j.hash) in _features}


def _image_features(source: Encoder, jobs: Sequence[Job], inputs: list[Any],
                    kept: Mapping[str, np.ndarray]) -> np.ndarray:
    """`source`'s vectors of `jobs`: kept ones, and fresh ones of the decoded `inputs`
    (the jobs whose features were not kept, in order), which are kept in turn."""
    fresh = iter(source.encode_documents(inputs) if inputs else [])
    feats = np.stack([kept[j.hash] if j.hash in kept else next(fresh) for j in jobs])
    with _lock:
        for j, f in zip(jobs, feats, strict=True):
            _features[(source.version, j.hash)] = f
            _features.move_to_end((source.version, j.hash))
        while len(_features) > KEEP_FEATURES:
            _features.popitem(last=False)
    return feats


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
