"""The inspector: a web page at `/` to search, explain, compare, judge and follow
experiments. Plain ES modules and CSS served from hybrid/api/ui/ (no build step,
nothing loaded from the internet); the page talks to this API only."""

from __future__ import annotations

from flask import Blueprint, Response

bp = Blueprint("inspector", __name__, static_folder="ui",
               static_url_path="/inspector")

# The page builds every element from text nodes; this policy is a second line against
# injected markup: no inline script, nothing from other origins but product images.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; "
       "img-src 'self' data: blob: http: https:; media-src 'self' blob:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")


@bp.get("/")
def page() -> Response:
    return bp.send_static_file("index.html")


@bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp
