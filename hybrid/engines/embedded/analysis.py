"""Analyzers of the mapping, built for tantivy, and OpenSearch's `cjk` analyzer in Python.

The `standard` tokenizer is approximated with a regular expression in the spirit of
Lucene's StandardTokenizer (UAX#29): runs of letters and digits, joined across
"." "'" "," inside a word ("12.5", "u.s.a"), every Han and Hiragana character its own
token, and a run of Katakana one token.
The `cjk` analyzer (standard tokens, lowercase, bigrams of adjacent CJK characters,
English stop words) has no tantivy equivalent, so it runs here and its tokens are
indexed space-separated through tantivy's whitespace tokenizer.
"""

from __future__ import annotations

import re
import unicodedata

import tantivy

from hybrid.engines.schema import Analyzer, IndexSchema
from hybrid.errors import SchemaError

# UAX#29 as Lucene applies it: each Han or Hiragana character is a token, a run of
# Katakana is one word, Hangul joins letters like any alphabet.
_IDEO, _KANA = r"\p{Han}\p{Hiragana}", r"\p{Katakana}ー"
_WORDS = rf"[\p{{L}}\p{{N}}\p{{M}}--{_IDEO}{_KANA}]+"
STANDARD_PATTERN = rf"[{_IDEO}]|[{_KANA}]+|{_WORDS}(?:['’.,_]{_WORDS})*"
# Python's re lacks \p{...}; the same classes for the cjk analyzer written out by range.
_CJK_RANGES = ("\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff"
               "\uac00-\ud7af\uf900-\ufaff")
_WORD = rf"[^\W{_CJK_RANGES}]+"
_PY_TOKEN = re.compile(rf"([{_CJK_RANGES}]+)|({_WORD}(?:['’.,_]{_WORD})*)")
# Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET, used by OpenSearch's cjk analyzer.
LUCENE_ENGLISH_STOP = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with"))
CJK_TOKENIZER = "cjk"
WIDTH_FILTER = "cjk_width"
# Lucene's CJKWidthFilter folds these: full-width ASCII (FF01-FF5E) and half-width
# katakana with its voicing marks (FF65-FF9F). NFKC maps each run the same way.
_WIDE = re.compile("[\uff01-\uff5e\uff65-\uff9f]+")


def width_fold(text: str) -> str:
    """`ＵＳＢ ｃａｂｌｅ` -> `USB cable`, `ｶﾞ` -> `ガ`: OpenSearch's `cjk_width` token
    filter (and the `cjk` analyzer, which includes it), as the NFKC form of the
    half-width and full-width forms."""
    return _WIDE.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), text)


def prepare(analyzer: Analyzer, text: str) -> str:
    """The text tantivy's analyzer is given: the `cjk` analyzer's tokens, space
    separated (it has no tantivy equivalent), or the text width-folded when the
    analyzer has the `cjk_width` filter (tantivy has no such filter, so it runs here,
    before the tokenizer: the standard tokenizer splits full-width and ASCII letters
    alike)."""
    if analyzer.tokenizer == CJK_TOKENIZER:
        return " ".join(cjk_tokens(text))
    return width_fold(text) if WIDTH_FILTER in analyzer.filters else text


def cjk_tokens(text: str) -> list[str]:
    """OpenSearch's `cjk` analyzer: width folding, bigrams over runs of CJK characters
    (a lone character stays a unigram), other words lowercased, English stop words
    dropped."""
    out: list[str] = []
    for cjk, word in _PY_TOKEN.findall(width_fold(text)):
        if cjk:
            out.extend([cjk] if len(cjk) == 1 else [cjk[i:i + 2] for i in range(len(cjk) - 1)])
        else:
            w = word.lower()
            if w not in LUCENE_ENGLISH_STOP:
                out.append(w)
    return out


_HAS_CJK = re.compile(f"[{_CJK_RANGES}]")


def has_cjk(text: str) -> bool:
    return _HAS_CJK.search(width_fold(text)) is not None  # half-width katakana too


def default_fields(schema: IndexSchema, text: str) -> dict[str, float]:
    """The mapping's search fields (path -> boost) for `text`: the CJK-analysed ones only
    when the text has CJK in it (both engines search this way)."""
    cjk = has_cjk(text)
    return {p: b for p, b in schema.search_fields.items()
            if cjk or schema.analyzers[schema.fields[p].analyzer or "standard"]
            .tokenizer != CJK_TOKENIZER}


def _tokenizer(name: str) -> tantivy.Tokenizer:
    if name == "standard":
        return tantivy.Tokenizer.regex(STANDARD_PATTERN)
    if name == "letter":
        return tantivy.Tokenizer.regex(r"\p{L}+")
    if name == "whitespace":
        return tantivy.Tokenizer.whitespace()
    if name == "keyword":
        return tantivy.Tokenizer.raw()
    raise SchemaError(f"tokenizer {name!r} is not supported by the embedded engine "
                      "(standard, letter, whitespace, keyword, or the cjk analyzer)")


def _filter(name: str) -> tantivy.Filter:
    if name == "lowercase":
        return tantivy.Filter.lowercase()
    if name == "asciifolding":
        return tantivy.Filter.ascii_fold()
    if name == "stop_english":
        return tantivy.Filter.custom_stopword(sorted(LUCENE_ENGLISH_STOP))
    if name == "stemmer_porter2":
        return tantivy.Filter.stemmer("english")
    raise SchemaError(f"token filter {name!r} is not supported by the embedded engine")


def build(analyzer: Analyzer) -> tantivy.TextAnalyzer:
    """The tantivy analyzer for a mapping analyzer (for `cjk`: whitespace over the
    tokens that `cjk_tokens` made)."""
    if analyzer.tokenizer == CJK_TOKENIZER:
        return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()
    builder = tantivy.TextAnalyzerBuilder(_tokenizer(analyzer.tokenizer))
    for f in analyzer.filters:
        if f != WIDTH_FILTER:  # applied to the text first, by `prepare`
            builder = builder.filter(_filter(f))
    return builder.build()


def tokenizer_name(analyzer: Analyzer) -> str:
    return f"hy_{analyzer.name}"
