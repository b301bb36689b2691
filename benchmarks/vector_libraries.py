#!/usr/bin/env python
"""Compare HNSW libraries for the embedded engine's vector half on benchmarks/engine.py's
synthetic catalog (one 384-d field, cosine, M 16, ef_construction 100, ef_search 100):
build time and memory, recall@10, p50 latency at k 10 and k 100, whether a search lets
other Python threads run (the GIL released), and filtered search. Prints JSON, then a table.
Candidates missing from the environment are reported as skipped.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine import DIM, EF, FIELDS, exact_top, generate, recall, rss_mb  # noqa: E402

M, EF_CONSTRUCTION = 16, 100
Search = Callable[[np.ndarray, int], np.ndarray]  # (query, k) -> row numbers, best first
Batch = Callable[[np.ndarray, int], object]  # (queries, k) -> anything, one library call


def build_usearch(x: np.ndarray) -> tuple[Search, Batch, Any, str]:
    from usearch import __version__
    from usearch.index import Index
    ix = Index(ndim=DIM, metric="cos", dtype="f32", connectivity=M,
               expansion_add=EF_CONSTRUCTION, expansion_search=EF, multi=False)
    ix.add(np.arange(len(x), dtype=np.uint64), x, threads=1)

    def search(q: np.ndarray, k: int) -> np.ndarray:
        return np.asarray(ix.search(q, k, threads=1).keys, dtype=np.int64)
    return search, lambda qs, k: ix.search(qs, k, threads=1), None, f"usearch {__version__}"


def build_hnswlib(x: np.ndarray) -> tuple[Search, Batch, Any, str]:
    import hnswlib
    ix = hnswlib.Index(space="ip", dim=DIM)
    ix.init_index(max_elements=len(x), M=M, ef_construction=EF_CONSTRUCTION)
    ix.set_num_threads(1)
    ix.add_items(x, np.arange(len(x)))
    ix.set_ef(EF)

    def search(q: np.ndarray, k: int) -> np.ndarray:
        return ix.knn_query(q, k=k)[0][0].astype(np.int64)

    def filtered(q: np.ndarray, k: int, allowed: np.ndarray) -> np.ndarray:
        return ix.knn_query(q, k=k, filter=lambda i: bool(allowed[i]))[0][0].astype(np.int64)
    from importlib.metadata import version
    return search, lambda qs, k: ix.knn_query(qs, k=k), filtered, f"hnswlib {version('hnswlib')}"


def build_faiss(x: np.ndarray) -> tuple[Search, Batch, Any, str]:
    import faiss
    faiss.omp_set_num_threads(1)
    ix = faiss.IndexHNSWFlat(DIM, M, faiss.METRIC_INNER_PRODUCT)
    ix.hnsw.efConstruction = EF_CONSTRUCTION
    ix.add(x)
    params = faiss.SearchParametersHNSW(efSearch=EF)

    def search(q: np.ndarray, k: int) -> np.ndarray:
        params.efSearch = max(EF, k)
        return ix.search(q[None], k, params=params)[1][0].astype(np.int64)

    def filtered(q: np.ndarray, k: int, allowed: np.ndarray) -> np.ndarray:
        sel = faiss.IDSelectorBitmap(np.packbits(allowed, bitorder="little"))
        p = faiss.SearchParametersHNSW(efSearch=max(EF, k), sel=sel)
        return ix.search(q[None], k, params=p)[1][0].astype(np.int64)
    return (search, lambda qs, k: ix.search(qs, k, params=params), filtered,
            f"faiss-cpu {faiss.__version__}")


def latency(fn: Callable[[int], object], n: int) -> float:
    for i in range(min(20, n)):
        fn(i)
    lat = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        lat.append((time.perf_counter() - t) * 1000)
    return round(float(np.median(lat)), 3)


def releases_gil(batch: Callable[[], object]) -> bool:
    """Whether another Python thread runs while `batch` (one long library call) does:
    the main thread counts short sleeps until the call returns. A library that holds
    the GIL lets none through. Unlike timing two threads, load from other processes
    does not blur it."""
    done, ticks = threading.Event(), 0

    def run() -> None:
        batch()
        done.set()
    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.001)
    while not done.is_set():
        ticks += 1
        time.sleep(0.0005)
    t.join()
    return ticks > 0


def measure(name: str, build: Callable, d: dict) -> dict:
    x, qs = d["vecs"][FIELDS[0]], d["qvecs"][FIELDS[0]]
    gc.collect()
    rss0, t0 = rss_mb(), time.perf_counter()
    try:
        search, batch, filtered, label = build(x)
    except ImportError as err:
        return {"skipped": str(err)}
    res: dict = {"library": label, "build_seconds": round(time.perf_counter() - t0, 2),
                 "rss_growth_mb": round(rss_mb() - rss0, 1)}
    truth = exact_top(x, qs, None)
    found = [search(q, 10) for q in qs]
    res["recall_at_10"] = recall([f.tolist() for f in found], truth)
    res["p50_ms_k10"] = latency(lambda i: search(qs[i], 10), len(qs))
    res["p50_ms_k100"] = latency(lambda i: search(qs[i], 100), len(qs))
    res["releases_gil"] = releases_gil(lambda: batch(qs, 100))
    if filtered is not None:
        mask = d["cats"] == np.argsort(np.bincount(d["cats"]))[len(np.bincount(d["cats"])) // 2]
        truth_f = exact_top(x, qs, mask)
        got = [filtered(q, 10, mask) for q in qs]
        res["filtered_recall_at_10"] = recall([g[g >= 0].tolist() for g in got], truth_f)
        res["filtered_p50_ms"] = latency(lambda i: filtered(qs[i], 10, mask), len(qs))
        res["filter_selectivity"] = round(float(mask.mean()), 4)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--only", nargs="*", default=["usearch", "hnswlib", "faiss"])
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args()
    d = generate(args.docs, args.queries)
    builders = {"usearch": build_usearch, "hnswlib": build_hnswlib, "faiss": build_faiss}
    res = {"docs": args.docs, "queries": args.queries, "m": M, "ef_construction":
           EF_CONSTRUCTION, "ef_search": EF,
           "libraries": {n: measure(n, builders[n], d) for n in args.only}}
    print(json.dumps(res, indent=2))
    if args.out:
        args.out.write_text(json.dumps(res, indent=2) + "\n")
    cols = ["build_seconds", "rss_growth_mb", "recall_at_10", "p50_ms_k10", "p50_ms_k100",
            "releases_gil", "filtered_recall_at_10", "filtered_p50_ms"]
    print("\n" + "library".ljust(20) + "".join(c.rjust(23) for c in cols))
    for r in res["libraries"].values():
        print(str(r.get("library", r.get("skipped")))[:20].ljust(20)
              + "".join(str(r.get(c, "-")).rjust(23) for c in cols))


if __name__ == "__main__":
    main()
