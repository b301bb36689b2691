"""Fusion profiles over HTTP: list, read (any version), save a new version."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from hybrid.api import jsonbody
from hybrid.api.security import require_key
from hybrid.api.services import services
from hybrid.errors import HybridError, ProfileError
from hybrid.planner.profile import Profile
from hybrid.search.profiles import ProfileStore

bp = Blueprint("profiles", __name__)


@bp.get("/profiles")
def list_profiles() -> Response:
    """Each profile's name, versions, and the inputs its latest version's signals take
    (text, image, audio; product for products like a given one, session). A latest
    version that cannot be read (a damaged file) lists no inputs: one bad profile does
    not hide the others, and reading it by name says what is wrong."""
    store = services().profiles
    return jsonify({"profiles": [{"name": n, "versions": store.versions(n),
                                  "inputs": _inputs(store, n)} for n in store.names()]})


def _inputs(store: ProfileStore, name: str) -> list[str]:
    try:
        return sorted({s.input for s in store.get(name).signals})
    except HybridError:
        return []


@bp.get("/profiles/<name>")
def get_profile(name: str) -> Response:
    version = request.args.get("version")
    if version is not None and not version.isdigit():
        raise ProfileError("version must be a positive integer")
    return jsonify(services().profiles.get(name, int(version) if version else None).to_dict())


@bp.put("/profiles/<name>")
@require_key
def put_profile(name: str) -> tuple[Response, int]:
    body = jsonbody.loads(request.get_data())
    if not isinstance(body, dict):
        raise ProfileError("send the profile as a JSON object")
    if body.get("name", name) != name:
        raise ProfileError(f"the body names profile {body['name']!r}, the URL {name!r}")
    profile = Profile.from_dict(body | {"name": name, "version": 1})
    saved = services().profiles.save(profile)
    return jsonify(saved.to_dict()), 201
