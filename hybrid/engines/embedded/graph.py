"""The HNSW graph of one vector field's snapshot: faiss's IndexHNSWFlat.

faiss was chosen by measurement (`benchmarks/vector_libraries.py`, README "Benchmarks"):
its search releases the GIL, so the k-NN sub-queries of one search run side by side in
threads; it searches and builds faster than usearch did here; a graph on disk is
memory-mapped (IO_FLAG_MMAP_IFC), so processes share its vectors; and it filters
natively (IDSelector), which is how removed nodes are skipped.

faiss numbers the nodes in the order they were added. `labels` maps a node to the key of
its vector, -1 for a node whose vector was removed or replaced since: faiss's HNSW
cannot remove nodes, so a fold marks them dead and searches skip them, and a graph with
too many dead nodes is rebuilt from the snapshot's matrix.
"""

from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np

from hybrid.errors import EngineError

REBUILD_DEAD_SHARE = 0.25  # rebuild a graph when this share of its nodes is dead


class Graph:
    """An HNSW graph over unit (cosine) or raw (inner product) vectors, searched by inner
    product. Searching is thread-safe; `extend` changes the graph, so it is called only
    on one loaded `writable` by the process that folds."""

    def __init__(self, index: faiss.Index, labels: np.ndarray) -> None:
        self.index = index
        self.labels = labels  # int64 per node: the key, or -1 when dead
        self._live: np.ndarray | None = None
        self._selector: faiss.IDSelector | None = None
        if (labels < 0).any():  # the bitmap must outlive the selector that points into it
            self._live = np.packbits(labels >= 0, bitorder="little")
            self._selector = faiss.IDSelectorBitmap(len(labels), faiss.swig_ptr(self._live))

    @classmethod
    def build(cls, dim: int, m: int, ef_construction: int, keys: np.ndarray,
              vectors: np.ndarray) -> Graph:
        index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        g = cls(index, np.zeros(0, dtype=np.int64))
        return g.extend(np.zeros(0, dtype=np.int64), keys, vectors)

    @classmethod
    def load(cls, base: Path, *, writable: bool = False) -> Graph:
        """The graph saved at `base` (.faiss and .labels.npy); memory-mapped unless it is
        to be extended."""
        try:
            index = faiss.read_index(f"{base}.faiss", 0 if writable else faiss.IO_FLAG_MMAP_IFC)
        except RuntimeError as e:
            raise EngineError(f"cannot read the HNSW graph {base}.faiss: {e}") from e
        return cls(index, np.load(f"{base}.labels.npy"))

    def save(self, base: Path) -> None:
        """Labels first, then the graph under a temporary name moved into place: a
        .faiss file, once there, is whole and has its labels."""
        np.save(f"{base}.labels.npy", self.labels)
        faiss.write_index(self.index, f"{base}.faiss.tmp")
        os.replace(f"{base}.faiss.tmp", f"{base}.faiss")

    @property
    def dead(self) -> int:
        return int((self.labels < 0).sum())

    def extend(self, gone: np.ndarray, keys: np.ndarray, vectors: np.ndarray) -> Graph:
        """This graph with the nodes of keys `gone` marked dead and `vectors` added under
        `keys` (one thread: the same graph from the same input)."""
        labels = np.where(np.isin(self.labels, gone), -1, self.labels) if len(gone) else (
            self.labels.copy())
        if len(keys):
            faiss.omp_set_num_threads(1)  # this thread's OpenMP setting
            self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))
            labels = np.concatenate([labels, keys.astype(np.int64)])
        return Graph(self.index, labels)

    def search(self, q: np.ndarray, k: int, ef: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to k (keys, inner products) nearest to one query, best first. Releases the
        GIL while it searches."""
        params = faiss.SearchParametersHNSW(efSearch=max(ef, k))  # type: ignore[attr-defined]
        if self._selector is not None:
            params.sel = self._selector
        sims, nodes = self.index.search(q.reshape(1, -1), k, params=params)
        nodes = nodes[0]
        found = nodes >= 0
        return self.labels[nodes[found]], sims[0][found]


def needs_rebuild(graph: Graph | None, gone: int) -> bool:
    """Whether a fold should build a fresh graph rather than extend `graph`."""
    if graph is None or graph.index.ntotal == 0:
        return True
    return (graph.dead + gone) > REBUILD_DEAD_SHARE * graph.index.ntotal

