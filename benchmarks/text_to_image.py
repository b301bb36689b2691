"""Text -> image retrieval through the learned image -> MiniLM mapping, on held-out products.

For each seed the head is trained (same settings as `hybrid align`) on all but `--holdout`
of the catalog's products; every held-out product's title (MiniLM) then searches an index
holding only the held-out products' mapped images, and we count how often its own image
is in the top k. Also reported: the fashion-only subset (the prototype's setting: R@1
0.205, R@10 0.598 among 1,407 held-out images) and, when an artefact exists, nDCG@10 of
dev/fashion_text with the image vectors alone (the prototype's image signal: 0.675).

    .venv/bin/python benchmarks/text_to_image.py [--seeds 0 1 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hybrid.encoders.align import (  # noqa: E402
    AlignedImageEncoder,
    CatalogFeatures,
    catalog_features,
    recall_at,
    train_alignment,
)
from hybrid.encoders.base import EncoderError  # noqa: E402

DATA = REPO.parent / "shared" / "data"
KS = (1, 5, 10)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--catalog", type=Path, default=DATA / "catalog" / "products.jsonl")
    p.add_argument("--field-map", type=Path, default=REPO / "mappings" / "catalog-shared.json")
    p.add_argument("--holdout", type=float, default=0.2)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--text", choices=["title", "full", "both"], default="both")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--cache", type=Path, default=REPO / "var" / "cache" / "alignment")
    p.add_argument("--json", type=Path, help="also write the result here")
    args = p.parse_args()

    variants = ["title", "full"] if args.text == "both" else [args.text]
    feats = catalog_features(args.catalog, args.field_map, variants=variants,
                             cache_dir=args.cache)
    title = feats.texts["title"]
    targets = (feats.texts[variants[0]] if len(variants) == 1
               else np.stack([feats.texts[v] for v in variants], axis=1))
    fashion = np.array([pid.startswith("f") for pid in feats.ids])
    runs = []
    for seed in args.seeds:
        result = train_alignment(feats.image, targets, query_embs=title, holdout=args.holdout,
                                 epochs=args.epochs, seed=seed)
        held = result.holdout_index
        mapped = result.map(feats.image[held])
        subsets = {"all": np.ones(len(held), bool), "fashion": fashion[held]}
        row = {"seed": seed, "train_seconds": round(result.seconds, 1),
               "train_size": result.train_size}
        for name, mask in subsets.items():
            m = recall_at(title[held][mask], mapped[mask], KS)
            n = int(mask.sum())
            row[name] = {"n": n, **{f"recall@{k}": round(m[f"recall@{k}"], 4) for k in KS},
                         "mrr": round(m["mrr"], 4),
                         **{f"chance@{k}": round(k / n, 4) for k in KS}}
        runs.append(row)
        print(f"seed {seed}: trained in {result.seconds:.1f}s", file=sys.stderr)
    summary = {name: {f"recall@{k}": round(float(np.mean([r[name][f"recall@{k}"] for r in runs])),
                                           4) for k in KS} for name in ("all", "fashion")}
    out = {"task": "text->image, held-out products, title as query, index of held-out images",
           "catalog": str(args.catalog), "products": len(feats.ids), "holdout": args.holdout,
           "text_targets": args.text, "epochs": args.epochs,
           "image_encoder": feats.image_encoder["version"], "text_encoder": feats.text_encoder,
           "runs": runs, "mean": summary,
           "prototype_fashion": {"recall@1": 0.205, "recall@10": 0.598, "n": 1407}}
    out["fashion_text_ndcg@10_image_only"] = fashion_text_ndcg(feats)
    print(json.dumps(out, indent=2))
    print_table(out)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


def fashion_text_ndcg(feats: CatalogFeatures) -> dict[str, object] | None:
    """nDCG@10 of dev/fashion_text ranking the whole catalog by mapped image vectors only,
    using the saved artefact (`hybrid align`), or None when there is none."""
    try:
        encoder = AlignedImageEncoder()
    except EncoderError as e:
        print(f"no artefact, fashion_text skipped: {e}", file=sys.stderr)
        return None
    from hybrid.encoders.registry import load_encoder

    task = DATA / "dev" / "fashion_text"
    queries = [json.loads(line) for line in (task / "queries.jsonl").open(encoding="utf-8")]
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for line in (task / "qrels.tsv").open(encoding="utf-8"):
        qid, pid, grade = line.rstrip("\n").split("\t")
        qrels[qid][pid] = int(grade)
    ids = np.array(feats.ids)
    index = encoder.from_base(feats.image)
    vectors = load_encoder("minilm").encode_queries([q["text"] for q in queries])
    scores = vectors @ index.T
    values = []
    for i, q in enumerate(queries):
        top = np.argsort(-scores[i], kind="stable")[:10]
        gains = [qrels[q["qid"]].get(str(ids[j]), 0) for j in top]
        ideal = sorted(qrels[q["qid"]].values(), reverse=True)[:10]
        idcg = sum((2 ** g - 1) / math.log2(r + 2) for r, g in enumerate(ideal))
        dcg = sum((2 ** g - 1) / math.log2(r + 2) for r, g in enumerate(gains))
        values.append(dcg / idcg if idcg else 0.0)
    return {"ndcg@10": round(float(np.mean(values)), 4), "queries": len(queries),
            "artefact": encoder.info["version"],
            "note": "artefact trained on every catalog product's image-text pairs"}


def print_table(out: dict) -> None:
    print()
    print(f"{'subset':10} {'n':>6} {'R@1':>7} {'R@5':>7} {'R@10':>7} {'chance@10':>10}")
    for run in out["runs"]:
        for name in ("all", "fashion"):
            r = run[name]
            print(f"{name + ' s' + str(run['seed']):10} {r['n']:>6} {r['recall@1']:>7.3f} "
                  f"{r['recall@5']:>7.3f} {r['recall@10']:>7.3f} {r['chance@10']:>10.4f}")
    proto = out["prototype_fashion"]
    print(f"{'prototype':10} {proto['n']:>6} {proto['recall@1']:>7.3f} {'':>7} "
          f"{proto['recall@10']:>7.3f}")
    ft = out.get("fashion_text_ndcg@10_image_only")
    if ft:
        print(f"dev/fashion_text nDCG@10, image vectors only: {ft['ndcg@10']:.3f} "
              "(prototype 0.675)")


if __name__ == "__main__":
    t0 = time.perf_counter()
    code = main()
    print(f"total {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    sys.exit(code)
