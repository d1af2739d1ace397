"""What every request's input passes before a service sees it: ids and numbers within what the
database stores, whole numbers written in ASCII digits, text without NUL characters or lone UTF-16
surrogates, JSON that is finite and not absurdly deep, time zones that are zones.

Bad input is answered with a 400/404/422 that says what was wrong, never a 500 from deep inside a
driver (SQLite refuses integers over 64 bits, PostgreSQL text refuses NUL, a 100,000-deep JSON
array exhausts the parser's recursion, `int()` refuses more than 4,300 digits and reads '²' as a
digit for `isdigit()` only, a lone surrogate cannot be encoded as UTF-8 on the way out).
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Any
from zoneinfo import available_timezones

from flask import Flask, request
from werkzeug.routing import IntegerConverter

from webapp.errors import BadRequest

MAX_ID = 2**63 - 1  # BIGINT; SQLite's INTEGER is the same size
MAX_DEPTH = 64  # nesting of a config or schema: deep enough for any real one, far from the recursion limit
_WHOLE = re.compile(r"\s*([+-]?)([0-9]+)\s*")  # ASCII only: str.isdigit() and int() also take '²' or '٣'
_SURROGATE = re.compile("[\ud800-\udfff]")  # in a str, every surrogate is a lone one
_MAX_DIGITS = 30  # far beyond any bound we check, far below int()'s 4,300-digit limit


class IdConverter(IntegerConverter):
    """`<int:…>` in every route: at most 18 digits, so always a number the database can hold, or the
    route does not match (404). (A `max` would answer 405 where a rule for another method exists.)"""

    regex = r"[0-9]{1,18}"  # ASCII only: \d also matches other scripts' digits


def as_whole_number(value: Any) -> int | None:
    """`value` as an int when it is one (not a bool) or text of ASCII digits with an optional sign, at most
    30 digits; None for anything else (a float, '1e9', '²', a 5,000-digit number)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _WHOLE.fullmatch(value) if isinstance(value, str) else None
    if match is None or len(match.group(2)) > _MAX_DIGITS:
        return None
    return int(match.group(1) + match.group(2))


def whole_number(raw: str | None, name: str, *, default: int | None = None, minimum: int = 1,
                 maximum: int = MAX_ID) -> int:
    """A query or form value as an int in [minimum, maximum]; 400 naming the parameter otherwise."""
    if raw is None or raw.strip() == "":
        if default is not None:
            return default
        raise BadRequest(f"'{name}' is required.")
    value = as_whole_number(raw)
    if value is None and _WHOLE.fullmatch(raw) is None:
        raise BadRequest(f"'{name}' must be a whole number.")
    if value is None or not minimum <= value <= maximum:  # None: more digits than any bound
        raise BadRequest(f"'{name}' must be between {minimum} and {maximum}.")
    return value


def optional_whole_number(raw: str | None, name: str) -> int | None:
    """Like `whole_number`, but a missing or empty value is None."""
    return None if raw is None or raw.strip() == "" else whole_number(raw, name)


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored or sent back (PostgreSQL refuses NUL; UTF-8 has no lone surrogates)."""
    if "\x00" in text:
        return "may not contain NUL characters"
    if _unencodable(text):
        return "may not contain a lone UTF-16 surrogate (such as \\ud800)"
    return None


def displayable(text: str) -> str:
    """`text` with each lone surrogate shown as U+FFFD: what a page shows of data stored before the checks."""
    return _SURROGATE.sub("\ufffd", text)


def _unencodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


class DocumentProblem(ValueError):
    """JSON that parsed but cannot be used; `path` names where (`config.prompt`, `rooms[0].name`)."""

    def __init__(self, problem: str, path: str = "") -> None:
        super().__init__(f"at {path}: {problem}" if path else problem)
        self.problem = problem
        self.path = path


def loads(text: str | bytes, path: str = "") -> Any:
    """Strict JSON: NaN and Infinity refused, nesting bounded, text storable. ValueError says what is wrong
    (a `DocumentProblem` names where, under `path`)."""
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise DocumentProblem(f"nested deeper than {MAX_DEPTH} levels", path) from None
    found = _find_problem(value, path)
    if found:
        raise DocumentProblem(*found)
    return value


def document_problem(value: Any, path: str = "") -> str | None:
    """Why `value` cannot be stored and served back as JSON, or None; the message names where."""
    found = _find_problem(value, path)
    return None if found is None else str(DocumentProblem(*found))


def _step(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    shown = key if key.isidentifier() and key.isascii() else json.dumps(key)  # json.dumps escapes surrogates
    return f"{path}.{shown}" if path else shown


def _find_problem(value: Any, path: str = "") -> tuple[str, str] | None:
    """(problem, path) for the first thing in `value` that cannot be stored, or None. Iterative: no recursion."""
    stack = [(value, 1, path)]
    while stack:
        node, depth, where = stack.pop()
        if depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels", where
        if isinstance(node, float) and not math.isfinite(node):
            return "numbers must be finite (no NaN, Infinity or values beyond ±1.8e308)", where
        if isinstance(node, str):
            problem = text_problem(node)
            if problem:
                return f"text {problem}", where
        if isinstance(node, dict):
            for key in node:
                problem = text_problem(key) if isinstance(key, str) else None
                if problem:
                    return f"a key {problem}", _step(where, key)
            stack.extend((v, depth + 1, _step(where, str(k))) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((v, depth + 1, _step(where, i)) for i, v in reversed(list(enumerate(node))))
    return None


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def zone_name(value: Any, name: str = "time_zone") -> str:
    """An IANA time zone name that zoneinfo can load (Europe/Ljubljana); 400 naming the field otherwise.
    Checked against the zone list, not by opening a file: 'America' is a directory, 'Europe/Paris/x' a path
    under a file, 5,000 digits a name too long for the file system."""
    text = value.strip() if isinstance(value, str) else None
    if text not in _zones():
        shown = json.dumps(value if isinstance(value, str) else str(value))[:60]
        raise BadRequest(f"'{name}': {shown} is not a time zone; use an IANA name such as Europe/Ljubljana.",
                         details={name: "an IANA time zone name"})
    return text


def _reject_unstorable_text() -> None:
    """PostgreSQL text cannot hold NUL and UTF-8 no lone surrogate; no form, path or query has a reason to
    send either."""
    problem = text_problem(request.path)
    if problem:
        raise BadRequest(f"The address {problem}.")
    fields = [("query parameter", request.args)]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        fields.append(("form field", request.form))
    for what, values in fields:
        for key, value in values.items(multi=True):
            problem = text_problem(key) or text_problem(value)
            if problem:
                raise BadRequest(f"The {what} {json.dumps(key)[:60]} {problem}.",
                                 details={displayable(key)[:60]: problem})


def _displayable_output(value: Any) -> Any:
    """Jinja's finalize: every value a template prints passes here, so a page shows data stored before the
    checks (a lone surrogate) as U+FFFD instead of failing to encode."""
    return type(value)(displayable(value)) if isinstance(value, str) and _unencodable(value) else value


def init_inputs(app: Flask) -> None:
    """Before any blueprint registers its routes: the bounded `int` converter, the text check, and pages that
    print unencodable text safely."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(_reject_unstorable_text)
    app.jinja_env.finalize = _displayable_output
