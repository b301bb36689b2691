"""Experiments over real HTTP: `hybrid serve` on the small real index, traffic from
`hybrid simulate` (position-based and cascade users judging by the dev qrels), reports
from the API, and the loop closed with `hybrid learn --clicks` on the exported events."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hybrid.evaluation.metrics import evaluate
from hybrid.planner.profile import default_profile
from hybrid.testing.servers import ApiServer

requests = pytest.importorskip("requests")
pytestmark = [pytest.mark.integration, pytest.mark.slow]
KEY = "exp-key"
AUTH = {"X-API-Key": KEY}
REPO = Path(__file__).resolve().parents[1]
HEAD = 40  # head queries: the loop needs many searches per query to learn from clicks


@pytest.fixture(scope="module")
def setup(small_index: tuple[Path, Path, dict[str, str]], shared_data: Path,
          tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder, index, env = small_index
    server = ApiServer(index, folder / "experiments-serve.log", api_key=KEY, env=env)
    server.start()
    for name, weights in {"weak": {"bm25": 0.05, "text:text_vector": 0.05,
                                   "text:image_text_vector": 1.0},
                          "imgtext": {"text:image_text_vector": 1.0}}.items():
        body = default_profile().to_dict() | {"name": name}
        body["signals"] = [s | {"weight": weights[s["name"]]} for s in body["signals"]
                           if s["name"] in weights]
        r = requests.put(f"{server.url}/profiles/{name}", json=body, headers=AUTH, timeout=30)
        assert r.status_code == 201, r.text
    tasks = _indexed_task(tmp_path_factory.mktemp("tasks"), shared_data,
                          folder / "products.jsonl")
    yield server, index, env, tasks
    server.stop()


def _indexed_task(out: Path, shared_data: Path, catalog: Path) -> Path:
    """fashion_text's dev queries that have a relevant product in the small index."""
    ids = {json.loads(line)["product_id"] for line in catalog.read_text().splitlines()}
    src = shared_data / "dev" / "fashion_text"
    rows = [line.split("\t") for line in (src / "qrels.tsv").read_text().splitlines()]
    keep = {q for q, d, g in rows if d in ids and int(g) >= 1}
    task = out / "fashion_text"
    task.mkdir()
    (task / "queries.jsonl").write_text("".join(
        line + "\n" for line in (src / "queries.jsonl").read_text().splitlines()
        if json.loads(line)["qid"] in keep))
    (task / "qrels.tsv").write_text("".join("\t".join(r) + "\n" for r in rows if r[0] in keep))
    return out


