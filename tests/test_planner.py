"""Profiles, request parsing and planning: which sub-queries a query gets."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from hybrid.engines.schema import IndexSchema
from hybrid.errors import FilterError, NotFoundError, ProfileError, QueryError
from hybrid.planner import Profile, SearchRequest, default_profile, parse_request, plan
from hybrid.search.profiles import ProfileStore

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def schema() -> IndexSchema:
    return IndexSchema.load()


def names(p: object) -> list[str]:
    return [q.signal for q in p.subqueries]  # type: ignore[attr-defined]


def test_profile_round_trips_through_json() -> None:
    p = default_profile()
    again = Profile.from_dict(json.loads(json.dumps(p.to_dict())))
    assert again == p
    custom = Profile.from_dict({"name": "lex", "combiner": "rrf", "rrf_k": 10, "depth": 50,
                                "signals": [{"kind": "lexical", "weight": 1,
                                             "fields": {"title": 2}}],
                                "meta": {"fitted_on": "dev"}})
    assert Profile.from_dict(custom.to_dict()) == custom
    assert custom.signals[0].name == "bm25"


@pytest.mark.parametrize("bad, message", [
    ({"signals": []}, "at least one signal"),
    ({"signals": [{"kind": "lexical"}, {"kind": "lexical"}]}, "repeat"),
    ({"signals": [{"kind": "lexical", "weight": -1}]}, "weight"),
    ({"signals": [{"kind": "lexical", "weight": float("nan")}]}, "weight"),
    ({"signals": [{"kind": "knn", "field": "text_vector"}]}, "encoder"),
    ({"signals": [{"kind": "lexical", "input": "image"}]}, "text input"),
    ({"signals": [{"kind": "lexical"}], "normalizer": "sigmoid"}, "normalizer"),
    ({"signals": [{"kind": "lexical"}], "combiner": "max"}, "combiner"),
    ({"signals": [{"kind": "lexical"}], "depth": 0}, "depth"),
    ({"signals": [{"kind": "lexical"}], "name": "../etc"}, "profile name"),
    ({"signals": [{"kind": "lexical"}], "alpha": 1}, "unknown key"),
])
def test_bad_profiles_say_what_is_wrong(bad: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ProfileError, match=message):
        Profile.from_dict(bad)


def test_text_query_reaches_bm25_text_and_image_fields(schema: IndexSchema) -> None:
    p = plan(parse_request({"q": "red dress"}, schema), default_profile(), schema)
    assert names(p) == ["bm25", "text:text_vector", "text:image_text_vector"]
    enc = {q.signal: q.encoder for q in p.subqueries}
    assert enc["text:image_text_vector"] == "minilm"  # the alignment's text space
    assert not p.transcribe and set(p.skipped) == {"image:image_vector",
                                                   "image:image_text_vector",
                                                   "audio:audio_vector"}


def test_image_and_audio_queries(schema: IndexSchema) -> None:
    img = plan(parse_request({}, schema, image=True), default_profile(), schema)
    assert names(img) == ["image:image_vector", "image:image_text_vector"]
    audio = plan(parse_request({}, schema, audio=True), default_profile(), schema)
    assert names(audio) == ["bm25", "text:text_vector", "text:image_text_vector",
                            "audio:audio_vector"]
    assert audio.transcribe
    both = plan(parse_request({"q": "shoes"}, schema, image=True), default_profile(), schema)
    assert len(both.subqueries) == 5


def test_unavailable_signals_and_inline_weights(schema: IndexSchema) -> None:
    req = parse_request({"q": "shoes", "weights": {"bm25": 0, "text:text_vector": 2}}, schema)
    p = plan(req, default_profile(), schema,
             unavailable={"text:image_text_vector": "no alignment"})
    assert names(p) == ["text:text_vector"]
    assert p.weights == {"text:text_vector": 2.0}
    assert p.skipped["bm25"] == "weight is 0"
    assert p.skipped["text:image_text_vector"] == "no alignment"
    with pytest.raises(ProfileError, match="no signal 'nope'"):
        plan(parse_request({"q": "x", "weights": {"nope": 1}}, schema), default_profile(),
             schema)


def test_nothing_can_answer_is_a_clear_error(schema: IndexSchema) -> None:
    only_images = Profile.from_dict({"name": "img", "signals": [
        {"kind": "knn", "input": "image", "field": "image_vector", "encoder": "x"}]})
    with pytest.raises(QueryError, match="no signal of profile 'img'.*has no image"):
        plan(parse_request({"q": "shoes"}, schema), only_images, schema)


def test_browse_runs_bm25_alone(schema: IndexSchema) -> None:
    p = plan(parse_request({"filter": {"term": {"brand": "Nike"}}}, schema),
             default_profile(), schema)
    assert names(p) == ["bm25"] and p.filter == {"term": {"brand": "Nike"}}


def test_every_page_runs_the_same_subqueries(schema: IndexSchema) -> None:
    first = plan(parse_request({"q": "x", "page": 1, "size": 10}, schema), default_profile(),
                 schema)
    later = plan(parse_request({"q": "x", "page": 30, "size": 10}, schema), default_profile(),
                 schema)
    assert first.subqueries == later.subqueries and later.offset == 290
    with pytest.raises(QueryError, match="beyond result 10000"):
        parse_request({"q": "x", "page": 101, "size": 100}, schema)


@pytest.mark.parametrize("body, error, message", [
    ({"q": 3}, QueryError, "'q' must be a string"),
    ({"q": "x" * 1001}, QueryError, "limit is 1000"),
    ({"size": 0}, QueryError, "'size'"),
    ({"size": 101}, QueryError, "'size'"),
    ({"page": "two"}, QueryError, "'page'"),
    ({"profile": "a/b"}, QueryError, "'profile'"),
    ({"filter": {"term": {"nope": 1}}}, Exception, "cannot filter on 'nope'"),
    ({"filter": {"near": {}}}, FilterError, "unknown filter operator"),
    ({"colour": "red"}, QueryError, "unknown request key"),
])
def test_bad_requests(schema: IndexSchema, body: dict, error: type,  # type: ignore[type-arg]
                      message: str) -> None:
    with pytest.raises(error, match=message):
        parse_request(body, schema)


def test_request_accepts_form_strings(schema: IndexSchema) -> None:
    req = parse_request({"q": " shoes ", "page": "2", "size": "5", "explain": "true",
                         "profile": "learned@3"}, schema)
    assert req == SearchRequest(text="shoes", page=2, size=5, explain=True,
                                profile="learned@3")


def test_profile_store_versions(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    assert store.names() == ["default"] and store.get().version == 1
    lex = Profile.from_dict({"name": "lex", "signals": [{"kind": "lexical"}]})
    assert store.save(lex).version == 1
    assert store.save(lex.with_weights({"bm25": 2})).version == 2
    assert store.get("lex").signals[0].weight == 2.0
    assert store.get("lex", 1).signals[0].weight == 1.0
    assert store.save(default_profile()).version == 2  # v1 of default is the built-in one
    assert store.names() == ["default", "lex"] and store.versions("lex") == [1, 2]
    with pytest.raises(NotFoundError, match="no version 7"):
        store.get("lex", 7)
    with pytest.raises(NotFoundError, match="no profile named 'other'"):
        store.get("other")


def test_concurrent_saves_get_distinct_versions(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    lex = Profile.from_dict({"name": "lex", "signals": [{"kind": "lexical"}]})
    got: list[int] = []
    threads = [threading.Thread(target=lambda: got.append(store.save(lex).version))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 9))


def test_an_encoder_that_cannot_read_the_script_is_skipped(schema: IndexSchema) -> None:
    p = plan(parse_request({"q": "女士黑色手提包"}, schema), default_profile(), schema)
    assert names(p) == ["bm25", "text:text_vector"]  # e5-small is multilingual
    assert "reads latin script only; the query is mostly han" in \
        p.skipped["text:image_text_vector"]
    mixed = plan(parse_request({"q": "Nike 跑步鞋 running shoes"}, schema), default_profile(),
                 schema)
    assert "text:image_text_vector" in names(mixed)  # mostly Latin letters
    for q in ("Кроссовки Nike", "ナイキ", "운동화"):
        assert "text:image_text_vector" in plan(parse_request({"q": q}, schema),
                                                default_profile(), schema).skipped
    audio = plan(parse_request({}, schema, audio=True), default_profile(), schema)
    assert "text:image_text_vector" in names(audio)  # until the transcript is known
    heard = audio.for_transcript("女士黑色手提包")
    assert "text:image_text_vector" not in names(heard)
    assert "text:image_text_vector" in heard.skipped
    assert audio.for_transcript("black handbag") == audio


def test_scripts_round_trip_and_are_checked() -> None:
    p = Profile.from_dict({"name": "s", "signals": [
        {"kind": "knn", "field": "f", "encoder": "e", "scripts": ["Latin", "Cyrillic"]}]})
    assert p.signals[0].scripts == ("latin", "cyrillic")
    assert Profile.from_dict(p.to_dict()) == p
    with pytest.raises(ProfileError, match="scripts"):
        Profile.from_dict({"name": "s", "signals": [
            {"kind": "knn", "field": "f", "encoder": "e", "scripts": "latin"}]})


def test_the_default_weights_a_photo_by_its_kind(schema: IndexSchema) -> None:
    p = plan(parse_request({}, schema, image=True), default_profile(), schema)
    studio = {"image:image_vector": [("a", 0.97), ("b", 0.9)],
              "image:image_text_vector": [("a", 0.8), ("b", 0.7)]}
    phone = {"image:image_vector": [("a", 0.7), ("b", 0.6)],
             "image:image_text_vector": [("a", 0.7), ("b", 0.6)]}
    w = p.fusion_weights("", ("image",), studio)
    assert w["image:image_text_vector"] > 0.99 and w["image:image_vector"] < 0.01
    w = p.fusion_weights("", ("image",), phone)
    assert w["image:image_vector"] == pytest.approx(0.9, abs=0.01)
    text = plan(parse_request({"q": "red dress"}, schema), default_profile(), schema)
    assert text.fusion_weights("red dress", ("text",), {}) == pytest.approx(text.weights)
