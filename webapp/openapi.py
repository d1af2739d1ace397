"""What each `/api/v1` route takes and answers (`@documented`), and the OpenAPI 3.1 document built from the
app's routes and those docs (`build(app)`, served at GET /api/v1/openapi.json by webapp/api.py).

Why a thin generator over pydantic's JSON Schema and not spectree or flask-openapi3: those bring a second
routing layer (their own blueprint class, their own validation and error answers), and the app already
has its blueprints, its typed commands (webapp/commands.py) and one set of error handlers
(webapp/errors.py). Here a route stays a plain Flask view; the decorator only records what the route
takes and answers, and `build` reads the routes themselves from `app.url_map` (paths, methods, path
parameters from the converters), so the document cannot list a route that does not exist, and a test
fails on a route without docs::

    @bp.post("/processes")
    @documented("Create a process", body=CreateProcess, responses={201: ProcessOut, 409: "the slug is taken"})
    def create_process(): ...

Responses: a pydantic model or any type pydantic can describe (`list[ProcessOut]`), a JSON Schema dict, a
`Reply` (other content types, headers), or for an error status a string: its description, with the shared
error schema `{"error", "message", "details"}`. 400, 401, 403 and 404 are added where they apply, and 413 and 415
to every route that takes a body.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from flask import Flask
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema
from werkzeug.routing import IntegerConverter, Rule

PREFIX = "/api/v1"
Auth = Literal["personal", "environment", "bot"]
F = TypeVar("F", bound=Callable[..., Any])

SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "personal": {"type": "http", "scheme": "bearer", "bearerFormat": "personal access token",
                 "description": "A personal access token (Settings → Tokens, or `flask create-token`): acts as its "
                                "user in one workspace, with that user's role there."},
    "environment": {"type": "http", "scheme": "bearer", "bearerFormat": "environment key",
                    "description": "An environment key (`sandbox` or `production`; Settings → Keys, or `flask "
                                   "create-key`): reads the serving API of one workspace."},
    "bot": {"type": "http", "scheme": "bearer", "bearerFormat": "bot token (pdb_…)",
            "description": "A workspace's bot token (`pdb_…`): chat bots link identities, set availability and "
                           "report presence."},
}
SCHEME_NAMES = {"personal": "personalToken", "environment": "environmentKey", "bot": "botToken"}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object", "title": "Error", "required": ["error", "message", "details"], "additionalProperties": False,
    "properties": {
        "error": {"type": "string", "pattern": "^[a-z0-9]+(_[a-z0-9]+)*$",
                  "description": "A stable snake_case code: `bad_request`, `invalid`, `not_found`, "
                                 "`unsupported_media_type`, …"},
        "message": {"type": "string", "description": "What was wrong, for a person."},
        "details": {"type": "object", "description": "Where and what, `{}` when there is nothing more: for a typed "
                                                     "command, each field path (`config.prompt`, `rooms[0].name`) "
                                                     "mapped to its problem; for a 409, the fresh preview; for a "
                                                     "415, the `expected` and the sent (`got`) content type."},
    },
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_DEFAULT_ERRORS = {400: "The request cannot be used: a parameter or body field is missing, of the wrong type or "
                        "out of range (`details` names each field).",
                   401: "No token, or a token that is unknown, revoked or of the wrong kind.",
                   403: "The token's role is too low for this.",
                   404: "Not found in the token's workspace.",
                   409: "A conflict: someone changed it first, or it is not in a state that allows this.",
                   413: "The body is larger than the server takes (`details.max_bytes`).",
                   415: "The body was not sent as JSON: send it with `Content-Type: application/json` "
                        "(`details.expected`, `details.got`). A request without a body needs no content type.",
                   422: "The values are well-formed but break a rule (`details` names each field)."}


@dataclass(frozen=True)
class Reply:
    """A response other than one JSON body: several content types, headers, or no body (`content={}`)."""

    description: str = ""
    content: Mapping[str, Any] | None = None  # content type → type or JSON Schema; None: application/json of `schema`
    schema: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)  # name → description


@dataclass(frozen=True)
class Doc:
    summary: str
    description: str | None
    body: Any
    body_required: bool
    query: type[BaseModel] | None
    responses: Mapping[int, Any]
    auth: tuple[Auth, ...]
    tags: tuple[str, ...]


def documented(summary: str, *, description: str | None = None, body: Any = None, body_required: bool | None = None,
               query: type[BaseModel] | None = None, responses: Mapping[int, Any] | None = None,
               auth: Auth | tuple[Auth, ...] | None = "personal", tags: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Record what an API view takes and answers; the view itself is returned unchanged (above or below the
    route decorator alike). `summary` may name the defaults of a rule that has some (`"{action} a build"`). `auth` is the kind of
    bearer token the route takes (a tuple: any of them), None for none. `body_required` defaults to whether
    the body model has a required field."""
    kinds: tuple[Auth, ...] = () if auth is None else (auth,) if isinstance(auth, str) else tuple(auth)

    def mark(view: F) -> F:
        view.__openapi__ = Doc(summary, description if description is not None else _docstring(view), body,  # type: ignore[attr-defined]
                               _body_required(body) if body_required is None else body_required, query,
                               dict(responses or {200: Reply("OK", schema={})}), kinds,
                               tags or (_module_tag(view),))
        return view

    return mark


