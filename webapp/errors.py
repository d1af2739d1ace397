"""Domain errors raised by services, and the one set of handlers that turns them into answers.

A service raises `Invalid`, `NotFound`, `Forbidden`, `Conflict` (…); the web layer answers a
full page, an htmx fragment or JSON depending on who asked. Every JSON error, a domain error's or werkzeug's own
(an unknown route, a wrong method, a body too large), has one shape::

    {"error": "not_found", "message": "There is nothing here. …", "details": {}}

`error` a snake_case code, `message` a sentence for a person, `details` an object (`{}` when there is nothing
more: for a 405 the allowed methods, for a 413 the limit, for a 415 the expected and the sent content type).
"""

from __future__ import annotations

import math
import re
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from webapp.extensions import db
from webapp.htmx import toast


class DomainError(Exception):
    """A refusal a person can act on; a subclass names its HTTP status and its default `code` in the class line
    (`class Gone(DomainError, status=410, code="gone")`), or as class attributes (a flow's own 409s)."""

    status = 400
    code = "bad_request"

    def __init_subclass__(cls, *, status: int | None = None, code: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status
        if code is not None:
            cls.code = code

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details

    @property
    def headers(self) -> dict[str, str]:
        """Headers the answer carries besides the body (a 429's `Retry-After`)."""
        return {}


# What a service says, and the status each becomes.
class BadRequest(DomainError, status=400, code="bad_request"): """The request cannot be read as asked."""
class Unauthorized(DomainError, status=401, code="unauthorized"): """No valid sign-in or token."""
class Forbidden(DomainError, status=403, code="forbidden"): """The role is too low for this."""
class NotFound(DomainError, status=404, code="not_found"): """Not there, or in another workspace."""
class Conflict(DomainError, status=409, code="conflict"): """The state changed, or a race was lost."""
class Gone(DomainError, status=410, code="gone"): """It was there and is withdrawn (an archived process)."""
class UnsupportedMediaType(DomainError, status=415, code="unsupported_media_type"): """A body not of the type read."""
class Invalid(DomainError, status=422, code="invalid"): """Readable, but breaks a rule."""
class DatabaseUnavailable(DomainError, status=503, code="database_unavailable"): """The database failed."""


class TooManyRequests(DomainError, status=429, code="too_many_requests"):
    """Throttled; try later: `retry_after` seconds, when known, is the answer's `Retry-After`."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = None if retry_after is None else max(1, math.ceil(retry_after))

    @property
    def headers(self) -> dict[str, str]:
        return {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}


LOST_RACE_SQLSTATES = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available
LOST_RACE_SQLITE = {"SQLITE_BUSY", "SQLITE_LOCKED"}
UNIQUE_VIOLATION = "23505"
SQLITE_UNIQUE = {"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"}


def lost_race(exc: DBAPIError) -> bool:
    """A write that lost to a concurrent one (a unique key taken first, a lock or serialization failure): a
    409 for the person to look again. Anything else (a lost connection, a full disk, a cancelled statement)
    is the database failing, not a conflict, and must not be answered as one."""
    if isinstance(exc, IntegrityError):  # a unique key taken first; a NOT NULL or foreign key failing is a bug
        orig = exc.orig
        return (getattr(orig, "sqlstate", None) == UNIQUE_VIOLATION
                or getattr(orig, "sqlite_errorname", None) in SQLITE_UNIQUE
                or str(orig).startswith("UNIQUE constraint failed"))
    if exc.connection_invalidated:
        return False
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in LOST_RACE_SQLSTATES:
        return True
    return getattr(orig, "sqlite_errorname", None) in LOST_RACE_SQLITE


NOTHING_CHANGED = "nothing was changed. Try again."


def database_failed(exc: DBAPIError, doing: str, outcome: str = NOTHING_CHANGED) -> DatabaseUnavailable:
    """The 503 for a write the database failed (not a lost race): what happened, and what became of the write."""
    what = "The database connection was lost" if exc.connection_invalidated else "The database failed"
    return DatabaseUnavailable(f"{what} during {doing}; {outcome}")


class OutcomeUnknown(Exception):
    """A call to the outside may have reached it (a timeout after sending, a reset, a 5xx): an outbox handler
    raises this so the effect is recorded `unknown` and never repeated (DESIGN.md rule 12). The message says
    what happened, never a URL or a target."""


def wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json" and not request.headers.get("HX-Request")
    )


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    if wants_json():
        response = jsonify({"error": code, "message": message, "details": {} if details is None else details})
    elif request.headers.get("HX-Request"):
        # Let htmx swap error fragments into the place that asked (see app.js).
        response = toast(Response(render_template("errors/_error.html", message=message, status=status)),
                         message, level="error")
    else:
        response = Response(
            render_template("errors/error.html", message=message, status=status, code=code)
        )
    response.status_code = status
    return response


HTTP_MESSAGES = {
    404: "There is nothing here. It may have been removed, or it belongs to another workspace.",
    405: "That method is not allowed here.",
    413: "The request is too large.",
}
_NOT_A_WORD = re.compile(r"[^a-z0-9]+")


def http_code(exc: HTTPException) -> str:
    """werkzeug's name of a status as a snake_case code: `Method Not Allowed` → `method_not_allowed`,
    `I'm a teapot` → `i_m_a_teapot`."""
    return _NOT_A_WORD.sub("_", exc.name.lower()).strip("_") or "http_error"


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Response:
        db.session.rollback()
        response = error_response(exc.status, exc.code, exc.message, exc.details)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Response:
        return error_response(400, "csrf_failed", f"The form expired or was not sent from this site ({exc.description}). Reload the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        details: dict[str, Any] = {}
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            details["allowed"] = sorted(exc.valid_methods)
        if status == 413 and app.config.get("MAX_CONTENT_LENGTH"):
            details["max_bytes"] = app.config["MAX_CONTENT_LENGTH"]
        response = error_response(status, http_code(exc), HTTP_MESSAGES.get(status, exc.description or exc.name),
                                  details)
        # werkzeug's own headers (a 405's Allow), less the content type of the HTML page it would have sent
        response.headers.update({k: v for k, v in exc.get_headers() if k.lower() != "content-type"})
        return response

    @app.errorhandler(DataError)
    def data_error(exc: DataError) -> Response:
        # A net under the input checks (webapp/inputs.py): a value the database refuses is bad input.
        db.session.rollback()
        app.logger.warning("database refused a value on %s %s: %s", request.method, request.path, exc.orig)
        return error_response(400, "bad_request", "A value in the request is out of range or contains "
                                                  "characters that cannot be stored.")

    @app.errorhandler(OperationalError)
    def connection_lost(exc: OperationalError) -> Response:
        if not exc.connection_invalidated:
            return unexpected_error(exc)
        db.session.rollback()
        app.logger.error("database connection lost on %s %s: %s", request.method, request.path, exc.orig)
        return error_response(503, DatabaseUnavailable.code, "The database connection was lost while answering "
                                                             "this request. Try again in a moment.")

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception) -> Response:
        db.session.rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "Something went wrong on our side; it has been logged.")
