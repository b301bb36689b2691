"""Evaluation report: Markdown tables, daggers, PNG plots, self-contained escaped HTML."""

from __future__ import annotations

import base64
import copy
import io
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from hybrid.errors import InputError
from hybrid.evaluation import report as report_module
from hybrid.evaluation.report import (
    curve_chart,
    differences,
    histograms,
    write_report,
)

pytestmark = pytest.mark.unit

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
METRICS = ["ndcg@10", "mrr@10", "recall@100", "precision@10"]
NAN = math.nan


def means(ndcg: float, mrr: float, recall: float, precision: float) -> dict[str, float]:
    return dict(zip(METRICS, [ndcg, mrr, recall, precision], strict=True))


def comp(mean: float, baseline: float, p: float, *wtl: int) -> dict[str, Any]:
    return {"mean": mean, "baseline": baseline, "p_value": p, **dict(zip("wtl", wtl, strict=True))}


def make_result() -> dict[str, Any]:
    """2 tasks, 3 profiles (bm25 missing from `spoken`), a NaN mean, a weight curve."""
    fashion = {
        "queries": 3,
        "profiles": {
            "default": {"means": means(0.81234, 0.7, 0.9, 0.3),
                        "per_query": {"ndcg@10": {"f1": 0.9, "f2": 0.5, "f3": 0.7}}},
            "bm25": {"means": means(0.7456, 0.61, 0.88, 0.25),
                     "per_query": {"ndcg@10": {"f1": 0.8, "f2": 0.5, "f3": 0.7}}},
            "learned@2": {"means": means(0.85049, 0.75, 0.95, 0.35),
                          "per_query": {"ndcg@10": {"f1": 1.0, "f2": 0.6, "f3": 0.6}}},
        },
        "compare": {
            "bm25": {"ndcg@10": comp(0.7456, 0.81234, 0.2, 0, 2, 1)},
            "learned@2": {"ndcg@10": comp(0.85049, 0.81234, 0.003, 2, 0, 1),
                          "mrr@10": comp(0.75, 0.7, 0.4, 1, 1, 1)},
        },
    }
    spoken = {
        "queries": 2,
        "profiles": {
            "default": {"means": means(0.6, 0.5, 0.7, 0.2),
                        "per_query": {"ndcg@10": {"s1": 0.6, "s2": NAN}}},
            "learned@2": {"means": means(0.6321, 0.55, NAN, 0.2),
                          "per_query": {"ndcg@10": {"s1": 0.6, "s2": 0.8}}},
        },
        "compare": {"learned@2": {"ndcg@10": comp(0.6321, 0.6, 0.06, 0, 1, 0)}},
    }
    alpha = [0.0, 0.25, 0.5, 0.75, 1.0]
    return {
        "title": "hybrid evaluation",
        "created": "2026-11-25T20:10:00Z",
        "index": "var/demo-index",
        "baseline": "default",
        "metrics": list(METRICS),
        "tasks": {"fashion_text": fashion, "spoken": spoken},
        "overall": {
            "profiles": {"default": {"means": means(0.727, 0.62, 0.82, 0.26)},
                         "bm25": {"means": means(0.7456, 0.61, 0.88, 0.25)},
                         "learned@2": {"means": means(0.76314, 0.67, NAN, 0.29)}},
            "compare": {"learned@2": {"ndcg@10": comp(0.76314, 0.727, 0.5, 2, 1, 1)},
                        "bm25": {"ndcg@10": comp(0.7456, 0.727, NAN, 0, 2, 1)}},
        },
        "curves": {
            "fashion_text": {"signals": ["bm25", "text:text_vector"], "alpha": alpha,
                             "ndcg@10": [0.7, 0.75, 0.8, 0.78, 0.72]},
            "spoken": {"signals": ["bm25", "text:text_vector"], "alpha": alpha,
                       "ndcg@10": [0.5, 0.55, NAN, 0.6, 0.58]},
        },
    }


def md_table(text: str, heading: str) -> dict[tuple[str, str], str]:
    """The Markdown table under `heading`, as {(row label, column header): cell}."""
    lines = text.split(heading + "\n", 1)[1].lstrip("\n").splitlines()
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    header, _, *body = rows
    return {(row[0], col): value for row in body for col, value in zip(header, row, strict=True)}


