"""Typed commands: the pydantic v2 models that a form or a JSON body becomes before a service sees it,
the field types every command shares, and `parse`, which turns pydantic's ValidationError into the
project's own 400/422 answers with field paths (`config.prompt`, `rooms[0].name`).

One model serves the HTML form and the JSON API::

    from webapp.commands import Command, Line, parse, from_form, from_json, whole

    class CreateProcess(Command):
        name: Line = ""                      # the service answers 422 for an empty name, as before
        slug: Line | None = None
        lead_minutes: whole(0, 240) = 15     # ASCII digits only, bools and floats refused, 400 out of range

    command = from_json(CreateProcess)       # API view: the request's JSON body (strict: NaN, depth, NUL)
    command = from_form(CreateProcess)       # HTML view: request.form (checkboxes, repeated fields)
    command = parse(CreateProcess, {"name": "Triage"})   # anywhere else (CLI, seeds, tests)

What a client sees for a command that does not validate (the JSON shape of webapp/errors.py)::

    400 {"error": "bad_request", "message": "'rooms[0].name' must be a string.",
         "details": {"rooms[0].name": "must be a string"}}

Wrong shapes (a missing field, a wrong type, an unknown field of a model that forbids them, a value
not among the choices, a number out of range) are 400 `bad_request`, as the hand-written checks
answered before; a value of the right type that breaks a rule (too long, a custom `ValueError`) is
422 `invalid`. A validator picks the status itself by raising `bad_request("…")` or `invalid("…")`.

Models ignore unknown fields unless they say `model_config = ConfigDict(extra="forbid")`; forms
never pass unknown fields on (the CSRF token, the submit button), so one model serves both.
"""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

from flask import request
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
)
from pydantic_core import PydanticCustomError
from werkzeug.datastructures import MultiDict

from webapp import inputs
from webapp.apiblueprint import json_body
from webapp.errors import BadRequest, DomainError, Invalid

M = TypeVar("M", bound=BaseModel)
Source = Literal["json", "form", "query"]

# Error types that mean "not the shape asked for": answered 400, as the hand-written checks did.
_SHAPE_ERRORS = frozenset({"missing", "extra_forbidden", "literal_error", "enum", "int_from_float", "bad_request",
                           "union_tag_invalid", "union_tag_not_found", "is_instance_of", "json_invalid"})
_FALSE = frozenset({"", "0", "false", "off", "no"})


class Command(BaseModel):
    """The base of every typed command: immutable once parsed, unknown fields ignored (a model that
    must refuse them sets `extra="forbid"`), no coercion of numbers into text."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


def bad_request(message: str) -> PydanticCustomError:
    """Raise from a validator for a 400 naming the field: `raise bad_request("must be a whole number")`."""
    return PydanticCustomError("bad_request", message)


def invalid(message: str) -> PydanticCustomError:
    """Raise from a validator for a 422 naming the field: `raise invalid("has passed")`."""
    return PydanticCustomError("invalid", message)


# -- field types -------------------------------------------------------------------------------


def _storable(value: str) -> str:
    problem = inputs.text_problem(value)
    if problem:
        raise bad_request(problem)
    return value


_DIGITS = re.compile(r"\s*[+-]?[0-9]+\s*")  # ASCII digits only, as inputs.as_whole_number reads them


def _whole(low: int, high: int) -> Any:
    def check(value: Any) -> int:
        number = inputs.as_whole_number(value)
        if number is None and not (isinstance(value, str) and _DIGITS.fullmatch(value)):
            raise bad_request("must be a whole number")
        if number is None or not low <= number <= high:  # None: more digits than any bound
            raise bad_request(f"must be between {low} and {high}")
        return number

    return BeforeValidator(check)


def whole(minimum: int = 1, maximum: int = inputs.MAX_ID) -> Any:
    """A whole number in [minimum, maximum]: an int (not a bool, not a float) or ASCII digits with an optional
    sign (forms and query strings send text); '²', '1e3' and 5,000 digits are refused. 400 outside the range,
    worded as `inputs.whole_number` words it."""
    return Annotated[int, Field(ge=minimum, le=maximum), _whole(minimum, maximum)]


Text = Annotated[str, Strict(), AfterValidator(_storable)]
"""Text as sent (whitespace kept): a JSON string, never a number; no NUL, no lone surrogate (400)."""

Line = Annotated[str, Strict(), StringConstraints(strip_whitespace=True), AfterValidator(_storable)]
"""One line of text, stripped at both ends: names, slugs, reasons."""

Flag = Annotated[bool, Strict()]
"""JSON `true`/`false` only (1 and "yes" are refused); a form's checkbox is True when it is sent."""

Id = whole(1, inputs.MAX_ID)
"""A row id: a whole number the database can hold."""


def _zone(value: Any) -> str:
    text = value.strip() if isinstance(value, str) else None
    try:
        return inputs.zone_name(value)
    except BadRequest:
        shown = json.dumps(text if text is not None else str(value))[:60]
        raise bad_request(f"{shown} is not a time zone; use an IANA name such as Europe/Ljubljana") from None


ZoneName = Annotated[str, Strict(), BeforeValidator(_zone), Field(examples=["Europe/Ljubljana"])]
"""An IANA time zone name that zoneinfo can load, checked against the zone list (400 otherwise)."""

JsonObject = dict[str, Any]
"""A JSON object whose values the service checks itself (a config, a JSON Schema)."""


