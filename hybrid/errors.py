"""One error hierarchy for the whole project, rooted in HybridError."""


class HybridError(Exception):
    """Base class of every error hybrid raises on purpose."""


class CatalogError(HybridError):
    """A catalog file or row cannot be read."""


class SchemaError(HybridError):
    """The index mapping is invalid or uses something the engine does not support."""


class QueryError(HybridError):
    """A search request is malformed (bad field, size, vector, ...)."""


class NoSignalError(QueryError):
    """No signal of the profile can answer the query (e.g. a photo on an index that has
    no image vectors)."""


class FilterError(QueryError):
    """A filter or facet request is malformed."""


class EngineError(HybridError):
    """The engine failed to read or write the index."""


class NotFoundError(HybridError):
    """A document, index or named thing does not exist."""


class ProfileError(QueryError):
    """A fusion profile is malformed (unknown signal, normaliser, weight, ...)."""


class InputError(QueryError):
    """A query's image or audio cannot be used (format, size, length, fetching)."""


class TooLargeError(InputError):
    """An upload or request goes over a configured limit."""


class AuthError(HybridError):
    """The request lacks a valid API key for a protected operation."""


class UnsupportedMediaError(InputError):
    """An upload is in a format the server does not take."""


class StoredDataError(HybridError):
    """A document the server keeps beside the index (a saved fusion profile or
    experiment) cannot be read or is not valid: the server's fault, not the request's
    (HTTP 500). Restore the file, or save a new version over it."""


class UnavailableError(HybridError):
    """No part that the request needs can run now (every signal of a query failed)."""
