#!/usr/bin/env python
"""Benchmark of the embedded engine on a synthetic catalog, next to LanceDB's hybrid search.
A fixed numpy seed makes ~50 words of text per product from a Zipf-Mandelbrot vocabulary (real
e-commerce words at the frequent end), 200 brands, 50 categories, colour/size, a price, and two
correlated 384-d vector fields of low intrinsic dimension (48-d Gaussian clusters, two random
projections, noise, unit length). Prints a JSON object, then a table with the targets.

Our hybrid round and LanceDB's native hybrid search are timed in turn on every query,
--runs times over all queries, on the same data in the same process: the table gives the
median p50 of the runs, their spread (min-max) and the median of the per-run ratios, so
load from other processes on a shared machine moves both sides alike. The same round
with its sub-queries one after another is timed beside them, to show what the overlap
buys.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DIM, LATENT, CENTRES, BATCH, WARMUP, K = 384, 48, 2000, 5000, 20, 10
FIELDS = ("text_vector", "image_text_vector")
WEIGHTS = (0.3, 0.35, 0.35)  # lexical, text_vector, image_text_vector
EF = 100  # the engine's ef_search; LanceDB is given the same
TARGETS = [("lexical p50 (ms)", "engine.lexical.p50_ms", "<=", 2.0),
           ("k-NN p50 (ms)", "engine.knn.text_vector.p50_ms", "<=", 2.0),
           ("hybrid round p50 (ms)", "rounds.ours_p50_ms.median", "<=", 8.0),
           ("k-NN recall@10", "engine.knn.text_vector.recall_at_10", ">=", 0.95),
           ("LanceDB hybrid p50 / ours, median of runs", "rounds.ratio.median", ">=", 3.0)]
CATEGORIES = """Shoes: Running Shoes, Sneakers, Boots, Sandals, Slippers
Clothing: Shirts, Jeans, Dresses, Jackets, Sweaters
Electronics: Headphones, Speakers, Chargers, Cameras, Smartwatches
Home: Lamps, Cushions, Rugs, Curtains, Candles
Kitchen: Knives, Pans, Mugs, Blenders, Kettles
Sports: Yoga Mats, Dumbbells, Bicycles, Tents, Backpacks
Beauty: Shampoo, Perfume, Lipstick, Moisturiser, Brushes
Toys: Puzzles, Dolls, Board Games, Building Blocks, Plush Toys
Garden: Planters, Hoses, Shovels, Seeds, Grills
Office: Notebooks, Pens, Desk Chairs, Monitors, Keyboards"""
LEAVES = [(top, leaf) for line in CATEGORIES.splitlines() for top, leaves in [line.split(": ")]
          for leaf in leaves.split(", ")]
COLOURS = "black white red blue green grey navy beige pink brown yellow orange purple silver gold"
SIZES = "XS S M L XL XXL 36 38 40 42 44 one-size"
WORDS = """
waterproof lightweight premium organic cotton leather wireless bluetooth rechargeable stainless
steel wooden handmade vintage classic modern slim fit breathable durable soft comfortable portable
compact ergonomic adjustable foldable non-stick ceramic glass bamboo wool linen silk denim suede
mesh rubber plastic aluminium recycled eco friendly outdoor indoor travel kids women men unisex
summer winter spring autumn warm cool casual formal sport running hiking yoga office kitchen
garden bathroom bedroom living room gift set pack pair large small medium mini extra long short
wide narrow high low waist neck sleeve collar pocket zip button strap handle lid base stand holder
cover case bag box bottle cup plate bowl jar light lamp bulb cable charger battery screen display
sound bass noise cancelling smart digital electric manual automatic fast quick easy clean care
wash dry machine washable scented unscented natural fragrance fresh floral citrus vanilla mint
protein vitamin herbal gentle sensitive skin hair face body hand foot shoe boot sandal sneaker
sole heel toe lace insole grip cushion memory foam support posture back seat chair desk table
shelf drawer storage organiser hook mirror frame wall floor rug mat curtain blanket pillow sheet
duvet towel robe sock glove scarf hat cap jacket coat vest shirt dress skirt trouser jean short
hoodie sweater cardigan polo tee top bra legging stretch elastic thermal insulated padded quilted
lined knit woven printed striped plaid checked floral solid pattern logo embroidered sequin beaded
metallic matte glossy polished brushed textured smooth quiet powerful efficient energy saving
timer sensor remote control app compatible universal replacement spare accessory kit tool bundle
edition limited original genuine official certified tested safe bpa free vegan
"""  # real words, the frequent end of the vocabulary


def vocabulary(rng: np.random.Generator, size: int = 3000) -> list[str]:
    """Real words first (the frequent end), then pronounceable filler words."""
    cons, vow = list("bcdfghklmnprstvz"), list("aeiou")
    words = list(dict.fromkeys(WORDS.split()))
    seen = set(words)
    while len(words) < size:
        n = int(rng.integers(2, 4))
        w = "".join(rng.choice(cons) + rng.choice(vow) for _ in range(n)) + rng.choice(cons)
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def project(rng: np.random.Generator, latent: np.ndarray, proj: np.ndarray) -> np.ndarray:
    x = latent @ proj
    noise = 0.1 * np.linalg.norm(x, axis=1).mean() / np.sqrt(DIM)
    return unit(x + rng.normal(0.0, noise, x.shape))


def generate(n: int, nq: int, seed: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    vocab = np.array(vocabulary(rng))
    p = 1.0 / (np.arange(len(vocab)) + 10.0)  # Zipf-Mandelbrot
    p /= p.sum()
    brands = [f"{w.capitalize()}{s}" for w, s in zip(vocabulary(rng, 3200)[-200:], rng.choice(
        ["", " Co", " Labs", " & Sons", "ware"], 200), strict=True)]
    centres = rng.normal(0.0, 1.0, (CENTRES, LATENT)) + rng.normal(0.0, 0.5, LATENT)
    centre_cat = rng.integers(len(LEAVES), size=CENTRES)
    centre = rng.integers(CENTRES, size=n)
    latent = centres[centre] + rng.normal(0.0, 0.6, (n, LATENT))
    cats = np.where(rng.random(n) < 0.8, centre_cat[centre], rng.integers(len(LEAVES), size=n))
    projs = [rng.normal(0.0, 1.0 / np.sqrt(LATENT), (LATENT, DIM)) for _ in FIELDS]
    latent2 = latent + rng.normal(0.0, 0.3, latent.shape)  # the second field: same item, other view
    vecs = {FIELDS[0]: project(rng, latent, projs[0]), FIELDS[1]: project(rng, latent2, projs[1])}
    words = vocab[rng.choice(len(vocab), size=(n, 46), p=p)]
    qdoc = rng.choice(n, size=nq, replace=False)
    qlat = latent[qdoc] + rng.normal(0.0, 0.35, (nq, LATENT))
    qvecs = {f: project(rng, qlat, pr) for f, pr in zip(FIELDS, projs, strict=True)}
    # 2-3 words of the product's title, so frequent words are likelier
    qtext = [" ".join(words[i, np.sort(rng.choice(6, int(rng.integers(2, 4)), replace=False))])
             for i in qdoc]
    return {"n": n, "words": words, "cats": cats, "brands": brands, "qtext": qtext,
            "qvecs": qvecs, "vecs": vecs, "brand": rng.integers(len(brands), size=n),
            "colour": rng.integers(15, size=n), "size": rng.integers(12, size=n),
            "price": np.round(np.exp(rng.normal(3.5, 0.9, n)), 2)}


def product(d: dict, i: int) -> dict:
    (top, leaf), w = LEAVES[d["cats"][i]], d["words"][i]
    return {"id": f"p{i:07d}", "title": f"{' '.join(w[:6])} {leaf.lower()}",
            "description": " ".join(w[6:]), "brand": d["brands"][d["brand"][i]],
            "category": [top, leaf],
            "attributes": {"colour": COLOURS.split()[d["colour"][i]],
                           "size": SIZES.split()[d["size"][i]]},
            "price": float(d["price"][i]), "vectors": {f: d["vecs"][f][i] for f in FIELDS}}


def timed(fn, items: list) -> tuple[list, dict]:
    for it in items[:WARMUP]:
        fn(it)
    out, lat = [], []
    for it in items:
        t = time.perf_counter()
        out.append(fn(it))
        lat.append((time.perf_counter() - t) * 1000)
    return out, {"p50_ms": round(float(np.percentile(lat, 50)), 3),
                 "p99_ms": round(float(np.percentile(lat, 99)), 3),
                 "mean_ms": round(float(np.mean(lat)), 3)}


def exact_top(mat: np.ndarray, queries: np.ndarray, mask: np.ndarray | None, k: int = K):
    sims = mat @ queries.T
    if mask is not None:
        sims[~mask] = -np.inf
    return [set(np.argpartition(-sims[:, j], k)[:k].tolist()) for j in range(len(queries))]


def recall(found: list[list[int]], truth: list[set]) -> float:
    pairs = zip(found, truth, strict=True)
    return round(float(np.mean([len(set(f) & t) / len(t) for f, t in pairs])), 4)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return -1.0


def disk_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)


def bench_engine(d: dict, path: Path) -> tuple[dict, dict[str, Any], Any]:
    """Build and measure the embedded engine; returns the results, the hybrid rounds
    (query number -> fused page; overlapped and one after another) and the engine's
    close."""
    from hybrid.engines.embedded import EmbeddedEngine
    from hybrid.planner.table import SignalTable
    n, res, rss0, t0 = d["n"], {}, rss_mb(), time.perf_counter()
    e = EmbeddedEngine(path)
    for lo in range(0, n, BATCH):
        bad = [r for r in e.add([product(d, i) for i in range(lo, min(n, lo + BATCH))]) if not r.ok]
        if bad:
            raise RuntimeError(f"add refused {len(bad)} documents, e.g. {bad[0]}")
    e.commit()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    res["build"] = {"seconds": round(time.perf_counter() - t0, 2), "rss_before_mb": rss0,
                    "rss_after_mb": rss_mb(), "peak_rss_mb": round(peak, 1),
                    "disk_mb": round(e.stats()["disk_bytes"] / 2**20, 1),
                    "documents": e.count(None)}
    out, res["lexical"] = timed(lambda q: e.lexical_search(q, size=K), d["qtext"])
    res["lexical"]["mean_total_hits"] = int(np.mean([r.total for r in out]))
    # filters: a ~2% category and a ~25% price band (bounds from the data's quantiles)
    leaf_share = np.bincount(d["cats"], minlength=len(LEAVES)) / n
    leaf = int(np.argmin(np.abs(leaf_share - 0.02)))
    lo, hi = (float(np.round(np.quantile(d["price"], q), 2)) for q in (0.55, 0.80))
    flts = {"category": ({"term": {"category": LEAVES[leaf][1]}}, d["cats"] == leaf),
            "price": ({"range": {"price": {"gte": lo, "lt": hi}}},
                      (d["price"] >= lo) & (d["price"] < hi))}
    res["knn"] = {}
    for field, fname, (flt, mask) in [(f, None, (None, None)) for f in FIELDS] + [
            (FIELDS[0], name, spec) for name, spec in flts.items()]:
        qs = list(d["qvecs"][field])
        out, stats = timed(lambda v, f=field, fl=flt: e.knn_search(f, v, k=K, filter=fl), qs)
        stats["recall_at_10"] = recall([[int(h.id[1:]) for h in r.hits] for r in out],
                                       exact_top(d["vecs"][field], d["qvecs"][field], mask))
        if flt is not None:
            stats["filter"], stats["selectivity"] = flt, round(float(mask.mean()), 4)
        res["knn"][field if fname is None else f"{field}+{fname}_filter"] = stats

    def knn(field: str, j: int) -> list[tuple[str, float]]:
        hits = e.knn_search(field, d["qvecs"][field][j], k=100, source=False).hits
        return [(h.id, h.score) for h in hits]

    weights = np.array(WEIGHTS)

    def lexical(j: int) -> list[tuple[str, float]]:
        return [(h.id, h.score) for h in
                e.lexical_search(d["qtext"][j], size=100, source=False).hits]

    def page(results: dict[str, list[tuple[str, float]]]) -> list[tuple[dict, float]]:
        top = SignalTable.from_lists(results, ["bm25", *FIELDS]).ranking(
            weights, K, normalizer="min_max", combiner="arithmetic_mean")
        docs = e.get_many([i for i, _ in top])
        return [(docs[i], s) for i, s in top if i in docs]

    def round_(j: int) -> list[tuple[dict, float]]:
        """As the searcher runs a plan whose query vectors are at hand: the sub-queries
        in one search_many (the k-NN candidate searches in a worker thread, faiss
        releasing the GIL, beside BM25 in this one, tantivy releasing it too); min-max +
        weighted mean over a SignalTable; then the page's documents."""
        found = e.search_many([e.lexical_body(d["qtext"][j], size=100, source=False)] + [
            e.knn_body(f, d["qvecs"][f][j], k=100, source=False) for f in FIELDS])
        return page({name: [(h.id, h.score) for h in r.hits]
                     for name, r in zip(["bm25", *FIELDS], found, strict=True)})

    def one_after_another(j: int) -> list[tuple[dict, float]]:
        return page({"bm25": lexical(j)} | {f: knn(f, j) for f in FIELDS})
    res["hybrid"] = {"shape": "lexical(100) + knn text_vector(100) + knn image_text_vector(100)"
                              ", ids only, in one search_many (k-NN candidates in a worker "
                              "thread beside BM25); min-max fused; top 10 documents fetched"}
    lists = [{"bm25": lexical(j)} | {f: knn(f, j) for f in FIELDS}
             for j in range(len(d["qtext"]))]
    fused = [SignalTable.from_lists(r, ["bm25", *FIELDS]).ranking(
        weights, K, normalizer="min_max", combiner="arithmetic_mean") for r in lists]
    res["hybrid"]["parts_p50_ms"] = {  # where the round's time goes
        "lexical_size_100": timed(lambda q: e.lexical_search(q, size=100, source=False),
                                  d["qtext"])[1]["p50_ms"],
        "knn_k_100": timed(lambda v: e.knn_search(FIELDS[0], v, k=100, source=False),
                           list(d["qvecs"][FIELDS[0]]))[1]["p50_ms"],
        "fusion_of_3_lists": timed(lambda r: SignalTable.from_lists(r, ["bm25", *FIELDS])
                                   .ranking(weights, K, normalizer="min_max",
                                            combiner="arithmetic_mean"), lists)[1]["p50_ms"],
        "page_fetch_10": timed(lambda top: e.get_many([i for i, _ in top]), fused)[1]["p50_ms"]}

    def close() -> None:
        e.close()
        res["build"]["disk_mb_after_close"] = disk_mb(path)
    return res, {"ours": round_, "ours_one_after_another": one_after_another}, close


