#!/usr/bin/env python
"""The default profile's photo rule: fit its catalog-photo detector on the dev photo
queries and check what the rule does to nDCG@10.

The two dev photo tasks are the two kinds of photo a shop gets: fashion_image queries
are catalog photos (studio shots of a product), grocery_image queries are phone photos
taken in a shop. The detector is a logistic regression (L2, as scikit-learn's with
C = 100) of "catalog photo" on the photo's own result features
(`hybrid.planner.profile.CATALOG_PHOTO.features`, standardised), fitted by scipy. The
rule sends a catalog photo to the aligned image signal and any other photo to the raw
image features (`PHOTO_WEIGHTS`). Printed:

- the detector's numbers, to be copied into `CATALOG_PHOTO` when they change;
- nDCG@10 on each photo task for each image signal alone, the rule with the detector in
  `hybrid.planner.profile` (what ships), the rule with the detector just fitted, and the
  rule cross-validated (5 folds: each query ranked by a detector fitted without it),
  which says how much of the in-sample number is fitted to these queries.

Runs on the demo index (`make demo` builds var/demo-index); sub-query results are
collected once and cached under var/cache/eval, as `benchmarks/learned_fusion.py` does.

    .venv/bin/python benchmarks/photo_rule.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "dev"
TASKS = ("fashion_image", "grocery_image")  # catalog photos, other photos
IMAGE = ("image:image_vector", "image:image_text_vector")
C = 100.0


def fit_logistic(x: np.ndarray, y: np.ndarray, c: float = C) -> tuple[np.ndarray, float]:
    """Minimise 0.5 |w|^2 + c * sum(log loss), as scikit-learn's LogisticRegression(C=c)."""
    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        z = x @ w + b
        p = 1 / (1 + np.exp(-z))
        nll = np.sum(np.logaddexp(0, z) - y * z)
        grad = x.T @ (p - y)
        return 0.5 * w @ w + c * nll, np.append(w + c * grad, c * np.sum(p - y))
    theta = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B").x
    return theta[:-1], float(theta[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", default=str(REPO / "var" / "demo-index"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--json", help="also write the JSON here")
    args = ap.parse_args()

    from hybrid.engines import open_engine
    from hybrid.evaluation.collect import collect, stderr_progress
    from hybrid.evaluation.offline import run_of
    from hybrid.evaluation.suite import load_tasks, score_runs, single_signal
    from hybrid.planner.profile import CATALOG_PHOTO, PhotoDetector, default_profile, detector_rule
    from hybrid.search.searcher import Searcher

    if not (Path(args.index) / "mapping.json").exists():
        sys.exit(f"no index at {args.index}: run `make demo` first (it builds var/demo-index)")
    searcher = Searcher(open_engine("embedded", path=args.index))
    base = default_profile()
    tasks = load_tasks(DATA, TASKS)
    collected = {qs.name: collect(searcher, qs, base, cache_dir=REPO / "var" / "cache" / "eval",
                                  progress=stderr_progress(qs.name)) for qs in tasks}
    keys = [(t, q) for t in TASKS for q in collected[t]]
    names = CATALOG_PHOTO.features
    x = np.array([[collected[t][q].features(list(IMAGE)).get(f, 0.0) for f in names]
                  for t, q in keys])
    y = np.array([t == TASKS[0] for t, _ in keys], dtype=float)

    def detector(rows: np.ndarray) -> PhotoDetector:
        mean, scale = x[rows].mean(axis=0), x[rows].std(axis=0)
        w, b = fit_logistic((x[rows] - mean) / scale, y[rows])
        return PhotoDetector(names, tuple(round(float(v), 4) for v in mean),
                             tuple(round(float(v), 4) for v in scale),
                             tuple(round(float(v), 2) for v in w), round(b, 2))

    def ndcg(runs: dict[str, dict[str, dict[str, float]]]) -> dict[str, float]:
        s = score_runs(tasks, {"x": runs}, "x", ["ndcg@10"])
        return {t: round(s["tasks"][t]["profiles"]["x"]["means"]["ndcg@10"], 4) for t in TASKS}

    def rule(d: PhotoDetector) -> dict[str, float]:
        p = replace(base, model=detector_rule(d))
        return ndcg({t: run_of(collected[t], p) for t in TASKS})

    fitted = detector(np.arange(len(keys)))
    folds = np.random.default_rng(0).integers(0, args.folds, len(keys))
    cv: dict[str, dict[str, dict[str, float]]] = {t: {} for t in TASKS}
    wrong = 0
    for k in range(args.folds):
        d = detector(np.flatnonzero(folds != k))
        p = replace(base, model=detector_rule(d))
        for i in np.flatnonzero(folds == k):
            t, q = keys[i]
            cv[t] |= run_of({q: collected[t][q]}, p)
            z = (x[i] - np.array(d.mean)) / np.array(d.scale) @ np.array(d.coef) + d.intercept
            wrong += int((z > 0) != bool(y[i]))
    out = {
        "detector fitted": fitted._asdict(),
        "queries": {t: len(collected[t]) for t in TASKS},
        "misdetected photos, cross-validated": wrong,
        "ndcg@10": {**{f"{s} alone": ndcg({t: run_of(collected[t], single_signal(base, s))
                                           for t in TASKS}) for s in IMAGE},
                    "rule, shipped detector": rule(CATALOG_PHOTO),
                    "rule, detector fitted now": rule(fitted),
                    f"rule, {args.folds}-fold cross-validated": ndcg(cv)}}
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    print(f"\n{'nDCG@10':40s} " + " ".join(f"{t:>14s}" for t in TASKS))
    for label, row in out["ndcg@10"].items():
        print(f"{label:40s} " + " ".join(f"{row[t]:14.4f}" for t in TASKS))
    print(f"\nphotos misdetected, cross-validated: {wrong} of {len(keys)}")
    print(f"detector: {fitted}")


if __name__ == "__main__":
    main()
