"""Vector ingest throughput per modality: the whole pipeline against the raw encoder.

Pipeline: products are indexed, their vector jobs go through Redis to one Celery worker
process, which decodes, encodes and writes them; timed from the first enqueue until the
last vector is in the index. Raw: the same encoder's `encode_documents` on the same
already-decoded inputs, in batches of the pipeline's size, in this process. Both run
one encoding process with the same threads, so the ratio is the pipeline's overhead
(queue, decode, write). For audio the raw work is transcription plus the acoustic
embedding, since the pipeline does both. "image, both fields" fills image_vector and
image_text_vector (when an alignment is trained) against the raw EfficientNet rate: the
aligned field maps the features of the first, so it should cost little more than one.

    .venv/bin/python benchmarks/ingest.py [--text 2000] [--image 500] [--audio 40]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
DATA = REPO.parent / "shared" / "data"
os.environ.setdefault("HYBRID_MEDIA_ROOTS", str(DATA))  # the media roots of this process
                                                        # and its workers (hybrid.catalog.media)

from hybrid.catalog.media import MediaRoots  # noqa: E402
from hybrid.engines.embedded import EmbeddedEngine  # noqa: E402
from hybrid.ingest.plan import DEFAULT_SPECS, product_text  # noqa: E402
from hybrid.ingest.runner import BATCH, CeleryQueue, available, plan_all  # noqa: E402
from hybrid.ingest.tasks import decoder  # noqa: E402
from hybrid.testing.servers import CeleryWorker, RedisServer  # noqa: E402

FIELDS = {"text": "text_vector", "image": "image_vector", "audio": "audio_vector"}
IMAGE_FIELDS = ("image_vector", "image_text_vector")


def products(n_text: int, n_image: int, n_audio: int) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (DATA / "catalog" / "products.jsonl").open()]
    out = []
    for i in range(n_text):
        r = rows[i % len(rows)]
        doc = {"id": f"t{i}", "title": r["title"],
               "category": [r.get("master_category") or r.get("category", ""),
                            r.get("article_type", "")],
               "attributes": {"colour": r.get("colour", ""), "copy": str(i)}}
        if i < n_image:
            doc["images"] = [str(DATA / "catalog" / r["image"])]
        out.append(doc)
    clips = [json.loads(line) for line in (DATA / "dev" / "spoken" / "queries.jsonl").open()]
    for i in range(n_audio):
        out.append({"id": f"a{i}", "title": f"voice {i}",
                    "audio": [str(DATA / "dev" / clips[i % len(clips)]["audio"])]})
    return out


def raw_rate(modality: str, docs: list[dict[str, Any]]) -> float:
    """Items per second of the encoder alone on decoded inputs."""
    from hybrid.encoders.registry import load_encoder

    spec = next(s for s in DEFAULT_SPECS if s.modality == modality)
    if modality == "text":
        inputs = [product_text(d) for d in docs]
    else:
        key = "images" if modality == "image" else "audio"
        decode = decoder(modality, MediaRoots.of([DATA]))
        inputs = [decode(d[key][0]) for d in docs if d.get(key)]
    enc = load_encoder(spec.encoder)
    enc.encode_documents(inputs[: BATCH[modality]])  # warm-up
    transcriber = None
    if modality == "audio":
        from hybrid.encoders.audio import get_transcriber

        transcriber = get_transcriber(vad_filter=False)
    start = time.perf_counter()
    for i in range(0, len(inputs), BATCH[modality]):
        batch = inputs[i:i + BATCH[modality]]
        if transcriber is not None:
            transcriber.transcribe(batch)
        enc.encode_documents(batch)
    return len(inputs) / (time.perf_counter() - start)


def pipeline_rate(modality: str, docs: list[dict[str, Any]], work: Path,
                  redis: RedisServer, fields: tuple[str, ...] = ()) -> float:
    """Items per second from enqueue to the last vector written, through one worker;
    with several `fields`, an item is done when all of its fields are."""
    fields = fields or (FIELDS[modality],)
    index = work / f"ix-{'-'.join(fields)}"
    engine = EmbeddedEngine(index)
    engine.add(docs)
    jobs = plan_all(engine, docs, [s for s in DEFAULT_SPECS if s.field in fields])
    worker = CeleryWorker(redis.url, work / f"worker-{'-'.join(fields)}.log", concurrency=1,
                          queues=modality)  # follow-up text jobs of audio wait elsewhere
    worker.start()
    os.environ["REDIS_URL"] = redis.url
    try:
        queue = CeleryQueue(str(index))
        # warm the worker's models with one batch, then time the rest
        warm = {f: js[: BATCH[modality]] for f, js in jobs.items()}
        timed = {f: js[BATCH[modality]:] for f, js in jobs.items()}
        queue.submit_all(warm)
        for f, js in warm.items():
            _wait(engine, f, {j.id for j in js})
        start = time.perf_counter()
        queue.submit_all(timed)
        for f, js in timed.items():
            _wait(engine, f, {j.id for j in js})
        return len(timed[fields[0]]) / (time.perf_counter() - start)
    finally:
        worker.stop()
        engine.close()


def _wait(engine: EmbeddedEngine, field: str, ids: set[str], timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = engine.vector_info(field)
        if all(i in info for i in ids):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{field}: vectors still missing after {timeout} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--text", type=int, default=2000)
    ap.add_argument("--image", type=int, default=500)
    ap.add_argument("--audio", type=int, default=40)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    docs = products(args.text, args.image, args.audio)
    result: dict[str, Any] = {"items": {"text": args.text, "image": args.image,
                                       "audio": args.audio}, "modalities": {}}
    with tempfile.TemporaryDirectory() as tmp:
        redis = RedisServer(Path(tmp) / "redis")
        redis.start()
        try:
            for modality in ("text", "image", "audio"):
                key = {"text": None, "image": "images", "audio": "audio"}[modality]
                subset = [d for d in docs if key is None or d.get(key)]
                if modality == "text":
                    subset = [d for d in subset if not d.get("audio")]
                raw = raw_rate(modality, subset)
                piped = pipeline_rate(modality, subset, Path(tmp), redis)
                result["modalities"][modality] = {
                    "raw_items_per_s": round(raw, 1), "pipeline_items_per_s": round(piped, 1),
                    "pipeline_share_of_raw": round(piped / raw, 3), "batch": BATCH[modality]}
                if modality == "image" and available("aligned-image"):
                    # image_text_vector maps the features image_vector computed
                    both = pipeline_rate(modality, subset, Path(tmp), redis, IMAGE_FIELDS)
                    result["modalities"]["image, both fields"] = {
                        "raw_items_per_s": round(raw, 1), "pipeline_items_per_s": round(both, 1),
                        "pipeline_share_of_raw": round(both / raw, 3), "batch": BATCH[modality]}
        finally:
            redis.stop()
    print(json.dumps(result, indent=2))
    print(f"\n{'modality':<20}{'raw/s':>10}{'pipeline/s':>12}{'share':>8}  target >= 0.85")
    for m, r in result["modalities"].items():
        share = r["pipeline_share_of_raw"]
        print(f"{m:<20}{r['raw_items_per_s']:>10}{r['pipeline_items_per_s']:>12}{share:>8}  "
              f"{'PASS' if share >= 0.85 else 'FAIL'}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