# -- parsing -----------------------------------------------------------------------------------


def from_json(model: type[M]) -> M:
    """The request's JSON body as `model`: strict JSON first (`apiblueprint.json_body`: no NaN, bounded depth,
    storable text, an empty body is `{}`), then the model."""
    return parse(model, json_body(), source="json")


def from_form(model: type[M]) -> M:
    """The request's form as `model`."""
    return parse(model, request.form, source="form")


def from_query(model: type[M]) -> M:
    """The request's query string as `model`."""
    return parse(model, request.args, source="query")


def parse(model: type[M], data: Any, *, source: Source = "json") -> M:
    """`data` as `model`, or the project's 400/422 (`BadRequest`/`Invalid`) naming each field that is wrong.

    `source="form"` or `"query"` reads a MultiDict: list fields take every value of a repeated field, a bool
    field is True when its checkbox was sent, an empty value of a field that is not text counts as not sent."""
    if source != "json" or isinstance(data, MultiDict):
        data = form_values(model, data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise command_error(exc) from None


def form_values(model: type[BaseModel], form: Any) -> dict[str, Any]:
    """A form's (or query string's) fields as the dict `model` validates: only the fields it declares."""
    values: dict[str, Any] = {}
    getlist = form.getlist if hasattr(form, "getlist") else (lambda key: [form[key]] if key in form else [])
    for name, field in model.model_fields.items():
        key = field.validation_alias if isinstance(field.validation_alias, str) else field.alias or name
        sent = getlist(key)
        kind = _kind(field.annotation)
        if kind == "list":
            if sent:
                values[key] = [v for v in sent if v != ""]
        elif kind == "bool":
            values[key] = bool(sent) and sent[-1].strip().lower() not in _FALSE
        elif sent and (sent[-1] != "" or kind == "text"):
            values[key] = sent[-1]
    return values


def _kind(annotation: Any) -> str:
    """'list', 'bool', 'text' or 'other' for a field's annotation (None and Annotated stripped)."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = options[0] if len(options) == 1 else object
        while typing.get_origin(annotation) is Annotated:
            annotation = typing.get_args(annotation)[0]
    origin = typing.get_origin(annotation) or annotation
    if origin in (list, tuple, set, frozenset):
        return "list"
    if annotation is bool:
        return "bool"
    return "text" if annotation is str else "other"


def field_path(loc: tuple[str | int, ...]) -> str:
    """pydantic's location as the project writes paths: `rooms[0].name`, `config."a key"`."""
    path = ""
    for key in loc:
        if isinstance(key, int):
            path += f"[{key}]"
        else:
            shown = key if key.isidentifier() and key.isascii() else json.dumps(key)
            path = f"{path}.{shown}" if path else shown
    return path


def command_error(exc: ValidationError) -> DomainError:
    """A ValidationError as one `BadRequest` (any wrong shape) or `Invalid` (only broken rules), whose message
    names every field and whose `details` maps each field path to what is wrong with it."""
    details: dict[str, str] = {}
    unknown: list[str] = []
    shape = False
    for error in exc.errors(include_url=False):
        kind = error["type"]
        path = field_path(tuple(error["loc"]))
        shape = shape or kind in _SHAPE_ERRORS or kind.endswith(("_type", "_parsing"))
        if kind == "extra_forbidden":
            unknown.append(path)
            details[path] = "unknown field"
        elif not path:
            return BadRequest(f"The body {_problem(error)}.")
        else:
            details.setdefault(path, _problem(error))
    parts = [f"'{path}' {problem}" for path, problem in details.items() if path not in unknown]
    if unknown:
        parts.append(f"Unknown field(s): {', '.join(sorted(unknown))}")
    message = "; ".join(parts) + "."
    return BadRequest(message, details=details) if shape else Invalid(message, details=details)


_PROBLEMS = {
    "missing": "is required",
    "string_type": "must be a string",
    "int_type": "must be a whole number", "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number", "float_parsing": "must be a number",
    "bool_type": "must be true or false", "bool_parsing": "must be true or false",
    "dict_type": "must be a JSON object", "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "list_type": "must be a list", "tuple_type": "must be a list", "set_type": "must be a list",
    "date_type": "must be a date (YYYY-MM-DD)", "date_parsing": "must be a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "must be a date (YYYY-MM-DD)",
    "time_type": "must be a time (HH:MM)", "time_parsing": "must be a time (HH:MM)",
    "datetime_type": "must be a date and time (ISO 8601)", "datetime_parsing": "must be a date and time (ISO 8601)",
}


def _problem(error: Mapping[str, Any]) -> str:
    """What is wrong, worded to follow a field name: "'name' must be a string"."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in _PROBLEMS:
        return _PROBLEMS[kind]
    if kind in ("literal_error", "enum"):
        return f"must be {ctx.get('expected', 'one of the listed values')}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "string_too_long":
        return f"must have at most {ctx['max_length']} characters"
    if kind == "string_too_short":
        return f"must have at least {ctx['min_length']} characters"
    if kind in ("too_long", "too_short"):
        return error["msg"].replace("should have", "must have").replace("List", "it").replace("Value", "it")
    message: str = error["msg"]
    return message[0].lower() + message[1:] if kind in ("bad_request", "invalid") else \
        message.replace("Input should", "should").replace("Value error, ", "")
