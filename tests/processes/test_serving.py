"""The serving API API clients call with environment keys: GET serve and POST invoke."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import bearer
from webapp.accounts import services as accounts
from webapp.accounts.models import ApiToken, TokenKind
from webapp.extensions import utcnow
from webapp.processes import cache

SERVE_KEYS = {"process", "environment", "version", "config", "input_schema", "output_schema"}
NAME_SCHEMA = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "minLength": 1}}}


def test_production_key_gets_the_production_version_with_exactly_the_contract_keys(client, factories, admin):
    proc = factories.process(admin, "Greeter")
    live = factories.production(admin, proc, {"prompt": "Hello {{ name }}"})
    factories.version(admin, proc, {"prompt": "sandbox only"})  # newer, sandbox active
    response = client.get("/api/v1/serve/greeter", headers=bearer(factories.environment_key(admin, "production")))
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == SERVE_KEYS
    assert body == {"process": "greeter", "environment": "production", "version": live.number,
                    "config": {"prompt": "Hello {{ name }}"}, "input_schema": None, "output_schema": None}


def test_sandbox_key_gets_the_sandbox_active_version_not_production_nor_drafts(client, factories, admin):
    proc = factories.process(admin, "Greeter")
    factories.production(admin, proc, {"prompt": "live"})
    sandbox = factories.version(admin, proc, {"prompt": "trying"})
    factories.version(admin, proc, {"prompt": "unfinished"}, activate=False)
    body = client.get("/api/v1/serve/greeter", headers=bearer(factories.environment_key(admin, "sandbox"))).get_json()
    assert (body["environment"], body["version"], body["config"]) == ("sandbox", sandbox.number, {"prompt": "trying"})


def test_serve_sends_an_etag_and_answers_304_to_if_none_match(client, factories, admin):
    proc = factories.process(admin, "Greeter")
    factories.production(admin, proc)
    h = bearer(factories.environment_key(admin, "production"))
    first = client.get("/api/v1/serve/greeter", headers=h)
    etag = first.headers["ETag"]
    assert etag
    again = client.get("/api/v1/serve/greeter", headers=h | {"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == etag
    weak = client.get("/api/v1/serve/greeter", headers=h | {"If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304  # a compressing proxy turns the tag weak; it still matches


def test_a_promotion_changes_the_etag_so_a_client_revalidating_gets_the_new_version(client, factories, admin):
    proc = factories.process(admin, "Greeter")
    factories.production(admin, proc, {"prompt": "one"})
    h = bearer(factories.environment_key(admin, "production"))
    etag = client.get("/api/v1/serve/greeter", headers=h).headers["ETag"]
    factories.production(admin, proc, {"prompt": "two"})
    response = client.get("/api/v1/serve/greeter", headers=h | {"If-None-Match": etag})
    assert response.status_code == 200 and response.get_json()["config"] == {"prompt": "two"}


def test_serve_is_404_when_the_environment_has_no_active_version(client, factories, admin):
    proc = factories.process(admin, "Greeter")
    factories.version(admin, proc, activate=False)
    for env in ("production", "sandbox"):
        response = client.get("/api/v1/serve/greeter", headers=bearer(factories.environment_key(admin, env)))
        assert response.status_code == 404 and response.get_json()["error"] == "not_found"
    assert client.get("/api/v1/serve/no-such-process",
                      headers=bearer(factories.environment_key(admin))).status_code == 404


def test_serving_records_the_keys_last_use_once_a_minute(client, factories, admin, db):
    factories.production(admin, factories.process(admin, "Greeter"))
    key = factories.environment_key(admin)
    token = db.session.scalars(select(ApiToken).where(ApiToken.kind == TokenKind.environment)).one()
    assert token.last_used_at is None
    assert client.get("/api/v1/serve/greeter", headers=bearer(key)).status_code == 200
    db.session.refresh(token)
    first_use = token.last_used_at
    assert first_use is not None and utcnow() - first_use < timedelta(minutes=1)
    # Read back within the minute: kept as is, and the request still succeeds.
    assert client.get("/api/v1/serve/greeter", headers=bearer(key)).status_code == 200
    db.session.refresh(token)
    assert token.last_used_at == first_use
    # Older than the resolution: moved forward.
    token.last_used_at = first_use - timedelta(minutes=5)
    db.session.commit()
    assert client.get("/api/v1/serve/greeter", headers=bearer(key)).status_code == 200
    db.session.refresh(token)
    assert token.last_used_at > first_use - timedelta(minutes=5)


def test_a_key_of_another_workspace_does_not_see_our_process(client, factories, admin):
    factories.production(admin, factories.process(admin, "Greeter"))
    other = factories.user("admin", workspace="Globex")
    assert client.get("/api/v1/serve/greeter", headers=bearer(factories.environment_key(other))).status_code == 404


def test_serve_is_401_without_a_key_with_a_bad_or_revoked_key_and_with_a_personal_token(client, factories, admin):
    factories.production(admin, factories.process(admin, "Greeter"))
    row, key = accounts.create_environment_key(admin, "production")
    assert client.get("/api/v1/serve/greeter", headers=bearer(key)).status_code == 200
    assert client.get("/api/v1/serve/greeter").status_code == 401
    assert client.get("/api/v1/serve/greeter", headers=bearer("pdk_production_bogus")).status_code == 401
    assert client.get("/api/v1/serve/greeter", headers=bearer(factories.personal_token(admin))).status_code == 401
    assert client.post("/api/v1/serve/greeter/invoke", json={"name": "x"},
                       headers=bearer(factories.personal_token(admin))).status_code == 401
    accounts.revoke_token(admin, row.id, TokenKind.environment)
    response = client.get("/api/v1/serve/greeter", headers=bearer(key))
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized" and response.get_json()["message"]


# -- invoke ----------------------------------------------------------------------------------------


def _live_greeter(factories, admin, config=None, schema=NAME_SCHEMA):
    proc = factories.process(admin, "Greeter")
    v = factories.version(admin, proc, config or {"prompt": "Hello {{ name }}"}, input_schema=schema)
    from webapp.processes import promotion

    promotion.promote(admin, v.id)
    return proc, bearer(factories.environment_key(admin, "production"))


def test_invoke_with_input_that_breaks_the_schema_is_422_listing_each_error(client, factories, admin):
    proc, h = _live_greeter(factories, admin, schema={
        "type": "object", "required": ["name", "age"],
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}})
    response = client.post("/api/v1/serve/greeter/invoke", json={"name": 7}, headers=h)
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "input_invalid" and body["message"]
    assert len(body["details"]["errors"]) == 2
    assert {d["path"] for d in body["details"]["errors"]} == {"$", "name"}
    assert all(d["message"] for d in body["details"]["errors"])
    assert cache.count(proc.id) == 0


def test_invoke_renders_the_config_templates_with_the_input(client, factories, admin):
    _, h = _live_greeter(factories, admin, {"prompt": "Hello {{ name }}", "model": "m-1",
                                            "messages": [{"role": "user", "text": "{{ name | upper }}"}],
                                            "temperature": 0.2})
    response = client.post("/api/v1/serve/greeter/invoke", json={"name": "Ada"}, headers=h)
    assert response.status_code == 200
    assert response.get_json() == {
        "process": "greeter", "environment": "production", "version": 2, "cached": False,
        "output": {"prompt": "Hello Ada", "model": "m-1", "messages": [{"role": "user", "text": "ADA"}],
                   "temperature": 0.2}}


def test_a_second_identical_invoke_is_answered_from_the_cache(client, factories, admin):
    proc, h = _live_greeter(factories, admin)
    first = client.post("/api/v1/serve/greeter/invoke", json={"name": "Ada"}, headers=h).get_json()
    second = client.post("/api/v1/serve/greeter/invoke", json={"name": "Ada"}, headers=h).get_json()
    other = client.post("/api/v1/serve/greeter/invoke", json={"name": "Bob"}, headers=h).get_json()
    assert (first["cached"], second["cached"], other["cached"]) == (False, True, False)
    assert first["output"] == second["output"] == {"prompt": "Hello Ada"}
    assert other["output"] == {"prompt": "Hello Bob"}
    assert cache.count(proc.id) == 2


def test_invoke_on_a_process_without_a_live_version_is_404(client, factories, admin):
    factories.version(admin, factories.process(admin, "Greeter"))
    response = client.post("/api/v1/serve/greeter/invoke", json={"name": "x"},
                           headers=bearer(factories.environment_key(admin, "production")))
    assert response.status_code == 404


@pytest.mark.parametrize("template", [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ name.__class__.__base__.__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ self.__init__.__globals__ }}",
])
def test_sandboxed_templates_never_leak_python_internals_and_never_500(client, factories, admin, template):
    _, h = _live_greeter(factories, admin, {"prompt": template}, schema=None)
    response = client.post("/api/v1/serve/greeter/invoke", json={"name": "Ada"}, headers=h)
    assert response.status_code in (200, 422), response.get_data(as_text=True)
    if response.status_code == 422:
        assert response.get_json()["error"] == "render_failed"
    else:
        output = response.get_json()["output"]["prompt"]
        assert "<class" not in output and "function" not in output and "__" not in output


@pytest.mark.parametrize("template, payload", [
    ("{{ count + 1 }}", {"count": "seven"}),  # TypeError inside the template
    ("{{ 10 / count }}", {"count": 0}),       # ZeroDivisionError inside the template
])
def test_a_template_that_fails_at_render_time_is_a_422_render_failed_not_a_500(client, factories, admin,
                                                                               template, payload):
    _, h = _live_greeter(factories, admin, {"prompt": template}, schema=None)
    response = client.post("/api/v1/serve/greeter/invoke", json=payload, headers=h)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["error"] == "render_failed"


def test_invoke_with_a_body_that_is_not_json_is_400(client, factories, admin):
    _, h = _live_greeter(factories, admin, schema=None)
    response = client.post("/api/v1/serve/greeter/invoke", data="{nope", content_type="application/json", headers=h)
    assert response.status_code == 400 and response.get_json()["error"]


# -- the promise ---------------------------------------------------------------------------------


def test_the_promise_after_promote_returns_the_very_next_request_sees_the_new_version(client, factories, admin):
    """No worker runs here: the serving answer must not depend on the cache-invalidation effect."""
    manager = bearer(factories.personal_token(admin))
    proc = factories.process(admin, "Greeter")
    first = factories.version(admin, proc, {"prompt": "Hello {{ name }}"})
    second = factories.version(admin, proc, {"prompt": "Goodbye {{ name }}"})
    h = bearer(factories.environment_key(admin, "production"))

    assert client.post(f"/api/v1/versions/{first.id}/promote", headers=manager, json={}).status_code == 201
    assert client.post("/api/v1/serve/greeter/invoke", json={"name": "Ada"}, headers=h).get_json()["cached"] is False
    warm = client.post("/api/v1/serve/greeter/invoke", json={"name": "Ada"}, headers=h).get_json()
    assert warm["cached"] is True and warm["output"] == {"prompt": "Hello Ada"}
    etag = client.get("/api/v1/serve/greeter", headers=h).headers["ETag"]

    promoted = client.post(f"/api/v1/versions/{second.id}/promote", headers=manager, json={})
    assert promoted.status_code == 201
    new_number = promoted.get_json()["promoted_version"]["version"]
    assert promoted.get_json()["cache_invalidated"] == 1

    served = client.get("/api/v1/serve/greeter", headers=h | {"If-None-Match": etag})
    assert served.status_code == 200
    assert served.get_json()["version"] == new_number
    assert served.get_json()["config"] == {"prompt": "Goodbye {{ name }}"}
    answer = client.post("/api/v1/serve/greeter/invoke", json={"name": "Ada"}, headers=h).get_json()
    assert answer["version"] == new_number
    assert answer["output"] == {"prompt": "Goodbye Ada"}
    assert answer["cached"] is False


def test_the_lookup_takes_one_round_trip_on_postgresql_and_a_connection_the_server_dropped_is_replaced_in_the_request(
        client, factories, admin, db):
    """PostgreSQL's lookup runs on an autocommit engine without the pre-ping or the rollback on return (one round
    trip a request): a pooled connection the server has dropped is found by the lookup itself and replaced."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server to drop a connection (and no round trips to save)")
    from sqlalchemy import text

    from webapp.processes import serving

    proc = factories.process(admin, "Greeter")
    live = factories.production(admin, proc, {"prompt": "Hello {{ name }}"})
    h = bearer(factories.environment_key(admin, "production"))
    assert client.get("/api/v1/serve/greeter", headers=h).status_code == 200
    engine = serving._lookup_engine()
    assert engine is not db.engine and not engine.pool._pre_ping
    connection = engine.raw_connection()  # the pooled connection the request just used (the only one)
    try:
        assert connection.dbapi_connection.autocommit is True
        cursor = connection.cursor()
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    finally:
        connection.close()
    assert db.session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar() is True
    db.session.commit()

    served = client.get("/api/v1/serve/greeter", headers=h)
    assert served.status_code == 200 and served.get_json()["version"] == live.number
