"""Experiments on disk, beside the index: `<index>/experiments/<name>/v<N>.json`.

Stored like fusion profiles (`hybrid.search.versioned`): every change (creating,
stopping) is a new version, written whole and hard-linked to its name, so readers
never see half a file and nothing is overwritten. The latest version is the
experiment's state.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from hybrid.errors import NotFoundError, StoredDataError
from hybrid.experiments.model import Experiment, ExperimentError
from hybrid.search.versioned import VersionedFiles

log = logging.getLogger(__name__)


class ExperimentStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.files = VersionedFiles(self.root, "experiment", ExperimentError)

    def names(self) -> list[str]:
        return self.files.names()

    def all(self) -> list[Experiment]:
        """Every experiment's latest version, oldest first."""
        found = []
        for name in self.names():
            try:
                found.append(self.get(name))
            except NotFoundError:
                continue  # removed since it was listed
            except StoredDataError as e:  # one damaged file hides no other experiment
                log.error("%s", e)
                continue
        return sorted(found, key=lambda e: (e.started, e.name))

    def running(self) -> list[Experiment]:
        return [e for e in self.all() if e.running]

    def get(self, name: str) -> Experiment:
        self.files.check(name)
        versions = self.files.versions(name)
        if not versions:
            raise NotFoundError(f"no experiment named {name!r}")
        try:
            return Experiment.from_dict(self.files.read(name, versions[-1]))
        except ExperimentError as e:  # written by hand, or by an older release
            raise StoredDataError(f"the stored experiment {name!r} version {versions[-1]} "
                                  f"is not a valid experiment: {e}") from e

    def create(self, experiment: Experiment) -> Experiment:
        """Store a new experiment; an existing name is refused (stop it, pick another)."""
        if self.files.versions(experiment.name):
            raise ExperimentError(f"an experiment named {experiment.name!r} exists already")
        return self._save(replace(experiment, version=1))

    def stop(self, name: str) -> Experiment:
        current = self.get(name)
        if not current.running:
            return current
        return self._save(replace(current.stop(), version=current.version + 1))

    def _save(self, experiment: Experiment) -> Experiment:
        if not self.files.write(experiment.name, experiment.version, experiment.to_dict()):
            raise ExperimentError(f"experiment {experiment.name!r} changed meanwhile; "
                                  "try again")
        return experiment
