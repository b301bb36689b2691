"""Shadow traffic: for a sample of served searches, run other ("shadow") profiles on the
same request off the request path, and log per query how their results differ from what
the shopper got (hybrid.evaluation.compare), their zero-result cases and latency.

The served response never waits for a shadow: once it is sent, `offer` puts the request
on a bounded queue, and a full queue drops it (counted). One background thread per process runs the
queue, and starts a job only while this process serves no request, so shadows use the
gaps between searches. Each logged line is one served request, as JSON:

    {"time", "q", "page", "size", "filter", "modalities",
     "served": {"profile", "ids", "total", "took_ms"},
     "shadows": [{"profile", "ids", "total", "took_ms", "k", "overlap", "rbo",
                  "rank_changes", "mean_abs_rank_change", "gained", "lost"} | {"profile", "error"}]}

Lines are appended under an exclusive file lock, so several processes share one log.
"""

from __future__ import annotations

import fcntl
import json
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hybrid.errors import HybridError
from hybrid.evaluation.compare import compare
from hybrid.planner.plan import SearchRequest

Count = Callable[[str], None]  # outcome: queued, dropped, logged, failed


@dataclass
class _Job:
    request: SearchRequest
    served: dict[str, Any]
    image: Any
    audio: Any


class ShadowRunner:
    """Runs `profiles` (names, resolved by `get_profile` when a job runs) beside the
    serving profile for a `sample` (0 to 1) of requests; logs to `log`.

    search: (request, profile, image=, audio=) -> a search response (Searcher.search).
    queue_size: jobs waiting at most; more are dropped, never waited for."""

    def __init__(self, search: Callable[..., dict[str, Any]],
                 get_profile: Callable[[str], Any], profiles: Sequence[str], sample: float,
                 log: str | Path, queue_size: int = 64, count: Count = lambda outcome: None,
                 seed: int | None = None) -> None:
        if not 0 <= sample <= 1:
            raise HybridError(f"the shadow sample is a share from 0 to 1, got {sample!r}")
        if queue_size < 1:
            raise HybridError("the shadow queue holds at least one request")
        self.search, self.get_profile = search, get_profile
        self.profiles, self.sample, self.log = list(profiles), sample, Path(log)
        self.count = count
        self.queue: queue.Queue[_Job] = queue.Queue(queue_size)
        self._random = random.Random(seed)
        self._busy = 0
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.profiles) and self.sample > 0

    @contextmanager
    def serving(self) -> Iterator[None]:
        """Mark a served request in flight: shadow jobs wait for none to be."""
        with self._idle:
            self._busy += 1
        try:
            yield
        finally:
            with self._idle:
                self._busy -= 1
                if not self._busy:
                    self._idle.notify_all()

    def offer(self, request: SearchRequest, served: Mapping[str, Any], *, image: Any = None,
              audio: Any = None) -> bool:
        """Queue this served request for the shadows if it falls in the sample; never
        blocks. Returns whether it was queued."""
        if not self.enabled or self._random.random() >= self.sample:
            return False
        summary = {"profile": served.get("profile"), "ids": [h["id"] for h in served["hits"]],
                   "total": served.get("total"),
                   "took_ms": served.get("took_ms", {}).get("total")}
        try:
            self.queue.put_nowait(_Job(request, summary, image, audio))
        except queue.Full:
            self.count("dropped")
            return False
        self.count("queued")
        self._ensure_thread()
        return True

    def _ensure_thread(self) -> None:
        with self._start:  # after a fork (gunicorn) the thread starts in the worker
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="shadow", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            job = self.queue.get()
            try:
                self.run(job)
            except Exception:  # a failed shadow never stops the next ones
                self.count("failed")
            finally:
                self.queue.task_done()

    def _wait_idle(self) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self._busy == 0)

    def run(self, job: _Job) -> dict[str, Any]:
        """Run every shadow profile for one job and log the line; returns it."""
        request = replace(job.request, explain=False, facets={}, weights={})
        served_ids = job.served["ids"]
        k = max(request.size, 1)
        shadows = []
        for name in self.profiles:
            self._wait_idle()
            try:
                profile = self.get_profile(name)
                result = self.search(request, profile, image=job.image, audio=job.audio)
            except Exception as e:  # this shadow failed; log why and go on
                shadows.append({"profile": name, "error": f"{type(e).__name__}: {e}"})
                continue
            ids = [h["id"] for h in result["hits"]]
            shadows.append({"profile": result["profile"], "ids": ids,
                            "total": result["total"],
                            "took_ms": result.get("took_ms", {}).get("total")}
                           | compare(served_ids, ids, k))
        line = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "q": request.text, "page": request.page, "size": request.size,
                "filter": request.filter,
                "modalities": [m for m, on in (("image", request.image),
                                               ("audio", request.audio)) if on],
                "served": job.served, "shadows": shadows}
        self.write(line)
        self.count("logged")
        return line

    def write(self, line: Mapping[str, Any]) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        data = (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")
        with open(self.log, "ab") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                f.write(data)
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until the queue is empty and its jobs ran (tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False
