"""The conformance suite every engine inherits and passes.

A subclass provides an `engine` fixture: a fresh, empty index built from `small_schema()`
(the project mapping with 8-d vector fields), removed after the test. Expected results
come from plain-Python references (`filters.matches`, numpy cosine), never from the
engine under test.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from hybrid.engines import filters
from hybrid.engines.schema import DEFAULT_MAPPING, IndexSchema
from hybrid.errors import FilterError, NotFoundError, QueryError

DIM = 8
VECTOR_FIELDS = ("text_vector", "image_vector", "image_text_vector", "audio_vector")


def small_schema() -> IndexSchema:
    body = json.loads(DEFAULT_MAPPING.read_text())
    for name in VECTOR_FIELDS:
        body["mappings"]["properties"][name]["dimension"] = DIM
    return IndexSchema.from_dict(body)


def _vec(seed: int) -> list[float]:
    v = np.random.default_rng(seed).normal(size=DIM)
    return (v / np.linalg.norm(v)).tolist()


COLOURS = ["Red", "Blue", "Black", "White"]
BRANDS = ["Nike", "Adidas", "Puma"]
KINDS = [("Shoes", "running shoes"), ("Shirts", "cotton shirt"), ("Bags", "leather handbag")]


def corpus(n: int = 60) -> list[dict[str, Any]]:
    docs = []
    for i in range(n):
        kind, words = KINDS[i % 3]
        colour = COLOURS[i % 4]
        doc: dict[str, Any] = {
            "id": f"p{i:03d}",
            "title": f"{BRANDS[i % 3]} {colour.lower()} {words} model {i}",
            "description": f"A {words} for everyday use" + (" with extra grip" * (i % 5 == 0)),
            "brand": BRANDS[i % 3],
            "category": ["Fashion", kind],
            "attributes": {"colour": colour, "size": ["S", "M", "L"][i % 3]},
            "vectors": {"text_vector": _vec(i)},
        }
        if i % 7:
            doc["price"] = float(10 + (i * 13) % 90)
        docs.append(doc)
    return docs


class EngineConformance:
    @pytest.fixture
    def engine(self) -> Any:  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    @pytest.fixture
    def loaded(self, engine: Any) -> Any:
        results = engine.add(corpus())
        assert all(r.ok for r in results)
        return engine

    # -- documents ------------------------------------------------------------------
    def test_add_get_count(self, loaded: Any) -> None:
        assert loaded.count() == 60
        doc = loaded.get("p001")
        assert doc["title"] == "Adidas blue cotton shirt model 1"
        assert "vectors" not in doc
        assert loaded.get("missing") is None
        assert sorted(d["id"] for d in loaded.scan()) == [d["id"] for d in corpus()]
        many = loaded.get_many(["p002", "missing", "p003"])
        assert set(many) == {"p002", "p003"} and many["p003"]["brand"] == "Nike"

    def test_stored_vectors_and_a_knn_that_leaves_one_out(self, loaded: Any) -> None:
        """What similar products need: a product's stored vectors, and a k-NN with an
        ids-excluding filter."""
        got = loaded.get_vectors(["p001", "missing", "p002"], ["text_vector", "image_vector"])
        assert set(got) == {"p001", "p002"} and set(got["p001"]) == {"text_vector"}
        assert np.allclose(got["p001"]["text_vector"], _vec(1), atol=1e-6)
        assert set(loaded.get_vectors(["p003"])["p003"]) == {"text_vector"}
        hits = loaded.knn_search("text_vector", got["p001"]["text_vector"], k=5,
                                 filter={"not": {"term": {"id": "p001"}}}).hits
        assert len(hits) == 5 and "p001" not in [h.id for h in hits]
        loaded.delete(["p002"])
        assert loaded.get_vectors(["p002"]) == {}

    def test_ids_only_results_equal_full_results(self, loaded: Any) -> None:
        full = loaded.lexical_search("black shoes", size=20)
        bare = loaded.lexical_search("black shoes", size=20, source=False)
        assert [(h.id, h.score) for h in bare.hits] == [(h.id, h.score) for h in full.hits]
        assert all(h.source is None for h in bare.hits) and bare.total == full.total
        for flt in (None, {"term": {"brand": "Nike"}}):
            full = loaded.knn_search("text_vector", _vec(42), k=7, filter=flt)
            bare = loaded.knn_search("text_vector", _vec(42), k=7, filter=flt, source=False)
            assert [(h.id, h.score) for h in bare.hits] == [(h.id, h.score) for h in full.hits]

    def test_add_replaces_by_id_and_last_copy_in_a_batch_wins(self, loaded: Any) -> None:
        loaded.add([{"id": "p001", "title": "first"}, {"id": "p001", "title": "second"}])
        assert loaded.count() == 60
        assert loaded.get("p001")["title"] == "second"
        assert loaded.lexical_search("first").total == 0

    def test_bad_documents_are_reported_and_the_rest_written(self, engine: Any) -> None:
        results = engine.add([
            {"id": "ok1", "title": "fine"},
            {"title": "no id"},
            {"id": "bad-vec", "title": "x", "vectors": {"text_vector": [1.0, 2.0]}},
            {"id": "bad-field", "title": "x", "vectors": {"nope": [1.0] * DIM}},
            {"id": "ok2", "title": "also fine"},
        ])
        assert [r.ok for r in results] == [True, False, False, False, True]
        assert "dimensions" in results[2].error and "nope" in results[3].error
        assert engine.count() == 2 and engine.get("bad-vec") is None

    def test_update_changes_fields_only(self, loaded: Any) -> None:
        loaded.update("p002", {"title": "Puma golden slipper"})
        doc = loaded.get("p002")
        assert doc["title"] == "Puma golden slipper" and doc["brand"] == "Puma"
        assert loaded.lexical_search("golden").hits[0].id == "p002"
        assert loaded.knn_search("text_vector", _vec(2), k=1).hits[0].id == "p002"
        with pytest.raises(NotFoundError):
            loaded.update("missing", {"title": "x"})

    def test_an_update_with_a_bad_vector_changes_nothing(self, loaded: Any) -> None:
        """A client's mistake (QueryError, a 4xx), found before any part is written:
        the embedded engine used to write the title, then raise a bare ValueError."""
        before = loaded.get("p003")
        for vectors in ({"text_vector": [1.0, 2.0]}, {"nope": _vec(3)}, "not an object",
                        {"text_vector": [float("nan")] * len(_vec(3))}):
            with pytest.raises(QueryError):
                loaded.update("p003", {"title": "changed title", "vectors": vectors})
        assert loaded.get("p003") == before

    def test_delete(self, loaded: Any) -> None:
        assert loaded.delete(["p000", "p001", "missing"]) == 2
        assert loaded.count() == 58 and loaded.get("p000") is None
        ids = [h.id for h in loaded.knn_search("text_vector", _vec(0), k=60).hits]
        assert "p000" not in ids and len(ids) == 58

    # -- lexical --------------------------------------------------------------------
    def test_lexical_ranks_better_matches_higher(self, loaded: Any) -> None:
        res = loaded.lexical_search("black running shoes", size=60)
        assert res.total == len({h.id for h in res.hits}) > 0
        top = res.hits[0].source
        assert top["attributes"]["colour"] == "Black" and top["category"][-1] == "Shoes"
        scores = [h.score for h in res.hits]
        assert scores == sorted(scores, reverse=True)

    def test_stemming_matches_word_forms(self, loaded: Any) -> None:
        ids = {h.id for h in loaded.lexical_search("handbags", size=60).hits}
        assert ids == {d["id"] for d in corpus() if d["category"][-1] == "Bags"}

    def test_field_boosts(self, loaded: Any) -> None:
        grip = loaded.lexical_search("grip", fields={"description": 1.0}).hits[0]
        boosted = loaded.lexical_search("grip", fields={"description": 3.0}).hits[0]
        assert boosted.id == grip.id and boosted.score == pytest.approx(3 * grip.score, rel=1e-5)
        with pytest.raises(QueryError):
            loaded.lexical_search("grip", fields={"price": 1.0})

    def test_full_width_and_half_width_forms_fold(self, engine: Any) -> None:
        """Width folding (NFKC of the half- and full-width forms) on index and query:
        `USB` finds `ＵＳＢ ｃａｂｌｅ`, `ＵＳＢ` finds `USB 数据线`, `ガラス` finds `ｶﾞﾗｽ`."""
        engine.add([{"id": "w1", "title": "ＵＳＢ ｃａｂｌｅ"}, {"id": "w2", "title": "USB 数据线"},
                    {"id": "w3", "title": "ｶﾞﾗｽ cup"}, {"id": "w4", "title": "HDMI cable"}])

        def ids(text: str) -> set[str]:
            return {h.id for h in engine.lexical_search(text, size=10).hits}

        assert ids("USB") == ids("ＵＳＢ") == ids("usb") == {"w1", "w2"}
        assert ids("ｃａｂｌｅｓ") == ids("cable") == {"w1", "w4"}
        assert ids("ＵＳＢ 数据线") >= {"w1", "w2"}
        assert "w3" in ids("ガラス") and "w3" in ids("ｶﾞﾗｽ")
        assert engine.count({"term": {"id": "w1"}}) == 1  # ids and keywords are not folded

    def test_empty_text_matches_all_and_stopwords_only_match_none(self, loaded: Any) -> None:
        assert loaded.lexical_search("", size=0).total == 60
        assert loaded.lexical_search("?!", size=5).total == 0

    def test_pagination_has_no_duplicates_or_gaps(self, loaded: Any) -> None:
        full = [h.id for h in loaded.lexical_search("shoes shirt", size=60).hits]
        pages = [h.id for off in range(0, 60, 7)
                 for h in loaded.lexical_search("shoes shirt", size=7, offset=off).hits]
        assert pages == full
        with pytest.raises(QueryError):
            loaded.lexical_search("x", size=10, offset=10_000)

    # -- filters and facets ---------------------------------------------------------
    FILTERS: list[dict[str, Any]] = [
        {"term": {"brand": "Nike"}},
        {"terms": {"attributes.colour": ["Red", "Blue"]}},
        {"range": {"price": {"gte": 30, "lt": 60}}},
        {"range": {"price": {"gt": 49}}},
        {"exists": {"field": "price"}},
        {"not": {"exists": {"field": "price"}}},
        {"and": [{"term": {"category": "Shoes"}}, {"range": {"price": {"lte": 50}}}]},
        {"or": [{"term": {"attributes.size": "S"}}, {"term": {"brand": "Puma"}}]},
        {"not": {"term": {"brand": "Nike"}}},
    ]

    @pytest.mark.parametrize("flt", FILTERS, ids=lambda f: json.dumps(f))
    def test_filters_match_the_reference(self, loaded: Any, flt: dict[str, Any]) -> None:
        norm = filters.normalize(flt, loaded.schema)
        expected = {d["id"] for d in corpus() if filters.matches(norm, d)}
        got = {h.id for h in loaded.lexical_search("", filter=flt, size=100).hits}
        assert got == expected and loaded.count(flt) == len(expected)
        text = {h.id for h in loaded.lexical_search("shoes", filter=flt, size=100).hits}
        assert text == {i for i in expected if int(i[1:]) % 3 == 0}
        knn = {h.id for h in loaded.knn_search("text_vector", _vec(99), k=100, filter=flt).hits}
        assert knn == expected

    def test_bad_filters_are_refused(self, loaded: Any) -> None:
        for bad in ({"term": {"title": "x"}}, {"range": {"brand": {"gt": 1}}},
                    {"match": {"brand": "x"}}, {"terms": {"brand": []}}):
            with pytest.raises(FilterError):
                loaded.count(bad)

    @pytest.mark.parametrize("bad", [
        {"term": {"price": "abc"}}, {"term": {"price": ""}}, {"terms": {"price": [10, "abc"]}},
        {"not": {"term": {"price": "x"}}}, {"and": [{"term": {"price": True}}]},
        {"range": {"attributes.colour": {"gte": 1}}},
    ], ids=lambda f: json.dumps(f))
    def test_wrong_typed_filter_values_name_the_field_and_type(self, loaded: Any,
                                                               bad: dict[str, Any]) -> None:
        """The project's own error (not a ValueError from deep inside the engine), from
        every search call, naming the field and the type it takes."""
        calls = (lambda: loaded.count(bad), lambda: loaded.lexical_search("shoes", filter=bad),
                 lambda: loaded.knn_search("text_vector", _vec(1), k=3, filter=bad))
        for call in calls:
            with pytest.raises(FilterError, match=r"(?s)'(price|attributes\.colour)'.*numer"):
                call()

    def test_numeric_strings_filter_numeric_fields(self, loaded: Any) -> None:
        assert loaded.count({"term": {"price": "23"}}) == loaded.count({"term": {"price": 23}}) > 0

    def test_wrong_typed_search_arguments_are_query_errors(self, loaded: Any) -> None:
        for call in (lambda: loaded.lexical_search(None),
                     lambda: loaded.lexical_search("shoes", fields={"title": "high"}),
                     lambda: loaded.lexical_search("shoes", fields={"title": float("nan")}),
                     lambda: loaded.lexical_search("shoes", size="3"),
                     lambda: loaded.lexical_search("shoes", size=True),
                     lambda: loaded.knn_search("text_vector", "abc"),
                     lambda: loaded.knn_search("text_vector", _vec(1), k=-1),
                     lambda: loaded.knn_search("text_vector", _vec(1), k=True),
                     # found by the API fuzz run: a facet size of true was a 500
                     lambda: loaded.lexical_search("", facets={"b": {"terms": {
                         "field": "brand", "size": True}}})):
            with pytest.raises(QueryError):
                call()

    def test_facets_count_the_filtered_match_set(self, loaded: Any) -> None:
        res = loaded.lexical_search(
            "shoes", filter={"exists": {"field": "price"}}, size=1,
            facets={"colour": {"terms": {"field": "attributes.colour", "size": 10}},
                    "brand": {"terms": {"field": "brand", "size": 2}},
                    "price": {"range": {"field": "price", "ranges": [{"to": 50}, {"from": 50}]}}})
        matched = [d for d in corpus() if d["category"][-1] == "Shoes" and "price" in d]
        assert res.total == len(matched)
        colours = {b["key"]: b["count"] for b in res.facets["colour"]}
        assert colours == {c: sum(d["attributes"]["colour"] == c for d in matched)
                           for c in COLOURS if any(d["attributes"]["colour"] == c for d in matched)}
        assert len(res.facets["brand"]) <= 2
        low, high = res.facets["price"]
        assert low["count"] == sum(d["price"] < 50 for d in matched)
        assert high["count"] == sum(d["price"] >= 50 for d in matched)

    @pytest.mark.parametrize("text, flt", [("shoes", {"term": {"brand": "Nobody"}}),
                                           ("zebra", None), ("?!", None)])
    def test_facets_are_present_and_empty_when_nothing_matches(self, loaded: Any, text: str,
                                                               flt: Any) -> None:
        res = loaded.lexical_search(text, filter=flt, facets={
            "colour": {"terms": {"field": "attributes.colour"}},
            "price": {"range": {"field": "price", "ranges": [{"to": 50}, {"from": 50}]}}})
        assert res.total == 0
        assert res.facets == {"colour": [], "price": [
            {"key": "*-50", "to": 50.0, "count": 0}, {"key": "50-*", "from": 50.0, "count": 0}]}

    # -- k-NN -----------------------------------------------------------------------
    def test_knn_is_exact_on_small_data(self, loaded: Any) -> None:
        q = np.asarray(_vec(1234))
        sims = {d["id"]: float(np.dot(d["vectors"]["text_vector"], q)) for d in corpus()}
        want = sorted(sims, key=lambda i: -sims[i])[:5]
        hits = loaded.knn_search("text_vector", q, k=5).hits
        assert [h.id for h in hits] == want
        assert hits[0].score == pytest.approx((1 + sims[want[0]]) / 2, abs=1e-5)

    def test_knn_scores_stay_in_0_1(self, engine: Any) -> None:
        """(1 + cos) / 2 of an exactly opposite vector is 0, not -6e-08."""
        q = np.asarray(_vec(2))  # its float32 cosine with -q is -1.0000001
        engine.add([{"id": "opposite", "title": "x", "vectors": {"text_vector": (-q).tolist()}}])
        assert 0.0 <= engine.knn_search("text_vector", q, k=1).hits[0].score <= 1e-6
        engine.add([{"id": "same", "title": "x", "vectors": {"text_vector": q.tolist()}}])
        hits = engine.knn_search("text_vector", q, k=2).hits
        assert [h.id for h in hits] == ["same", "opposite"]
        assert all(0.0 <= h.score <= 1.0 for h in hits)
        assert hits[1].score == pytest.approx(0.0, abs=1e-6)

    # -- ties -----------------------------------------------------------------------
    @pytest.mark.parametrize("ingest", [["t3", "t1", "t2"], ["t2", "t3", "t1"]])
    def test_equal_scores_are_ordered_by_id_whatever_the_ingest_order(
            self, engine: Any, ingest: list[str]) -> None:
        """The rule every engine follows: by score (descending), then id (ascending),
        in lexical and k-NN sub-queries alike, including which tie makes the cut."""
        titles = {"t1": "linen pants", "t2": "linen shirt", "t3": "linen scarf"}
        v = np.ones(DIM) / np.sqrt(DIM)
        for doc_id in ingest:  # one write each: ingest order is visible to the engine
            engine.add([{"id": doc_id, "title": titles[doc_id], "price": 5.0,
                         "vectors": {"text_vector": v.tolist()}}])
        lex = engine.lexical_search("linen", size=3).hits
        assert [h.id for h in lex] == ["t1", "t2", "t3"] and len({h.score for h in lex}) == 1
        assert [engine.lexical_search("linen", size=1, offset=i).hits[0].id
                for i in range(3)] == ["t1", "t2", "t3"]
        assert [h.id for h in engine.lexical_search("", size=2).hits] == ["t1", "t2"]
        flt = {"term": {"price": 5}}
        for f in (None, flt):
            knn = engine.knn_search("text_vector", v, k=3, filter=f).hits
            assert [h.id for h in knn] == ["t1", "t2", "t3"]
            assert [h.id for h in engine.knn_search("text_vector", v, k=1, filter=f,
                                                    source=False).hits] == ["t1"]

    def test_set_vectors_is_a_partial_update(self, loaded: Any) -> None:
        results = loaded.set_vectors("image_vector", {"p005": _vec(500), "missing": _vec(1)})
        assert [r.ok for r in results] == [True, False]
        assert loaded.knn_search("image_vector", _vec(500), k=3).hits[0].id == "p005"
        assert loaded.get("p005")["title"].startswith("Puma")
        assert loaded.knn_search("text_vector", _vec(5), k=1).hits[0].id == "p005"
        loaded.set_vectors("text_vector", {"p005": _vec(777)})
        assert loaded.knn_search("text_vector", _vec(777), k=1).hits[0].id == "p005"
        assert loaded.knn_search("text_vector", _vec(5), k=1).hits[0].id != "p005"

    def test_knn_rejects_bad_queries(self, loaded: Any) -> None:
        with pytest.raises(QueryError):
            loaded.knn_search("text_vector", [1.0, 2.0])
        with pytest.raises(QueryError):
            loaded.knn_search("title", _vec(1))
        with pytest.raises(QueryError):
            loaded.knn_search("text_vector", [0.0] * DIM)

    def test_vector_provenance_makes_rewrites_idempotent(self, loaded: Any) -> None:
        first = loaded.set_vectors("image_vector", {"p010": _vec(10), "p011": _vec(11)},
                                   provenance={"p010": ("h10", "enc/1"), "p011": ("h11", "enc/1")})
        assert [r.skipped for r in first] == [False, False]
        again = loaded.set_vectors("image_vector", {"p010": _vec(10), "p011": _vec(12)},
                                   provenance={"p010": ("h10", "enc/1"), "p011": ("h11", "enc/2")})
        assert [(r.ok, r.skipped) for r in again] == [(True, True), (True, False)]
        loaded.record_vector_errors("image_vector", {"p012": ("h12", "not an image")})
        info = loaded.vector_info("image_vector", ["p010", "p011", "p012", "p013"])
        assert info["p010"]["hash"] == "h10" and info["p011"]["model"] == "enc/2"
        assert info["p010"]["writes"] == 1 and info["p011"]["writes"] == 2
        assert info["p012"]["error"] == "not an image" and "p013" not in info
        loaded.set_vectors("image_vector", {"p012": _vec(12)}, provenance={"p012": ("h12", "e")})
        assert loaded.vector_info("image_vector", ["p012"])["p012"]["error"] is None
        assert set(loaded.vector_info("image_vector")) == {"p010", "p011", "p012"}
