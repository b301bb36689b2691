"""Grocery store photo -> product: dev/grocery_image phone photos against the catalog's 81
grocery products (one iconic image each). Each photo's `target` is the product shown.

Methods (cosine similarity, Recall@1/@5 of the target; the prototype's raw EfficientNet
features with ImageNet normalisation gave R@1 0.270, R@5 0.578):
  raw            EfficientNet-Lite0 photo vs iconic image (the encoder as shipped)
  raw-imagenet   the same with ImageNet mean/std (the prototype's preprocessing)
  aligned-text   photo mapped into MiniLM space vs the product's MiniLM title (image -> text)
  aligned-image  photo and iconic image both mapped, compared in MiniLM space
  fused          w * raw + (1 - w) * aligned-text, for each w in --weights

    .venv/bin/python benchmarks/grocery_photo.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hybrid.encoders.align import AlignedImageEncoder, product_text  # noqa: E402
from hybrid.encoders.base import EncoderError  # noqa: E402
from hybrid.encoders.image import (  # noqa: E402
    IMAGENET_MEAN,
    IMAGENET_STD,
    EfficientNetLite0Encoder,
    load_image,
    preprocess,
)
from hybrid.encoders.registry import load_encoder  # noqa: E402

DATA = REPO.parent / "shared" / "data"
KS = (1, 5)


def recall(scores: np.ndarray, target: np.ndarray) -> dict[str, float]:
    own = scores[np.arange(len(target)), target][:, None]
    rank = (scores >= own).sum(axis=1) - 1  # ties count against
    return {f"recall@{k}": round(float((rank < k).mean()), 4) for k in KS}


def imagenet_features(encoder: EfficientNetLite0Encoder, paths: list[Path]) -> np.ndarray:
    """The prototype's preprocessing: ImageNet mean/std instead of the weights' own."""
    import torch

    from hybrid.encoders.base import normalize

    batch = np.stack([preprocess(load_image(p), fit="crop", mean=IMAGENET_MEAN,
                                 std=IMAGENET_STD) for p in paths])
    rows = []
    with torch.inference_mode():
        for start in range(0, len(batch), 8):
            x = torch.from_numpy(batch[start:start + 8]).contiguous(
                memory_format=torch.channels_last)
            rows.append(encoder._model.extract_features(x).mean(dim=(2, 3)).numpy())
    return normalize(np.concatenate(rows))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--artefact", type=Path, help="alignment artefact (default: current)")
    p.add_argument("--weights", type=float, nargs="+", default=[0.7, 0.9])
    p.add_argument("--json", type=Path, help="also write the result here")
    args = p.parse_args()

    from hybrid.catalog import FieldMapping, iter_catalog

    queries = [json.loads(line) for line in
               (args.data / "dev" / "grocery_image" / "queries.jsonl").open(encoding="utf-8")]
    mapping = FieldMapping.load(REPO / "mappings" / "catalog-shared.json")
    products = [p for p in iter_catalog(args.data / "catalog" / "products.jsonl", mapping)
                if p.attributes.get("source") == "GroceryStoreDataset"]
    position = {prod.id: i for i, prod in enumerate(products)}
    target = np.array([position[q["target"]] for q in queries])
    photo_paths = [args.data / "dev" / q["image"] for q in queries]
    icon_paths = [Path(prod.images[0]) for prod in products]

    started = time.perf_counter()
    encoder = load_encoder("efficientnet-lite0")
    photos, icons = encoder.encode_queries(photo_paths), encoder.encode_documents(icon_paths)
    seconds = time.perf_counter() - started
    raw = photos @ icons.T
    results: dict[str, dict[str, float]] = {"raw": recall(raw, target)}
    assert isinstance(encoder, EfficientNetLite0Encoder)
    old = imagenet_features(encoder, photo_paths) @ imagenet_features(encoder, icon_paths).T
    results["raw-imagenet"] = recall(old, target)
    artefact = None
    try:
        aligned = AlignedImageEncoder(args.artefact)
        artefact = aligned.info["version"]
    except EncoderError as e:
        print(f"aligned methods skipped: {e}", file=sys.stderr)
    if artefact:
        mapped_photos = aligned.from_base(photos)
        titles = load_encoder("minilm").encode_documents([product_text(p) for p in products])
        to_text = mapped_photos @ titles.T
        results["aligned-text"] = recall(to_text, target)
        results["aligned-image"] = recall(mapped_photos @ aligned.from_base(icons).T, target)
        for w in args.weights:
            results[f"fused w={w:g}"] = recall(w * raw + (1 - w) * to_text, target)
    out = {"task": "grocery_image: store photo -> product among the 81 grocery products",
           "queries": len(queries), "products": len(products),
           "image_encoder": encoder.version, "alignment": artefact,
           "encode_seconds": round(seconds, 1), "results": results,
           "prototype": {"recall@1": 0.270, "recall@5": 0.578},
           "chance": {f"recall@{k}": round(k / len(products), 4) for k in KS}}
    print(json.dumps(out, indent=2))
    print()
    print(f"{'method':16} {'R@1':>7} {'R@5':>7}")
    for name, r in [*results.items(), ("prototype", out["prototype"]), ("chance", out["chance"])]:
        print(f"{name:16} {r['recall@1']:>7.3f} {r['recall@5']:>7.3f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
