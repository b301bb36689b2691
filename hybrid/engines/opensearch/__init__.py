"""The OpenSearch engine (pip install 'hybrid[opensearch]'): the engine protocol on an
OpenSearch 2.x cluster with the k-NN and neural-search plugins."""

from hybrid.engines.opensearch.config import OpenSearchSettings
from hybrid.engines.opensearch.engine import OpenSearchEngine

__all__ = ["OpenSearchEngine", "OpenSearchSettings"]
