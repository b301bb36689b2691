"""The embedded engine: one folder on disk, no server."""

from hybrid.engines.embedded.engine import EmbeddedEngine

__all__ = ["EmbeddedEngine"]
