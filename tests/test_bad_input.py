"""Bad input of every shape gets a 4xx that says what is wrong and writes nothing, on SQLite and
PostgreSQL alike: ids too big for the database, NUL characters, JSON too deep or not finite, JSON
Schemas whose references go nowhere, templates that recurse, dates at the edge of the calendar."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from webapp.audit import services as audit
from webapp.audit.models import AuditEvent
from webapp.processes.models import ProcessVersion

HUGE = str(10**30)
DEEP = "[" * 100_000 + "]" * 100_000


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(factories):
    return factories.user("admin", workspace="Acme")


@pytest.fixture
def token(factories, admin):
    return factories.personal_token(admin)


def versions(db) -> int:
    return db.session.scalar(select(func.count()).select_from(ProcessVersion))


def assert_4xx(response, status: int) -> None:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    body = response.get_json(silent=True)
    if body is not None:
        assert body["message"]


# -- numbers beyond what the database holds ----------------------------------------------------


@pytest.mark.parametrize("method, path", [
    ("get", "/versions/{n}"), ("get", "/versions/{n}/edit"), ("get", "/versions/{n}/promote"),
    ("post", "/versions/{n}"), ("post", "/versions/{n}/activate"), ("post", "/versions/{n}/promote"),
    ("post", "/jobs/{n}/retry"), ("post", "/settings/keys/{n}/revoke"), ("post", "/settings/tokens/{n}/revoke"),
    ("post", "/settings/webhooks/{n}/disable"),
])
def test_a_dashboard_id_too_big_for_the_database_is_404(auth, admin, method, path):
    auth.login(admin.label)
    assert_4xx(getattr(auth, method)(path.format(n=HUGE)), 404)


@pytest.mark.parametrize("method, path", [
    ("post", "/api/v1/versions/{n}/activate"), ("get", "/api/v1/versions/{n}/promotion-preview"),
    ("post", "/api/v1/versions/{n}/promote"),
])
def test_an_api_id_too_big_for_the_database_is_404(client, token, method, path):
    assert_4xx(getattr(client, method)(path.format(n=HUGE), headers=bearer(token)), 404)


def test_query_and_form_numbers_out_of_range_are_400_not_500(client, auth, factories, admin, token):
    proc = factories.process(admin, "Greeter")
    v = factories.version(admin, proc)
    assert_4xx(client.get(f"/api/v1/processes/greeter/versions?per_page={HUGE}", headers=bearer(token)), 400)
    assert_4xx(client.get("/api/v1/audit?limit=0", headers=bearer(token)), 400)
    assert_4xx(client.get(f"/api/v1/audit?limit={HUGE}", headers=bearer(token)), 400)
    auth.login(admin.label)
    assert_4xx(auth.get(f"/processes/greeter/compare?old={HUGE}&new={v.id}"), 400)
    assert_4xx(auth.get(f"/processes/greeter/versions/new?from={HUGE}"), 400)
    assert_4xx(auth.get(f"/audit?page={HUGE}"), 400)
    assert_4xx(auth.post("/workspaces/switch", data={"workspace_id": HUGE}), 404)


def test_a_page_far_past_the_end_is_empty_not_an_error(client, auth, factories, admin, token):
    factories.version(admin, factories.process(admin, "Greeter"))
    big_page = str(2**62)
    response = client.get(f"/api/v1/processes/greeter/versions?page={big_page}", headers=bearer(token))
    assert response.status_code == 200 and response.get_json() == []
    auth.login(admin.label)
    assert auth.get(f"/processes/greeter?page={big_page}").status_code == 200


# -- NUL characters (PostgreSQL text cannot hold them) -----------------------------------------


def test_nul_in_a_path_query_or_form_is_400_and_nothing_is_written(auth, client, db, factories, admin, token):
    factories.process(admin, "Greeter")
    assert_4xx(client.get("/api/v1/serve/gre%00eter", headers=bearer(token)), 400)
    assert_4xx(client.get("/api/v1/audit?action=a%00b", headers=bearer(token)), 400)
    assert_4xx(client.post("/login", data={"email": "a\x00@example.com", "password": "x"}), 400)
    auth.login(admin.label)
    before = versions(db)
    assert_4xx(auth.post("/processes", data={"name": "Evil\x00Name"}), 400)
    assert_4xx(auth.post("/processes/greeter/versions", data={"config": '{"a": 1}', "change_notes": "x\x00"}), 400)
    assert versions(db) == before


def test_nul_in_a_json_body_is_400_and_nothing_is_written(client, db, factories, admin, token):
    factories.process(admin, "Greeter")
    before = versions(db)
    assert_4xx(client.post("/api/v1/processes", json={"name": "Evil\x00Name"}, headers=bearer(token)), 400)
    assert_4xx(client.post("/api/v1/processes/greeter/versions", headers=bearer(token),
                           json={"config": {"prompt": "a\x00b"}}), 400)
    assert_4xx(client.post("/api/v1/processes/greeter/versions", headers=bearer(token),
                           json={"config": {"a": 1}, "change_notes": "x\x00"}), 400)
    assert versions(db) == before


# -- JSON that parses but cannot be stored or served --------------------------------------------


@pytest.mark.parametrize("body", [DEEP, '{"config": {"t": NaN}}', '{"config": {"t": Infinity}}',
                                  '{"config": {"t": 1e400}}'], ids=["deep", "nan", "infinity", "overflow"])
def test_api_json_too_deep_or_not_finite_is_400_and_nothing_is_written(client, db, factories, admin, token, body):
    factories.process(admin, "Greeter")
    response = client.post("/api/v1/processes/greeter/versions", data=body, headers=bearer(token),
                           content_type="application/json")
    assert_4xx(response, 400)
    assert versions(db) == 0


def test_a_config_nested_past_the_limit_is_refused_by_the_api_the_form_and_the_service(auth, client, db, factories,
                                                                                     admin, token):
    proc = factories.process(admin, "Greeter")
    nested: dict = {}
    for _ in range(500):
        nested = {"a": nested}
    response = client.post("/api/v1/processes/greeter/versions", headers=bearer(token), json={"config": nested})
    assert_4xx(response, 400)
    assert "nested deeper than 64 levels" in response.get_json()["message"]
    auth.login(admin.label)
    form = auth.post("/processes/greeter/versions", data={"config": DEEP})
    assert form.status_code == 422 and "nested deeper" in form.get_data(as_text=True)
    from webapp.errors import Invalid
    from webapp.processes import services as processes

    with pytest.raises(Invalid) as refused:  # callers that skip the JSON parser (the CLI, seeds)
        processes.create_draft(admin, proc, nested)
    assert "nested deeper" in refused.value.details["config"]
    assert versions(db) == 0


@pytest.mark.parametrize("schema", [{"$ref": "#/$defs/missing"}, {"$ref": "https://example.com/schema.json"},
                                    {"properties": {"a": {"$ref": "#/definitions/nope"}}},
                                    {"properties": {"default": {"$ref": "#/$defs/nope"}}}],
                         ids=["missing-local", "remote", "nested-missing", "under-a-property-named-default"])
def test_an_input_schema_whose_reference_goes_nowhere_is_422_and_nothing_is_saved(client, db, factories, admin,
                                                                                  token, schema):
    factories.process(admin, "Greeter")
    response = client.post("/api/v1/processes/greeter/versions", headers=bearer(token),
                           json={"config": {"prompt": "hi"}, "input_schema": schema})
    assert_4xx(response, 422)
    assert "does not resolve" in response.get_json()["details"]["input_schema"]
    assert versions(db) == 0


def test_a_dollar_ref_that_is_data_in_enum_const_default_or_examples_is_not_taken_for_a_reference(client, token,
                                                                                                 factories, admin):
    factories.process(admin, "Greeter")
    data = {"$ref": "#/nowhere"}
    schema = {"type": "object", "default": data, "examples": [data],
              "properties": {"link": {"enum": [data, None]}, "fixed": {"const": data}}}
    response = client.post("/api/v1/processes/greeter/versions", headers=bearer(token),
                           json={"config": {"prompt": "hi"}, "input_schema": schema})
    assert response.status_code == 201, response.get_json()


def test_an_input_schema_with_local_references_that_resolve_is_accepted_and_validates(client, factories, admin,
                                                                                    token):
    schema = {"$defs": {"name": {"type": "string", "minLength": 1}}, "type": "object",
              "required": ["name"], "properties": {"name": {"$ref": "#/$defs/name"}}}
    proc = factories.process(admin, "Greeter")
    factories.production(admin, proc)  # v2
    v = factories.version(admin, proc, {"prompt": "Hello {{ name }}"}, input_schema=schema)
    from webapp.processes import services as processes

    processes.promote(admin, v.id)
    key = factories.environment_key(admin)
    ok = client.post("/api/v1/serve/greeter/invoke", headers=bearer(key), json={"name": "Ada"})
    assert ok.status_code == 200 and ok.get_json()["output"] == {"prompt": "Hello Ada"}
    bad = client.post("/api/v1/serve/greeter/invoke", headers=bearer(key), json={"name": ""})
    assert_4xx(bad, 422)


def test_a_template_that_recurses_forever_answers_invoke_with_422(client, factories, admin):
    proc = factories.process(admin, "Greeter")
    factories.production(admin, proc, {"prompt": "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"})
    response = client.post("/api/v1/serve/greeter/invoke", headers=bearer(factories.environment_key(admin)), json={})
    assert_4xx(response, 422)
    assert response.get_json()["error"] == "render_failed"


def test_based_on_a_version_of_another_process_is_404_and_nothing_is_saved(auth, db, factories, admin):
    factories.process(admin, "Greeter")
    other = factories.user("admin", workspace="Globex")
    foreign = factories.version(other, factories.process(other, "Theirs"))
    auth.login(admin.label)
    before = versions(db)
    response = auth.post("/processes/greeter/versions", data={"config": '{"a": 1}', "based_on": str(foreign.id)})
    assert_4xx(response, 404)
    assert versions(db) == before


# -- audit dates --------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["since=0001-01-01T00:00:00%2B01:00", "until=9999-12-31T23:59:59-01:00",
                                   "since=0001-01-01", "since=tomorrow"])
def test_audit_dates_at_the_edge_of_the_calendar_or_malformed_are_400(client, auth, admin, token, query):
    assert_4xx(client.get(f"/api/v1/audit?{query}", headers=bearer(token)), 400)
    auth.login(admin.label)
    assert auth.get(f"/audit?{query}").status_code == 400
    assert auth.get(f"/audit/export?format=json&{query}").status_code == 400


def test_audit_dates_are_days_of_the_workspace_time_zone_and_until_includes_its_day(client, db, admin, token):
    # Acme is in Europe/Ljubljana (UTC+1 in November): 23:30 UTC on the 21st is already the 22nd there.
    for action, at in (("a.before", datetime(2026, 11, 20, 22, 30, tzinfo=UTC)),
                       ("a.late_evening", datetime(2026, 11, 21, 23, 30, tzinfo=UTC)),
                       ("a.afternoon", datetime(2026, 11, 22, 15, 0, tzinfo=UTC)),
                       ("a.after", datetime(2026, 11, 22, 23, 30, tzinfo=UTC))):
        audit.record(admin, action, "thing", 1).created_at = at
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) >= 4

    def actions(query: str) -> list[str]:
        response = client.get(f"/api/v1/audit?action=a.&{query}", headers=bearer(token))
        assert response.status_code == 200
        return sorted(e["action"] for e in response.get_json())

    assert actions("since=2026-11-22&until=2026-11-22") == ["a.afternoon", "a.late_evening"]
    assert actions("until=2026-11-21") == ["a.before"]
    assert actions("since=2026-11-22T16:30:00") == ["a.after"]  # 16:30 local = 15:30 UTC


def test_until_a_day_whose_last_hour_repeats_includes_the_repeat_and_compact_dates_are_days(client, db, admin,
                                                                                          token):
    from webapp.accounts.models import Workspace

    # Santiago turns its clocks back at midnight: 2026-04-04 runs until 04:00 UTC, 23:00-24:00 twice.
    db.session.get(Workspace, admin.workspace_id).time_zone = "America/Santiago"
    for action, at in (("a.first_2330", datetime(2026, 4, 5, 2, 30, tzinfo=UTC)),
                       ("a.second_2330", datetime(2026, 4, 5, 3, 30, tzinfo=UTC)),
                       ("a.next_day", datetime(2026, 4, 5, 4, 0, tzinfo=UTC))):
        audit.record(admin, action, "thing", 1).created_at = at
    db.session.commit()

    def actions(query: str) -> list[str]:
        response = client.get(f"/api/v1/audit?action=a.&{query}", headers=bearer(token))
        assert response.status_code == 200
        return sorted(e["action"] for e in response.get_json())

    assert actions("until=2026-04-04") == ["a.first_2330", "a.second_2330"]
    assert actions("until=20260404") == ["a.first_2330", "a.second_2330"]
    assert actions("since=20260405") == ["a.next_day"]
    assert actions("until=2026-04-05T04:00:00Z") == ["a.first_2330", "a.next_day", "a.second_2330"]


# -- the server never fetches what a schema points at ------------------------------------------


@pytest.fixture
def internal_server():
    """A local HTTP server standing in for an internal address; counts the requests it gets."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = b'{"type": "string"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/schema+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()


@pytest.mark.parametrize("keyword", ["$ref", "$dynamicRef"])
def test_a_remote_reference_behind_a_nested_id_is_never_fetched_and_invoke_answers_422(client, factories, admin,
                                                                                     internal_server, keyword):
    base, hits = internal_server
    schema = {"$defs": {"x": {"$id": "https://x.example/s"}},
              "properties": {"a": {keyword: f"{base}/internal/secret.json"}}}
    proc = factories.process(admin, "Greeter")
    factories.production(admin, proc)
    from webapp.processes import services as processes

    processes.promote(admin, factories.version(admin, proc, {"prompt": "hi"}, input_schema=schema).id)
    key = factories.environment_key(admin)
    for _ in range(2):
        response = client.post("/api/v1/serve/greeter/invoke", headers=bearer(key), json={"a": 1})
        assert_4xx(response, 422)
        assert response.get_json()["error"] == "schema_unusable"
    assert hits == []
