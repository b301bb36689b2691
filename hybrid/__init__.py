"""hybrid: lexical (BM25) and dense-vector search side by side, fused per query."""

__version__ = "0.1.0"
