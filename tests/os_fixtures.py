"""Minimal OpenSearch fixtures of the OpenSearch engine's tests (to be unified with the
session fixtures in conftest.py): the node at OPENSEARCH_URL, skipped with its URL named
when it does not answer, and fresh, uniquely named indices dropped after each test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def os_settings() -> Any:
    """OpenSearch settings from the environment (OPENSEARCH_URL, default
    http://127.0.0.1:9200); skips when the node does not answer."""
    pytest.importorskip("opensearchpy")
    from hybrid.engines.opensearch import OpenSearchSettings

    settings = OpenSearchSettings.from_env()
    client = settings.client()
    try:
        client.info()
    except Exception as e:  # noqa: BLE001 - any failure means: no node to test on
        pytest.skip(f"no OpenSearch node at {settings.url} ({type(e).__name__})")
    finally:
        client.close()
    return settings


def unique_alias() -> str:
    return f"hybrid-test-{uuid.uuid4().hex[:12]}"


def drop(settings: Any, alias: str) -> None:
    """Delete every index version and fusion pipeline of `alias`."""
    from hybrid.engines.opensearch import OpenSearchEngine

    try:
        engine = OpenSearchEngine(alias, settings=settings, create=False)
    except Exception:  # noqa: BLE001 - never created: nothing to drop
        return
    engine.drop()
    engine.close()


@pytest.fixture
def os_index(os_settings: Any) -> Iterator[Callable[..., Any]]:
    """A factory of engines on fresh, uniquely named indices, all dropped afterwards."""
    from engine_conformance import small_schema

    from hybrid.engines.opensearch import OpenSearchEngine

    made: list[Any] = []

    def new(**kw: Any) -> Any:
        kw.setdefault("mapping", small_schema())
        e = OpenSearchEngine(unique_alias(), settings=os_settings, **kw)
        made.append(e)
        return e

    yield new
    for e in made:
        e.drop()
        e.close()


@pytest.fixture
def os_locator(os_settings: Any) -> Iterator[str]:
    """The locator of a fresh index that a test (or a process it starts) creates."""
    alias = unique_alias()
    yield f"opensearch:{alias}"
    drop(os_settings, alias)
