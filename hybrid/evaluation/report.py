"""Render an offline evaluation result as a Markdown or HTML report with plots.

`write_report(result, path)` writes the run's metadata, a summary table of the first metric
(dagger: p < 0.05 against the baseline), a table per task with every metric, p-value and W/T/L,
and plots (metric per profile, per-query wins/losses, weight curves): PNGs in `<stem>-plots/`
for Markdown, embedded base64 for a self-contained HTML file. Pure rendering, no network; plots
use `Figure` on the Agg canvas, never pyplot, so no global state or display is involved.
"""

from __future__ import annotations

import base64
import html
import io
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hybrid.errors import InputError

ALPHA = 0.05
DAGGER = "†"
MISSING = "–"
MAX_HISTOGRAMS = 6
PLOT_NAMES = ("metric-per-profile.png", "per-query-wins-losses.png", "weight-curves.png")


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    note: str = ""


@dataclass
class Plot:
    name: str  # file name of the PNG
    title: str
    png: bytes


Block = tuple[str, str] | Table | Plot  # (tag, text) with tag in h1, h2, p


def write_report(result: Mapping[str, Any], path: str | Path) -> list[Path]:
    """Write the report to `path` (.md -> Markdown, .html -> HTML; anything else: raise
    InputError naming the two). Returns every file written (the report and, for
    Markdown, its PNG plots)."""
    return write_blocks(build(result), path, str(result["title"]), stale=PLOT_NAMES)


def report_path(value: str | Path) -> Path:
    """`value` as a report's path; InputError unless it ends in .md or .html. The CLI
    checks it when it reads its arguments, before any evaluation runs."""
    path = Path(value)
    if path.suffix.lower() not in (".md", ".html"):
        raise InputError(f"unknown report suffix {path.suffix!r} in {str(path)!r}: "
                         "use .md or .html")
    return path


def write_blocks(blocks: list[Block], path: str | Path, title: str, *,
                 stale: Sequence[str] = ()) -> list[Path]:
    """Write rendered blocks to `path`: .html -> one self-contained HTML file titled
    `title`; .md -> Markdown with its plots as PNGs in `<stem>-plots/` beside it (first
    removing the plot files named in `stale`, left by an earlier report there). Another
    suffix raises InputError naming the two. Returns every file written."""
    path = report_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".html":
        path.write_text(to_html(blocks, title), encoding="utf-8")
        return [path]
    plots_dir = path.parent / f"{path.stem}-plots"
    plots = [b for b in blocks if isinstance(b, Plot)]
    written = [path]
    if plots:
        plots_dir.mkdir(exist_ok=True)
    for name in stale:
        (plots_dir / name).unlink(missing_ok=True)
    for plot in plots:
        (plots_dir / plot.name).write_bytes(plot.png)
        written.append(plots_dir / plot.name)
    path.write_text(to_markdown(blocks, plots_dir.name), encoding="utf-8")
    return written


def number(x: object) -> float | None:
    """`x` as a float, or None when it is missing, not a number, NaN or infinite."""
    ok = isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)
    return float(x) if ok else None  # type: ignore[arg-type]


def fmt(x: object) -> str:
    value = number(x)
    return MISSING if value is None else f"{value:.3f}"


def fmt_p(x: object) -> str:
    p = number(x)
    return MISSING if p is None else "<0.001" if p < 0.001 else f"{p:.3f}"


def mean(section: Mapping[str, Any], label: str, metric: str) -> float | None:
    return number(section["profiles"].get(label, {}).get("means", {}).get(metric))


def comparison(section: Mapping[str, Any], label: str, metric: str) -> Mapping[str, Any]:
    return section.get("compare", {}).get(label, {}).get(metric, {})


def cell(section: Mapping[str, Any], label: str, metric: str) -> str:
    p = number(comparison(section, label, metric).get("p_value"))
    return fmt(mean(section, label, metric)) + (DAGGER if p is not None and p < ALPHA else "")


def profile_labels(result: Mapping[str, Any]) -> list[str]:
    """Baseline first, then every other label in order of first appearance."""
    labels = [str(result["baseline"])]
    for section in [*result["tasks"].values(), result["overall"]]:
        labels += [str(label) for label in section["profiles"] if label not in labels]
    return labels


