"""Images mapped into the MiniLM text space by a head learned from the catalog itself.

No CLIP weights install offline here, so a text query reaches images through a small head
trained on the catalog's own image-title pairs: EfficientNet-Lite0 features (frozen) go
through `standardise -> Linear -> ReLU -> Linear (+ linear skip)` and land next to the
MiniLM embedding (frozen) of the product's text. The loss is a symmetric InfoNCE with
multi-positive targets (products with the same text count as matches).

Flow: `catalog_features` (cached .npz) -> `train_alignment` -> `save_alignment`
(`var/models/alignment/<version>/` + a `current` pointer) -> `AlignedImageEncoder`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hybrid.encoders.base import DecodeError, EncoderError, normalize

FORMAT = 1
WEIGHT_NAMES = ("mean", "scale", "w1", "b1", "w2", "b2", "skip")


def default_root() -> Path:
    """Where artefacts live: $HYBRID_MODELS/alignment, default var/models/alignment."""
    return Path(os.environ.get("HYBRID_MODELS", "var/models")) / "alignment"


@dataclass
class Alignment:
    """A trained head: numpy weights, the settings used and held-out metrics."""

    weights: dict[str, np.ndarray]
    config: dict[str, Any]
    metrics: dict[str, float]
    train_size: int
    train_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    holdout_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    seconds: float = 0.0

    def map(self, image_feats: np.ndarray) -> np.ndarray:
        return map_features(self.weights, image_feats)


TEXT_VARIANTS = ("title", "full")
_SKIP_ATTRIBUTES = {"source"}  # which dataset a row came from says nothing about it


def product_text(product: Any, variant: str = "title") -> str:
    """The text an image is aligned to: the title, or ("full") title, category, attributes."""
    if variant == "title":
        return str(product.title)
    if variant != "full":
        raise ValueError(f"text variant must be one of {TEXT_VARIANTS}, not {variant!r}")
    values = [", ".join(map(str, v)) if isinstance(v, list) else str(v)
              for k, v in product.attributes.items() if k not in _SKIP_ATTRIBUTES]
    parts = [product.title, " / ".join(product.category), ", ".join(values)]
    return ". ".join(p for p in parts if p)


@dataclass
class CatalogFeatures:
    """Per product with a decodable image: id, title, image features, text embeddings."""

    ids: list[str]
    titles: list[str]
    image: np.ndarray
    texts: dict[str, np.ndarray]
    image_encoder: dict[str, Any]
    text_encoder: str
    skipped: dict[str, str]


def catalog_features(catalog: str | Path, field_map: str | Path | None = None, *,
                     variants: Sequence[str] = ("title",), cache_dir: str | Path | None = None,
                     image_options: dict[str, Any] | None = None,
                     log: Callable[[str], None] | None = None) -> CatalogFeatures:
    """Image features and text embeddings of a catalog, cached in .npz files keyed by the
    catalog file (path, size, mtime), the field map and the encoders' versions."""
    from hybrid.catalog import FieldMapping, MediaRoots, iter_catalog
    from hybrid.catalog.media import configured_roots
    from hybrid.encoders.image import load_image
    from hybrid.encoders.registry import load_encoder

    catalog = Path(catalog).absolute()
    mapping = FieldMapping.load(field_map) if field_map else None
    media = MediaRoots.of([catalog.parent, *configured_roots()])  # as `hybrid index` reads
    products = [p for p in iter_catalog(catalog, mapping, media=media) if p.images]
    stat = catalog.stat()
    fingerprint = f"{catalog}|{stat.st_size}|{stat.st_mtime_ns}|" + (
        Path(field_map).read_text(encoding="utf-8") if field_map else "")
    cache = Path(cache_dir) if cache_dir is not None else Path("var/cache/alignment")
    cache.mkdir(parents=True, exist_ok=True)
    options = dict(image_options or {})
    images = load_encoder("efficientnet-lite0", **options)
    path = cache / f"images-{_key(fingerprint, images.version)}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as data:
            ids, feats = [str(i) for i in data["ids"]], data["feats"]
            skipped = dict(zip(map(str, data["bad_ids"]), map(str, data["bad_why"]),
                               strict=True))
    else:
        ids, rows, skipped = [], [], {}
        started = time.perf_counter()
        for start in range(0, len(products), 64):
            good, decoded = [], []
            for p in products[start:start + 64]:
                try:
                    decoded.append(load_image(media.read(p.images[0]), label=p.images[0]))
                    good.append(p.id)
                except DecodeError as e:
                    skipped[p.id] = str(e)
                except Exception as e:  # noqa: BLE001 - one bad file never stops the run
                    skipped[p.id] = f"{type(e).__name__}: {e}"
            if decoded:
                rows.append(images.encode_documents(decoded))
                ids.extend(good)
            if log and (start // 64) % 16 == 0:
                log(f"image features {start + 64}/{len(products)} "
                    f"({time.perf_counter() - started:.0f}s)")
        feats = np.concatenate(rows) if rows else np.zeros((0, images.dim), np.float32)
        _savez(path, ids=np.array(ids, dtype=str), feats=feats,
               bad_ids=np.array(list(skipped), dtype=str),
               bad_why=np.array(list(skipped.values()), dtype=str))
    by_id = {p.id: p for p in products}
    chosen = [by_id[i] for i in ids]
    encoder = load_encoder("minilm")  # frozen text side, loaded once per process
    texts = {}
    for variant in dict.fromkeys(["title", *variants]):
        tpath = cache / f"text-{variant}-{_key(fingerprint, encoder.version, variant)}.npz"
        if tpath.is_file():
            with np.load(tpath, allow_pickle=False) as data:
                texts[variant] = data["embs"]
        else:
            strings = [product_text(p, variant) for p in chosen]
            texts[variant] = encoder.encode_documents(strings, batch_size=64)
            _savez(tpath, ids=np.array(ids, dtype=str), embs=texts[variant])
    return CatalogFeatures(ids, [p.title for p in chosen], np.asarray(feats, np.float32),
                           texts, {"name": "efficientnet-lite0", "version": images.version,
                                   "options": options}, encoder.version, skipped)


def _savez(path: Path, **arrays: np.ndarray) -> None:
    """Arrays only (read back with allow_pickle=False), written whole or not at all."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    savez: Any = np.savez
    savez(tmp, **arrays)
    os.replace(tmp, path)


def _key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def map_features(weights: dict[str, np.ndarray], image_feats: np.ndarray) -> np.ndarray:
    """The head's forward pass in numpy: (n, 1280) features -> (n, 384) unit vectors."""
    x = (np.asarray(image_feats, dtype=np.float32) - weights["mean"]) * weights["scale"]
    hidden = np.maximum(x @ weights["w1"] + weights["b1"], 0.0)
    return normalize(hidden @ weights["w2"] + weights["b2"] + x @ weights["skip"])


def recall_at(queries: np.ndarray, index: np.ndarray, ks: Sequence[int] = (1, 5, 10)
              ) -> dict[str, float]:
    """Query i's match is index row i; Recall@k over all queries (ties count against)."""
    scores = queries @ index.T
    own = np.diag(scores)[:, None]
    rank = (scores >= own).sum(axis=1) - 1
    out = {f"recall@{k}": float((rank < k).mean()) for k in ks}
    out["mrr"] = float((1.0 / (rank + 1)).mean())
    out["chance@1"] = 1.0 / len(index)
    return out


def split(n: int, holdout: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) row indices, a seeded random split."""
    if not 0.0 <= holdout < 1.0:
        raise ValueError("holdout must be in [0, 1)")
    order = np.random.default_rng(seed).permutation(n)
    cut = int(round(n * holdout))
    return np.sort(order[cut:]), np.sort(order[:cut])


def train_alignment(image_feats: np.ndarray, text_embs: np.ndarray, *,
                    query_embs: np.ndarray | None = None, holdout: float = 0.2,
                    epochs: int = 60, hidden: int = 512, batch_size: int = 256,
                    lr: float = 2e-3, weight_decay: float = 1e-4, dropout: float = 0.2,
                    temperature: float = 0.05, seed: int = 0,
                    log: Callable[[str], None] | None = None) -> Alignment:
    """Train the head on (image feature, text embedding) pairs, both encoders frozen.

    `holdout` of the rows (seeded) is kept out of training; the metrics are text->image
    Recall@1/5/10 on them: each held-out row's `query_embs` (default `text_embs`, e.g.
    title embeddings) searches an index holding only the held-out mapped images.
    `text_embs` may be (n, d) or (n, m, d): m text targets per image, one drawn per epoch.
    """
    import torch

    started = time.perf_counter()
    feats = np.asarray(image_feats, dtype=np.float32)
    targets = np.asarray(text_embs, dtype=np.float32)
    if targets.ndim == 2:
        targets = targets[:, None, :]
    if len(feats) != len(targets):
        raise ValueError(f"{len(feats)} image rows but {len(targets)} text rows")
    queries = targets[:, 0, :] if query_embs is None else np.asarray(query_embs, np.float32)
    train, held = split(len(feats), holdout, seed)
    if len(train) < 2:
        raise ValueError("need at least two training pairs")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    mean = feats[train].mean(axis=0)
    scale = 1.0 / (feats[train].std(axis=0) + 1e-3)
    x_all = torch.from_numpy((feats - mean) * scale)
    t_all = torch.from_numpy(normalize(targets.reshape(-1, targets.shape[-1])).reshape(
        targets.shape))
    in_dim, out_dim = feats.shape[1], targets.shape[-1]
    nn = torch.nn  # x -> W2 relu(W1 x + b1) + b2 + S x, then unit length
    mlp = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout),
                        nn.Linear(hidden, out_dim))
    skip = nn.Linear(in_dim, out_dim, bias=False)
    opt = torch.optim.AdamW([*mlp.parameters(), *skip.parameters()], lr=lr,
                            weight_decay=weight_decay)
    steps = epochs * max(1, -(-len(train) // batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps,
                                                pct_start=0.1)
    train_t = torch.from_numpy(train)
    for epoch in range(epochs):
        mlp.train()
        order = train_t[torch.randperm(len(train), generator=gen)]
        pick = torch.randint(targets.shape[1], (len(feats),), generator=gen)
        total = 0.0
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            if len(rows) < 2:
                continue
            t = t_all[rows, pick[rows]]
            x = x_all[rows]
            out = nn.functional.normalize(mlp(x) + skip(x), dim=-1)
            loss = _contrastive(torch, out, t, temperature)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(rows)
        if log and (epoch + 1) % 10 == 0:
            log(f"epoch {epoch + 1}/{epochs} loss {total / len(train):.4f}")
    weights = _export(mlp, skip, mean, scale)
    metrics: dict[str, float] = {}
    if len(held) >= 2:
        metrics = recall_at(queries[held], map_features(weights, feats[held]))
    config = {"epochs": epochs, "hidden": hidden, "batch_size": batch_size, "lr": lr,
              "weight_decay": weight_decay, "dropout": dropout, "temperature": temperature,
              "seed": seed, "holdout": holdout, "targets_per_image": int(targets.shape[1])}
    return Alignment(weights, config, metrics, len(train), train, held,
                     time.perf_counter() - started)


def _export(mlp: Any, skip: Any, mean: np.ndarray, scale: np.ndarray
            ) -> dict[str, np.ndarray]:
    def arr(t: Any) -> np.ndarray:
        return np.ascontiguousarray(t.detach().cpu().numpy().astype(np.float32))

    first, last = mlp[0], mlp[3]
    return {"mean": mean.astype(np.float32), "scale": scale.astype(np.float32),
            "w1": arr(first.weight.T), "b1": arr(first.bias), "w2": arr(last.weight.T),
            "b2": arr(last.bias), "skip": arr(skip.weight.T)}


def _contrastive(torch: Any, images: Any, texts: Any, temperature: float) -> Any:
    """Symmetric InfoNCE; rows with the same text are all positives (soft targets)."""
    logits = images @ texts.T / temperature
    same = (texts @ texts.T > 0.999).float()
    target = same / same.sum(dim=1, keepdim=True)
    f = torch.nn.functional
    loss_i = -(target * f.log_softmax(logits, dim=1)).sum(dim=1).mean()
    loss_t = -(target * f.log_softmax(logits.T, dim=1)).sum(dim=1).mean()
    return (loss_i + loss_t) / 2


def weights_version(weights: dict[str, np.ndarray]) -> str:
    """12 hex digits of SHA-256 over the weights (names, shapes and bytes)."""
    digest = hashlib.sha256()
    for name in sorted(weights):
        a = np.ascontiguousarray(weights[name], dtype=np.float32)
        digest.update(f"{name}{a.shape}".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()[:12]


def save_alignment(alignment: Alignment, root: str | Path | None = None, *,
                   meta: dict[str, Any] | None = None, make_current: bool = True) -> Path:
    """Write `<root>/<version>/weights.npz` + `alignment.json`; point `<root>/current` at it."""
    root = Path(root) if root is not None else default_root()
    version = weights_version(alignment.weights)
    folder = root / version
    folder.mkdir(parents=True, exist_ok=True)
    _savez(folder / "weights.npz", **alignment.weights)
    info = {"format": FORMAT, "version": version,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "train_size": alignment.train_size, "metrics": alignment.metrics,
            "config": alignment.config, "train_seconds": round(alignment.seconds, 2),
            "dim": int(alignment.weights["w2"].shape[1]),
            "input_dim": int(alignment.weights["w1"].shape[0]), **(meta or {})}
    _write_text(folder / "alignment.json", json.dumps(info, indent=2, sort_keys=True) + "\n")
    if make_current:
        _write_text(root / "current", version + "\n")
    return folder


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def resolve_artefact(path: str | Path | None = None) -> Path:
    """The artefact folder for `path`: itself, or what its `current` pointer names."""
    folder = Path(path) if path is not None else default_root()
    if (folder / "alignment.json").is_file():
        return folder
    pointer = folder / "current"
    if pointer.is_file():
        target = folder / pointer.read_text(encoding="utf-8").strip()
        if (target / "alignment.json").is_file():
            return target
        raise EncoderError(f"{pointer} names {target.name!r}, which has no alignment.json; "
                           "run `hybrid align` first")
    raise EncoderError(f"no image-text alignment artefact at {folder}; run `hybrid align` first")


def load_alignment(path: str | Path | None = None) -> tuple[dict[str, np.ndarray],
                                                            dict[str, Any]]:
    """(weights, alignment.json) of an artefact folder, or of its root's `current` one."""
    folder = resolve_artefact(path)
    try:
        info = json.loads((folder / "alignment.json").read_text(encoding="utf-8"))
        with np.load(folder / "weights.npz", allow_pickle=False) as data:
            weights = {name: data[name].astype(np.float32) for name in WEIGHT_NAMES}
    except (OSError, ValueError, KeyError) as e:
        raise EncoderError(f"alignment artefact {folder} is unreadable: {e}") from e
    if info.get("format") != FORMAT or weights_version(weights) != info.get("version"):
        raise EncoderError(f"alignment artefact {folder} does not match its alignment.json")
    return weights, info


