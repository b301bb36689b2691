"""Stream Products out of JSON Lines, CSV/TSV and Parquet catalog files."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, cast

from hybrid.catalog.mapping import FieldMapping
from hybrid.catalog.product import Product, RowError
from hybrid.errors import CatalogError

FORMATS = ("jsonl", "csv", "tsv", "parquet")
_EXTENSIONS = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
    ".csv": "csv", ".tsv": "tsv", ".parquet": "parquet",
}  # fmt: skip
_SUPPORTED = ".jsonl, .ndjson, .json, .csv, .tsv, .parquet (text formats also .gz)"
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_PARQUET_BATCH = 1024

# One raw record: (line number, source row or None, reason when the record is unusable).
_Raw = tuple[int, Mapping[str, Any] | None, str | None]


@dataclass
class Rejected:
    """A row that was skipped, and why."""

    line: int
    id: str | None
    field: str | None
    reason: str


@dataclass
class LoadReport:
    """Counts filled in while a catalog is iterated."""

    read: int = 0
    accepted: int = 0
    rejected: list[Rejected] = field(default_factory=list)


def iter_catalog(
    path: str | os.PathLike[str],
    mapping: FieldMapping | None = None,
    report: LoadReport | None = None,
    format: str | None = None,
) -> Iterator[Product]:
    """Yield the valid products of a catalog file; bad rows go to `report.rejected`.

    Bad paths and formats raise CatalogError right away, before iteration starts.
    """
    path = Path(path)
    return _products(
        _raw(path, format), mapping or FieldMapping.default(), report or LoadReport(),
        path.absolute().parent
    )


def read_rows(path: str | os.PathLike[str], format: str | None = None
              ) -> Iterator[Mapping[str, Any]]:
    """The readable rows of a catalog file as they are (no field map), e.g. to guess
    its column types; unreadable rows are left out."""
    return (row for _, row, problem in _raw(Path(path), format)
            if row is not None and not problem)


def _raw(path: Path, format: str | None) -> Iterator[_Raw]:
    kind, compressed = _detect_format(path, format)
    if not path.is_file():
        raise CatalogError(f"catalog file not found: {path}")
    if kind == "parquet" and compressed:
        raise CatalogError(f"gzip-compressed Parquet is not supported: {path}")
    if kind == "jsonl":
        return _read_jsonl(path, compressed)
    if kind == "parquet":
        return _read_parquet(path)
    return _read_csv(path, compressed, "\t" if kind == "tsv" else ",")


def iter_rows(
    rows: Iterator[Mapping[str, Any]], mapping: FieldMapping, report: LoadReport | None = None
) -> Iterator[Product]:
    """Products from rows read elsewhere (an OpenSearch index): the same checks and
    report as a file's rows, numbered from 1; image and audio paths stay as they are."""
    raw: Iterator[_Raw] = ((n, row, None) for n, row in enumerate(rows, start=1))
    return _products(raw, mapping, report or LoadReport(), None)


def _detect_format(path: Path, format: str | None) -> tuple[str, bool]:
    name = path.name.lower()
    compressed = name.endswith(".gz")
    if format is not None:
        kind = {"json": "jsonl", "ndjson": "jsonl"}.get(format.lower(), format.lower())
        if kind not in FORMATS:
            raise CatalogError(
                f"unknown catalog format {format!r}; supported: json, jsonl, ndjson, "
                f"{', '.join(FORMATS[1:])}"
            )
        return kind, compressed
    stem = name[:-3] if compressed else name
    ext = os.path.splitext(stem)[1]
    if ext not in _EXTENSIONS:
        raise CatalogError(f"cannot tell the catalog format of {path}; supported: {_SUPPORTED}")
    return _EXTENSIONS[ext], compressed


def _products(
    raw: Iterator[_Raw], mapping: FieldMapping, report: LoadReport, base: Path | None
) -> Iterator[Product]:
    seen: dict[str, int] = {}
    for line, row, problem in raw:
        report.read += 1
        if row is None or problem:
            row_id = mapping.id_of(row) if row is not None else None
            report.rejected.append(Rejected(line, row_id, None, problem or "unreadable row"))
            continue
        try:
            product = Product.from_dict(mapping.apply(row))
        except RowError as exc:
            report.rejected.append(Rejected(line, mapping.id_of(row), exc.field, exc.reason))
            continue
        first = seen.get(product.id)
        if first is not None:
            reason = f"duplicate id, first seen on line {first}"
            report.rejected.append(Rejected(line, product.id, "id", reason))
            continue
        seen[product.id] = line
        if base is not None:
            product.images = [_resolve(p, base) for p in product.images]
            product.audio = [_resolve(p, base) for p in product.audio]
        report.accepted += 1
        yield product


