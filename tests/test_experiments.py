"""Experiments' pure parts (definitions, bucketing, interleaving, statistics, reports,
click models, event validation) and the SQLite event store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from event_store_conformance import EventStoreConformance
from scipy import stats as scipy_stats

from hybrid.errors import StoredDataError
from hybrid.experiments import stats
from hybrid.experiments.bucketing import assign
from hybrid.experiments.clickmodels import clicks, session_events
from hybrid.experiments.events import EventError, validate
from hybrid.experiments.interleaving import credit, outcome, probabilistic, team_draft
from hybrid.experiments.model import Experiment, ExperimentError
from hybrid.experiments.report import build
from hybrid.search.events import SQLiteEventStore
from hybrid.search.experiments import ExperimentStore

pytestmark = pytest.mark.unit
NOW = 1_764_500_000.0


def ab(**extra: Any) -> Experiment:
    return Experiment.from_dict({"name": "exp1", "variants": [
        {"name": "control", "profile": "default"},
        {"name": "treatment", "profile": "learned@2"}]} | extra)


def test_an_experiment_round_trips_and_bad_fields_are_named() -> None:
    exp = ab(guardrails={"latency_p99_ms": 300}, traffic=0.5)
    assert Experiment.from_dict(exp.to_dict()) == exp
    assert exp.salt == "exp1" and exp.running and exp.shares() == [0.5, 0.5]
    for bad, field in [({"variants": []}, "variants"), ({"kind": "abc"}, "kind"),
                       ({"traffic": 0}, "traffic"), ({"guardrails": {"speed": 1}}, "speed"),
                       ({"variants": [{"name": "a", "profile": "x y"},
                                      {"name": "b", "profile": "d"}]}, "profile"),
                       ({"colour": 1}, "colour")]:
        with pytest.raises(ExperimentError, match=field):
            Experiment.from_dict(ab().to_dict() | bad)


def test_bucketing_is_sticky_and_balanced_on_100000_ids() -> None:
    exp = ab()
    ids = [f"user-{i}" for i in range(100_000)]
    first = [assign(exp, u) for u in ids]
    assert first == [assign(Experiment.from_dict(exp.to_dict()), u) for u in ids]  # stable
    counts = [first.count("control"), first.count("treatment")]
    assert stats.srm(counts, exp.shares()) > 0.001   # no sample ratio mismatch
    # a 90/10 split with 30% of traffic keeps its shares too
    skewed = Experiment.from_dict(exp.to_dict() | {"traffic": 0.3, "variants": [
        {"name": "control", "profile": "default", "split": 9},
        {"name": "treatment", "profile": "learned", "split": 1}]})
    got = [assign(skewed, u) for u in ids]
    inside = [g for g in got if g is not None]
    assert abs(len(inside) / len(ids) - 0.3) < 0.01
    assert stats.srm([inside.count("control"), inside.count("treatment")], [9, 1]) > 0.001
    # another salt shuffles users: about half change variant
    other = Experiment.from_dict(exp.to_dict() | {"salt": "other"})
    moved = sum(a != assign(other, u) for a, u in zip(first[:10_000], ids[:10_000], strict=True))
    assert 4_500 < moved < 5_500


def test_srm_detects_a_broken_split() -> None:
    assert stats.srm([50_600, 49_400], [1, 1]) < 0.001


def test_team_draft_takes_turns_without_duplicates() -> None:
    a = ["a1", "s1", "a2", "s2", "a3", "a4", "a5", "a6", "a7"]
    b = ["s1", "b1", "s2", "b2", "b3", "b4", "b5", "b6", "b7"]
    for seed in range(50):
        shown = team_draft([a, b], 8, np.random.default_rng(seed))
        docs = [d for d, _ in shown]
        assert len(docs) == len(set(docs)) == 8
        teams = [t for _, t in shown]
        for k in range(2, 9, 2):  # after every round the teams are even
            assert teams[:k].count(0) == teams[:k].count(1)
        assert {docs[0], docs[1]} <= {"a1", "s1", "b1"}
    three = team_draft([a, b, ["c1", "a1"]], 40, np.random.default_rng(0))
    assert len(three) == len({d for d, _ in three}) == 17  # runs out: the union


def test_probabilistic_multileaving_shows_each_document_once() -> None:
    rankings = [[f"d{i}" for i in range(10)], [f"d{9 - i}" for i in range(10)],
                [f"e{i}" for i in range(5)]]
    shown = probabilistic(rankings, 12, np.random.default_rng(1))
    assert len(shown) == len({d for d, _ in shown}) == 12
    assert all(d in rankings[t] for d, t in shown)


def test_interleaving_credits_the_better_ranking_under_a_click_model() -> None:
    qrels = {f"r{i}": 2 for i in range(5)}
    good = ["r0", "n0", "r1", "r2", "n1", "r3", "n2", "r4", "n3", "n4"]
    bad = ["n0", "n1", "r0", "n2", "n3", "n4", "r1", "n5", "r2", "n6"]
    rng = np.random.default_rng(0)
    wins = [0, 0]
    for _ in range(300):
        shown = team_draft([good, bad], 10, rng)
        clicked = clicks([qrels.get(d, 0) for d, _ in shown], rng, "cascade")
        best = outcome(credit([t for _, t in shown], clicked, 2))
        if best is not None:
            wins[best] += 1
    assert wins[0] > wins[1]
    assert stats.sign_test(*wins) < 0.05
    assert outcome([1, 1]) is None and outcome([0, 0]) is None and outcome([0, 2]) == 1


def test_statistics_agree_with_references() -> None:
    # the z test squared is the chi-square test of the 2x2 table without correction
    table = np.array([[50, 50], [70, 30]])
    reference = scipy_stats.chi2_contingency(table, correction=False).pvalue
    assert stats.two_proportions(50, 100, 70, 100) == pytest.approx(reference)
    assert stats.two_proportions(0, 10, 0, 10) is None
    assert stats.sign_test(60, 40) == pytest.approx(scipy_stats.binomtest(60, 100).pvalue)
    lo, hi = stats.bootstrap_ci([0, 1] * 500)
    assert lo < 0.5 < hi and hi - lo < 0.08
    assert stats.bootstrap_ci([]) is None and stats.bootstrap_ci([3.0]) == [3.0, 3.0]


def test_an_event_is_validated_and_its_bad_field_named() -> None:
    e = validate({"action_name": "click", "query_id": "q1", "object_id": "p1", "position": 2,
                  "timestamp": "2026-11-30T12:00:00Z", "client_id": "u1"}, NOW)
    assert e["user_id"] == "u1" and e["position"] == 2 and e["timestamp"] == 1_796_040_000.0
    nested = validate({"action_name": "impression", "query_id": "q1", "event_attributes": {
        "object": {"object_id": "p9"}, "position": {"ordinal": 4}}}, NOW)
    assert (nested["object_id"], nested["position"], nested["timestamp"]) == ("p9", 4, NOW)
    same = {"action_name": "purchase", "query_id": "q1", "object_id": "p1"}
    assert validate(same, NOW)["event_id"] == validate(dict(same), NOW + 5)["event_id"]
    for bad, field in [({"action_name": "hover"}, "action_name"), ({"position": 0}, "position"),
                       ({"position": None}, "position"), ({"query_id": ""}, "query_id"),
                       ({"object_id": ["p"]}, "object_id"), ({"timestamp": "yesterday"},
                                                             "timestamp"),
                       ({"value": -1}, "value"), ({"colour": "red"}, "colour")]:
        event = {"action_name": "click", "query_id": "q", "object_id": "p", "position": 1}
        with pytest.raises(EventError) as info:
            validate({k: v for k, v in (event | bad).items() if v is not None}, NOW)
        assert info.value.field == field, bad


def _search(qid: str, variant: str | None, user: str, hits: list[str],
            teams: list[str] | None = None) -> dict[str, Any]:
    return {"query_id": qid, "timestamp": NOW, "user_query": "shirts", "user_id": user,
            "session_id": None, "experiment": "exp1", "variant": variant, "profile": "x@1",
            "hits": hits, "teams": teams, "took_ms": 20.0}


class TestSQLiteEventStore(EventStoreConformance):
    @pytest.fixture
    def event_store(self, tmp_path: Path) -> SQLiteEventStore:
        return SQLiteEventStore(tmp_path / "events.sqlite")


def test_store_counts_a_duplicated_event_once_and_export_fills_the_query(tmp_path: Path
                                                                        ) -> None:
    store = SQLiteEventStore(tmp_path / "events.sqlite")
    exp = ab()
    for i in range(40):
        store.log_query(_search(f"q{i}", "control" if i % 2 else "treatment", f"u{i}",
                                ["p1", "p2", "p3"]))
    click = validate({"action_name": "click", "query_id": "q1", "object_id": "p2",
                      "position": 2, "event_id": "e1"}, NOW)
    buy = validate({"action_name": "purchase", "query_id": "q1", "object_id": "p2"}, NOW)
    assert store.add_events([click, buy]) == [True, True]
    assert store.add_events([click, buy]) == [False, False]      # both known already
    rep = build(exp, list(store.queries("exp1")), list(store.events("exp1")))
    control = rep["variants"][0]
    assert (control["queries"], control["clicks"]) == (20, 1)
    assert control["mrr"]["value"] == pytest.approx(0.5 / 20)
    assert control["conversion"]["value"] == pytest.approx(1 / 20)
    assert rep["srm"]["ok"] and rep["srm"]["observed"] == [20, 20]
    exported = list(store.events())
    assert len(exported) == 2
    assert exported[0]["user_query"] == "shirts" and exported[0]["variant"] == "control"


def test_report_tests_flags_and_timeline() -> None:
    exp = ab(guardrails={"latency_p99_ms": 10, "ctr_drop": 0.2})
    searches = [_search(f"q{i}", "control" if i < 200 else "treatment", f"u{i}", ["a", "b"])
                for i in range(400)]
    events = [validate({"action_name": "click", "query_id": f"q{i}", "object_id": "a",
                        "position": 1}, NOW)
              for i in list(range(0, 120)) + list(range(200, 260))]
    rep = build(exp, searches, events)
    ctr = {t["metric"]: t for t in rep["tests"]}["ctr"]
    assert rep["variants"][0]["ctr"]["value"] == pytest.approx(0.6)
    assert rep["variants"][1]["ctr"]["value"] == pytest.approx(0.3)
    assert ctr["significant"] and ctr["p_value"] < 1e-6
    assert any("ctr" in f for f in rep["variants"][1]["flags"])
    assert all(any("latency" in f for f in v["flags"]) for v in rep["variants"])
    assert rep["timeline"] == [{"date": "2025-11-30", "variant": "control", "queries": 200,
                                "ctr": 0.6},
                               {"date": "2025-11-30", "variant": "treatment", "queries": 200,
                                "ctr": 0.3}]


def test_interleaving_report_credits_clicks_by_team() -> None:
    exp = Experiment.from_dict(ab().to_dict() | {"kind": "interleaving"})
    searches, events = [], []
    for i in range(60):
        teams = ["control", "treatment"] if i % 2 else ["treatment", "control"]
        searches.append(_search(f"q{i}", None, f"u{i}", ["a", "b"], teams))
        clicked = "a" if teams[0] == "treatment" or i % 3 == 0 else "b"
        events.append(validate({"action_name": "click", "query_id": f"q{i}",
                                "object_id": clicked, "position": 1 + (clicked == "b")}, NOW))
    rep = build(exp, searches, events)
    wins = rep["interleaving"]["wins"]
    assert wins["treatment"] > wins["control"] and sum(wins.values()) == 60
    assert rep["interleaving"]["p_value"] < 0.05 and rep["srm"]["ok"]


def test_experiment_store_versions_every_change(tmp_path: Path) -> None:
    store = ExperimentStore(tmp_path / "experiments")
    store.create(ab())
    with pytest.raises(ExperimentError, match="exists"):
        store.create(ab())
    assert [e.name for e in store.running()] == ["exp1"]
    stopped = store.stop("exp1")
    assert (stopped.status, stopped.version) == ("stopped", 2) and stopped.stopped
    assert store.running() == [] and store.get("exp1") == stopped



def test_experiment_store_refuses_bad_names_and_reports_damaged_versions(tmp_path: Path
                                                                        ) -> None:
    store = ExperimentStore(tmp_path)
    with pytest.raises(ExperimentError, match="use letters, digits"):
        store.get("../exp1")
    store.create(ab())
    assert not store.files.write("exp1", 1, {})  # a taken version is never overwritten
    assert store.get("exp1").version == 1
    (tmp_path / "exp1" / "v2.json").write_text("{", encoding="utf-8")
    with pytest.raises(StoredDataError, match="experiment 'exp1' version 2 cannot be read"):
        store.get("exp1")  # the server's fault (500), not the request's
    assert store.all() == []  # damaged: left out of listings
    (tmp_path / "exp1" / "v3.json").write_text('{"name": "exp1"}', encoding="utf-8")
    with pytest.raises(StoredDataError, match="version 3 is not a valid experiment"):
        store.get("exp1")

def test_simulated_sessions_are_ubi_events() -> None:
    rng = np.random.default_rng(0)
    events = session_events("q1", ["a", "b", "c"], {"a": 2}, rng, "pbm", user_id="u")
    assert [e["action_name"] for e in events][:3] == ["impression"] * 3
    for e in events:
        assert validate(e, NOW)["event_id"] == e["event_id"]
    many = [c for _ in range(2000) for c in clicks([2, 2, 2], rng, "pbm")]
    # examination 1/k: rank 1 is clicked about twice as often as rank 2
    assert 1.7 < many.count(1) / many.count(2) < 2.3


def test_multileaving_report_tests_three_variants() -> None:
    exp = Experiment.from_dict({"name": "exp1", "kind": "interleaving", "variants": [
        {"name": n, "profile": n} for n in ("a", "b", "c")]})
    searches, events = [], []
    for i in range(90):
        teams = [("a", "b", "c"), ("b", "c", "a"), ("c", "a", "b")][i % 3]
        searches.append(_search(f"q{i}", None, f"u{i}", ["x", "y", "z"], list(teams)))
        doc = ["x", "y", "z"][teams.index("c" if i % 5 else "a")]  # c wins 4 times in 5
        events.append(validate({"action_name": "click", "query_id": f"q{i}", "object_id": doc,
                                "position": ["x", "y", "z"].index(doc) + 1}, NOW))
    rep = build(exp, searches, events)
    assert rep["interleaving"]["wins"] == {"a": 18, "b": 0, "c": 72}
    assert rep["interleaving"]["p_value"] < 1e-6
    pairs = {(t["a"], t["b"]): t for t in rep["tests"]}
    assert set(pairs) == {("a", "b"), ("a", "c"), ("b", "c")}
    assert pairs[("a", "c")]["wins"] == {"a": 18, "c": 72} and pairs[("a", "c")]["significant"]
