"""A shop's "existing" keyword search, for tests and benchmarks: an OpenSearch index with
its own mapping (not hybrid's), filled from shared-catalog rows, and its BM25 search
template (mustache text, so the filters go in as JSON)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

SOURCE_MAPPING: dict[str, Any] = {
    "settings": {"number_of_shards": 2, "analysis": {"analyzer": {
        "shop_text": {"type": "standard", "stopwords": "_english_"}}}},
    "mappings": {"dynamic": "strict", "properties": {
        "sku": {"type": "keyword"}, "name": {"type": "text", "analyzer": "shop_text"},
        "blurb": {"type": "text", "analyzer": "shop_text"}, "category": {"type": "keyword"},
        "gender": {"type": "keyword"}, "usage": {"type": "keyword"},
        "cost": {"type": "float"},
        "specs": {"properties": {"colour": {"type": "keyword"},
                                 "season": {"type": "keyword"}}}}}}
TEMPLATE = ('{"size": {{size}}, "_source": ["sku"], "query": {"bool": {"must": {'
            '"multi_match": {"query": "{{query}}", "fields": ["name^2", "blurb", "category"]}},'
            ' "filter": {{#toJson}}filters{{/toJson}}}}}')


def source_doc(row: Mapping[str, Any]) -> dict[str, Any]:
    """A shared-catalog row as the shop's index holds it."""
    return {"sku": row["product_id"], "name": row["title"],
            "blurb": f"{row['title']}. {row.get('usage', '')} wear for {row.get('season', '')}.",
            "category": [row[k] for k in ("master_category", "sub_category", "article_type")
                         if row.get(k)],
            "gender": row.get("gender"), "usage": row.get("usage"),
            "cost": round(10 + len(row["title"]) * 1.5, 2),
            "specs": {"colour": row.get("colour"), "season": row.get("season")}}


def create_source(client: Any, index: str, rows: Iterable[Mapping[str, Any]]) -> int:
    """Create the shop's index and bulk-load the rows (`_id` "doc-<product id>", not the
    product id: hybrid finds its ids in `sku`). Returns the documents written."""
    from opensearchpy.helpers import bulk

    client.indices.create(index=index, body=SOURCE_MAPPING)
    written, _ = bulk(client, ({"_index": index, "_id": f"doc-{r['product_id']}",
                                "_source": source_doc(r)} for r in rows), chunk_size=500)
    client.indices.refresh(index=index)
    return int(written)


def profiles(index: str, connection: str = "shop") -> dict[str, dict[str, Any]]:
    """"old": the shop's template alone; "hybrid": hybrid's BM25 and text vectors."""
    template = {"connection": connection, "index": index, "source": TEMPLATE,
                "id_field": "sku"}
    return {"old": {"name": "old", "signals": [{"kind": "template", "name": "old",
                                                "template": template}]},
            "hybrid": {"name": "hybrid", "signals": [
                {"name": "bm25", "kind": "lexical", "weight": 0.5},
                {"name": "text:text_vector", "kind": "knn", "field": "text_vector",
                 "encoder": "e5-small", "weight": 0.5}]}}
