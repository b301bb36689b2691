#!/usr/bin/env python
"""The fused product vector against the separate fields, in one run: nDCG@10 and p50
latency of three vector-only profiles on the dev text and image tasks.

- fused:    one k-NN on fused_vector (text queries: MiniLM; image queries: the aligned
            image encoder)
- separate: the default profile's vector signals fused at query time (text queries:
            text_vector by e5-small + image_text_vector by MiniLM; image queries:
            image_vector by EfficientNet + image_text_vector by the aligned encoder)
- both:     separate + fused, the fused signal at the weight of the separate ones

Each query is searched under the three profiles in turn (`Searcher.search`, encoding
included, encoders warmed first), so they share the machine's load; latency is the
search's own took_ms total. A fashion_image query's own product is left out of its
results. Needs an index with fused vectors (`hybrid learn --fused-alpha` writes them).
Prints a JSON object, then a table; a paired t-test (scipy) compares each profile's
per-query nDCG@10 with `separate`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "dev"
TASKS = ("fashion_text", "grocery_text", "fashion_image", "grocery_image")


def profiles() -> dict[str, Any]:
    from hybrid.planner.profile import IMAGE, KNN, TEXT, Profile, Signal, default_profile

    fused = (Signal("text:fused_vector", KNN, TEXT, 0.5, "fused_vector", "minilm"),
             Signal("image:fused_vector", KNN, IMAGE, 0.5, "fused_vector", "aligned-image"))
    separate = tuple(s for s in default_profile().signals
                     if s.kind == KNN and s.input in (TEXT, IMAGE))
    return {"fused": Profile("fused", fused), "separate": Profile("separate", separate),
            "both": Profile("both", separate + fused)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", default=str(REPO / "var" / "demo-index"))
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--limit", type=int, default=0, help="queries per task (0: all)")
    args = ap.parse_args()

    from scipy import stats

    from hybrid.encoders.image import load_image
    from hybrid.engines import open_engine
    from hybrid.evaluation.metrics import evaluate
    from hybrid.evaluation.suite import load_tasks
    from hybrid.planner.plan import SearchRequest
    from hybrid.search.searcher import Searcher

    engine = open_engine("embedded", path=args.index)
    if not engine.stats()["vectors"].get("fused_vector", {}).get("vectors"):
        sys.exit(f"{args.index} has no fused vectors: run hybrid learn --fused-alpha first")
    alpha = json.loads((Path(args.index) / "fused.json").read_text())["alpha"]
    searcher = Searcher(engine)
    chosen = profiles()
    for p in chosen.values():
        searcher.warm(p)
    runs: dict[str, dict[str, dict[str, float]]] = {name: {} for name in chosen}
    took: dict[str, list[float]] = {name: [] for name in chosen}
    kinds: list[str] = []  # text or image, per query in order
    qrels: dict[str, dict[str, int]] = {}
    per_task: dict[str, list[str]] = {}
    for qs in load_tasks(args.data, list(TASKS)):
        judged = qs.judged()[:args.limit or None]
        per_task[qs.name] = [q.qid for q in judged]
        for n, q in enumerate(judged):
            image = load_image(q.image) if q.image else None
            req = SearchRequest(text=q.text, image=image is not None, size=10 + len(q.exclude))
            qrels[q.qid] = qs.qrels[q.qid]
            kinds.append("image" if image is not None else "text")
            order = list(chosen)[n % 3:] + list(chosen)[:n % 3]  # who goes first rotates
            for name in order:
                res = searcher.search(req, chosen[name], image=image)
                took[name].append(res["took_ms"]["total"])
                hits = [h for h in res["hits"] if h["id"] not in q.exclude][:10]
                runs[name][q.qid] = {h["id"]: h["score"] for h in hits}
            print(f"\r{qs.name} {n + 1}/{len(judged)}", end="", file=sys.stderr)
        print(file=sys.stderr)
    result: dict[str, Any] = {"index": args.index, "alpha": alpha,
                              "queries": {t: len(v) for t, v in per_task.items()},
                              "profiles": {}}
    per_query = {}
    for name in chosen:
        means, pq = evaluate(qrels, runs[name], ["ndcg@10"])
        per_query[name] = pq["ndcg@10"]
        tasks = {t: float(np.mean([pq["ndcg@10"][q] for q in ids]))
                 for t, ids in per_task.items() if ids}
        result["profiles"][name] = {"ndcg@10": means["ndcg@10"], "tasks": tasks,
                                    "p50_ms": float(np.median(took[name])),
                                    "p95_ms": float(np.percentile(took[name], 95)),
                                    **{f"p50_{kind}_ms": float(np.median(
                                        [t for t, k in zip(took[name], kinds, strict=True)
                                         if k == kind])) for kind in sorted(set(kinds))},
                                    "signals": [s.name for s in chosen[name].signals]}
    base = per_query["separate"]
    for name in ("fused", "both"):
        qids = sorted(base)
        t = stats.ttest_rel([per_query[name][q] for q in qids], [base[q] for q in qids])
        result["profiles"][name]["p_vs_separate"] = float(t.pvalue)
    searcher.pool.shutdown()
    print(json.dumps(result, indent=2))
    print(f"\nfused alpha {alpha}; queries: " + ", ".join(f"{t} {n}" for t, n in
                                                       result["queries"].items()))
    print("| profile | nDCG@10 | " + " | ".join(per_task)
          + " | p50 ms | p50 ms, text queries | p50 ms, image queries | p vs separate |")
    print("|---|---|" + "---|" * len(per_task) + "---|---|---|---|")
    for name, r in result["profiles"].items():
        print(f"| {name} | {r['ndcg@10']:.4f} | "
              + " | ".join(f"{r['tasks'][t]:.4f}" for t in per_task)
              + f" | {r['p50_ms']:.1f} | {r.get('p50_text_ms', 0):.1f} | "
              f"{r.get('p50_image_ms', 0):.1f} | "
              + (f"{r['p_vs_separate']:.2g}" if "p_vs_separate" in r else "-") + " |")


if __name__ == "__main__":
    main()
