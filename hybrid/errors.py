"""One error hierarchy for the whole project, rooted in HybridError."""


class HybridError(Exception):
    """Base class of every error hybrid raises on purpose."""


class CatalogError(HybridError):
    """A catalog file or row cannot be read."""


class SchemaError(HybridError):
    """The index mapping is invalid or uses something the engine does not support."""


class QueryError(HybridError):
    """A search request is malformed (bad field, size, vector, ...)."""


class FilterError(QueryError):
    """A filter or facet request is malformed."""


class EngineError(HybridError):
    """The engine failed to read or write the index."""


class NotFoundError(HybridError):
    """A document, index or named thing does not exist."""
