"""Thin Celery tasks around hybrid.ingest.tasks."""

from __future__ import annotations

from typing import Any

from hybrid.errors import EngineError
from workers.app import app


@app.task(name="hybrid.encode", autoretry_for=(EngineError, OSError), retry_backoff=True,
          retry_backoff_max=30, max_retries=5)
def encode(index: str, field: str, jobs: list[dict[str, Any]]) -> dict[str, Any]:
    from hybrid.ingest.plan import READS_TEXT
    from hybrid.ingest.runner import CeleryQueue, plan_all
    from hybrid.ingest.tasks import SPECS, encode_jobs, engine_at

    result = encode_jobs(index, field, jobs)
    if result["transcribed"]:  # new transcripts change the product text: re-encode it
        engine = engine_at(index)
        docs = list(engine.get_many(result["transcribed"]).values())
        queue = CeleryQueue(index)
        for f, follow in plan_all(engine, docs, [s for s in SPECS.values()
                                                 if s.modality in READS_TEXT]).items():
            queue.submit(f, follow)
    return result