def _docstring(view: Callable[..., Any]) -> str | None:
    return " ".join(view.__doc__.split()) if view.__doc__ else None


def _module_tag(view: Callable[..., Any]) -> str:
    parts = view.__module__.split(".")  # webapp.processes.api → processes
    return parts[1] if len(parts) > 2 else "api"


def _body_required(body: Any) -> bool:
    if isinstance(body, type) and issubclass(body, BaseModel):
        return any(f.is_required() for f in body.model_fields.values())
    return body is not None


def doc_of(app: Flask, rule: Rule) -> Doc | None:
    return getattr(app.view_functions.get(rule.endpoint), "__openapi__", None)


def api_rules(app: Flask) -> list[Rule]:
    """Every rule of the JSON API, in the order they were added."""
    return [r for r in app.url_map.iter_rules() if r.rule == PREFIX or r.rule.startswith(PREFIX + "/")]


def undocumented(app: Flask) -> list[str]:
    """`METHOD /path` of every API route without `@documented`: what a new route still lacks."""
    return [f"{method} {rule.rule}" for rule in api_rules(app) if doc_of(app, rule) is None
            for method in _methods(rule)]


def _methods(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


_ARGUMENT = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def _path_parameters(rule: Rule) -> list[dict[str, Any]]:
    parameters = []
    for name, converter in rule._converters.items():  # werkzeug keeps each argument's converter here
        if isinstance(converter, IntegerConverter):
            schema: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}
        else:
            schema = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return parameters


class _Generate(GenerateJsonSchema):
    """pydantic's JSON Schema, less the defaults that are validated like sent values (`Field("",
    validate_default=True)`, a field a service wants named in a 400 when it is missing): such a default is no
    value a client may rely on, and a document must not offer a default its own schema refuses."""

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        if schema.get("validate_default"):
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)


class _Schemas:
    """Every type the docs name, described by pydantic in one pass (so two models never share a component name)."""

    def __init__(self) -> None:
        self._wanted: dict[tuple[int, str], tuple[str, TypeAdapter[Any]]] = {}
        self.resolved: dict[tuple[int, str], dict[str, Any]] = {}
        self.components: dict[str, Any] = {"Error": ERROR_SCHEMA}

    def want(self, kind: Any, mode: Literal["validation", "serialization"]) -> None:
        if kind is not None and not isinstance(kind, dict):
            self._wanted.setdefault((id(kind), mode), (mode, TypeAdapter(kind)))

    def resolve(self) -> None:
        if not self._wanted:
            return
        keys = list(self._wanted)
        found, definitions = TypeAdapter.json_schemas(
            [(key, mode, adapter) for key, (mode, adapter) in self._wanted.items()],
            ref_template="#/components/schemas/{model}", schema_generator=_Generate)
        self.components.update(definitions.get("$defs", {}))
        for key in keys:
            self.resolved[key] = found[(key, key[1])]

    def of(self, kind: Any, mode: Literal["validation", "serialization"]) -> dict[str, Any]:
        if isinstance(kind, dict):
            return kind
        return self.resolved[(id(kind), mode)]


