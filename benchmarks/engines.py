#!/usr/bin/env python
"""The same synthetic catalog on the embedded engine and on an OpenSearch node
(OPENSEARCH_URL): ingest throughput, and the p50/p99 of a hybrid round.

The catalog is benchmarks/engine.py's (100,000 products by default: ~50 words of text,
brand, category, attributes, price, two 384-d vector fields). A hybrid round is one
lexical and two k-NN sub-queries at depth 100, fused (min-max, weighted arithmetic
mean, the planner's fusion code) and the page of 10 fetched:
- planner: the embedded engine runs the three sub-queries in turn; OpenSearch gets them
  in one `_msearch` round trip; the planner fuses on the client;
- server: OpenSearch's `hybrid` query through a normalization-processor search
  pipeline fuses on the node (the same fusion, checked by tests/test_api_opensearch.py);
  a search whose BM25 list ties across the cut is fused by the planner instead, after
  the probe that found the tie (OpenSearchEngine.hybrid_search), as the searcher does.
Both engines get the same queries, one at a time. Prints a JSON object, then a table.

    OPENSEARCH_URL=http://127.0.0.1:9200 .venv/bin/python benchmarks/engines.py --out engines.json
    .venv/bin/python benchmarks/engines.py --node --heap 2g --docs 100000   # own node
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine import FIELDS, WEIGHTS, generate, product, timed  # noqa: E402

from hybrid.planner.table import SignalTable  # noqa: E402

DEPTH, PAGE, BATCH = 100, 10, 2000
NODE_HEAP = "2g"
NAMES = ["bm25", *FIELDS]


def ingest(engine: Any, d: dict[str, Any]) -> dict[str, Any]:
    """Every product, in batches, until searchable (OpenSearch: inside bulk_load, so
    with refresh off and no replicas until the final refresh)."""
    start = time.perf_counter()
    refused = 0
    with engine.bulk_load() if hasattr(engine, "bulk_load") else nullcontext():
        for lo in range(0, d["n"], BATCH):
            docs = [product(d, i) for i in range(lo, min(d["n"], lo + BATCH))]
            for doc in docs:
                doc["vectors"] = {f: v.tolist() for f, v in doc["vectors"].items()}
            refused += sum(not r.ok for r in engine.add(docs))
        engine.commit()
    took = time.perf_counter() - start
    return {"seconds": round(took, 1), "products_per_s": round(d["n"] / took, 1),
            "refused": refused}


def fuse_page(results: list[list[tuple[str, float]]]) -> list[str]:
    ranked = SignalTable.from_lists(dict(zip(NAMES, results, strict=True)), NAMES).ranking(
        np.array(WEIGHTS), normalizer="min_max", combiner="arithmetic_mean")
    return [i for i, _ in ranked[:PAGE]]


def planner_round(engine: Any, text: str, vecs: list[np.ndarray]) -> list[str]:
    if hasattr(engine, "search_many"):
        found = engine.search_many(
            [engine.lexical_body(text, size=DEPTH, source=False)]
            + [engine.knn_body(f, v, k=DEPTH, source=False)
               for f, v in zip(FIELDS, vecs, strict=True)])
    else:
        found = [engine.lexical_search(text, size=DEPTH, source=False)] + [
            engine.knn_search(f, v, k=DEPTH, source=False)
            for f, v in zip(FIELDS, vecs, strict=True)]
    page = fuse_page([[(h.id, h.score) for h in r.hits] for r in found])
    engine.get_many(page)
    return page


def server_round(engine: Any, text: str, vecs: list[np.ndarray]) -> tuple[list[str], bool]:
    """The page, and whether the node fused it (False: a sub-query had documents tied
    across its cut, so the planner fused, as hybrid.search.Searcher does)."""
    queries = [engine.lexical_query(text, None, None)] + [
        engine.knn_query(f, v, DEPTH, None) for f, v in zip(FIELDS, vecs, strict=True)]
    res = engine.hybrid_search(queries, weights=list(WEIGHTS), size=DEPTH)
    if res is None:
        return planner_round(engine, text, vecs), False
    page = [h.id for h in res.hits[:PAGE]]
    engine.get_many(page)
    return page, True


def node_round(engine: Any, text: str, vecs: list[np.ndarray]) -> list[str]:
    """The `hybrid` query alone, fused on the node whatever the ties (no probe, no
    fallback): what a round costs when the node fuses. Not exact at a tie (see
    OpenSearchEngine.hybrid_search); timed to show the node's side of the server path."""
    from hybrid.engines.opensearch import pipelines
    from hybrid.engines.opensearch import requests as rq

    queries = [engine.lexical_query(text, None, None)] + [
        engine.knn_query(f, v, DEPTH, None) for f, v in zip(FIELDS, vecs, strict=True)]
    name = pipelines.pipeline_name(engine.alias, pipelines.pipeline_body(
        "min_max", "arithmetic_mean", list(WEIGHTS)))  # made by the server rounds
    resp = engine.client.search(index=engine.alias,
                                body=rq.hybrid_body(queries, DEPTH, pipeline=name))
    hits = sorted(((h["_id"], h["_score"]) for h in resp["hits"]["hits"]),
                  key=lambda h: (-h[1], h[0]))
    page = [i for i, _ in hits[:PAGE]]
    engine.get_many(page)
    return page


