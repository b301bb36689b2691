"""The filter and facet language: validation, CLI shorthand, OpenSearch translation."""

from __future__ import annotations

import pytest

from hybrid.engines import filters
from hybrid.engines.schema import IndexSchema
from hybrid.errors import FilterError

pytestmark = pytest.mark.unit
SCHEMA = IndexSchema.load()


def test_normalize_accepts_the_language() -> None:
    f = {"and": [{"term": {"brand": "Nike"}}, {"range": {"price": {"gte": 10, "lt": 50}}},
                 {"not": {"terms": {"attributes.colour": ["Red", "Blue"]}}},
                 {"or": [{"exists": {"field": "price"}}, {"term": {"category": "Shoes"}}]}]}
    assert filters.normalize(f, SCHEMA) == {
        "and": [{"term": {"brand": "Nike"}}, {"range": {"price": {"gte": 10.0, "lt": 50.0}}},
                {"not": {"terms": {"attributes.colour": ["Red", "Blue"]}}},
                {"or": [{"exists": {"field": "price"}}, {"term": {"category": "Shoes"}}]}]}
    assert filters.normalize(None, SCHEMA) is None and filters.normalize({}, SCHEMA) is None


@pytest.mark.parametrize("bad, message", [
    ({"term": {"title": "x"}}, "cannot filter on 'title'"),
    ({"term": {"nope": "x"}}, "filterable fields are"),
    ({"range": {"brand": {"gt": 1}}}, "numeric"),
    ({"range": {"price": {"above": 1}}}, "bounds among"),
    ({"range": {"price": {"gt": "1"}}}, "finite number"),
    ({"terms": {"brand": "Nike"}}, "non-empty list"),
    ({"term": {"brand": ["a"]}}, "strings, numbers or booleans"),
    ({"and": []}, "non-empty list"),
    ({"match": {"brand": "x"}}, "unknown filter operator"),
    ({"term": {"brand": "a"}, "range": {}}, "one operator"),
    # wrong-typed values name the field and the type it takes
    ({"term": {"price": "abc"}}, "'price' is a numeric field.*'abc'"),
    ({"term": {"price": ""}}, "'price' is a numeric field"),
    ({"term": {"price": True}}, "'price' is a numeric field"),
    ({"terms": {"price": [1, "abc"]}}, "'price' is a numeric field"),
    ({"not": {"term": {"price": "x"}}}, "'price' is a numeric field"),
    ({"or": [{"term": {"brand": "a"}}, {"terms": {"price": [""]}}]}, "numeric field"),
    ({"range": {"attributes.colour": {"gt": 1}}}, "'attributes.colour' needs a numeric"),
    ({"not": None}, "needs a filter"),
    ({"term": {"price": 10 ** 400}}, "strings, numbers or booleans"),  # no float holds it
    ({"range": {"price": {"gt": 10 ** 400}}}, "finite number"),
    ({"exists": "price"}, "field"),
])
def test_normalize_rejects_with_a_clear_message(bad: dict, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        filters.normalize(bad, SCHEMA)


def test_numeric_strings_are_read_as_numbers() -> None:
    assert filters.normalize({"terms": {"price": ["12.5", 3]}}, SCHEMA) == {
        "terms": {"price": [12.5, 3.0]}}


@pytest.mark.parametrize("facets, message", [
    ({"x": {"range": {"field": "attributes.colour", "ranges": [{"to": 5}]}}}, "numeric"),
    ({"x": {"range": {"field": "brand", "ranges": [{"to": 5}]}}}, "numeric"),
    ({"x": {"terms": {"field": "price", "size": "5"}}}, "size"),
    ({"x": {"terms": {"field": 5}}}, "'field' must be a field name"),
    ({"x": {"range": {"field": "price", "ranges": [{"to": "abc"}]}}}, "finite number"),
    ({"x": {"range": {"field": "price", "ranges": "0-5"}}}, "non-empty list"),
])
def test_bad_facets_name_the_problem(facets: dict, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        filters.normalize_facets(facets, SCHEMA)


def test_empty_facets_keep_every_requested_facet() -> None:
    aggs = filters.normalize_facets({"b": {"terms": {"field": "brand"}}, "p": {"range": {
        "field": "price", "ranges": [{"to": 50}, {"from": 50}]}}}, SCHEMA)
    assert filters.empty_facets(aggs) == {"b": [], "p": [
        {"key": "*-50", "to": 50.0, "count": 0}, {"key": "50-*", "from": 50.0, "count": 0}]}


def test_cli_shorthand() -> None:
    got = filters.parse_cli(["brand=Nike", "colour=Red,Blue", "price>=10", "price<50",
                             "brand!=Puma", "price?"], SCHEMA)
    assert got == {"and": [
        {"term": {"brand": "Nike"}},
        {"terms": {"attributes.colour": ["Red", "Blue"]}},
        {"range": {"price": {"gte": 10.0}}}, {"range": {"price": {"lt": 50.0}}},
        {"not": {"term": {"brand": "Puma"}}}, {"exists": {"field": "price"}}]}
    assert filters.parse_cli(["price=20"], SCHEMA) == {"term": {"price": 20.0}}
    for bad in ("price>>3", "brand=", "price>=abc", "=x"):
        with pytest.raises(FilterError):
            filters.parse_cli([bad], SCHEMA)
    with pytest.raises(FilterError, match="'price' is a numeric field, and 'abc' is not"):
        filters.parse_cli(["price=abc"], SCHEMA)
    with pytest.raises(FilterError, match="needs a numeric field"):
        filters.parse_cli(["colour>3"], SCHEMA)


def test_cli_facets() -> None:
    assert filters.parse_cli_facets(["brand", "colour:3", "price=0-50,50-"], SCHEMA) == {
        "brand": {"terms": {"field": "brand", "size": 10}},
        "colour": {"terms": {"field": "attributes.colour", "size": 3}},
        "price": {"range": {"field": "price", "ranges": [{"from": 0.0, "to": 50.0},
                                                         {"from": 50.0}]}}}
    with pytest.raises(FilterError):
        filters.normalize_facets({"x": {"terms": {"field": "brand", "size": 0}}}, SCHEMA)
    for bad in ("brand:abc", "brand:-1", "price=a-b"):  # brand:abc was a traceback
        with pytest.raises(FilterError, match="facet"):
            filters.parse_cli_facets([bad], SCHEMA)
    with pytest.raises(FilterError):
        filters.normalize_facets({"x": {"range": {"field": "brand", "ranges": [{"to": 1}]}}},
                                 SCHEMA)
    # found by a new user: an unknown key was ignored, a field of true named 'True'
    for spec, message in (({"terms": {"field": "brand", "min_doc_count": 2}}, "min_doc_count"),
                          ({"range": {"field": "price", "ranges": [{"to": 1}], "keyed": 1}},
                           "keyed"),
                          ({"terms": {"field": True}}, "'field' must be a field name, got True"),
                          ({"terms": {}}, "'field' must be a field name")):
        with pytest.raises(FilterError, match=message):
            filters.normalize_facets({"x": spec}, SCHEMA)
    # found by the API fuzz run: GET /search?facets=1 parses to a number
    with pytest.raises(FilterError, match="object of named facets"):
        filters.normalize_facets(1, SCHEMA)  # type: ignore[arg-type]
    for bound in ("abc", [1], float("nan"), True):
        with pytest.raises(FilterError, match="finite number"):
            filters.normalize_facets(
                {"x": {"range": {"field": "price", "ranges": [{"from": bound}]}}}, SCHEMA)


def test_to_opensearch() -> None:
    f = filters.normalize({"and": [{"term": {"brand": "Nike"}},
                                   {"or": [{"range": {"price": {"lt": 5}}},
                                           {"not": {"exists": {"field": "price"}}}]}]}, SCHEMA)
    assert filters.to_opensearch(f) == {"bool": {"filter": [
        {"term": {"brand": "Nike"}},
        {"bool": {"should": [{"range": {"price": {"lt": 5.0}}},
                             {"bool": {"must_not": [{"exists": {"field": "price"}}]}}],
                  "minimum_should_match": 1}}]}}
    assert filters.to_opensearch(None) == {"match_all": {}}


def test_reference_matcher() -> None:
    doc = {"brand": "Nike", "price": 12.5, "category": ["Fashion", "Shoes"],
           "attributes": {"colour": "Red"}}
    yes = [{"term": {"category": "Shoes"}}, {"range": {"price": {"gt": 12, "lte": 12.5}}},
           {"terms": {"attributes.colour": ["Blue", "Red"]}}, {"exists": {"field": "brand"}}]
    no = [{"term": {"brand": "nike"}}, {"range": {"price": {"lt": 12.5}}},
          {"exists": {"field": "currency"}}]
    assert all(filters.matches(filters.normalize(f, SCHEMA), doc) for f in yes)
    assert not any(filters.matches(filters.normalize(f, SCHEMA), doc) for f in no)
