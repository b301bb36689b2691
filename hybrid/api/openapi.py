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
            405: "Method not allowed", 413: "Over a size limit", 414: "Request line too long",
            415: "Unsupported media type",
            503: "Not ready, or a needed part is unavailable"}


def _ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_JSON_TEXT = {"type": "string", "description": "JSON text"}
_UNIT = {"user_id": {"type": "string", "minLength": 1, "maxLength": 256,
                     "description": "puts the search in a running experiment (sticky)"},
         "session_id": {"type": "string", "minLength": 1, "maxLength": 256,
                        "description": "used for bucketing when there is no user_id"},
         "experiment": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$",
                        "description": "which running experiment to join (default: the "
                                       "oldest running one)"}}
_SEARCH_PARAMS: list[dict[str, Any]] = [
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
    *({"name": name, "in": "query", "schema": schema} for name, schema in _UNIT.items()),
]
_RATE = {"type": "object", "required": ["value", "ci"],
         "properties": {"value": {"type": ["number", "null"]},
                        "ci": {"type": ["array", "null"], "items": {"type": "number"},
                               "minItems": 2, "maxItems": 2}}}
_NULLABLE_NUMBER = {"type": ["number", "null"]}

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
            "weights": {"type": "object", "additionalProperties": {
                "type": "number", "minimum": 0, "maximum": 1e6}},
            "explain": {"type": "boolean"}, **_UNIT}},
    "SearchForm": {
        "type": "object",
        "properties": {
            "q": {"type": "string", "maxLength": 1000},
            "query": {"type": "string", "description": "the whole SearchRequest as JSON"},
            "page": {"type": "integer"}, "size": {"type": "integer"},
            "profile": {"type": "string"}, "explain": {"type": "boolean"},
            "filter": _JSON_TEXT, "facets": _JSON_TEXT, "weights": _JSON_TEXT,
            "image": {"type": "string", "contentMediaType": "image/*"},
            "audio": {"type": "string", "contentMediaType": "audio/*"}, **_UNIT}},
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
                       "variant": {"type": "string", "description": "interleaving: the "
                                   "variant whose ranking contributed this hit"},
                       "explain": {"type": "object",
                                   "additionalProperties": _ref("SignalScore")}}},
    "SearchResponse": {
        "type": "object",
        "required": ["query_id", "experiment", "variant", "profile", "total", "page", "size",
                     "hits", "facets", "signals", "skipped", "took_ms"],
        "properties": {
            "query_id": {"type": "string", "description": "send it with the search's events"},
            "experiment": {"type": ["string", "null"]},
            "variant": {"type": ["string", "null"], "description": "A/B: the user's variant; "
                        "null outside experiments and when interleaved (see each hit)"},
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
        "description": "the catalog schema of `hybrid index` (README, Catalog): other "
                       "column names are recognised or become attributes",
        "properties": {"id": {"type": "string", "maxLength": 512},
                       "title": {"type": "string", "maxLength": 1000},
                       "description": {"type": "string", "maxLength": 32000},
                       "brand": {"type": "string", "maxLength": 200},
                       "category": {"oneOf": [{"type": "string"},
                                              {"type": "array", "items": {"type": "string"}}]},
                       "price": {"type": "number"}, "currency": {"type": "string"},
                       "attributes": {"type": "object"},
                       "images": {"type": "array", "items": {"type": "string"}},
                       "audio": {"type": "array", "items": {"type": "string"}},
                       "vectors": {"type": "object", "additionalProperties": {
                           "type": "array", "items": {"type": "number"}}}}},
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
        "properties": {"name": {"type": "string"},
                       "kind": {"enum": ["lexical", "knn", "template"]},
                       "input": {"enum": ["text", "image", "audio", "product", "session"]},
                       "weight": {"type": "number", "minimum": 0, "maximum": 1e6},
                       "field": {"type": "string"}, "encoder": {"type": "string"},
                       "fields": {"type": "object", "additionalProperties": {"type": "number"}},
                       "depth": {"type": "integer", "minimum": 1, "maximum": 1000},
                       "template": {
                           "type": "object", "required": ["index"],
                           "description": "the shop's own search template "
                                          "(hybrid.planner.template.TemplateSpec)",
                           "properties": {
                               "connection": {"type": "string"},
                               "url": {"type": "string"}, "index": {"type": "string"},
                               "source": {"type": ["object", "string"]},
                               "id": {"type": "string"}, "id_field": {"type": "string"},
                               "params": {"type": "object"}}},
                       "scripts": {"type": "array", "items": {"type": "string"},
                                   "description": "text signals: the scripts the encoder "
                                   "reads (e.g. [\"latin\"]); skipped for queries mostly "
                                   "in another"}}},
    "Judgment": {
        "type": "object", "required": ["doc", "grade"], "additionalProperties": False,
        "properties": {"query": {"type": "string", "minLength": 1, "maxLength": 1000},
                       "qid": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,128}$"},
                       "doc": {"type": "string", "minLength": 1, "maxLength": 512},
                       "grade": {"enum": [0, 1, 2]}}},
    "QueryJudgments": {
        "type": "object", "required": ["qid", "query", "judgments"],
        "properties": {"qid": {"type": "string"}, "query": {"type": "string"},
                       "judgments": {"type": "object",
                                     "additionalProperties": {"type": "integer"}}}},
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
            "rrf_k": {"type": "integer", "minimum": 1, "maximum": 10000},
            "depth": {"type": "integer", "minimum": 1, "maximum": 1000},
            "model": {"type": "object", "description": "query-dependent weights "
                      "(hybrid.planner.adaptive.WeightModel), as hybrid learn --per-query "
                      "writes them"},
            "fallback": {"type": "object", "description": "learned profiles: the static "
                         "weights used, more and more, as a query gets farther from the "
                         "training queries (hybrid.planner.adaptive.Fallback)"},
            "meta": {"type": "object"}}},
    "Variant": {
        "type": "object", "required": ["name", "profile"], "additionalProperties": False,
        "properties": {"name": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                       "profile": {"type": "string",
                                   "pattern": "^[A-Za-z0-9_-]{1,64}(@[1-9][0-9]{0,8})?$"},
                       "split": {"type": "number", "exclusiveMinimum": 0, "maximum": 1e6,
                                 "description": "traffic share, normalised over variants"}}},
    "Experiment": {
        "type": "object", "required": ["name", "variants"], "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
            "kind": {"enum": ["ab", "interleaving"]},
            "method": {"enum": ["team_draft", "probabilistic"],
                       "description": "interleaving method"},
            "variants": {"type": "array", "items": _ref("Variant"), "minItems": 2},
            "salt": {"type": "string", "maxLength": 1000},
            "traffic": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "status": {"enum": ["running", "stopped"]},
            "started": {"type": "string", "maxLength": 1000},
            "stopped": {"type": ["string", "null"], "maxLength": 1000},
            "guardrails": {"type": "object", "additionalProperties": False, "properties": {
                "latency_p99_ms": {"type": "number", "minimum": 0},
                "abandonment": {"type": "number", "minimum": 0},
                "ctr_drop": {"type": "number", "minimum": 0}}},
            "description": {"type": "string", "maxLength": 1000},
            "version": {"type": "integer", "minimum": 1}}},
    "ExperimentReport": {
        "type": "object", "required": ["experiment", "kind", "variants", "tests", "srm",
                                       "timeline"],
        "properties": {
            "experiment": {"type": "string"}, "kind": {"enum": ["ab", "interleaving"]},
            "status": {"enum": ["running", "stopped"]},
            "variants": {"type": "array", "items": {
                "type": "object",
                "required": ["variant", "profile", "queries", "impressions", "clicks", "ctr",
                             "mrr", "abandonment", "conversion", "latency_ms", "flags"],
                "properties": {
                    "variant": {"type": "string"}, "profile": {"type": "string"},
                    "queries": {"type": "integer"}, "impressions": {"type": "integer"},
                    "clicks": {"type": "integer"}, "ctr": _RATE, "clicks_at_10": _RATE,
                    "mrr": _RATE, "abandonment": _RATE, "conversion": _RATE,
                    "latency_ms": {"type": "object", "properties": {
                        "p50": _NULLABLE_NUMBER, "p99": _NULLABLE_NUMBER}},
                    "flags": {"type": "array", "items": {"type": "string"}}}}},
            "tests": {"type": "array", "items": {
                "type": "object", "required": ["metric", "a", "b", "p_value", "significant"],
                "properties": {"metric": {"type": "string"}, "a": {"type": "string"},
                               "b": {"type": "string"}, "p_value": _NULLABLE_NUMBER,
                               "significant": {"type": "boolean"}}}},
            "srm": {"type": "object", "required": ["p_value", "ok"],
                    "properties": {"p_value": _NULLABLE_NUMBER, "ok": {"type": "boolean"},
                                   "observed": {"type": "array",
                                                "items": {"type": "integer"}}}},
            "interleaving": {"type": "object", "required": ["wins", "ties", "p_value"],
                             "properties": {
                                 "wins": {"type": "object",
                                          "additionalProperties": {"type": "integer"}},
                                 "ties": {"type": "integer"},
                                 "no_clicks": {"type": "integer"},
                                 "p_value": _NULLABLE_NUMBER,
                                 "significant": {"type": "boolean"}}},
            "timeline": {"type": "array", "items": {
                "type": "object", "required": ["date", "variant", "queries", "ctr"],
                "properties": {"date": {"type": "string", "format": "date"},
                               "variant": {"type": "string"}, "queries": {"type": "integer"},
                               "ctr": {"type": "number"}}}}}},
    "Event": {
        "type": "object", "required": ["action_name", "query_id"],
        "additionalProperties": False,
        "description": "a UBI event; object_id is required (here or in event_attributes."
                       "object.object_id), and position for impressions and clicks",
        "properties": {
            "action_name": {"enum": ["impression", "click", "view", "add_to_cart", "purchase"]},
            "query_id": {"type": "string", "minLength": 1, "maxLength": 256},
            "object_id": {"type": "string", "minLength": 1, "maxLength": 256},
            "position": {"type": "integer", "minimum": 1, "maximum": 10000},
            "event_id": {"type": "string", "maxLength": 256},
            "user_id": {"type": "string", "maxLength": 256},
            "client_id": {"type": "string", "maxLength": 256},
            "session_id": {"type": "string", "maxLength": 256},
            "user_query": {"type": "string", "maxLength": 1000},
            "value": {"type": "number", "minimum": 0},
            "timestamp": {"oneOf": [{"type": "string", "format": "date-time"},
                                    {"type": "number", "minimum": 0}]},
            "event_attributes": {"type": "object"}, "message": {},
            "message_type": {}, "application": {}, "object_id_field": {}}},
    "EventResult": {
        "type": "object", "required": ["stored", "duplicates", "rejected", "items"],
        "properties": {
            "stored": {"type": "integer"}, "duplicates": {"type": "integer"},
            "rejected": {"type": "integer"},
            "items": {"type": "array", "items": {
                "type": "object", "required": ["index", "event_id", "status"],
                "properties": {"index": {"type": "integer"},
                               "event_id": {"type": ["string", "null"]},
                               "status": {"enum": ["stored", "duplicate", "rejected"]},
                               "field": {"type": "string"}, "error": {"type": "string"}}}}}},
}

