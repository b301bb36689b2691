"""Bringing in a catalog that already lives in a shop's OpenSearch index, whatever its
mapping: read every document (`read_index`) and propose a field map from the mapping
(`propose`), printed for the user to edit and pass back to `hybrid import --field-map`.

Rows are the documents' `_source`, nested objects flattened with "_" (`specs.colour`
becomes the column `specs_colour`), plus `_id`. Reading uses a point in time with
`search_after`, sorted by `_id`, so a large index is read in pages from one consistent
view; a cluster without point-in-time search (or that refuses to sort on `_id`) is read
with a scroll instead. `propose` and `flatten` are pure; `read_index` does the I/O.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from hybrid.catalog.mapping import ALIASES, FieldMapping

TEXT_TYPES = {"text", "match_only_text"}
KEYWORD_TYPES = {"keyword", "constant_keyword", "wildcard"}
NUMBER_TYPES = {"float", "double", "half_float", "scaled_float", "integer", "long", "short",
                "byte", "unsigned_long"}
SKIPPED_TYPES = {"knn_vector", "dense_vector", "binary", "nested", "geo_point", "geo_shape"}
KEEP_ALIVE = "5m"
PRICE_NAMES = ("price", "sale_price", "list_price", "current_price", "cost", "amount")
DESCRIPTION_NAMES = ("description", "desc", "body", "details", "long_description", "summary",
                     "product_description", "text")
BRAND_NAMES = (*ALIASES["brand"], "maker", "make", "label")
CATEGORY_NAMES = ("category", "categories", "category_path", "department", "product_type",
                  "type", "section", "family")


def field_types(mapping: Mapping[str, Any]) -> dict[str, str]:
    """Column name -> field type of an index mapping (`GET index/_mapping`'s
    `mappings`, or its `properties`), objects flattened with "_"."""
    props = mapping.get("properties", mapping.get("mappings", {}).get("properties", {}))
    out: dict[str, str] = {}

    def walk(properties: Mapping[str, Any], prefix: str) -> None:
        for name, spec in properties.items():
            if not isinstance(spec, Mapping):
                continue
            if "properties" in spec and spec.get("type", "object") == "object":
                walk(spec["properties"], f"{prefix}{name}_")
            else:
                out[f"{prefix}{name}"] = str(spec.get("type", "object"))
    walk(props, "")
    return out


def sample_types(rows: list[Mapping[str, Any]]) -> dict[str, str]:
    """Column name -> text, keyword or float, guessed from sample rows of an export:
    numbers (also as text, as in CSV) are numbers, strings longer than 60 characters on
    average are text, other strings keywords."""
    lengths: dict[str, list[int]] = {}
    numeric: dict[str, bool] = {}
    out: dict[str, str] = {}
    for row in rows:
        for name, value in row.items():
            if isinstance(value, bool):
                out.setdefault(name, "keyword")
            elif isinstance(value, (int, float)):
                out.setdefault(name, "float")
            elif isinstance(value, str):
                lengths.setdefault(name, []).append(len(value))
                numeric[name] = numeric.get(name, True) and _number(value)
            elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                out.setdefault(name, "keyword")
    for name, ls in lengths.items():
        kind = "float" if numeric[name] else "text" if sum(ls) / len(ls) > 60 else "keyword"
        out.setdefault(name, kind)
    return out


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def propose(types: Mapping[str, str]) -> FieldMapping:
    """A field map for columns of these types: text fields become title and
    description, keywords brand, category and attributes, a number the price; the id is
    an id-like keyword or `_id`. Columns that name a field (ALIASES) win over the first of
    their type. Vector and binary fields are ignored."""
    by_type: dict[str, list[str]] = {"text": [], "keyword": [], "number": []}
    ignore = []
    for name, kind in types.items():
        if kind in TEXT_TYPES:
            by_type["text"].append(name)
        elif kind in KEYWORD_TYPES:
            by_type["keyword"].append(name)
        elif kind in NUMBER_TYPES:
            by_type["number"].append(name)
        elif kind in SKIPPED_TYPES:
            ignore.append(name)
    taken: set[str] = set()

    def pick(kinds: tuple[str, ...], names: tuple[str, ...], first: bool) -> str | None:
        pool = [c for k in kinds for c in by_type[k] if c not in taken]
        named = next((c for n in names for c in pool if c.lower() == n), None)
        named = named or next((c for n in names if len(n) > 3 for c in pool
                               if n in c.lower()), None)  # "id" must not match "paid"
        chosen = named or (pool[0] if first and pool else None)
        if chosen:
            taken.add(chosen)
        return chosen

    fields: dict[str, str | list[str]] = {}
    for name, kinds, names, first in (
            ("id", ("keyword", "number"), ("id", *ALIASES["id"]), False),
            ("title", ("text", "keyword"), ALIASES["title"], True),
            ("description", ("text",), DESCRIPTION_NAMES, True),
            ("brand", ("keyword",), BRAND_NAMES, False),
            ("category", ("keyword", "text"), CATEGORY_NAMES, False),
            ("price", ("number",), PRICE_NAMES, True),
            ("currency", ("keyword",), ALIASES["currency"], False),
            ("images", ("keyword", "text"), ALIASES["images"], False)):
        chosen = pick(kinds, names, first)
        if chosen:
            fields[name] = chosen
    fields.setdefault("id", "_id")
    attributes = [c for k in ("keyword", "text", "number") for c in by_type[k] if c not in taken]
    return FieldMapping(fields=fields, attributes=attributes, ignore=sorted(ignore),
                        detect=False)


def flatten(source: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A document's `_source` as one row: nested objects joined with "_"."""
    out: dict[str, Any] = {}
    for key, value in source.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}_"))
        else:
            out[f"{prefix}{key}"] = value
    return out


def read_index(client: Any, index: str, batch: int = 500, scroll: bool = False
               ) -> Iterator[dict[str, Any]]:
    """Every document of `index` as a row (flattened `_source` plus `_id`): a point in
    time with search_after, or a scroll where that is unavailable (or `scroll`)."""
    try:
        if scroll:
            raise LookupError("scroll asked for")
        pit = client.create_pit(index=index, keep_alive=KEEP_ALIVE)["pit_id"]
    except Exception:  # no PIT on this cluster (or not allowed): scroll
        yield from _scroll(client, index, batch)
        return
    try:
        after: list[Any] | None = None
        first = True
        while True:
            body: dict[str, Any] = {"size": batch, "sort": [{"_id": "asc"}],
                                    "pit": {"id": pit, "keep_alive": KEEP_ALIVE}}
            if after is not None:
                body["search_after"] = after
            try:
                page = client.search(body=body)
            except Exception:
                if not first:
                    raise
                yield from _scroll(client, index, batch)  # e.g. sorting on _id refused
                return
            first = False
            hits = page["hits"]["hits"]
            pit = page.get("pit_id", pit)
            for hit in hits:
                yield _row(hit)
            if len(hits) < batch:
                return
            after = hits[-1]["sort"]
    finally:
        with contextlib.suppress(Exception):  # if not, it expires by itself
            client.delete_pit(body={"pit_id": [pit]})


def _scroll(client: Any, index: str, batch: int) -> Iterator[dict[str, Any]]:
    from opensearchpy.helpers import scan

    for hit in scan(client, index=index, size=batch, scroll=KEEP_ALIVE,
                    query={"query": {"match_all": {}}}, preserve_order=False):
        yield _row(hit)


def _row(hit: Mapping[str, Any]) -> dict[str, Any]:
    return flatten(hit.get("_source") or {}) | {"_id": hit["_id"]}
