"""A document's test vector, derived from its id: the same in the test process and in
child processes, which get `VEC_SRC` pasted into their scripts; and the default mapping
with `text_vector` shrunk to match."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hybrid.engines.schema import DEFAULT_MAPPING

VEC_SRC = """
import hashlib as _hashlib

import numpy as _np


def vec_for(doc_id, dim=8):
    seed = int.from_bytes(_hashlib.blake2b(doc_id.encode(), digest_size=8).digest(), "big")
    return _np.random.default_rng(seed).standard_normal(dim).astype("float32").tolist()
"""
_ns: dict[str, Any] = {}
exec(VEC_SRC, _ns)
vec_for: Callable[[str], list[float]] = _ns["vec_for"]


def small_mapping(tmp_path: Path, dim: int = 8) -> Path:
    """The default mapping with `text_vector` of `dim` (vec_for's) dimensions."""
    body = json.loads(DEFAULT_MAPPING.read_text(encoding="utf-8"))
    body["mappings"]["properties"]["text_vector"]["dimension"] = dim
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    return path