def bench_lancedb(d: dict, path: Path) -> tuple[dict, Any]:
    """Build and measure LanceDB; returns the results and its hybrid search (query
    number -> page), None when LanceDB is missing."""
    os.environ.setdefault("LANCEDB_LOG", "error")  # else a warning per FTS query on stderr
    try:
        import lancedb
        import pyarrow as pa
        from lancedb.index import FTS, HnswSq
        from lancedb.rerankers import LinearCombinationReranker
    except ImportError as err:
        return {"skipped": f"lancedb not importable: {err}"}, None
    n, res = d["n"], {"version": lancedb.__version__}
    docs = [product(d, i) for i in range(n)]
    cols = {k: pa.array([p[k] for p in docs]) for k in ("title", "description", "brand", "price")}
    cols["id"] = pa.array(np.arange(n, dtype=np.int64))
    cols["category"] = pa.array([" > ".join(p["category"]) for p in docs])
    cols["text"] = pa.array([f"{p['title']} {p['description']} {p['brand']}" for p in docs])
    for f in FIELDS:
        cols[f] = pa.FixedSizeListArray.from_arrays(pa.array(d["vecs"][f].ravel()), DIM)
    table, t0, docs = pa.table(cols), time.perf_counter(), None
    db = lancedb.connect(str(path))
    t = db.create_table("products", data=table, mode="overwrite")
    t.create_index("text", config=FTS())
    t.create_index(FIELDS[0], config=HnswSq(distance_type="cosine", m=16, ef_construction=100))
    res["build"] = {"seconds": round(time.perf_counter() - t0, 2), "disk_mb": disk_mb(path),
                    "vector_index": f"IVF_HNSW_SQ on {FIELDS[0]} (cosine, m 16, ef_construction "
                                    "100, default partitions)", "fts_index": "native on text "
                    "(title + description + brand), default tokenizer",
                    "indices": [f"{i.name}: {i.index_type}" for i in t.list_indices()]}
    show = ["id", "title", "description", "brand", "category", "price"]
    qv = list(d["qvecs"][FIELDS[0]])
    _, res["fts"] = timed(lambda q: t.search(q, query_type="fts", fts_columns="text")
                          .select(show).limit(K).to_arrow(), d["qtext"])
    out, res["vector"] = timed(lambda v: t.search(v, vector_column_name=FIELDS[0],
                                                  query_type="vector").distance_type("cosine")
                               .ef(EF).select(show).limit(K).to_arrow(), qv)
    truth = exact_top(d["vecs"][FIELDS[0]], d["qvecs"][FIELDS[0]], None)
    res["vector"]["recall_at_10"] = recall([r["id"].to_pylist() for r in out], truth)
    rr = LinearCombinationReranker()

    def hybrid(j: int) -> Any:
        return (t.search(query_type="hybrid", vector_column_name=FIELDS[0], fts_columns="text")
                .vector(qv[j]).text(d["qtext"][j]).distance_type("cosine").ef(EF)
                .rerank(rr).select(show).limit(K).to_arrow())
    res["hybrid"] = {"shape": f"fts + vector {FIELDS[0]}, {rr}, limit {K}, ef {EF}"}
    return res, hybrid


