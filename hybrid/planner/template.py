"""The `template` signal: a shop's own keyword search, an OpenSearch search template
(mustache with `{{query}}`), run against their existing ("source") index, so that a
profile can be the old search alone or mix it with hybrid's signals.

Pure: what to send (`build_request`) and what came back (`ranked_ids`); the searcher
sends it (hybrid.search.template). A spec never holds credentials: it names where to
send by a connection name, resolved from the configuration or the environment, or by a
URL without user information.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from hybrid.errors import ProfileError

DEFAULT_CONNECTION = "default"
KEYS = ("connection", "url", "index", "source", "id", "id_field", "params")


@dataclass(frozen=True)
class TemplateSpec:
    """Where and what the old search runs.

    connection: a named connection (config CONNECTIONS or env HYBRID_CONNECTION_<NAME>_URL;
    "default" is OPENSEARCH_URL), or url: the cluster's URL, without credentials.
    index: the source index (or alias). source: the template body (a JSON object, or
    mustache text such as `{{#toJson}}filters{{/toJson}}` needs), or id: a stored template.
    id_field: where a source hit keeps its hybrid id: "_id" or a `_source` field (dotted).
    params: fixed template parameters, added to query, size, filters and filter.
    """

    index: str
    source: dict[str, Any] | str | None = None
    id: str | None = None
    connection: str | None = None
    url: str | None = None
    id_field: str = "_id"
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.index, str) or not self.index.strip():
            raise ProfileError("a template signal needs 'index', the source index name")
        if (self.source is None) == (self.id is None):
            raise ProfileError("a template signal needs one of 'source' (the template) and "
                               "'id' (a stored template)")
        if self.source is not None and not isinstance(self.source, (dict, str)):
            raise ProfileError("template 'source' must be a JSON object or mustache text")
        if self.id is not None and (not isinstance(self.id, str) or not self.id):
            raise ProfileError("template 'id' must be the stored template's name")
        if self.url is not None and self.connection is not None:
            raise ProfileError("a template signal names 'url' or 'connection', not both")
        if self.url is not None:
            _check_url(self.url)
        if self.connection is not None and not _name(self.connection):
            raise ProfileError("template 'connection' is a name: letters, digits, - and _")
        if not isinstance(self.id_field, str) or not self.id_field:
            raise ProfileError("template 'id_field' must be '_id' or a source field")
        if not isinstance(self.params, dict):
            raise ProfileError("template 'params' must be an object")

    @property
    def target(self) -> str:
        """The connection's name, or the URL."""
        return self.url or self.connection or DEFAULT_CONNECTION

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"index": self.index}
        for key in ("connection", "url", "source", "id"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        d["id_field"] = self.id_field
        if self.params:
            d["params"] = self.params
        return d

    @classmethod
    def from_dict(cls, d: Any) -> TemplateSpec:
        if not isinstance(d, Mapping):
            raise ProfileError("a signal's 'template' is an object")
        unknown = set(d) - set(KEYS)
        if unknown:
            raise ProfileError(f"template has unknown key(s) {', '.join(sorted(unknown))}; "
                               f"use {', '.join(KEYS)}")
        return cls(index=d.get("index"), source=d.get("source"), id=d.get("id"),  # type: ignore[arg-type]
                   connection=d.get("connection"), url=d.get("url"),
                   id_field=d.get("id_field", "_id"), params=d.get("params") or {})


def _check_url(url: Any) -> None:
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except (ValueError, TypeError, AttributeError):
        ok = False
    if not ok:
        raise ProfileError(f"template 'url' must be an http(s) URL, got {url!r}")
    if parts.username or parts.password:
        raise ProfileError("template 'url' must not carry credentials: name a connection "
                           "and set them in the environment")


def _name(v: Any) -> bool:
    return (isinstance(v, str) and 0 < len(v) <= 64
            and all(c.isascii() and (c.isalnum() or c in "-_") for c in v))


def build_request(spec: TemplateSpec, text: str, filter_clause: dict[str, Any] | None,
                  size: int) -> dict[str, Any]:
    """The body of `POST <index>/_search/template`. The template gets `query` (the
    text), `size` (the sub-query's depth), `filters` (a list of OpenSearch clauses: the
    request's filter, or empty) and `filter` (one clause, match_all without a filter),
    then the spec's fixed params, which win."""
    params = {"query": text, "size": size,
              "filters": [filter_clause] if filter_clause else [],
              "filter": filter_clause or {"match_all": {}}} | spec.params
    body: dict[str, Any] = {"params": params}
    if spec.id is not None:
        body["id"] = spec.id
    else:
        body["source"] = spec.source
    return body


def ranked_ids(response: Mapping[str, Any], id_field: str) -> tuple[list[tuple[str, float]],
                                                                    int]:
    """(hybrid id, score) in the source's order, and the source's total. A hit without
    the id field is left out; a repeated id keeps its first (best) place; a hit without a
    score (a sorted template) scores by its rank."""
    hits = response.get("hits", {})
    out: list[tuple[str, float]] = []
    seen: set[str] = set()
    listed = hits.get("hits", [])
    for i, hit in enumerate(listed):
        value = hit.get("_id") if id_field == "_id" else _path(hit.get("_source", {}), id_field)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is None or isinstance(value, (dict, bool)):
            continue
        doc = str(value)
        if doc in seen:
            continue
        seen.add(doc)
        score = hit.get("_score")
        out.append((doc, float(score) if isinstance(score, (int, float)) else
                    float(len(listed) - i)))
    total = hits.get("total", len(out))
    if isinstance(total, Mapping):
        total = total.get("value", len(out))
    return out, int(total)


def _path(source: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(source, Mapping):
            return None
        source = source.get(part)
    return source

