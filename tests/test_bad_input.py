"""Bad input of every shape gets a 4xx that says what is wrong and writes nothing, on SQLite and
PostgreSQL alike: ids too big for the database, NUL characters, JSON too deep or not finite, JSON
Schemas whose references go nowhere, templates that recurse, dates at the edge of the calendar."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from tests.conftest import bearer
from webapp.audit import services as audit
from webapp.audit.models import AuditEvent
from webapp.processes.models import ProcessVersion

HUGE = str(10**30)
DEEP = "[" * 100_000 + "]" * 100_000


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
    assert_4xx(auth.get(f"/audit?older={HUGE}-{HUGE}"), 400)  # a keyset cursor out of range
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
    from webapp.processes import documents

    with pytest.raises(Invalid) as refused:  # callers that skip the JSON parser (the CLI, seeds)
        documents.create_draft(admin, proc, nested)
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
    from webapp.processes import promotion

    promotion.promote(admin, v.id)
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
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
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
    from webapp.processes import promotion

    promotion.promote(admin, factories.version(admin, proc, {"prompt": "hi"}, input_schema=schema).id)
    key = factories.environment_key(admin)
    for _ in range(2):
        response = client.post("/api/v1/serve/greeter/invoke", headers=bearer(key), json={"a": 1})
        assert_4xx(response, 422)
        assert response.get_json()["error"] == "schema_unusable"
    assert hits == []


# -- lone UTF-16 surrogates (UTF-8 cannot encode them; PostgreSQL refuses them in JSON) ---------


def builds(db) -> int:
    from webapp.worlds.models import BuildProject

    return db.session.scalar(select(func.count()).select_from(BuildProject))


@pytest.mark.parametrize("url, body, path", [
    ("/api/v1/processes/greeter/versions", rb'{"config": {"prompt": "hi \ud800"}}', "config.prompt"),
    ("/api/v1/processes/greeter/versions", rb'{"config": {"\udfff": "hi"}}', 'config."\\udfff"'),
    ("/api/v1/processes/greeter/versions", rb'{"config": {"a": ["ok", {"b": "\ud800"}]}}', "config.a[1].b"),
    ("/api/v1/builds", rb'{"name": "\ud800", "rooms": [], "exits": []}', "name"),
    ("/api/v1/builds", b'{"name": "raw \xed\xa0\x80 bytes", "rooms": []}', "name"),
    ("/api/v1/processes", rb'{"name": "Evil \udc80"}', "name"),
], ids=["config-string", "config-key", "nested", "build-name", "raw-utf8-bytes", "process-name"])
def test_a_lone_surrogate_in_a_json_string_or_key_is_400_naming_its_path_and_nothing_is_written(
        client, db, factories, admin, token, url, body, path):
    factories.process(admin, "Greeter")
    before = (versions(db), builds(db))
    response = client.post(url, data=body, headers=bearer(token), content_type="application/json")
    assert_4xx(response, 400)
    assert response.get_json()["details"] == {"path": path}
    assert path in response.get_json()["message"] and "surrogate" in response.get_json()["message"]
    assert (versions(db), builds(db)) == before


def test_a_lone_surrogate_in_an_invoke_input_is_400_and_nothing_is_cached(client, factories, admin, redis):
    factories.production(admin, factories.process(admin, "Greeter"), {"prompt": "Hello {{ name }}"})
    key = bearer(factories.environment_key(admin))
    for body in (rb'{"name": "\ud800"}', rb'{"\ud800": "Ada"}'):
        response = client.post("/api/v1/serve/greeter/invoke", data=body, headers=key, content_type="application/json")
        assert_4xx(response, 400)
        assert "surrogate" in response.get_json()["message"]
    assert not [k for k in redis.scan_iter("*") if b"cache" in k]
    assert client.post("/api/v1/serve/greeter/invoke", json={"name": "Ada"}, headers=key).status_code == 200


def test_a_lone_surrogate_in_a_config_is_refused_by_the_form_and_the_service(auth, db, factories, admin):
    proc = factories.process(admin, "Greeter")
    auth.login(admin.label)
    form = auth.post("/processes/greeter/versions", data={"config": '{"prompt": "\\ud800"}'})
    assert form.status_code == 422 and "config.prompt" in form.get_data(as_text=True)
    from webapp.errors import Invalid
    from webapp.processes import documents

    with pytest.raises(Invalid) as refused:  # the CLI and seeds skip the JSON parser
        documents.create_draft(admin, proc, {"prompt": "\ud800"})
    assert "surrogate" in refused.value.details["config"]
    assert versions(db) == 0


def test_a_version_stored_with_a_lone_surrogate_before_the_check_still_renders(auth, db, factories, admin):
    proc = factories.process(admin, "Greeter")
    old = factories.version(admin, proc, {"prompt": "hi"})
    stored = factories.version(admin, proc, {"prompt": "hi"}, activate=False)
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:  # how an older release could have stored it; PostgreSQL's JSON refuses it
        db.session.execute(text("UPDATE process_versions SET config = :c WHERE id = :id"),
                           {"c": '{"prompt": "hi \\ud800 there"}', "id": stored.id})
        db.session.commit()
    except DBAPIError:
        db.session.rollback()
        pytest.skip("this database cannot hold a lone surrogate, so no page can meet one")
    db.session.expire_all()
    assert db.session.get(ProcessVersion, stored.id).config["prompt"] == "hi \ud800 there"
    auth.login(admin.label)
    for url in (f"/versions/{stored.id}", f"/processes/greeter/compare?old={old.id}&new={stored.id}",
                "/processes/greeter"):
        page = auth.get(url)
        assert page.status_code == 200, url
    assert "hi \ufffd there" in auth.get(f"/versions/{stored.id}").get_data(as_text=True)


# -- whole numbers: ASCII digits only, never int()'s own limits --------------------------------


@pytest.mark.parametrize("raw, expected", [("15", 15), (" 15 ", 15), ("-3", -3), ("+7", 7), ("²", None), ("١٥", None),
                                           ("1_000", None), ("1e3", None), ("1.0", None), ("", None), ("9" * 5000, None),
                                           (True, None), (12, 12), (1.5, None), (None, None), (["1"], None)])
def test_a_whole_number_is_ascii_digits_with_an_optional_sign(raw, expected):
    from webapp import inputs

    assert inputs.as_whole_number(raw) == expected


@pytest.mark.parametrize("raw, message", [("²", "must be a whole number"), ("9" * 5000, "must be between"),
                                          ("١٢", "must be a whole number")])
def test_whole_number_answers_400_naming_the_parameter_for_digits_int_would_misread_or_refuse(raw, message):
    from webapp import inputs
    from webapp.errors import BadRequest

    with pytest.raises(BadRequest) as refused:
        inputs.whole_number(raw, "page")
    assert "'page'" in refused.value.message and message in refused.value.message


# -- game-night settings, calendar and campaign preview ----------------------------------------


@pytest.mark.parametrize("zone", ["9" * 30, "9" * 5000, "abcdefghijklmnopqrst", "America", "Europe/Paris/x",
                                  '{"zone": {"name": "UTC"}}', "../../etc/passwd", "posixrules", "Europe/Ljubljana\x00"])
def test_a_time_zone_that_is_not_a_zone_is_400_naming_the_field_and_nothing_is_saved(auth, db, admin, zone):
    from webapp.accounts.models import Workspace

    auth.login(admin.label)
    audits = db.session.scalar(select(func.count()).select_from(AuditEvent))
    response = auth.post("/settings/gamenight", data={"time_zone": zone, "game_start": "21:00", "lead_minutes": "15"})
    assert response.status_code == 400
    assert "time_zone" in response.get_data(as_text=True) or "time zone" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Workspace, admin.workspace_id).time_zone == "Europe/Ljubljana"
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == audits


@pytest.mark.parametrize("field, value", [("lead_minutes", "²"), ("lead_minutes", "9" * 5000),
                                          ("game_start", "٢١:٠٠"), ("game_start", "9" * 5000 + ":00")])
def test_settings_numbers_in_other_digits_or_too_long_are_400_and_nothing_is_saved(auth, db, admin, field, value):
    from webapp.gamenight import night_settings

    auth.login(admin.label)
    form = {"time_zone": "UTC", "game_start": "20:00", "lead_minutes": "10", field: value}
    assert auth.post("/settings/gamenight", data=form).status_code == 400
    db.session.expire_all()
    assert night_settings.settings(admin.workspace_id).lead_minutes == 15
    assert night_settings.workspace(admin.workspace_id).time_zone == "Europe/Ljubljana"


@pytest.mark.parametrize("month", ["99999999999999999999-01", "0001-01", "9999-12", "2026-00", "2026-13", "٢٠٢٦-01",
                                   "2026-1", "-2026-01"])
def test_a_calendar_month_outside_the_calendar_is_400_on_the_public_page(client, admin, month):
    response = client.get("/w/acme/availability/calendar", query_string={"month": month})
    assert response.status_code == 400
    assert "month" in response.get_data(as_text=True)


@pytest.fixture
def promoter_page(auth, admin):
    auth.login(admin.label)
    return auth


@pytest.mark.parametrize("lead", ["²", "١٥", "9" * 5000, "1e1", "15.0"])
def test_a_lead_in_other_digits_or_too_long_is_400_on_the_preview_page_and_api(promoter_page, client, token, lead):
    page = promoter_page.get("/campaigns/preview", query_string={"lead_minutes": lead})
    assert page.status_code == 400 and "lead_minutes" in page.get_data(as_text=True)
    api = client.post("/api/v1/campaigns/preview", headers=bearer(token), json={"lead_minutes": lead})
    assert_4xx(api, 400)
    assert "lead_minutes" in api.get_json()["message"]


@pytest.mark.parametrize("day, clock, field", [("0001-01-01", "00:30", "date"), ("0001-01-01", "00:00", "date"),
                                               ("9999-12-31", "23:59", "date")])
def test_a_campaign_at_the_edge_of_the_calendar_is_422_naming_the_date_and_nothing_is_written(
        promoter_page, client, db, token, day, clock, field):
    from webapp.gamenight.models import Campaign

    page = promoter_page.get("/campaigns/preview", query_string={"date": day, "start_time": clock})
    assert page.status_code == 422
    for url in ("/api/v1/campaigns/preview", "/api/v1/campaigns"):
        api = client.post(url, headers=bearer(token), json={"date": day, "start_time": clock})
        assert_4xx(api, 422)
        assert field in api.get_json()["details"]
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0


# -- the planning room's draft and teams forms -------------------------------------------------


@pytest.fixture
def planning_room(factories, admin):
    """Today's open planning room with two ready players; the first one signs in."""
    from webapp.accounts import services as accounts
    from webapp.accounts.models import User
    from webapp.extensions import db as _db
    from webapp.gamenight import planning_rooms, planning_settings

    planning_settings.update_settings(admin, 1)
    ids = [factories.player(admin.workspace_id, f"p{i}@example.com", external_id=f"p-{i}") for i in (1, 2)]
    members = [planning_rooms.Member.of(accounts.actor_for_user(_db.session.get(User, i), admin.workspace_id))
               for i in ids]
    planning_rooms.create(members[0])
    planning_rooms.join(members[1])
    return ids


