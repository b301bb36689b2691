"""Similar products: a product's own stored vectors as the query vectors of a search.

A similar-products profile has "product" signals (`hybrid.planner.profile`): each
takes the product's stored vector in the field its encoder names (`stored:<field>`)
and searches a vector field with it; a BM25 signal searches with the product's title.
Everything else is a search's: fusion, filters, facets, paging and explain, through
`Searcher.search`, on any engine that implements `get_vectors` and filtered k-NN.
The product itself is excluded by a filter, so it is neither a hit nor counted in a
facet. A signal whose vector the product lacks is skipped, with the reason.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from hybrid.errors import NotFoundError
from hybrid.planner.plan import MAX_TEXT, SearchRequest
from hybrid.planner.profile import PRODUCT, Profile, stored_field


def similar_inputs(engine: Any, product_id: str, request: SearchRequest, profile: Profile
                   ) -> tuple[SearchRequest, dict[str, np.ndarray], dict[str, str]]:
    """(request to search with, signal -> query vector, signal -> why it cannot run).

    Raises NotFoundError when the engine has no product `product_id`."""
    doc = engine.get(product_id)
    if doc is None:
        raise NotFoundError(f"no product with id {product_id!r}")
    wanted = {s.name: stored_field(s) for s in profile.signals if s.input == PRODUCT}
    fields = sorted({f for f in wanted.values() if f and f in engine.schema.vector_fields})
    stored = engine.get_vectors([product_id], fields).get(product_id, {}) if fields else {}
    vectors: dict[str, np.ndarray] = {}
    unavailable: dict[str, str] = {}
    for name, source in wanted.items():
        if source in stored:
            vectors[name] = stored[source]
        else:
            unavailable[name] = f"product {product_id!r} has no {source} vector"
    exclude: dict[str, Any] = {"not": {"term": {"id": product_id}}}
    flt = {"and": [request.filter, exclude]} if request.filter else exclude
    title = str(doc.get("title") or "")[:MAX_TEXT].strip()
    return replace(request, text=title, similar_to=product_id, filter=flt), vectors, unavailable


def similar(searcher: Any, product_id: str, request: SearchRequest, profile: Profile
            ) -> dict[str, Any]:
    """A search response (as `Searcher.search`) of the products most like `product_id`,
    with `similar_to` naming it."""
    req, vectors, unavailable = similar_inputs(searcher.engine, product_id, request, profile)
    result = searcher.search(req, profile, vectors=vectors, unavailable=unavailable)
    return {"similar_to": product_id, **result}
