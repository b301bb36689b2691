"""Catalog: the Product model, source-field mappings and file loaders."""

from hybrid.catalog.loaders import LoadReport, Rejected, iter_catalog, iter_rows
from hybrid.catalog.mapping import FieldMapping
from hybrid.catalog.product import Product, RowError

__all__ = ["FieldMapping", "LoadReport", "Product", "Rejected", "RowError", "iter_catalog",
           "iter_rows"]
