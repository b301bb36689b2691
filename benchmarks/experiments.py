#!/usr/bin/env python
"""How many searches an online experiment needs: A/B tests against interleaving.

Two pairs of BM25 profiles on the shared catalog (7,116 products, lexical index built
here, no vectors): the search fields of the mapping against titles alone (a large gap
in offline nDCG@10), and the mapping's field boosts against all boosts at 1 (a small
gap). Each profile's top 10 for the 210 fashion_text dev queries is computed once by
the planner (`Searcher.search`); then, per seed, simulated users search random queries
and click by the position-based model of `hybrid simulate` (rank k examined with
probability 1/k, clicked by grade with 0.05 / 0.5 / 0.9):
- A/B: each search goes to one profile at random; tested after every `--step`
  searches with the two-proportion z test on CTR and with Welch's t test on MRR;
- interleaving: each search shows the team-draft interleaving of both top 10s; the
  wins are sign-tested.
Users are alike (every one clicks by the model), or differ: each search's click
probabilities are scaled by the user's propensity, drawn from Gamma(0.5, 2) (mean 1; many
users rarely click, a few click much more), which A/B tests see as noise and
interleaving cancels within each search.
A method "needs" n searches when its test first gives p < 0.05 with the profile of the
higher offline nDCG ahead (checked at every step, as a dashboard would). Prints JSON,
then a table of the median over seeds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"
EXAMINE = 1.0 / np.arange(1, 11)
CLICK = np.array([0.05, 0.5, 0.9])
USERS = ("alike", "differ")  # differ: each user's click probabilities times Gamma(0.5, 2)


def propensity(rng: np.random.Generator, users: str, n: int) -> np.ndarray:
    """Per search, how much more (or less) than the model this user clicks (mean 1)."""
    return rng.gamma(0.5, 2.0, n) if users == "differ" else np.ones(n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", help="a lexical index of the shared catalog (default: build "
                    "one in a temporary folder)")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--max-searches", type=int, default=40_000)
    ap.add_argument("--step", type=int, default=50)
    args = ap.parse_args()

    from hybrid.evaluation.judgments import load_task
    from hybrid.evaluation.metrics import evaluate

    with tempfile.TemporaryDirectory() as tmp:
        index = Path(args.index) if args.index else build_index(Path(tmp) / "index")
        task = load_task(DATA / "dev" / "fashion_text")
        queries = [q for q in task.queries if q.text]
        profiles = bm25_profiles(index)
        tops = {name: top10(index, p, [q.text for q in queries]) for name, p in profiles.items()}
    grades = {name: np.array([[task.qrels.get(q.qid, {}).get(d, 0) for d in (r + [""] * 10)[:10]]
                              for q, r in zip(queries, ranked, strict=True)])
              for name, ranked in tops.items()}
    ndcg = {name: evaluate(task.qrels, {q.qid: {d: 1.0 / k for k, d in enumerate(r, 1)}
                                        for q, r in zip(queries, ranked, strict=True)},
                           ["ndcg@10"])[0]["ndcg@10"] for name, ranked in tops.items()}
    pairs = [("titles only", "mapping fields"), ("boosts at 1", "mapping fields")]
    out: dict[str, Any] = {"queries": len(queries), "seeds": args.seeds,
                           "max_searches": args.max_searches, "step": args.step,
                           "ndcg@10": ndcg, "pairs": []}
    for (a, b), users in [(p, u) for p in pairs for u in USERS]:
        better = 1 if ndcg[b] > ndcg[a] else 0
        needed: dict[str, list[int | None]] = {"ab_ctr": [], "ab_mrr": [], "interleaving": []}
        t = time.perf_counter()
        for seed in range(args.seeds):
            ab_ctr, ab_mrr = ab_test(grades[a], grades[b], better, seed, users, args)
            needed["ab_ctr"].append(ab_ctr)
            needed["ab_mrr"].append(ab_mrr)
            needed["interleaving"].append(interleaving(tops[a], tops[b], queries, task.qrels,
                                                       better, seed, users, args))
        out["pairs"].append({"a": a, "b": b, "users": users, "ndcg_a": ndcg[a],
                             "ndcg_b": ndcg[b], "seconds": round(time.perf_counter() - t, 1),
                             "needed": needed, "median": {m: median(v) for m, v in
                                                          needed.items()}})
    print(json.dumps(out, indent=2))
    print(table(out))


def build_index(path: Path) -> Path:
    from hybrid.catalog import FieldMapping, iter_catalog
    from hybrid.engines.embedded import EmbeddedEngine

    mapping = FieldMapping.load(REPO / "mappings" / "catalog-shared.json")
    engine = EmbeddedEngine(path)
    docs = [p.to_dict() for p in iter_catalog(DATA / "catalog" / "products.jsonl", mapping)]
    for i in range(0, len(docs), 2000):
        engine.add(docs[i:i + 2000])
    engine.commit()
    engine.close()
    return path


def bm25_profiles(index: Path) -> dict[str, Any]:
    from hybrid.engines.embedded import EmbeddedEngine
    from hybrid.planner.profile import default_profile

    base = default_profile()
    bm25 = next(s for s in base.signals if s.name == "bm25")
    with EmbeddedEngine(index) as engine:
        fields = dict(engine.schema.search_fields)
    return {name: replace(base, name=name.replace(" ", "-"), signals=(replace(bm25, fields=f),))
            for name, f in [("mapping fields", None), ("titles only", {"title": 3.0}),
                            ("boosts at 1", dict.fromkeys(fields, 1.0))]}


def top10(index: Path, profile: Any, texts: list[str]) -> list[list[str]]:
    from hybrid.engines.embedded import EmbeddedEngine
    from hybrid.planner.plan import parse_request
    from hybrid.search.searcher import Searcher

    with EmbeddedEngine(index) as engine:
        searcher = Searcher(engine)
        return [[h["id"] for h in searcher.search(parse_request({"q": t, "size": 10},
                                                                engine.schema), profile)["hits"]]
                for t in texts]


def ab_test(ga: np.ndarray, gb: np.ndarray, better: int, seed: int, users: str, args: Any
            ) -> tuple[int | None, int | None]:
    """Searches until the CTR z test, and the MRR t test, first show the better side."""
    from hybrid.experiments import stats

    rng = np.random.default_rng(seed)
    n = args.max_searches
    side = rng.integers(0, 2, n)
    grades = np.where(side[:, None] == 0, ga[rng.integers(0, len(ga), n)],
                      gb[rng.integers(0, len(gb), n)])
    attract = np.minimum(1.0, propensity(rng, users, n)[:, None] * CLICK[grades])
    clicks = (rng.random((n, 10)) < EXAMINE) & (rng.random((n, 10)) < attract)
    clicked = clicks.any(axis=1)
    rr = np.where(clicked, 1.0 / (clicks.argmax(axis=1) + 1), 0.0)
    found: list[int | None] = [None, None]
    for m in range(args.step, n + 1, args.step):
        s, c, r = side[:m], clicked[:m], rr[:m]
        mine, other = s == better, s != better
        if found[0] is None and c[mine].mean() > c[other].mean():
            p = stats.two_proportions(int(c[mine].sum()), int(mine.sum()),
                                      int(c[other].sum()), int(other.sum()))
            if p is not None and p < 0.05:
                found[0] = m
        if found[1] is None and r[mine].mean() > r[other].mean():
            p = stats.welch(r[mine], r[other])
            if p is not None and p < 0.05:
                found[1] = m
        if None not in found:
            break
    return found[0], found[1]


def interleaving(ra: list[list[str]], rb: list[list[str]], queries: list[Any], qrels: Any,
                 better: int, seed: int, users: str, args: Any) -> int | None:
    from hybrid.experiments import stats
    from hybrid.experiments.interleaving import credit, outcome, team_draft

    rng = np.random.default_rng(seed)
    wins = [0, 0]
    user = propensity(rng, users, args.max_searches)
    for m in range(1, args.max_searches + 1):
        i = int(rng.integers(len(queries)))
        shown = team_draft([ra[i], rb[i]], 10, rng)
        g = np.array([qrels.get(queries[i].qid, {}).get(d, 0) for d, _ in shown], int)
        k = len(g)
        attract = np.minimum(1.0, user[m - 1] * CLICK[g])
        clicked = np.flatnonzero((rng.random(k) < EXAMINE[:k]) & (rng.random(k) < attract)) + 1
        best = outcome(credit([t for _, t in shown], clicked.tolist(), 2))
        if best is not None:
            wins[best] += 1
        if m % args.step == 0 and wins[better] > wins[1 - better]:
            p = stats.sign_test(wins[better], wins[1 - better])
            if p is not None and p < 0.05:
                return m
    return None


def median(values: list[int | None]) -> float | None:
    """Median over seeds, a seed that never reached p < 0.05 counting as infinite."""
    x = sorted(np.inf if v is None else v for v in values)
    m = float(np.median(x))
    return None if np.isinf(m) else m


def table(out: dict[str, Any]) -> str:
    lines = [f"searches to p < 0.05 (median of {out['seeds']} seeds, checked every "
             f"{out['step']}, at most {out['max_searches']:,}; fashion_text, "
             f"{out['queries']} queries)", "",
             f"{'pair (nDCG@10)':<48}{'users':>8}{'A/B, CTR':>12}{'A/B, MRR':>12}"
             f"{'interleaving':>14}{'A/B MRR / interleaving':>24}"]
    for p in out["pairs"]:
        label = f"{p['a']} ({p['ndcg_a']:.3f}) vs {p['b']} ({p['ndcg_b']:.3f})"
        med = p["median"]
        most = f">{out['max_searches']:,}"
        cells = [most if med[k] is None else f"{med[k]:,.0f}"
                 for k in ("ab_ctr", "ab_mrr", "interleaving")]
        ratio = "-" if not med["interleaving"] else (
            f"{med['ab_mrr'] / med['interleaving']:.1f}x" if med["ab_mrr"] else
            f">{out['max_searches'] / med['interleaving']:.0f}x")
        lines.append(f"{label:<48}{p['users']:>8}{cells[0]:>12}{cells[1]:>12}{cells[2]:>14}{ratio:>24}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
