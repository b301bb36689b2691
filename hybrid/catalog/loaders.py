"""Stream Products out of JSON Lines, CSV/TSV and Parquet catalog files."""

from __future__ import annotations

import codecs
import csv
import gzip
import os
import zlib
from collections.abc import Iterator, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, cast

from hybrid.catalog.mapping import FieldMapping
from hybrid.catalog.media import MediaRoots, configured_roots
from hybrid.catalog.product import Product, json_kind, loads
from hybrid.catalog.rules import CatalogRules, LoadReport, Raw, Rejected, check_rows
from hybrid.errors import CatalogError

__all__ = ["FORMATS", "MAX_ROW_BYTES", "MAX_ROW_GROUP_BYTES", "LoadReport", "Rejected",
           "iter_catalog"]

FORMATS = ("jsonl", "csv", "tsv", "parquet")
_EXTENSIONS = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
    ".csv": "csv", ".tsv": "tsv", ".parquet": "parquet",
}  # fmt: skip
_SUPPORTED = ".jsonl, .ndjson, .json, .csv, .tsv, .parquet (text formats also .gz)"
_PARQUET_BATCH = 1024
MAX_ROW_BYTES = 1024 * 1024  # one JSONL line or CSV line; longer ones are rejected unread
MAX_ROW_GROUP_BYTES = 256 * MAX_ROW_BYTES  # a Parquet row group, uncompressed
_CHUNK = 64 * 1024
_OVERSIZED = "\x1ehybrid:oversized-line\x1e"  # stands in for a CSV line that was too long

def iter_catalog(
    path: str | os.PathLike[str],
    mapping: FieldMapping | None = None,
    report: LoadReport | None = None,
    format: str | None = None,
    *,
    media: MediaRoots | None = None,
    vector_dims: Mapping[str, int] | None = None,
) -> Iterator[Product]:
    """Yield the valid products of a catalog file; bad rows go to `report.rejected`,
    with their line numbers (hybrid.catalog.rules has the rules).

    Media paths are made absolute, relative to the catalog's folder, and must lie in
    `media` (default: the catalog's folder and HYBRID_MEDIA_ROOTS). `vector_dims`
    (field -> dimension) checks supplied vectors. Bad paths and formats raise
    CatalogError right away, before iteration starts.
    """
    path = Path(path)
    kind, compressed = _detect_format(path, format)
    if not path.is_file():
        raise CatalogError(f"catalog file not found: {path}")
    if kind == "parquet" and compressed:
        raise CatalogError(f"gzip-compressed Parquet is not supported: {path}")
    if kind == "jsonl":
        raw = _read_jsonl(path, compressed)
    elif kind == "parquet":
        raw = _read_parquet(path)
    else:
        raw = _read_csv(path, compressed, "\t" if kind == "tsv" else ",")
    base = path.absolute().parent
    rules = CatalogRules(mapping or FieldMapping.default(), vector_dims,
                         media or MediaRoots.of([base, *configured_roots()]), str(base))
    return (product for _, product in check_rows(raw, rules, report or LoadReport()))


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


def _open(path: Path, compressed: bool) -> BinaryIO:
    try:
        return cast(BinaryIO, gzip.open(path, "rb") if compressed else open(path, "rb"))  # noqa: SIM115
    except OSError as exc:
        raise CatalogError(f"cannot open catalog file {path}: {exc}") from None


def _lines(f: BinaryIO) -> Iterator[bytes | None]:
    """The lines of a binary file, each read at most MAX_ROW_BYTES at a time; a longer
    line is skipped to its end unkept and comes out as None."""
    while True:
        data = f.readline(MAX_ROW_BYTES + 1)
        if not data:
            return
        if len(data) > MAX_ROW_BYTES and not data.endswith(b"\n"):
            while (rest := f.readline(_CHUNK)) and not rest.endswith(b"\n"):
                pass
            yield None
        else:
            yield data


def _too_long() -> str:
    return f"line longer than {MAX_ROW_BYTES:,} bytes (not read)"


def _read_jsonl(path: Path, compressed: bool) -> Iterator[Raw]:
    with _open(path, compressed) as f:
        try:
            for number, data in enumerate(_lines(f), start=1):
                if data is None:
                    yield number, None, _too_long()
                    continue
                try:
                    text = data.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError as exc:
                    yield number, None, f"invalid UTF-8 at byte {exc.start}"
                    continue
                if not text.strip():
                    continue
                try:
                    value = loads(text)
                except ValueError as exc:
                    yield number, None, f"invalid JSON: {exc}"
                    continue
                if not isinstance(value, dict):
                    yield number, None, f"expected a JSON object, got {json_kind(value)}"
                    continue
                yield number, value, None
        except (OSError, EOFError, zlib.error) as exc:
            raise CatalogError(f"cannot read catalog file {path}: {exc}") from None


def _text_lines(f: BinaryIO) -> Iterator[str]:
    """Decoded lines for the csv reader, each at most MAX_ROW_BYTES; a longer line is
    skipped unread and replaced by a marker that rejects its row."""
    for i, data in enumerate(_lines(f)):
        if data is None:
            yield _OVERSIZED + "\n"
            continue
        if i == 0 and data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8):]
        yield data.decode("utf-8", errors="surrogateescape")


def _read_csv(path: Path, compressed: bool, delimiter: str) -> Iterator[Raw]:
    with _open(path, compressed) as f:
        reader = csv.reader(_text_lines(f), delimiter=delimiter)
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
                if any(_OVERSIZED in c for c in cells):
                    yield start, None, _too_long()
                    continue
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


def _read_parquet(path: Path) -> Iterator[Raw]:
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


def _parquet_rows(source: Any) -> Iterator[Raw]:
    """Rows, one row group at a time; a row group whose uncompressed size is over
    MAX_ROW_GROUP_BYTES is not decoded and each of its rows is rejected."""
    number = 0
    for i in range(source.metadata.num_row_groups):
        group = source.metadata.row_group(i)
        if group.total_byte_size > MAX_ROW_GROUP_BYTES:
            reason = (f"in a Parquet row group of {group.total_byte_size:,} bytes "
                      f"uncompressed; the limit is {MAX_ROW_GROUP_BYTES:,} (not read)")
            for _ in range(group.num_rows):
                number += 1
                yield number, None, reason
            continue
        for batch in source.iter_batches(batch_size=_PARQUET_BATCH, row_groups=[i]):
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
