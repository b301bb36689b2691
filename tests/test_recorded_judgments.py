"""Judgments recorded through the API land in a task folder that `hybrid eval` and
`hybrid learn` read as they are (hybrid.evaluation.recorded)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from hybrid.errors import QueryError
from hybrid.evaluation.judgments import load_task, read_qrels
from hybrid.evaluation.recorded import JudgmentStore, qid_of
from hybrid.evaluation.suite import load_tasks

pytestmark = pytest.mark.unit


def test_recorded_judgments_are_a_task_folder_eval_reads(tmp_path: Path) -> None:
    store = JudgmentStore(tmp_path / "judgments")
    store.put("Black  Shirt", "f1", 2)
    store.put("black shirt", "f2", 0)       # same query: case and spacing do not matter
    store.put("black shirt", "f1", 1)       # a change replaces the grade
    store.put("red shoes", "f9", 2)
    got = store.get("BLACK shirt")
    assert got == {"qid": qid_of("black shirt"), "query": "Black Shirt",
                   "judgments": {"f1": 1, "f2": 0}}
    tasks = load_tasks(tmp_path / "judgments")          # hybrid eval/learn --data <index>/judgments
    assert [t.name for t in tasks] == ["inspector"]
    qs = tasks[0]
    assert {q.text for q in qs.queries} == {"Black Shirt", "red shoes"}
    assert qs.qrels == {qid_of("black shirt"): {"f1": 1, "f2": 0}, qid_of("red shoes"): {"f9": 2}}
    assert read_qrels(store.qrels_file) == qs.qrels     # what --qrels reads
    assert store.queries() == [{"qid": qid_of("black shirt"), "query": "Black Shirt", "judged": 2},
                               {"qid": qid_of("red shoes"), "query": "red shoes", "judged": 1}]


def test_a_judgment_can_name_a_dev_query_by_its_qid(tmp_path: Path) -> None:
    store = JudgmentStore(tmp_path)
    store.put("boys blue shirts", "f15970", 2, qid="fq_00001")
    store.put(None, "f30805", 1, qid="fq_00001")
    assert read_qrels(store.qrels_file) == {"fq_00001": {"f15970": 2, "f30805": 1}}
    assert load_task(store.folder).queries[0].qid == "fq_00001"


@pytest.mark.parametrize("args", [
    (None, "f1", 1), ("", "f1", 1), ("q", "", 1), ("q", "a b", 1), ("q", 7, 1),
    ("q", "f1", 3), ("q", "f1", -1), ("q", "f1", True), ("q", "f1", "2"), ("q", "f1", None),
    ("x" * 1001, "f1", 1)])
def test_bad_judgments_are_refused(tmp_path: Path, args: tuple) -> None:
    with pytest.raises(QueryError):
        JudgmentStore(tmp_path).put(*args)
    assert not (tmp_path / "inspector" / "qrels.tsv").exists()


def test_an_unknown_qid_without_text_is_refused(tmp_path: Path) -> None:
    with pytest.raises(QueryError, match="no recorded query"):
        JudgmentStore(tmp_path).put(None, "f1", 1, qid="nope")
    with pytest.raises(QueryError):
        JudgmentStore(tmp_path).put("q", "f1", 1, qid="bad qid!")


def _record(folder: str, worker: int) -> None:
    store = JudgmentStore(folder)
    for i in range(20):
        store.put(f"query {i % 3}", f"w{worker}-d{i}", i % 3)


def test_writers_in_several_processes_lose_nothing(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_record, args=(str(tmp_path), w)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    qrels = read_qrels(JudgmentStore(tmp_path).qrels_file)
    assert sum(len(d) for d in qrels.values()) == 60
    assert len(JudgmentStore(tmp_path).queries()) == 3
