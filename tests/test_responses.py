"""What answers may show: no file path of the server (pure helpers; tests/test_api.py
checks whole answers over HTTP)."""

from __future__ import annotations

import pytest

from hybrid.api.problems import redact_paths
from hybrid.search.searcher import image_url, public_fields

pytestmark = pytest.mark.unit


def test_public_fields_hide_local_media_paths() -> None:
    doc = {"title": "x", "images": ["/srv/catalog/images/1.jpg", "https://cdn.example/2.jpg",
                                    "/srv/catalog/images/3.jpg"],
           "audio": ["/srv/catalog/audio/1.wav", "https://cdn.example/1.mp3"]}
    assert public_fields("p/1", doc) == {
        "title": "x", "images": ["/products/p%2F1/image", "https://cdn.example/2.jpg"],
        "audio": ["https://cdn.example/1.mp3"]}
    assert image_url("p/1", doc) == "/products/p%2F1/image"
    remote = {"images": ["https://cdn.example/2.jpg", "/srv/x.jpg"]}
    assert public_fields("p", remote)["images"] == ["https://cdn.example/2.jpg"]
    assert public_fields("p", {"images": "/srv/x.jpg"}) == {}
    assert public_fields("p", {"title": "t"}) == {"title": "t"}


@pytest.mark.parametrize("text, expected", [
    ("cannot open the lexical index at /tmp/a/index/lexical: locked",
     "cannot open the lexical index at <path>: locked"),
    ("'/tmp/x/profiles/p/v2.json' is not valid JSON", "'<path>' is not valid JSON"),
    ("get it from /products/f1/image", "get it from /products/f1/image"),
    ("image_url must be an http(s) URL, got 'http://h/a/b'",
     "image_url must be an http(s) URL, got 'http://h/a/b'"),
    ("a/b/c", "a/b/c"),
])
def test_redact_paths(text: str, expected: str) -> None:
    assert redact_paths(text) == expected


@pytest.mark.parametrize("text", ["[" * 1000 + "]" * 1000, '{"a":' * 40 + "1" + "}" * 40,
                                  '{"q": "x", "filter": ' + '{"not": ' * 1000 + "{}"
                                  + "}" * 1001])
def test_deeply_nested_json_is_a_query_error(text: str) -> None:
    from hybrid.api.jsonbody import loads
    from hybrid.errors import QueryError

    with pytest.raises(QueryError, match="nested deeper than 32 levels"):
        loads(text)


def test_json_is_strict() -> None:
    from hybrid.api.jsonbody import MAX_DEPTH, loads
    from hybrid.errors import QueryError

    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    assert loads("1" + "0" * 400) == float("inf")  # refused by every number check after
    assert loads("12") == 12
    for bad in ('{"w": NaN}', '{"w": Infinity}', "{oops", b"\xff\xfe\x00"):
        with pytest.raises(QueryError, match="not valid JSON"):
            loads(bad)


def test_deep_filters_from_python_are_filter_errors() -> None:
    from hybrid.engines import filters
    from hybrid.engines.schema import IndexSchema
    from hybrid.errors import FilterError

    flt: dict = {"term": {"brand": "x"}}
    for _ in range(2000):
        flt = {"not": flt}
    with pytest.raises(FilterError, match="at most 16 levels"):
        filters.normalize(flt, IndexSchema.load())
    with pytest.raises(FilterError, match="at most 200 characters"):
        filters.normalize({"term": {"x" * 10_000: 1}}, IndexSchema.load())
