"""Fusion profiles on disk, beside the index: `<index>/profiles/<name>/v<N>.json`.

Saving never overwrites: each save is a new version, written whole to a temporary
file and then hard-linked to its name (which fails if the name is taken), so readers
never see half a file and two processes saving at once get two versions. The latest version is the
one searches use unless a request names another. "default" (searches) and "similar"
(similar products) exist from the start: their version 1 is the built-in profile,
and saved versions follow it.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from hybrid.errors import NotFoundError, ProfileError
from hybrid.planner.profile import Profile, default_profile, similar_profile, valid_name

_VERSION = re.compile(r"^v(\d+)\.json$")
BUILT_IN = {"default": default_profile, "similar": similar_profile}


class ProfileStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def names(self) -> list[str]:
        found = {p.name for p in self.root.glob("*") if p.is_dir() and self._versions(p.name)}
        return sorted(found | set(BUILT_IN))

    def versions(self, name: str) -> list[int]:
        """The versions of `name`, oldest first (a built-in name always has 1, the built-in)."""
        self._check(name)
        return ([1] if name in BUILT_IN else []) + self._versions(name)

    def get(self, name: str = "default", version: int | None = None) -> Profile:
        """The profile `name` at `version` (None: the latest). NotFoundError says whether
        the name or only the version is unknown, listing what exists."""
        versions = self.versions(name)
        if not versions:
            raise NotFoundError(f"no profile named {name!r}; known: {', '.join(self.names())}")
        v = version if version is not None else versions[-1]
        if v not in versions:
            raise NotFoundError(f"profile {name!r} has no version {v}; its versions are "
                                f"{', '.join(map(str, versions))}")
        if name in BUILT_IN and v == 1:
            return BUILT_IN[name]()
        path = self.root / name / f"v{v}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:  # deleted since it was listed
            raise NotFoundError(f"profile {name!r} has no version {v}") from e
        except json.JSONDecodeError as e:
            raise ProfileError(f"{path} is not valid JSON: {e}") from e
        return Profile.from_dict(data)

    def save(self, profile: Profile | dict[str, Any]) -> Profile:
        """Store as the next version of its name; returns it with that version."""
        if not isinstance(profile, Profile):
            profile = Profile.from_dict(profile)
        self._check(profile.name)
        folder = self.root / profile.name
        folder.mkdir(parents=True, exist_ok=True)
        v = (self._versions(profile.name) or [0])[-1] + 1
        if profile.name in BUILT_IN and v == 1:
            v = 2  # version 1 of a built-in name is the built-in profile
        tmp = folder / f".tmp-{uuid.uuid4().hex}"
        try:
            while True:
                saved = replace(profile, version=v)
                with open(tmp, "w", encoding="utf-8") as f:
                    json.dump(saved.to_dict(), f, indent=2)
                    f.flush()
                    os.fsync(f.fileno())
                try:
                    os.link(tmp, folder / f"v{v}.json")
                    return saved
                except FileExistsError:
                    v += 1
        finally:
            tmp.unlink(missing_ok=True)

    def _versions(self, name: str) -> list[int]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        return sorted(int(m.group(1)) for p in folder.iterdir()
                      if (m := _VERSION.match(p.name)))

    @staticmethod
    def _check(name: str) -> None:
        if not valid_name(name):
            raise ProfileError(f"profile name {name!r}: use letters, digits, - and _")
