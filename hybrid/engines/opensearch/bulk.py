"""`_bulk` in batches, with retry and backoff on 429 and 5xx, one result per action.

An action is (action line, body line or None), e.g.
    ({"index": {"_id": "p1"}}, {"title": ...}) or ({"delete": {"_id": "p1"}}, None).
A whole request that fails with 429, a 5xx or a lost connection is sent again after
a backoff; so are the single items that come back 429 or 5xx. Every other item error
is returned with its status, type and reason; the good items are kept.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hybrid.errors import EngineError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
Action = tuple[dict[str, Any], dict[str, Any] | None]


@dataclass(frozen=True)
class BulkPolicy:
    max_actions: int = 1000        # per request
    max_bytes: int = 8_000_000     # per request body, roughly
    retries: int = 5               # per request and per item
    backoff: float = 0.5           # seconds, doubled each time, at most max_backoff
    max_backoff: float = 8.0


def batches(actions: Sequence[Action], policy: BulkPolicy) -> list[list[int]]:
    """Indices of `actions` grouped into requests within the count and size limits."""
    out: list[list[int]] = []
    current: list[int] = []
    size = 0
    for i, (head, body) in enumerate(actions):
        n = len(json.dumps(head)) + (len(json.dumps(body)) if body is not None else 0) + 2
        if current and (len(current) >= policy.max_actions or size + n > policy.max_bytes):
            out.append(current)
            current, size = [], 0
        current.append(i)
        size += n
    if current:
        out.append(current)
    return out


def item_error(item: dict[str, Any]) -> str:
    """'<type>: <reason>' of a failed bulk item."""
    err = item.get("error")
    if isinstance(err, dict):
        reason = f"{err.get('type', 'error')}: {err.get('reason', '')}".strip()
        cause = err.get("caused_by")
        if isinstance(cause, dict) and cause.get("reason"):
            reason += f" ({cause['reason']})"
        return reason
    return str(err or f"status {item.get('status')}")


def send(client: Any, index: str, actions: Sequence[Action],
         policy: BulkPolicy | None = None, sleep: Callable[[float], None] = time.sleep
         ) -> list[dict[str, Any]]:
    """Send `actions` to `index`; returns each action's item ({"status", "_id",
    "result" or "error", ...}) in order."""
    from opensearchpy.exceptions import ConnectionError as OSConnectionError
    from opensearchpy.exceptions import TransportError

    policy = policy or BulkPolicy()
    results: list[dict[str, Any] | None] = [None] * len(actions)
    pending = list(range(len(actions)))
    for attempt in range(policy.retries + 1):
        retry: list[int] = []
        for group in batches([actions[i] for i in pending], policy):
            ids = [pending[j] for j in group]
            lines: list[dict[str, Any]] = []
            for i in ids:
                head, body = actions[i]
                lines.append(head)
                if body is not None:
                    lines.append(body)
            try:
                resp = client.bulk(body=lines, index=index)
            except (OSConnectionError, TransportError) as e:
                status = getattr(e, "status_code", None)
                if isinstance(status, int) and status not in RETRY_STATUSES:
                    raise EngineError(f"bulk request refused ({status}): {e}") from e
                retry += ids
                for i in ids:
                    results[i] = {"status": status or 503, "error": {"type": type(e).__name__,
                                                                     "reason": str(e)}}
                continue
            for i, entry in zip(ids, resp["items"], strict=True):
                (item,) = entry.values()
                results[i] = item
                if item.get("status") in RETRY_STATUSES:
                    retry.append(i)
        if not retry or attempt == policy.retries:
            break
        sleep(min(policy.max_backoff, policy.backoff * 2 ** attempt))
        pending = retry
    return [r or {"status": 0, "error": "not sent"} for r in results]
