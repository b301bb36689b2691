"""Experiments as data: named, versioned documents that round-trip through `to_dict` /
`from_dict` and are stored beside the index (`hybrid.search.experiments`).

An experiment compares two or more *variants*, each a fusion profile ("name" or
"name@version"):
- kind "ab": each user (or session) is bucketed into one variant, sticky, by a hash of
  (salt, experiment name, id); `split` gives the variants' traffic shares.
- kind "interleaving": every search in the experiment shows one list interleaved from
  all the variants' rankings (team draft, or probabilistic for multileaving), and a
  click is credited to the variant whose team the clicked result came from.

`traffic` is the share of users in the experiment at all; the others search with the
default profile, outside it. `guardrails` (GUARDRAILS below: the largest latency p99 in
ms, the largest abandonment rate, the largest relative CTR drop from the first variant)
flag a variant in its report. Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from hybrid.errors import QueryError
from hybrid.planner.profile import valid_name

AB, INTERLEAVING = "ab", "interleaving"
KINDS = (AB, INTERLEAVING)
TEAM_DRAFT, PROBABILISTIC = "team_draft", "probabilistic"
METHODS = (TEAM_DRAFT, PROBABILISTIC)
RUNNING, STOPPED = "running", "stopped"
GUARDRAILS = ("latency_p99_ms", "abandonment", "ctr_drop")
MAX_SPLIT = 1e6
_PROFILE = re.compile(r"^[A-Za-z0-9_-]{1,64}(@[1-9][0-9]{0,8})?$")


class ExperimentError(QueryError):
    """An experiment definition is malformed (names, split, guardrails, ...)."""


@dataclass(frozen=True)
class Variant:
    name: str
    profile: str          # "name" or "name@version"
    split: float = 1.0    # traffic share (normalised over the variants); A/B only

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "profile": self.profile, "split": self.split}


@dataclass(frozen=True)
class Experiment:
    name: str
    variants: tuple[Variant, ...]
    kind: str = AB
    method: str = TEAM_DRAFT          # interleaving only
    salt: str = ""
    traffic: float = 1.0              # share of users in the experiment, 0 < t <= 1
    status: str = RUNNING
    started: str = ""                 # ISO 8601, UTC
    stopped: str | None = None
    guardrails: dict[str, float] = field(default_factory=dict)
    description: str = ""
    version: int = 1

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    def shares(self) -> list[float]:
        """Each variant's share of the experiment's traffic (sums to 1)."""
        total = sum(v.split for v in self.variants)
        return [v.split / total for v in self.variants]

    def variant(self, name: str) -> Variant:
        for v in self.variants:
            if v.name == name:
                return v
        raise ExperimentError(f"experiment {self.name!r} has no variant {name!r}")

    def stop(self, now: datetime | None = None) -> Experiment:
        return replace(self, status=STOPPED, stopped=_iso(now))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "method": self.method,
                "variants": [v.to_dict() for v in self.variants], "salt": self.salt,
                "traffic": self.traffic, "status": self.status, "started": self.started,
                "stopped": self.stopped, "guardrails": dict(self.guardrails),
                "description": self.description, "version": self.version}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], now: datetime | None = None) -> Experiment:
        """Validate; raises ExperimentError naming the field. `started` defaults to now
        and `salt` to the name."""
        if not isinstance(d, Mapping):
            raise ExperimentError("an experiment is a JSON object")
        unknown = set(d) - {"name", "kind", "method", "variants", "salt", "traffic", "status",
                            "started", "stopped", "guardrails", "description", "version"}
        if unknown:
            raise ExperimentError(f"unknown experiment key(s) {', '.join(sorted(unknown))}")
        name = d.get("name")
        if not valid_name(name):
            raise ExperimentError("'name': use 1 to 64 letters, digits, - and _")
        kind = d.get("kind", AB)
        if kind not in KINDS:
            raise ExperimentError(f"'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
        method = d.get("method", TEAM_DRAFT)
        if method not in METHODS:
            raise ExperimentError(f"'method' must be one of {', '.join(METHODS)}, "
                                  f"got {method!r}")
        variants = tuple(_variant(v, i) for i, v in enumerate(_list(d.get("variants"))))
        if len(variants) < 2:
            raise ExperimentError("'variants': an experiment needs at least two")
        if len({v.name for v in variants}) < len(variants):
            raise ExperimentError("'variants': names must differ")
        if kind == INTERLEAVING and len({v.profile for v in variants}) < len(variants):
            raise ExperimentError("'variants': interleaving needs a different profile each")
        status = d.get("status", RUNNING)
        if status not in (RUNNING, STOPPED):
            raise ExperimentError(f"'status' must be running or stopped, got {status!r}")
        traffic = _number(d.get("traffic", 1.0), "traffic")
        if not 0 < traffic <= 1:
            raise ExperimentError("'traffic' must be in (0, 1]")
        guardrails = d.get("guardrails") or {}
        if not isinstance(guardrails, Mapping):
            raise ExperimentError("'guardrails' maps guardrail names to numbers")
        for key, value in guardrails.items():
            if key not in GUARDRAILS:
                raise ExperimentError(f"'guardrails': unknown {key!r}; use "
                                      f"{', '.join(GUARDRAILS)}")
            if _number(value, f"guardrails.{key}") < 0:
                raise ExperimentError(f"'guardrails.{key}' must not be negative")
        version = d.get("version", 1)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ExperimentError("'version' must be a positive integer")
        texts = {k: d.get(k) for k in ("salt", "started", "stopped", "description")}
        for key, value in texts.items():
            if value is not None and (not isinstance(value, str) or len(value) > 1000):
                raise ExperimentError(f"'{key}' must be a string of at most 1000 characters")
        return cls(name=name, variants=variants, kind=kind, method=method,
                   salt=texts["salt"] or name, traffic=traffic, status=status,
                   started=texts["started"] or _iso(now), stopped=texts["stopped"],
                   guardrails={k: float(v) for k, v in guardrails.items()},
                   description=texts["description"] or "", version=version)


def _variant(v: Any, i: int) -> Variant:
    where = f"'variants[{i}]'"
    if not isinstance(v, Mapping):
        raise ExperimentError(f"{where} is an object with name and profile")
    unknown = set(v) - {"name", "profile", "split"}
    if unknown:
        raise ExperimentError(f"{where} has unknown key(s) {', '.join(sorted(unknown))}")
    name, profile = v.get("name"), v.get("profile")
    if not valid_name(name):
        raise ExperimentError(f"{where}.name: use 1 to 64 letters, digits, - and _")
    if not isinstance(profile, str) or not _PROFILE.match(profile):
        raise ExperimentError(f"{where}.profile: a profile name, or name@version")
    split = _number(v.get("split", 1.0), f"variants[{i}].split")
    if not 0 < split <= MAX_SPLIT:
        raise ExperimentError(f"{where}.split must be in (0, {MAX_SPLIT:g}]")
    return Variant(name, profile, split)


def _list(v: Any) -> list[Any]:
    if not isinstance(v, list):
        raise ExperimentError("'variants' is a list of {name, profile, split}")
    return v


def _number(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ExperimentError(f"'{what}' must be a finite number, got {v!r}")
    return float(v)


def _iso(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).isoformat(timespec="seconds")
