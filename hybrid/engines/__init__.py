"""Index backends behind one protocol, chosen by name.

An index is named by a *locator*: a folder for the embedded engine ("var/index"), or
"opensearch:<alias>" for an OpenSearch index (the cluster comes from OPENSEARCH_URL and
the other settings in hybrid.engines.opensearch.config). Tasks, workers and the API pass
locators around, so every process opens the same index on the same engine.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from hybrid.engines.base import Engine, Hit, ItemResult, SearchResult
from hybrid.errors import HybridError

# name -> (module, class, the extra that installs its dependencies)
ENGINES = {
    "embedded": ("hybrid.engines.embedded", "EmbeddedEngine", None),
    "opensearch": ("hybrid.engines.opensearch", "OpenSearchEngine", "opensearch"),
}
OPENSEARCH_PREFIX = "opensearch:"
DEFAULT_ALIAS = "products"


def open_engine(name: str = "embedded", **options: Any) -> Engine:
    """Open an engine by name (e.g. open_engine("embedded", path="var/index"),
    open_engine("opensearch", index="products"))."""
    if name not in ENGINES:
        raise HybridError(f"unknown engine {name!r}; choose one of {', '.join(sorted(ENGINES))}")
    module, cls, extra = ENGINES[name]
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise HybridError(f"the {name} engine needs extra packages: "
                          f"pip install 'hybrid[{extra}]' ({e})") from e
    engine: Engine = getattr(mod, cls)(**options)
    return engine


def locate(index: str, engine: str | None = None) -> str:
    """The locator of `index` on `engine` (default: HYBRID_ENGINE, else embedded). On
    OpenSearch, `index` is the alias; a locator passes through unchanged."""
    name = engine or os.environ.get("HYBRID_ENGINE") or "embedded"
    if name not in ENGINES:
        raise HybridError(f"unknown engine {name!r}; choose one of {', '.join(sorted(ENGINES))}")
    if index.startswith(OPENSEARCH_PREFIX) or name == "embedded":
        return index
    return OPENSEARCH_PREFIX + index


def is_opensearch(locator: str) -> bool:
    return locator.startswith(OPENSEARCH_PREFIX)


def open_index(locator: str, **options: Any) -> Engine:
    """Open the index a locator names (options such as mapping= go to the engine)."""
    if is_opensearch(locator):
        return open_engine("opensearch", index=locator[len(OPENSEARCH_PREFIX):], **options)
    return open_engine("embedded", path=locator, **options)


def index_exists(locator: str) -> bool:
    """Whether the index exists (an OpenSearch alias or index; an index folder)."""
    if not is_opensearch(locator):
        return (Path(locator) / "mapping.json").exists()
    from hybrid.engines.opensearch import OpenSearchSettings

    client = OpenSearchSettings.from_env().client()
    try:
        return bool(client.indices.exists(index=locator[len(OPENSEARCH_PREFIX):]))
    finally:
        client.close()


def state_dir(locator: str) -> Path:
    """Where the files that live beside an index go (fusion profiles): the index folder,
    or HYBRID_STATE_DIR/<alias> (default var/opensearch/<alias>) for OpenSearch."""
    if is_opensearch(locator):
        root = Path(os.environ.get("HYBRID_STATE_DIR", "var/opensearch"))
        return root / locator[len(OPENSEARCH_PREFIX):]
    return Path(locator)


def engine_state_dir(engine: Any) -> Path:
    """state_dir of an open engine: an embedded engine's folder, an OpenSearch engine's
    HYBRID_STATE_DIR/<alias>."""
    path = getattr(engine, "path", None)
    return Path(path) if path is not None else state_dir(OPENSEARCH_PREFIX + engine.alias)


__all__ = ["ENGINES", "Engine", "Hit", "ItemResult", "SearchResult", "engine_state_dir",
           "index_exists", "is_opensearch", "locate", "open_engine", "open_index", "state_dir"]