def alternate(rounds: dict[str, Any], queries: int, runs: int) -> dict:
    """Each round (name -> query number -> page) timed on every query in turn, `runs`
    times over all queries: per run each round's p50 and p99, and LanceDB's p50 over
    ours; the median and spread of each over the runs. The order of the rounds rotates
    from query to query, so each follows each other equally often: whatever ran right
    after LanceDB's query was slower in trials (its threads burn no CPU after a query;
    the cache it fills is the likely cause)."""
    items, names = list(range(queries)), list(rounds)
    for j in items[:WARMUP]:
        for fn in rounds.values():
            fn(j)
    per_run: dict[str, list[float]] = {}
    for _ in range(runs):
        lat: dict[str, list[float]] = {name: [] for name in rounds}
        for j in items:
            for name in names[j % len(names):] + names[:j % len(names)]:
                t = time.perf_counter()
                rounds[name](j)
                lat[name].append((time.perf_counter() - t) * 1000)
        p50 = {name: float(np.percentile(v, 50)) for name, v in lat.items()}
        for name, v in lat.items():
            per_run.setdefault(f"{name}_p50_ms", []).append(round(p50[name], 3))
            per_run.setdefault(f"{name}_p99_ms", []).append(round(float(np.percentile(v, 99)),
                                                                  3))
        if "lancedb" in rounds:
            per_run.setdefault("ratio", []).append(round(p50["lancedb"] / p50["ours"], 2))
            per_run.setdefault("ratio_one_after_another", []).append(
                round(p50["lancedb"] / p50["ours_one_after_another"], 2))
    return {"runs": runs, **{k: {"median": round(float(np.median(v)), 3), "min": min(v),
                                 "max": max(v), "each": v} for k, v in per_run.items()}}