@pytest.mark.parametrize("url", ["/planning/today/draft", "/planning/today/teams"])
def test_a_5000_digit_team_index_in_the_draft_or_teams_form_puts_the_player_on_the_bench(auth, db, planning_room,
                                                                                       url):
    from webapp.gamenight.models import PlanningMember, PlanningTeam

    first, second = planning_room
    auth.login("p1@example.com")
    form = {"team_count": "2", f"player_{first}": "9" * 5000, f"player_{second}": "²"}
    page = auth.post(url, htmx=True, data=form)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'name="player_{first}" value="bench"' in html and f'name="player_{second}" value="bench"' in html
    if url.endswith("/teams"):  # saved: both on the bench
        assert db.session.scalar(select(func.count()).select_from(PlanningTeam)) == 2
        assert db.session.scalars(select(PlanningMember.team_id)).all() == [None, None]


@pytest.mark.parametrize("field, value", [("team_count", "9" * 5000), ("team_count", "²"), ("seed", "9" * 5000),
                                          ("seed", "١"), ("move", "9" * 5000)])
def test_a_draft_number_too_long_or_in_other_digits_is_400_naming_it_and_nothing_is_saved(auth, db, planning_room,
                                                                                        field, value):
    from webapp.gamenight.models import PlanningTeam

    auth.login("p1@example.com")
    for url in ("/planning/today/draft", "/planning/today/teams")[:1 if field == "move" else 2]:  # saving ignores moves
        page = auth.post(url, htmx=True, data={"team_count": "2", field: value})
        assert page.status_code == 400, url
        assert f"&#39;{field}&#39;" in page.get_data(as_text=True)  # the message names the field (escaped quotes)
    assert db.session.scalar(select(func.count()).select_from(PlanningTeam)) == 0