def check_png(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    with Image.open(io.BytesIO(data)) as image:
        image.verify()
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return image.size


def test_summary_table_has_rounded_means_in_the_right_cells(tmp_path: Path) -> None:
    report = tmp_path / "eval.md"
    write_report(make_result(), report)
    text = report.read_text(encoding="utf-8")
    assert text.startswith("# hybrid evaluation\n")
    for line in ("Created: 2026-11-25T20:10:00Z", "Index: var/demo-index", "Baseline: default"):
        assert line in text
    table = md_table(text, "## ndcg@10 per profile and task")
    assert table == {
        ("default", "profile"): "default", ("default", "fashion_text"): "0.812",
        ("default", "spoken"): "0.600", ("default", "overall"): "0.727",
        ("bm25", "profile"): "bm25", ("bm25", "fashion_text"): "0.746",
        ("bm25", "spoken"): "–", ("bm25", "overall"): "0.746",
        ("learned@2", "profile"): "learned@2", ("learned@2", "fashion_text"): "0.850†",
        ("learned@2", "spoken"): "0.632", ("learned@2", "overall"): "0.763",
    }
    assert "† p < 0.05 against the baseline (default)." in text


def test_dagger_marks_exactly_the_significant_comparison(tmp_path: Path) -> None:
    report = tmp_path / "eval.md"
    write_report(make_result(), report)
    text = report.read_text(encoding="utf-8")
    headings = ["## ndcg@10 per profile and task", "## Task fashion_text (3 queries)",
                "## Task spoken (2 queries)"]
    daggers = {(h, *key) for h in headings for key, value in md_table(text, h).items()
               if "†" in value}
    assert daggers == {(headings[0], "learned@2", "fashion_text"),
                       (headings[1], "learned@2", "ndcg@10")}


def test_task_tables_have_all_metrics_p_value_and_wtl(tmp_path: Path) -> None:
    report = tmp_path / "eval.md"
    write_report(make_result(), report)
    text = report.read_text(encoding="utf-8")
    fashion = md_table(text, "## Task fashion_text (3 queries)")
    assert [fashion[("learned@2", m)] for m in METRICS] == ["0.850†", "0.750", "0.950", "0.350"]
    assert fashion[("learned@2", "p (ndcg@10)")] == "0.003"
    assert fashion[("learned@2", "W/T/L (ndcg@10)")] == "2/0/1"
    assert fashion[("bm25", "p (ndcg@10)")] == "0.200"
    assert fashion[("bm25", "W/T/L (ndcg@10)")] == "0/2/1"
    assert fashion[("default", "p (ndcg@10)")] == "baseline"
    assert fashion[("default", "W/T/L (ndcg@10)")] == "–"
    spoken = md_table(text, "## Task spoken (2 queries)")
    assert {row for row, _ in spoken} == {"default", "learned@2"}  # bm25 did not run here
    assert spoken[("learned@2", "recall@100")] == "–"  # NaN
    assert spoken[("learned@2", "p (ndcg@10)")] == "0.060"


def test_markdown_writes_valid_pngs_linked_relatively(tmp_path: Path) -> None:
    report = tmp_path / "out" / "eval.md"
    written = write_report(make_result(), report)
    plots = tmp_path / "out" / "eval-plots"
    names = ["metric-per-profile.png", "per-query-wins-losses.png", "weight-curves.png"]
    assert written == [report, *(plots / n for n in names)]
    text = report.read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links == [f"eval-plots/{n}" for n in names]
    for link in links:
        width, height = check_png((report.parent / link).read_bytes())
        assert width > 300 and height > 200


def test_html_embeds_images_and_escapes_strings(tmp_path: Path) -> None:
    result = make_result()
    evil = "<script>alert(1)</script>"
    for section in [result["tasks"]["fashion_text"], result["overall"]]:
        section["profiles"][evil] = copy.deepcopy(section["profiles"]["bm25"])
    result["title"] = "eval & <b>more</b>"
    report = tmp_path / "eval.html"
    assert write_report(result, report) == [report]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval.html"]  # no plots folder
    text = report.read_text(encoding="utf-8")
    assert "<script" not in text and "<b>more" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<title>eval &amp; &lt;b&gt;more&lt;/b&gt;</title>" in text
    images = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', text)
    assert len(images) == 3
    for data in images:
        check_png(base64.b64decode(data, validate=True))
    assert "<td>0.850†</td>" in text


def test_unknown_suffix_raises(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"\.md.*\.html"):
        write_report(make_result(), tmp_path / "eval.txt")
    assert list(tmp_path.iterdir()) == []


def test_empty_curves_produce_no_weight_curve_plot(tmp_path: Path) -> None:
    report = tmp_path / "eval.md"
    write_report(make_result(), report)  # first with curves: leaves weight-curves.png
    assert (tmp_path / "eval-plots" / "weight-curves.png").exists()
    result = make_result()
    result["curves"] = {}
    written = write_report(result, report)
    assert [p.name for p in written] == ["eval.md", "metric-per-profile.png",
                                         "per-query-wins-losses.png"]
    assert not (tmp_path / "eval-plots" / "weight-curves.png").exists()  # stale one removed
    assert "weight curves" not in report.read_text(encoding="utf-8")
    html = write_report(result, tmp_path / "eval.html")[0].read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 2


def test_single_profile_with_empty_compare(tmp_path: Path) -> None:
    result = make_result()
    for section in [*result["tasks"].values(), result["overall"]]:
        section["profiles"] = {"default": section["profiles"]["default"]}
        section["compare"] = {}
    report = tmp_path / "eval.md"
    written = write_report(result, report)
    assert [p.name for p in written] == ["eval.md", "metric-per-profile.png", "weight-curves.png"]
    text = report.read_text(encoding="utf-8")
    assert md_table(text, "## ndcg@10 per profile and task") == {
        ("default", "profile"): "default", ("default", "fashion_text"): "0.812",
        ("default", "spoken"): "0.600", ("default", "overall"): "0.727"}
    assert "†" not in text.replace("† p < 0.05", "")


def test_differences_pool_tasks_and_skip_nan() -> None:
    diffs = differences(make_result(), "learned@2", "ndcg@10")
    assert sorted(diffs) == pytest.approx([-0.1, 0.0, 0.1, 0.1])
    assert differences(make_result(), "bm25", "ndcg@10") == pytest.approx([-0.1, 0.0, 0.0])


def test_histograms_cap_at_six_profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = make_result()
    for i in range(8):
        result["tasks"]["fashion_text"]["profiles"][f"p{i}"] = {"means": means(0.5, 0, 0, 0)}
    drawn: list[list[str]] = []

    def spy(result: dict[str, Any], labels: list[str], metric: str) -> Figure:
        drawn.append(labels)
        fig = histograms(result, labels, metric)
        assert len(fig.axes) == len(labels)
        return fig

    monkeypatch.setattr(report_module, "histograms", spy)
    write_report(result, tmp_path / "eval.md")
    assert drawn == [["bm25", "learned@2", "p0", "p1", "p2", "p3"]]


def test_histogram_titles_count_wins_and_losses() -> None:
    fig = histograms(make_result(), ["learned@2", "bm25"], "ndcg@10")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["learned@2: 2 wins, 1 losses", "bm25: 0 wins, 1 losses"]
    (zero_line,) = fig.axes[0].get_lines()
    assert np.asarray(zero_line.get_xdata()).tolist() == [0, 0]  # axvline(0)


def test_weight_curve_lines_and_axis_label() -> None:
    fig = curve_chart(make_result()["curves"], "ndcg@10")
    assert fig is not None
    (ax,) = fig.axes
    assert ax.get_xlabel() == "weight of text:text_vector (vs bm25)"
    assert [line.get_label() for line in ax.get_lines()] == ["fashion_text", "spoken"]
    assert np.asarray(ax.get_lines()[0].get_ydata()).tolist() == [0.7, 0.75, 0.8, 0.78, 0.72]
    assert curve_chart({}, "ndcg@10") is None