def _operation(app: Flask, rule: Rule, method: str, doc: Doc, schemas: _Schemas, operation_id: str) -> dict[str, Any]:
    summary = doc.summary.format_map({k: str(v) for k, v in rule.defaults.items()}) if rule.defaults else doc.summary
    operation: dict[str, Any] = {"operationId": operation_id, "summary": summary, "tags": list(doc.tags)}
    if doc.description:
        operation["description"] = doc.description
    parameters = _path_parameters(rule)
    if doc.query is not None:
        schema = schemas.of(doc.query, "validation")
        schema = schemas.components.get(schema["$ref"].rsplit("/", 1)[-1], schema) if "$ref" in schema else schema
        required = set(schema.get("required", []))
        parameters += [{"name": name, "in": "query", "required": name in required, "schema": _clean(prop)}
                       for name, prop in schema.get("properties", {}).items()]
    if parameters:
        operation["parameters"] = parameters
    takes_body = doc.body is not None and method != "GET"
    if takes_body:
        operation["requestBody"] = {"required": doc.body_required,
                                    "content": {"application/json": {"schema": schemas.of(doc.body, "validation")}}}
    operation["security"] = [{SCHEME_NAMES[kind]: []} for kind in doc.auth]
    responses: dict[str, Any] = {}
    implied = {400: bool(parameters) or doc.body is not None, 401: bool(doc.auth), 403: "personal" in doc.auth,
               404: any(p["in"] == "path" for p in parameters), 413: takes_body, 415: takes_body}
    for status in sorted(set(doc.responses) | {s for s, applies in implied.items() if applies}):
        responses[str(status)] = _response(status, doc.responses.get(status), schemas)
    operation["responses"] = responses
    return operation


def _clean(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != "title"}


def _response(status: int, spec: Any, schemas: _Schemas) -> dict[str, Any]:
    if status >= 400 and (spec is None or isinstance(spec, str)):
        return {"description": spec or _DEFAULT_ERRORS.get(status, "An error."),
                "content": {"application/json": {"schema": _ERROR_REF}}}
    if isinstance(spec, str) or spec is None:
        return {"description": spec or "OK"}
    if not isinstance(spec, Reply):
        spec = Reply(schema=spec)
    answer: dict[str, Any] = {"description": spec.description or ("OK" if status < 400 else _DEFAULT_ERRORS.get(
        status, "An error."))}
    content = spec.content if spec.content is not None else {"application/json": spec.schema}
    if content:
        answer["content"] = {kind: {"schema": schemas.of(schema, "serialization")} for kind, schema in content.items()}
    if spec.headers:
        answer["headers"] = {name: {"description": text, "schema": {"type": "string"}}
                             for name, text in spec.headers.items()}
    return answer


def _wanted_types(doc: Doc, schemas: _Schemas) -> None:
    schemas.want(doc.body, "validation")
    schemas.want(doc.query, "validation")
    for spec in doc.responses.values():
        if isinstance(spec, Reply):
            for kind in (spec.content or {}).values():
                schemas.want(kind, "serialization")
            schemas.want(spec.schema, "serialization")
        elif not isinstance(spec, str):
            schemas.want(spec, "serialization")


def build(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every documented `/api/v1` route of `app`."""
    schemas = _Schemas()
    documented_rules = [(rule, doc) for rule in api_rules(app) if (doc := doc_of(app, rule)) is not None]
    for _, doc in documented_rules:
        _wanted_types(doc, schemas)
    schemas.resolve()
    paths: dict[str, dict[str, Any]] = {}
    used_ids: set[str] = set()
    for rule, doc in documented_rules:
        path = _ARGUMENT.sub(r"{\1}", rule.rule)
        for method in _methods(rule):
            operation_id = rule.endpoint.removeprefix("api.").replace(".", "_")
            if operation_id in used_ids:
                operation_id = f"{operation_id}_{method.lower()}"
            used_ids.add(operation_id)
            paths.setdefault(path, {})[method.lower()] = _operation(app, rule, method, doc, schemas, operation_id)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Promotion Desk API", "version": "1",
                 "description": "The JSON API of Promotion Desk. Errors are `{\"error\", \"message\", "
                                "\"details\"}` (`details` is `{}` when there is nothing more); a body is sent "
                                "as `Content-Type: application/json` (else 415); tokens are sent as "
                                "`Authorization: Bearer <token>`."},
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "paths": paths,
        "components": {"schemas": schemas.components,
                       "securitySchemes": {SCHEME_NAMES[k]: v for k, v in SECURITY_SCHEMES.items()}},
    }
