"""`hybrid eval`, `hybrid learn` and `hybrid judgments`: offline evaluation of fusion
profiles, fitting new ones from judgments or clicks, and judgment-list files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hybrid.engines import state_dir
from hybrid.errors import HybridError

DEFAULT_DATA = Path("../shared/data/dev")
DEFAULT_CACHE = Path("var/cache/eval")


def add_parsers(sub: Any, open_existing: Any) -> None:
    ev = sub.add_parser("eval", help="score fusion profiles on judged query sets")
    _common(ev)
    ev.add_argument("--profile", action="append", default=[], metavar="NAME[@V]",
                    help="profile to score (repeatable; default: default)")
    ev.add_argument("--signals", action="store_true",
                    help="also score each signal of the first profile alone")
    ev.add_argument("--baseline", help="profile the others are tested against (default: "
                    "the first)")
    ev.add_argument("--report", type=Path, help="write a report: FILE.md or FILE.html")
    ev.add_argument("--json", action="store_true", help="print the numbers as JSON")
    ev.set_defaults(run=lambda a: cmd_eval(a, open_existing))

    le = sub.add_parser("learn", help="fit fusion weights from judgments or clicks")
    _common(le)
    le.add_argument("--base", default="default", help="profile whose signals are weighted")
    le.add_argument("--name", default="learned", help="name to save the profile under")
    le.add_argument("--per-query", action="store_true",
                    help="query-dependent weights (a model over query features)")
    le.add_argument("--clicks", type=Path, metavar="EVENTS.jsonl",
                    help="learn from UBI click events instead of the judgments")
    le.add_argument("--no-fallback", action="store_true",
                    help="use the learned weights for every query, however unlike the "
                    "training queries (default: fall back to the base profile's)")
    le.add_argument("--folds", type=int, default=5)
    le.add_argument("--seed", type=int, default=0)
    le.add_argument("--dry-run", action="store_true", help="report, do not save")
    le.add_argument("--fused-alpha", action="store_true",
                    help="choose the fused_vector field's alpha (image vs text) on the "
                    "judged text and image queries, store it with the index and write the "
                    "fused vectors")
    le.set_defaults(run=lambda a: cmd_learn(a, open_existing))

    ju = sub.add_parser("judgments", help="convert judgment lists (TREC qrels <-> JSON)")
    ju.add_argument("source", type=Path, help="TREC qrels (3 or 4 columns) or JSON")
    ju.add_argument("target", type=Path, help="*.json for JSON, anything else for TREC")
    ju.set_defaults(run=cmd_judgments)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help="folder of task folders (queries.jsonl + qrels.tsv); "
                   "default %(default)s")
    p.add_argument("--task", action="append", default=[], help="task folder name "
                   "(repeatable; default: every dev task found)")
    p.add_argument("--qrels", type=Path, help="judgments to use instead of the tasks' own "
                   "(TREC or JSON, e.g. recorded in the inspector)")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                   help="where collected sub-query results are kept (default %(default)s)")


def _setup(args: argparse.Namespace, open_existing: Any, profiles: dict[str, Any]
           ) -> tuple[list[Any], dict[str, dict[str, Any]]]:
    """The tasks, and per profile label the results collected for its signals: one
    collection per distinct set of signal definitions, so two profiles that define a
    signal of the same name differently each get their own results."""
    from hybrid.errors import NoSignalError
    from hybrid.evaluation.collect import collect, stderr_progress
    from hybrid.evaluation.judgments import read_qrels
    from hybrid.evaluation.suite import load_tasks
    from hybrid.search.searcher import Searcher

    tasks = load_tasks(args.data, args.task)
    if args.qrels:
        extra = read_qrels(args.qrels)
        for qs in tasks:
            qs.qrels = {q: d for q, d in extra.items() if q in {x.qid for x in qs.queries}}
    searcher = Searcher(open_existing(args))
    keys = {label: tuple(json.dumps(s.to_dict() | {"weight": 1}, sort_keys=True)
                         for s in p.signals) for label, p in profiles.items()}
    one_of = {k: label for label, k in keys.items()}  # a profile per set of definitions
    groups: dict[tuple[str, ...], dict[str, Any]] = {k: {} for k in one_of}
    kept, left_out = [], None
    for qs in tasks:
        try:
            for key, label in one_of.items():
                groups[key][qs.name] = collect(searcher, qs, profiles[label],
                                               cache_dir=args.cache,
                                               progress=stderr_progress(qs.name))
        except NoSignalError as e:
            # every dev task by default: one this index cannot answer (photos on an
            # index without image vectors) is left out, said, unless it was named
            if args.task:
                raise
            print(f"hybrid: left out task {qs.name}: {e.__cause__ or e}", file=sys.stderr)
            left_out = e
            continue
        kept.append(qs)
    if not kept and left_out is not None:
        raise left_out
    return kept, {label: {n: groups[key][n] for n in (t.name for t in kept)}
                  for label, key in keys.items()}


def cmd_eval(args: argparse.Namespace, open_existing: Any) -> int:
    if args.report:  # a wrong suffix is said now, not after the whole evaluation
        from hybrid.evaluation.report import report_path, write_report

        report_path(args.report)
    result = evaluate_profiles(args, open_existing)
    if args.report:
        for path in write_report(result, args.report):
            print(f"wrote {path}", file=sys.stderr)
    if args.json:
        print(json.dumps(_means(result), indent=2))
    else:
        print(table(result))
    return 0


def evaluate_profiles(args: argparse.Namespace, open_existing: Any) -> dict[str, Any]:
    """The scores of args.profile (and with args.signals each signal of the first) on the
    judged tasks, against args.baseline (default: the first), as write_report takes them;
    with args.report, the weight curves too. What `hybrid eval` and `hybrid shadow report`
    print and render."""
    from hybrid.evaluation.suite import curves, score_runs, single_signal, stamp, static_runs
    from hybrid.search.profiles import ProfileStore

    store = ProfileStore(state_dir(args.index) / "profiles")
    profiles: dict[str, Any] = {}
    for ref in args.profile or ["default"]:
        p = store.resolve(ref)
        profiles[f"{p.name}@{p.version}"] = p
    first = next(iter(profiles.values()))
    if args.signals:
        for s in first.signals:
            profiles[s.name] = single_signal(first, s.name)
    baseline = args.baseline or next(iter(profiles))
    if baseline not in profiles:
        raise HybridError(f"baseline {baseline!r} is not among the profiles scored: "
                          f"{', '.join(profiles)}")
    tasks, collected_for = _setup(args, open_existing, profiles)
    runs = {label: static_runs(collected_for[label], {label: p})[label]
            for label, p in profiles.items()}
    result = stamp(score_runs(tasks, runs, baseline), str(args.index))
    if args.report:
        result["curves"] = curves(collected_for[next(iter(profiles))], tasks, first)
    return result


def cmd_learn(args: argparse.Namespace, open_existing: Any) -> int:
    from hybrid.evaluation.suite import score_learned, stamp
    from hybrid.search.profiles import ProfileStore

    if args.fused_alpha:
        from hybrid.cli.fused import cmd_fused_alpha

        return cmd_fused_alpha(args, open_existing)
    if args.folds < 2:
        raise HybridError("--folds must be at least 2")
    store = ProfileStore(state_dir(args.index) / "profiles")
    base = store.get(args.base)
    events = read_events(args.clicks) if args.clicks else None  # before any search
    tasks, collected_for = _setup(args, open_existing, {"base": base})
    collected = collected_for["base"]
    labels = {qs.name: qs.qrels for qs in tasks}
    source = "judgments"
    if events is not None:
        labels, source = click_labels(events, tasks), f"clicks ({args.clicks.name})"
    from hybrid.evaluation.suite import learn

    learned = learn(base, collected, labels, per_query=args.per_query, k=args.folds,
                    seed=args.seed, name=args.name, source=source,
                    fallback=not args.no_fallback)
    result = stamp(score_learned(tasks, collected, base, learned,
                                 only_ranked=events is not None), str(args.index))
    learned.report["cv"] = _means(result)
    learned.report["cv_queries"] = result["scored"]
    print(table(result))
    print(f"scored {result['scored']} of {result['judged']} judged queries"
          + (": those with clicks" if events is not None else ""))
    if args.dry_run:
        print("dry run: not saved")
        return 0
    saved = store.save(learned.profile)  # its meta holds the report, cv included
    print(f"saved profile {saved.name}@{saved.version} in {store.root}")
    return 0


def read_events(path: Path) -> list[dict[str, Any]]:
    """The UBI events of a JSON-lines file; HybridError when it cannot be read or holds no
    click, checked before the minutes of searching that learning starts with."""
    try:
        events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                  if line.strip()]
    except OSError as e:
        raise HybridError(f"cannot read click events {path}: {e.strerror or e}") from e
    except json.JSONDecodeError as e:
        raise HybridError(f"cannot read click events {path}: not JSON lines ({e})") from e
    if not any(isinstance(e, dict) and e.get("action_name") == "click" for e in events):
        raise HybridError(f"{path} holds no click events ({len(events)} events); learning from "
                          "clicks needs searches with clicks, as 'hybrid events export' "
                          "writes them once the API has logged some")
    return events


def click_labels(events: list[dict[str, Any]], tasks: list[Any]
                 ) -> dict[str, dict[str, dict[str, float]]]:
    """Relevance estimated from UBI click events; searches are matched to queries by
    user_query, which is a query's text or its qid."""
    from hybrid.learning.clicks import estimate_pbm, sessions

    _, gamma = estimate_pbm(sessions(events))
    out: dict[str, dict[str, dict[str, float]]] = {}
    for qs in tasks:
        by_text = {q.text.lower(): q.qid for q in qs.queries if q.text}
        ids = {q.qid for q in qs.queries}
        for user_query, labels in gamma.items():
            qid = user_query if user_query in ids else by_text.get(user_query.lower())
            if qid is not None:
                out.setdefault(qs.name, {})[qid] = labels
    if not out:
        raise HybridError("no search in the click log matches a query of the tasks")
    return out


