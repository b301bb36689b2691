"""`hybrid learn --fused-alpha`: choose the fused field's α on judged dev queries,
store it with the index (`<index>/fused.json`) and write every product's fused_vector
with it.

Product side: I = the stored image_text_vector (aligned image, MiniLM space),
T = MiniLM of the product text. Query side: MiniLM of text queries, the aligned image
encoder of image queries (the spaces the fused field is searched in). Spoken queries
are left out (they reach the field through their transcript, which is text).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from typing import Any

import numpy as np

from hybrid.errors import HybridError

FIELDS_NEEDED = ("image_text_vector",)


def cmd_fused_alpha(args: argparse.Namespace, open_existing: Any) -> int:
    from hybrid.catalog.media import MediaRoots
    from hybrid.encoders.image import load_image
    from hybrid.encoders.registry import load_encoder
    from hybrid.evaluation.suite import load_tasks
    from hybrid.ingest.fused import FIELD, IMAGE_ENCODER, TEXT_ENCODER, fused_version, write_alpha
    from hybrid.ingest.plan import DEFAULT_SPECS, plan, product_text
    from hybrid.ingest.tasks import file_hash
    from hybrid.learning.fused import alpha_grid, best_alpha, fuse

    with open_existing(args) as engine:
        if FIELD not in engine.schema.vector_fields:
            raise HybridError(f"the index has no {FIELD} field; it was made before the field "
                              "existed: index the catalog again into a new folder")
        docs = list(engine.scan())
        ids = [str(d["id"]) for d in docs]
        stored = engine.get_vectors(ids, list(FIELDS_NEEDED))
        image = np.stack([stored.get(i, {}).get("image_text_vector", np.zeros(384, np.float32))
                          for i in ids])
        if not stored:
            raise HybridError("no image_text_vector in the index yet: run 'hybrid encode'")
        print(f"encoding {len(docs):,} product texts with {TEXT_ENCODER} ...", file=sys.stderr)
        text_enc = load_encoder(TEXT_ENCODER)
        texts = [product_text(d) for d in docs]
        text = np.zeros((len(docs), 384), dtype=np.float32)
        has_text = [n for n, t in enumerate(texts) if t]
        text[has_text] = text_enc.encode_documents([texts[n] for n in has_text])
        image_enc = load_encoder(IMAGE_ENCODER)
        queries: list[tuple[np.ndarray, dict[str, float], tuple[str, ...]]] = []
        used: dict[str, int] = {}
        for qs in load_tasks(args.data, args.task or None):
            judged = [q for q in qs.judged() if (q.text and not q.audio) or q.image]
            if not judged:
                continue
            vecs = [text_enc.encode_queries([q.text])[0] if q.text else
                    image_enc.encode_queries([load_image(q.image)])[0] for q in judged]
            queries += [(v, {d: float(g) for d, g in qs.qrels[q.qid].items()}, q.exclude)
                        for v, q in zip(vecs, judged, strict=True)]
            used[qs.name] = len(judged)
        if not queries:
            raise HybridError("no judged text or image queries in the chosen tasks")
        scores = alpha_grid(ids, image, text, queries)
        alpha = best_alpha(scores)
        if args.dry_run:
            _print(scores, alpha, used, None)
            return 0
        write_alpha(args.index, alpha, {"ndcg@10": scores, "tasks": used})
        spec = next(s for s in DEFAULT_SPECS if s.field == FIELD)
        version = fused_version(args.index)
        from hybrid.engines import state_dir

        media = MediaRoots.for_index(state_dir(args.index))
        jobs = plan(docs, spec, version, {}, functools.cache(lambda s: file_hash(s, media)))
        fused = fuse(image, text, alpha)
        row = {i: n for n, i in enumerate(ids)}
        res = engine.set_vectors(FIELD, {j.id: fused[row[j.id]] for j in jobs},
                                 provenance={j.id: (j.hash, version) for j in jobs})
        engine.commit()
        _print(scores, alpha, used, sum(r.ok for r in res))
    return 0


def _print(scores: dict[float, float], alpha: float, used: dict[str, int],
           written: int | None) -> None:
    print(json.dumps({"alpha": alpha, "ndcg@10": scores, "queries": used,
                      "written": written}))
    print("alpha  nDCG@10 (fused field alone)")
    for a, s in scores.items():
        print(f"{a:5.2f}  {s:.4f}{'  <- chosen' if a == alpha else ''}")
    where = "stored in fused.json" if written is not None else "dry run: not stored"
    print(f"alpha {alpha:.2f} ({where}; queries: "
          + ", ".join(f"{k} {v}" for k, v in used.items()) + ")"
          + (f"; {written:,} fused vectors written" if written is not None else ""))