# -- a world promotion whose database fails ----------------------------------------------------


def _lose_the_connection(db, monkeypatch, *, at: str) -> None:
    """Make the promotion's database fail like a dropped connection: on PostgreSQL its server process is really
    terminated; SQLite cannot lose a connection, so the statement raises what SQLAlchemy raises for one."""
    import sqlite3

    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from webapp.worlds import promotion as worlds

    def drop() -> None:
        if db.engine.dialect.name == "postgresql":
            pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
            with db.engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                other.commit()
        else:
            monkeypatch.setattr(db.session, "commit" if at == "commit" else "flush", lambda *a, **k: (_ for _ in ()).throw(
                OperationalError("COMMIT", {}, sqlite3.OperationalError("disk I/O error"), connection_invalidated=True)))

    real = worlds._write_promotion if at == "commit" else worlds.exit_pair

    def failing(*args, **kwargs):
        result = real(*args, **kwargs)
        drop()
        return result

    monkeypatch.setattr(worlds, "_write_promotion" if at == "commit" else "exit_pair", failing)


def _world_state(db, project_id: int) -> tuple:
    from webapp.worlds.models import BuildProject, Exit

    db.session.expire_all()
    project = db.session.get(BuildProject, project_id)
    promoted = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "build.promoted"))
    return project.status.value, project.sandbox_id is not None, db.session.scalar(
        select(func.count()).select_from(Exit)), promoted


