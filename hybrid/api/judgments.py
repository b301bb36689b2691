"""Judgments over HTTP: `PUT /judgments` records one grade (0..2) of a product for a
query, `GET /judgments?query=` reads a query's grades back, `GET /judgments` lists the
judged queries. Stored beside the index as a task folder that `hybrid eval` and `hybrid
learn` read (hybrid.evaluation.recorded). Writes need the API key."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from hybrid.api import jsonbody
from hybrid.api.security import require_key
from hybrid.api.services import services
from hybrid.errors import QueryError
from hybrid.evaluation.recorded import JudgmentStore

bp = Blueprint("judgments", __name__)


def _store() -> JudgmentStore:
    return JudgmentStore(services().state / "judgments")


@bp.get("/judgments")
def get_judgments() -> Response:
    store = _store()
    text, qid = request.args.get("query"), request.args.get("qid")
    if text is None and qid is None:
        return jsonify({"queries": store.queries(), "task_folder": str(store.folder)})
    return jsonify(store.get(text, qid))


@bp.put("/judgments")
@require_key
def put_judgment() -> Response:
    body = jsonbody.loads(request.get_data())
    if not isinstance(body, dict):
        raise QueryError('send {"query": text, "doc": product id, "grade": 0, 1 or 2} '
                         '(and optionally "qid") as a JSON object')
    unknown = set(body) - {"query", "qid", "doc", "grade"}
    if unknown:
        raise QueryError(f"unknown key(s) {', '.join(sorted(unknown))}; use query, qid, doc, "
                         "grade")
    return jsonify(_store().put(body.get("query"), body.get("doc"), body.get("grade"),
                                body.get("qid")))
