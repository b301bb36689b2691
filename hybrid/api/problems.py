"""Errors as JSON problem details (RFC 9457): every error the API answers has a
type, a title, the HTTP status, and a detail that says what to change."""

from __future__ import annotations

import os
import re
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from hybrid.encoders.base import DecodeError, EncoderError, TooLongError
from hybrid.errors import (
    AuthError,
    CatalogError,
    EngineError,
    HybridError,
    InputError,
    NotFoundError,
    QueryError,
    SchemaError,
    StoredDataError,
    TooLargeError,
    UnavailableError,
    UnsupportedMediaError,
)

PROBLEM_JSON = "application/problem+json"

# most specific first: the first class an error is an instance of decides
STATUS: list[tuple[type[Exception], int, str]] = [
    (TooLargeError, 413, "too-large"),
    (TooLongError, 413, "too-large"),
    (UnsupportedMediaError, 415, "unsupported-media"),
    (InputError, 400, "bad-input"),
    (DecodeError, 400, "bad-input"),
    (QueryError, 400, "bad-query"),
    (CatalogError, 400, "bad-product"),
    (SchemaError, 400, "bad-query"),
    (NotFoundError, 404, "not-found"),
    (AuthError, 401, "unauthorized"),
    (EncoderError, 503, "encoder-unavailable"),
    (EngineError, 503, "engine-unavailable"),
    (UnavailableError, 503, "unavailable"),
    (StoredDataError, 500, "damaged-data"),
]


# an absolute path (two parts at least) that does not continue a word, URL or path
_PATH = re.compile(r"(?<![\w.:/~-])/(?:[\w.@+~-]+/)+[\w.@+~-]*")


def redact_paths(text: str) -> str:
    """`text` with the server's file paths replaced by "<path>": an absolute path
    whose first folder exists on this machine (/home/..., /tmp/..., /srv/...), so that
    URL paths such as /products/x/image stay. Error details, skipped-signal reasons
    and readiness notes pass through here: no answer tells a client where files are."""
    def sub(m: re.Match[str]) -> str:
        top = m.group(0).split("/")[1]
        return "<path>" if top and os.path.exists(f"/{top}") else m.group(0)

    return _PATH.sub(sub, text)


def problem(status: int, detail: str, kind: str | None = None, title: str | None = None,
            **extra: Any) -> Response:
    from http import HTTPStatus

    phrase = HTTPStatus(status).phrase
    body = {"type": f"/problems/{kind or phrase.lower().replace(' ', '-')}",
            "title": title or phrase, "status": status, "detail": redact_paths(detail),
            "instance": request.path} | extra
    resp = jsonify(body)
    resp.status_code = status
    resp.mimetype = PROBLEM_JSON
    return resp


def register(app: Flask) -> None:
    @app.errorhandler(HybridError)  # DecodeError and EncoderError are HybridErrors too
    def _hybrid(e: Exception) -> Response:
        for cls, status, kind in STATUS:
            if isinstance(e, cls):
                if status == 500:  # the server's own fault: its operators need to know
                    app.logger.error("%s", e)
                field = getattr(e, "field", None)  # which field of the input is at fault
                resp = problem(status, str(e), kind, **({"field": field} if field else {}))
                if status == 401:
                    resp.headers["WWW-Authenticate"] = 'Bearer realm="hybrid"'
                return resp
        app.logger.exception("unexpected error")
        return problem(500, "internal error; the server log has the details", "internal")

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException) -> Response:
        status = e.code or 500
        detail = e.description or ""
        if status == 413:
            detail = (f"the request body is over the limit of "
                      f"{app.config['MAX_CONTENT_LENGTH']} bytes")
        resp = problem(status, detail)
        allow = getattr(e, "valid_methods", None)
        if allow:
            resp.headers["Allow"] = ", ".join(allow)
        return resp

    @app.errorhandler(Exception)
    def _other(e: Exception) -> Response:
        app.logger.exception("unexpected error")
        return problem(500, "internal error; the server log has the details", "internal")
