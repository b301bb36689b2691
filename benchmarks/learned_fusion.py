#!/usr/bin/env python
"""nDCG@10 on every dev task: each signal alone, static fusions, and learned fusion
(global weights and query-dependent weights, 5-fold cross-validated), plus learning from
simulated clicks against learning from the judgments themselves.

Learned rows are fitted on each task's own queries, as a shop fits weights on its own
catalog and traffic; the last row fits one profile for all tasks together. Learned
profiles fall back to the static default for queries unlike their training queries
(`hybrid.planner.adaptive.Fallback`); one row shows learning without that fallback.

Cross-task rows: a profile learned on all queries of one task scores the queries of
another kind of task (say fashion_text -> spoken), against the static default there:
with the fallback it should not be worse.

Spoken queries are transcribed with the catalog's vocabulary as Whisper's prompt
(`hybrid.search.vocabulary`); the spoken task is also collected without it, and the
last table compares the two.

Runs on an index of the shared catalog with its vectors (`make demo` builds
var/demo-index). Sub-query results are collected once per task and cached under
var/cache/eval; every metric is computed by ranx. Prints a JSON object, then tables.

Simulated clicks: for every dev query, 50 searches, each showing the top 10 of one of
three logging rankers (BM25 or the first image signal alone, and the default
profile); a user examines rank k with probability 1/k and clicks an examined result
with probability 0.05 / 0.5 / 0.9 by its grade (0 / 1 / 2). A position-based model fit
by EM turns the clicks into relevance, which `learn` fits weights to.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "dev"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", default=str(REPO / "var" / "demo-index"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--sessions", type=int, default=50, help="simulated searches per query")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-vocabulary-check", action="store_true",
                    help="skip collecting the spoken task again without the vocabulary prompt")
    args = ap.parse_args()

    from hybrid.engines import open_engine
    from hybrid.evaluation.collect import collect, stderr_progress
    from hybrid.evaluation.suite import learn, load_tasks, score_runs, single_signal, static_runs
    from hybrid.learning.clicks import estimate_pbm, sessions, simulate
    from hybrid.planner.profile import default_profile
    from hybrid.search.searcher import Searcher

    if not (Path(args.index) / "mapping.json").exists():
        sys.exit(f"no index at {args.index}: run `make demo` first (it builds var/demo-index)")
    searcher = Searcher(open_engine("embedded", path=args.index))
    base = default_profile()
    tasks = load_tasks(DATA)
    collected = {qs.name: collect(searcher, qs, base, cache_dir=REPO / "var" / "cache" / "eval",
                                  progress=stderr_progress(qs.name)) for qs in tasks}
    ran = {s for c in collected.values() for r in c.values() for s in r.results}
    signals = [s.name for s in base.signals if s.name in ran]
    statics = {"default": base,
               "previous default": previous_default(base),
               "equal weights": replace(base, name="equal", signals=tuple(
                   replace(s, weight=1.0) for s in base.signals)),
               "rrf": replace(base, name="rrf", combiner="rrf", signals=tuple(
                   replace(s, weight=1.0) for s in base.signals))}
    profiles = {f"{s} alone": single_signal(base, s) for s in signals} | statics
    runs = static_runs(collected, profiles)
    scored = score_runs(tasks, runs, "default", ["ndcg@10"])
    best_static = max(statics, key=lambda k: scored["overall"]["profiles"][k]["means"]
                      ["ndcg@10"])
    judgments = {qs.name: qs.qrels for qs in tasks}

    def per_task(labels: dict[str, Any], per_query: bool = False) -> tuple[dict[str, Any],
                                                                            dict[str, Any]]:
        """A profile learned on each task's own queries (as a shop learns on its own
        catalog), cross-validated within the task."""
        runs_: dict[str, Any] = {}
        reports = {}
        for qs in tasks:
            got = learn(base, {qs.name: collected[qs.name]}, {qs.name: labels[qs.name]},
                        per_query=per_query, k=args.folds, seed=args.seed)
            runs_.update(got.runs)
            reports[qs.name] = got.profile.to_dict()
        return runs_, reports

    glob_runs, glob_profiles = per_task(judgments)
    perq_runs, perq_profiles = per_task(judgments, per_query=True)
    bare_runs: dict[str, Any] = {}
    for qs in tasks:
        bare_runs.update(learn(base, {qs.name: collected[qs.name]},
                               {qs.name: judgments[qs.name]}, k=args.folds, seed=args.seed,
                               fallback=False).runs)
    joint = learn(base, collected, judgments, k=args.folds, seed=args.seed, name="learned")
    runs[f"best static ({best_static})"] = runs[best_static]
    runs["learned global (cv)"] = glob_runs
    runs["learned per-query (cv)"] = perq_runs
    runs["learned global, no fallback (cv)"] = bare_runs
    runs["learned global, one for all tasks (cv)"] = joint.runs

    # learning from simulated clicks, logged by three rankers
    loggers = [profiles[f"{signals[0]} alone"], base]
    image_alone = next((s for s in signals if s.startswith("image:")), None)
    if image_alone:
        loggers.append(profiles[f"{image_alone} alone"])
    logged_runs = static_runs(collected, {p.name: p for p in loggers})
    click_labels: dict[str, dict[str, dict[str, float]]] = {}
    for qs in tasks:
        rankings = {q: [sorted(run[qs.name].get(q, {}), key=lambda d, r=run[qs.name][q]:
                               -r[d])[:10] for run in logged_runs.values()]
                    for q in collected[qs.name]}
        events = simulate(rankings, qs.qrels, per_query=args.sessions, seed=args.seed)
        _, gamma = estimate_pbm(sessions(events))
        click_labels[qs.name] = gamma
    runs["learned global from clicks (cv)"], _ = per_task(click_labels)

    order = [*profiles, f"best static ({best_static})", "learned global (cv)",
             "learned per-query (cv)", "learned global, no fallback (cv)",
             "learned global from clicks (cv)",
             "learned global, one for all tasks (cv)"]
    result = score_runs(tasks, {k: runs[k] for k in order}, "default")
    out = _summary(result, order, best_static)
    out["checks"] += _against(tasks, runs, f"best static ({best_static})",
                              ["learned global (cv)", "learned per-query (cv)"])
    out["profiles"] = {"learned global, per task": glob_profiles,
                       "learned per-query, per task": {
                           t: p["meta"]["training"] for t, p in perq_profiles.items()}}
    out["checks"] += _default_vs_singles(out["ndcg@10"], list(result["tasks"]))
    cross = cross_task(base, tasks, collected, judgments, args.seed)
    out["cross_task"] = cross
    spoken = None
    if not args.no_vocabulary_check and any(qs.name == "spoken" for qs in tasks):
        spoken = vocabulary_check(args.index, base, next(qs for qs in tasks
                                                         if qs.name == "spoken"),
                                  collected["spoken"], profiles)
        out["spoken_vocabulary"] = spoken
    print(json.dumps(out, indent=2))
    print()
    print(_table(result, order))
    print()
    print(_cross_table(cross))
    if spoken:
        print()
        print(_spoken_table(spoken))
    print()
    for line in out["checks"]:
        print(line)


def previous_default(base: Any) -> Any:
    """The default profile as it was before 2026-11-30: fixed weights for every query,
    MiniLM run on every text."""
    from hybrid.planner.profile import Profile

    old = {"bm25": 0.3, "text:text_vector": 0.4, "text:image_text_vector": 0.3,
           "image:image_vector": 0.5, "image:image_text_vector": 0.5,
           "audio:audio_vector": 0.2}
    d = base.to_dict()
    d.pop("model", None)
    d["name"] = "previous-default"
    d["normalizer"], d["combiner"] = "min_max", "arithmetic_mean"
    for s in d["signals"]:
        s["weight"] = old.get(s["name"], 0.0)
        s.pop("scripts", None)
    return Profile.from_dict(d)


CROSS = (("fashion_text", "spoken"), ("fashion_text", "grocery_text"),
         ("spoken", "fashion_text"), ("spoken", "grocery_text"),
         ("grocery_text", "fashion_text"), ("fashion_image", "grocery_image"),
         ("grocery_image", "fashion_image"))


def cross_task(base: Any, tasks: list[Any], collected: dict[str, Any],
               judgments: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    """Learn on all queries of one task, score another kind: static default, learned
    without and with the fallback (global weights, and per-query weights)."""
    from hybrid.evaluation.metrics import compare
    from hybrid.evaluation.offline import run_of
    from hybrid.evaluation.suite import learn

    names = {qs.name: qs for qs in tasks}
    rows = []
    for train, test in CROSS:
        if train not in names or test not in names:
            continue
        fits = {
            "learned global, no fallback": learn(base, {train: collected[train]},
                                                 {train: judgments[train]}, seed=seed,
                                                 fallback=False).profile,
            "learned global": learn(base, {train: collected[train]},
                                    {train: judgments[train]}, seed=seed).profile,
            "learned per-query": learn(base, {train: collected[train]},
                                       {train: judgments[train]}, seed=seed,
                                       per_query=True).profile}
        runs = {"default (static)": run_of(collected[test], base)} | {
            label: run_of(collected[test], p) for label, p in fits.items()}
        got = compare(names[test].qrels, runs, "default (static)", ["ndcg@10"])
        row: dict[str, Any] = {"train": train, "test": test}
        for label in runs:
            c = got.get(label, {}).get("ndcg@10")
            row[label] = round(float(c["mean"] if c else got_mean(names[test].qrels,
                                                                  runs[label])), 4)
            if c:
                row[f"{label} p"] = round(float(c["p_value"]), 4)
        rows.append(row)
    return rows


def got_mean(qrels: Any, run: Any) -> float:
    from hybrid.evaluation.metrics import evaluate

    return float(evaluate(qrels, run, ["ndcg@10"])[0]["ndcg@10"])


def vocabulary_check(index: str, base: Any, qs: Any, with_vocabulary: dict[str, Any],
                     profiles: dict[str, Any]) -> dict[str, Any]:
    """The spoken task collected again with transcripts made without the catalog
    vocabulary prompt; nDCG@10 of the default profile and each text signal alone."""
    from hybrid.engines import open_engine
    from hybrid.evaluation.collect import collect, stderr_progress
    from hybrid.evaluation.metrics import evaluate
    from hybrid.evaluation.offline import run_of
    from hybrid.search.searcher import Searcher

    plain = Searcher(open_engine("embedded", path=index), vocabulary=False)
    without = collect(plain, qs, base, cache_dir=REPO / "var" / "cache" / "eval",
                      progress=stderr_progress("spoken, no vocabulary"))
    out: dict[str, Any] = {"prompt": Searcher(plain.engine).speech_prompt(), "ndcg@10": {},
                           "wer": {"without vocabulary": _wer(qs, without),
                                   "with vocabulary": _wer(qs, with_vocabulary)}}
    for label, p in profiles.items():
        if label == "default" or label.startswith(("bm25", "text:")):
            out["ndcg@10"][label] = {
                "without vocabulary": round(float(evaluate(qs.qrels, run_of(without, p),
                                                           ["ndcg@10"])[0]["ndcg@10"]), 4),
                "with vocabulary": round(float(evaluate(qs.qrels, run_of(with_vocabulary, p),
                                                        ["ndcg@10"])[0]["ndcg@10"]), 4)}
    return out


def _wer(qs: Any, collected: dict[str, Any]) -> float:
    """Corpus word error rate of the transcripts search made (the collected query text)
    against the reference transcripts, scored as benchmarks/speech_wer.py scores."""
    sys.path.insert(0, str(Path(__file__).parent))
    from speech_wer import corpus_wer, normalise

    pairs = [(normalise(q.transcript), normalise(collected[q.qid].text)) for q in qs.queries
             if q.transcript and q.qid in collected]
    return round(corpus_wer([r for r, _ in pairs], [h for _, h in pairs])[0], 4)


def _default_vs_singles(table: dict[str, dict[str, float]], tasks: list[str]) -> list[str]:
    singles = [label for label in table if label.endswith(" alone")]
    lines = []
    for t in tasks:
        best = max(singles, key=lambda s: table[s][t])
        gap = table["default"][t] - table[best][t]
        lines.append(f"{t}: default (static) {table['default'][t]:.3f} vs best single signal "
                     f"{best} {table[best][t]:.3f}: {gap:+.3f} "
                     f"({'at least the best single signal' if gap >= -0.0005 else 'BELOW'})")
    return lines


def _cross_table(rows: list[dict[str, Any]]) -> str:
    labels = ["default (static)", "learned global, no fallback", "learned global",
              "learned per-query"]
    lines = ["nDCG@10, learned on one task, scored on another"
             + "".join(f"{x:>30}" for x in labels)]
    for r in rows:
        cells = "".join(f"{r[x]:>30.3f}" for x in labels)
        lines.append(f"{r['train'] + ' -> ' + r['test']:<47}" + cells)
    return "\n".join(lines)


def _spoken_table(spoken: dict[str, Any]) -> str:
    lines = [f"{'spoken':<40}{'without vocabulary':>20}{'with vocabulary':>18}",
             f"{'word error rate':<40}{spoken['wer']['without vocabulary']:>20.3f}"
             f"{spoken['wer']['with vocabulary']:>18.3f}"]
    for label, v in spoken["ndcg@10"].items():
        lines.append(f"{'nDCG@10 ' + label:<40}{v['without vocabulary']:>20.3f}"
                     f"{v['with vocabulary']:>18.3f}")
    return "\n".join(lines)


def _summary(result: dict[str, Any], order: list[str], best_static: str) -> dict[str, Any]:
    scopes = [*result["tasks"], "overall"]

    def mean(label: str, scope: str) -> float:
        entry = result["overall"] if scope == "overall" else result["tasks"][scope]
        return float(entry["profiles"][label]["means"]["ndcg@10"])

    table = {label: {s: round(mean(label, s), 4) for s in scopes} for label in order}
    best = f"best static ({best_static})"
    singles = [label for label in order if label.endswith(" alone")]
    checks = []
    for learned in ("learned global (cv)", "learned per-query (cv)"):
        worst = min(table[learned][s] - table[best][s] for s in scopes)
        checks.append(f"{learned} - best static, worst task: {worst:+.4f} "
                      f"({'matches or beats it everywhere' if worst >= -0.005 else 'BELOW'})")
        top_single = max(table[s]["overall"] for s in singles)
        checks.append(f"{learned} overall {table[learned]['overall']:.4f} vs best single "
                      f"signal {top_single:.4f}")
    ratio = table["learned global from clicks (cv)"]["overall"] / \
        table["learned global (cv)"]["overall"]
    checks.append(f"clicks / judgments (overall nDCG@10, both cv): {ratio:.3f} "
                  f"({'within 5%' if ratio >= 0.95 else 'NOT within 5%'})")
    return {"ndcg@10": table, "checks": checks}


def _against(tasks: list[Any], runs: dict[str, Any], static: str, learned: list[str]
             ) -> list[str]:
    """Per task: the learned profiles against the best static one, with the paired
    t-test's p-value, and against the task's best single signal."""
    from hybrid.evaluation.metrics import compare, evaluate

    lines = []
    for qs in tasks:
        singles = {k: evaluate(qs.qrels, r[qs.name], ["ndcg@10"])[0]["ndcg@10"]
                   for k, r in runs.items() if k.endswith(" alone")}
        best_single = max(singles, key=lambda k: singles[k])
        got = compare(qs.qrels, {k: runs[k][qs.name] for k in [static, *learned]}, static,
                      ["ndcg@10"])
        for name in learned:
            c = got[name]["ndcg@10"]
            verdict = ("better" if c["mean"] > c["baseline"] else "no better") + (
                " (significant)" if c["p_value"] < 0.05 else " (not significant)")
            lines.append(f"{qs.name}: {name} {c['mean']:.3f} vs best static {c['baseline']:.3f}"
                         f", p={c['p_value']:.3f}: {verdict}; best single signal "
                         f"{best_single} {singles[best_single]:.3f}")
    return lines


def _table(result: dict[str, Any], order: list[str]) -> str:
    scopes = [*result["tasks"], "overall"]
    width = max(len(x) for x in order) + 2
    lines = [f"{'nDCG@10':<{width}}" + "".join(f"{s:>15}" for s in scopes)]
    for label in order:
        row = f"{label:<{width}}"
        for s in scopes:
            entry = result["overall"] if s == "overall" else result["tasks"][s]
            row += f"{entry['profiles'][label]['means']['ndcg@10']:>15.3f}"
        lines.append(row)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
