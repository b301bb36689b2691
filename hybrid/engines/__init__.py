"""Index backends behind one protocol, chosen by name."""

from __future__ import annotations

import importlib
from typing import Any

from hybrid.engines.base import Engine, Hit, ItemResult, SearchResult
from hybrid.errors import HybridError

# name -> (module, class, the extra that installs its dependencies)
ENGINES = {
    "embedded": ("hybrid.engines.embedded", "EmbeddedEngine", None),
}


def open_engine(name: str = "embedded", **options: Any) -> Engine:
    """Open an engine by name (e.g. open_engine("embedded", path="var/index"))."""
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


__all__ = ["ENGINES", "Engine", "Hit", "ItemResult", "SearchResult", "open_engine"]