def hybrid(*args: str, env: dict[str, str] | None = None) -> str:
    res = subprocess.run([sys.executable, "-m", "hybrid.cli.main", *args], cwd=REPO,
                         env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def offline_ndcg(url: str, tasks: Path, profiles: list[str], head: int | None = None
                 ) -> dict[str, float]:
    """nDCG@10 of each profile's rankings, as the service returns them, on the queries
    the simulator draws from."""
    lines = (tasks / "fashion_text" / "queries.jsonl").read_text().splitlines()
    queries = [json.loads(line) for line in lines][:head]
    qrels: dict[str, dict[str, int]] = {}
    for line in (tasks / "fashion_text" / "qrels.tsv").read_text().splitlines():
        q, d, g = line.split("\t")
        qrels.setdefault(q, {})[d] = int(g)
    out = {}
    for profile in profiles:
        run = {}
        for q in queries:
            hits = requests.get(f"{url}/search", params={"q": q["text"], "profile": profile},
                                timeout=60).json()["hits"]
            run[q["qid"]] = {h["id"]: 1.0 / k for k, h in enumerate(hits, 1)}
        out[profile] = evaluate({q["qid"]: qrels[q["qid"]] for q in queries}, run,
                                ["ndcg@10"])[0]["ndcg@10"]
    return out


def experiment(url: str, name: str, kind: str, control: str, treatment: str) -> None:
    r = requests.post(f"{url}/experiments", headers=AUTH, timeout=30, json={
        "name": name, "kind": kind, "variants": [{"name": "control", "profile": control},
                                                 {"name": "treatment", "profile": treatment}]})
    assert r.status_code == 201, r.text


def simulate(url: str, tasks: Path, searches: int, *extra: str) -> None:
    hybrid("simulate", "--url", url, "--data", str(tasks), "--searches", str(searches),
           "--users", "300", *extra)


def report(url: str, name: str) -> dict[str, Any]:
    r = requests.get(f"{url}/experiments/{name}/report", timeout=60)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def stop(url: str, name: str) -> None:
    assert requests.post(f"{url}/experiments/{name}/stop", headers=AUTH,
                         timeout=30).json()["status"] == "stopped"


def test_every_search_carries_experiment_variant_and_query_id(setup: Any) -> None:
    server, *_ = setup
    res = requests.get(f"{server.url}/search", params={"q": "blue shirt", "user_id": "u1"},
                       timeout=60).json()
    assert (res["experiment"], res["variant"]) == (None, None) and len(res["query_id"]) == 32
    r = requests.post(f"{server.url}/experiments", headers=AUTH, timeout=30, json={
        "name": "bad", "variants": [{"name": "a", "profile": "default"},
                                    {"name": "b", "profile": "no-such-profile"}]})
    assert r.status_code == 404
    assert requests.post(f"{server.url}/experiments", json={}, timeout=30).status_code == 401


def test_events_are_idempotent_and_a_bad_one_is_rejected_alone(setup: Any) -> None:
    server, *_ = setup
    url = server.url
    experiment(url, "events", "ab", "default", "imgtext")
    res = requests.post(f"{url}/search", json={"q": "black watch", "session_id": "s-1"},
                        timeout=60).json()
    assert res["experiment"] == "events" and res["variant"] in ("control", "treatment")
    again = requests.post(f"{url}/search", json={"q": "red top", "session_id": "s-1"},
                          timeout=60).json()
    assert again["variant"] == res["variant"]                     # sticky
    click = {"action_name": "click", "query_id": res["query_id"],
             "object_id": res["hits"][0]["id"], "position": 1, "event_id": "click-1"}
    r = requests.post(f"{url}/events", json=click, timeout=30)
    assert r.status_code == 200 and r.json()["stored"] == 1
    r = requests.post(f"{url}/events", json=[click, click | {"position": "first"},
                                             click | {"event_id": "click-2", "position": 2,
                                                      "object_id": res["hits"][1]["id"]}],
                      timeout=30)
    assert r.status_code == 207
    items = r.json()["items"]
    assert [i["status"] for i in items] == ["duplicate", "rejected", "stored"]
    assert items[1]["field"] == "position" and "integer" in items[1]["error"]
    r = requests.post(f"{url}/events", json=click | {"action_name": "hover"}, timeout=30)
    assert r.status_code == 400 and r.json()["field"] == "action_name"
    assert "hover" in r.json()["detail"]
    rep = report(url, "events")
    mine = next(v for v in rep["variants"] if v["variant"] == res["variant"])
    assert (mine["queries"], mine["clicks"]) == (2, 2)            # click-1 counted once
    for headers in ({}, {"X-API-Key": "wrong"}):  # user and session ids: keyed
        r = requests.get(f"{url}/events/export", params={"experiment": "events"},
                         headers=headers, timeout=30)
        assert r.status_code == 401, r.text
        assert r.headers["Content-Type"] == "application/problem+json"
        assert "s-1" not in r.text
    exported = [json.loads(line) for line in
                requests.get(f"{url}/events/export", params={"experiment": "events"},
                             headers=AUTH, timeout=30).text.splitlines()]
    assert [e["event_id"] for e in exported] == ["click-1", "click-2"]
    assert exported[0]["user_query"] == "black watch" and exported[0]["variant"]
    stop(url, "events")


def test_ab_test_picks_the_profile_with_the_higher_offline_ndcg(setup: Any) -> None:
    server, _, _, tasks = setup
    ndcg = offline_ndcg(server.url, tasks, ["imgtext", "default"])
    better = "treatment" if ndcg["default"] > ndcg["imgtext"] else "control"
    experiment(server.url, "ab", "ab", "imgtext", "default")
    simulate(server.url, tasks, 600, "--seed", "3")
    rep = report(server.url, "ab")
    stop(server.url, "ab")
    by = {v["variant"]: v for v in rep["variants"]}
    worse = "control" if better == "treatment" else "treatment"
    assert by[better]["mrr"]["value"] > by[worse]["mrr"]["value"], (ndcg, rep)
    tests = {t["metric"]: t for t in rep["tests"]}
    assert tests["mrr"]["significant"], rep["tests"]
    assert rep["srm"]["ok"] and sum(v["queries"] for v in rep["variants"]) == 600
    assert by["control"]["latency_ms"]["p50"] > 0 and rep["timeline"]


def test_interleaving_picks_the_better_profile_and_learning_from_its_clicks_wins_next(
        setup: Any) -> None:
    server, index, env, tasks = setup
    url = server.url
    ndcg = offline_ndcg(url, tasks, ["weak", "default"], head=HEAD)
    assert ndcg["default"] > ndcg["weak"], ndcg
    experiment(url, "challenge", "interleaving", "weak", "default")
    res = requests.get(f"{url}/search", params={"q": "blue shirt", "user_id": "u9"},
                       timeout=60).json()
    assert res["experiment"] == "challenge" and res["variant"] is None
    assert {h["variant"] for h in res["hits"]} == {"control", "treatment"}
    simulate(url, tasks, 600, "--queries", str(HEAD), "--seed", "1")
    rep = report(url, "challenge")
    stop(url, "challenge")
    il = rep["interleaving"]
    assert il["wins"]["treatment"] > il["wins"]["control"] and il["p_value"] < 0.05, il
    assert rep["srm"]["ok"]

    # close the loop: learn the production profile's weights from the logged clicks
    events = index.parent / "challenge-events.jsonl"
    events.write_text(requests.get(f"{url}/events/export", params={"experiment": "challenge"},
                                   headers=AUTH, timeout=60).text)
    hybrid("--index", str(index), "learn", "--clicks", str(events), "--base", "weak",
           "--name", "from-clicks", "--data", str(tasks), "--cache",
           str(index.parent / "eval-cache"), env=env)
    experiment(url, "next", "interleaving", "weak", "from-clicks")
    simulate(url, tasks, 400, "--queries", str(HEAD), "--seed", "2", "--click-model",
             "cascade")
    il = report(url, "next")["interleaving"]
    stop(url, "next")
    assert il["wins"]["treatment"] > il["wins"]["control"] and il["p_value"] < 0.05, il


def test_cli_creates_lists_reports_stops_and_exports(tmp_path: Path) -> None:
    from hybrid.engines.embedded import EmbeddedEngine
    from hybrid.experiments.events import validate
    from hybrid.search.events import open_event_store

    index = tmp_path / "index"
    EmbeddedEngine(index).close()
    base = ("--index", str(index), "experiment")
    out = hybrid(*base, "create", "cli", "--variant", "control=default", "--variant",
                 "treatment=default@1:3", "--guardrail", "abandonment=0.5")
    assert "running" in out
    res = subprocess.run([sys.executable, "-m", "hybrid.cli.main", *base, "create", "bad",
                          "--variant", "a=default", "--variant", "b=missing"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stderr.startswith("hybrid: error: no profile named")
    store = open_event_store(index)
    for i in range(8):
        store.log_query({"query_id": f"q{i}", "timestamp": 1.0e9, "user_query": "shirts",
                         "user_id": f"u{i}", "experiment": "cli",
                         "variant": "control" if i < 2 else "treatment", "hits": ["a", "b"]})
    store.add_events([validate({"action_name": "click", "query_id": "q3", "object_id": "b",
                                "position": 2}, 1.0e9)])
    rep = json.loads(hybrid(*base, "report", "cli", "--json"))
    assert [v["queries"] for v in rep["variants"]] == [2, 6]
    assert rep["variants"][1]["mrr"]["value"] == pytest.approx(0.5 / 6)
    assert any("abandonment" in f for f in rep["variants"][0]["flags"])
    assert "treatment" in hybrid(*base, "report", "cli")
    assert "cli" in hybrid(*base, "list") and "stopped" in hybrid(*base, "stop", "cli")
    hybrid("--index", str(index), "events", "export", "--out", str(tmp_path / "e.jsonl"))
    (line,) = (tmp_path / "e.jsonl").read_text().splitlines()
    assert json.loads(line)["user_query"] == "shirts"
