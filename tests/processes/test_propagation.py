"""Propagation: which version each environment key was last served, on the process page and in the API, recorded
without a database write per serving request (batched in Redis, flushed into `key_servings` by the reconciler)."""

from __future__ import annotations

import redis as redis_lib
from sqlalchemy import event, func, select

from tests.conftest import bearer
from webapp.accounts import services as accounts
from webapp.outbox import services as outbox
from webapp.processes import propagation
from webapp.processes.models import KeyServing


def _key(admin, name: str, environment: str = "production") -> str:
    return accounts.create_environment_key(admin, environment, name)[1]


def _serve(client, key: str, slug: str = "greeter") -> int:
    response = client.get(f"/api/v1/serve/{slug}", headers=bearer(key))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["version"]


def _production(api_body: dict) -> dict:
    return next(e for e in api_body["environments"] if e["environment"] == "production")


def _page(auth, admin, slug: str = "greeter") -> str:
    auth.login(admin.label)
    response = auth.get(f"/processes/{slug}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_page_and_api_say_how_many_production_keys_fetched_the_new_version_and_what_the_others_last_fetched(
        auth, client, db, factories, admin):
    proc = factories.process(admin, "Greeter")
    old = factories.production(admin, proc, {"prompt": "one"})
    ci, web, app_key = _key(admin, "ci-runner"), _key(admin, "web"), _key(admin, "mobile")
    _key(admin, "sandbox-ci", "sandbox")  # another environment: not counted with production
    assert _serve(client, ci) == old.number
    new = factories.production(admin, proc, {"prompt": "two"})
    assert _serve(client, web) == new.number and _serve(client, app_key) == new.number

    html = _page(auth, admin)
    assert f"2 of 3 production keys</strong> have fetched v{new.number}" in html
    assert f">ci-runner</code> last fetched v{old.number}" in html and "just now" in html
    token = factories.personal_token(admin)
    body = client.get("/api/v1/processes/greeter/propagation", headers=bearer(token)).get_json()
    assert body["process"] == "greeter" and body["live"] is True
    production = _production(body)
    assert (production["active_version"], production["keys_total"], production["keys_on_active"]) == (new.number, 3, 2)
    by_name = {k["name"]: k for k in production["keys"]}
    assert by_name["ci-runner"]["version"] == old.number and by_name["ci-runner"]["served_at"]
    assert by_name["web"]["version"] == new.number


def test_serving_writes_nothing_to_the_database_and_redis_only_when_the_keys_version_changes(
        client, db, factories, admin, redis):
    proc = factories.process(admin, "Greeter")
    factories.production(admin, proc)
    key = _key(admin, "ci-runner")
    _serve(client, key)  # the first serve records the key's last use (once a minute) and pushes to Redis
    redis.delete(f"pd:served:process:{proc.id}")
    writes: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}:
            writes.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        for _ in range(25):
            _serve(client, key)
            assert client.post("/api/v1/serve/greeter/invoke", json={"name": "Ada"},
                               headers=bearer(key)).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert writes == []
    assert db.session.scalar(select(func.count()).select_from(KeyServing)) == 0
    assert redis.hlen(f"pd:served:process:{proc.id}") == 0  # same version within the minute: not pushed again
    newer = factories.production(admin, proc, {"prompt": "two"})
    _serve(client, key)
    assert redis.hget(f"pd:served:process:{proc.id}", str(_token_id(db))).startswith(f"{newer.id}:".encode())


def _token_id(db) -> int:
    from webapp.accounts.models import ApiToken, TokenKind

    return db.session.scalars(select(ApiToken.id).where(ApiToken.kind == TokenKind.environment)).one()


