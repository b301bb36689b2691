"""BM25 scores equal Lucene's BM25Similarity (k1 1.2, b 0.75), computed independently here,
including Lucene's one-byte encoding of field lengths (SmallFloat.intToByte4)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from engine_conformance import small_schema

from hybrid.engines.embedded import EmbeddedEngine

pytestmark = pytest.mark.integration
K1, B = 1.2, 0.75


def _long_to_int4(i: int) -> int:
    bits = i.bit_length()
    if bits < 4:
        return i
    shift = bits - 4
    return ((i >> shift) & 0x07) | ((shift + 1) << 3)


def _int4_to_long(i: int) -> int:
    bits, shift = i & 0x07, (i >> 3) - 1
    return bits if shift == -1 else (bits | 0x08) << shift


_FREE = 255 - _long_to_int4(2**31 - 1)  # 24: lengths below are stored exactly


def lucene_length(n: int) -> int:
    """byte4ToInt(intToByte4(n)): the document length Lucene scores with."""
    if n < _FREE:
        return n
    return _FREE + _int4_to_long(_long_to_int4(n - _FREE))


def lucene_bm25(query: list[str], docs: dict[str, list[str]]) -> dict[str, float]:
    n_docs = len(docs)
    avgdl = sum(len(t) for t in docs.values()) / n_docs
    scores: dict[str, float] = {}
    for doc_id, tokens in docs.items():
        total = 0.0
        for term in query:
            freq = tokens.count(term)
            if not freq:
                continue
            df = sum(term in t for t in docs.values())
            idf = math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
            norm = K1 * (1 - B + B * lucene_length(len(tokens)) / avgdl)
            total += idf * freq / (freq + norm)
        if total:
            scores[doc_id] = total
    return scores


WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]


def test_scores_match_lucene_formula(tmp_path: Path) -> None:
    # Lengths from 1 to 90 tokens, so some lengths are quantised by the norm encoding.
    docs = {}
    for i in range(40):
        n = 1 + (i * 37) % 90
        docs[f"d{i}"] = [WORDS[(i * 7 + j * j) % len(WORDS)] for j in range(n)]
    engine = EmbeddedEngine(tmp_path / "ix", mapping=small_schema())
    engine.add([{"id": k, "title": "x", "attributes_text": "", "description": " ".join(v)}
                for k, v in docs.items()])
    for query in (["gamma"], ["alpha", "kappa"], ["eta", "eta", "beta"]):
        expected = lucene_bm25(query, docs)
        res = engine.lexical_search(" ".join(query), fields={"description": 1.0}, size=100)
        got = {h.id: h.score for h in res.hits}
        assert set(got) == set(expected)
        for doc_id, score in expected.items():
            assert got[doc_id] == pytest.approx(score, rel=1e-4), (query, doc_id)
    assert any(lucene_length(len(t)) != len(t) for t in docs.values())


def test_multi_field_scores_add_up_with_boosts(tmp_path: Path) -> None:
    engine = EmbeddedEngine(tmp_path / "ix", mapping=small_schema())
    engine.add([{"id": "a", "title": "red shoe", "description": "a shoe"},
                {"id": "b", "title": "blue shirt", "description": "red and blue"}])
    def one(field: str, boost: float) -> dict[str, float]:
        res = engine.lexical_search("red", fields={field: boost})
        return {h.id: h.score for h in res.hits}
    title, desc = one("title", 3.0), one("description", 1.0)
    both = engine.lexical_search("red", fields={"title": 3.0, "description": 1.0})
    for h in both.hits:
        assert h.score == pytest.approx(title.get(h.id, 0) + desc.get(h.id, 0), rel=1e-5)
