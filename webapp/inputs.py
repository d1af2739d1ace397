"""What every request's input passes before a service sees it: ids and numbers within what the
database stores, text without NUL characters, JSON that is finite and not absurdly deep.

Bad input is answered with a 400/404/422 that says what was wrong, never a 500 from deep inside a
driver (SQLite refuses integers over 64 bits, PostgreSQL text refuses NUL, a 100,000-deep JSON
array exhausts the parser's recursion).
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask import Flask, request
from werkzeug.routing import IntegerConverter

from webapp.errors import BadRequest

MAX_ID = 2**63 - 1  # BIGINT; SQLite's INTEGER is the same size
MAX_DEPTH = 64  # nesting of a config or schema: deep enough for any real one, far from the recursion limit


class IdConverter(IntegerConverter):
    """`<int:…>` in every route: at most 18 digits, so always a number the database can hold, or the
    route does not match (404). (A `max` would answer 405 where a rule for another method exists.)"""

    regex = r"\d{1,18}"


def whole_number(raw: str | None, name: str, *, default: int | None = None, minimum: int = 1,
                 maximum: int = MAX_ID) -> int:
    """A query or form value as an int in [minimum, maximum]; 400 naming the parameter otherwise."""
    if raw is None or raw.strip() == "":
        if default is not None:
            return default
        raise BadRequest(f"'{name}' is required.")
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"'{name}' must be a whole number.") from None
    if not minimum <= value <= maximum:
        raise BadRequest(f"'{name}' must be between {minimum} and {maximum}.")
    return value


def optional_whole_number(raw: str | None, name: str) -> int | None:
    """Like `whole_number`, but a missing or empty value is None."""
    return None if raw is None or raw.strip() == "" else whole_number(raw, name)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def loads(text: str | bytes) -> Any:
    """Strict JSON: NaN and Infinity refused, nesting bounded. ValueError says what is wrong."""
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    problem = document_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def document_problem(value: Any) -> str | None:
    """Why `value` cannot be stored and served back as JSON, or None (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(node, float) and not math.isfinite(node):
            return "numbers must be finite (no NaN, Infinity or values beyond ±1.8e308)"
        if isinstance(node, str) and "\x00" in node:
            return "text may not contain NUL characters"
        if isinstance(node, dict):
            if any("\x00" in k for k in node):
                return "text may not contain NUL characters"
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return None


def _reject_nul() -> None:
    """PostgreSQL text cannot hold NUL; no form, path or query has a reason to send one."""
    if "\x00" in request.path or any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)):
        raise BadRequest("The address contains a NUL character.")
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data") and any(
        "\x00" in k or "\x00" in v for k, v in request.form.items(multi=True)
    ):
        raise BadRequest("The form contains a NUL character.")


def init_inputs(app: Flask) -> None:
    """Before any blueprint registers its routes: the bounded `int` converter, and the NUL check."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(_reject_nul)
