"""The fused product vector F = normalise(α·I + (1 − α)·T), and α chosen on judgments.

I is the product's aligned image vector (`image_text_vector`, in MiniLM's text space),
T its MiniLM text vector (all-MiniLM-L6-v2 of the product text), both unit length.
A product with only one of them gets that one. `alpha_grid` scores every α of a grid
by nDCG@10 of the fused field alone (exact cosine k-NN) on judged queries whose query
vectors are in the same space (MiniLM text queries, aligned image queries). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

DEFAULT_ALPHA = 0.5
GRID = tuple(round(a, 2) for a in np.linspace(0.0, 1.0, 11))
K = 10


def _unit(m: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(m, axis=-1, keepdims=True)
    return np.divide(m, n, out=np.zeros_like(m), where=n > 0)


def fuse(image: np.ndarray | None, text: np.ndarray | None, alpha: float) -> np.ndarray:
    """Rows of F (float32, unit length) from rows of I and T (either may be None, or a
    row of zeros where a product lacks it). Raises ValueError if both are None."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if image is None and text is None:
        raise ValueError("fusing needs an image or a text vector")
    i = _unit(np.asarray(image, dtype=np.float64)) if image is not None else None
    t = _unit(np.asarray(text, dtype=np.float64)) if text is not None else None
    if i is None:
        return _unit(t).astype(np.float32)  # type: ignore[arg-type]
    if t is None:
        return i.astype(np.float32)
    has_i = np.linalg.norm(i, axis=-1, keepdims=True) > 0
    has_t = np.linalg.norm(t, axis=-1, keepdims=True) > 0
    a = np.where(has_i & has_t, alpha, np.where(has_i, 1.0, 0.0))
    return _unit(a * i + (1 - a) * t).astype(np.float32)


def ndcg_at_k(ranked: Sequence[str], gains: Mapping[str, float], k: int = K) -> float:
    """nDCG@k with exponential gains (2^g − 1), as ranx computes ndcg_burges."""
    dcg = sum((2 ** gains.get(d, 0) - 1) / np.log2(r + 2) for r, d in enumerate(ranked[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum((2 ** g - 1) / np.log2(r + 2) for r, g in enumerate(ideal))
    return float(dcg / idcg) if idcg > 0 else 0.0


def alpha_grid(ids: Sequence[str], image: np.ndarray, text: np.ndarray,
               queries: Sequence[tuple[np.ndarray, Mapping[str, float], Sequence[str]]],
               grid: Sequence[float] = GRID) -> dict[float, float]:
    """α -> mean nDCG@10 of the fused field alone. `queries`: (query vector, judgments
    {id: grade}, ids to leave out). Rows of `image`/`text` align with `ids`."""
    qv = _unit(np.stack([q for q, _, _ in queries]).astype(np.float64))
    index = {d: n for n, d in enumerate(ids)}
    out: dict[float, float] = {}
    for alpha in grid:
        sims = qv @ fuse(image, text, alpha).T.astype(np.float64)
        scores = []
        for row, (_, gains, exclude) in zip(sims, queries, strict=True):
            for d in exclude:
                if d in index:
                    row[index[d]] = -np.inf
            top = np.argsort(-row, kind="stable")[:K]
            scores.append(ndcg_at_k([ids[j] for j in top], gains))
        out[float(alpha)] = float(np.mean(scores)) if scores else 0.0
    return out


def best_alpha(scores: Mapping[float, float]) -> float:
    """The α of the highest score; ties go to the one nearest DEFAULT_ALPHA."""
    return max(scores, key=lambda a: (round(scores[a], 9), -abs(a - DEFAULT_ALPHA)))
