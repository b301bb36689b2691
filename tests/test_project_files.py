"""Project files that other tools read: the compose file and the index mapping."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[1]
COMPOSE_SPEC = REPO.parent / "shared" / "compose-spec" / "compose-spec.json"


def _compose() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    return dict(yaml.safe_load((REPO / "docker-compose.yml").read_text()))


def test_compose_file_follows_the_compose_specification() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    if not COMPOSE_SPEC.exists():
        pytest.skip(f"compose specification not found at {COMPOSE_SPEC}")
    spec = json.loads(COMPOSE_SPEC.read_text())
    jsonschema.Draft7Validator(spec).validate(_compose())  # the draft the spec declares


@pytest.mark.integration
def test_docker_compose_reads_the_file_with_and_without_the_gpu_profile() -> None:
    """Debian's docker-compose (v1.29, installed by make) resolves interpolation, merge
    keys and profiles, which the schema alone does not check."""
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is not installed (make install does: apt-get install)"
    for profile in ([], ["--profile", "gpu"]):
        proc = subprocess.run([binary, "-f", "docker-compose.yml", *profile, "config", "-q"],
                              cwd=REPO, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_compose_stack_has_every_service_with_health_checks_and_volumes() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"opensearch", "dashboards", "redis", "api", "worker",
                             "worker-gpu"}
    assert services["opensearch"]["image"] == "opensearchproject/opensearch:2.19.1"
    assert services["dashboards"]["image"] == "opensearchproject/opensearch-dashboards:2.19.1"
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in compose["volumes"], (name, volume)
        if "build" in service:
            assert (REPO / service["build"] / "Dockerfile").exists(), name
    assert "gunicorn" in (REPO / "hybrid" / "cli" / "serve.py").read_text()
    assert services["api"]["command"][:2] == ["hybrid", "serve"]
    gpu = services["worker-gpu"]
    assert gpu["profiles"] == ["gpu"] and "profiles" not in services["worker"]
    [device] = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert "gpu" in device["capabilities"]


def test_compose_file_holds_no_secrets_and_sets_the_engine_configuration() -> None:
    for name, service in _compose()["services"].items():
        environment = service.get("environment", {})
        for key, value in environment.items():
            if re.search(r"PASSWORD|SECRET|TOKEN|_KEY", key):
                assert re.fullmatch(r"\$\{" + key + r":-\}", str(value)), (name, key, value)
        if name in ("api", "worker", "worker-gpu"):
            assert environment["HYBRID_ENGINE"] == "opensearch"
            assert {"OPENSEARCH_URL", "OPENSEARCH_USER", "OPENSEARCH_PASSWORD",
                    "OPENSEARCH_API_KEY", "OPENSEARCH_VERIFY_CERTS"} <= set(environment)
            assert environment["OPENSEARCH_VERIFY_CERTS"] == "${OPENSEARCH_VERIFY_CERTS:-true}"
    assert ".env" in (REPO / ".gitignore").read_text().split()


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
