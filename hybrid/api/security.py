"""API keys for writes, profile changes and admin endpoints: `Authorization: Bearer
<key>` or `X-API-Key: <key>`, compared in constant time. With no key configured
(HYBRID_API_KEY unset) every protected endpoint is refused: a server is read-only
until someone chooses a key."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, request

from hybrid.errors import AuthError

F = TypeVar("F", bound=Callable[..., Any])


def presented_key() -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("X-API-Key")


def require_key(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        wanted = current_app.config.get("API_KEY")
        if not wanted:
            raise AuthError("this server has no API key configured (set HYBRID_API_KEY), "
                            "so writes and admin endpoints are disabled")
        given = presented_key()
        if not given:
            raise AuthError("this endpoint needs an API key: send 'Authorization: Bearer "
                            "<key>' or 'X-API-Key: <key>'")
        if not hmac.compare_digest(given.encode(), str(wanted).encode()):
            raise AuthError("the API key is not valid")
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
