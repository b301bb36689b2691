"""Named JSON documents kept beside the index as numbered versions: `<root>/<name>/v<N>.json`.

Nothing is overwritten: a version is written whole to a temporary file, flushed to
disk, then hard-linked to its name, which fails if that version exists. So readers
never see half a file, and two processes writing the same version cannot both succeed.
Fusion profiles (`hybrid.search.profiles`) and experiments (`hybrid.search.experiments`)
are stored this way; each decides what a taken version means (try the next one, or
refuse).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

from hybrid.errors import HybridError, NotFoundError, StoredDataError
from hybrid.planner.profile import valid_name

_VERSION = re.compile(r"^v(\d+)\.json$")


class VersionedFiles:
    """The versions of named documents under `root`. `what` names a document in errors
    ("profile", "experiment"); `error` is raised for a bad name."""

    def __init__(self, root: str | Path, what: str, error: type[HybridError]) -> None:
        self.root = Path(root)
        self.what = what
        self.error = error

    def names(self) -> list[str]:
        """The names with at least one version, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.versions(p.name))

    def versions(self, name: str) -> list[int]:
        """The version numbers stored for `name`, ascending ([] if none)."""
        folder = self.root / name
        if not folder.is_dir():
            return []
        return sorted(int(m.group(1)) for p in folder.iterdir()
                      if (m := _VERSION.match(p.name)))

    def check(self, name: Any) -> None:
        """`error` unless `name` is 1 to 64 ASCII letters, digits, - and _."""
        if not valid_name(name):
            raise self.error(f"{self.what} name {name!r}: use letters, digits, - and _")

    def read(self, name: str, version: int) -> Any:
        """The JSON of `name` at `version`. NotFoundError if it is not there;
        StoredDataError if it cannot be read or is not JSON (a damaged file)."""
        path = self.root / name / f"v{version}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:  # never written, or deleted since it was listed
            raise NotFoundError(f"{self.what} {name!r} has no version {version}") from e
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise StoredDataError(f"the stored {self.what} {name!r} version {version} "
                                  f"cannot be read ({path}: {e})") from e

    def write(self, name: str, version: int, data: Any) -> bool:
        """Store `data` as `name` at `version`; False (nothing written) if that version
        exists already."""
        self.check(name)
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".tmp-{uuid.uuid4().hex}"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=2)
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, folder / f"v{version}.json")
            except FileExistsError:
                return False
            return True
        finally:
            tmp.unlink(missing_ok=True)
