"""The HTTP search service (Flask): `create_app`, served by `hybrid serve` (gunicorn)."""

from hybrid.api.app import create_app

__all__ = ["create_app"]
