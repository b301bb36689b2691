"""The fused_vector field in the workers: the index's α (`<index>/fused.json`, written
by `hybrid learn --fused-alpha`), the field's version stamp, and encoding a batch of
fused jobs (MiniLM of the product text, the aligned image encoder of its first image,
combined by `hybrid.learning.fused.fuse`).

A fused job's source is JSON {"text": ..., "image": ...} (either may be null); its
content hash covers the text, the image file and α, so learning a new α makes every
fused vector pending again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hybrid.encoders.base import DecodeError
from hybrid.engines import state_dir
from hybrid.errors import HybridError
from hybrid.learning.fused import DEFAULT_ALPHA, fuse

FIELD = "fused_vector"
TEXT_ENCODER, IMAGE_ENCODER = "minilm", "aligned-image"
ALPHA_FILE = "fused.json"


def read_alpha(index: str | Path) -> float:
    """The index's α (DEFAULT_ALPHA until `hybrid learn --fused-alpha` stored one)."""
    try:
        return float(json.loads((state_dir(str(index)) / ALPHA_FILE).read_text())["alpha"])
    except FileNotFoundError:
        return DEFAULT_ALPHA
    except (ValueError, KeyError, TypeError) as e:
        raise HybridError(f"{state_dir(str(index)) / ALPHA_FILE} is not valid: {e}") from e


def write_alpha(index: str | Path, alpha: float, meta: Mapping[str, Any]) -> Path:
    path = state_dir(str(index)) / ALPHA_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"alpha": alpha, **meta}, indent=2))
    os.replace(tmp, path)
    return path


def fused_version(index: str | Path) -> str:
    from hybrid.encoders.registry import version_of

    return (f"fused(alpha={read_alpha(index):.2f};{version_of(TEXT_ENCODER)};"
            f"{version_of(IMAGE_ENCODER)})")


def fused_source(text: str | None, image: str | None) -> str | None:
    return json.dumps({"text": text, "image": image}) if text or image else None


def fused_hash(source: str, file_hash: Callable[[str], str], text_hash: Callable[[str], str]
               ) -> str:
    s = json.loads(source)
    return text_hash(f"{s.get('text') or ''}\x1f{file_hash(s['image']) if s.get('image') else ''}")


def encode_fused(sources: Sequence[str], alpha: float, decode_image: Callable[[str], Any]
                 ) -> tuple[list[np.ndarray | None], dict[int, str]]:
    """Fused vectors of job sources, by position; an image that cannot be decoded
    leaves its product with the text side alone (reported by position)."""
    from hybrid.encoders.registry import load_encoder

    parsed = [json.loads(s) for s in sources]
    texts = [(n, p["text"]) for n, p in enumerate(parsed) if p.get("text")]
    problems: dict[int, str] = {}
    images: list[tuple[int, Any]] = []
    for n, p in enumerate(parsed):
        if p.get("image"):
            try:
                images.append((n, decode_image(p["image"])))
            except DecodeError as e:
                problems[n] = str(e)
    t_rows = np.zeros((len(parsed), 384), dtype=np.float32)
    i_rows = np.zeros((len(parsed), 384), dtype=np.float32)
    if texts:
        t_rows[[n for n, _ in texts]] = load_encoder(TEXT_ENCODER).encode_documents(
            [t for _, t in texts])
    if images:
        i_rows[[n for n, _ in images]] = load_encoder(IMAGE_ENCODER).encode_documents(
            [img for _, img in images])
    fused = fuse(i_rows, t_rows, alpha)
    return [f if np.linalg.norm(f) > 0 else None for f in fused], problems
