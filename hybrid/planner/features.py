"""What a query and its sub-query results say about which signal to trust: the features
of query-dependent fusion. Pure: computed from the query text, its modalities and the
ranked lists the sub-queries returned, before they are fused.

Features are named, so a model stores the names it was fitted on and any signal set
can be described: per signal `<signal>.ran`, `.top` (its best raw score), `.margin`
(best minus tenth, over best), `.hits` (log of 1 + results; for BM25 the whole match
count when the engine reports it) and `.overlap` (top-10 overlap with the other signals);
and for the query `len`, `digits`, `model_number`, `non_ascii`, `cjk`, `has_text`,
`has_image`, `has_audio`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence

from hybrid.planner.fusion import Ranked

_MODEL_NUMBER = re.compile(r"\b(?=\w*\d)(?=\w*[a-zA-Z])[\w-]{3,}\b")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
TOP = 10
_SCRIPT_ALIASES = {"cjk": "han", "hiragana": "kana", "katakana": "kana"}


def scripts_of(text: str) -> dict[str, float]:
    """The share of a text's letters in each script, by the first word of the letter's
    Unicode name, lowercased ("latin", "cyrillic", "greek", "arabic", "hangul", ...;
    Chinese characters are "han", Japanese syllabaries "kana"). Digits, spaces and
    punctuation do not count; {} when the text has no letter."""
    counts: dict[str, int] = {}
    for c in text:
        if not c.isalpha():
            continue
        word = unicodedata.name(c, "unknown").split(" ", 1)[0].lower()
        word = _SCRIPT_ALIASES.get(word, word)
        counts[word] = counts.get(word, 0) + 1
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()}


def query_features(text: str, modalities: Sequence[str], results: Mapping[str, Ranked],
                   signals: Sequence[str], totals: Mapping[str, int] | None = None
                   ) -> dict[str, float]:
    words = text.split()
    out: dict[str, float] = {
        "len": math.log1p(len(words)),
        "digits": float(any(c.isdigit() for c in text)),
        "model_number": float(bool(_MODEL_NUMBER.search(text))),
        "non_ascii": sum(not c.isascii() for c in text) / max(len(text), 1),
        "cjk": float(bool(_CJK.search(text))),
        "has_text": float("text" in modalities),
        "has_image": float("image" in modalities),
        "has_audio": float("audio" in modalities),
    }
    tops = {s: {d for d, _ in list(results.get(s, ()))[:TOP]} for s in signals}
    for s in signals:
        ranked = list(results.get(s, ()))
        ran = s in results
        out[f"{s}.ran"] = float(ran)
        best = ranked[0][1] if ranked else 0.0
        tenth = ranked[min(TOP, len(ranked)) - 1][1] if ranked else 0.0
        out[f"{s}.top"] = float(best)
        out[f"{s}.margin"] = float((best - tenth) / best) if best > 0 else 0.0
        hits = (totals or {}).get(s, len(ranked))
        out[f"{s}.hits"] = math.log1p(hits)
        others = [tops[o] for o in signals if o != s and o in results]
        if ran and tops[s] and others:
            out[f"{s}.overlap"] = sum(len(tops[s] & o) for o in others) / (TOP * len(others))
        else:
            out[f"{s}.overlap"] = 0.0
    return out