def cmd_judgments(args: argparse.Namespace) -> int:
    from hybrid.evaluation.judgments import read_qrels, write_qrels

    qrels = read_qrels(args.source)
    write_qrels(qrels, args.target)
    print(f"{sum(len(d) for d in qrels.values())} judgments of {len(qrels)} queries -> "
          f"{args.target}")
    return 0


def _means(result: dict[str, Any]) -> dict[str, Any]:
    return {scope: {label: p["means"] for label, p in entry["profiles"].items()}
            for scope, entry in [*result["tasks"].items(), ("overall", result["overall"])]}


def table(result: dict[str, Any], metric: str = "ndcg@10") -> str:
    scopes = [*result["tasks"], "overall"]
    labels = list(result["overall"]["profiles"])
    width = max(len(x) for x in [*labels, "profile"]) + 2
    lines = [f"{metric:<{width}}" + "".join(f"{s:>15}" for s in scopes)]
    for label in labels:
        row = f"{label:<{width}}"
        for s in scopes:
            entry = result["overall"] if s == "overall" else result["tasks"][s]
            value = entry["profiles"][label]["means"][metric]
            p = entry.get("compare", {}).get(label, {}).get(metric, {}).get("p_value")
            mark = "*" if p is not None and p < 0.05 else " "
            row += f"{value:>14.3f}{mark}"
        lines.append(row)
    lines.append(f"* p < 0.05 against {result['baseline']} (paired t-test)")
    return "\n".join(lines)
