"""FieldMapping: which source columns feed which Product fields (pure)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hybrid.catalog.product import RowError, loads
from hybrid.errors import CatalogError

PRODUCT_FIELDS = (
    "id", "title", "description", "brand", "category", "price", "currency", "images", "audio",
)  # fmt: skip
LIST_FIELDS = ("images", "audio")

ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "product_id", "sku", "item_id", "asin"),
    "title": ("title", "name", "product_name", "product_title"),
    "description": ("description", "desc", "body", "product_description"),
    "brand": ("brand", "manufacturer", "vendor"),
    "category": ("category", "category_path", "categories", "product_type"),
    "price": ("price", "sale_price"),
    "currency": ("currency",),
    "images": ("image", "images", "image_url", "image_path", "image_link"),
    "audio": ("audio", "audio_path"),
}
_VECTOR_COLUMN = re.compile(r"(vector_.+|.+_vector)", re.IGNORECASE)
_KEYS = ("fields", "attributes", "ignore", "vectors", "detect")


@dataclass
class _Plan:
    """Which columns of one row shape feed what (cached per set of column names)."""

    fields: dict[str, list[str]]
    vectors: dict[str, str]
    attributes: list[str]
    attributes_column: str | None
    vectors_column: str | None


@dataclass
class FieldMapping:
    """Maps a shop's export columns onto Product fields.

    fields: product field -> source column, or a list of columns. For `category` a list
    gives the path (non-empty values in order); for `images`/`audio` all values are
    collected; for other fields the first non-empty value wins (a fallback chain).
    detect: fill fields missing from `fields` from common column aliases, and take
    `vector_*` / `*_vector` columns as vectors.
    """

    fields: dict[str, str | list[str]] = field(default_factory=dict)
    attributes: list[str] | None = None
    ignore: list[str] = field(default_factory=list)
    vectors: dict[str, str] = field(default_factory=dict)
    detect: bool = True
    _plans: dict[tuple[str, ...], _Plan] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        unknown = sorted(set(self.fields) - set(PRODUCT_FIELDS))
        if unknown:
            raise CatalogError(
                f"unknown product field(s) in mapping: {', '.join(unknown)}; "
                f"known: {', '.join(PRODUCT_FIELDS)}"
            )
        for name, spec in self.fields.items():
            columns = [spec] if isinstance(spec, str) else spec
            if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
                raise CatalogError(f"mapping for {name!r} must be a column name or a list of them")
        if self.attributes is not None and not _str_list(self.attributes):
            raise CatalogError("mapping 'attributes' must be a list of column names or null")
        if not _str_list(self.ignore):
            raise CatalogError("mapping 'ignore' must be a list of column names")
        if not isinstance(self.vectors, dict) or not _str_list(list(self.vectors.values())):
            raise CatalogError("mapping 'vectors' must map vector field names to column names")

    @classmethod
    def default(cls) -> FieldMapping:
        """Auto-detect every field from common column aliases."""
        return cls()

    @classmethod
    def shared_catalog(cls) -> FieldMapping:
        """The mapping for the shared demo catalog (fashion + grocery rows).

        A row with an empty title falls back to its article type.
        """
        return cls(
            fields={
                "id": "product_id",
                "title": ["title", "article_type"],
                "description": "description",
                "category": ["master_category", "sub_category", "article_type", "category"],
                "images": "image",
            },
            attributes=["gender", "colour", "season", "usage", "source"],
            detect=False,
        )

    @classmethod
    def load(cls, path: str | Path) -> FieldMapping:
        """Read a mapping from a JSON file (the to_dict form)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CatalogError(f"mapping file not found: {path}") from None
        except (OSError, ValueError) as exc:
            raise CatalogError(f"cannot read mapping file {path}: {exc}") from None
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict; from_dict(to_dict()) gives an equal mapping."""
        return {
            "fields": {k: list(v) if isinstance(v, list) else v for k, v in self.fields.items()},
            "attributes": None if self.attributes is None else list(self.attributes),
            "ignore": list(self.ignore),
            "vectors": dict(self.vectors),
            "detect": self.detect,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FieldMapping:
        """Build a mapping from its dict form; unknown keys are rejected."""
        if not isinstance(d, Mapping):
            raise CatalogError(f"a mapping must be a JSON object, got {type(d).__name__}")
        unknown = sorted(set(d) - set(_KEYS))
        if unknown:
            raise CatalogError(
                f"unknown mapping key(s): {', '.join(map(str, unknown))}; known: {', '.join(_KEYS)}"
            )
        fields = d.get("fields", {})
        if not isinstance(fields, Mapping):
            raise CatalogError("mapping 'fields' must be an object")
        detect = d.get("detect", True)
        if not isinstance(detect, bool):
            raise CatalogError("mapping 'detect' must be true or false")
        return cls(
            fields={k: list(v) if isinstance(v, list) else v for k, v in fields.items()},
            attributes=d.get("attributes"),
            ignore=d.get("ignore", []),
            vectors=d.get("vectors", {}),
            detect=detect,
        )

    def apply(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Shape one source row into a dict for Product.from_dict (no validation)."""
        plan = self._plan(tuple(row))
        out: dict[str, Any] = {}
        for name, columns in plan.fields.items():
            values = [row[c] for c in columns if not _empty(row[c])]
            if not values:
                continue
            if name in LIST_FIELDS:
                out[name] = [p for v in values for p in _split_paths(name, v)]
            elif name == "category" and isinstance(self.fields.get("category"), list):
                out[name] = values
            else:
                out[name] = values[0]
        attributes: dict[str, Any] = {}
        if plan.attributes_column and not _empty(row[plan.attributes_column]):
            attributes.update(_object("attributes", row[plan.attributes_column]))
        for column in plan.attributes:
            if not _empty(row[column]):
                attributes[column] = row[column]
        if attributes:
            out["attributes"] = attributes
        vectors: dict[str, Any] = {}
        if plan.vectors_column and not _empty(row[plan.vectors_column]):
            vectors.update(_object("vectors", row[plan.vectors_column]))
        for name, column in plan.vectors.items():
            if not _empty(row[column]):
                vectors[name] = row[column]
        if vectors:
            out["vectors"] = vectors
        return out

    def id_of(self, row: Mapping[str, Any]) -> str | None:
        """The row's product id as text, if one can be read (for error reports)."""
        for column in self._plan(tuple(row)).fields.get("id", []):
            value = row[column]
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
                return str(value).strip()
        return None

    def _plan(self, columns: tuple[str, ...]) -> _Plan:
        plan = self._plans.get(columns)
        if plan is None:
            if len(self._plans) >= 256:
                self._plans.clear()
            plan = self._plans[columns] = self._make_plan(columns)
        return plan

    def _make_plan(self, columns: tuple[str, ...]) -> _Plan:
        ignored = {c.lower() for c in self.ignore}
        present = [c for c in columns if isinstance(c, str) and c.lower() not in ignored]
        by_lower: dict[str, str] = {}
        for c in present:
            by_lower.setdefault(c.lower(), c)

        def find(name: str) -> str | None:
            return name if name in present else by_lower.get(name.lower())

        used: set[str] = set()
        fields: dict[str, list[str]] = {}
        for name in PRODUCT_FIELDS:
            spec = self.fields.get(name)
            if spec is not None:
                wanted = [spec] if isinstance(spec, str) else spec
                found = [c for c in (find(w) for w in wanted) if c is not None]
            elif self.detect:
                hit = next((c for c in map(find, ALIASES[name]) if c and c not in used), None)
                found = [hit] if hit else []
            else:
                found = []
            used.update(found)
            if found:
                fields[name] = found
        vectors = {n: c for n, c in ((n, find(c)) for n, c in self.vectors.items()) if c}
        used.update(vectors.values())
        if self.detect:
            for c in present:
                if c not in used and _VECTOR_COLUMN.fullmatch(c):
                    vectors[c] = c
                    used.add(c)
        vectors_column = find("vectors") if find("vectors") not in used else None
        if vectors_column:
            used.add(vectors_column)
        attributes_column = find("attributes")
        if attributes_column in used or (
            self.attributes is not None and "attributes" not in self.attributes
        ):
            attributes_column = None
        if attributes_column:
            used.add(attributes_column)
        if self.attributes is None:
            attributes = [c for c in present if c not in used]
        else:
            attributes = [c for c in (find(a) for a in self.attributes) if c and c not in used]
        return _Plan(fields, vectors, attributes, attributes_column, vectors_column)


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _split_paths(name: str, value: Any) -> list[Any]:
    """A list-ish cell ("a.jpg|b.jpg" or a JSON list) as a list; other values as is."""
    if isinstance(value, list | tuple):
        return list(value)
    if not isinstance(value, str):
        return [value]
    text = value.strip()
    if text.startswith("["):
        try:
            parsed = loads(text)
        except ValueError:
            raise RowError(name, f"invalid JSON list: {text[:40]!r}") from None
        return parsed if isinstance(parsed, list) else [parsed]
    return [p.strip() for p in text.split("|") if p.strip()]


def _object(name: str, value: Any) -> Mapping[str, Any]:
    """A dict, or a string holding a JSON object (CSV exports)."""
    if isinstance(value, str):
        try:
            value = loads(value)
        except ValueError:
            raise RowError(name, f"invalid JSON object: {value[:40]!r}") from None
    if not isinstance(value, Mapping):
        raise RowError(name, f"expected an object, got {type(value).__name__}")
    return value
