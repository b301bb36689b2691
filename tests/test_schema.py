"""The mapping file is the single schema: parsed, checked, refused clearly when unsupported."""

from __future__ import annotations

import copy
import json

import pytest

from hybrid.engines.schema import DEFAULT_MAPPING, KEYWORD, TEXT, VECTOR, IndexSchema
from hybrid.errors import SchemaError

pytestmark = pytest.mark.unit
BODY = json.loads(DEFAULT_MAPPING.read_text())


def test_project_mapping() -> None:
    s = IndexSchema.from_dict(BODY)
    assert s.fields["title"].kind == TEXT and s.fields["title"].analyzer == "english_text"
    assert s.fields["title.cjk"].analyzer == "cjk" and s.fields["title.cjk"].source == "title"
    assert s.fields["brand"].kind == KEYWORD and s.fields["brand.text"].kind == TEXT
    assert s.analyzers["english_text"].filters == ("cjk_width", "lowercase", "stemmer_porter2")
    assert {n: f.dimension for n, f in s.vector_fields.items()} == {
        "text_vector": 384, "image_vector": 1280, "image_text_vector": 384, "audio_vector": 512,
        "fused_vector": 384}
    assert all(f.kind == VECTOR and f.space == "cosinesimil" for f in s.vector_fields.values())
    assert s.resolve("attributes.colour").kind == KEYWORD
    assert s.resolve_loose("colour").path == "attributes.colour"
    assert s.dynamic["attributes"]["string"].copy_to == ("attributes_text",)
    assert set(s.search_fields) <= {p for p, f in s.fields.items() if f.kind == TEXT}


@pytest.mark.parametrize("change, message", [
    (lambda b: b["mappings"]["properties"]["title"].update(analyzer="klingon"), "unknown analyzer"),
    (lambda b: b["settings"]["analysis"]["filter"]["english_porter2"].update(language="german"),
     "not supported"),
    (lambda b: b["mappings"]["properties"]["text_vector"].update(dimension=0), "dimension"),
    (lambda b: b["mappings"]["properties"]["text_vector"].update(dimension=True), "dimension"),
    (lambda b: b["mappings"]["properties"]["text_vector"].update(space_type="hamming"),
     "space_type"),
    (lambda b: b["mappings"]["properties"]["price"].update(type="geo_point"), "unsupported type"),
    (lambda b: b["mappings"]["_meta"]["hybrid"]["search_fields"].update(price=1), "search field"),
    (lambda b: b["mappings"]["properties"].pop("id"), "'id' keyword"),
])
def test_bad_mappings_are_refused(change, message: str) -> None:
    body = copy.deepcopy(BODY)
    change(body)
    with pytest.raises(SchemaError, match=message):
        IndexSchema.from_dict(body)


def test_ef_search_from_the_index_setting_or_the_field() -> None:
    """knn.algo_param.ef_search, dotted or nested as OpenSearch takes it, for every vector
    field; a field's own method.parameters.ef_search (a faiss field's) before it."""
    assert {f.ef_search for f in IndexSchema.from_dict(BODY).vector_fields.values()} == {100}
    body = copy.deepcopy(BODY)
    body["settings"]["index"].pop("knn.algo_param.ef_search")
    assert {f.ef_search for f in IndexSchema.from_dict(body).vector_fields.values()} == {100}
    body["settings"]["index"]["knn"] = {"algo_param": {"ef_search": 256}}
    body["mappings"]["properties"]["image_vector"]["method"]["parameters"]["ef_search"] = 512
    fields = IndexSchema.from_dict(body).vector_fields
    assert fields["image_vector"].ef_search == 512 and fields["text_vector"].ef_search == 256


@pytest.mark.parametrize("value", [0, -5, "many", 2.5, True, [], {}])
def test_a_bad_ef_search_is_refused(value: object) -> None:
    body = copy.deepcopy(BODY)
    body["settings"]["index"]["knn.algo_param.ef_search"] = value
    with pytest.raises(SchemaError, match="ef_search must be a positive integer"):
        IndexSchema.from_dict(body)
    body = copy.deepcopy(BODY)
    body["mappings"]["properties"]["text_vector"]["method"]["parameters"]["ef_search"] = value
    with pytest.raises(SchemaError, match="'text_vector': ef_search must be"):
        IndexSchema.from_dict(body)


@pytest.mark.parametrize("name", ["m", "ef_construction"])
@pytest.mark.parametrize("value", [0, -5, "many", 2.5, True, None, [], {}])
def test_bad_hnsw_parameters_are_refused(name: str, value: object) -> None:
    """A mapping's m and ef_construction are positive integers: anything else is a
    SchemaError (the CLI's one-line error), not a ValueError or TypeError."""
    body = copy.deepcopy(BODY)
    body["mappings"]["properties"]["text_vector"]["method"]["parameters"][name] = value
    with pytest.raises(SchemaError, match=f"'text_vector': {name} must be a positive integer"):
        IndexSchema.from_dict(body)


@pytest.mark.parametrize("change", [
    lambda f: f.update(method="hnsw"),
    lambda f: f["method"].update(parameters=[16]),
    lambda f: f.update(space_type=["l2"]),
])
def test_a_vector_field_of_the_wrong_shape_is_refused(change) -> None:
    body = copy.deepcopy(BODY)
    change(body["mappings"]["properties"]["text_vector"])
    with pytest.raises(SchemaError, match="'text_vector'"):
        IndexSchema.from_dict(body)


def test_an_empty_object_is_not_an_ef_search() -> None:
    body = copy.deepcopy(BODY)
    body["settings"]["index"]["knn.algo_param.ef_search"] = {}
    with pytest.raises(SchemaError, match="ef_search must be a positive integer"):
        IndexSchema.from_dict(body)


def test_load_errors(tmp_path) -> None:
    with pytest.raises(SchemaError, match="not found"):
        IndexSchema.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(SchemaError, match="not valid JSON"):
        IndexSchema.load(tmp_path / "bad.json")
