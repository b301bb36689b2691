"""An experiment's report from its logged searches and UBI events. Pure.

A search record (what the API logs per search in an experiment, UBI's ubi_queries):
{"query_id", "timestamp" (epoch s), "user_query", "user_id", "session_id",
"experiment", "variant" (A/B; None when interleaved), "hits" (shown ids, in order),
"teams" (interleaving: the variant each shown hit came from), "took_ms"}.
Events are validated records (`hybrid.experiments.events.validate`), one per event id.

Per search: clicked (any click), reciprocal rank of the first click, converted (an
add_to_cart or purchase), abandoned (neither). A variant's ctr, mrr, abandonment and
conversion are means over its searches with percentile-bootstrap intervals; A/B tests
compare every variant with the first (the control): two-proportion z tests for the
rates, Welch's t test for MRR. Interleaving credits each click to the team of the
clicked result: a search is won by the team with strictly more credited clicks, and
the wins are tested with a sign test (two variants, and pairwise) or a chi-square
test of evenness (more). The sample-ratio-mismatch check compares the distinct users
(or sessions) per variant with the split; for interleaving, how often each team had
the first pick, with even odds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import combinations
from typing import Any

from hybrid.experiments import stats
from hybrid.experiments.events import CONVERSIONS
from hybrid.experiments.interleaving import outcome
from hybrid.experiments.model import INTERLEAVING, Experiment

K = 10  # clicks@k


@dataclass
class Outcome:
    """What happened after one search, seen from one variant (its team, when
    interleaved)."""

    clicked: bool = False
    rr: float = 0.0
    converted: bool = False
    clicks: int = 0
    clicks_at_k: int = 0
    impressions: int = 0


@dataclass
class _Search:
    record: Mapping[str, Any]
    clicks: dict[str, int] = field(default_factory=dict)  # object id -> position
    impressions: set[str] = field(default_factory=set)
    bought: set[str] = field(default_factory=set)

    def team(self, doc: str) -> str | None:
        """The variant whose team showed `doc` (interleaving), from the logged page."""
        hits, teams = list(self.record.get("hits") or []), list(self.record.get("teams") or [])
        return teams[hits.index(doc)] if doc in hits and hits.index(doc) < len(teams) else None


def build(experiment: Experiment, searches: Iterable[Mapping[str, Any]],
          events: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The report (see the module docstring and the API's ExperimentReport schema)."""
    by_id = {str(s["query_id"]): _Search(s) for s in searches
             if s.get("experiment") == experiment.name}
    for e in events:
        s = by_id.get(str(e.get("query_id")))
        if s is None:
            continue
        doc, pos = str(e["object_id"]), e.get("position")
        if e["action_name"] == "click" and pos:
            s.clicks[doc] = min(int(pos), s.clicks.get(doc, int(pos)))
        elif e["action_name"] == "impression":
            s.impressions.add(doc)
        elif e["action_name"] in CONVERSIONS:
            s.bought.add(doc)
    ordered = sorted(by_id.values(), key=lambda s: float(s.record.get("timestamp") or 0))
    names = [v.name for v in experiment.variants]
    per: dict[str, list[tuple[_Search, Outcome]]] = {n: [] for n in names}
    for s in ordered:
        if experiment.kind == INTERLEAVING:
            for n in names:
                per[n].append((s, _outcome(s, n)))
        elif s.record.get("variant") in per:
            per[str(s.record["variant"])].append((s, _outcome(s, None)))
    variants = [_variant(experiment, n, per[n]) for n in names]
    report: dict[str, Any] = {"experiment": experiment.name, "kind": experiment.kind,
                              "status": experiment.status, "variants": variants}
    if experiment.kind == INTERLEAVING:
        report["tests"], report["interleaving"] = _interleaving(names, ordered)
        firsts = [sum(1 for s in ordered if (s.record.get("teams") or [None])[0] == n)
                  for n in names]
        report["srm"] = _srm(firsts, [1.0] * len(names))
    else:
        report["tests"] = _ab_tests(names, per)
        units = [len({_unit(s.record) for s, _ in per[n]}) for n in names]
        report["srm"] = _srm(units, experiment.shares())
    _guardrails(experiment, variants)
    report["timeline"] = _timeline(names, per)
    return report


def _unit(record: Mapping[str, Any]) -> str:
    return str(record.get("user_id") or record.get("session_id") or record["query_id"])


def _outcome(s: _Search, team: str | None) -> Outcome:
    """The search's outcome for one variant: all of it (A/B), or what concerns the
    results its team contributed (interleaving, `team` given)."""
    def own(doc: str) -> bool:
        return team is None or s.team(doc) == team

    clicks = sorted(p for d, p in s.clicks.items() if own(d))
    return Outcome(clicked=bool(clicks), rr=1.0 / clicks[0] if clicks else 0.0,
                   converted=any(own(d) for d in s.bought), clicks=len(clicks),
                   clicks_at_k=sum(1 for p in clicks if p <= K),
                   impressions=sum(1 for d in s.impressions if own(d)))


def _metric(values: Sequence[float]) -> dict[str, Any]:
    return {"value": sum(values) / len(values) if values else None,
            "ci": stats.bootstrap_ci(values)}