class AlignedImageEncoder:
    """Images -> EfficientNet-Lite0 features -> learned head -> 384-d MiniLM text space.

    Index its vectors in `image_text_vector` and search them with MiniLM text queries."""

    name = "aligned-image"
    modality = "image"

    def __init__(self, path: str | Path | None = None, device_name: str | None = None) -> None:
        self.weights, self.info = load_alignment(path)
        self.dim = int(self.info["dim"])
        self.version = f"alignment-{self.info['version']}"
        self.device_name = device_name
        self._image: Any = None

    @property
    def image_encoder(self) -> Any:
        if self._image is None:
            from hybrid.encoders.registry import load_encoder

            spec = self.info.get("image_encoder", {})
            options = dict(spec.get("options", {}))
            if self.device_name:
                options["device_name"] = self.device_name
            encoder = load_encoder("efficientnet-lite0", **options)
            if spec.get("version") and spec["version"] != encoder.version:
                raise EncoderError(f"alignment {self.info['version']} was trained on image "
                                   f"features {spec['version']}, but the installed encoder "
                                   f"is {encoder.version}; run `hybrid align` again")
            self._image = encoder
        return self._image

    @property
    def base(self) -> Any:
        """The encoder whose output this one maps: a query that needs both (an image
        query searches image_vector and image_text_vector) runs EfficientNet once."""
        return self.image_encoder

    def from_base(self, image_feats: np.ndarray) -> np.ndarray:
        """The base encoder's vectors (n, 1280) -> this encoder's (n, 384) unit vectors."""
        return map_features(self.weights, image_feats)

    def encode_documents(self, items: Sequence[Any], batch_size: int = 8) -> np.ndarray:
        return self.from_base(self.image_encoder.encode_documents(items, batch_size))

    def encode_queries(self, items: Sequence[Any], batch_size: int = 8) -> np.ndarray:
        return self.from_base(self.image_encoder.encode_queries(items, batch_size))
