"""Connection settings of the OpenSearch engine, from the environment.

    OPENSEARCH_URL            http(s)://host:port[,...] (default http://127.0.0.1:9200)
    OPENSEARCH_USER, OPENSEARCH_PASSWORD   basic authentication
    OPENSEARCH_API_KEY        an API key (sent as "Authorization: ApiKey <key>")
    OPENSEARCH_VERIFY_CERTS   true (default) / false: verify TLS certificates
    OPENSEARCH_CA_CERTS       a CA bundle file to verify them with
    OPENSEARCH_TIMEOUT        seconds per request (default 30)
    OPENSEARCH_RETRIES        connection-level retries of the client (default 3)
    HYBRID_KNN_ENGINE         lucene / faiss / nmslib: the HNSW engine of new indices
                              (default: what mappings/products.json says, lucene)
    HYBRID_SHARDS, HYBRID_REPLICAS         shards and replicas of new indices
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hybrid.errors import HybridError

_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class OpenSearchSettings:
    url: str = "http://127.0.0.1:9200"
    user: str | None = None
    password: str | None = None
    api_key: str | None = None
    verify_certs: bool = True
    ca_certs: str | None = None
    timeout: float = 30.0
    retries: int = 3
    knn_engine: str | None = None
    shards: int | None = None
    replicas: int | None = None

    def __post_init__(self) -> None:
        if self.api_key and (self.user or self.password):
            raise HybridError("set OPENSEARCH_API_KEY or OPENSEARCH_USER/PASSWORD, not both")
        if bool(self.user) != bool(self.password):
            raise HybridError("OPENSEARCH_USER and OPENSEARCH_PASSWORD go together")
        if self.timeout <= 0:
            raise HybridError("OPENSEARCH_TIMEOUT must be a positive number of seconds")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OpenSearchSettings:
        e = os.environ if env is None else env
        try:
            return cls(url=e.get("OPENSEARCH_URL") or cls.url,
                       user=e.get("OPENSEARCH_USER") or None,
                       password=e.get("OPENSEARCH_PASSWORD") or None,
                       api_key=e.get("OPENSEARCH_API_KEY") or None,
                       verify_certs=e.get("OPENSEARCH_VERIFY_CERTS", "true").lower() not in _FALSE,
                       ca_certs=e.get("OPENSEARCH_CA_CERTS") or None,
                       timeout=float(e.get("OPENSEARCH_TIMEOUT", cls.timeout)),
                       retries=int(e.get("OPENSEARCH_RETRIES", cls.retries)),
                       knn_engine=e.get("HYBRID_KNN_ENGINE") or None,
                       shards=int(e["HYBRID_SHARDS"]) if e.get("HYBRID_SHARDS") else None,
                       replicas=int(e["HYBRID_REPLICAS"]) if e.get("HYBRID_REPLICAS") else None)
        except ValueError as err:
            raise HybridError(f"bad OpenSearch setting: {err}") from err

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments of opensearchpy.OpenSearch."""
        opts: dict[str, Any] = {
            "hosts": [u.strip() for u in self.url.split(",") if u.strip()],
            "verify_certs": self.verify_certs, "timeout": self.timeout,
            "max_retries": self.retries, "retry_on_timeout": True,
            "http_compress": False}
        if not self.verify_certs:
            opts["ssl_show_warn"] = False
        if self.ca_certs:
            opts["ca_certs"] = self.ca_certs
        if self.user:
            opts["http_auth"] = (self.user, self.password)
        if self.api_key:
            opts["headers"] = {"Authorization": f"ApiKey {self.api_key}"}
        return opts

    def client(self) -> Any:
        from opensearchpy import OpenSearch

        return OpenSearch(**self.client_options())