def test_the_reconciler_flushes_records_into_the_database_so_they_survive_a_redis_flush(
        auth, client, db, factories, admin, redis):
    proc = factories.process(admin, "Greeter")
    live = factories.production(admin, proc)
    _serve(client, _key(admin, "ci-runner"))
    counts = outbox.reconcile()
    assert counts["propagation_written"] == 1
    assert redis.hlen(f"pd:served:process:{proc.id}") == 0  # flushed fields leave Redis
    redis.flushdb()
    row = db.session.scalars(select(KeyServing)).one()
    assert (row.process_id, row.version_id) == (proc.id, live.id)
    assert f"1 of 1 production key</strong> has fetched v{live.number}" in _page(auth, admin)
    assert outbox.reconcile()["propagation_written"] == 0  # nothing new: nothing written


def test_records_lost_with_redis_before_a_flush_leave_the_last_flushed_version_on_the_page(
        auth, client, db, factories, admin, redis):
    proc = factories.process(admin, "Greeter")
    old = factories.production(admin, proc, {"prompt": "one"})
    key = _key(admin, "ci-runner")
    _serve(client, key)
    propagation.flush()
    new = factories.production(admin, proc, {"prompt": "two"})
    _serve(client, key)
    redis.flushdb()  # lost before the reconciler came by
    html = _page(auth, admin)
    assert f"0 of 1 production key</strong> have fetched v{new.number}" in html
    assert f">ci-runner</code> last fetched v{old.number}" in html


def test_a_flush_keeps_a_serve_that_arrived_while_it_was_writing(client, db, factories, admin, redis, monkeypatch):
    proc = factories.process(admin, "Greeter")
    factories.production(admin, proc, {"prompt": "one"})
    key = _key(admin, "ci-runner")
    _serve(client, key)
    newer = factories.production(admin, proc, {"prompt": "two"})
    store = propagation._store

    def serve_meanwhile(process_id, records):
        written = store(process_id, records)
        _serve(client, key)  # a newer version arrives between the flush's read and its delete
        return written

    monkeypatch.setattr(propagation, "_store", serve_meanwhile)
    propagation.flush()
    monkeypatch.undo()
    assert redis.hlen(f"pd:served:process:{proc.id}") == 1
    propagation.flush()
    assert db.session.scalars(select(KeyServing.version_id)).one() == newer.id


def test_a_flush_drops_fields_naming_another_workspaces_key_or_another_process_version(
        client, db, factories, admin, redis):
    proc = factories.process(admin, "Greeter")
    live = factories.production(admin, proc)
    other = factories.user("admin", "Other")
    foreign_key = accounts.create_environment_key(other, "production")[0]
    foreign_version = factories.production(other, factories.process(other, "Theirs"))
    own = accounts.create_environment_key(admin, "production")[0]
    redis.hset(f"pd:served:process:{proc.id}", mapping={
        str(foreign_key.id): f"{live.id}:1700000000", str(own.id): f"{foreign_version.id}:1700000000",
        "junk": "not-a-record"})
    assert propagation.flush()["propagation_written"] == 0
    assert db.session.scalar(select(func.count()).select_from(KeyServing)) == 0


def test_serving_keeps_answering_when_redis_is_down_and_the_page_says_the_newest_records_are_missing(
        app, auth, client, db, factories, admin, monkeypatch):
    proc = factories.process(admin, "Greeter")
    live = factories.production(admin, proc)
    key = _key(admin, "ci-runner")
    token = factories.personal_token(admin)
    monkeypatch.setitem(app.extensions, "redis", redis_lib.Redis(port=1, socket_connect_timeout=0.2))
    assert _serve(client, key) == live.number
    assert "The newest serving records could not be read" in _page(auth, admin)
    body = client.get("/api/v1/processes/greeter/propagation", headers=bearer(token)).get_json()
    assert body["live"] is False and _production(body)["keys"][0]["version"] is None


def test_propagation_of_another_workspaces_process_is_404(client, factories, admin):
    factories.production(admin, factories.process(admin, "Greeter"))
    stranger = factories.user("admin", "Other")
    response = client.get("/api/v1/processes/greeter/propagation", headers=bearer(factories.personal_token(stranger)))
    assert response.status_code == 404
