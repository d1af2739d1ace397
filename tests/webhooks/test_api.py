"""The webhooks JSON API (personal access token of an admin): set a workspace's webhooks up from CI, the signing
secret in the create or rotate answer only, others refused before anything is written."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.conftest import bearer
from tests.processes.test_api import assert_error
from webapp.audit.models import AuditEvent
from webapp.outbox.models import OutboxEffect
from webapp.webhooks.models import WebhookEndpoint


@pytest.fixture
def admin_token(factories):
    actor = factories.user("admin", workspace="Acme")
    return actor, factories.personal_token(actor)


def _create(client, token, **body):
    return client.post("/api/v1/webhooks", headers=bearer(token),
                       json={"url": "https://user:pw@hooks.example/in", **body})


def test_an_admin_creates_a_webhook_and_sees_its_secret_in_that_answer_only(client, db, admin_token):
    _, token = admin_token
    response = _create(client, token, description="CI", events=["process.promoted", "world.*"])
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    created = response.get_json()
    secret = created["secret"]
    assert secret.startswith("whsec_") and created["url"] == "https://hooks.example/…"
    assert created["events"] == ["process.promoted", "world.*"] and created["description"] == "CI"
    listed = client.get("/api/v1/webhooks", headers=bearer(token))
    assert listed.status_code == 200
    text = listed.get_data(as_text=True)
    assert secret not in text and "user:pw" not in text and "secret" not in listed.get_json()[0]
    assert [w["id"] for w in listed.get_json()] == [created["id"]]
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "webhook.created")).one()
    assert secret not in json.dumps(audit.details)


def test_rotating_over_the_api_returns_the_new_secret_once_and_the_overlap(client, db, admin_token):
    _, token = admin_token
    created = _create(client, token).get_json()
    response = client.post(f"/api/v1/webhooks/{created['id']}/rotate-secret", headers=bearer(token),
                           json={"overlap_hours": 3})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    rotated = response.get_json()
    assert rotated["secret"] not in (created["secret"], None) and rotated["previous_secret_until"]
    listed = client.get("/api/v1/webhooks", headers=bearer(token)).get_data(as_text=True)
    assert rotated["secret"] not in listed and created["secret"] not in listed


def test_the_filter_test_event_and_delivery_log_over_the_api(client, db, admin_token, worker):
    _, token = admin_token
    webhook = _create(client, token).get_json()
    changed = client.post(f"/api/v1/webhooks/{webhook['id']}/events", headers=bearer(token),
                         json={"events": ["world.promoted"]})
    assert changed.status_code == 200 and changed.get_json()["events"] == ["world.promoted"]
    sent = client.post(f"/api/v1/webhooks/{webhook['id']}/test", headers=bearer(token))
    assert sent.status_code == 202 and sent.get_json()["delivery"].startswith("evt_")
    worker()  # hooks.example does not resolve here: provably not delivered, so a refused line with a retry
    log = client.get(f"/api/v1/webhooks/{webhook['id']}/deliveries", headers=bearer(token))
    assert log.status_code == 200
    [line] = log.get_json()
    assert line["event"] == "webhook.test" and line["delivery"] == sent.get_json()["delivery"]
    assert line["attempt"] == 1 and line["outcome"] == "refused" and line["status_code"] is None
    assert line["next_retry_at"] and "hooks.example/in" not in json.dumps(line)


@pytest.mark.parametrize(("body", "status"), [
    ({"url": "ftp://nope"}, 422),
    ({"url": "https://hooks.example/in", "events": ["process.nope"]}, 422),
    ({"url": "https://hooks.example/in", "events": "process.promoted"}, 400),
    ({"url": 7}, 400),
    ({}, 400),
])
def test_a_bad_webhook_body_is_a_clear_4xx_and_writes_nothing(client, db, admin_token, body, status):
    _, token = admin_token
    assert_error(client.post("/api/v1/webhooks", headers=bearer(token), json=body), status)
    assert db.session.scalars(select(WebhookEndpoint)).all() == []


@pytest.mark.parametrize("overlap", [-1, 169, "soon", 1.5, True])
def test_a_bad_overlap_is_400_and_keeps_the_secret(client, db, admin_token, overlap):
    _, token = admin_token
    webhook = _create(client, token).get_json()
    sealed = db.session.get(WebhookEndpoint, webhook["id"]).secret_sealed
    response = client.post(f"/api/v1/webhooks/{webhook['id']}/rotate-secret", headers=bearer(token),
                           json={"overlap_hours": overlap})
    assert_error(response, 400)
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, webhook["id"]).secret_sealed == sealed


@pytest.mark.parametrize("role", ["viewer", "editor", "promoter"])
def test_below_admin_the_webhooks_api_is_403_and_writes_nothing(client, db, factories, role):
    actor = factories.user(role, workspace="Acme")
    token = factories.personal_token(actor)
    admin = factories.user("admin", workspace="Acme")
    from webapp.webhooks import services

    endpoint, _ = services.create_endpoint(admin, "https://hooks.example/in")
    before = db.session.scalars(select(OutboxEffect.id)).all()
    assert_error(client.get("/api/v1/webhooks", headers=bearer(token)), 403)
    assert_error(_create(client, token), 403)
    assert_error(client.post("/api/v1/webhooks", headers=bearer(token), data="not json"), 403)  # before the body
    for path in ("test", "rotate-secret", "disable"):
        assert_error(client.post(f"/api/v1/webhooks/{endpoint.id}/{path}", headers=bearer(token), json={}), 403)
    assert_error(client.get(f"/api/v1/webhooks/{endpoint.id}/deliveries", headers=bearer(token)), 403)
    db.session.expire_all()
    assert len(db.session.scalars(select(WebhookEndpoint)).all()) == 1
    assert db.session.get(WebhookEndpoint, endpoint.id).disabled_at is None
    assert db.session.scalars(select(OutboxEffect.id)).all() == before


def test_another_workspaces_webhook_is_404_and_an_unknown_token_401(client, db, factories, admin_token):
    _, token = admin_token
    other_admin = factories.user("admin", workspace="Globex")
    from webapp.webhooks import services

    theirs, _ = services.create_endpoint(other_admin, "https://hooks.example/globex")
    for method, path in (("post", "test"), ("post", "rotate-secret"), ("post", "disable"), ("get", "deliveries")):
        assert_error(getattr(client, method)(f"/api/v1/webhooks/{theirs.id}/{path}", headers=bearer(token)), 404)
    assert_error(client.post(f"/api/v1/webhooks/{theirs.id}/events", headers=bearer(token), json={"events": []}), 404)
    assert_error(client.get("/api/v1/webhooks", headers=bearer("pdp_nope")), 401)
    assert_error(client.get("/api/v1/webhooks"), 401)
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, theirs.id).disabled_at is None


def test_a_disabled_webhook_is_409_for_test_rotate_and_filter(client, db, admin_token):
    _, token = admin_token
    webhook = _create(client, token).get_json()
    disabled = client.post(f"/api/v1/webhooks/{webhook['id']}/disable", headers=bearer(token))
    assert disabled.status_code == 200 and disabled.get_json()["disabled_at"]
    assert client.post(f"/api/v1/webhooks/{webhook['id']}/disable", headers=bearer(token)).status_code == 200
    assert_error(client.post(f"/api/v1/webhooks/{webhook['id']}/test", headers=bearer(token)), 409)
    assert_error(client.post(f"/api/v1/webhooks/{webhook['id']}/rotate-secret", headers=bearer(token), json={}), 409)
    assert_error(client.post(f"/api/v1/webhooks/{webhook['id']}/events", headers=bearer(token),
                            json={"events": []}), 409)
