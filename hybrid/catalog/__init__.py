"""Catalog: the Product model, source-field mappings, the rules rows are checked by,
media roots, and file loaders."""

from hybrid.catalog.loaders import iter_catalog
from hybrid.catalog.mapping import FieldMapping
from hybrid.catalog.media import MediaRoots
from hybrid.catalog.product import Product, RowError
from hybrid.catalog.rules import CatalogRules, LoadReport, Rejected, check_rows

__all__ = ["CatalogRules", "FieldMapping", "LoadReport", "MediaRoots", "Product", "Rejected",
           "RowError", "check_rows", "iter_catalog"]