def differences(result: Mapping[str, Any], label: str, metric: str) -> list[float]:
    """Per-query `label` minus baseline in `metric`, pooled over tasks."""
    diffs = []
    for task in result["tasks"].values():
        profiles = task["profiles"]
        base = profiles.get(result["baseline"], {}).get("per_query", {}).get(metric, {})
        other = profiles.get(label, {}).get("per_query", {}).get(metric, {})
        for qid, value in base.items():
            b, o = number(value), number(other.get(qid))
            if b is not None and o is not None:
                diffs.append(o - b)
    return diffs


def build(result: Mapping[str, Any]) -> list[Block]:
    metrics = [str(m) for m in result["metrics"]]
    first, baseline = metrics[0], str(result["baseline"])
    labels = profile_labels(result)
    note = f"{DAGGER} p < {ALPHA} against the baseline ({baseline})."
    tasks = result["tasks"]
    sections = [*tasks.values(), result["overall"]]
    summary = Table(["profile", *map(str, tasks), "overall"],
                    [[label, *(cell(s, label, first) for s in sections)] for label in labels],
                    note)
    blocks: list[Block] = [
        ("h1", str(result["title"])),
        *(("p", f"{key.capitalize()}: {result[key]}") for key in ("created", "index", "baseline")),
        ("h2", f"{first} per profile and task"),
        summary,
    ]
    for name, task in tasks.items():
        blocks += [("h2", f"Task {name} ({task['queries']} queries)"),
                   task_table(task, labels, metrics, baseline, note)]
    return [*blocks, ("h2", "Plots"), *make_plots(result, labels, first)]


def task_table(task: Mapping[str, Any], labels: list[str], metrics: list[str],
               baseline: str, note: str) -> Table:
    first = metrics[0]
    rows = []
    for label in (lab for lab in labels if lab in task["profiles"]):
        c = comparison(task, label, first)
        wtl = "/".join(str(c.get(k, MISSING)) for k in "wtl") if c else MISSING
        p = "baseline" if label == baseline else fmt_p(c.get("p_value"))
        rows.append([label, *(cell(task, label, m) for m in metrics), p, wtl])
    return Table(["profile", *metrics, f"p ({first})", f"W/T/L ({first})"], rows, note)


def plain(text: object) -> str:
    """Text for matplotlib, with `$` escaped so labels never turn into mathtext."""
    return str(text).replace("$", r"\$")


def png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def make_plots(result: Mapping[str, Any], labels: list[str], metric: str) -> list[Block]:
    plots: list[Block] = [Plot(PLOT_NAMES[0], "metric per profile",
                               png(bar_chart(result, labels, metric)))]
    others = [label for label in labels if label != result["baseline"]]
    if others:
        fig = histograms(result, others[:MAX_HISTOGRAMS], metric)
        plots.append(Plot(PLOT_NAMES[1], "per-query wins/losses", png(fig)))
    curves = curve_chart(result.get("curves") or {}, metric)
    if curves is not None:
        plots.append(Plot(PLOT_NAMES[2], "weight curves", png(curves)))
    return plots


