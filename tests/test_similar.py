"""Similar products on a real embedded index with known vectors: the product's stored
vectors are the query, the product itself is never a hit, signals it cannot feed are
skipped, and filters, facets and paging behave as in search."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from docvec import small_mapping

from hybrid.engines.embedded import EmbeddedEngine
from hybrid.errors import NotFoundError, ProfileError
from hybrid.planner.plan import parse_request
from hybrid.planner.profile import KNN, PRODUCT, Profile, Signal, similar_profile
from hybrid.search.profiles import ProfileStore
from hybrid.search.searcher import Searcher
from hybrid.search.similar import similar

pytestmark = pytest.mark.integration
COLOURS = ("Red", "Blue", "Green")


def _vec(i: int) -> list[float]:
    """Products are points on an arc: p<i> is nearest to p<i±1>."""
    a = i * 0.1
    return [float(np.cos(a)), float(np.sin(a)), 0.1, 0, 0, 0, 0, 0]


@pytest.fixture
def searcher(tmp_path: Path) -> Iterator[Searcher]:
    engine = EmbeddedEngine(tmp_path / "index", mapping=small_mapping(tmp_path))
    docs: list[dict[str, Any]] = [
        {"id": f"p{i}", "title": f"shirt number {i}", "category": ["Apparel", "Shirts"],
         "attributes": {"colour": COLOURS[i % 3]}, "vectors": {"text_vector": _vec(i)}}
        for i in range(20)]
    docs.append({"id": "bare", "title": "shirt without vectors"})
    engine.add(docs)
    s = Searcher(engine)
    yield s
    s.pool.shutdown()
    engine.close()


def _similar(s: Searcher, pid: str, **data: Any) -> dict[str, Any]:
    return similar(s, pid, parse_request(data, s.engine.schema), similar_profile())


def test_neighbours_by_stored_vector_and_never_the_product(searcher: Searcher) -> None:
    res = _similar(searcher, "p5", size=4, explain=True,
                   weights={"bm25": 0})  # vectors alone: the arc decides
    assert res["similar_to"] == "p5"
    assert [h["id"] for h in res["hits"]][:2] in (["p4", "p6"], ["p6", "p4"])
    assert "p5" not in [h["id"] for h in res["hits"]]
    assert res["total"] == 19  # every other product with a text vector
    assert [s["name"] for s in res["signals"]] == ["product:text_vector"]
    assert set(res["skipped"]) == {"bm25", "product:image_vector",
                                   "product:image_text_vector", "product:fused_vector"}
    assert res["hits"][0]["explain"]["product:text_vector"]["raw"] > 0.99


def test_filters_facets_and_paging_as_search(searcher: Searcher) -> None:
    first = _similar(searcher, "p5", size=3, filter={"term": {"attributes.colour": "Red"}},
                     facets={"colour": {"terms": {"field": "attributes.colour"}}})
    ids = [h["id"] for h in first["hits"]]
    assert ids and all(int(i[1:]) % 3 == 0 for i in ids)  # Red: p0, p3, p6, ...
    assert first["facets"]["colour"] == [{"key": "Red", "count": first["total"]}]
    every = _similar(searcher, "p5", size=100)
    pages = [h["id"] for page in (1, 2, 3)
             for h in _similar(searcher, "p5", size=5, page=page)["hits"]]
    assert pages == [h["id"] for h in every["hits"]][:15]
    colour = {"colour": {"terms": {"field": "attributes.colour"}}}
    counts = {b["key"]: b["count"] for b in _similar(searcher, "p5", facets=colour)
              ["facets"]["colour"]}
    assert sum(counts.values()) + 1 == every["total"]  # "bare" (its title) has no colour
    assert counts == {"Red": 7, "Blue": 7, "Green": 5}  # p5, Green, is not counted


def test_product_without_vectors_lists_what_it_cannot_feed(searcher: Searcher) -> None:
    res = _similar(searcher, "bare")
    assert res["skipped"]["product:text_vector"] == "product 'bare' has no text_vector vector"
    assert [s["name"] for s in res["signals"]] == ["bm25"]  # its title still finds shirts
    assert "bare" not in [h["id"] for h in res["hits"]] and res["hits"]


def test_unknown_product_is_not_found(searcher: Searcher) -> None:
    with pytest.raises(NotFoundError, match="no product with id 'nope'"):
        _similar(searcher, "nope")


def test_product_signal_needs_a_stored_field() -> None:
    with pytest.raises(ProfileError, match="stored:<vector field>"):
        Signal.from_dict({"kind": "knn", "input": "product", "field": "text_vector",
                          "encoder": "e5-small"})
    sig = Signal("product:text_vector", KNN, PRODUCT, 1.0, "text_vector", "stored:text_vector")
    assert Signal.from_dict(sig.to_dict()) == sig
    Profile.from_dict(similar_profile().to_dict())


def test_similar_profile_is_built_in(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    assert "similar" in store.names() and store.get("similar") == similar_profile()
    assert store.save(similar_profile()).version == 2
