"""POST /search (JSON, or multipart with an image and/or audio file) and GET /search?q=.
A `user_id` or `session_id` puts the search in a running experiment
(`hybrid.api.experiments`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from flask import Blueprint, Response, jsonify, request

from hybrid.api import jsonbody
from hybrid.api.experiments import Unit, search_logged
from hybrid.api.metrics import observe_search
from hybrid.api.problems import redact_paths
from hybrid.api.services import services
from hybrid.errors import InputError, QueryError
from hybrid.planner.plan import parse_request
from hybrid.search.inputs import Limits, decode_audio, decode_image, fetch_image, from_base64

bp = Blueprint("search", __name__)
JSON_FIELDS = ("filter", "facets", "weights")  # sent as JSON text in forms and query strings


@bp.route("/search", methods=["GET", "POST"])
def search() -> Response:
    svc = services()
    shadow = svc.shadow
    with shadow.serving():
        data, image, audio = read_query(svc.limits)
        unit = Unit.pop(data)
        req = parse_request(data, svc.engine.schema, image=image is not None,
                            audio=audio is not None, max_size=int(svc.config["MAX_PAGE_SIZE"]))
        svc.refresh()
        result = search_logged(svc, req, unit, image=image, audio=audio)
        observe_search(result)
        result["skipped"] = {k: redact_paths(v) for k, v in result["skipped"].items()}
        response = jsonify(result)
    # offered once the response is sent, so that no shadow competes with sending it
    response.call_on_close(lambda: shadow.offer(req, result, image=image, audio=audio))
    return response


def read_query(limits: Limits) -> tuple[dict[str, Any], Any, np.ndarray | None]:
    """The request's fields, decoded image and decoded audio, whatever the encoding."""
    image_bytes = audio_bytes = None
    if request.method == "GET":
        data: dict[str, Any] = _form(request.args)
    elif request.mimetype == "multipart/form-data":
        data = _form(request.form)
        if "image" in request.files:
            image_bytes = request.files["image"].read()
        if "audio" in request.files:
            audio_bytes = request.files["audio"].read()
    elif request.mimetype == "application/json" or not request.mimetype:
        raw = request.get_data()
        body = jsonbody.loads(raw) if raw else {}
        if not isinstance(body, dict):
            raise QueryError("the request body must be a JSON object")
        data = dict(body)
    else:
        raise InputError(f"send application/json or multipart/form-data, not "
                         f"{request.mimetype}")
    for key, what in (("image_base64", "image"), ("audio_base64", "audio")):
        if key in data:
            raw = from_base64(data.pop(key), key)
            if what == "image":
                image_bytes = raw
            else:
                audio_bytes = raw
    if "image_url" in data:
        url = data.pop("image_url")
        if image_bytes is not None:
            raise QueryError("send one image: a file, image_base64 or image_url")
        image_bytes = fetch_image(url, limits)
    image = decode_image(image_bytes, limits) if image_bytes is not None else None
    audio = decode_audio(audio_bytes, limits) if audio_bytes is not None else None
    return data, image, audio


def _form(values: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key in values:
        if not isinstance(key, str):  # werkzeug's name for a part it could not parse
            raise QueryError("a form field has a name that cannot be read")
        value = values.get(key)
        if key in JSON_FIELDS:
            value = jsonbody.loads(value, f"'{key}'") if value else None
        data[key] = value
    if "query" in data:  # a multipart part holding the whole JSON request
        inner = jsonbody.loads(data.pop("query"), "'query'")
        if not isinstance(inner, dict):
            raise QueryError("'query' must be a JSON object")
        data = inner | data
    return data
