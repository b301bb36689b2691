#!/usr/bin/env python
"""The session signal on simulated shopping sessions built from the dev judgments:
nDCG@10 of the later queries of a session with the signal on and off, with paired
tests (scipy), and the first query of each session (a shopper with no history yet)
to show the signal changes nothing there.

Sessions: fashion_text queries whose relevant sets (grade >= 1: same article type and
gender) are identical are related; each group, in a seeded random order, is cut into
sessions of up to --length queries. A simulated shopper searches each query of their
session in turn under the `on` profile, and clicks the relevant products (grade 2
first, then 1) among the top 10 they are shown, at most --clicks per query. The clicks
go to a real SQLite event store as UBI events (with user and session ids), and the
session vector of the next query is built from them by `hybrid.search.session`, as the
API does. `off` is the same profile without the session signal. The signal's weight
is fixed before the run (--weight), not tuned on these queries.

Needs an index with vectors in --field (fused_vector: `hybrid learn --fused-alpha`).
Prints a JSON object, then a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "dev"


def sessions_of(qs: Any, length: int, seed: int) -> list[list[Any]]:
    """Related judged queries (identical relevant sets) cut into sessions."""
    groups: dict[frozenset[str], list[Any]] = defaultdict(list)
    for q in qs.judged():
        groups[frozenset(d for d, g in qs.qrels[q.qid].items() if g > 0)].append(q)
    rng = np.random.default_rng(seed)
    out = []
    for key in sorted(groups, key=lambda k: min(q.qid for q in groups[k])):
        queries = sorted(groups[key], key=lambda q: q.qid)
        if len(queries) < 2:
            continue
        queries = [queries[i] for i in rng.permutation(len(queries))]
        out += [queries[i:i + length] for i in range(0, len(queries), length)
                if len(queries[i:i + length]) >= 2]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", default=str(REPO / "var" / "demo-index"))
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--task", default="fashion_text")
    ap.add_argument("--field", default="fused_vector", help="vectors the session is made of")
    ap.add_argument("--weight", type=float, default=0.3, help="the session signal's weight")
    ap.add_argument("--length", type=int, default=4, help="queries per session at most")
    ap.add_argument("--clicks", type=int, default=3, help="clicks per query at most")
    ap.add_argument("--limit", type=int, default=0, help="sessions (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from scipy import stats

    from hybrid.engines import open_engine
    from hybrid.evaluation.judgments import load_task
    from hybrid.learning.fused import ndcg_at_k
    from hybrid.planner.plan import SearchRequest
    from hybrid.planner.profile import KNN, SESSION, TEXT, Signal, default_profile
    from hybrid.search.events import SQLiteEventStore
    from hybrid.search.searcher import Searcher
    from hybrid.search.session import SessionVectors

    engine = open_engine("embedded", path=args.index)
    searcher = Searcher(engine)
    off = replace(default_profile(), name="off", signals=tuple(
        s for s in default_profile().signals if s.input == TEXT))
    on = replace(off, name="on", signals=off.signals + (
        Signal("session", KNN, SESSION, args.weight, args.field, f"stored:{args.field}"),))
    searcher.warm(off)
    qs = load_task(Path(args.data) / args.task)
    sessions = sessions_of(qs, args.length, args.seed)[:args.limit or None]
    later_on, later_off, first_on, first_off = [], [], [], []
    same_first = 0
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteEventStore(Path(tmp) / "events.sqlite")
        vectors = SessionVectors(store, engine)
        clock = 1_800_000_000.0
        for n, session in enumerate(sessions):
            user = f"shopper-{n}"
            for i, q in enumerate(session):
                clock += 30
                req = SearchRequest(text=q.text, size=10)
                given, unavailable = vectors.inputs(on, user, user, now=clock)
                shown = searcher.search(req, on, vectors=given, unavailable=unavailable)
                plain = searcher.search(req, off)
                gains = qs.qrels[q.qid]
                got = ndcg_at_k([h["id"] for h in shown["hits"]], gains)
                base = ndcg_at_k([h["id"] for h in plain["hits"]], gains)
                if i == 0:
                    first_on.append(got)
                    first_off.append(base)
                    same_first += [h["id"] for h in shown["hits"]] == \
                        [h["id"] for h in plain["hits"]]
                else:
                    later_on.append(got)
                    later_off.append(base)
                qid = f"{user}-{i}"
                store.log_query({"query_id": qid, "timestamp": clock, "user_query": q.text,
                                 "user_id": user, "session_id": user,
                                 "hits": [h["id"] for h in shown["hits"]]})
                liked = sorted((h for h in shown["hits"] if gains.get(h["id"], 0) > 0),
                               key=lambda h: -gains[h["id"]])[:args.clicks]
                store.add_events([{"event_id": f"{qid}-{h['id']}", "query_id": qid,
                                   "action_name": "click", "object_id": h["id"],
                                   "position": shown["hits"].index(h) + 1,
                                   "user_id": user, "session_id": user,
                                   "timestamp": clock + k} for k, h in enumerate(liked)])
            print(f"\rsession {n + 1}/{len(sessions)}", end="", file=sys.stderr)
    print(file=sys.stderr)
    searcher.pool.shutdown()
    diff = np.array(later_on) - np.array(later_off)
    result: dict[str, Any] = {
        "index": args.index, "task": args.task, "field": args.field, "weight": args.weight,
        "sessions": len(sessions), "later_queries": len(later_on),
        "later": {"on": float(np.mean(later_on)), "off": float(np.mean(later_off)),
                  "wins": int((diff > 1e-9).sum()), "losses": int((diff < -1e-9).sum()),
                  "t_test_p": float(stats.ttest_rel(later_on, later_off).pvalue),
                  "wilcoxon_p": float(stats.wilcoxon(later_on, later_off).pvalue)
                  if np.any(diff) else 1.0},
        "new_users": {"on": float(np.mean(first_on)), "off": float(np.mean(first_off)),
                      "queries": len(first_on), "identical_rankings": int(same_first)},
    }
    print(json.dumps(result, indent=2))
    later, new = result["later"], result["new_users"]
    print(f"\n{len(sessions)} sessions of {args.task} ({len(later_on)} later queries); "
          f"session signal on {args.field}, weight {args.weight}")
    print("| queries | session off | session on | wins / losses | paired t p | Wilcoxon p |")
    print("|---|---|---|---|---|---|")
    print(f"| later queries of a session | {later['off']:.4f} | {later['on']:.4f} | "
          f"{later['wins']} / {later['losses']} | {later['t_test_p']:.2g} | "
          f"{later['wilcoxon_p']:.2g} |")
    print(f"| new users (first query) | {new['off']:.4f} | {new['on']:.4f} | "
          f"{new['identical_rankings']}/{new['queries']} identical rankings | - | - |")


if __name__ == "__main__":
    main()
