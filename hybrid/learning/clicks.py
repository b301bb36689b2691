"""Relevance from click logs, corrected for position bias. Pure: numpy only.

Events follow the User Behavior Insights (UBI) schema: one record per action, with the
`query_id` of the search it belongs to, `action_name` ("impression" for a shown
result, "click"), `object_id` (the product) and `position` (1-based). Which query a
search was is given by `user_query` on the events (or a map from query_id).

The position-based model (PBM) explains a click as examination x attraction:
P(click | query q, document d at rank k) = theta_k * gamma_qd. EM estimates both from
logs in which the same document was shown at different ranks (logs of several
rankers, as A/B tests and interleaving produce); gamma is the bias-corrected relevance
that `hybrid learn --clicks` fits the weights to.

`simulate` makes such logs from judgments, for testing the whole path: a user examines
rank k with probability (1/k)^eta and clicks an examined result with a probability
set by its grade.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from hybrid.errors import HybridError

CLICK_PROB = {0: 0.05, 1: 0.5, 2: 0.9}


class ClickError(HybridError):
    """A click log cannot be used."""


def sessions(events: Iterable[Mapping[str, Any]], query_of: Mapping[str, str] | None = None
             ) -> list[tuple[str, list[tuple[int, str, bool]]]]:
    """Group events by query_id: (query, [(position, doc, clicked)]) per search."""
    shown: dict[str, dict[int, str]] = {}
    clicked: dict[str, set[int]] = {}
    query: dict[str, str] = dict(query_of or {})
    for n, e in enumerate(events, 1):
        try:
            qid, action = str(e["query_id"]), str(e["action_name"])
            doc, pos = str(e["object_id"]), int(e["position"])
        except (KeyError, TypeError, ValueError) as err:
            raise ClickError(f"event {n}: needs query_id, action_name, object_id and "
                             f"position ({err})") from err
        if e.get("user_query"):
            query.setdefault(qid, str(e["user_query"]))
        shown.setdefault(qid, {})[pos] = doc
        if action == "click":
            clicked.setdefault(qid, set()).add(pos)
    out = []
    for qid, positions in shown.items():
        if qid not in query:
            raise ClickError(f"search {qid!r} has no user_query and no entry in the query map")
        out.append((query[qid], [(p, d, p in clicked.get(qid, set()))
                                 for p, d in sorted(positions.items())]))
    return out


def estimate_pbm(searches: Sequence[tuple[str, list[tuple[int, str, bool]]]],
                 iterations: int = 100, depth: int = 10
                 ) -> tuple[np.ndarray, dict[str, dict[str, float]]]:
    """EM for the position-based model: (theta per rank 1..depth, gamma[query][doc])."""
    pairs: dict[tuple[str, str], int] = {}
    rows = []
    for query, shown in searches:
        for pos, doc, click in shown:
            if 1 <= pos <= depth:
                rows.append((pos - 1, pairs.setdefault((query, doc), len(pairs)), click))
    if not rows:
        raise ClickError(f"no impressions within the first {depth} positions")
    rank = np.array([r[0] for r in rows])
    pair = np.array([r[1] for r in rows])
    clicked = np.array([r[2] for r in rows], dtype=float)
    theta = np.full(depth, 0.5)
    gamma = np.full(len(pairs), 0.5)
    for _ in range(iterations):
        t, g = theta[rank], gamma[pair]
        denom = np.maximum(1 - t * g, 1e-12)
        # posterior that the result was examined / attractive, given the click or not
        exam = clicked + (1 - clicked) * t * (1 - g) / denom
        attr = clicked + (1 - clicked) * g * (1 - t) / denom
        theta = np.bincount(rank, exam, depth) / np.maximum(np.bincount(rank, None, depth), 1)
        gamma = np.bincount(pair, attr, len(pairs)) / np.bincount(pair, None, len(pairs))
    # theta and gamma are known up to a common factor: the top result is taken as
    # always examined (theta_1 = 1)
    if theta[0] > 0:
        gamma = np.clip(gamma * theta[0], 0.0, 1.0)
        theta = theta / theta[0]
    labels: dict[str, dict[str, float]] = {}
    for (query, doc), i in pairs.items():
        labels.setdefault(query, {})[doc] = float(gamma[i])
    return theta, labels


def naive_ctr(searches: Sequence[tuple[str, list[tuple[int, str, bool]]]]
              ) -> dict[str, dict[str, float]]:
    """Clicks per impression, with no correction (what position bias misleads)."""
    seen: dict[tuple[str, str], list[int]] = {}
    for query, shown in searches:
        for _, doc, click in shown:
            seen.setdefault((query, doc), []).append(int(click))
    out: dict[str, dict[str, float]] = {}
    for (query, doc), c in seen.items():
        out.setdefault(query, {})[doc] = sum(c) / len(c)
    return out


def simulate(rankings: Mapping[str, Sequence[Sequence[str]]],
             qrels: Mapping[str, Mapping[str, int]],
             per_query: int = 50, eta: float = 1.0, depth: int = 10,
             click_prob: Mapping[int, float] = CLICK_PROB, seed: int = 0
             ) -> list[dict[str, Any]]:
    """UBI events of `per_query` searches per query; each search shows one of the
    query's logged rankings (chosen at random) and clicks by the PBM above."""
    rng = np.random.default_rng(seed)
    events: list[dict[str, Any]] = []
    top = max(click_prob)
    for query, options in rankings.items():
        for s in range(per_query):
            ranking = list(options[int(rng.integers(len(options)))])[:depth]
            search = f"{query}#{s}"
            for k, doc in enumerate(ranking, start=1):
                grade = min(int(qrels.get(query, {}).get(doc, 0)), top)
                base = {"query_id": search, "user_query": query, "object_id": doc,
                        "position": k}
                events.append(base | {"action_name": "impression"})
                if rng.random() < (1.0 / k) ** eta and rng.random() < click_prob.get(grade, 0):
                    events.append(base | {"action_name": "click"})
    return events
