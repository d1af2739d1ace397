"""The `/api/v1` blueprint every domain's api.py adds its routes to, and the JSON body readers they share.

Core, so that the domain APIs import it without importing webapp/api.py (the entry module that imports
every domain API once, so their routes are on the blueprint before create_app registers it).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from webapp import inputs
from webapp.errors import BadRequest, UnsupportedMediaType

bp = Blueprint("api", __name__, url_prefix="/api/v1")

JSON = "application/json"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def json_body(*, object_required: bool = True) -> Any:
    """The request's JSON body ({} when empty), or a 400 that says what was wrong with it.

    A body sent without a JSON content type (`application/json`, with any charset, or `application/*+json`) is
    a 415 naming the one expected, before anything is read from it: a form or a text body is not a JSON body that
    happens to be empty. No body at all is `{}` whatever the content type says, so a route whose body is optional
    (an approval's comment) takes a bare POST. Routes that read no body never call this, and ignore one."""
    data = request.get_data(cache=True)  # b"" for a form: the app-wide text check has parsed it already
    sent = bool(data) or bool(request.content_length) or (request.mimetype in FORM_TYPES and
                                                          bool(request.form or request.files))
    if sent and not request.is_json:
        got = request.mimetype or None
        raise UnsupportedMediaType(f"Send the body as JSON (Content-Type: {JSON}).",
                                   details={"expected": JSON, "got": got})
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
