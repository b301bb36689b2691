"""`hybrid eval`, `hybrid learn` and `hybrid judgments` as a user runs them, on the small
real index and a query set made from its catalog's facets (as the dev sets are)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hybrid.planner.profile import Profile

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[1]


def hybrid(index: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "hybrid.cli.main", "--index", str(index),
                           *args], cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1", **env},
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def tasks(small_index: tuple[Path, Path, dict[str, str]], shared_data: Path) -> Path:
    """Two tasks: text queries 'gender colour article type' judged 2 when all three
    match and 1 when the article type does; photo queries judged by article type."""
    folder = small_index[0] / "tasks"
    rows = [json.loads(line) for line in
            (small_index[0] / "products.jsonl").read_text().splitlines()]
    fashion = [r for r in rows if r["product_id"].startswith("f")]
    facets = sorted({(r["gender"], r["colour"], r["article_type"]) for r in fashion})
    text, image = folder / "text", folder / "image"
    for f in (text, image):
        f.mkdir(parents=True)
    queries, qrels = [], []
    for i, (gender, colour, kind) in enumerate(facets[:24]):
        qid = f"t{i}"
        queries.append({"qid": qid, "text": f"{gender} {colour} {kind}".lower()})
        for r in fashion:
            if r["article_type"] == kind:
                grade = 2 if (r["gender"], r["colour"]) == (gender, colour) else 1
                qrels.append(f"{qid}\t{r['product_id']}\t{grade}")
    (text / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (text / "qrels.tsv").write_text("\n".join(qrels) + "\n")
    queries, qrels = [], []
    for r in fashion[:20]:
        qid = f"i{r['product_id']}"
        queries.append({"qid": qid, "image": r["image"], "exclude": r["product_id"]})
        qrels += [f"{qid}\t{o['product_id']}\t1" for o in fashion
                  if o["article_type"] == r["article_type"] and o is not r]
    (image / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (image / "qrels.tsv").write_text("\n".join(qrels) + "\n")
    return folder


def test_eval_scores_profiles_and_signals_and_writes_a_report(
        small_index: tuple[Path, Path, dict[str, str]], tasks: Path, tmp_path: Path) -> None:
    _, index, env = small_index
    report = tmp_path / "report.html"
    res = hybrid(index, env, "eval", "--data", str(tasks), "--signals", "--report",
                 str(report), "--json", "--cache", str(tmp_path / "cache"))
    assert res.returncode == 0, res.stderr
    means = json.loads(res.stdout)
    assert set(means) == {"text", "image", "overall"}
    assert means["text"]["bm25"]["ndcg@10"] > 0.5          # facet words are in the titles
    assert means["image"]["bm25"]["ndcg@10"] == 0.0         # no text: BM25 cannot answer
    assert means["image"]["image:image_vector"]["ndcg@10"] > 0.3
    assert set(means["overall"]["default@1"]) == {"ndcg@10", "mrr@10", "recall@100",
                                                   "precision@10"}
    html = report.read_text()
    assert "<table" in html and html.count("data:image/png;base64,") == 3  # with curves
    assert list((tmp_path / "cache").glob("text-*.jsonl"))  # collected once, cached


def test_a_report_with_a_wrong_suffix_is_refused_before_any_work(
        small_index: tuple[Path, Path, dict[str, str]], tasks: Path, tmp_path: Path) -> None:
    """The reported case: `--report out.txt` ran the whole evaluation, then ended in a
    ValueError traceback. The same for the shadow report."""
    _, index, env = small_index
    for args in (["eval", "--data", str(tasks), "--cache", str(tmp_path / "cache")],
                 ["shadow", "report", str(tmp_path / "no-log.jsonl")]):
        res = hybrid(index, env, *args, "--report", str(tmp_path / "out.txt"))
        assert res.returncode != 0 and "Traceback" not in res.stderr, res.stderr
        assert res.stderr.strip().splitlines()[-1].startswith("hybrid: error:")
        assert ".md or .html" in res.stderr
        assert not (tmp_path / "cache").exists()  # nothing was collected


def test_learn_saves_a_profile_the_api_can_use(
        small_index: tuple[Path, Path, dict[str, str]], tasks: Path, tmp_path: Path) -> None:
    _, index, env = small_index
    cache = str(tmp_path / "cache")
    res = hybrid(index, env, "learn", "--data", str(tasks), "--folds", "3", "--name",
                 "cli-fitted", "--cache", cache)
    assert res.returncode == 0, res.stderr
    assert "cli-fitted (cv)" in res.stdout and "saved profile cli-fitted@1" in res.stdout
    saved = json.loads((index / "profiles" / "cli-fitted" / "v1.json").read_text())
    profile = Profile.from_dict(saved)
    training = profile.meta["training"]
    assert training["folds"] == 3 and training["tasks"] == ["image", "text"]
    assert training["cv"]["overall"]["cli-fitted (cv)"]["ndcg@10"] > 0
    assert abs(sum(s.weight for s in profile.signals) - 1.0) < 1e-3
    per_query = hybrid(index, env, "learn", "--data", str(tasks), "--folds", "3",
                       "--per-query", "--name", "cli-adaptive", "--cache", cache)
    assert per_query.returncode == 0, per_query.stderr
    adaptive = Profile.from_dict(json.loads(
        (index / "profiles" / "cli-adaptive" / "v1.json").read_text()))
    assert adaptive.model is not None and "features" in adaptive.meta["training"]
    again = hybrid(index, env, "eval", "--data", str(tasks), "--profile", "default",
                   "--profile", "cli-fitted", "--profile", "cli-adaptive", "--cache", cache)
    assert again.returncode == 0, again.stderr
    assert "cli-fitted@1" in again.stdout and "cli-adaptive@1" in again.stdout


def test_learn_from_a_click_log(small_index: tuple[Path, Path, dict[str, str]], tasks: Path,
                                tmp_path: Path) -> None:
    from hybrid.evaluation.judgments import read_qrels
    from hybrid.learning.clicks import simulate

    _, index, env = small_index
    qrels = read_qrels(tasks / "text" / "qrels.tsv")
    rankings = {q: [sorted(d, key=lambda x: (-d[x], x))[:10],
                    sorted(d, key=lambda x: (d[x], x))[:10]]
                for q, d in sorted(qrels.items())[::2]}  # clicks on half the queries
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in simulate(rankings, qrels,
                                                                        per_query=20)))
    res = hybrid(index, env, "learn", "--data", str(tasks), "--task", "text", "--clicks",
                 str(events), "--folds", "2", "--dry-run", "--cache", str(tmp_path / "c"))
    assert res.returncode == 0, res.stderr
    assert "dry run" in res.stdout
    scored = re.search(r"scored (\d+) of (\d+) judged queries: those with clicks", res.stdout)
    assert scored and 0 < int(scored[1]) <= len(rankings) < int(scored[2]), res.stdout
    bad = hybrid(index, env, "learn", "--data", str(tasks), "--task", "text", "--clicks",
                 str(tmp_path / "missing.jsonl"), "--cache", str(tmp_path / "c"))
    assert bad.returncode == 2 and bad.stderr.startswith("hybrid: error: cannot read click")
    empty = tmp_path / "empty.jsonl"  # an export made before any click was logged
    empty.write_text("")
    bad = hybrid(index, env, "learn", "--data", str(tasks), "--task", "text", "--clicks",
                 str(empty), "--cache", str(tmp_path / "c"))
    assert bad.returncode == 2 and bad.stderr.startswith("hybrid: error: "), bad.stderr
    assert "holds no click events (0 events)" in bad.stderr
    assert len(bad.stderr.splitlines()) == 1, bad.stderr  # failed before any search


def test_a_task_no_signal_can_answer_is_named(small_index: tuple[Path, Path, dict[str, str]],
                                              tasks: Path, tmp_path: Path,
                                              shared_data: Path) -> None:
    """On an index without image vectors, photo queries cannot be answered: eval of that
    task stops with one line naming the task and the query, not only the planner's
    reason; eval of every task leaves it out, and says so."""
    from api_index import FIELD_MAP

    folder, _, env = small_index
    lexical = tmp_path / "lexical"
    res = hybrid(lexical, {**env, "HYBRID_MEDIA_ROOTS": str(shared_data)}, "index",
                 str(folder / "products.jsonl"), "--field-map", str(FIELD_MAP), "--no-vectors",
                 "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "indexed 170 products" in res.stdout, res.stdout  # (it once indexed none)
    res = hybrid(lexical, env, "eval", "--data", str(tasks), "--task", "image",
                 "--cache", str(tmp_path / "c"))
    assert res.returncode == 2, res.stderr
    error = res.stderr.strip().splitlines()[-1]
    assert re.match(r"hybrid: error: task image, query i\S+: no signal of profile 'default'",
                    error), res.stderr
    assert "(--task chooses the tasks to run)" in error
    # every task, as by default: the one no signal can answer is left out, and said
    res = hybrid(lexical, env, "eval", "--data", str(tasks), "--cache", str(tmp_path / "c"))
    assert res.returncode == 0, res.stderr
    assert re.search(r"^hybrid: left out task image: no signal of profile 'default' can "
                     r"answer this query: .*image:image_vector: no image_vector vectors",
                     res.stderr, re.M), res.stderr
    header = res.stdout.splitlines()[0].split()
    assert "text" in header and "image" not in header, res.stdout
    # progress to a file (not a terminal) is whole lines, not one line rewritten with \r
    assert "text: 24/24 queries" in res.stderr.splitlines() and "\r" not in res.stderr


def test_judgments_convert_both_ways(small_index: tuple[Path, Path, dict[str, str]],
                                     tasks: Path, tmp_path: Path) -> None:
    _, index, env = small_index
    as_json = tmp_path / "j.json"
    assert hybrid(index, env, "judgments", str(tasks / "text" / "qrels.tsv"),
                  str(as_json)).returncode == 0
    back = tmp_path / "j.qrels"
    assert hybrid(index, env, "judgments", str(as_json), str(back)).returncode == 0
    lines = {tuple(x.split()) for x in back.read_text().splitlines()}
    original = {(q, "0", d, g) for q, d, g in (x.split("\t") for x in
                                               (tasks / "text" / "qrels.tsv")
                                               .read_text().splitlines())}
    assert lines == original
    missing = hybrid(index, env, "judgments", str(tmp_path / "nope.tsv"), str(back))
    assert missing.returncode == 2 and "cannot read judgments" in missing.stderr


def test_profiles_defining_a_signal_differently_keep_their_own_results(
        small_index: tuple[Path, Path, dict[str, str]], tasks: Path, tmp_path: Path) -> None:
    from hybrid.search.profiles import ProfileStore

    _, index, env = small_index
    ProfileStore(index / "profiles").save({"name": "cli-brand-only", "signals": [
        {"kind": "lexical", "fields": {"brand.text": 1.0}}]})  # no product has a brand
    cache = str(tmp_path / "cache")

    def means(*profiles: str) -> dict[str, Any]:
        args = [a for p in profiles for a in ("--profile", p)]
        res = hybrid(index, env, "eval", "--data", str(tasks), "--task", "text", *args,
                     "--json", "--cache", cache)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)["text"]  # type: ignore[no-any-return]

    alone = means("default")
    both = means("default", "cli-brand-only")
    assert both["default@1"] == alone["default@1"]
    assert both["cli-brand-only@1"]["ndcg@10"] == 0.0
