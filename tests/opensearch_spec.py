"""Validate request bodies against the OpenSearch REST API specification
(../shared/opensearch-api-spec, or OPENSEARCH_API_SPEC), with jsonschema and a
`referencing` registry that loads the spec's YAML files by path."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC = Path(os.environ.get("OPENSEARCH_API_SPEC",
                           Path(__file__).resolve().parents[1].parent / "shared"
                           / "opensearch-api-spec")) / "spec"
NDJSON, JSON = "application~1x-ndjson", "application~1json"


@functools.cache
def _load(uri: str) -> Resource[Any]:
    path = uri.removeprefix("file://")
    return DRAFT202012.create_resource(yaml.safe_load(Path(path).read_text()))


def _registry() -> Registry[Any]:
    return Registry(retrieve=_load)  # type: ignore[call-arg]


def errors(body: Any, namespace: str, request: str, content: str = JSON) -> list[str]:
    """Messages of everything in `body` that the spec's request body `request` of
    `namespace` (e.g. "_core", "search") does not allow; [] when it is valid."""
    uri = (SPEC / "namespaces" / f"{namespace}.yaml").as_uri()
    ref = f"{uri}#/components/requestBodies/{request}/content/{content}/schema"
    validator = jsonschema.Draft202012Validator({"$ref": ref}, registry=_registry())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(body)]


def schema_errors(value: Any, file: str, name: str) -> list[str]:
    """Validate against a named schema, e.g. ("_common.query_dsl", "QueryContainer")."""
    uri = (SPEC / "schemas" / f"{file}.yaml").as_uri()
    validator = jsonschema.Draft202012Validator(
        {"$ref": f"{uri}#/components/schemas/{name}"}, registry=_registry())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(value)]


def msearch_errors(lines: list[Any]) -> list[str]:
    """An `_msearch` body, each header and search checked as what it is (the spec's
    RequestItem is a oneOf that a bare header like {"index": "x"} matches twice)."""
    out = []
    for i, line in enumerate(lines):
        name = "MultisearchBody" if i % 2 else "MultisearchHeader"
        out += [f"{i}/{e}" for e in schema_errors(line, "_core.msearch", name)]
    return out


def available() -> bool:
    return (SPEC / "namespaces" / "_core.yaml").exists()
