"""API hygiene (issue 19, point 6): a JSON API body that is not declared JSON is a 415 naming the expected type and
writes nothing, while a bare POST to a route whose body is optional or absent still works; and every JSON error the
API answers, the app's own and werkzeug's (an unknown route, a wrong method, a body too large), is
`{"error": <snake_case code>, "message": <text>, "details": <object>}`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import bearer
from tests.test_route_sweep import committed_writes  # noqa: F401  (the fixture: committed writing transactions)
from tests.urlmap import api_headers, is_bot_url, one_of_everything, open_planning_room, promotion_request, urls
from webapp import openapi
from webapp.accounts.models import ApiToken
from webapp.extensions import utcnow
from webapp.gamenight import campaign_plans

ERROR_KEYS = {"error", "message", "details"}
SNAKE_CASE = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")
UNSUPPORTED = {"error": "unsupported_media_type", "message": "Send the body as JSON (Content-Type: application/json)."}
# Ways a client sends a body that is not declared JSON: requests' `data=json.dumps(…)` (no type), curl's `-d`
# (a form), a text body, a multipart upload.
NOT_JSON: list[tuple[str | None, Callable[[dict[str, Any]], Any]]] = [
    (None, json.dumps),
    ("text/plain", json.dumps),
    ("application/x-www-form-urlencoded", lambda body: {k: str(v) for k, v in body.items()}),
    ("multipart/form-data", lambda body: {k: str(v) for k, v in body.items()}),
]
# Declared JSON: a charset, capitals, a structured `+json` type.
JSON_TYPES = ["application/json", "application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json"]


def shape_problem(response: Any) -> str | None:
    """What is wrong with an error answer's shape, or None."""
    if response.mimetype != "application/json":
        return f"{response.mimetype}, not JSON"
    body = response.get_json(silent=True)
    if not isinstance(body, dict) or set(body) != ERROR_KEYS:
        return f"keys {sorted(body) if isinstance(body, dict) else type(body).__name__}, not {sorted(ERROR_KEYS)}"
    if not isinstance(body["error"], str) or not SNAKE_CASE.fullmatch(body["error"]):
        return f"error {body['error']!r} is not a snake_case code"
    if not isinstance(body["message"], str) or not body["message"].strip():
        return "an empty message"
    if not isinstance(body["details"], dict):
        return f"details is {type(body['details']).__name__}, not an object"
    return None


def night_in_two_hours() -> dict[str, str]:
    """A game night two hours from now, in the workspace's zone (Acme's default)."""
    local = (utcnow() + timedelta(hours=2)).astimezone(ZoneInfo("Europe/Ljubljana"))
    return {"day": local.date().isoformat(), "start_time": local.strftime("%H:%M")}


def post(client: Any, url: str, content_type: str | None, data: Any, headers: dict[str, str]) -> Any:
    """A POST of `data` declared as `content_type`, or with no Content-Type at all for None."""
    kwargs: dict[str, Any] = {"headers": headers, "data": data}
    if content_type is not None:
        kwargs["content_type"] = content_type
    return client.post(url, **kwargs)


# -- 415 ----------------------------------------------------------------------------------------


@pytest.fixture
def acme(db, factories) -> dict[str, Any]:
    """Acme with a served process (`greeter`), a promotion request waiting for a second promoter, a member linked
    on Discord, and a token of each kind (the admin's, the approver's, an environment key, the bot's)."""
    admin = factories.user("admin", "Acme")
    greeter = factories.process(admin, "Greeter")
    factories.production(admin, greeter, {"prompt": "Hello {{ name }}"})
    [request_id, _], _ = promotion_request(factories, admin)
    open_planning_room(db, admin, "Ada")  # a confirmed Discord contact `ada-<user id>`, as the bot names it
    from webapp.gamenight import night_settings

    approver = factories.user("promoter", "Acme", email="bob@example.com")
    return {"admin": admin, "token": factories.personal_token(admin), "key": factories.environment_key(admin),
            "bot": night_settings.rotate_bot_token(admin), "approver": factories.personal_token(approver),
            "request_id": request_id, "external_id": f"ada-{admin.user_id}"}


WRITES = {  # one route per blueprint: (url, which token, a body that succeeds when sent as JSON, its status)
    "processes: a new version": ("/api/v1/processes/greeter/versions", "token", {"config": {"prompt": "Hi"}}, 201),
    "serving: invoke": ("/api/v1/serve/greeter/invoke", "key", {"name": "Ada"}, 200),
    "governance: approve with a comment": ("/api/v1/promotion-requests/{request_id}/approve", "approver",
                                           {"comment": "Looks right"}, 200),
    "governance: the workspace's policy": ("/api/v1/approval-policies/workspace", "token", {"required_approvals": 2},
                                           200),
    "gamenight bot: availability": ("/api/v1/availability", "bot",
                                    {"channel": "discord", "external_id": "{external_id}", "date": "tomorrow",
                                     "status": "maybe"}, 200),
    "webhooks: a new endpoint": ("/api/v1/webhooks", "token", {"url": "https://hooks.example/in"}, 201),
    "tokens: a new personal token": ("/api/v1/tokens", "token", {"name": "ci"}, 201),
}


