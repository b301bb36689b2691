"""Run every signal of a profile once per judged query and keep the ranked lists (the
I/O shell of evaluation and learning). Cached on disk, keyed by the index's contents,
the query set and the signal definitions, so trying profiles costs no searches."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from hybrid.errors import QueryError
from hybrid.evaluation.judgments import QuerySet
from hybrid.evaluation.offline import QueryResults
from hybrid.planner.plan import SearchRequest
from hybrid.planner.profile import Profile

Progress = Callable[[int, int], None]


def collection_profile(profile: Profile) -> Profile:
    """Every signal of `profile` at weight 1 and no model: each runs where it can."""
    return replace(profile, model=None,
                   signals=tuple(replace(s, weight=1.0) for s in profile.signals))


def cache_key(searcher: Any, qs: QuerySet, profile: Profile) -> str:
    stats = searcher.engine.stats()
    state = {"index": str(Path(stats.get("path", "")).resolve()),
             "documents": stats.get("documents"),
             "vectors": {f: v.get("vectors") for f, v in stats.get("vectors", {}).items()},
             "queries": [q.qid for q in qs.judged()], "set": qs.name,
             "signals": [s.to_dict() | {"weight": 1} for s in profile.signals],
             "depth": profile.depth, "unavailable": searcher.unavailable(profile)}
    if any(q.audio for q in qs.judged()):  # what spoken queries are transcribed with
        state["speech_prompt"] = getattr(searcher, "speech_prompt", lambda: None)()
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]


def collect(searcher: Any, qs: QuerySet, profile: Profile, *, cache_dir: Path | None = None,
            progress: Progress | None = None) -> dict[str, QueryResults]:
    """QueryResults of every judged query of `qs`, its own excluded documents removed."""
    base = collection_profile(profile)
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"{qs.name}-{cache_key(searcher, qs, base)}.jsonl"
        if path.exists():
            rows = [QueryResults.from_dict(json.loads(line))
                    for line in path.read_text(encoding="utf-8").splitlines()]
            return {r.qid: r for r in rows}
    queries = qs.judged()
    out: dict[str, QueryResults] = {}
    for n, q in enumerate(queries, 1):
        try:
            out[q.qid] = one(searcher, q, base).without(q.exclude)
        except QueryError as e:  # e.g. photo queries on an index without image vectors
            raise type(e)(f"task {qs.name}, query {q.qid}: {e} (--task chooses the tasks "
                          "to run)") from e
        if progress:
            progress(n, len(queries))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in out.values()),
                       encoding="utf-8")
        tmp.replace(path)
    return out


def one(searcher: Any, q: Any, profile: Profile) -> QueryResults:
    from hybrid.encoders.audio import load_audio
    from hybrid.encoders.image import load_image

    image = load_image(q.image) if q.image else None
    audio = load_audio(q.audio, max_seconds=600) if q.audio else None
    request = SearchRequest(text=q.text, image=image is not None, audio=audio is not None)
    r = searcher.retrieve(request, profile, image=image, audio=audio)
    return QueryResults(q.qid, r.text, r.modalities, r.results, r.totals)


def stderr_progress(label: str) -> Progress:
    """Every 25 queries, on one line rewritten in place on a terminal, and as lines of
    their own in a log file."""
    def show(n: int, total: int) -> None:
        if n == total or n % 25 == 0:
            tty = sys.stderr.isatty()
            start = "\r" if tty else ""
            print(f"{start}{label}: {n}/{total} queries",
                  end="\n" if n == total or not tty else "", file=sys.stderr, flush=True)
    return show
