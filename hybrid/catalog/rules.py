"""One set of rules for every door a product comes in by: catalog files (`hybrid index`,
`iter_catalog`) and `POST /products` check their rows here, the same way.

A row is shaped by a FieldMapping (so both doors accept the same column names),
validated by Product.from_dict (types and LIMITS), its supplied vectors checked against
the index's vector fields, and its media paths made absolute and checked against the
media roots (hybrid.catalog.media). `check_rows` adds the batch rules: a duplicate id is
rejected, pointing at its first occurrence, and one bad row never stops the rest.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hybrid.catalog.mapping import FieldMapping
from hybrid.catalog.media import MediaRoots
from hybrid.catalog.product import LIMITS, Product, RowError


@dataclass
class Rejected:
    """A row that was skipped, and why. `line` is the line (catalog files) or the
    position in the batch (POST /products, counted from 0)."""

    line: int
    id: str | None
    field: str | None
    reason: str


@dataclass
class LoadReport:
    """Counts filled in while rows are checked; `lines` maps each accepted id to its
    line (or position)."""

    read: int = 0
    accepted: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)


@dataclass
class CatalogRules:
    """How rows become Products. `vector_dims` (field -> dimension, from the index
    mapping) checks supplied vectors; without it any field and length pass here and the
    engine checks them. `media` None: media paths are made absolute but not checked."""

    mapping: FieldMapping = field(default_factory=FieldMapping.default)
    vector_dims: Mapping[str, int] | None = None
    media: MediaRoots | None = None
    base: str = "."  # folder that relative media paths are relative to

    def product(self, row: Any) -> Product:
        """A valid Product from one source row, or RowError naming the field."""
        if not isinstance(row, Mapping):
            return Product.from_dict(row)  # raises RowError: expected a JSON object
        if len(row) > LIMITS["columns"]:  # before the mapping caches a plan for its columns
            raise RowError("product", f"more than {LIMITS['columns']} fields ({len(row):,})")
        product = Product.from_dict(self.mapping.apply(row))
        if self.vector_dims is not None:
            for name, vec in product.vectors.items():
                dim = self.vector_dims.get(name)
                if dim is None:
                    known = ", ".join(sorted(self.vector_dims)) or "none"
                    raise RowError(f"vectors.{name}",
                                   f"unknown vector field; the index has {known}")
                if len(vec) != dim:
                    raise RowError(f"vectors.{name}",
                                   f"needs {dim} numbers, got {len(vec)}")
        product.images = [self._media("images", p) for p in product.images]
        product.audio = [self._media("audio", p) for p in product.audio]
        return product

    def _media(self, name: str, location: str) -> str:
        from hybrid.catalog.media import is_url

        if is_url(location):
            return location
        location = os.path.expanduser(location)
        if self.media is None:
            return os.path.normpath(os.path.join(self.base, location))
        return self.media.check(name, location, self.base)

    def id_of(self, row: Any) -> str | None:
        return self.mapping.id_of(row) if isinstance(row, Mapping) else None


# One raw record: (line or position, source row or None, reason when it is unusable).
Raw = tuple[int, Any, str | None]


def check_rows(raw: Iterable[Raw], rules: CatalogRules, report: LoadReport,
               where: str = "line") -> Iterator[tuple[int, Product]]:
    """(line, Product) for each good row; each bad one goes to `report.rejected`."""
    for line, row, problem in raw:
        report.read += 1
        if problem:
            report.rejected.append(Rejected(line, rules.id_of(row), None, problem))
            continue
        try:
            product = rules.product(row)
        except RowError as exc:
            report.rejected.append(Rejected(line, rules.id_of(row), exc.field, exc.reason))
            continue
        first = report.lines.get(product.id)
        if first is not None:
            reason = f"duplicate id, first seen on {where} {first}"
            report.rejected.append(Rejected(line, product.id, "id", reason))
            continue
        report.lines[product.id] = line
        report.accepted += 1
        yield line, product
