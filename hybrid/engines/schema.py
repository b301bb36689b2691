"""The index schema, read from an OpenSearch index body (`mappings/products.json`).

The same JSON file creates the OpenSearch index and tells the embedded engine which
fields exist, how they are analysed and which hold vectors. This module only parses it
(pure, no I/O beyond `load`), keeping the subset of the mapping language hybrid uses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hybrid.errors import SchemaError

DEFAULT_MAPPING = Path(__file__).resolve().parents[2] / "mappings" / "products.json"

TEXT, KEYWORD, NUMBER, BOOLEAN, VECTOR, STORED = (
    "text", "keyword", "number", "boolean", "vector", "stored")
_NUMERIC_TYPES = {"double", "float", "half_float", "scaled_float", "long", "integer", "short",
                  "byte", "unsigned_long"}
_INTEGER_TYPES = {"long", "integer", "short", "byte", "unsigned_long"}
_SPACES = {"cosinesimil", "innerproduct", "l2"}
DEFAULT_EF_SEARCH = 100  # OpenSearch's knn.algo_param.ef_search default


@dataclass(frozen=True)
class Field:
    """One indexed field. `path` is its name in queries ("title", "title.cjk");
    `source` the top-level document field its value comes from."""

    path: str
    kind: str
    source: str
    analyzer: str | None = None
    integer: bool = False
    dimension: int = 0
    space: str = ""
    hnsw_m: int = 16  # method.parameters.m
    hnsw_ef_construction: int = 100  # method.parameters.ef_construction
    # candidates an HNSW search examines (at least k): method.parameters.ef_search (a
    # faiss field's), else the index setting knn.algo_param.ef_search, else
    # DEFAULT_EF_SEARCH (0 until IndexSchema.from_dict fills it in)
    ef_search: int = 0
    copy_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class Analyzer:
    """An analyzer reduced to its tokenizer and token filters, by OpenSearch names."""

    name: str
    tokenizer: str
    filters: tuple[str, ...] = ()


@dataclass
class IndexSchema:
    fields: dict[str, Field]
    analyzers: dict[str, Analyzer]
    dynamic: dict[str, dict[str, Field]] = field(default_factory=dict)
    search_fields: dict[str, float] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path | None = None) -> IndexSchema:
        p = Path(path) if path else DEFAULT_MAPPING
        try:
            body = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise SchemaError(f"mapping file not found: {p}") from e
        except json.JSONDecodeError as e:
            raise SchemaError(f"mapping file {p} is not valid JSON: {e}") from e
        return cls.from_dict(body)

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> IndexSchema:
        if not isinstance(body, dict) or not isinstance(body.get("mappings"), dict):
            raise SchemaError("a mapping needs a 'mappings' object")
        analysis = body.get("settings", {}).get("analysis", {})
        analyzers = _parse_analyzers(analysis)
        mappings = body["mappings"]
        fields: dict[str, Field] = {}
        dynamic: dict[str, dict[str, Field]] = {}
        for name, spec in mappings.get("properties", {}).items():
            _parse_property(name, spec, fields, dynamic)
        for tmpl in mappings.get("dynamic_templates", []):
            _parse_template(tmpl, dynamic)
        for f in fields.values():
            if f.analyzer and f.analyzer not in analyzers:
                raise SchemaError(f"field {f.path!r} uses unknown analyzer {f.analyzer!r}; "
                                  f"known: {', '.join(sorted(analyzers))}")
            for target in f.copy_to:
                if target not in fields or fields[target].kind != TEXT:
                    raise SchemaError(f"field {f.path!r} copies to {target!r}, not a text field")
        ef = index_ef_search(body.get("settings", {}))
        fields = {k: replace(f, ef_search=ef) if f.kind == VECTOR and not f.ef_search else f
                  for k, f in fields.items()}
        meta = mappings.get("_meta", {}).get("hybrid", {})
        search = {str(k): float(v) for k, v in meta.get("search_fields", {}).items()}
        for name in search:
            if name not in fields or fields[name].kind != TEXT:
                raise SchemaError(f"search field {name!r} is not a text field of the mapping")
        if "id" not in fields or fields["id"].kind != KEYWORD:
            raise SchemaError("the mapping needs an 'id' keyword field")
        return cls(fields, analyzers, dynamic, search, body)

    # -- look-ups -------------------------------------------------------------------
    def of_kind(self, kind: str) -> list[Field]:
        return [f for f in self.fields.values() if f.kind == kind]

    @property
    def vector_fields(self) -> dict[str, Field]:
        return {f.path: f for f in self.of_kind(VECTOR)}

    def resolve(self, path: str) -> Field | None:
        """The field a query path names, including dynamic object members such as
        "attributes.colour" (typed by the dynamic templates as keyword)."""
        if path in self.fields:
            return self.fields[path]
        obj, _, member = path.partition(".")
        if member and obj in self.dynamic:
            return Field(path, self.dynamic[obj].get("string", Field(path, KEYWORD, obj)).kind,
                         obj)
        return None

    def resolve_loose(self, name: str) -> Field | None:
        """Like resolve, but a bare attribute name ("colour") finds "attributes.colour"."""
        found = self.resolve(name)
        if found is None and "." not in name:
            for obj in self.dynamic:
                found = self.resolve(f"{obj}.{name}")
                if found:
                    break
        return found

    def filterable(self, path: str) -> Field:
        f = self.resolve(path)
        if f is None or f.kind not in (KEYWORD, NUMBER, BOOLEAN):
            names = sorted(p for p, x in self.fields.items()
                           if x.kind in (KEYWORD, NUMBER, BOOLEAN))
            dyn = [f"{o}.*" for o in self.dynamic]
            raise SchemaError(f"cannot filter on {path!r}: filterable fields are "
                              f"{', '.join(names + dyn)}")
        return f


def _parse_analyzers(analysis: dict[str, Any]) -> dict[str, Analyzer]:
    out = {name: Analyzer(name, tok, flt) for name, tok, flt in (
        ("standard", "standard", ("lowercase",)),
        ("simple", "letter", ("lowercase",)),
        ("whitespace", "whitespace", ()),
        ("keyword", "keyword", ()),
        ("english", "standard", ("lowercase", "stop_english", "stemmer_porter2")),
        ("cjk", "cjk", ()),
    )}
    token_filters: dict[str, str] = {}
    for name, spec in analysis.get("filter", {}).items():
        token_filters[name] = _filter_name(name, spec)
    for name, spec in analysis.get("analyzer", {}).items():
        kind = spec.get("type", "custom")
        if kind != "custom":
            if kind not in out:
                raise SchemaError(f"analyzer {name!r}: built-in type {kind!r} is not supported")
            out[name] = Analyzer(name, out[kind].tokenizer, out[kind].filters)
            continue
        filters = tuple(token_filters[f] if f in token_filters else _filter_name(f, {"type": f})
                        for f in spec.get("filter", []))
        out[name] = Analyzer(name, str(spec.get("tokenizer", "standard")), filters)
    return out


def _filter_name(name: str, spec: dict[str, Any]) -> str:
    kind = spec.get("type", name)
    if kind in ("lowercase", "asciifolding", "cjk_width"):
        return kind
    if kind in ("stemmer", "snowball"):
        lang = str(spec.get("language", spec.get("name", "english"))).lower()
        if lang in ("porter2", "english"):
            return "stemmer_porter2"
        raise SchemaError(f"token filter {name!r}: stemmer language {lang!r} is not supported")
    if kind == "stop" and spec.get("stopwords", "_english_") == "_english_":
        return "stop_english"
    raise SchemaError(f"token filter {name!r} of type {kind!r} is not supported by the embedded "
                      "engine (lowercase, asciifolding, cjk_width, stop _english_, stemmer "
                      "porter2/english)")


def _parse_property(name: str, spec: dict[str, Any], fields: dict[str, Field],
                    dynamic: dict[str, dict[str, Field]], source: str | None = None) -> None:
    source = source or name
    kind = spec.get("type", "object" if "properties" in spec else None)
    copy_to = spec.get("copy_to", ())
    copy = (copy_to,) if isinstance(copy_to, str) else tuple(copy_to)
    if kind == "object":
        if spec.get("dynamic") in (True, "true"):
            dynamic.setdefault(name, {})
        for sub, subspec in spec.get("properties", {}).items():
            _parse_property(f"{name}.{sub}", subspec, fields, dynamic, source=f"{name}.{sub}")
        return
    f = _field(name, spec, kind, source, copy)
    fields[name] = f
    for sub, subspec in spec.get("fields", {}).items():
        fields[f"{name}.{sub}"] = _field(f"{name}.{sub}", subspec, subspec.get("type"), source, ())


def index_ef_search(settings: Any) -> int:
    """The index setting knn.algo_param.ef_search, written nested or dotted (OpenSearch
    accepts both), else OpenSearch's default, DEFAULT_EF_SEARCH."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:  # an empty object is a value, refused below
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            flat[prefix] = value
    walk("", settings if isinstance(settings, dict) else {})
    value = flat.get("index.knn.algo_param.ef_search", flat.get("knn.algo_param.ef_search"))
    return (DEFAULT_EF_SEARCH if value is None
            else _positive(value, "setting knn.algo_param.ef_search"))


