"""JSON from clients, parsed under limits: strict JSON (no NaN or Infinity) nested at
most MAX_DEPTH levels. Deeper documents (1,000 levels of `[`, a filter of 1,000 nested
`not`s) are a QueryError, so a 400 problem, before any recursive code sees them."""

from __future__ import annotations

import json
from typing import Any

from hybrid.errors import QueryError

MAX_DEPTH = 32  # arrays and objects inside one another; a filter level takes two
BATCH_DEPTH = 256  # a batch of items (POST /products): each item is then checked alone,
# against the catalog's own nesting limit, so one deep item is rejected by itself
# (Python's parser itself stops near 1,000 levels: a RecursionError, read as too deep)


def loads(data: str | bytes, what: str = "the request body", max_depth: int = MAX_DEPTH
          ) -> Any:
    """Parse `data`; QueryError names `what` and the reason."""
    try:
        value = json.loads(data, parse_constant=_no_constant, parse_int=_int)
    except RecursionError:
        raise QueryError(f"{what} is nested deeper than {max_depth} levels") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise QueryError(f"{what} is not valid JSON ({e})") from e
    check_depth(value, what, max_depth)
    return value


def check_depth(value: Any, what: str = "the request body", max_depth: int = MAX_DEPTH
                ) -> None:
    """QueryError when `value` holds lists or dicts more than `max_depth` levels deep
    (checked without recursion)."""
    level: list[Any] = [value]
    depth = 0
    while level := [v for v in level if isinstance(v, dict | list)]:
        depth += 1
        if depth > max_depth:
            raise QueryError(f"{what} is nested deeper than {max_depth} levels")
        level = [c for v in level for c in (v.values() if isinstance(v, dict) else v)]


def _int(text: str) -> int | float:
    """An integer of more than 300 digits is read as a float (inf past 1e308), which
    every number check refuses, instead of an int no float can hold."""
    return int(text) if len(text) <= 300 else float(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
