"""Ingest over HTTP: POST /products (a batch, one result per item), GET and
DELETE /products/<id>, and GET /products/<id>/image (a product's first image file).

Written products are searchable lexically at once; their vectors are computed after
the response: by Celery workers when REDIS_URL is set, else in a background thread of
this process (config VECTORS: auto, celery, background or off).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, request, send_file

from hybrid.api.metrics import PRODUCTS
from hybrid.api.security import require_key
from hybrid.api.services import Services, services
from hybrid.catalog.product import Product, RowError
from hybrid.errors import NotFoundError, QueryError, TooLargeError
from hybrid.search.searcher import IMAGE_SUFFIXES

bp = Blueprint("products", __name__)
log = logging.getLogger(__name__)
_background = threading.Lock()  # one background vector fill at a time per process


@bp.post("/products")
@require_key
def add_products() -> tuple[Response, int]:
    svc = services()
    body = request.get_json(force=True, silent=True)
    items = body.get("products") if isinstance(body, dict) else body
    if not isinstance(items, list) or not items:
        raise QueryError("send a JSON list of products, or {\"products\": [...]}")
    if len(items) > int(svc.config["MAX_BATCH"]):
        raise TooLargeError(f"{len(items)} products in one request; the limit is "
                            f"{svc.config['MAX_BATCH']}")
    results: list[dict[str, Any]] = [{}] * len(items)
    docs, where = [], []
    for i, item in enumerate(items):
        try:
            docs.append(Product.from_dict(item).to_dict())
            where.append(i)
        except RowError as e:
            item_id = item.get("id") if isinstance(item, dict) else None
            results[i] = {"id": item_id if isinstance(item_id, str) else None,
                          "status": "rejected", "error": str(e)}
    if docs:
        for i, res in zip(where, svc.engine.add(docs), strict=True):
            results[i] = ({"id": res.id, "status": "written"} if res.ok else
                          {"id": res.id, "status": "rejected", "error": res.error})
        svc.refresh(force=True)
    written = [d for d, i in zip(docs, where, strict=True) if results[i]["status"] == "written"]
    PRODUCTS.labels("written").inc(len(written))
    PRODUCTS.labels("rejected").inc(len(items) - len(written))
    vectors = _fill_vectors(svc, written) if written else "none"
    status = 200 if len(written) == len(items) else 207
    return jsonify({"written": len(written), "rejected": len(items) - len(written),
                    "vectors": vectors, "items": results}), status


def _fill_vectors(svc: Services, docs: list[dict[str, Any]]) -> str:
    mode = svc.config["VECTORS"]
    if mode == "off":
        return "off: run 'hybrid encode' to compute them"
    from hybrid.ingest.runner import CeleryQueue, InProcess, dispatcher, plan_all

    index = str(svc.index)
    run = {"celery": CeleryQueue, "background": InProcess}.get(mode, dispatcher)(index)

    def submit() -> None:
        run.submit_all(plan_all(svc.engine, docs, warn=log.warning))

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


@bp.get("/products/<path:product_id>/image")
def product_image(product_id: str) -> Response:
    doc = _doc(product_id)
    images = doc.get("images") or []
    path = Path(str(images[0])) if images else None
    if path is None or path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
        raise NotFoundError(f"product {product_id!r} has no image file on this server")
    return send_file(path, max_age=3600)


@bp.get("/products/<path:product_id>")
def get_product(product_id: str) -> Response:
    doc = _doc(product_id)
    doc.pop("vectors", None)
    return jsonify(doc)


@bp.delete("/products/<path:product_id>")
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
