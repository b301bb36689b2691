"""`hybrid align`: learn the image -> text-space mapping from a catalog's image-title pairs.

Trains on all but `--holdout` of the products, prints text->image Recall@1/@10 on the
held-out ones (title as query, an index of held-out images only), then, unless
`--no-refit`, trains again on every product with the same settings and saves that head
as a versioned artefact (`var/models/alignment/<version>/`, `current` points at it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_CATALOG = "../shared/data/catalog/products.jsonl"
DEFAULT_FIELD_MAP = "mappings/catalog-shared.json"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `align` on the `hybrid` command's subparsers."""
    p = subparsers.add_parser("align", help="learn the image -> text-space mapping "
                              "(EfficientNet-Lite0 -> MiniLM) from the catalog's images")
    p.add_argument("--catalog", type=Path,
                   default=Path(os.environ.get("HYBRID_DEMO_CATALOG", DEFAULT_CATALOG)),
                   help="catalog file with images (default %(default)s)")
    p.add_argument("--field-map", type=Path, default=None,
                   help=f"catalog column mapping JSON (default {DEFAULT_FIELD_MAP} if present)")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--holdout", type=float, default=0.2,
                   help="fraction of products held out to measure recall (default 0.2)")
    p.add_argument("--out", type=Path, default=None,
                   help="artefact root (default $HYBRID_MODELS/alignment or var/models/alignment)")
    p.add_argument("--text", choices=["title", "full", "both"], default="both",
                   help="text each image is aligned to: title, title+category+attributes, or "
                   "both (one drawn per epoch); the held-out query is always the title")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", type=Path, default=Path("var/cache/alignment"),
                   help="feature cache folder (default %(default)s)")
    p.add_argument("--no-refit", action="store_true",
                   help="save the head trained without the held-out products")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from hybrid.encoders.align import catalog_features, save_alignment, train_alignment
    from hybrid.errors import HybridError

    if not 0.0 <= args.holdout < 1.0:
        raise HybridError("--holdout must be at least 0 and below 1")
    if args.epochs < 1:
        raise HybridError("--epochs must be at least 1")
    field_map = args.field_map
    if field_map is None and Path(DEFAULT_FIELD_MAP).is_file():
        field_map = Path(DEFAULT_FIELD_MAP)

    def log(message: str) -> None:
        print(f"align: {message}", file=sys.stderr, flush=True)

    started = time.perf_counter()
    variants = ["title", "full"] if args.text == "both" else [args.text]
    feats = catalog_features(args.catalog, field_map, variants=variants,
                             cache_dir=args.cache, log=log)
    if len(feats.ids) < 10:
        raise HybridError(f"{args.catalog}: only {len(feats.ids)} products with a readable "
                          "image; need at least 10 to learn a mapping")
    for pid, reason in list(feats.skipped.items())[:5]:
        log(f"skipped {pid}: {reason}")
    if len(feats.skipped) > 5:
        log(f"... {len(feats.skipped) - 5} more products skipped")
    targets = _targets(feats.texts, variants)
    title = feats.texts["title"]
    log(f"{len(feats.ids)} products; features ready in {time.perf_counter() - started:.0f}s")
    settings: dict[str, Any] = {"epochs": args.epochs, "seed": args.seed}
    evaluated = train_alignment(feats.image, targets, query_embs=title,
                                holdout=args.holdout, log=log, **settings)
    final = evaluated
    if args.holdout > 0 and not args.no_refit:
        final = train_alignment(feats.image, targets, query_embs=title, holdout=0.0,
                                **settings)
        final.metrics = evaluated.metrics
    meta = {"image_encoder": feats.image_encoder, "text_encoder": feats.text_encoder,
            "text": args.text, "catalog": str(Path(args.catalog).absolute()),
            "products": len(feats.ids), "skipped": len(feats.skipped),
            "evaluation_holdout": args.holdout,
            "holdout_size": int(len(evaluated.holdout_index)),
            "refit_on_all": final is not evaluated,
            "metrics_note": "text->image on held-out products, title as query, index of "
                            "held-out images only; model trained without them"}
    folder = save_alignment(final, args.out, meta=meta)
    m = evaluated.metrics
    if m:
        print(f"held-out text->image ({len(evaluated.holdout_index)} products): "
              f"Recall@1 {m['recall@1']:.3f}  Recall@10 {m['recall@10']:.3f}  "
              f"(chance@1 {m['chance@1']:.4f})")
    print(f"trained in {evaluated.seconds + (final.seconds if final is not evaluated else 0):.1f}s"
          f" on {final.train_size} products")
    print(f"artefact: {folder}")
    return 0


def _targets(texts: dict[str, Any], variants: list[str]) -> Any:
    import numpy as np

    if len(variants) == 1:
        return texts[variants[0]]
    return np.stack([texts[v] for v in variants], axis=1)
