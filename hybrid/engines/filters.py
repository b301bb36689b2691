"""One filter and facet language in plain data, checked here and translated per engine.

Filters (OpenSearch-like, JSON-able):
    {"term": {"brand": "Nike"}}
    {"terms": {"attributes.colour": ["Red", "Blue"]}}
    {"range": {"price": {"gte": 10, "lt": 50}}}
    {"exists": {"field": "price"}}
    {"and": [f, ...]}, {"or": [f, ...]}, {"not": f}
Facets: {"name": {"terms": {"field": "brand", "size": 10}}}
        {"name": {"range": {"field": "price", "ranges": [{"to": 50}, {"from": 50}]}}}

Values are typed by their field: numbers (or numeric strings) on numeric fields,
true/false on boolean ones; `range` only on numeric fields. and/or/not nest at most
MAX_DEPTH levels. Every mistake is a FilterError (a QueryError) naming the field.

Pure: no I/O. `normalize` validates against an IndexSchema and returns canonical dicts,
`to_opensearch` translates to the OpenSearch query DSL, `parse_cli` reads the CLI's
shorthand (`brand=Nike`, `colour=Red,Blue`, `price>=10`, `price?`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from hybrid.engines.schema import BOOLEAN, KEYWORD, NUMBER, IndexSchema
from hybrid.errors import FilterError, SchemaError

Filter = dict[str, Any]
_RANGE_OPS = ("gt", "gte", "lt", "lte")
_SCALARS = (str, int, float, bool)
MAX_DEPTH = 16  # and/or/not inside one another


def finite(value: int | float) -> bool:
    """A number a float can hold: not NaN or infinite, and no int past 1e308."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _short(value: Any) -> str:
    """repr cut to 200 characters (a hostile value can be large or deep)."""
    try:
        text = repr(value)
    except RecursionError:
        text = f"a deeply nested {type(value).__name__}"
    return text if len(text) <= 200 else text[:199] + "…"


def normalize(flt: Mapping[str, Any] | None, schema: IndexSchema, _depth: int = 0
              ) -> Filter | None:
    """Validate a filter and return its canonical form (None means no filter).
    and/or/not nest at most MAX_DEPTH deep (FilterError beyond)."""
    if flt is None or flt == {}:
        return None
    if not isinstance(flt, Mapping) or len(flt) != 1:
        raise FilterError(f"a filter is an object with one operator, got {_short(flt)}")
    if _depth >= MAX_DEPTH:
        raise FilterError(f"a filter nests and/or/not at most {MAX_DEPTH} levels deep")
    (op, arg), = flt.items()
    if op in ("and", "or"):
        if not isinstance(arg, Sequence) or isinstance(arg, str) or not arg:
            raise FilterError(f"'{op}' takes a non-empty list of filters")
        parts = [normalize(x, schema, _depth + 1) for x in arg]
        return {op: [p for p in parts if p is not None]}
    if op == "not":
        inner = normalize(arg, schema, _depth + 1)
        if inner is None:
            raise FilterError("'not' needs a filter")
        return {"not": inner}
    if op == "exists":
        name = arg.get("field") if isinstance(arg, Mapping) else None
        if not isinstance(name, str):
            raise FilterError("'exists' takes {\"field\": name}")
        return {"exists": {"field": _field(name, schema)}}
    if op not in ("term", "terms", "range"):
        raise FilterError(f"unknown filter operator {_short(op)}; use term, terms, range, exists, "
                          "and, or, not")
    if not isinstance(arg, Mapping) or len(arg) != 1:
        raise FilterError(f"'{op}' takes an object with one field, got {_short(arg)}")
    (name, value), = arg.items()
    path = _field(name, schema)
    if op == "term":
        return {"term": {path: _typed(value, op, path, schema)}}
    if op == "terms":
        if not isinstance(value, Sequence) or isinstance(value, str) or not value:
            raise FilterError(f"'terms' on {path!r} needs a non-empty list of values")
        return {"terms": {path: [_typed(v, op, path, schema) for v in value]}}
    return {"range": {path: _range(value, path, schema)}}


def _field(name: str, schema: IndexSchema) -> str:
    if not isinstance(name, str) or len(name) > 200:
        raise FilterError(f"a field name is a string of at most 200 characters, got "
                          f"{_short(name)}")
    try:
        return schema.filterable(name).path
    except SchemaError as e:
        raise FilterError(str(e)) from e


