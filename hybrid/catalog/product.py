"""The Product model and its per-row validation (pure: no I/O)."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hybrid.errors import CatalogError

AttributeValue = str | float | int | bool | list[str]

MAX_ID_LENGTH = 512
# Limits of one product, the same for catalog files, POST /products and the Python API
# (README "Catalog"). A value over its limit rejects the row, naming the field: a
# 150,000-character title is a broken feed, not a title, and cutting it silently would
# index something the shop never wrote.
LIMITS = {
    "title": 1_000,             # characters
    "brand": 200,
    "description": 32_000,
    "category": 16,             # levels; each at most 200 characters
    "attributes": 200,          # names; a name at most 200 characters, a text value 1,000,
    "attribute_value": 1_000,   # a list value at most 100 texts
    "attribute_list": 100,
    "media": 20,                # images, and audio files, per product
    "path": 4_096,              # characters of one image or audio path or URL
    "vectors": 16,              # vector fields per product
    "vector": 8_192,            # numbers per vector
    "depth": 16,                # nesting of objects and lists in one row
    "columns": 500,             # fields (columns) of one source row
}  # fmt: skip
_NAME = 200
_CATEGORY_SPLIT = re.compile(r">|/")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")
_CURRENCY = re.compile(r"[A-Za-z]{3}")


class RowError(CatalogError):
    """One catalog row is invalid: `field` names the culprit, `reason` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass
class Product:
    """One product, as read from a catalog."""

    id: str
    title: str
    description: str = ""
    brand: str | None = None
    category: list[str] = field(default_factory=list)
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    price: float | None = None
    currency: str | None = None
    images: list[str] = field(default_factory=list)
    audio: list[str] = field(default_factory=list)
    vectors: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict; empty optional values are left out."""
        d: dict[str, Any] = {"id": self.id, "title": self.title}
        if self.description:
            d["description"] = self.description
        if self.brand is not None:
            d["brand"] = self.brand
        if self.category:
            d["category"] = list(self.category)
        if self.attributes:
            d["attributes"] = {
                k: list(v) if isinstance(v, list) else v for k, v in self.attributes.items()
            }
        if self.price is not None:
            d["price"] = self.price
        if self.currency is not None:
            d["currency"] = self.currency
        if self.images:
            d["images"] = list(self.images)
        if self.audio:
            d["audio"] = list(self.audio)
        if self.vectors:
            d["vectors"] = {k: list(v) for k, v in self.vectors.items()}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Product:
        """Build a validated Product; raises RowError on the first bad field (also when
        `d` is not an object, or is nested deeper than LIMITS["depth"])."""
        if not isinstance(d, Mapping):
            raise RowError("product", f"expected a JSON object, got {json_kind(d)}")
        check_depth(d)
        unknown = sorted(set(d) - _FIELDS)
        if unknown:
            raise RowError(str(unknown[0]), "unknown product field")
        return cls(
            id=_id(d.get("id")),
            title=_title(d.get("title")),
            description=_text("description", d.get("description"), LIMITS["description"]) or "",
            brand=_text("brand", d.get("brand"), LIMITS["brand"]) or None,
            category=_category(d.get("category")),
            attributes=_attributes(d.get("attributes")),
            price=_price(d.get("price")),
            currency=_currency(d.get("currency")),
            images=_paths("images", d.get("images")),
            audio=_paths("audio", d.get("audio")),
            vectors=_vectors(d.get("vectors")),
        )


_FIELDS = frozenset(Product.__dataclass_fields__)


def _kind(value: Any) -> str:
    return type(value).__name__


def json_kind(value: Any) -> str:
    """The JSON name of a parsed value's type: object, array, string, number, ..."""
    kinds = {list: "array", tuple: "array", str: "string", bool: "boolean",
             type(None): "null"}
    return "object" if isinstance(value, Mapping) else kinds.get(type(value), "number")