@pytest.mark.parametrize("at, message", [
    ("write", "The database connection was lost during the promotion; nothing was changed. Try again."),
    ("commit", ("The database connection was lost during the promotion; it may or may not have been saved; open the "
                "build to see whether it is live before trying again.")),
], ids=["before-the-commit", "at-the-commit"])
def test_a_connection_lost_during_a_world_promotion_is_503_saying_what_happened_not_a_conflict(
        client, db, factories, admin, token, monkeypatch, at, message):
    limbo = factories.live_room(admin)
    project = factories.build_project(admin)
    before = _world_state(db, project.id)
    _lose_the_connection(db, monkeypatch, at=at)
    response = client.post(f"/api/v1/builds/{project.id}/promote", headers=bearer(token),
                           json={"connection_room_id": limbo.id, "connection_direction": "north"})
    assert_4xx(response, 503)
    assert response.get_json() == {"error": "database_unavailable", "message": message, "details": {}}
    monkeypatch.undo()
    assert _world_state(db, project.id) == before == ("built", True, before[2], 0)  # here nothing reached the disk


def test_only_a_taken_key_or_a_lock_is_a_lost_race_never_a_lost_connection():
    import sqlite3

    from sqlalchemy.exc import IntegrityError, OperationalError

    from webapp.errors import lost_race

    busy = sqlite3.connect(":memory:")
    try:
        busy.execute("SELECT * FROM nowhere")
    except sqlite3.OperationalError as exc:
        missing_table = exc
    locked = sqlite3.OperationalError("database is locked")
    locked.sqlite_errorname = "SQLITE_BUSY"
    assert lost_race(IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed")))
    assert not lost_race(IntegrityError("INSERT", {}, sqlite3.IntegrityError("NOT NULL constraint failed: x.y")))
    assert lost_race(OperationalError("UPDATE", {}, locked))
    assert not lost_race(OperationalError("UPDATE", {}, locked, connection_invalidated=True))
    assert not lost_race(OperationalError("SELECT", {}, missing_table))
