"""GET /products/<id>/similar: products like a given one, under the similar-products
profile (config SIMILAR_PROFILE, built in: "similar"), with the query parameters of
GET /search less the query itself (filter, facets, page, size, profile, weights,
explain). 404 for an unknown product; signals whose vector the product lacks are
listed in `skipped`."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from hybrid.api.experiments import _profile
from hybrid.api.search import _form
from hybrid.api.services import services
from hybrid.errors import QueryError
from hybrid.planner.plan import parse_request
from hybrid.search.similar import similar

bp = Blueprint("similar", __name__)
NOT_TAKEN = ("q", "image_url", "image_base64", "audio_base64")


@bp.get("/products/<id:product_id>/similar")
def similar_products(product_id: str) -> Response:
    svc = services()
    data = _form(request.args)
    given = [k for k in NOT_TAKEN if k in data]
    if given:
        raise QueryError(f"similar products take no {', '.join(given)}: the product is the "
                         "query")
    req = parse_request(data, svc.engine.schema, max_size=int(svc.config["MAX_PAGE_SIZE"]))
    svc.refresh()
    profile = _profile(svc, req.profile or svc.config["SIMILAR_PROFILE"])
    return jsonify(similar(svc.searcher, product_id, req, profile))
