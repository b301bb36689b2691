"""The OpenAPI 3.1 description of every endpoint, served at /openapi.json."""

from __future__ import annotations

from typing import Any

from hybrid import __version__

PROBLEM = {"$ref": "#/components/schemas/Problem"}
KEYED: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]


def _problems(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": _PHRASES[c],
                     "content": {"application/problem+json": {"schema": PROBLEM}}}
            for c in codes}


_PHRASES = {400: "Bad request", 401: "API key missing or wrong", 404: "Not found",
            405: "Method not allowed", 413: "Over a size limit", 415: "Unsupported media type",
            503: "Not ready, or a needed part is unavailable"}


def _ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_JSON_TEXT = {"type": "string", "description": "JSON text"}
_SEARCH_PARAMS = [
    {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 1000}},
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                "maximum": 10000}},
    {"name": "size", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                "maximum": 100}},
    {"name": "profile", "in": "query", "schema": {"type": "string",
                                                   "pattern": "^[A-Za-z0-9_-]{1,64}(@[0-9]+)?$"}},
    {"name": "explain", "in": "query", "schema": {"type": "boolean"}},
    {"name": "filter", "in": "query", "schema": _JSON_TEXT},
    {"name": "facets", "in": "query", "schema": _JSON_TEXT},
    {"name": "weights", "in": "query", "schema": _JSON_TEXT},
]

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object", "required": ["type", "title", "status", "detail"],
        "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                       "status": {"type": "integer"}, "detail": {"type": "string"},
                       "instance": {"type": "string"}}},
    "Filter": {
        "type": "object", "description": "one operator: term, terms, range, exists, and, or, "
                                         "not (see hybrid.engines.filters)",
        "minProperties": 1, "maxProperties": 1},
    "SearchRequest": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "q": {"type": "string", "maxLength": 1000},
            "image_base64": {"type": "string", "contentEncoding": "base64"},
            "image_url": {"type": "string", "format": "uri"},
            "audio_base64": {"type": "string", "contentEncoding": "base64"},
            "filter": _ref("Filter"),
            "facets": {"type": "object", "additionalProperties": {"type": "object"}},
            "page": {"type": "integer", "minimum": 1, "maximum": 10000},
            "size": {"type": "integer", "minimum": 1, "maximum": 100},
            "profile": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}(@[0-9]+)?$"},
            "weights": {"type": "object", "additionalProperties": {"type": "number",
                                                                    "minimum": 0}},
            "explain": {"type": "boolean"}}},
    "SearchForm": {
        "type": "object",
        "properties": {
            "q": {"type": "string", "maxLength": 1000},
            "query": {"type": "string", "description": "the whole SearchRequest as JSON"},
            "page": {"type": "integer"}, "size": {"type": "integer"},
            "profile": {"type": "string"}, "explain": {"type": "boolean"},
            "filter": _JSON_TEXT, "facets": _JSON_TEXT, "weights": _JSON_TEXT,
            "image": {"type": "string", "contentMediaType": "image/*"},
            "audio": {"type": "string", "contentMediaType": "audio/*"}}},
    "SignalScore": {
        "type": "object", "required": ["raw", "rank", "normalized", "contribution", "missing"],
        "properties": {"raw": {"type": ["number", "null"]},
                       "rank": {"type": ["integer", "null"]},
                       "normalized": {"type": ["number", "null"]},
                       "contribution": {"type": "number"}, "missing": {"type": "boolean"}}},
    "Hit": {
        "type": "object", "required": ["id", "score", "fields", "image_url"],
        "properties": {"id": {"type": "string"}, "score": {"type": "number"},
                       "fields": {"type": "object"},
                       "image_url": {"type": ["string", "null"]},
                       "explain": {"type": "object",
                                   "additionalProperties": _ref("SignalScore")}}},
    "SearchResponse": {
        "type": "object",
        "required": ["query_id", "profile", "total", "page", "size", "hits",
                     "facets", "signals", "skipped", "took_ms"],
        "properties": {
            "query_id": {"type": "string"},
            "profile": {"type": "object", "properties": {"name": {"type": "string"},
                                                         "version": {"type": "integer"}}},
            "total": {"type": "integer"}, "page": {"type": "integer"},
            "size": {"type": "integer"},
            "hits": {"type": "array", "items": _ref("Hit")},
            "facets": {"type": "object", "additionalProperties": {"type": "array"}},
            "signals": {"type": "array", "items": {"type": "object"}},
            "skipped": {"type": "object", "additionalProperties": {"type": "string"}},
            "transcript": {"type": ["string", "null"]},
            "took_ms": {"type": "object", "additionalProperties": {"type": "number"}}}},
    "Product": {
        "type": "object", "required": ["id", "title"],
        "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                       "description": {"type": "string"}, "brand": {"type": "string"},
                       "category": {"oneOf": [{"type": "string"},
                                              {"type": "array", "items": {"type": "string"}}]},
                       "price": {"type": "number"}, "currency": {"type": "string"},
                       "attributes": {"type": "object"},
                       "images": {"type": "array", "items": {"type": "string"}},
                       "audio": {"type": "array", "items": {"type": "string"}}}},
    "WriteResult": {
        "type": "object", "required": ["written", "rejected", "vectors", "items"],
        "properties": {
            "written": {"type": "integer"}, "rejected": {"type": "integer"},
            "vectors": {"type": "string"},
            "items": {"type": "array", "items": {
                "type": "object", "required": ["id", "status"],
                "properties": {"id": {"type": ["string", "null"]},
                               "status": {"enum": ["written", "rejected"]},
                               "error": {"type": "string"}}}}}},
    "Signal": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "kind": {"enum": ["lexical", "knn"]},
                       "input": {"enum": ["text", "image", "audio"]},
                       "weight": {"type": "number", "minimum": 0},
                       "field": {"type": "string"}, "encoder": {"type": "string"},
                       "fields": {"type": "object", "additionalProperties": {"type": "number"}},
                       "depth": {"type": "integer", "minimum": 1, "maximum": 1000},
                       "scripts": {"type": "array", "items": {"type": "string"},
                                   "description": "text signals: the scripts the encoder "
                                   "reads (e.g. [\"latin\"]); skipped for queries mostly "
                                   "in another"}}},
    "Profile": {
        "type": "object", "required": ["signals"],
        "properties": {
            "name": {"type": "string"}, "version": {"type": "integer"},
            "description": {"type": "string"},
            "signals": {"type": "array", "items": _ref("Signal"), "minItems": 1},
            "normalizer": {"enum": ["min_max", "l2", "z_score"]},
            "combiner": {"enum": ["arithmetic_mean", "geometric_mean", "harmonic_mean",
                                  "rrf"]},
            "missing": {"enum": ["zero", "ignore", None]},
            "rrf_k": {"type": "integer", "minimum": 1},
            "depth": {"type": "integer", "minimum": 1, "maximum": 1000},
            "model": {"type": "object", "description": "query-dependent weights "
                      "(hybrid.planner.adaptive.WeightModel), as hybrid learn --per-query "
                      "writes them"},
            "fallback": {"type": "object", "description": "learned profiles: the static "
                         "weights used, more and more, as a query gets farther from the "
                         "training queries (hybrid.planner.adaptive.Fallback)"},
            "meta": {"type": "object"}}},
}