def _resolve(location: str, base: Path) -> str:
    """URLs stay as they are; paths become absolute, relative to the catalog's folder."""
    if _URL.match(location):
        return location
    return os.path.normpath(os.path.join(base, os.path.expanduser(location)))


def _open(path: Path, compressed: bool) -> BinaryIO:
    try:
        return cast(BinaryIO, gzip.open(path, "rb") if compressed else open(path, "rb"))  # noqa: SIM115
    except OSError as exc:
        raise CatalogError(f"cannot open catalog file {path}: {exc}") from None


def _read_jsonl(path: Path, compressed: bool) -> Iterator[_Raw]:
    with _open(path, compressed) as f:
        try:
            for number, data in enumerate(f, start=1):
                try:
                    text = data.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError as exc:
                    yield number, None, f"invalid UTF-8 at byte {exc.start}"
                    continue
                if not text.strip():
                    continue
                try:
                    value = json.loads(text)
                except ValueError as exc:
                    yield number, None, f"invalid JSON: {exc}"
                    continue
                if not isinstance(value, dict):
                    yield number, None, f"expected a JSON object, got {_json_kind(value)}"
                    continue
                yield number, value, None
        except (OSError, EOFError, zlib.error) as exc:
            raise CatalogError(f"cannot read catalog file {path}: {exc}") from None


def _json_kind(value: Any) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", type(None): "null"}
    return kinds.get(type(value), "number")


def _read_csv(path: Path, compressed: bool, delimiter: str) -> Iterator[_Raw]:
    with _open(path, compressed) as f:
        text = io.TextIOWrapper(f, encoding="utf-8-sig", errors="surrogateescape", newline="")
        reader = csv.reader(text, delimiter=delimiter)
        try:
            header = next(reader, None)
            if header is None:
                return
            header = [name.strip() for name in header]
            _check_header(path, header)
            done = reader.line_num
            while True:
                start = done + 1
                try:
                    cells = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    done = reader.line_num
                    yield start, None, f"malformed CSV: {exc}"
                    continue
                done = reader.line_num
                if not any(c.strip() for c in cells):
                    continue
                yield start, *_csv_row(header, cells)
        except (OSError, EOFError, zlib.error) as exc:
            raise CatalogError(f"cannot read catalog file {path}: {exc}") from None


def _check_header(path: Path, header: list[str]) -> None:
    if _bad_utf8(header):
        raise CatalogError(f"invalid UTF-8 in the header of {path}")
    seen = set()
    for name in header:
        if name in seen and name:
            raise CatalogError(f"duplicate column {name!r} in the header of {path}")
        seen.add(name)


def _csv_row(header: list[str], cells: list[str]) -> tuple[dict[str, str] | None, str | None]:
    if len(cells) > len(header):
        return None, f"row has {len(cells)} cells, the header has {len(header)}"
    row = {name: cell for name, cell in zip(header, cells, strict=False) if name and cell.strip()}
    bad = [name for name, cell in row.items() if _bad_utf8([cell])]
    if bad:
        return {k: v for k, v in row.items() if k not in bad}, f"invalid UTF-8 in {bad[0]!r}"
    return row, None


def _bad_utf8(cells: list[str]) -> bool:
    return any("\udc80" <= ch <= "\udcff" for cell in cells for ch in cell)


def _read_parquet(path: Path) -> Iterator[_Raw]:
    """Open eagerly (so a missing pyarrow or a broken file fails at once), read lazily."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise CatalogError("reading Parquet needs pyarrow: pip install 'hybrid[parquet]'") from None
    try:
        source = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several unrelated types
        raise CatalogError(f"cannot read Parquet file {path}: {exc}") from None
    return _parquet_rows(source)


def _parquet_rows(source: Any) -> Iterator[_Raw]:
    number = 0
    for batch in source.iter_batches(batch_size=_PARQUET_BATCH):
        for row in batch.to_pylist():
            number += 1
            yield number, {k: _plain(v) for k, v in row.items() if v is not None}, None


def _plain(value: Any) -> Any:
    """Arrow-only Python types (Decimal, dates) as JSON-like values."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