def bar_chart(result: Mapping[str, Any], labels: list[str], metric: str) -> Figure:
    groups = [*map(str, result["tasks"]), "overall"]
    sections = [*result["tasks"].values(), result["overall"]]
    fig = Figure(figsize=(max(6.0, 1.2 * len(groups) * len(labels) ** 0.5), 4),
                 layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / len(labels)
    for i, label in enumerate(labels):
        offset = (i - (len(labels) - 1) / 2) * width
        points = [(g + offset, mean(s, label, metric)) for g, s in enumerate(sections)]
        kept = [(x, y) for x, y in points if y is not None]
        ax.bar([x for x, _ in kept], [y for _, y in kept], width, label=plain(label))
    ax.set_xticks(range(len(groups)), [plain(g) for g in groups])
    ax.set_ylabel(plain(metric))
    ax.set_title(plain(f"{metric} per profile"))
    ax.legend(fontsize="small")
    return fig


def histograms(result: Mapping[str, Any], labels: list[str], metric: str) -> Figure:
    cols = min(3, len(labels))
    rows = math.ceil(len(labels) / cols)
    fig = Figure(figsize=(4 * cols, 3.2 * rows), layout="constrained")
    for i, label in enumerate(labels):
        ax = fig.add_subplot(rows, cols, i + 1)
        diffs = differences(result, label, metric)
        if diffs:
            ax.hist(diffs, bins=20)
        ax.axvline(0, color="black", linewidth=1)
        wins, losses = sum(d > 0 for d in diffs), sum(d < 0 for d in diffs)
        ax.set_title(plain(f"{label}: {wins} wins, {losses} losses"), fontsize="medium")
        ax.set_xlabel(plain(f"{metric} minus {result['baseline']}"))
        ax.set_ylabel("queries")
    fig.suptitle(plain(f"per-query {metric} against {result['baseline']}"))
    return fig


def curve_chart(curves: Mapping[str, Any], metric: str) -> Figure | None:
    """One subplot per signal pair, one line per task; None when there is nothing to draw."""
    pairs: dict[tuple[str, str], list[tuple[str, list[float], list[float]]]] = {}
    for task, curve in curves.items():
        alpha, values = curve.get("alpha", []), curve.get(metric)
        if values is None or len(values) != len(alpha) or len(curve.get("signals", [])) < 2:
            continue
        key = (str(curve["signals"][0]), str(curve["signals"][1]))
        pairs.setdefault(key, []).append((str(task), alpha, values))
    if not pairs:
        return None
    fig = Figure(figsize=(5.5 * len(pairs), 4), layout="constrained")
    for i, ((a, b), lines) in enumerate(pairs.items()):
        ax = fig.add_subplot(1, len(pairs), i + 1)
        for task, alpha, values in lines:
            ys = [math.nan if number(v) is None else float(v) for v in values]
            ax.plot(alpha, ys, marker="o", label=plain(task))
        ax.set_xlabel(plain(f"weight of {b} (vs {a})"))
        ax.set_ylabel(plain(metric))
        ax.legend(fontsize="small")
    return fig


def md_text(text: str) -> str:
    """Text for Markdown: no raw HTML tags (`<` before a letter, `/`, `!`, `?`), no `|`."""
    return re.sub(r"<(?=[A-Za-z/!?])", "&lt;", text).replace("|", r"\|")


def to_markdown(blocks: list[Block], plots_dir: str) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Table):
            out.append("| " + " | ".join(md_text(h) for h in block.header) + " |")
            out.append("|---" + "|---:" * (len(block.header) - 1) + "|")
            out += ["| " + " | ".join(md_text(c) for c in row) + " |" for row in block.rows]
            out += ["", md_text(block.note)] if block.note else []
        elif isinstance(block, Plot):
            out.append(f"![{block.title}]({quote(plots_dir)}/{block.name})")
        else:
            tag, text = block
            out.append({"h1": "# ", "h2": "## ", "p": ""}[tag] + md_text(text))
        out.append("")
    return "\n".join(out)


STYLE = """body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; } th { background: #f0f0f0; } img { max-width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: right; }
th:first-child, td:first-child { text-align: left; } .note { font-size: 0.9em; color: #555; }"""


def to_html(blocks: list[Block], title: str) -> str:
    e = html.escape
    out = ["<!DOCTYPE html>", '<html><head><meta charset="utf-8">',
           f"<title>{e(title)}</title>", f"<style>\n{STYLE}\n</style></head><body>"]
    for block in blocks:
        if isinstance(block, Table):
            head = "".join(f"<th>{e(h)}</th>" for h in block.header)
            body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>"
                           for row in block.rows)
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            if block.note:
                out.append(f'<p class="note">{e(block.note)}</p>')
        elif isinstance(block, Plot):
            data = base64.b64encode(block.png).decode("ascii")
            out.append(f'<figure><img alt="{e(block.title)}" src="data:image/png;base64,{data}">'
                       f"<figcaption>{e(block.title)}</figcaption></figure>")
        else:
            tag, text = block
            out.append(f"<{tag}>{e(text)}</{tag}>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
