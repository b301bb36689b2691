"""A small real index for the HTTP tests: products of the shared catalog with their
images, vectors computed by `hybrid index`, and an image alignment trained on them
with `hybrid align`, all under one folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIELD_MAP = REPO / "mappings" / "catalog-shared.json"


def write_catalog(folder: Path, shared_data: Path, fashion: int = 150, grocery: int = 20) -> Path:
    """The first `fashion` fashion and `grocery` grocery products, image paths absolute."""
    rows = [json.loads(line) for line in
            (shared_data / "catalog" / "products.jsonl").read_text().splitlines()]
    chosen = ([r for r in rows if r["product_id"].startswith("f")][:fashion]
              + [r for r in rows if r["product_id"].startswith("g")][:grocery])
    for r in chosen:
        r["image"] = str(shared_data / "catalog" / r["image"])
    path = folder / "products.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in chosen))
    return path


def build(folder: Path, shared_data: Path) -> tuple[Path, dict[str, str]]:
    """(index path, environment for processes that use it)."""
    catalog = write_catalog(folder, shared_data)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HYBRID_MODELS": str(folder / "models"),
           "HYBRID_MEDIA_ROOTS": str(shared_data)}  # the images are outside the catalog's folder
    index = folder / "index"

    def hybrid(*args: str) -> None:
        res = subprocess.run([sys.executable, "-m", "hybrid.cli.main", "--index", str(index),
                              *args], cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=900)
        if res.returncode:
            raise RuntimeError(f"hybrid {' '.join(args)} failed:\n{res.stderr[-3000:]}")

    hybrid("align", "--catalog", str(catalog), "--field-map", str(FIELD_MAP), "--epochs", "30",
           "--holdout", "0", "--cache", str(folder / "cache"))
    hybrid("index", str(catalog), "--field-map", str(FIELD_MAP), "--no-progress")
    return index, {"HYBRID_MODELS": env["HYBRID_MODELS"]}
