"""DELETE /users/<id> (key): forget a shopper. Their searches, events, sessions and
stored user vectors are removed from the event store (`EventStore.delete_user`);
answers with how many rows of each went. Deleting a user with nothing stored is not an
error (the request is idempotent). No route returns a user's vectors."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from hybrid.api.security import require_key
from hybrid.api.services import services
from hybrid.errors import QueryError

bp = Blueprint("users", __name__)


@bp.delete("/users/<id:user_id>")
@require_key
def delete_user(user_id: str) -> Response:
    if not 0 < len(user_id) <= 256:
        raise QueryError("a user id has 1 to 256 characters")
    deleted = services().events.delete_user(user_id)
    return jsonify({"user_id": user_id, "deleted": deleted})