def _positive(value: Any, what: str) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if n <= 0 or isinstance(value, bool) or (isinstance(value, float) and n != value):
        raise SchemaError(f"{what} must be a positive integer, got {value!r}")
    return n


def _field(path: str, spec: dict[str, Any], kind: Any, source: str,
           copy: tuple[str, ...]) -> Field:
    if spec.get("index") is False and kind != "knn_vector":
        return Field(path, STORED, source)
    if kind == "text":
        return Field(path, TEXT, source, analyzer=spec.get("analyzer", "standard"), copy_to=copy)
    if kind == "keyword":
        return Field(path, KEYWORD, source, copy_to=copy)
    if kind in _NUMERIC_TYPES:
        return Field(path, NUMBER, source, integer=kind in _INTEGER_TYPES)
    if kind == "boolean":
        return Field(path, BOOLEAN, source)
    if kind == "knn_vector":
        dim = spec.get("dimension")
        method = spec.get("method", {})
        params = method.get("parameters", {}) if isinstance(method, dict) else None
        if not isinstance(params, dict):
            raise SchemaError(f"vector field {path!r}: method and its parameters must be "
                              "objects")
        space = spec.get("space_type", method.get("space_type", "l2"))
        if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0:
            raise SchemaError(f"vector field {path!r} needs a positive integer 'dimension'")
        if not isinstance(space, str) or space not in _SPACES:
            raise SchemaError(f"vector field {path!r}: space_type {space!r} is not one of "
                              f"{', '.join(sorted(_SPACES))}")
        ef = params.get("ef_search")
        return Field(path, VECTOR, source, dimension=dim, space=space,
                     hnsw_m=_positive(params.get("m", 16), f"vector field {path!r}: m"),
                     hnsw_ef_construction=_positive(params.get("ef_construction", 100),
                                                    f"vector field {path!r}: ef_construction"),
                     ef_search=0 if ef is None  # the index setting's, below
                     else _positive(ef, f"vector field {path!r}: ef_search"))
    raise SchemaError(f"field {path!r} has unsupported type {kind!r}")


def _parse_template(tmpl: dict[str, Any], dynamic: dict[str, dict[str, Field]]) -> None:
    for spec in tmpl.values():
        path = spec.get("path_match", "")
        obj = path[:-2] if path.endswith(".*") else None
        if obj is None or obj not in dynamic:
            raise SchemaError(f"dynamic template path_match {path!r} must be '<object>.*' for a "
                              "dynamic object field")
        mtype = spec.get("match_mapping_type", "string")
        m = spec.get("mapping", {})
        copy = m.get("copy_to", ())
        f = _field(path, m, m.get("type"), obj, (copy,) if isinstance(copy, str) else tuple(copy))
        dynamic[obj][mtype] = f
