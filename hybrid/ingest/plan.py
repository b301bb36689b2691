"""Which vectors each product needs (pure: no I/O; hashing of files is passed in).

A vector field is filled from one input of the product: its text, its first image or
its first audio file; the fused field from its text and first image together
(`hybrid.ingest.fused`). A job is skipped when the stored vector already has the same
content hash and encoder version, so re-ingesting an unchanged catalog does no work.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from hybrid.engines.base import SUPPLIED
from hybrid.ingest.fused import fused_hash, fused_source

TEXT, IMAGE, AUDIO, FUSED = "text", "image", "audio", "fused"
# The Celery queue of each modality's jobs (workers.app declares these queues). Fused
# jobs run the aligned image encoder, so they go where images are encoded (the GPU
# workers when there are some); a queue of their own had no worker and they stayed
# pending for ever.
QUEUES = {TEXT: "text", IMAGE: "image", AUDIO: "audio", FUSED: "image"}
# The modalities whose source includes the product text (and so its transcript): their
# vectors are planned again when a spoken clip's transcript joins the text.
READS_TEXT = (TEXT, FUSED)


@dataclass(frozen=True)
class VectorSpec:
    field: str
    modality: str
    encoder: str  # registry name, see hybrid.encoders.registry


DEFAULT_SPECS = (
    # e5-small beat MiniLM on dev fashion_text (nDCG@10 0.851 vs 0.789) and finds English
    # titles from Chinese queries (benchmarks/text_models.py)
    VectorSpec("text_vector", TEXT, "e5-small"),
    VectorSpec("image_vector", IMAGE, "efficientnet-lite0"),
    VectorSpec("image_text_vector", IMAGE, "aligned-image"),
    VectorSpec("audio_vector", AUDIO, "whisper-acoustic"),
    # α·aligned image + (1 − α)·MiniLM text, α learned per index (hybrid learn --fused-alpha)
    VectorSpec("fused_vector", FUSED, "fused"),
)


@dataclass(frozen=True)
class Job:
    id: str
    field: str
    source: str  # the text itself, or a path or URL of the image / audio
    hash: str
    recompute: bool = False  # replace a supplied vector (the user asked to recompute)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = asdict(self)
        if not self.recompute:
            del d["recompute"]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Job:
        return cls(str(d["id"]), str(d["field"]), str(d["source"]), str(d["hash"]),
                   d.get("recompute") is True)


def product_text(doc: Mapping[str, Any]) -> str:
    """The text a product's text vector encodes: title, brand, category path, attribute
    values, transcript and the start of the description."""
    attrs = doc.get("attributes") or {}
    values = [v for x in attrs.values() for v in (x if isinstance(x, list) else [x])
              if isinstance(v, str)]
    parts = [doc.get("title", ""), doc.get("brand") or "", " ".join(doc.get("category") or []),
             " ".join(values), doc.get("transcript") or "", (doc.get("description") or "")[:500]]
    return " ".join(p for p in parts if p).strip()


def source_of(doc: Mapping[str, Any], modality: str) -> str | None:
    if modality == TEXT:
        return product_text(doc) or None
    if modality == FUSED:
        images = doc.get("images") or []
        return fused_source(product_text(doc) or None, images[0] if images else None)
    items = doc.get("images" if modality == IMAGE else "audio") or []
    return items[0] if items else None


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def content_hash(modality: str, source: str, file_hash: Callable[[str], str]) -> str:
    if modality == TEXT:
        return text_hash(source)
    if modality == FUSED:
        return fused_hash(source, file_hash, text_hash)
    return file_hash(source)


def awaits_transcript(doc: Mapping[str, Any], spec: VectorSpec) -> bool:
    """A product with audio gets its text and fused vectors once the transcript is in its
    text (a fused job planned before could otherwise write after, and over, the one the
    transcript asks for)."""
    return spec.modality in READS_TEXT and bool(doc.get("audio")) and "transcript" not in doc


def plan(docs: Iterable[Mapping[str, Any]], spec: VectorSpec, version: str,
         stored: Mapping[str, Mapping[str, Any]], file_hash: Callable[[str], str],
         wait_for_transcripts: bool = True, recompute: bool = False) -> list[Job]:
    """The jobs that `spec` needs for these documents. `stored` is the engine's
    vector_info for the field; `file_hash` hashes an image or audio source. A vector
    the user supplied is kept unless `recompute`."""
    jobs = []
    for doc in docs:
        have = stored.get(str(doc["id"]), {})
        if have.get("model") == SUPPLIED and not recompute:
            continue
        if wait_for_transcripts and awaits_transcript(doc, spec):
            continue  # the audio task asks for it when the transcript is written
        source = source_of(doc, spec.modality)
        if source is None:
            continue
        h = content_hash(spec.modality, source, file_hash)
        if have.get("hash") == h and have.get("model") == version:
            continue  # already encoded from this content by this encoder
        if have.get("error") and have.get("error_hash") == h:
            continue  # failed on this very content: re-ingesting won't fix it
        jobs.append(Job(str(doc["id"]), spec.field, source, h,
                        recompute and have.get("model") == SUPPLIED))
    return jobs


def state_of(doc: Mapping[str, Any], spec: VectorSpec, version: str,
             stored: Mapping[str, Mapping[str, Any]], file_hash: Callable[[str], str]) -> str:
    """"done", "failed", "pending", or "none" (the product has no such input). A
    supplied vector is done."""
    have = stored.get(str(doc["id"]), {})
    if have.get("model") == SUPPLIED:
        return "done"
    source = source_of(doc, spec.modality)
    if source is None:
        return "none"
    h = content_hash(spec.modality, source, file_hash)
    if have.get("hash") == h and have.get("model") == version:
        return "done"
    if have.get("error") and have.get("error_hash") == h:
        return "failed"
    return "pending"
