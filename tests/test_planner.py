"""Profiles, request parsing and planning: which sub-queries a query gets."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from hybrid.engines.schema import IndexSchema
from hybrid.errors import FilterError, NotFoundError, ProfileError, QueryError
from hybrid.planner import Profile, SearchRequest, default_profile, parse_request, plan
from hybrid.planner.profile import PHOTO_WEIGHTS
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
    ({"signals": [{"kind": "lexical"}], "version": True}, "version"),
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
    assert store.names() == ["default", "similar"] and store.get().version == 1
    lex = Profile.from_dict({"name": "lex", "signals": [{"kind": "lexical"}]})
    assert store.save(lex).version == 1
    assert store.save(lex.with_weights({"bm25": 2})).version == 2
    assert store.get("lex").signals[0].weight == 2.0
    assert store.get("lex", 1).signals[0].weight == 1.0
    assert store.save(default_profile()).version == 2  # v1 of default is the built-in one
    assert store.names() == ["default", "lex", "similar"] and store.versions("lex") == [1, 2]
    with pytest.raises(NotFoundError, match="no version 7"):
        store.get("lex", 7)
    with pytest.raises(NotFoundError, match="no profile named 'other'"):
        store.get("other")


def test_a_missing_version_of_a_known_profile_says_so(tmp_path: Path) -> None:
    """default@7 names the profile and the version, and lists the versions there are
    (it used to say no profile named 'default' existed)."""
    store = ProfileStore(tmp_path)
    with pytest.raises(NotFoundError, match=r"'default' has no version 7; its versions are 1$"):
        store.get("default", 7)
    store.save(default_profile().with_weights({"bm25": 1.0}))
    assert store.versions("default") == [1, 2]
    assert store.get("default", 1) == default_profile()  # the built-in stays version 1
    assert store.get("default").signal("bm25").weight == 1.0
    with pytest.raises(NotFoundError, match="versions are 1, 2"):
        store.get("default", 3)


def test_a_profile_reference_names_the_latest_or_one_version(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    store.save(default_profile().with_weights({"bm25": 1.0}))
    assert store.resolve("default").version == 2
    assert store.resolve("default@1") == default_profile()
    with pytest.raises(NotFoundError, match="'default' has no version 3"):
        store.resolve("default@3")
    with pytest.raises(ProfileError, match="use name or name@version"):
        store.resolve("default@latest")


@pytest.mark.parametrize("value, expected", [
    ("true", True), ("FALSE", False), ("1", True), ("0", False), ("on", True), ("", False),
    (True, True), (False, False)])
def test_explain_reads_booleans(schema: IndexSchema, value: object, expected: bool) -> None:
    assert parse_request({"q": "x", "explain": value}, schema).explain is expected


@pytest.mark.parametrize("value", ["maybe", "2", 1, None, [], "tru"])
def test_explain_refuses_what_is_not_a_boolean(schema: IndexSchema, value: object) -> None:
    with pytest.raises(QueryError, match="'explain' must be true or false"):
        parse_request({"q": "x", "explain": value}, schema)


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


@pytest.mark.parametrize("weight", [1e308, 10 ** 400, float("nan"), float("inf"), -0.5, True,
                                    "0.5"])
def test_profile_weights_are_bounded_numbers(weight: object) -> None:
    """Over HTTP (inline weights, PUT /profiles) and in Python alike: a 400, not
    fused scores that are all 0."""
    from hybrid.planner.profile import LEXICAL, Signal

    with pytest.raises(ProfileError, match="from 0 to 1e\\+06"):
        default_profile().with_weights({"bm25": weight, "text:text_vector": weight})
    with pytest.raises(ProfileError, match="from 0 to"):
        Profile.from_dict({"signals": [{"kind": "lexical", "weight": weight}]})
    with pytest.raises(ProfileError, match="from 0 to"):
        Signal("bm25", LEXICAL, weight=weight)  # type: ignore[arg-type]
    with pytest.raises(ProfileError, match="from 0 to"):
        Profile.from_dict({"signals": [{"kind": "lexical", "fields": {"title": weight}}]})


@pytest.mark.parametrize("rrf_k", [0, 10_001, 10 ** 400, True, 1.5])
def test_rrf_k_is_bounded(rrf_k: object) -> None:
    with pytest.raises(ProfileError, match="rrf_k must be an integer from 1 to 10000"):
        Profile.from_dict({"signals": [{"kind": "lexical"}], "rrf_k": rrf_k})


MODEL = {"features": ["len"], "mean": [1.0], "scale": [0.5], "blend": 1.0,
         "candidates": [{"bm25": 1.0}, {"bm25": 0.1}], "coef": [[-3.0], [3.0]],
         "intercept": [0.0, 0.0]}


@pytest.mark.parametrize("change", [{"coef": [["nan"], [3.0]]}, {"mean": [float("inf")]},
                                    {"candidates": [{"bm25": -1.0}, {"bm25": 0.1}]},
                                    {"candidates": [{"bm25": 1e308}, {"bm25": 0.1}]},
                                    {"blend": float("nan")}, {"intercept": [10 ** 400, 0]}])
def test_weight_models_hold_finite_numbers(change: dict) -> None:
    from hybrid.planner.adaptive import WeightModel

    with pytest.raises(ProfileError, match="weight model"):
        WeightModel.from_dict(MODEL | change)


def test_an_overflowing_logit_still_gives_weights() -> None:
    from hybrid.planner.adaptive import WeightModel

    model = WeightModel.from_dict(MODEL | {"scale": [1e-300], "coef": [[1e300], [-1e300]]})
    weights = model.weights({"bm25": 1.0}, {"len": 5.0})
    assert weights == {"bm25": 1.0}


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
    # a studio shot: a near-duplicate in the catalog, a flat head of similar ones
    studio = {"image:image_vector": [("a", 0.97), ("b", 0.96)],
              "image:image_text_vector": [("a", 0.8), ("b", 0.75)]}
    # a phone photo in a shop: nothing very close, a steep head
    phone = {"image:image_vector": [("a", 0.75), ("b", 0.65)],
             "image:image_text_vector": [("a", 0.8), ("b", 0.68)]}
    w = p.fusion_weights("", ("image",), studio)
    assert w["image:image_text_vector"] > 0.99 and w["image:image_vector"] < 0.01
    w = p.fusion_weights("", ("image",), phone)
    assert w["image:image_vector"] == pytest.approx(
        PHOTO_WEIGHTS["other photo"]["image:image_vector"], abs=0.01)
    text = plan(parse_request({"q": "red dress"}, schema), default_profile(), schema)
    assert text.fusion_weights("red dress", ("text",), {}) == pytest.approx(text.weights)


def test_the_photo_rule_leaves_other_signals_weights_alone(schema: IndexSchema) -> None:
    """A profile saved from the default with its own text weights keeps them: the photo
    rule names only image signals (it used to carry the default's text weights, so a
    'weak' profile ranked exactly as the default)."""
    from dataclasses import replace

    base = default_profile()
    own = replace(base, signals=tuple(replace(s, weight=0.05) if s.name == "bm25" else s
                                      for s in base.signals))
    text = plan(parse_request({"q": "red dress"}, schema), own, schema)
    assert text.model is None and text.weights["bm25"] == 0.05  # settled: fused on a node
    both = plan(parse_request({"q": "red dress"}, schema, image=True), own, schema)
    assert both.model is not None
    studio = {"image:image_vector": [("a", 0.97), ("b", 0.96)],
              "image:image_text_vector": [("a", 0.8), ("b", 0.75)]}
    w = both.fusion_weights("red dress", ("text", "image"), studio)
    assert w["bm25"] == pytest.approx(0.05) and w["image:image_text_vector"] > 0.99
