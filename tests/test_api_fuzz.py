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


def _requests_answered(url: str) -> float:
    import re

    import requests

    text = requests.get(f"{url}/metrics", timeout=10).text
    return sum(float(v) for v in re.findall(r"^hybrid_http_requests_total\{.*\} (\S+)$", text,
                                            re.M))
