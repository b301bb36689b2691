"""PUT/GET /judgments and the inspector's files, through the Flask app itself (the
browser tests in test_inspector.py use a real server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hybrid.evaluation.judgments import load_task

pytest.importorskip("flask")
pytestmark = pytest.mark.integration
KEY = {"X-API-Key": "k"}


@pytest.fixture
def client(tmp_path: Path) -> Any:
    from hybrid.api import create_app

    app = create_app({"INDEX": str(tmp_path / "index"), "WARM": False, "API_KEY": "k"})
    return app.test_client()


def test_record_and_read_back(client: Any, tmp_path: Path) -> None:
    assert client.put("/judgments", json={"query": "red shoes", "doc": "p1", "grade": 2}
                      ).status_code == 401
    r = client.put("/judgments", json={"query": "red shoes", "doc": "p1", "grade": 2},
                   headers=KEY)
    assert r.status_code == 200, r.json
    client.put("/judgments", json={"query": "Red  Shoes", "doc": "p2", "grade": 0}, headers=KEY)
    got = client.get("/judgments", query_string={"query": "red shoes"}).json
    assert got["judgments"] == {"p1": 2, "p2": 0}
    assert client.get("/judgments", query_string={"qid": got["qid"]}).json == got
    listed = client.get("/judgments").json
    assert listed["queries"] == [{"qid": got["qid"], "query": "red shoes", "judged": 2}]
    task = load_task(tmp_path / "index" / "judgments" / "inspector")
    assert task.qrels == {got["qid"]: {"p1": 2, "p2": 0}}


@pytest.mark.parametrize("body, detail", [
    ({"query": "q", "doc": "p1", "grade": 5}, "grade"),
    ({"query": "q", "doc": "p1"}, "grade"),
    ({"doc": "p1", "grade": 1}, "name the query"),
    ({"query": "q", "doc": "p1", "grade": 1, "extra": 1}, "unknown key"),
    ([1, 2], "JSON object"),
])
def test_bad_judgments_are_problems(client: Any, body: Any, detail: str) -> None:
    r = client.put("/judgments", json=body, headers=KEY)
    assert r.status_code == 400 and r.mimetype == "application/problem+json"
    assert detail in r.json["detail"]


def test_the_page_and_its_files(client: Any) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert b'src="/inspector/js/main.js"' in page.data
    script = client.get("/inspector/js/main.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert client.get("/inspector/../app.py").status_code == 404
    missing = client.get("/inspector/nope.js")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
