"""Experiments on disk, beside the index: `<index>/experiments/<name>/v<N>.json`.

Like fusion profiles (`hybrid.search.profiles`): every change (creating, stopping) is
a new version, written whole and hard-linked to its name, so readers never see half a
file and nothing is overwritten. The latest version is the experiment's state.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import replace
from pathlib import Path

from hybrid.errors import NotFoundError
from hybrid.experiments.model import Experiment, ExperimentError

_VERSION = re.compile(r"^v(\d+)\.json$")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ExperimentStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self._versions(p.name))

    def all(self) -> list[Experiment]:
        """Every experiment's latest version, oldest first."""
        found = []
        for name in self.names():
            try:
                found.append(self.get(name))
            except (NotFoundError, ExperimentError):
                continue  # being written, or damaged: leave it out of listings
        return sorted(found, key=lambda e: (e.started, e.name))

    def running(self) -> list[Experiment]:
        return [e for e in self.all() if e.running]

    def get(self, name: str) -> Experiment:
        self._check(name)
        versions = self._versions(name)
        if not versions:
            raise NotFoundError(f"no experiment named {name!r}")
        path = self.root / name / f"v{versions[-1]}.json"
        try:
            return Experiment.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as e:
            raise ExperimentError(f"{path} is not valid JSON: {e}") from e

    def create(self, experiment: Experiment) -> Experiment:
        """Store a new experiment; an existing name is refused (stop it, pick another)."""
        if self._versions(experiment.name):
            raise ExperimentError(f"an experiment named {experiment.name!r} exists already")
        return self._save(replace(experiment, version=1))

    def stop(self, name: str) -> Experiment:
        current = self.get(name)
        if not current.running:
            return current
        return self._save(replace(current.stop(), version=current.version + 1))

    def _save(self, experiment: Experiment) -> Experiment:
        folder = self.root / experiment.name
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".tmp-{uuid.uuid4().hex}"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(experiment.to_dict(), f, indent=2)
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, folder / f"v{experiment.version}.json")
            except FileExistsError as e:
                raise ExperimentError(f"experiment {experiment.name!r} changed meanwhile; "
                                      "try again") from e
            return experiment
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
        if not isinstance(name, str) or not _NAME.match(name):
            raise ExperimentError(f"experiment name {name!r}: use letters, digits, - and _")
