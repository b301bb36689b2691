"""Property-based fuzzing of every endpoint from /openapi.json (schemathesis), bounded:
no request the generator makes may get a 5xx, and answers must match the description.

Runs against its own `hybrid serve` on a small lexical index (the fuzzer writes and
deletes products with the key), so it leaves the other tests' index alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from hybrid.testing.servers import ApiServer  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]
KEY = "fuzz-key"
EXAMPLES = 30  # per operation: bounded, about a minute in all
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: Any, shared_data: Path) -> Any:
    from api_index import FIELD_MAP, REPO, write_catalog

    folder = tmp_path_factory.mktemp("fuzz")
    catalog = write_catalog(folder, shared_data, fashion=40, grocery=5)
    index = folder / "index"
    subprocess.run([sys.executable, "-m", "hybrid.cli.main", "--index", str(index), "index",
                    str(catalog), "--field-map", str(FIELD_MAP), "--no-vectors",
                    "--no-progress"], cwd=REPO, check=True, capture_output=True,
                   env={**os.environ, "HYBRID_MEDIA_ROOTS": str(shared_data)})  # its images
    server = ApiServer(index, folder / "serve.log", workers=1, api_key=KEY, warm=False,
                       env={"HYBRID_VECTORS": '"off"'})
    server.start()
    yield server
    server.stop()


def test_no_server_errors_and_answers_match_the_description(fuzz_server: Any) -> None:
    """Each operation in turn, EXAMPLES generated requests each (schemathesis's pytest
    plugin does not load under this pytest, so hypothesis drives its strategies)."""
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            case.call_and_validate(base_url=fuzz_server.url, headers={"X-API-Key": KEY},
                                   checks=CHECKS)

        try:
            run()
        except Exception as e:  # noqa: BLE001 - collected, reported together below
            failures.append(f"{operation.label}: {e}")
    assert not failures, "\n\n".join(failures)
    answered = _requests_answered(fuzz_server.url)
    assert answered >= len(operations) * 5, answered  # the fuzzer really sent requests


def _filter_and_facet_requests() -> Any:
    """Search requests whose filters and facets put values of every JSON type (wrong
    ones included) on every filterable field of the mapping, under every operator."""
    from hybrid.engines.schema import BOOLEAN, KEYWORD, NUMBER, IndexSchema

    schema = IndexSchema.load()
    fields = sorted(p for p, f in schema.fields.items() if f.kind in (KEYWORD, NUMBER, BOOLEAN))
    fields += [f"{obj}.{member}" for obj in schema.dynamic for member in ("colour", "size")]
    field = st.sampled_from(fields + ["title", "nope", ""])
    scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8),
                       st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["", "12"]))
    value = st.one_of(scalar, st.lists(scalar, max_size=3), st.dictionaries(
        st.sampled_from(["gt", "gte", "lt", "lte", "x"]), scalar, max_size=2))
    leaf = st.one_of(
        st.builds(lambda f, v: {"term": {f: v}}, field, value),
        st.builds(lambda f, v: {"terms": {f: v}}, field, value),
        st.builds(lambda f, v: {"range": {f: v}}, field, value),
        st.builds(lambda f: {"exists": {"field": f}}, st.one_of(field, scalar)))
    flt = st.recursive(leaf, lambda inner: st.one_of(
        st.builds(lambda x: {"not": x}, inner),
        st.builds(lambda xs: {"and": xs}, st.lists(inner, max_size=3)),
        st.builds(lambda xs: {"or": xs}, st.lists(inner, max_size=3))), max_leaves=4)
    facet = st.one_of(
        st.builds(lambda f, n: {"terms": {"field": f, "size": n}}, field, scalar),
        st.builds(lambda f, r: {"range": {"field": f, "ranges": r}}, field,
                  st.one_of(value, st.lists(st.dictionaries(st.sampled_from(["from", "to"]),
                                                            scalar, max_size=2), max_size=2))))
    return st.fixed_dictionaries({"q": st.sampled_from(["", "shirt"])}, optional={
        "filter": flt, "facets": st.dictionaries(st.text(min_size=1, max_size=4), facet,
                                                 max_size=2)})


def test_wrong_typed_filter_and_facet_values_are_problems(fuzz_server: Any) -> None:
    """The generated schema leaves filter and facet values open; this sends values of
    every type on every field, by POST and GET: 200 or a 400 problem, never a 5xx."""
    import json

    import requests

    @given(body=_filter_and_facet_requests(), get=st.booleans())
    @settings(max_examples=2 * EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(body: dict[str, Any], get: bool) -> None:
        if get:
            params = {k: v if k == "q" else json.dumps(v) for k, v in body.items()}
            r = requests.get(f"{fuzz_server.url}/search", params=params, timeout=60)
        else:
            r = requests.post(f"{fuzz_server.url}/search", data=json.dumps(body), timeout=60,
                              headers={"Content-Type": "application/json"})  # NaN too
        assert r.status_code in (200, 400), (body, r.status_code, r.text[:300])
        if r.status_code == 400:
            assert r.headers["Content-Type"] == "application/problem+json", r.text[:300]
            assert r.json()["detail"]

    run()


def _requests_answered(url: str) -> float:
    import re

    import requests

    text = requests.get(f"{url}/metrics", timeout=10).text
    return sum(float(v) for v in re.findall(r"^hybrid_http_requests_total\{.*\} (\S+)$", text,
                                            re.M))
