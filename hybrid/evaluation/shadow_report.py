"""`hybrid shadow report`: the shadow log (hybrid.search.shadow) aggregated per shadow
profile: the distribution of overlap@k and rank-biased overlap, the queries whose results
differ most (both lists), zero-result rates of the served and the shadow profile, and
latency; rendered with hybrid.evaluation.report's Markdown/HTML writer and plots, followed
by the judged comparison (`hybrid eval`'s result) when one is given. Pure but for
`read_log` and `write`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from hybrid.errors import HybridError
from hybrid.evaluation.report import (
    Block,
    Plot,
    Table,
    build,
    fmt,
    plain,
    png,
    write_blocks,
)

PLOT_NAMES = ("shadow-overlap.png", "shadow-latency.png")


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """The log's lines; a line that is not a JSON object is skipped (a crash mid-write)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise HybridError(f"cannot read the shadow log {path}: {e.strerror or e}") from e
    lines = []
    for raw in text.splitlines():
        try:
            line = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if isinstance(line, dict) and "served" in line:
            lines.append(line)
    return lines


def label(profile: Any) -> str:
    if isinstance(profile, Mapping):
        return f"{profile.get('name')}@{profile.get('version')}"
    return str(profile)


def _pct(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def summarize(lines: Iterable[Mapping[str, Any]], top: int = 10) -> dict[str, Any]:
    """Per shadow profile: requests, errors, overlap and RBO (mean, median, values),
    hits gained and lost per query, zero-result rates (served and shadow), latency
    percentiles (served and shadow, ms), and the `top` queries with the lowest RBO."""
    lines = list(lines)
    served_ms = [x["served"]["took_ms"] for x in lines
                 if isinstance(x["served"].get("took_ms"), (int, float))]
    out: dict[str, Any] = {"requests": len(lines),
                           "served": sorted({label(x["served"].get("profile")) for x in lines}),
                           "served_zero_rate": (sum(x["served"].get("total") == 0 for x in lines)
                                                / len(lines)) if lines else None,
                           "served_ms": {"p50": _pct(served_ms, 50), "p95": _pct(served_ms, 95)},
                           "shadows": {}}
    for line in lines:
        for s in line.get("shadows", []):
            name = label(s.get("profile"))
            entry = out["shadows"].setdefault(name, {"requests": 0, "errors": 0, "overlap": [],
                                                     "rbo": [], "gained": [], "lost": [],
                                                     "zero": 0, "served_zero": 0, "ms": [],
                                                     "both_zero": 0, "worst": []})
            entry["requests"] += 1
            if "error" in s:
                entry["errors"] += 1
                continue
            entry["overlap"].append(s["overlap"])
            entry["rbo"].append(s["rbo"])
            entry["gained"].append(len(s["gained"]))
            entry["lost"].append(len(s["lost"]))
            zero, served_zero = s["total"] == 0, line["served"].get("total") == 0
            entry["zero"] += zero
            entry["served_zero"] += served_zero
            entry["both_zero"] += zero and served_zero
            if isinstance(s.get("took_ms"), (int, float)):
                entry["ms"].append(s["took_ms"])
            entry["worst"].append({"q": line.get("q", ""), "rbo": s["rbo"],
                                   "overlap": s["overlap"], "served": line["served"]["ids"],
                                   "shadow": s["ids"], "served_total": line["served"].get("total"),
                                   "shadow_total": s["total"]})
    for entry in out["shadows"].values():
        ok = len(entry["rbo"])
        entry["worst"] = sorted(entry["worst"], key=lambda w: (w["rbo"], w["q"]))[:top]
        entry["summary"] = {
            "compared": ok, "mean_overlap": float(np.mean(entry["overlap"])) if ok else None,
            "median_overlap": float(np.median(entry["overlap"])) if ok else None,
            "mean_rbo": float(np.mean(entry["rbo"])) if ok else None,
            "identical_share": sum(r == 1.0 for r in entry["rbo"]) / ok if ok else None,
            "mean_gained": float(np.mean(entry["gained"])) if ok else None,
            "mean_lost": float(np.mean(entry["lost"])) if ok else None,
            "zero_rate": entry["zero"] / ok if ok else None,
            "served_zero_rate": entry["served_zero"] / ok if ok else None,
            "p50_ms": _pct(entry["ms"], 50), "p95_ms": _pct(entry["ms"], 95)}
    return out


def blocks(summary: Mapping[str, Any], log: str, titles: Mapping[str, str] | None = None,
           judged: Mapping[str, Any] | None = None) -> list[Block]:
    """The report: shadow tables and plots, then `judged` (a `hybrid eval` result: its
    tables, significance and plots) when given. `titles`: id -> product title."""
    titles = titles or {}
    served = ", ".join(summary["served"]) or "–"
    out: list[Block] = [
        ("h1", "Shadow traffic: the old search against hybrid"),
        ("p", f"Log: {log}. Requests: {summary['requests']}. Served by: {served}."),
        ("h2", "Agreement with the served results"),
        Table(["shadow profile", "compared", "errors", "mean overlap@k", "median overlap@k",
               "mean RBO", "identical", "hits gained", "hits lost"],
              [[name, str(e["summary"]["compared"]), str(e["errors"]),
                fmt(e["summary"]["mean_overlap"]), fmt(e["summary"]["median_overlap"]),
                fmt(e["summary"]["mean_rbo"]), fmt(e["summary"]["identical_share"]),
                fmt(e["summary"]["mean_gained"]), fmt(e["summary"]["mean_lost"])]
               for name, e in summary["shadows"].items()],
              "k is the page size; RBO: rank-biased overlap (p = 0.9); gained and lost are "
              "per query, on the page."),
        ("h2", "Zero results and latency"),
        Table(["shadow profile", "zero results (served)", "zero results (shadow)",
               "served p50 ms", "served p95 ms", "shadow p50 ms", "shadow p95 ms"],
              [[name, fmt(e["summary"]["served_zero_rate"]), fmt(e["summary"]["zero_rate"]),
                fmt(summary["served_ms"]["p50"]), fmt(summary["served_ms"]["p95"]),
                fmt(e["summary"]["p50_ms"]), fmt(e["summary"]["p95_ms"])]
               for name, e in summary["shadows"].items()],
              "Shadow latency is measured off the request path; shoppers never wait for it."),
    ]
    for name, e in summary["shadows"].items():
        out += [("h2", f"Queries that differ most: {name}"),
                Table(["query", "RBO", "overlap", "served (total)", f"{name} (total)"],
                      [[w["q"] or "(no text)", fmt(w["rbo"]), fmt(w["overlap"]),
                        _listing(w["served"], titles, w["served_total"]),
                        _listing(w["shadow"], titles, w["shadow_total"])]
                       for w in e["worst"]])]
    if summary["shadows"]:
        out += [("h2", "Plots"), Plot(PLOT_NAMES[0], "overlap distribution",
                                      png(overlap_chart(summary))),
                Plot(PLOT_NAMES[1], "latency", png(latency_chart(summary)))]
    if judged:
        out += [("h1", "On judgments: should we switch?"), *build(judged)[1:]]
    return out


def _listing(ids: Sequence[str], titles: Mapping[str, str], total: Any) -> str:
    shown = [f"{d} {titles[d]}" if d in titles else d for d in ids[:10]]
    return "; ".join(shown) + f" ({total})"


def overlap_chart(summary: Mapping[str, Any]) -> Figure:
    names = list(summary["shadows"])
    fig = Figure(figsize=(9, 3.2 * len(names)), layout="constrained")
    for i, name in enumerate(names):
        e = summary["shadows"][name]
        for j, (key, title) in enumerate((("overlap", "overlap@k"), ("rbo", "RBO"))):
            ax = fig.add_subplot(len(names), 2, 2 * i + j + 1)
            ax.hist(e[key], bins=[i / 10 for i in range(11)])
            ax.set_title(plain(f"{name}: {title}"), fontsize="medium")
            ax.set_xlabel(title)
            ax.set_ylabel("queries")
    return fig


def latency_chart(summary: Mapping[str, Any]) -> Figure:
    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.add_subplot()
    series = {"served": summary["served_ms"]} | {
        name: {"p50": e["summary"]["p50_ms"], "p95": e["summary"]["p95_ms"]}
        for name, e in summary["shadows"].items()}
    xs = np.arange(len(series))
    for k, (stat, offset) in enumerate((("p50", -0.2), ("p95", 0.2))):
        ax.bar(xs + offset, [v[stat] or 0 for v in series.values()], 0.4, label=stat,
               color=f"C{k}")
    ax.set_xticks(xs, [plain(s) for s in series])
    ax.set_ylabel("ms")
    ax.set_title("latency (server time)")
    ax.legend()
    return fig


def write(blocks_: list[Block], path: str | Path) -> list[Path]:
    """Markdown (plots beside it, in <stem>-plots/) or one HTML file; returns the files."""
    return write_blocks(blocks_, path, "shadow report")
