"""Where product media (images, audio) may be read from, and the one bounded way to read them.

A product's image or audio path is read only when it lies, after every symlink is
resolved, inside one of the *media roots*:
- the folder of each catalog file that `hybrid index` read into the index (remembered
  in `<index>/media-roots.json`);
- the upload store `<index>/media` (relative paths sent to `POST /products` resolve there);
- the folders the operator lists in HYBRID_MEDIA_ROOTS (separated by os.pathsep).
Only regular files are read (not devices such as /dev/zero, FIFOs or folders), and a
file over HYBRID_MAX_MEDIA_BYTES (16 MiB) is refused from its size before any byte is
read. URLs are kept as data but never fetched at ingest.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hybrid.encoders.base import DecodeError

ROOTS_ENV = "HYBRID_MEDIA_ROOTS"
MAX_BYTES_ENV = "HYBRID_MAX_MEDIA_BYTES"
MAX_MEDIA_BYTES = 16 * 1024 * 1024
ROOTS_FILE = "media-roots.json"
UPLOADS = "media"
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


class MediaError(DecodeError):
    """A media path that may not or cannot be read; the reason says which rule it broke."""


def is_url(location: str) -> bool:
    return bool(_URL.match(location))


def configured_roots(value: str | Sequence[str] | None = None) -> list[str]:
    """The operator's roots: `value` (a list, or os.pathsep-separated text), else
    HYBRID_MEDIA_ROOTS."""
    if value is None:
        value = os.environ.get(ROOTS_ENV, "")
    parts = value.split(os.pathsep) if isinstance(value, str) else list(value)
    return [p for p in (str(x).strip() for x in parts) if p]


def max_media_bytes(value: int | str | None = None) -> int:
    raw = value if value is not None else os.environ.get(MAX_BYTES_ENV) or MAX_MEDIA_BYTES
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise MediaError(f"{MAX_BYTES_ENV} must be a whole number of bytes, got {raw!r}") from None
    if limit < 1:
        raise MediaError(f"{MAX_BYTES_ENV} must be positive, got {limit}")
    return limit


@dataclass(frozen=True)
class MediaRoots:
    """The folders media may be read from (resolved), and the size cap per file."""

    roots: tuple[str, ...]
    max_bytes: int = MAX_MEDIA_BYTES

    @classmethod
    def of(cls, folders: Iterable[str | os.PathLike[str]], max_bytes: int | None = None
           ) -> MediaRoots:
        real = dict.fromkeys(os.path.realpath(os.path.expanduser(os.fspath(f)))
                             for f in folders)
        return cls(tuple(real), max_media_bytes(max_bytes))

    @classmethod
    def for_index(cls, index: str | os.PathLike[str], configured: str | Sequence[str] | None
                  = None, max_bytes: int | str | None = None) -> MediaRoots:
        """An index's roots: its upload store, the catalog folders it remembers, and the
        configured ones (`configured`, else HYBRID_MEDIA_ROOTS)."""
        path = Path(index)
        return cls.of([path / UPLOADS, *remembered(path), *configured_roots(configured)],
                      max_media_bytes(max_bytes))

    def allows(self, real: str) -> bool:
        return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep)
                   for root in self.roots)

    def check(self, name: str, location: str, base: str | os.PathLike[str]) -> str:
        """The absolute path of `location` (relative to `base`), or RowError naming
        `name` when it lies outside the roots, is not a regular file, or is too big.
        A file that does not exist yet is accepted (its vector reports it missing)."""
        from hybrid.catalog.product import RowError

        if is_url(location):
            return location
        path = os.path.normpath(os.path.join(base, location))
        try:
            self.stat(location, path)
        except FileNotFoundError:
            pass
        except MediaError as e:
            raise RowError(name, str(e)) from None
        return path

    def stat(self, location: str, path: str) -> os.stat_result:
        """stat of `path` once it is known to lie inside the roots and be a regular file
        within the size cap; FileNotFoundError when it does not exist."""
        real = os.path.realpath(path)
        if not self.allows(real):
            raise MediaError(f"{location}: outside the media roots (the catalog's folder, "
                             f"the upload store, {ROOTS_ENV})")
        try:
            st = os.stat(real)
        except FileNotFoundError:
            raise
        except OSError as e:
            raise MediaError(f"{location}: cannot read the file ({e.strerror or e})") from None
        self._check_stat(location, st)
        return st

    def _check_stat(self, location: str, st: os.stat_result) -> None:
        if not stat.S_ISREG(st.st_mode):
            raise MediaError(f"{location}: not a regular file")
        if st.st_size > self.max_bytes:
            raise MediaError(f"{location}: {st.st_size:,} bytes; the limit is "
                             f"{self.max_bytes:,} ({MAX_BYTES_ENV})")

    def read(self, location: str) -> bytes:
        """The bytes of a media file, read only if every rule holds (MediaError if not).
        The checks are made on the open file itself, so a file swapped after the
        path was checked is caught too."""
        if is_url(location):
            raise MediaError(f"{location}: remote media are not fetched; put the file in a "
                             "media root")
        if not os.path.isabs(location):
            raise MediaError(f"{location}: not an absolute path")
        real = os.path.realpath(location)
        if not self.allows(real):
            raise MediaError(f"{location}: outside the media roots (the catalog's folder, "
                             f"the upload store, {ROOTS_ENV})")
        try:  # O_NONBLOCK: opening a FIFO must not wait for a writer
            fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            raise MediaError(f"{location}: file not found") from None
        except OSError as e:
            raise MediaError(f"{location}: cannot read the file ({e.strerror or e})") from None
        with os.fdopen(fd, "rb") as f:
            self._check_stat(location, os.fstat(f.fileno()))
            data = f.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise MediaError(f"{location}: over the limit of {self.max_bytes:,} bytes")
        return data


def remembered(index: Path) -> list[str]:
    """The catalog folders `hybrid index` read into this index."""
    try:
        data = json.loads((index / ROOTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [str(x) for x in data if isinstance(x, str)] if isinstance(data, list) else []


def remember(index: Path, folders: Iterable[str | os.PathLike[str]]) -> None:
    """Add catalog folders to the index's media roots (kept for workers and the API)."""
    known = remembered(index)
    new = [os.path.realpath(os.fspath(f)) for f in folders]
    merged = list(dict.fromkeys([*known, *new]))
    if merged == known:
        return
    index.mkdir(parents=True, exist_ok=True)
    tmp = index / f".{ROOTS_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(merged, indent=1), encoding="utf-8")
    os.replace(tmp, index / ROOTS_FILE)
