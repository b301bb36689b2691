"""`hybrid experiment create|list|stop|report`, `hybrid events export` and
`hybrid simulate`: experiments kept with the index, the UBI events the API logged, and
simulated traffic through a running API."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hybrid.errors import HybridError


def add_parsers(sub: Any) -> None:
    ex = sub.add_parser("experiment", help="A/B and interleaving experiments on profiles")
    exsub = ex.add_subparsers(required=True, metavar="ACTION")
    cr = exsub.add_parser("create", help="start an experiment")
    cr.add_argument("name")
    cr.add_argument("--variant", action="append", default=[], required=True,
                    metavar="NAME=PROFILE[:SPLIT]",
                    help="a variant and its profile (repeat; the first is the control)")
    cr.add_argument("--kind", choices=["ab", "interleaving"], default="ab")
    cr.add_argument("--method", choices=["team_draft", "probabilistic"], default="team_draft",
                    help="interleaving method (default %(default)s)")
    cr.add_argument("--traffic", type=float, default=1.0,
                    help="share of users in the experiment (default %(default)s)")
    cr.add_argument("--salt", default="", help="bucketing salt (default: the name)")
    cr.add_argument("--guardrail", action="append", default=[], metavar="KEY=VALUE",
                    help="latency_p99_ms=300, abandonment=0.6, ctr_drop=0.1")
    cr.add_argument("--description", default="")
    cr.set_defaults(run=cmd_create)
    ls = exsub.add_parser("list", help="experiments and their state")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(run=cmd_list)
    st = exsub.add_parser("stop", help="stop an experiment (its report stays)")
    st.add_argument("name")
    st.set_defaults(run=cmd_stop)
    rp = exsub.add_parser("report", help="metrics, tests and guardrails of an experiment")
    rp.add_argument("name")
    rp.add_argument("--json", action="store_true")
    rp.set_defaults(run=cmd_report)

    ev = sub.add_parser("events", help="the UBI events the API logged")
    evsub = ev.add_subparsers(required=True, metavar="ACTION")
    exp = evsub.add_parser("export", help="events as JSON lines (for hybrid learn --clicks)")
    exp.add_argument("--experiment", help="only this experiment's")
    exp.add_argument("--out", type=Path, help="file to write (default: stdout)")
    exp.set_defaults(run=cmd_export)

    from hybrid.cli.simulate import add_parser

    add_parser(sub)


def _stores(args: argparse.Namespace) -> tuple[Any, Any]:
    from hybrid.engines import index_exists, state_dir
    from hybrid.search.events import open_event_store
    from hybrid.search.experiments import ExperimentStore

    if not index_exists(args.index):
        raise HybridError(f"no index at {args.index}; create one with 'hybrid index CATALOG'")
    state = state_dir(args.index)
    return ExperimentStore(state / "experiments"), open_event_store(state)


def cmd_create(args: argparse.Namespace) -> int:
    from hybrid.experiments.model import Experiment
    from hybrid.search.profiles import ProfileStore

    variants = []
    for spec in args.variant:
        name, eq, rest = spec.partition("=")
        profile, _, split = rest.partition(":")
        if not eq or not profile:
            raise HybridError(f"--variant {spec!r}: use NAME=PROFILE or NAME=PROFILE:SPLIT")
        try:
            variants.append({"name": name, "profile": profile,
                             "split": float(split) if split else 1.0})
        except ValueError as e:
            raise HybridError(f"--variant {spec!r}: the split must be a number") from e
    guardrails = {}
    for spec in args.guardrail:
        key, _, value = spec.partition("=")
        try:
            guardrails[key] = float(value)
        except ValueError as e:
            raise HybridError(f"--guardrail {spec!r}: use KEY=NUMBER") from e
    exp = Experiment.from_dict({"name": args.name, "kind": args.kind, "method": args.method,
                                "variants": variants, "traffic": args.traffic,
                                "salt": args.salt, "guardrails": guardrails,
                                "description": args.description})
    experiments, _ = _stores(args)
    from hybrid.engines import state_dir

    profiles = ProfileStore(state_dir(args.index) / "profiles")
    for v in exp.variants:
        profiles.resolve(v.profile)
    saved = experiments.create(exp)
    print(f"experiment {saved.name} ({saved.kind}) running: "
          + ", ".join(f"{v.name}={v.profile}" for v in saved.variants))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    experiments, _ = _stores(args)
    found = experiments.all()
    if args.json:
        print(json.dumps([e.to_dict() for e in found], indent=2))
        return 0
    from hybrid.cli.main import table

    print(table(["name", "kind", "status", "started", "variants"],
                [[e.name, e.kind, e.status, e.started,
                  ", ".join(f"{v.name}={v.profile}" for v in e.variants)] for e in found]))
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    experiments, _ = _stores(args)
    exp = experiments.stop(args.name)
    print(f"experiment {exp.name} stopped at {exp.stopped}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from hybrid.experiments.report import build

    experiments, events = _stores(args)
    exp = experiments.get(args.name)
    rep = build(exp, list(events.queries(exp.name)), list(events.events(exp.name)))
    print(json.dumps(rep, indent=2) if args.json else report_table(rep))
    return 0


def report_table(rep: dict[str, Any]) -> str:
    from hybrid.cli.main import table

    def rate(m: dict[str, Any]) -> str:
        if m["value"] is None:
            return "-"
        lo, hi = m["ci"]
        return f"{m['value']:.3f} [{lo:.3f}, {hi:.3f}]"

    rows = [[v["variant"], v["profile"], str(v["queries"]), str(v["clicks"]), rate(v["ctr"]),
             rate(v["mrr"]), rate(v["abandonment"]), rate(v["conversion"]),
             "-" if v["latency_ms"]["p50"] is None else f"{v['latency_ms']['p50']:.0f}"]
            for v in rep["variants"]]
    lines = [f"experiment {rep['experiment']} ({rep['kind']}, {rep.get('status', '')})",
             table(["variant", "profile", "queries", "clicks", "ctr", "mrr", "abandonment",
                    "conversion", "p50 ms"], rows)]
    for t in rep["tests"]:
        p = "-" if t["p_value"] is None else f"{t['p_value']:.2g}"
        lines.append(f"{t['metric']}: {t['a']} vs {t['b']}: p = {p}"
                     + (" (significant)" if t["significant"] else ""))
    if "interleaving" in rep:
        il = rep["interleaving"]
        lines.append("wins: " + ", ".join(f"{k} {v}" for k, v in il["wins"].items())
                     + f"; ties {il['ties']}")
    srm = rep["srm"]
    lines.append(f"sample ratio: {srm['observed']} p = "
                 + ("-" if srm["p_value"] is None else f"{srm['p_value']:.2g}")
                 + ("" if srm["ok"] else "  MISMATCH: check the bucketing and logging"))
    for v in rep["variants"]:
        lines.extend(f"flag {v['variant']}: {f}" for f in v["flags"])
    return "\n".join(lines)


def cmd_export(args: argparse.Namespace) -> int:
    experiments, events = _stores(args)
    if args.experiment:
        experiments.get(args.experiment)
    out = args.out.open("w", encoding="utf-8") if args.out else sys.stdout
    n = 0
    try:
        for row in events.events(args.experiment):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    finally:
        if args.out:
            out.close()
    print(f"{n} events", file=sys.stderr)
    return 0