def bench(engine: Any, d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"ingest": ingest(engine, d)}
    items = [(t, [d["qvecs"][f][j] for f in FIELDS]) for j, t in enumerate(d["qtext"])]
    planned, out["planner_round"] = timed(lambda it: planner_round(engine, *it), items)
    if hasattr(engine, "hybrid_search"):
        served, out["server_round"] = timed(lambda it: server_round(engine, *it), items)
        same = [len(set(a) & set(b)) / PAGE
                for a, (b, _) in zip(planned, served, strict=True)]
        out["server_round"]["top10_overlap_with_planner"] = round(float(np.mean(same)), 4)
        out["server_round"]["fused_on_the_node"] = round(
            float(np.mean([on_node for _, on_node in served])), 4)
        alone, out["hybrid_query_alone"] = timed(lambda it: node_round(engine, *it), items)
        same = [len(set(a) & set(b)) / PAGE for a, b in zip(planned, alone, strict=True)]
        out["hybrid_query_alone"]["top10_overlap_with_planner"] = round(float(np.mean(same)), 4)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", "--docs", type=int, default=100_000, help="products")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--engines", nargs="+", default=["embedded", "opensearch"])
    ap.add_argument("--node", action="store_true",
                    help="start the node assembled under .cache/ for the run (instead of "
                         "OPENSEARCH_URL) and stop it at the end")
    ap.add_argument("--heap", default=NODE_HEAP, help="the started node's JVM heap")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    d = generate(args.n, args.queries)
    result: dict[str, Any] = {"products": args.n, "queries": args.queries, "depth": DEPTH,
                              "batch": BATCH, "date": time.strftime("%Y-%m-%d %H:%M %Z"),
                              "load_average_before": [round(x, 2) for x in os.getloadavg()]}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        for name in args.engines:
            if name == "embedded":
                from hybrid.engines.embedded import EmbeddedEngine

                engine: Any = EmbeddedEngine(Path(tmp) / "embedded")
            else:
                from hybrid.engines.opensearch import OpenSearchEngine, OpenSearchSettings

                settings = OpenSearchSettings.from_env()
                if args.node:
                    settings = replace(settings, url=stack.enter_context(node(args.heap)))
                    result["node_heap"] = args.heap
                engine = OpenSearchEngine(f"hybrid-bench-{uuid.uuid4().hex[:8]}",
                                          settings=settings)
                result["opensearch_url"] = engine.settings.url
            try:
                result[name] = bench(engine, d)
            finally:
                if name == "opensearch":
                    engine.drop()
                engine.close()
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    return 0


@contextmanager
def node(heap: str) -> Iterator[str]:
    """A node of hybrid.testing.opensearch_node with `heap` (e.g. "2g": 100,000 products
    hold 2 x 100,000 384-d vectors, ~0.3 GB, that Lucene buffers on the heap while it
    builds the HNSW graphs), stopped at the end; yields its URL."""
    from hybrid.testing.opensearch_node import OpenSearchNode

    started = OpenSearchNode(heap=heap)
    started.start()
    try:
        yield started.url
    finally:
        started.stop()


def table(r: dict[str, Any]) -> str:
    rows = [("ingest (products/s)", lambda e: f"{e['ingest']['products_per_s']:,.0f}"),
            ("hybrid round via the planner, p50 / p99 (ms)",
             lambda e: f"{e['planner_round']['p50_ms']:.1f} / {e['planner_round']['p99_ms']:.1f}"),
            ("hybrid round through the server path (probe; planner on a tie), p50 / p99 (ms)",
             lambda e: (f"{e['server_round']['p50_ms']:.1f} / {e['server_round']['p99_ms']:.1f}"
                        if "server_round" in e else "-")),
            ("the hybrid query alone (no probe), p50 / p99 (ms)",
             lambda e: (f"{e['hybrid_query_alone']['p50_ms']:.1f} / "
                        f"{e['hybrid_query_alone']['p99_ms']:.1f}"
                        if "hybrid_query_alone" in e else "-"))]
    names = [n for n in ("embedded", "opensearch") if n in r]
    lines = [f"| {r['products']:,} products | " + " | ".join(names) + " |",
             "|---|" + "---|" * len(names)]
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(cell(r[n]) for n in names) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