def _typed(value: Any, op: str, path: str, schema: IndexSchema) -> Any:
    """A term value checked against the field's type: numbers for numeric fields (a
    string holding a number is read as one, as OpenSearch does), true/false for boolean
    fields, any scalar for keyword fields. FilterError names the field and the type."""
    if not isinstance(value, _SCALARS) or (isinstance(value, int | float)
                                           and not isinstance(value, bool) and not finite(value)):
        raise FilterError(f"'{op}' values must be strings, numbers or booleans, got "
                          f"{_short(value)}")
    f = schema.resolve(path)
    kind = f.kind if f is not None else KEYWORD
    if kind == NUMBER:
        number: Any = value
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                number = None
        if (isinstance(number, bool) or not isinstance(number, int | float)
                or not finite(number)):
            raise FilterError(f"'{op}' on {path!r}: {path!r} is a numeric field, so its values "
                              f"must be numbers, got {_short(value)}")
        return float(number)
    if kind == BOOLEAN:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise FilterError(f"'{op}' on {path!r}: {path!r} is a boolean field, so its values "
                              f"must be true or false, got {_short(value)}")
    return value


def _range(value: Any, path: str, schema: IndexSchema) -> dict[str, float]:
    f = schema.resolve(path)
    if f is None or f.kind != NUMBER:
        kind = "a keyword" if f is None or f.kind == KEYWORD else f"a {f.kind}"
        raise FilterError(f"'range' on {path!r} needs a numeric field; {path!r} is {kind} field")
    if not isinstance(value, Mapping) or not value or set(value) - set(_RANGE_OPS):
        raise FilterError(f"'range' on {path!r} takes bounds among {', '.join(_RANGE_OPS)}")
    return {op: _bound(bound, f"range bound {op} on {path!r}") for op, bound in value.items()}


