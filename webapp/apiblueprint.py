"""The `/api/v1` blueprint every domain's api.py adds its routes to, and the JSON body readers they share.

Core, so that the domain APIs import it without importing webapp/api.py (the entry module that imports
every domain API once, so their routes are on the blueprint before create_app registers it).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from webapp import inputs
from webapp.errors import BadRequest

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def json_body(*, object_required: bool = True) -> Any:
    """The request's JSON body ({} when empty), or a 400 that says what was wrong with it."""
    data = request.get_data(cache=True)
    if not data.strip():
        return {}
    try:
        body = inputs.loads(data)
    except inputs.DocumentProblem as exc:  # parsed, but not storable: say where (`config.prompt`)
        raise BadRequest(f"The body cannot be used: {exc}.", details={"path": exc.path} if exc.path else None) \
            from None
    except ValueError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}.") from None
    if object_required and not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.")
    return body


def optional_str(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"'{name}' must be a string.")
    return value
