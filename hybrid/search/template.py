"""Runs `template` signals: a shop's search template on its existing OpenSearch index,
through opensearch-py (the I/O half of hybrid.planner.template).

Connections are named, and their credentials never sit in a profile:
- "default": OPENSEARCH_URL, with OPENSEARCH_USER / OPENSEARCH_PASSWORD or
  OPENSEARCH_API_KEY, and OPENSEARCH_VERIFY_CERTS (default true);
- any other name N: the `connections` mapping given here (the API's CONNECTIONS config,
  {"N": {"url": ..., "user": ..., "password": ..., "api_key": ..., "verify_certs": ...}}),
  else HYBRID_CONNECTION_<N>_URL and _USER, _PASSWORD, _API_KEY, _VERIFY_CERTS;
- a spec's own `url` (no credentials in it) takes the default connection's credentials
  only when it is OPENSEARCH_URL itself.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from hybrid.engines.filters import to_opensearch
from hybrid.errors import EngineError, HybridError
from hybrid.planner.template import DEFAULT_CONNECTION, TemplateSpec, build_request, ranked_ids

TIMEOUT_S = 10.0


def connection_options(name: str, connections: Mapping[str, Any] | None = None,
                       env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """{"url", "user", "password", "api_key", "verify_certs"} of a named connection.
    Raises HybridError naming what to set when the connection is unknown."""
    env = os.environ if env is None else env
    if connections and name in connections:
        given = connections[name]
        if isinstance(given, str):
            given = {"url": given}
        if not isinstance(given, Mapping) or not given.get("url"):
            raise HybridError(f"connection {name!r} needs a 'url'")
        return {"verify_certs": True} | dict(given)
    prefix = "OPENSEARCH_" if name == DEFAULT_CONNECTION else \
        f"HYBRID_CONNECTION_{name.upper().replace('-', '_')}_"
    url = env.get(prefix + "URL")
    if not url:
        raise HybridError(f"unknown connection {name!r}: set {prefix}URL (and credentials in "
                          f"{prefix}USER / {prefix}PASSWORD or {prefix}API_KEY)")
    return {"url": url, "user": env.get(prefix + "USER"), "password": env.get(prefix + "PASSWORD"),
            "api_key": env.get(prefix + "API_KEY"),
            "verify_certs": env.get(prefix + "VERIFY_CERTS", "true").lower()
            not in ("0", "false", "no")}


def client_for(options: Mapping[str, Any]) -> Any:
    """An opensearch-py client for connection options."""
    try:
        from opensearchpy import OpenSearch
    except ImportError as e:
        raise HybridError("template signals and hybrid import need opensearch-py: "
                          "pip install 'hybrid[opensearch]'") from e
    kwargs: dict[str, Any] = {"verify_certs": bool(options.get("verify_certs", True)),
                              "timeout": TIMEOUT_S}
    if options.get("api_key"):
        kwargs["headers"] = {"Authorization": f"ApiKey {options['api_key']}"}
    elif options.get("user"):
        kwargs["http_auth"] = (options["user"], options.get("password") or "")
    return OpenSearch(options["url"], **kwargs)


class TemplateRunner:
    """Sends template sub-queries; one client per connection, reused. Thread-safe."""

    def __init__(self, connections: Mapping[str, Any] | None = None) -> None:
        self.connections = dict(connections or {})
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def options(self, spec: TemplateSpec) -> dict[str, Any]:
        if spec.url is None:
            return connection_options(spec.connection or DEFAULT_CONNECTION, self.connections)
        try:
            default = connection_options(DEFAULT_CONNECTION, self.connections)
        except HybridError:
            default = {}
        same = default.get("url", "").rstrip("/") == spec.url.rstrip("/")
        return default if same else {"url": spec.url, "verify_certs": True}

    def problem(self, spec: TemplateSpec) -> str | None:
        """Why this signal cannot run here (connection unknown, client missing), or None."""
        try:
            self.client(spec)
        except HybridError as e:
            return str(e)
        return None

    def client(self, spec: TemplateSpec) -> Any:
        with self._lock:
            if spec.target not in self._clients:
                self._clients[spec.target] = client_for(self.options(spec))
            return self._clients[spec.target]

    def search(self, spec: TemplateSpec, text: str, flt: dict[str, Any] | None, size: int
               ) -> tuple[list[tuple[str, float]], int]:
        """(hybrid id, score) best first and the source's total match count. Raises
        EngineError when the source cluster fails or refuses the template."""
        body = build_request(spec, text, to_opensearch(flt) if flt else None, size)
        try:
            response = self.client(spec).search_template(index=spec.index, body=body)
        except HybridError:
            raise
        except Exception as e:  # opensearch-py's transport and HTTP errors
            raise EngineError(f"the search template on {spec.index} ({spec.target}) failed: "
                              f"{e}") from e
        return ranked_ids(response, spec.id_field)