def _filled(value: Any, acme: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return value.format(**acme)
    if isinstance(value, dict):
        return {k: _filled(v, acme) for k, v in value.items()}
    return value


@pytest.mark.parametrize("case", list(WRITES))
def test_a_body_not_declared_json_is_415_naming_the_expected_type_and_writes_nothing_until_it_is_sent_as_json(
        client, acme, committed_writes, case):  # noqa: F811
    url, token, body, created = (_filled(part, acme) for part in WRITES[case])
    headers = bearer(acme[token])
    before = committed_writes()
    for content_type, encode in NOT_JSON:
        refused = post(client, url, content_type, encode(body), headers)
        assert refused.status_code == 415, (content_type, refused.get_data(as_text=True))
        got = content_type.split(";")[0] if content_type else None
        assert refused.get_json() == {**UNSUPPORTED, "details": {"expected": "application/json", "got": got}}
        assert committed_writes() == before, f"{case}: a 415 to {content_type} wrote"
    accepted = post(client, url, "application/json; charset=utf-8", json.dumps(body), headers)
    assert accepted.status_code == created, accepted.get_data(as_text=True)
    assert committed_writes() > before or case.startswith("serving")  # invoke writes nothing: it caches in Redis


@pytest.mark.parametrize("content_type", JSON_TYPES)
def test_every_json_content_type_is_read_as_json(client, acme, content_type):
    answer = post(client, "/api/v1/tokens", content_type, json.dumps({"name": "ci"}), bearer(acme["token"]))
    assert answer.status_code == 201 and answer.get_json()["name"] == "ci"


def test_an_empty_body_without_a_content_type_is_no_body_for_a_route_whose_body_is_optional_or_absent(
        client, db, acme):
    """Approve without a comment, revoke, cancel: a bare POST (what `curl -X POST` sends) still works."""
    approved = client.post(f"/api/v1/promotion-requests/{acme['request_id']}/approve", headers=bearer(acme["approver"]))
    assert approved.status_code == 200, approved.get_data(as_text=True)
    created = client.post("/api/v1/tokens", json={"name": "spare"}, headers=bearer(acme["token"])).get_json()
    revoked = client.post(f"/api/v1/tokens/{created['id']}/revoke", headers=bearer(acme["token"]))
    assert revoked.status_code == 200 and db.session.get(ApiToken, created["id"]).revoked_at is not None
    from webapp.gamenight import campaigns
    from webapp.gamenight.campaign_plans import CampaignChoices

    campaign, _ = campaigns.create(acme["admin"], CampaignChoices(**night_in_two_hours()))
    cancelled = client.post(f"/api/v1/campaigns/{campaign.id}/cancel", headers=bearer(acme["token"]))
    assert cancelled.status_code == 200, cancelled.get_data(as_text=True)
    # A declared but empty body is no body either: an empty form is not a form to refuse, but a missing field.
    empty_form = client.post("/api/v1/webhooks", content_type="application/x-www-form-urlencoded", data="",
                             headers=bearer(acme["token"]))
    assert empty_form.status_code == 400 and empty_form.get_json()["details"] == {"url": "is required"}


def test_a_route_that_reads_no_body_ignores_one(client, db, acme):
    created = client.post("/api/v1/tokens", json={"name": "spare"}, headers=bearer(acme["token"])).get_json()
    revoked = client.post(f"/api/v1/tokens/{created['id']}/revoke", data="please", content_type="text/plain",
                          headers=bearer(acme["token"]))
    assert revoked.status_code == 200 and db.session.get(ApiToken, created["id"]).revoked_at is not None


# -- one error shape ----------------------------------------------------------------------------


ALWAYS_SEEN = {400, 401, 403, 404, 405, 409, 410, 413, 415, 422, 429}


def _sweep(client: Any, app: Any, world: dict[str, Any], viewer: str) -> Iterator[tuple[str, Any]]:
    """(what was sent, the answer) for every API route and method with real ids and ids nobody has: as its client
    sends it, without a body, with a text body, with a JSON body of wrong types, with a viewer's token, with no token,
    and with a method no route takes. Routes that revoke a token go last: the sweep's own tokens must work until then."""
    rules = sorted(openapi.api_rules(app), key=lambda r: ("revoke" in r.rule, r.rule))
    for rule in rules:
        for url in urls(rule.rule, world):
            headers = api_headers(url, world)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                if method == "GET":
                    yield f"GET {url}", client.get(url, headers=headers)
                    yield f"GET {url} ?per_page=0", client.get(url, headers=headers, query_string={"per_page": "0"})
                else:
                    yield f"POST {url} (wrong types)", client.post(url, headers=headers, json={
                        "name": 5, "config": [], "url": 7, "date": [], "status": 3, "required_approvals": "x"})
                    yield f"POST {url} (text)", client.post(url, headers=headers, data='{"name": "x"}',
                                                            content_type="text/plain")
                    yield f"POST {url} (no body)", client.post(url, headers=headers)
                    if not is_bot_url(url) and not url.startswith("/api/v1/serve/"):
                        yield f"POST {url} (viewer)", client.post(url, headers=bearer(viewer), json={})
                yield f"{method} {url} (no token)", client.open(url, method=method)
            yield f"DELETE {url}", client.delete(url, headers=headers)


def test_every_json_error_the_api_answers_is_error_message_and_details(app, client, db, factories):
    world = one_of_everything(db, factories)
    viewer = factories.personal_token(factories.user("viewer", "Acme", email="vera@example.com"))
    admin = bearer(world["token"])
    extra = [  # what the sweep's routes alone may not reach
        ("GET /api/v1/no-such-thing", client.get("/api/v1/no-such-thing", headers=admin)),
        ("POST /api/v1/processes 5 MB", client.post("/api/v1/processes", headers=admin, content_type="application/json",
                                                    data=b'{"name": "' + b"x" * (5 * 1024 * 1024) + b'"}')),
        *((f"POST /api/v1/campaigns/preview #{n}", client.post("/api/v1/campaigns/preview", headers=admin,
                                                                json=night_in_two_hours()))
          for n in range(campaign_plans.RATE_LIMIT + 1)),
    ]
    archived = client.post(f"/api/v1/processes/{world['slugs'][0]}/archive", headers=admin, json={"reason": "old"})
    assert archived.status_code == 200, archived.get_data(as_text=True)
    extra.append(("GET /api/v1/serve/<archived>", client.get(f"/api/v1/serve/{world['slugs'][0]}",
                                                             headers=bearer(world["key"]))))
    seen: dict[int, str] = {}
    problems = []
    for sent, response in [*extra, *_sweep(client, app, world, viewer)]:
        if response.status_code >= 400:
            seen.setdefault(response.status_code, f"{sent} → {response.get_json(silent=True)}")
            problem = shape_problem(response)
            if problem:
                problems.append(f"{sent} → {response.status_code}: {problem}")
    assert problems == [], "\n".join(problems)
    assert ALWAYS_SEEN <= set(seen), f"the sweep reached only {sorted(seen)}"
    assert 500 not in seen, seen[500]


def test_werkzeugs_own_errors_under_the_api_say_what_they_are_in_the_same_shape(client, acme):
    headers = bearer(acme["token"])
    unknown = client.get("/api/v1/nowhere", headers=headers)
    assert unknown.status_code == 404 and unknown.get_json()["error"] == "not_found"
    assert unknown.get_json()["details"] == {}
    wrong = client.delete("/api/v1/tokens", headers=headers)
    assert wrong.status_code == 405 and set(wrong.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}
    assert wrong.get_json() == {"error": "method_not_allowed", "message": "That method is not allowed here.",
                                "details": {"allowed": ["GET", "HEAD", "OPTIONS", "POST"]}}
    large = client.post("/api/v1/tokens", headers=headers, content_type="application/json",
                        data=b'{"name": "' + b"x" * (5 * 1024 * 1024) + b'"}')
    assert large.status_code == 413 and large.get_json() == {
        "error": "request_entity_too_large", "message": "The request is too large.",
        "details": {"max_bytes": 4 * 1024 * 1024}}


def test_the_document_declares_415_and_413_with_the_error_schema_on_every_route_that_takes_a_body(app):
    document = openapi.build(app)
    error = {"$ref": "#/components/schemas/Error"}
    with_body = [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()
                 if "requestBody" in op]
    assert len(with_body) > 30
    for path, method, op in with_body:
        for status in ("413", "415"):
            assert op["responses"][status]["content"]["application/json"]["schema"] == error, (method, path, status)
    assert not [(path, method) for path, item in document["paths"].items() for method, op in item.items()
                if "requestBody" not in op and "415" in op["responses"]]


def test_a_route_answers_415_exactly_when_its_document_says_it_takes_a_json_body(app, client, db, factories,
                                                                               committed_writes):  # noqa: F811
    """A text body, with the right token, to every POST route and id: where the document declares a JSON body, no
    answer writes and some real object's answers 415 (the view reads its body before it writes; a draft build may
    be refused for its state first); where it declares none, no answer is a 415."""
    world = one_of_everything(db, factories)
    document = openapi.build(app)
    wrong = []
    for rule in sorted(openapi.api_rules(app), key=lambda r: ("revoke" in r.rule, r.rule)):
        if "POST" not in rule.methods:
            continue
        path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule)
        declared = "requestBody" in document["paths"][path]["post"]
        answers = []
        for url in urls(rule.rule, world):
            before = committed_writes()
            answer = client.post(url, headers=api_headers(url, world), data='{"x": 1}', content_type="text/plain")
            answers.append(answer.status_code)
            if declared and committed_writes() != before:
                wrong.append(f"{url}: {answer.status_code} and wrote")
        if declared and 415 not in answers:
            wrong.append(f"{rule.rule}: {answers}, no 415")
        elif not declared and 415 in answers:
            wrong.append(f"{rule.rule}: {answers}, a 415, but the document declares no body")
    assert wrong == [], "\n".join(wrong)
