"""What every engine accepts as a document, checked the same way before it writes.

Engines differ in the requests they send; the rules for what they are handed do not:
a document needs a non-empty string "id"; its "vectors" name vector fields of the
mapping and have their dimension (unit length on cosine fields); one bad document
fails only itself (its ItemResult says why); the last copy of an id in a batch wins.
`tests/engine_conformance.py` checks these rules on every engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import numpy as np

from hybrid.engines.base import ItemResult
from hybrid.engines.schema import Field, IndexSchema
from hybrid.errors import NotFoundError, QueryError

V = TypeVar("V")  # a prepared vector, in the form the engine stores it
Prepare = Callable[[Field, Any], V]


def prepare_vector(field: Field, vec: Any) -> np.ndarray:
    """A float32 vector of shape (field.dimension,), unit length on cosine fields.
    ValueError says what is wrong (not numbers, wrong dimension, not finite, zero)."""
    try:
        v = np.asarray(vec, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{field.path} must be a list of numbers") from e
    if v.shape[0] != field.dimension:
        raise ValueError(f"{field.path} needs {field.dimension} dimensions, got {v.shape[0]}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{field.path} has a value that is not a finite number")
    if field.space == "cosinesimil":
        n = float(np.linalg.norm(v))
        if n == 0.0:
            raise ValueError(f"{field.path} is a zero vector, which has no direction")
        v = v / n
    return v


def _unknown_vector_field(name: Any, fields: Mapping[str, Field]) -> str:
    return (f"unknown vector field {name!r}; the mapping has "
            f"{', '.join(sorted(fields)) or 'none'}")


def vector_field(schema: IndexSchema, name: str) -> Field:
    """The mapping's vector field `name`; QueryError listing the vector fields if none."""
    fields = schema.vector_fields
    if name not in fields:
        raise QueryError(_unknown_vector_field(name, fields))
    return fields[name]


def vectors_of(given: Any, schema: IndexSchema, prepare: Prepare[V]) -> dict[str, V]:
    """A document's "vectors" ({vector field: list of numbers}), each prepared;
    ValueError names the first that is not a vector field of the mapping or not valid."""
    if not isinstance(given, Mapping):
        raise ValueError("'vectors' must be an object of vector field -> list of numbers")
    fields = schema.vector_fields
    out = {}
    for name, vec in given.items():
        if name not in fields:
            raise ValueError(_unknown_vector_field(name, fields))
        out[name] = prepare(fields[name], vec)
    return out


def accept(docs: Iterable[Any], schema: IndexSchema, prepare: Prepare[V]
           ) -> tuple[list[ItemResult], dict[str, tuple[Mapping[str, Any], dict[str, V]]]]:
    """Check a batch for `Engine.add`: one result per given document, in order (ok, or
    the reason it is refused), and the documents to write, id -> (document, prepared
    vectors), in the order of each id's last copy (the copy that wins)."""
    results: list[ItemResult] = []
    latest: dict[str, tuple[Mapping[str, Any], dict[str, V]]] = {}
    for doc in docs:
        doc_id = doc.get("id") if isinstance(doc, Mapping) else None
        try:
            if not isinstance(doc_id, str) or not doc_id.strip():
                raise ValueError("a document needs a non-empty string 'id'")
            vecs = vectors_of(doc.get("vectors") or {}, schema, prepare)
        except ValueError as e:
            results.append(ItemResult(doc_id if isinstance(doc_id, str) else None, False,
                                      str(e)))
            continue
        latest.pop(doc_id, None)  # the last copy of an id in a batch wins
        latest[doc_id] = (doc, vecs)
        results.append(ItemResult(doc_id, True))
    return results, latest


def update_vectors(fields: Mapping[str, Any], schema: IndexSchema, prepare: Prepare[V]
                   ) -> dict[str, V]:
    """The prepared vectors of an `Engine.update`'s fields, checked before anything is
    written; QueryError (a client's mistake) names what is wrong."""
    try:
        return vectors_of(fields.get("vectors") or {}, schema, prepare)
    except ValueError as e:
        raise QueryError(str(e)) from e


def updated(doc_id: str, current: Mapping[str, Any] | None, fields: Mapping[str, Any]
            ) -> dict[str, Any]:
    """The stored document `current` with `fields` changed (never its "id", and not
    "vectors", which the engine writes apart); NotFoundError if there is none."""
    if current is None:
        raise NotFoundError(f"no document with id {doc_id!r}")
    return {**current, **{k: v for k, v in fields.items() if k not in ("id", "vectors")}}
