"""Chinese titles are segmented (OpenSearch's cjk analyzer: bigrams) so Chinese queries
find them, next to English text in the same index."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_conformance import small_schema

from hybrid.engines.embedded import EmbeddedEngine
from hybrid.engines.embedded.analysis import cjk_tokens

DOCS = [
    {"id": "c1", "title": "红色连衣裙 夏季新款", "brand": "Li"},
    {"id": "c2", "title": "蓝色牛仔裤 男士", "brand": "Li"},
    {"id": "c3", "title": "黑色皮革手提包", "description": "女士 手提包 真皮"},
    {"id": "c4", "title": "红色运动鞋", "brand": "Anta"},
    {"id": "e1", "title": "Red summer dress", "brand": "Zara"},
]


@pytest.mark.unit
def test_cjk_analyzer_tokens() -> None:
    assert cjk_tokens("红色连衣裙 The Dress 裙") == ["红色", "色连", "连衣", "衣裙", "dress", "裙"]


@pytest.mark.integration
def test_chinese_queries_find_chinese_titles(tmp_path: Path) -> None:
    e = EmbeddedEngine(tmp_path / "ix", mapping=small_schema())
    e.add(DOCS)
    assert e.lexical_search("连衣裙").hits[0].id == "c1"
    assert [h.id for h in e.lexical_search("手提包").hits] == ["c3"]
    red = [h.id for h in e.lexical_search("红色").hits]
    assert set(red[:2]) == {"c1", "c4"}  # the bigram 红色; others share only the unigram 色
    assert e.lexical_search("红色连衣裙").hits[0].id == "c1"
    assert e.lexical_search("牛仔裤 男士").hits[0].id == "c2"
    assert [h.id for h in e.lexical_search("red dress").hits] == ["e1"]


@pytest.mark.unit
def test_width_folding_matches_nfkc_on_the_width_forms() -> None:
    import unicodedata

    from hybrid.engines.embedded.analysis import width_fold

    wide = "".join(chr(c) for c in range(0xFF01, 0xFF5F))
    assert width_fold(wide) == "".join(chr(c) for c in range(0x21, 0x7F))
    assert width_fold("ｶﾞﾗｽ ﾊﾟﾝ") == "ガラス パン" == unicodedata.normalize("NFKC", "ｶﾞﾗｽ ﾊﾟﾝ")
    assert width_fold("数据线 ①") == "数据线 ①"  # CJK and other compatibility forms stay
    assert cjk_tokens("ＵＳＢ数据线") == ["usb", "数据", "据线"]
