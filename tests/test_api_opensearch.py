"""The search API on the OpenSearch engine: a representative part of tests/test_api.py
run against `hybrid serve` on an OpenSearch index holding the same small catalog, and
the check that fusing on the server (a hybrid query through a search pipeline) gives
the planner's top 10 for the dev text queries. On the test node (conftest's
opensearch_url: OPENSEARCH_URL, else the node under .cache/ started for the session)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from api_index import FIELD_MAP, REPO
from test_api import (  # noqa: F401 - collected here too, on the OpenSearch server
    KEY,
    test_bad_requests_get_problem_details,
    test_filters_and_facets,
    test_get_search_for_simple_use,
    test_image_upload_finds_the_product_itself,
    test_ingest_over_http,
    test_offline_evaluation_ranks_as_the_api_does,
    test_ops_endpoints,
    test_pages_have_no_duplicates_or_gaps,
    test_profiles_by_name_and_version,
    test_text_and_image_together,
    test_text_query_is_fused_and_explained,
    test_writes_need_the_key,
)

from hybrid.testing.servers import ApiServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def os_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HYBRID_STATE_DIR of the module's OpenSearch index (media roots, fusion profiles)."""
    return tmp_path_factory.mktemp("opensearch-state")


@pytest.fixture(scope="module")
def os_small_index(small_index: tuple[Path, Path, dict[str, str]], os_settings: Any,
                   opensearch_module_index_name: Callable[[], str], shared_data: Path,
                   os_state: Path) -> str:
    """The small catalog of tests/api_index.py in a fresh OpenSearch index, vectors and
    all, made by the real `hybrid --engine opensearch index` command (deleted after the
    module)."""
    folder, _, env = small_index
    alias = opensearch_module_index_name()
    res = subprocess.run(
        [sys.executable, "-m", "hybrid.cli.main", "--engine", "opensearch", "--index", alias,
         "index", str(folder / "products.jsonl"), "--field-map", str(FIELD_MAP),
         "--no-progress"], cwd=REPO, env={**os.environ, **env, "HF_HUB_OFFLINE": "1",
                                 "HYBRID_MEDIA_ROOTS": str(shared_data),  # the images
                                 "HYBRID_STATE_DIR": str(os_state)},
        capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    return f"opensearch:{alias}"


@pytest.fixture(scope="module")
def api(os_small_index: str, small_index: tuple[Path, Path, dict[str, str]],
        os_state: Path) -> Iterator[ApiServer]:
    _, _, env = small_index
    state = os_state
    server = ApiServer(os_small_index, state / "serve.log", api_key=KEY, env={  # type: ignore[arg-type]
        **env, "HYBRID_STATE_DIR": str(state), "HYBRID_MAX_CONTENT_LENGTH": "2000000",
        "HYBRID_MAX_IMAGE_BYTES": "1000000"})
    server.start()
    yield server
    server.stop()


def dev_text_queries(shared_data: Path) -> list[str]:
    out = []
    for task in ("fashion_text", "grocery_text"):
        for line in (shared_data / "dev" / task / "queries.jsonl").read_text().splitlines():
            out.append(json.loads(line)["text"])
    return out


def same_top(planner: list[tuple[str, float]], server: list[tuple[str, float]], k: int = 10,
             tol: float = 1e-5) -> bool:
    """The same top k, allowing documents whose scores tie (within `tol`, float32 against
    float64) to change places, and a tie at the k-th place to bring in another one."""
    a, b = planner[:k], server[:k]
    if [d for d, _ in a] == [d for d, _ in b]:
        return bool(np.allclose([s for _, s in a], [s for _, s in b], atol=tol))
    cut = min(a[-1][1], b[-1][1]) + tol if a and b else 0.0
    above_a = {d: s for d, s in a if s > cut}
    above_b = {d: s for d, s in b if s > cut}
    return set(above_a) == set(above_b) and all(abs(above_a[d] - above_b[d]) <= tol
                                                 for d in above_a)


def rrf_bounds(results: dict[str, list[tuple[str, float]]], k: int
               ) -> dict[str, tuple[float, float]]:
    """Per document, the lowest and highest RRF score any order of tied raw scores can
    give it: OpenSearch ranks ties by Lucene's doc id, the planner by product id."""
    out: dict[str, list[float]] = {}
    for ranked in results.values():
        first: dict[float, int] = {}
        last: dict[float, int] = {}
        for pos, (_, score) in enumerate(ranked, 1):
            first.setdefault(score, pos)
            last[score] = pos
        for doc, score in ranked:
            lo_hi = out.setdefault(doc, [0.0, 0.0])
            lo_hi[0] += 1 / (k + last[score])
            lo_hi[1] += 1 / (k + first[score])
    return {d: (lo, hi) for d, (lo, hi) in out.items()}


def same_rrf_top(bounds: dict[str, tuple[float, float]], planner: list[tuple[str, float]],
                 server: list[tuple[str, float]], k: int = 10, tol: float = 1e-6) -> bool:
    """Every server score within its document's bounds, and every document of the
    planner's top k that the server left out could have scored below the server's k-th."""
    if any(not bounds[d][0] - tol <= s <= bounds[d][1] + tol for d, s in server[:k]):
        return False
    kth = server[:k][-1][1] if server else 0.0
    kept = {d for d, _ in server[:k]}
    return all(bounds[d][0] <= kth + tol for d, _ in planner[:k] if d not in kept)


# every fusion the server path accepts (pipelines.why_not_server_side)
SERVER_FUSIONS = [
    {},  # the default profile: min_max, arithmetic mean, weights 0.3 / 0.4 / 0.3
    {"normalizer": "min_max", "combiner": "geometric_mean"},
    {"normalizer": "min_max", "combiner": "harmonic_mean"},
    {"normalizer": "l2", "combiner": "arithmetic_mean"},
    {"normalizer": "l2", "combiner": "geometric_mean"},
    {"normalizer": "l2", "combiner": "harmonic_mean"},
    {"combiner": "rrf"},
]


def tied_across_the_cut(engine: Any, text: str, fields: Any, depth: int) -> bool:
    """Whether the BM25 scores at places depth and depth + 1 are equal (by the engine
    protocol's lexical search, not by the engine's own probe)."""
    hits = engine.lexical_search(text, fields=fields, size=depth + 1, source=False).hits
    return len(hits) > depth and hits[depth - 1].score == hits[depth].score


def test_server_side_fusion_gives_the_planner_top_10(os_small_index: str, shared_data: Path,
                                                     small_index: Any, monkeypatch: Any,
                                                     opensearch_client: Any) -> None:
    """For every fusion the node accepts, and every dev text query: the node's top 10 is
    the planner's. The node refuses (the searcher fuses on the client) exactly the
    queries whose BM25 list has documents tied across its cut: there the node keeps the
    tied documents of lowest Lucene doc id, the planner those of smallest product id, and
    min_max puts the kept ones at 0.001, which a geometric or harmonic mean is crushed by
    while it skips a missing score ('men maroon accessory gift set': the planner ranked
    5th a document that the node had kept at the cut)."""
    from dataclasses import replace

    from hybrid.engines import open_index
    from hybrid.planner.plan import SearchRequest
    from hybrid.planner.profile import default_profile
    from hybrid.planner.table import SignalTable
    from hybrid.search.searcher import Searcher

    monkeypatch.setenv("HYBRID_MODELS", small_index[2]["HYBRID_MODELS"])
    profiles = []
    for fusion in SERVER_FUSIONS:
        profile = replace(default_profile(), **fusion)
        if fusion.get("combiner") == "rrf":  # 2.19's RRF has no weights
            profile = profile.with_weights({s.name: 1.0 for s in profile.signals})
        profiles.append(profile)
    # HNSW is approximate per segment: a merge between the two searches of one query can
    # change what a k-NN sub-query finds (seen once in CI). One segment holds still.
    alias = os_small_index.removeprefix("opensearch:")
    opensearch_client.indices.forcemerge(index=alias, max_num_segments=1)
    opensearch_client.indices.refresh(index=alias)
    engine = open_index(os_small_index)
    planner, server = Searcher(engine), Searcher(engine, server_fusion=True)
    queries = dev_text_queries(shared_data)
    differ, refused, wrongly_refused = [], set(), []
    for text in queries:
        request = SearchRequest(text=text, size=10)
        mine = planner.retrieve(request, profiles[0])  # the lists; each fusion ranks them
        names = [q.signal for q in mine.plan.subqueries]
        assert len(names) == 3 and mine.fused is None
        lexical = next(q for q in mine.plan.subqueries if q.kind != "knn")
        tied = tied_across_the_cut(engine, text, lexical.fields, lexical.depth)
        for fusion, profile in zip(SERVER_FUSIONS, profiles, strict=True):
            theirs = server.retrieve(request, profile)
            if theirs.fused is None:  # the node refused: fused by the planner
                refused.add(text)
                if not tied:
                    wrongly_refused.append((fusion, text))
                continue
            p = theirs.plan
            ranked = SignalTable.from_lists(mine.results, names).ranking(
                np.array([p.weights[n] for n in names]), normalizer=p.normalizer,
                combiner=p.combiner, rrf_k=p.rrf_k, missing=p.missing)
            same = same_rrf_top(rrf_bounds(mine.results, p.rrf_k), ranked, theirs.fused) \
                if p.combiner == "rrf" else same_top(ranked, theirs.fused)
            if not same:
                differ.append((fusion, text, ranked[:10], theirs.fused[:10]))
    assert not differ, f"{len(differ)} differ, e.g. {differ[0]}"
    assert not wrongly_refused, f"refused without a tie at the cut: {wrongly_refused[:3]}"
    # the node fuses most queries: a tie across the cut is the exception
    assert len(refused) < len(queries) / 4, f"{len(refused)} of {len(queries)} refused"


def test_a_first_ingest_is_one_bulk_load(os_settings: Any, opensearch_client: Any,
                                         opensearch_index_name: Callable[[], str],
                                         shared_data: Path, tmp_path: Path) -> None:
    """`hybrid index` into a new OpenSearch index loads it in bulk (no refresh, no
    replicas until the end, then the index's settings back); into an index that already
    exists, its settings stay as they are while it serves searches."""
    catalog = tmp_path / "products.jsonl"
    lines = (shared_data / "catalog" / "products.jsonl").read_text().splitlines()
    catalog.write_text("\n".join(lines[:30]) + "\n")
    alias = opensearch_index_name()

    def index() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "hybrid.cli.main", "--engine", "opensearch", "--index",
             alias, "index", str(catalog), "--field-map", str(FIELD_MAP), "--no-vectors",
             "--no-progress"], cwd=REPO, env={**os.environ, "HYBRID_STATE_DIR": str(tmp_path)},
            capture_output=True, text=True, timeout=300)

    first = index()
    assert first.returncode == 0, first.stderr[-3000:]
    assert "one bulk load into the new index" in first.stdout
    settings = opensearch_client.indices.get_settings(index=alias)
    for entry in settings.values():
        assert entry["settings"]["index"].get("refresh_interval") != "-1", settings
    assert opensearch_client.count(index=alias)["count"] == 30
    again = index()
    assert again.returncode == 0, again.stderr[-3000:]
    assert "bulk load" not in again.stdout
