"""Replacing a keyword search, end to end on a real OpenSearch node: a shop's "existing"
index with its own mapping (not hybrid's) and a BM25 search template; `hybrid import`
proposes a field map and imports with it; `hybrid serve` answers with the old search (the
template signal) while hybrid's profile runs as a shadow; then `hybrid shadow report`,
with the judged comparison. With shadow mode on, shoppers get the same responses as
with it off."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hybrid.search.profiles import ProfileStore
from hybrid.testing.servers import REPO, ApiServer
from hybrid.testing.shop import create_source, profiles

requests = pytest.importorskip("requests")
pytestmark = [pytest.mark.integration, pytest.mark.slow]
QUERIES = 8           # judged fashion_text dev queries whose products are imported
PER_QUERY = 8         # relevant products kept per query


def _hybrid(*args: str, index: Path, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "hybrid.cli.main", "--index", str(index),
                           *args], cwd=REPO, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})


def _dev_subset(shared_data: Path, folder: Path) -> tuple[list[dict[str, Any]], Path]:
    """Catalog rows of the first judged fashion_text queries' relevant products, and a
    task folder with those queries and their judgments restricted to them."""
    task = shared_data / "dev" / "fashion_text"
    queries = [json.loads(x) for x in (task / "queries.jsonl").read_text().splitlines()]
    qrels: dict[str, list[str]] = {}
    for line in (task / "qrels.tsv").read_text().splitlines():
        qid, doc, grade = line.split("\t")[:3]
        if float(grade) > 0:
            qrels.setdefault(qid, []).append(doc)
    chosen = [q for q in queries if q["qid"] in qrels][:QUERIES]
    wanted = {d for q in chosen for d in qrels[q["qid"]][:PER_QUERY]}
    rows = [r for r in map(json.loads, (shared_data / "catalog" / "products.jsonl")
                           .read_text().splitlines()) if r["product_id"] in wanted]
    out = folder / "tasks" / "fashion_text"
    out.mkdir(parents=True)
    (out / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in chosen))
    (out / "qrels.tsv").write_text("".join(f"{q['qid']}\t{d}\t1\n" for q in chosen
                                           for d in qrels[q["qid"]][:PER_QUERY]))
    return rows, out.parent


def _visible(response: dict[str, Any]) -> dict[str, Any]:
    """What a shopper gets, less what differs between two runs of one search anyway."""
    out = {k: v for k, v in response.items() if k not in ("query_id", "took_ms")}
    out["signals"] = [{k: v for k, v in s.items() if k != "took_ms"} for s in out["signals"]]
    return out


def test_import_shadow_traffic_and_report_against_an_existing_index(
        tmp_path: Path, shared_data: Path, opensearch_url: str, opensearch_client: Any,
        opensearch_index_name: Callable[[], str]) -> None:
    rows, tasks = _dev_subset(shared_data, tmp_path)
    source = opensearch_index_name()
    assert create_source(opensearch_client, source, rows) == len(rows)
    index = tmp_path / "index"

    # 1. the proposed field map, read from the source mapping
    proposed = _hybrid("import", "--from-index", source, "--url", opensearch_url, index=index)
    assert proposed.returncode == 0, proposed.stderr
    field_map = json.loads(proposed.stdout)
    assert field_map["fields"] == {"id": "sku", "title": "name", "description": "blurb",
                                   "category": "category", "price": "cost"}
    assert set(field_map["attributes"]) == {"gender", "usage", "specs_colour", "specs_season"}
    assert not index.exists()  # proposing imports nothing
    (tmp_path / "field-map.json").write_text(json.dumps(field_map))

    # 2. the import (batches of 7: several pages of the point in time)
    imported = _hybrid("import", "--from-index", source, "--url", opensearch_url,
                       "--field-map", str(tmp_path / "field-map.json"), "--batch-size", "7",
                       "--no-progress", index=index)
    assert imported.returncode == 0, imported.stderr
    assert f"indexed {len(rows):,} products" in imported.stdout
    assert "text_vector" in imported.stdout
    found = _hybrid("search", "shirt", "--lexical", "--json", index=index)  # lexical at once
    hit = json.loads(found.stdout)["hits"][0]["source"]
    assert hit["attributes"]["specs_colour"] and hit["price"] > 10
    scrolled = _hybrid("import", "--from-index", source, "--url", opensearch_url,
                       "--field-map", str(tmp_path / "field-map.json"), "--batch-size", "7",
                       "--scroll", "--no-vectors", "--no-progress",
                       index=tmp_path / "scrolled")
    assert f"indexed {len(rows):,} products" in scrolled.stdout, scrolled.stderr
    both = [{h["id"]: h["source"] for h in json.loads(
        _hybrid("search", "", "--lexical", "--size", "100", "--json", index=i).stdout)["hits"]}
        for i in (index, tmp_path / "scrolled")]
    assert both[0] == both[1] and len(both[0]) == len(rows)

    # 3. profiles: the old search alone, hybrid's own signals
    store = ProfileStore(index / "profiles")
    for profile in profiles(source, connection="shop").values():
        store.save(profile)
    store.save({"name": "mixed", "signals": [  # the old search as one signal among others
        {"kind": "template", "name": "old", "weight": 0.5,
         "template": profiles(source)["old"]["signals"][0]["template"]},
        {"name": "bm25", "kind": "lexical", "weight": 0.5}]})

    # 4. the same traffic, shadow off and on
    env = {"HYBRID_PROFILE": "old", "HYBRID_CONNECTIONS": json.dumps({"shop": opensearch_url})}
    traffic = [{"q": q} for q in ["navy blue shirt", "black track pants", "women handbag",
                                  "casual shoes", "zzqqxv nothing"]]
    traffic += [{"q": "shirt", "filter": {"term": {"category": "Shirts"}}, "size": 5},
                {"q": "men", "page": 2, "size": 3},
                {"q": "blue shirt", "profile": "mixed", "explain": True}]
    answers = []
    for shadow in ({}, {"HYBRID_SHADOW_PROFILES": "hybrid", "HYBRID_SHADOW_SAMPLE": "1"}):
        server = ApiServer(index, tmp_path / "serve.log", workers=2, env=env | shadow)
        server.start()
        try:
            got = []
            for body in traffic:
                r = requests.post(f"{server.url}/search", json=body, timeout=60)
                assert r.status_code == 200, r.text
                got.append(_visible(r.json()))
            answers.append(got)
            if shadow:
                log = index / "shadow" / "shadow.jsonl"
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and (
                        not log.exists() or len(log.read_text().splitlines()) < len(traffic)):
                    time.sleep(0.5)
                metrics = requests.get(f"{server.url}/metrics", timeout=10).text
        finally:
            server.stop()
    assert answers[0] == answers[1]
    served = answers[0]
    assert [a["profile"]["name"] for a in served] == ["old"] * 7 + ["mixed"]
    assert [s["name"] for s in served[7]["signals"]] == ["old", "bm25"]
    for hit in served[7]["hits"]:
        assert sum(e["contribution"] for e in hit["explain"].values()) == pytest.approx(
            hit["score"])
    assert served[0]["hits"] and served[4]["total"] == 0   # the old search finds nothing
    assert all("Shirts" in h["fields"]["category"] for h in served[5]["hits"])
    assert 'hybrid_shadow_requests_total{outcome="logged"}' in metrics

    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert sorted(x["q"] for x in lines) == sorted(b["q"] for b in traffic)
    for line in lines:
        (shadow_result,) = line["shadows"]
        assert shadow_result["profile"]["name"] == "hybrid", shadow_result
        assert 0 <= shadow_result["rbo"] <= 1 and 0 <= shadow_result["overlap"] <= 1
        assert shadow_result["took_ms"] > 0
    zero = next(x for x in lines if x["q"] == "zzqqxv nothing")
    assert zero["served"]["total"] == 0 and zero["shadows"][0]["total"] > 0  # vectors always find

    # 5. the report, with the judged comparison: the old search against hybrid
    report = _hybrid("shadow", "report", "--report", str(tmp_path / "report.md"),
                     "--profile", "old", "--profile", "hybrid", "--data", str(tasks),
                     "--cache", str(tmp_path / "cache"), "--json", index=index,
                     env={"HYBRID_CONNECTION_SHOP_URL": opensearch_url})
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "report.md").read_text()
    for part in ("Queries that differ most: hybrid@1", "zzqqxv nothing",
                 "On judgments: should we switch?", "old@1", "fashion_text"):
        assert part in text
    aggregate = json.loads(report.stdout[report.stdout.index("{"):])
    assert aggregate["requests"] == len(traffic)
    assert aggregate["shadows"]["hybrid@1"]["served_zero_rate"] == pytest.approx(
        1 / len(traffic))
    assert (tmp_path / "report-plots" / "shadow-overlap.png").stat().st_size > 0
