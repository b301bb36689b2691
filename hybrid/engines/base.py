"""The engine protocol every index backend implements, and the values it returns.

Documents are plain dicts in the catalog's shape (`Product.to_dict()`): "id", the
text, keyword and numeric fields of the mapping, and optionally "vectors":
{vector field: list of floats}. Scores follow OpenSearch: BM25 as Lucene computes it
(k1 1.2, b 0.75), k-NN on cosine spaces as (1 + cosine) / 2, clamped to [0, 1] (float
error must not make an opposite vector score -6e-08).

Order: every search returns hits by score (descending), then id (ascending, by code
point), so equal scores rank the same whatever the order of ingest; this also decides
which of several tied documents makes the cut at `size`/`k` and the page boundaries.
An empty lexical query scores every document 0, so it lists them by id. Errors: bad
arguments (filters, field names, sizes, vectors) raise hybrid.errors.QueryError or its
subclass FilterError, never a bare ValueError. `tests/engine_conformance.py` checks all
of this for every engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from hybrid.engines.schema import IndexSchema
from hybrid.errors import QueryError

SUPPLIED = "supplied"  # the model of a vector that came with its document (bring your own)


MAX_RESULT_WINDOW = 10_000  # OpenSearch's index.max_result_window: offset + size at most
# Below this many vectors k-NN is exact on every engine (a scan of 7,000 x 384 costs about
# 0.3 ms): HNSW at ef 100 missed part of a small cluster of products (81 grocery products
# among the demo catalog's 7,116, queried in words): 18% of their true top 10 on the
# embedded engine's faiss graph, 10% on the OpenSearch node's lucene graph.
EXACT_KNN_BELOW = 10_000


def check_window(size: int, offset: int) -> None:
    """QueryError unless 0 <= size, offset and size + offset <= MAX_RESULT_WINDOW (the same
    rule on every engine)."""
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in (size, offset)):
        raise QueryError("size and offset must be non-negative integers")
    if size + offset > MAX_RESULT_WINDOW:
        raise QueryError(f"offset + size must be at most {MAX_RESULT_WINDOW}")


@dataclass
class Hit:
    id: str
    score: float
    source: dict[str, Any] | None = None


@dataclass
class SearchResult:
    hits: list[Hit]
    total: int
    facets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class ItemResult:
    """The outcome of writing one document: ok, or the reason it was refused."""

    id: str | None
    ok: bool
    error: str | None = None
    skipped: bool = False  # ok, but nothing to write (same content and model as stored)


@runtime_checkable
class Engine(Protocol):
    schema: IndexSchema

    def add(self, docs: Iterable[Mapping[str, Any]]) -> list[ItemResult]:
        """Insert or replace documents by id; durable when this returns. Vectors that
        come with a document are stored with the model SUPPLIED."""

    def update(self, doc_id: str, fields: Mapping[str, Any]) -> None:
        """Change some fields of a stored document (NotFoundError if absent)."""

    def set_vectors(self, field: str, vectors: Mapping[str, Sequence[float] | np.ndarray], *,
                    provenance: Mapping[str, tuple[str, str]] | None = None
                    ) -> list[ItemResult]:
        """Write one vector field of existing documents, by id, leaving the rest.
        provenance: id -> (content hash, encoder version); an identical vector is skipped."""

    def record_vector_errors(self, field: str, errors: Mapping[str, tuple[str | None, str]]
                             ) -> None:
        """id -> (content hash, reason) of inputs that could not be encoded."""

    def vector_info(self, field: str, ids: Sequence[str] | None = None
                    ) -> dict[str, dict[str, Any]]:
        """id -> {"hash", "model", "error"} for stored vectors and recorded errors
        (model SUPPLIED: the vector came with its document)."""

    def get_vectors(self, ids: Sequence[str], fields: Sequence[str] | None = None
                    ) -> dict[str, dict[str, np.ndarray]]:
        """id -> {vector field: stored vector (float32; unit length on cosine fields)}
        for those ids and fields (None: every vector field) that hold one."""

    def delete(self, ids: Iterable[str]) -> int:
        """Delete by id; returns how many existed."""

    def get(self, doc_id: str) -> dict[str, Any] | None: ...

    def scan(self) -> Iterator[dict[str, Any]]:
        """Every document in the index."""

    def get_many(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored documents of those ids that exist, by id."""

    def count(self, filter: Mapping[str, Any] | None = None) -> int: ...

    def lexical_search(self, text: str, *, fields: Mapping[str, float] | None = None,
                       filter: Mapping[str, Any] | None = None,
                       facets: Mapping[str, Any] | None = None,
                       size: int = 10, offset: int = 0, source: bool = True) -> SearchResult:
        """BM25 over text fields with boosts (most_fields: per-field scores summed).
        Empty text matches every document with score 0. Facets count the whole
        filtered match set. With source=False hits carry ids and scores only."""

    def knn_search(self, field: str, vector: Sequence[float] | np.ndarray, *, k: int = 10,
                   filter: Mapping[str, Any] | None = None, source: bool = True
                   ) -> SearchResult:
        """The k nearest documents by one vector field, among those passing the filter."""

    def refresh(self) -> None:
        """See writes committed by other processes now."""

    def commit(self) -> None:
        """Fold pending work (vector deltas) into the on-disk structures."""

    def stats(self) -> dict[str, Any]: ...

    def close(self) -> None: ...