def get(res: dict, dotted: str) -> Any:
    for part in dotted.split("."):
        res = res.get(part, {}) if isinstance(res, dict) else {}
    return res if res != {} else None


def check_targets(res: dict) -> dict:
    out = {}
    for label, key, op, want in TARGETS:
        got = get(res, key)
        ok = got is not None and (got <= want if op == "<=" else got >= want)
        out[f"{label} {op} {want}"] = {"value": got, "pass": ok}
    return out


def table(res: dict) -> str:
    def lat(s: dict) -> str:
        extra = f"  recall@10 {s['recall_at_10']}" if "recall_at_10" in s else ""
        return f"p50 {s['p50_ms']} ms  p99 {s['p99_ms']} ms{extra}"

    def spread(s: dict, unit: str = " ms") -> str:
        return f"{s['median']}{unit} (runs {s['min']}-{s['max']})"
    eng, lance, rounds = res["engine"], res["lancedb"], res["rounds"]
    b = eng["build"]
    rows = [("build: docs / seconds / disk MB / peak RSS MB",
             f"{b['documents']} / {b['seconds']} / {b['disk_mb']} / {b['peak_rss_mb']}"),
            ("lexical", lat(eng["lexical"])),
            *[(f"knn {k}", lat(v)) for k, v in eng["knn"].items()],
            (f"hybrid round p50, median of {rounds['runs']} runs", spread(rounds["ours_p50_ms"])),
            ("hybrid round p99, median", spread(rounds["ours_p99_ms"])),
            ("same round, sub-queries one after another, p50",
             spread(rounds["ours_one_after_another_p50_ms"])),
            ("round's parts alone, p50 ms", ", ".join(
                f"{k} {v}" for k, v in eng["hybrid"]["parts_p50_ms"].items()))]
    if "build" not in lance:
        rows.append(("lancedb", lance.get("skipped") or lance.get("error")))
    else:
        rows += [("lancedb build: seconds / disk MB",
                  f"{lance['build']['seconds']} / {lance['build']['disk_mb']}"),
                 *[(f"lancedb {name}", lat(lance[name])) for name in ("fts", "vector")],
                 ("lancedb hybrid p50, median", spread(rounds["lancedb_p50_ms"])),
                 ("lancedb hybrid p50 / ours, median of runs",
                  spread(rounds["ratio"], "x") + " (ours fuses 3 sub-queries, theirs 2)"),
                 ("lancedb hybrid p50 / ours one after another",
                  spread(rounds["ratio_one_after_another"], "x"))]
    rows += [("", "")] + [(f"target {k}", f"{v['value']}  {'PASS' if v['pass'] else 'FAIL'}")
                          for k, v in res["targets"].items()]
    width = max(len(a) for a, _ in rows)
    return "\n".join(f"{a:<{width}}  {b}" for a, b in rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for flag, kind, default in [("--docs", int, 100_000), ("--queries", int, 200),
                                ("--runs", int, 5), ("--out", Path, None), ("--work", Path, None)]:
        ap.add_argument(flag, type=kind, default=default)
    _ = [ap.add_argument(flag, action="store_true") for flag in ("--keep", "--skip-lancedb")]
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="hybrid-bench-"))
    for sub in ("embedded", "lancedb"):
        shutil.rmtree(work / sub, ignore_errors=True)
    t0, d = time.perf_counter(), generate(args.docs, args.queries)
    res: dict[str, Any] = {"docs": args.docs, "queries": args.queries, "work": str(work),
                           "generate_seconds": round(time.perf_counter() - t0, 2)}
    close = None
    try:
        res["engine"], rounds, close = bench_engine(d, work / "embedded")
        if args.skip_lancedb:
            res["lancedb"] = {"skipped": "--skip-lancedb"}
        else:
            try:
                res["lancedb"], theirs = bench_lancedb(d, work / "lancedb")
                if theirs is not None:
                    rounds["lancedb"] = theirs
            except Exception as err:  # a LanceDB failure must not lose our numbers
                res["lancedb"] = {"error": f"{type(err).__name__}: {err}"}
        res["rounds"] = alternate(rounds, args.queries, args.runs)
        res["targets"] = check_targets(res)
    finally:
        if close is not None:
            close()
        if not args.keep:
            for sub in ("embedded", "lancedb"):
                shutil.rmtree(work / sub, ignore_errors=True)
            if args.work is None:
                shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(res, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(f"{text}\n\n{table(res)}")


if __name__ == "__main__":
    main()
