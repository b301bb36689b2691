"""Ingest of the two image fields: EfficientNet runs once per image.

image_vector holds EfficientNet-Lite0's features and image_text_vector maps them into
MiniLM's space, so the second field's batch reuses the features of the first's.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hybrid.encoders import registry
from hybrid.engines.embedded import EmbeddedEngine
from hybrid.ingest import tasks
from hybrid.ingest.plan import DEFAULT_SPECS
from hybrid.ingest.runner import InProcess, plan_all

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[1]
IMAGE_FIELDS = ("image_vector", "image_text_vector")


def test_both_image_fields_run_efficientnet_once_per_image(
        small_index: tuple[Path, Path, dict[str, str]], shared_data: Path, tmp_path: Path,
        monkeypatch: Any) -> None:
    folder, _, _ = small_index
    monkeypatch.setenv("HYBRID_MODELS", str(folder / "models"))  # its trained alignment
    monkeypatch.setenv("HYBRID_MEDIA_ROOTS", f"{shared_data}{os.pathsep}{tmp_path}")
    monkeypatch.delitem(registry._cache, ("aligned-image", ()), raising=False)
    monkeypatch.setattr(tasks, "_features", OrderedDict())
    aligned = registry.load_encoder("aligned-image")
    calls: list[int] = []
    for encoder in {id(e): e for e in (aligned.base,
                                       registry.load_encoder("efficientnet-lite0"))}.values():
        real = encoder.encode_documents
        monkeypatch.setattr(encoder, "encode_documents", lambda items, *a, real=real, **k:
                            calls.append(len(items)) or real(items, *a, **k))

    images = sorted((shared_data / "catalog" / "images" / "fashion").glob("*.jpg"))[:40]
    (tmp_path / "corrupt.jpg").write_bytes(os.urandom(2048))
    docs = [{"id": f"p{i}", "title": "product", "images": [str(p)]}
            for i, p in enumerate(images)]
    docs.append({"id": "bad", "title": "broken photo", "images": [str(tmp_path / "corrupt.jpg")]})
    index = tmp_path / "index"
    engine = EmbeddedEngine(index, mapping=REPO / "mappings" / "products.json")
    engine.add(docs)
    jobs = plan_all(engine, docs, [s for s in DEFAULT_SPECS if s.field in IMAGE_FIELDS])
    runner = InProcess(str(index))
    runner.submit_all(jobs)

    assert sum(calls) == len(images)  # once per image, for both fields
    for field in IMAGE_FIELDS:
        assert runner.totals[field] == {"written": len(images), "skipped": 0, "failed": 1}
    engine.refresh()
    expected = aligned.encode_documents([str(p) for p in images[:5]])
    for i, vec in enumerate(expected):
        hit = engine.knn_search("image_text_vector", vec, k=1).hits[0]
        assert hit.id == f"p{i}" and hit.score == pytest.approx(1.0, abs=1e-4)
    assert np.isclose(np.linalg.norm(expected, axis=1), 1.0).all()
