"""Schemathesis runs the OpenAPI document (GET /api/v1/openapi.json) against the live test app, in process over
WSGI, with real tokens: a promoter's personal access token, a production environment key and the workspace's
bot token. Every answer must be no 5xx and agree with the document: a documented status code, a documented
content type, a body that matches the documented schema.

Bounded: a few examples per operation (derandomized, so every run sends the same requests) and no example
database."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from webapp.openapi import SCHEME_NAMES

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES_PER_OPERATION = 8


@pytest.fixture
def tokens(factories):
    """One token of each kind, all in workspace Acme."""
    from webapp.gamenight import night_settings

    promoter = factories.user("promoter", workspace="Acme")
    admin = factories.user("admin", workspace="Acme")
    return {SCHEME_NAMES["personal"]: factories.personal_token(promoter),
            SCHEME_NAMES["environment"]: factories.environment_key(admin),
            SCHEME_NAMES["bot"]: night_settings.rotate_bot_token(admin)}


@pytest.fixture
def known(factories):
    """Path parameters that name something that exists, so that a second pass gets past the 404s to the
    answers that carry data: a process served in production with a sandbox draft, a built area, a live room."""
    admin = factories.user("admin", workspace="Acme")
    process = factories.process(admin, "Greeter")
    factories.production(admin, process)
    draft = factories.version(admin, process, activate=False)
    room = factories.live_room(admin)
    from webapp.gamenight import schedules

    weekly = schedules.create(admin, schedules.ScheduleCommand(weekdays=list(schedules.WEEKDAYS)))
    from webapp.webhooks import services as webhooks

    endpoint, _ = webhooks.create_endpoint(admin, "https://hooks.example/in")
    from tests.urlmap import promotion_request

    [request_id, _], [subject, *_] = promotion_request(factories, admin)
    return {"slug": process.slug, "version_id": draft.id, "project_id": factories.build_project(admin).id,
            "room_id": room.id, "schedule_id": weekly.id, "night_id": weekly.nights[-1].id,
            "endpoint_id": endpoint.id, "request_id": request_id, "subject": subject}


def token_for(operation, tokens) -> str | None:
    for requirement in operation.definition.raw.get("security", []):
        for name in requirement:
            return tokens[name]
    return None


def conformance_failure(operation, headers: dict[str, str], path_parameters: dict[str, object] | None = None
                        ) -> str | None:
    """What schemathesis found wrong with `operation` in a few generated requests, or None."""

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(case=operation.as_strategy(path_parameters=path_parameters))
    def run(case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        run()
    except (AssertionError, BaseExceptionGroup) as exc:  # schemathesis' Failure and FailureGroup
        return f"{operation.label}: {exc}"[:3000]
    return None


def test_every_operation_answers_as_the_document_says_and_never_5xx(app, tokens, known):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    failures = []
    for operation in operations:  # every operation runs, each reports once
        token = token_for(operation, tokens)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        failures.append(conformance_failure(operation, headers))
        names = {p.name for p in operation.path_parameters}
        if names and names <= set(known):  # again, with ids that exist
            failures.append(conformance_failure(operation, headers, {n: known[n] for n in names}))
    found = [failure for failure in failures if failure]
    assert not found, "\n\n".join(found)
