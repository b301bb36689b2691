"""Project files that other tools read: the compose file and the index mapping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[1]
COMPOSE_SPEC = REPO.parent / "shared" / "compose-spec" / "compose-spec.json"


def test_compose_file_follows_the_compose_specification() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    yaml = pytest.importorskip("yaml")
    if not COMPOSE_SPEC.exists():
        pytest.skip(f"compose specification not found at {COMPOSE_SPEC}")
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    spec = json.loads(COMPOSE_SPEC.read_text())
    jsonschema.Draft7Validator(spec).validate(compose)  # the draft the spec declares
    assert {"opensearch", "redis"} <= set(compose["services"])


def test_mapping_is_an_opensearch_index_body() -> None:
    body = json.loads((REPO / "mappings" / "products.json").read_text())
    assert set(body) == {"settings", "mappings"}
    assert body["settings"]["index"]["knn"] is True
    for name, spec in body["mappings"]["properties"].items():
        if spec["type"] == "knn_vector":
            assert spec["method"]["name"] == "hnsw", name


def test_every_package_folder_is_a_regular_package() -> None:
    """A folder without __init__.py imports from a checkout but is left out of a wheel."""
    root = Path(__file__).resolve().parents[1]
    for folder in [root / "hybrid", root / "workers", *(root / "hybrid").iterdir()]:
        if folder.is_dir() and any(folder.glob("*.py")):
            assert (folder / "__init__.py").exists(), f"{folder} has no __init__.py"