SCHEMAS["SimilarResponse"] = {
    **SCHEMAS["SearchResponse"],
    "required": ["similar_to"] + [k for k in SCHEMAS["SearchResponse"]["required"]
                                  if k not in ("experiment", "variant")],
    "properties": {"similar_to": {"type": "string"},
                   **{k: v for k, v in SCHEMAS["SearchResponse"]["properties"].items()
                      if k not in ("experiment", "variant")}}}
_SIMILAR_PARAMS = [p for p in _SEARCH_PARAMS
                   if p["name"] not in ("q", "user_id", "session_id", "experiment")]

_NAME = {"name": "name", "in": "path", "required": True,
         "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string",
                                                               "minLength": 1}}


def spec() -> dict[str, Any]:
    search_responses = {"200": _ok(_ref("SearchResponse"), "One page of fused results"),
                        **_problems(400, 404, 413, 414, 415, 503)}
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
                         "parameters": [{"name": "recompute_vectors", "in": "query",
                                         "description": "compute vectors the items supply, "
                                                        "replacing them",
                                         "schema": {"type": "boolean", "default": False}}],
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
            "/products/{id}/similar": {
                "get": {"operationId": "similarProducts",
                        "summary": "Products like this one: its image, text and fused vectors "
                                   "as the query, under the similar-products profile",
                        "parameters": [_ID, *_SIMILAR_PARAMS],
                        "responses": {"200": _ok(_ref("SimilarResponse"),
                                                 "One page of fused results"),
                                      **_problems(400, 404, 503)}}},
            "/users/{user_id}": {
                "delete": {"operationId": "deleteUser", "security": KEYED,
                           "summary": "Forget a shopper: their searches, events, sessions "
                                      "and user vectors",
                           "parameters": [{**_ID, "name": "user_id", "schema": {
                               "type": "string", "minLength": 1, "maxLength": 256}}],
                           "responses": {"200": _ok({
                               "type": "object", "required": ["user_id", "deleted"],
                               "properties": {"user_id": {"type": "string"}, "deleted": {
                                   "type": "object",
                                   "additionalProperties": {"type": "integer"}}}}),
                               **_problems(400, 401)}}},
            "/profiles": {
                "get": {"operationId": "listProfiles",
                        "responses": {"200": _ok({"type": "object", "required": ["profiles"],
                                                  "properties": {"profiles": {
                                                      "type": "array", "items": {
                                                          "type": "object",
                                                          "required": ["name", "versions",
                                                                       "inputs"],
                                                          "properties": {
                                                              "name": {"type": "string"},
                                                              "versions": {
                                                                  "type": "array",
                                                                  "items": {"type": "integer"}},
                                                              "inputs": {
                                                                  "type": "array",
                                                                  "items": {"type": "string"}},
                                                          }}}}})}}},
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
            "/experiments": {
                "get": {"operationId": "listExperiments",
                        "responses": {"200": _ok({"type": "object", "required": ["experiments"],
                                                  "properties": {"experiments": {
                                                      "type": "array",
                                                      "items": _ref("Experiment")}}})}},
                "post": {"operationId": "createExperiment", "security": KEYED,
                         "requestBody": {"required": True, "content": {
                             "application/json": {"schema": _ref("Experiment")}}},
                         "responses": {"201": _ok(_ref("Experiment"), "Created, running"),
                                       **_problems(400, 401, 404)}}},
            "/experiments/{name}": {
                "get": {"operationId": "getExperiment", "parameters": [_NAME],
                        "responses": {"200": _ok(_ref("Experiment")),
                                      **_problems(400, 404)}}},
            "/experiments/{name}/stop": {
                "post": {"operationId": "stopExperiment", "security": KEYED,
                         "parameters": [_NAME],
                         "responses": {"200": _ok(_ref("Experiment"), "Stopped"),
                                       **_problems(400, 401, 404)}}},
            "/experiments/{name}/report": {
                "get": {"operationId": "experimentReport", "parameters": [_NAME],
                        "responses": {"200": _ok(_ref("ExperimentReport")),
                                      **_problems(400, 404)}}},
            "/events": {
                "post": {"operationId": "addEvents",
                         "summary": "Store UBI events (impressions, clicks, add_to_cart, "
                                    "purchases), idempotent on event_id",
                         "requestBody": {"required": True, "content": {"application/json": {
                             "schema": {"oneOf": [
                                 _ref("Event"),
                                 {"type": "array", "items": _ref("Event"), "minItems": 1}]}}}},
                         "responses": {"200": _ok(_ref("EventResult"), "All stored (or "
                                                  "duplicates)"),
                                       "207": _ok(_ref("EventResult"), "Some rejected"),
                                       **_problems(400, 413)}}},
            "/events/export": {
                "get": {"operationId": "exportEvents", "security": KEYED,
                        "summary": "Events as JSON lines, with each search's user_query, "
                                   "experiment and variant (input for hybrid learn --clicks); "
                                   "keyed, as they carry user and session ids",
                        "parameters": [{"name": "experiment", "in": "query", "schema": {
                            "type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}}],
                        "responses": {"200": {"description": "One event per line",
                                              "content": {"application/x-ndjson": {
                                                  "schema": {"type": "string"}}}},
                                      **_problems(400, 401, 404)}}},
            "/judgments": {
                "get": {"operationId": "getJudgments",
                        "summary": "A query's recorded grades, or (no parameters) the "
                                   "judged queries",
                        "parameters": [
                            {"name": "query", "in": "query",
                             "schema": {"type": "string", "maxLength": 1000}},
                            {"name": "qid", "in": "query",
                             "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,128}$"}}],
                        "responses": {"200": _ok({"oneOf": [
                            _ref("QueryJudgments"),
                            {"type": "object", "required": ["queries"],
                             "properties": {"queries": {"type": "array"},
                                            "task_folder": {"type": "string"}}}]}),
                            **_problems(400)}},
                "put": {"operationId": "putJudgment", "security": KEYED,
                        "summary": "Record one grade (0 to 2) of a product for a query",
                        "requestBody": {"required": True, "content": {
                            "application/json": {"schema": _ref("Judgment")}}},
                        "responses": {"200": _ok(_ref("QueryJudgments")),
                                      **_problems(400, 401)}}},
            "/": {"get": {"operationId": "inspector", "summary": "The inspector web page",
                          "responses": {"200": {"description": "HTML",
                                                "content": {"text/html": {}}}}}},
            "/inspector/{filename}": {
                "get": {"operationId": "inspectorAsset",
                        "summary": "The inspector's scripts and styles",
                        "parameters": [{"name": "filename", "in": "path", "required": True,
                                        "schema": {"type": "string", "minLength": 1}}],
                        "responses": {"200": {"description": "A script or style sheet",
                                              "content": {"text/*": {}}},
                                      **_problems(404)}}},
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