def check_depth(value: Any, limit: int = LIMITS["depth"]) -> None:
    """RowError when objects and lists nest deeper than `limit` (iterative: any depth is
    safe to check)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping | list | tuple):
            if depth > limit:
                raise RowError("product", f"nested deeper than {limit} levels")
            children = item.values() if isinstance(item, Mapping) else item
            stack.extend((child, depth + 1) for child in children)


def _long(name: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise RowError(name, f"longer than {limit:,} characters ({len(value):,})")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def _id(value: Any) -> str:
    if value is None:
        raise RowError("id", "required")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise RowError("id", f"expected text, got {_kind(value)}")
    value = value.strip()
    if not value:
        raise RowError("id", "must not be empty")
    if _has_control(value):
        raise RowError("id", "must not contain control characters")
    if len(value) > MAX_ID_LENGTH:
        raise RowError("id", f"longer than {MAX_ID_LENGTH} characters")
    return value


def _title(value: Any) -> str:
    if value is None:
        raise RowError("title", "required")
    if not isinstance(value, str):
        raise RowError("title", f"expected text, got {_kind(value)}")
    value = value.strip()
    if not value:
        raise RowError("title", "must not be empty")
    _long("title", value, LIMITS["title"])
    return value


def _text(name: str, value: Any, limit: int = _NAME) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RowError(name, f"expected text, got {_kind(value)}")
    value = value.strip()
    _long(name, value, limit)
    return value


def _currency(value: Any) -> str | None:
    text = _text("currency", value)
    if not text:
        return None
    if not _CURRENCY.fullmatch(text):
        raise RowError("currency", f"expected a 3-letter code such as EUR, got {_shown(text)}")
    return text.upper()


def _category(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        path = [part.strip() for part in _CATEGORY_SPLIT.split(value) if part.strip()]
    elif not isinstance(value, list | tuple):
        raise RowError("category", f"expected text or a list of text, got {_kind(value)}")
    else:
        path = []
        for part in value:
            if not isinstance(part, str):
                raise RowError("category", f"expected text, got {_kind(part)}")
            if not part.strip():
                raise RowError("category", "entries must not be empty")
            path.append(part.strip())
    if len(path) > LIMITS["category"]:
        raise RowError("category", f"more than {LIMITS['category']} levels ({len(path)})")
    for part in path:
        _long("category", part, _NAME)
    return path


def _number(name: str, value: Any) -> float:
    """A finite float from an int, float, Decimal or numeric string."""
    if isinstance(value, bool):
        raise RowError(name, f"expected a number, got {_kind(value)}")
    if isinstance(value, int | float | Decimal):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if _THOUSANDS.fullmatch(text):
            text = text.replace(",", "")
        try:
            number = float(text)
        except ValueError:
            raise RowError(name, f"expected a number, got {_shown(value)}") from None
    else:
        raise RowError(name, f"expected a number, got {_kind(value)}")
    if not math.isfinite(number):
        raise RowError(name, f"expected a finite number, got {_shown(value)}")
    return number


def _price(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    price = _number("price", value)
    if price < 0:
        raise RowError("price", f"must not be negative, got {_shown(value)}")
    return price


def _attributes(value: Any) -> dict[str, AttributeValue]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RowError("attributes", f"expected an object, got {_kind(value)}")
    if len(value) > LIMITS["attributes"]:
        raise RowError("attributes", f"more than {LIMITS['attributes']} names ({len(value)})")
    out: dict[str, AttributeValue] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip():
            raise RowError("attributes", f"names must be non-empty text, got {_shown(key)}")
        if len(key) > _NAME:
            raise RowError("attributes", f"a name is longer than {_NAME} characters")
        name = f"attributes.{key}"
        if item is None:
            continue
        if isinstance(item, Mapping):
            raise RowError(name, "nested objects are not supported")
        if isinstance(item, str):
            _long(name, item, LIMITS["attribute_value"])
            out[key] = item
        elif isinstance(item, bool | int):
            out[key] = item
        elif isinstance(item, float | Decimal):
            out[key] = _number(name, item)
        elif isinstance(item, list | tuple):
            if not all(isinstance(x, str) for x in item):
                bad = next(x for x in item if not isinstance(x, str))
                raise RowError(name, f"lists must hold text only, got {_kind(bad)}")
            if len(item) > LIMITS["attribute_list"]:
                raise RowError(name, f"more than {LIMITS['attribute_list']} values")
            for x in item:
                _long(name, x, LIMITS["attribute_value"])
            out[key] = list(item)
        else:
            raise RowError(name, f"expected text, number, boolean or list, got {_kind(item)}")
    return out


def _paths(name: str, value: Any) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise RowError(name, f"expected text or a list of text, got {_kind(value)}")
    out = []
    for item in items:
        if not isinstance(item, str):
            raise RowError(name, f"expected text, got {_kind(item)}")
        if item.strip():
            _long(name, item.strip(), LIMITS["path"])
            out.append(item.strip())
    if len(out) > LIMITS["media"]:
        raise RowError(name, f"more than {LIMITS['media']} files ({len(out)})")
    return out


def _vectors(value: Any) -> dict[str, list[float]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RowError("vectors", f"expected an object, got {_kind(value)}")
    if len(value) > LIMITS["vectors"]:
        raise RowError("vectors", f"more than {LIMITS['vectors']} vector fields")
    out: dict[str, list[float]] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip():
            raise RowError("vectors", f"names must be non-empty text, got {_shown(key)}")
        out[key] = _vector(f"vectors.{key}", item)
    return out


def _vector(name: str, value: Any) -> list[float]:
    if isinstance(value, str):
        try:
            value = loads(value)
        except ValueError:
            raise RowError(name, f"expected a list of numbers, got {_shown(value)}") from None
    if not isinstance(value, list | tuple):
        raise RowError(name, f"expected a list of numbers, got {_kind(value)}")
    if not value:
        raise RowError(name, "must not be empty")
    if len(value) > LIMITS["vector"]:
        raise RowError(name, f"more than {LIMITS['vector']:,} numbers ({len(value):,})")
    out = []
    for x in value:
        if isinstance(x, bool) or not isinstance(x, int | float | Decimal):
            raise RowError(name, f"expected a number, got {_shown(x)}")
        number = float(x)
        if not math.isfinite(number):
            raise RowError(name, f"expected finite numbers, got {_shown(x)}")
        out.append(number)
    return out


def loads(text: str | bytes) -> Any:
    """json.loads that raises ValueError, never RecursionError, on deeply nested input."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply to parse") from None
