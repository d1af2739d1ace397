"""The public JSON API, `/api/v1`. Each domain adds its routes in its own `api.py`."""

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


from webapp.audit import api as _audit_api  # noqa: F401  (routes register on bp)
from webapp.gamenight import api as _gamenight_api  # noqa: F401
from webapp.processes import api as _processes_api  # noqa: F401
from webapp.worlds import api as _worlds_api  # noqa: F401
