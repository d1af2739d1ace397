"""What a version's documents must be before they are stored: JSON, a config whose templates parse, valid
JSON Schemas whose references stay inside themselves (nothing is ever fetched)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from jinja2 import TemplateError
from pydantic import JsonValue
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from webapp import inputs
from webapp.errors import Invalid
from webapp.processes.config_templates import compile_templates

DOCUMENT_FIELDS = ("config", "input_schema", "output_schema")
# An empty registry: a reference outside the schema is unresolvable (422), never fetched (SSRF).
NO_REMOTE_SCHEMAS: Registry[Any] = Registry()


def parse_json_text(fields: dict[str, str]) -> dict[str, JsonValue]:
    """Form text → JSON values; every field that does not parse is named in one 422."""
    values: dict[str, JsonValue] = {}
    errors: dict[str, str] = {}
    for name, text in fields.items():
        text = (text or "").strip()
        if not text:
            values[name] = None
            continue
        try:
            values[name] = inputs.loads(text, name)
        except json.JSONDecodeError as exc:
            errors[name] = f"Not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        except ValueError as exc:
            errors[name] = f"Not usable JSON: {exc}."
    if errors:
        raise Invalid("Some fields are not valid JSON.", details=errors)
    return values


def validate_document(config: JsonValue, input_schema: JsonValue, output_schema: JsonValue) -> None:
    errors: dict[str, str] = {}
    for name, value in (("config", config), ("input_schema", input_schema), ("output_schema", output_schema)):
        problem = inputs.document_problem(value, name)
        if problem:
            errors[name] = f"Cannot be stored: {problem}."
    if errors:  # the checks below walk the documents recursively
        raise Invalid("The version has invalid fields; nothing was saved.", details=errors)
    if not isinstance(config, dict):
        errors["config"] = "The config must be a JSON object, e.g. {\"prompt\": \"…\"}."
    else:
        try:
            compile_templates(config)
        except TemplateError as exc:
            errors["config"] = f"A template in the config does not parse: {exc}"
    for name, schema in (("input_schema", input_schema), ("output_schema", output_schema)):
        if schema is None:
            continue
        if not isinstance(schema, dict):
            errors[name] = "A JSON Schema must be a JSON object."
            continue
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            where = "/".join(str(p) for p in exc.path) or "(root)"
            errors[name] = f"Not a valid JSON Schema at {where}: {exc.message}"
            continue
        ref = _unresolvable_ref(schema)
        if ref is not None:
            errors[name] = (f"The reference {ref!r} does not resolve within the schema "
                            "(only references into the schema itself work; nothing is fetched).")
    if errors:
        raise Invalid("The version has invalid fields; nothing was saved.", details=errors)


_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})  # instances, not schemas: a "$ref" there is data
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})


def _unresolvable_ref(schema: dict[str, Any]) -> str | None:
    """The first `$ref` of the schema that validation could not follow, or None.

    Checked against the schema's own root; a schema with nested `$id`s (its own base URIs) is left
    to the check at invoke time rather than risk refusing a valid one."""
    refs: list[str] = []
    nested_ids = False
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            refs.extend(node[k] for k in ("$ref", "$dynamicRef") if isinstance(node.get(k), str))
            nested_ids |= node is not schema and isinstance(node.get("$id"), str)
            for keyword, value in node.items():
                if keyword in _SCHEMA_MAPS and isinstance(value, dict):
                    stack.extend(value.values())  # its keys are names, whatever they spell
                elif keyword not in _DATA_KEYWORDS:
                    stack.append(value)
    if not refs or nested_ids:
        return None
    root = "urn:promotion-desk:schema"
    resource = Resource.from_contents(schema, default_specification=DRAFT202012)
    resolver = Registry().with_resource(root, resource).resolver(base_uri=resource.id() or root)
    for ref in refs:
        try:
            resolver.lookup(ref)
        except Unresolvable:
            return ref
    return None
