"""The OpenAPI document (webapp/openapi.py, GET /api/v1/openapi.json): valid OpenAPI 3.1, every `/api/v1`
route of the app in it (a route added without `@documented` fails here), and every route the README's API
tables promise."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from webapp import openapi

README = Path(__file__).resolve().parent.parent / "README.md"
METHODS = ("get", "post", "put", "patch", "delete")
ERROR = {"$ref": "#/components/schemas/Error"}


@pytest.fixture
def document(app):
    return openapi.build(app)


def operations(document):
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def shape(path: str) -> str:
    """A path with its parameters blanked, so `/builds/<id>` (README) and `/builds/{project_id}` compare equal."""
    return re.sub(r"\{[^}]*\}|<[^>]*>", "{}", path)


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_it_is_served_without_a_token_and_is_the_same_document(client, document):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json() == document


def test_every_api_route_of_the_app_is_documented(app):
    missing = openapi.undocumented(app)
    assert missing == [], "API routes without @documented (webapp/openapi.py): " + ", ".join(missing)


def test_every_route_and_method_of_the_app_is_in_the_document_with_its_path_parameters(app, document):
    listed = {(method, path): op for method, path, op in operations(document)}
    for rule in openapi.api_rules(app):
        if openapi.doc_of(app, rule) is None:
            continue
        path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            op = listed[(method, path)]
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == set(rule.arguments) - set(rule.defaults or {}), (method, path)


def readme_routes() -> set[tuple[str, str]]:
    """(METHOD, path shape) of every row of the README's API tables. A row may list siblings after `·`:
    `POST /api/v1/builds/<id>/submit` · `/approve` replaces the last segment."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## API\n", 1)[1].split("\n## ", 1)[0]
    routes: set[tuple[str, str]] = set()
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        method, path = "", ""
        for part in line.split(" | ")[0].lstrip("| ").split(" · "):
            code = re.match(r"`([^`]*)`", part.strip())
            if code is None:
                continue
            words = code.group(1).split()
            if words[0] in {m.upper() for m in METHODS}:
                method, path = words[0], words[1]
            elif words[0].startswith("/") and path:
                path = path.rsplit("/", 1)[0] + words[0]
            else:
                continue
            routes.add((method, shape(path.split("?", 1)[0].replace("\\|", "|"))))
    return routes


def test_the_readme_tables_are_parsed_into_routes():
    routes = readme_routes()
    assert ("GET", "/api/v1/serve/{}") in routes and ("POST", "/api/v1/builds/{}/approve") in routes
    assert ("POST", "/api/v1/planning/today/leave") in routes and ("GET", "/api/v1/world/export") in routes
    assert len(routes) >= 35


def test_every_route_of_the_readme_api_tables_is_in_the_document(document):
    documented = {(method, shape(path)) for method, path, _ in operations(document)}
    missing = sorted(readme_routes() - documented)
    assert missing == [], f"README API routes missing from the OpenAPI document: {missing}"


def test_every_operation_has_an_id_a_summary_a_success_answer_and_known_security(document):
    schemes = set(document["components"]["securitySchemes"])
    ids = [op["operationId"] for _, _, op in operations(document)]
    assert len(ids) == len(set(ids))
    for method, path, op in operations(document):
        assert op["summary"], (method, path)
        assert any(code.startswith("2") or code == "304" for code in op["responses"]), (method, path)
        for requirement in op["security"]:
            assert set(requirement) <= schemes, (method, path)
        for code, answer in op["responses"].items():
            if code.startswith(("4", "5")):  # the shared error schema, maybe narrowed (`allOf`)
                schema = answer["content"]["application/json"]["schema"]
                assert ERROR in [schema, *schema.get("allOf", [])], (method, path, code)


def test_error_answers_share_one_schema_of_error_message_and_details(document):
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "message", "details"]
    assert set(error["properties"]) == {"error", "message", "details"} and error["properties"]["details"]["type"] == "object"


def test_the_three_kinds_of_token_are_bearer_schemes(document):
    schemes = document["components"]["securitySchemes"]
    assert {s["scheme"] for s in schemes.values()} == {"bearer"} and len(schemes) == 3
