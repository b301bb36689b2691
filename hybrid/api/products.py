"""Ingest over HTTP: POST /products (a batch, one result per item), GET and
DELETE /products/<id>, and GET /products/<id>/image (a product's first image file).

Items are checked by the same rules as catalog files (hybrid.catalog.rules: column
names, limits, duplicate ids, supplied vectors, media roots); a bad item is rejected
alone. Relative media paths resolve in the index's upload store (`<index>/media`).
Written products are searchable lexically at once; their vectors are computed after
the response: by Celery workers when REDIS_URL is set, else in a background thread of
this process (config VECTORS: auto, celery, background or off). Supplied vectors are
kept unless the request says `?recompute_vectors=true`.
"""

from __future__ import annotations

import hashlib
import io
import logging
import mimetypes
import threading
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, request, send_file

from hybrid.api import jsonbody
from hybrid.api.metrics import PRODUCTS
from hybrid.api.security import require_key
from hybrid.api.services import Services, services
from hybrid.catalog.media import UPLOADS, MediaError, is_url
from hybrid.catalog.rules import CatalogRules, LoadReport, check_rows
from hybrid.errors import NotFoundError, QueryError, TooLargeError
from hybrid.planner.plan import flag
from hybrid.search.searcher import IMAGE_SUFFIXES, image_url, public_fields

bp = Blueprint("products", __name__)
log = logging.getLogger(__name__)
_background = threading.Lock()  # one background vector fill at a time per process


@bp.post("/products")
@require_key
def add_products() -> tuple[Response, int]:
    svc = services()
    body = jsonbody.loads(request.get_data(), max_depth=jsonbody.BATCH_DEPTH)
    items = body.get("products") if isinstance(body, dict) else body
    if not isinstance(items, list) or not items:
        raise QueryError("send a JSON list of products, or {\"products\": [...]}")
    if len(items) > int(svc.config["MAX_BATCH"]):
        raise TooLargeError(f"{len(items)} products in one request; the limit is "
                            f"{svc.config['MAX_BATCH']}")
    recompute = flag(request.args.get("recompute_vectors", "false"), "recompute_vectors")
    rules = CatalogRules(vector_dims={name: f.dimension for name, f in
                                      svc.engine.schema.vector_fields.items()},
                         media=svc.media(), base=str(svc.state / UPLOADS))
    report = LoadReport()
    good = list(check_rows(((i, item, None) for i, item in enumerate(items)), rules, report,
                           where="item"))
    results: list[dict[str, Any]] = [{}] * len(items)
    for r in report.rejected:
        results[r.line] = {"id": r.id, "status": "rejected",
                           "error": f"{r.field}: {r.reason}" if r.field else r.reason}
    docs = [p.to_dict() for _, p in good]
    where = [i for i, _ in good]
    if docs:
        for i, res in zip(where, svc.engine.add(docs), strict=True):
            results[i] = ({"id": res.id, "status": "written"} if res.ok else
                          {"id": res.id, "status": "rejected", "error": res.error})
        svc.refresh(force=True)
    written = [d for d, i in zip(docs, where, strict=True) if results[i]["status"] == "written"]
    PRODUCTS.labels("written").inc(len(written))
    PRODUCTS.labels("rejected").inc(len(items) - len(written))
    vectors = _fill_vectors(svc, written, recompute) if written else "none"
    status = 200 if len(written) == len(items) else 207
    return jsonify({"written": len(written), "rejected": len(items) - len(written),
                    "vectors": vectors, "items": results}), status


def _fill_vectors(svc: Services, docs: list[dict[str, Any]], recompute: bool) -> str:
    mode = svc.config["VECTORS"]
    if mode == "off":
        return "off: run 'hybrid encode' to compute them"
    from hybrid.ingest.runner import CeleryQueue, InProcess, dispatcher, plan_all

    index = str(svc.index)
    run = {"celery": CeleryQueue, "background": InProcess}.get(mode, dispatcher)(index)

    def submit() -> None:
        run.submit_all(plan_all(svc.engine, docs, warn=log.warning, recompute=recompute,
                                media=svc.media()))

    if isinstance(run, CeleryQueue):  # enqueueing is quick: done before answering
        submit()
        return "queued"

    def fill() -> None:
        with _background:
            try:
                submit()
            except Exception:  # noqa: BLE001 - logged; the documents stay pending
                log.exception("background vector fill failed; run 'hybrid encode'")

    threading.Thread(target=fill, name="vectors", daemon=True).start()
    return "background"


@bp.get("/products/<id:product_id>/image")
def product_image(product_id: str) -> Response:
    """The first image, read only through the media rules (never a file outside the
    media roots, never a device or FIFO), with X-Content-Type-Options: nosniff."""
    doc = _doc(product_id)
    images = doc.get("images") or []
    location = str(images[0]) if images else ""
    missing = NotFoundError(f"product {product_id!r} has no image file on this server")
    if not location or is_url(location) or Path(location).suffix.lower() not in IMAGE_SUFFIXES:
        raise missing
    try:
        data = services().media().read(location)
    except MediaError:
        raise missing from None
    resp = send_file(io.BytesIO(data), mimetype=mimetypes.guess_type(location)[0]
                     or "application/octet-stream", max_age=3600,
                     etag=hashlib.sha256(data).hexdigest()[:32])
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


@bp.get("/products/<id:product_id>")
def get_product(product_id: str) -> Response:
    doc = _doc(product_id)
    doc.pop("vectors", None)
    return jsonify(public_fields(product_id, doc) | {"image_url": image_url(product_id, doc)})


@bp.delete("/products/<id:product_id>")
@require_key
def delete_product(product_id: str) -> Response:
    svc = services()
    if not svc.engine.delete([product_id]):
        raise NotFoundError(f"no product with id {product_id!r}")
    svc.refresh(force=True)
    return jsonify({"id": product_id, "deleted": True})


def _doc(product_id: str) -> dict[str, Any]:
    svc = services()
    svc.refresh()
    doc = svc.engine.get(product_id)
    if doc is None:
        raise NotFoundError(f"no product with id {product_id!r}")
    return dict(doc)