def _bound(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not finite(value):
        raise FilterError(f"{what} must be a finite number, got {_short(value)}")
    return float(value)


def normalize_facets(facets: Mapping[str, Any] | None, schema: IndexSchema) -> dict[str, Any]:
    """Validate facet requests: terms counts and range buckets."""
    if facets is not None and not isinstance(facets, Mapping):
        raise FilterError(f"facets is an object of named facets, got {_short(facets)}")
    out: dict[str, Any] = {}
    for name, spec in (facets or {}).items():
        if not isinstance(spec, Mapping) or len(spec) != 1:
            raise FilterError(f"facet {name!r} needs one of 'terms' or 'range'")
        (kind, arg), = spec.items()
        if kind not in ("terms", "range") or not isinstance(arg, Mapping):
            raise FilterError(f"facet {name!r}: unknown kind {kind!r}; use terms or range")
        unknown = set(arg) - ({"field", "size"} if kind == "terms" else {"field", "ranges"})
        if unknown:  # e.g. OpenSearch's min_doc_count, which the engines do not apply
            names = ", ".join(sorted(map(str, unknown)))
            raise FilterError(f"facet {name!r}: unknown key(s) {names} for {kind}; it takes "
                              f"field and {'size' if kind == 'terms' else 'ranges'}")
        if not isinstance(arg.get("field"), str):
            raise FilterError(f"facet {name!r}: 'field' must be a field name, got "
                              f"{_short(arg.get('field'))}")
        path = _field(arg["field"], schema)
        if kind == "terms":
            size = arg.get("size", 10)
            if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 1000:
                raise FilterError(f"facet {name!r}: size must be an integer in 1..1000")
            out[name] = {"terms": {"field": path, "size": size}}
            continue
        f = schema.resolve(path)
        if f is None or f.kind != NUMBER:
            raise FilterError(f"facet {name!r}: range buckets need a numeric field; {path!r} "
                              "is not one")
        ranges = arg.get("ranges")
        if not isinstance(ranges, Sequence) or isinstance(ranges, str) or not ranges:
            raise FilterError(f"facet {name!r}: 'ranges' must be a non-empty list")
        clean = []
        for r in ranges:
            if not isinstance(r, Mapping) or not set(r) <= {"from", "to"} or not r:
                raise FilterError(f"facet {name!r}: each range has 'from' and/or 'to'")
            clean.append({k: _bound(v, f"facet {name!r}: range {k!r}") for k, v in r.items()})
        out[name] = {"range": {"field": path, "ranges": clean}}
    return out


def range_key(r: Mapping[str, float]) -> str:
    """A range bucket's key: "from-to", "*" for an open end ("*-50", "50-*")."""
    lo, hi = r.get("from"), r.get("to")
    return f"{'*' if lo is None else f'{lo:g}'}-{'*' if hi is None else f'{hi:g}'}"


def empty_facets(facets: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """What normalised facet requests count over no documents: every facet present,
    terms facets with no buckets, range facets with each bucket at 0."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, spec in facets.items():
        (kind, arg), = spec.items()
        out[name] = [] if kind == "terms" else [
            {"key": range_key(r)} | dict(r) | {"count": 0} for r in arg["ranges"]]
    return out


def to_opensearch(flt: Filter | None) -> dict[str, Any]:
    """Translate a normalised filter to an OpenSearch query clause."""
    if flt is None:
        return {"match_all": {}}
    (op, arg), = flt.items()
    if op == "and":
        return {"bool": {"filter": [to_opensearch(x) for x in arg]}}
    if op == "or":
        return {"bool": {"should": [to_opensearch(x) for x in arg], "minimum_should_match": 1}}
    if op == "not":
        return {"bool": {"must_not": [to_opensearch(arg)]}}
    return {op: dict(arg)}


def matches(flt: Filter | None, doc: Mapping[str, Any]) -> bool:
    """Evaluate a normalised filter on one document (a reference for tests and the
    conformance suite; engines evaluate filters natively)."""
    if flt is None:
        return True
    (op, arg), = flt.items()
    if op == "and":
        return all(matches(x, doc) for x in arg)
    if op == "or":
        return any(matches(x, doc) for x in arg)
    if op == "not":
        return not matches(arg, doc)
    if op == "exists":
        return bool(_values(doc, arg["field"]))
    (path, value), = arg.items()
    values = _values(doc, path)
    if op == "term":
        return value in values
    if op == "terms":
        return any(v in values for v in value)
    return any(isinstance(v, int | float) and not isinstance(v, bool) and _in_range(v, value)
               for v in values)


def _in_range(v: float, r: Mapping[str, float]) -> bool:
    return all((op != "gt" or v > b) and (op != "gte" or v >= b) and (op != "lt" or v < b)
               and (op != "lte" or v <= b) for op, b in r.items())


def _values(doc: Mapping[str, Any], path: str) -> list[Any]:
    cur: Any = doc
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return []
        cur = cur[part]
    if cur is None or cur == "":
        return []
    return list(cur) if isinstance(cur, list) else [cur]


_CLI = re.compile(r"^\s*(?P<field>[\w.]+)\s*(?P<op>>=|<=|!=|=|>|<|\?)\s*(?P<value>.*?)\s*$")


def parse_cli(exprs: Sequence[str], schema: IndexSchema) -> Filter | None:
    """`brand=Nike`, `colour=Red,Blue`, `price>=10`, `price<50`, `brand!=Nike`, `price?`;
    several expressions are ANDed. A bare attribute name finds `attributes.<name>`."""
    parts: list[Filter] = []
    for expr in exprs:
        m = _CLI.match(expr)
        if not m or (m["op"] != "?" and not m["value"]) or (m["op"] == "?" and m["value"]):
            raise FilterError(f"cannot read filter {expr!r}: use field=value, field=a,b, "
                              "field>=n, field<n, field!=value or field?")
        f = schema.resolve_loose(m["field"])
        path = f.path if f else m["field"]
        op, raw = m["op"], m["value"]
        if op == "?":
            parts.append({"exists": {"field": path}})
        elif op in ("=", "!="):
            vals = [_cli_value(v, f.kind if f else KEYWORD, path) for v in raw.split(",")]
            clause = {"term": {path: vals[0]}} if len(vals) == 1 else {"terms": {path: vals}}
            parts.append(clause if op == "=" else {"not": clause})
        else:
            try:
                bound = float(raw)
            except ValueError as e:
                raise FilterError(f"filter {expr!r}: {raw!r} is not a number") from e
            key = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}[op]
            parts.append({"range": {path: {key: bound}}})
    if not parts:
        return None
    return normalize(parts[0] if len(parts) == 1 else {"and": parts}, schema)


def _cli_value(raw: str, kind: str, path: str) -> Any:
    raw = raw.strip()
    if kind == NUMBER:
        try:
            return float(raw)
        except ValueError as e:
            raise FilterError(f"{path!r} is a numeric field, and {raw!r} is not a number") from e
    return raw


def parse_cli_facets(names: Sequence[str], schema: IndexSchema) -> dict[str, Any]:
    """`brand`, `colour`, `category:20` (terms, size 20), `price=0-50,50-100,100-` (range)."""
    facets: dict[str, Any] = {}
    for spec in names:
        name, _, ranges = spec.partition("=")
        name, _, size = name.partition(":")
        f = schema.resolve_loose(name.strip())
        path = f.path if f else name.strip()
        if ranges:
            buckets = []
            for r in ranges.split(","):
                lo, _, hi = r.partition("-")
                try:
                    b = {k: float(v) for k, v in (("from", lo), ("to", hi)) if v.strip()}
                except ValueError as e:
                    raise FilterError(f"facet {spec!r}: ranges look like 0-50,50-100,100-") from e
                buckets.append(b)
            facets[name.strip()] = {"range": {"field": path, "ranges": buckets}}
        else:
            if not (size or "10").strip().isdigit():
                raise FilterError(f"facet {spec!r}: the size after ':' must be a whole number")
            facets[name.strip()] = {"terms": {"field": path, "size": int(size or 10)}}
    return normalize_facets(facets, schema)