def _variant(experiment: Experiment, name: str, rows: list[tuple[_Search, Outcome]]
             ) -> dict[str, Any]:
    outs = [o for _, o in rows]
    took = [float(s.record.get("took_ms") or 0.0) for s, _ in rows]
    return {
        "variant": name, "profile": experiment.variant(name).profile,
        "queries": len(rows), "impressions": sum(o.impressions for o in outs),
        "clicks": sum(o.clicks for o in outs),
        "ctr": _metric([float(o.clicked) for o in outs]),
        f"clicks_at_{K}": _metric([float(o.clicks_at_k) for o in outs]),
        "mrr": _metric([o.rr for o in outs]),
        "abandonment": _metric([float(not o.clicked and not o.converted) for o in outs]),
        "conversion": _metric([float(o.converted) for o in outs]),
        "latency_ms": {"p50": stats.percentile(took, 50), "p99": stats.percentile(took, 99)},
        "flags": [],
    }


def _ab_tests(names: Sequence[str], per: Mapping[str, list[tuple[_Search, Outcome]]]
              ) -> list[dict[str, Any]]:
    tests = []
    a = [o for _, o in per[names[0]]]
    for b_name in names[1:]:
        b = [o for _, o in per[b_name]]
        for metric, of in (("ctr", lambda o: o.clicked),
                           ("abandonment", lambda o: not o.clicked and not o.converted),
                           ("conversion", lambda o: o.converted)):
            p = stats.two_proportions(sum(map(of, a)), len(a), sum(map(of, b)), len(b))
            tests.append(_test(metric, names[0], b_name, p))
        tests.append(_test("mrr", names[0], b_name,
                           stats.welch([o.rr for o in a], [o.rr for o in b])))
    return tests


def _test(metric: str, a: str, b: str, p: float | None) -> dict[str, Any]:
    return {"metric": metric, "a": a, "b": b, "p_value": p,
            "significant": p is not None and p < stats.ALPHA}


def _interleaving(names: Sequence[str], searches: Sequence[_Search]
                  ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    wins = dict.fromkeys(names, 0)
    pair_wins: dict[tuple[str, str], list[int]] = {p: [0, 0] for p in combinations(names, 2)}
    ties = no_clicks = 0
    for s in searches:
        credited = [s.team(d) for d in s.clicks]
        credits = [credited.count(n) for n in names]
        if not any(credits):
            no_clicks += 1
            continue
        best = outcome(credits)
        if best is None:
            ties += 1
        else:
            wins[names[best]] += 1
        for (a, b), w in pair_wins.items():
            ca, cb = credits[names.index(a)], credits[names.index(b)]
            if ca != cb:
                w[0 if ca > cb else 1] += 1
    tests = [_test("wins", a, b, stats.sign_test(*w)) | {"wins": {a: w[0], b: w[1]}}
             for (a, b), w in pair_wins.items()]
    p = (stats.sign_test(wins[names[0]], wins[names[1]]) if len(names) == 2
         else stats.uniform_wins(list(wins.values())))
    return tests, {"wins": wins, "ties": ties, "no_clicks": no_clicks, "p_value": p,
                   "significant": p is not None and p < stats.ALPHA}


def _srm(observed: Sequence[int], shares: Sequence[float]) -> dict[str, Any]:
    p = stats.srm(observed, shares)
    return {"observed": list(observed), "p_value": p, "ok": p is None or p >= stats.SRM_ALPHA}


def _guardrails(experiment: Experiment, variants: list[dict[str, Any]]) -> None:
    rails = experiment.guardrails
    control_ctr = variants[0]["ctr"]["value"]
    for v in variants:
        p99 = v["latency_ms"]["p99"]
        if "latency_p99_ms" in rails and p99 is not None and p99 > rails["latency_p99_ms"]:
            v["flags"].append(f"latency p99 {p99:.1f} ms is over the guardrail of "
                              f"{rails['latency_p99_ms']:g} ms")
        ab = v["abandonment"]["value"]
        if "abandonment" in rails and ab is not None and ab > rails["abandonment"]:
            v["flags"].append(f"abandonment {ab:.3f} is over the guardrail of "
                              f"{rails['abandonment']:g}")
        ctr = v["ctr"]["value"]
        if ("ctr_drop" in rails and v is not variants[0] and ctr is not None and control_ctr
                and (control_ctr - ctr) / control_ctr > rails["ctr_drop"]):
            v["flags"].append(f"ctr {ctr:.3f} is {(control_ctr - ctr) / control_ctr:.1%} below "
                              f"the control's {control_ctr:.3f}; the guardrail allows "
                              f"{rails['ctr_drop']:.1%}")


def _timeline(names: Sequence[str], per: Mapping[str, list[tuple[_Search, Outcome]]]
              ) -> list[dict[str, Any]]:
    days: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for n in names:
        for s, o in per[n]:
            day = datetime.fromtimestamp(float(s.record.get("timestamp") or 0), UTC)
            days[(day.strftime("%Y-%m-%d"), n)].append(o.clicked)
    return [{"date": d, "variant": n, "queries": len(c), "ctr": sum(c) / len(c)}
            for (d, n), c in sorted(days.items())]
