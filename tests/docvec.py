"""A document's test vector, derived from its id: the same in the test process and in
child processes, which get `VEC_SRC` pasted into their scripts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