_NAME = {"name": "name", "in": "path", "required": True,
         "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string",
                                                               "minLength": 1}}


def spec() -> dict[str, Any]:
    search_responses = {"200": _ok(_ref("SearchResponse"), "One page of fused results"),
                        **_problems(400, 404, 413, 415, 503)}
    return {
        "openapi": "3.1.0",
        "info": {"title": "hybrid search API", "version": __version__,
                 "description": "Hybrid (BM25 + vector) product search with fused, "
                                "explained scores."},
        "paths": {
            "/search": {
                "get": {"operationId": "searchGet", "summary": "Search with query parameters",
                        "parameters": _SEARCH_PARAMS, "responses": search_responses},
                "post": {"operationId": "searchPost",
                         "summary": "Search by text, image and/or audio",
                         "requestBody": {"required": True, "content": {
                             "application/json": {"schema": _ref("SearchRequest")},
                             "multipart/form-data": {"schema": _ref("SearchForm")}}},
                         "responses": search_responses}},
            "/products": {
                "post": {"operationId": "addProducts", "summary": "Add or replace products",
                         "security": KEYED,
                         "requestBody": {"required": True, "content": {"application/json": {
                             "schema": {"oneOf": [
                                 {"type": "array", "items": _ref("Product"), "minItems": 1},
                                 {"type": "object", "required": ["products"],
                                  "properties": {"products": {"type": "array", "minItems": 1,
                                                              "items": _ref("Product")}}}]}}}},
                         "responses": {"200": _ok(_ref("WriteResult"), "All written"),
                                       "207": _ok(_ref("WriteResult"), "Some rejected"),
                                       **_problems(400, 401, 413)}}},
            "/products/{id}": {
                "get": {"operationId": "getProduct", "parameters": [_ID],
                        "responses": {"200": _ok({"type": "object"}), **_problems(404)}},
                "delete": {"operationId": "deleteProduct", "parameters": [_ID],
                           "security": KEYED,
                           "responses": {"200": _ok({"type": "object"}),
                                         **_problems(401, 404)}}},
            "/products/{id}/image": {
                "get": {"operationId": "getProductImage", "parameters": [_ID],
                        "responses": {"200": {"description": "The image file",
                                              "content": {"image/*": {}}},
                                      **_problems(404)}}},
            "/profiles": {
                "get": {"operationId": "listProfiles",
                        "responses": {"200": _ok({"type": "object"})}}},
            "/profiles/{name}": {
                "get": {"operationId": "getProfile",
                        "parameters": [_NAME, {"name": "version", "in": "query",
                                               "schema": {"type": "integer", "minimum": 1}}],
                        "responses": {"200": _ok(_ref("Profile")), **_problems(400, 404)}},
                "put": {"operationId": "putProfile", "security": KEYED, "parameters": [_NAME],
                        "requestBody": {"required": True, "content": {
                            "application/json": {"schema": _ref("Profile")}}},
                        "responses": {"201": _ok(_ref("Profile"), "Saved as a new version"),
                                      **_problems(400, 401)}}},
            "/healthz": {"get": {"operationId": "healthz",
                                 "responses": {"200": _ok({"type": "object"})}}},
            "/readyz": {"get": {"operationId": "readyz",
                                "responses": {"200": _ok({"type": "object"}),
                                              **_problems(503)}}},
            "/metrics": {"get": {"operationId": "metrics", "responses": {"200": {
                "description": "Prometheus text format",
                "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/openapi.json": {"get": {"operationId": "openapi",
                                      "responses": {"200": _ok({"type": "object"})}}},
            "/admin/stats": {"get": {"operationId": "adminStats", "security": KEYED,
                                     "responses": {"200": _ok({"type": "object"}),
                                                   **_problems(401)}}},
            "/admin/commit": {"post": {"operationId": "adminCommit", "security": KEYED,
                                       "responses": {"200": _ok({"type": "object"}),
                                                     **_problems(401)}}},
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}},
    }
