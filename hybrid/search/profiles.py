"""Fusion profiles on disk, beside the index: `<index>/profiles/<name>/v<N>.json`.

Saving never overwrites: each save is a new version, written whole to a temporary
file and then hard-linked to its name (which fails if the name is taken), so readers
never see half a file and two processes saving at once get two versions. The latest version is the
one searches use unless a request names another. "default" (searches) and "similar"
(similar products) exist from the start: their version 1 is the built-in profile,
and saved versions follow it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from hybrid.errors import NotFoundError, ProfileError, StoredDataError
from hybrid.planner.profile import Profile, default_profile, similar_profile
from hybrid.search.versioned import VersionedFiles

BUILT_IN = {"default": default_profile, "similar": similar_profile}


class ProfileStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.files = VersionedFiles(self.root, "profile", ProfileError)

    def names(self) -> list[str]:
        return sorted(set(self.files.names()) | set(BUILT_IN))

    def versions(self, name: str) -> list[int]:
        """The versions of `name`, oldest first (a built-in name always has 1, the built-in)."""
        self.files.check(name)
        return ([1] if name in BUILT_IN else []) + self.files.versions(name)

    def get(self, name: str = "default", version: int | None = None) -> Profile:
        """The profile `name` at `version` (None: the latest). NotFoundError says whether
        the name or only the version is unknown, listing what exists; StoredDataError
        that its file is damaged."""
        versions = self.versions(name)
        if not versions:
            raise NotFoundError(f"no profile named {name!r}; known: {', '.join(self.names())}")
        v = version if version is not None else versions[-1]
        if v not in versions:
            raise NotFoundError(f"profile {name!r} has no version {v}; its versions are "
                                f"{', '.join(map(str, versions))}")
        if name in BUILT_IN and v == 1:
            return BUILT_IN[name]()
        try:
            return Profile.from_dict(self.files.read(name, v))
        except ProfileError as e:  # written by hand, or by an older release
            raise StoredDataError(f"the stored profile {name!r} version {v} is not a valid "
                                  f"profile: {e}") from e

    def resolve(self, ref: str) -> Profile:
        """The profile a reference names: "name" (its latest version) or "name@version".
        NotFoundError as `get`; ProfileError if the version is not a number."""
        name, _, version = ref.partition("@")
        if version and not version.isdigit():
            raise ProfileError(f"profile reference {ref!r}: use name or name@version")
        return self.get(name, int(version) if version else None)

    def save(self, profile: Profile | dict[str, Any]) -> Profile:
        """Store as the next version of its name; returns it with that version."""
        if not isinstance(profile, Profile):
            profile = Profile.from_dict(profile)
        v = (self.files.versions(profile.name) or [0])[-1] + 1
        if profile.name in BUILT_IN and v == 1:
            v = 2  # version 1 of a built-in name is the built-in profile
        while not self.files.write(profile.name, v, replace(profile, version=v).to_dict()):
            v += 1  # another process saved this version first
        return replace(profile, version=v)
