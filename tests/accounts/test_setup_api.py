"""Environment keys and personal access tokens over JSON (create, list, revoke), so a workspace can be set up
from CI: the token in its creation answer only, keys for admins, personal tokens one's own."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import bearer
from tests.processes.test_api import assert_error
from webapp.accounts.models import ApiToken, TokenKind


@pytest.fixture
def admin_token(factories):
    actor = factories.user("admin", workspace="Acme")
    return actor, factories.personal_token(actor)


def test_an_admin_creates_a_production_key_that_serves_and_is_shown_once(client, db, factories, admin_token):
    actor, token = admin_token
    proc = factories.process(actor, "Greeter")
    factories.production(actor, proc)
    response = client.post("/api/v1/keys", headers=bearer(token), json={"environment": "production", "name": "ci"})
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    key = response.get_json()
    assert key["token"].startswith("pdk_production_") and key["environment"] == "production"
    assert key["token"].startswith(key["prefix"]) and key["user"] is None
    assert client.get(f"/api/v1/serve/{proc.slug}", headers=bearer(key["token"])).status_code == 200
    listed = client.get("/api/v1/keys", headers=bearer(token))
    assert listed.status_code == 200 and key["token"] not in listed.get_data(as_text=True)
    assert [k["id"] for k in listed.get_json()] == [key["id"]]
    assert db.session.get(ApiToken, key["id"]).token_hash != key["token"]

    revoked = client.post(f"/api/v1/keys/{key['id']}/revoke", headers=bearer(token))
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"]
    assert client.get(f"/api/v1/serve/{proc.slug}", headers=bearer(key["token"])).status_code == 401


@pytest.mark.parametrize(("body", "status"), [({"environment": "staging"}, 400), ({}, 400),
                                              ({"environment": "sandbox", "name": "x" * 121}, 422),
                                              ({"environment": "sandbox", "name": 3}, 400)])
def test_a_bad_key_body_is_a_clear_4xx_and_writes_nothing(client, db, admin_token, body, status):
    _, token = admin_token
    assert_error(client.post("/api/v1/keys", headers=bearer(token), json=body), status)
    assert db.session.scalars(select(ApiToken).where(ApiToken.kind == TokenKind.environment)).all() == []


@pytest.mark.parametrize("role", ["viewer", "editor", "promoter"])
def test_below_admin_the_keys_api_is_403_and_writes_nothing(client, db, factories, role):
    actor = factories.user(role, workspace="Acme")
    token = factories.personal_token(actor)
    admin = factories.user("admin", workspace="Acme")
    key = factories.environment_key(admin)
    key_id = db.session.scalar(select(ApiToken.id).where(ApiToken.kind == TokenKind.environment))
    assert_error(client.get("/api/v1/keys", headers=bearer(token)), 403)
    assert_error(client.post("/api/v1/keys", headers=bearer(token), json={"environment": "production"}), 403)
    assert_error(client.post(f"/api/v1/keys/{key_id}/revoke", headers=bearer(token)), 403)
    assert len(db.session.scalars(select(ApiToken).where(ApiToken.kind == TokenKind.environment)).all()) == 1
    db.session.expire_all()
    assert db.session.get(ApiToken, key_id).revoked_at is None and key


def test_a_member_creates_lists_and_revokes_their_own_personal_tokens(client, db, factories):
    member = factories.user("viewer", workspace="Acme")
    token = factories.personal_token(member)
    other = factories.user("editor", workspace="Acme")
    factories.personal_token(other)
    response = client.post("/api/v1/tokens", headers=bearer(token), json={"name": "deploy"})
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    created = response.get_json()
    assert created["token"].startswith("pdp_") and created["user"] == member.label
    assert client.get("/api/v1/processes", headers=bearer(created["token"])).status_code == 200  # it works
    listed = client.get("/api/v1/tokens", headers=bearer(token)).get_json()
    assert {t["user"] for t in listed} == {member.label} and len(listed) == 2  # not the editor's
    assert all("token" not in t for t in listed)
    revoked = client.post(f"/api/v1/tokens/{created['id']}/revoke", headers=bearer(token))
    assert revoked.status_code == 200
    assert_error(client.get("/api/v1/processes", headers=bearer(created["token"])), 401)


def test_a_member_cannot_revoke_someone_elses_token_but_an_admin_can(client, db, factories, admin_token):
    _, admin_pat = admin_token
    member = factories.user("promoter", workspace="Acme")
    member_pat = factories.personal_token(member)
    other = factories.user("editor", workspace="Acme")
    factories.personal_token(other)
    other_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == other.user_id))
    assert_error(client.post(f"/api/v1/tokens/{other_id}/revoke", headers=bearer(member_pat)), 403)
    db.session.expire_all()
    assert db.session.get(ApiToken, other_id).revoked_at is None
    assert len(client.get("/api/v1/tokens", headers=bearer(admin_pat)).get_json()) == 3  # everyone's
    assert client.post(f"/api/v1/tokens/{other_id}/revoke", headers=bearer(admin_pat)).status_code == 200


def test_another_workspaces_key_or_token_is_404(client, db, factories, admin_token):
    _, token = admin_token
    globex = factories.user("admin", workspace="Globex")
    factories.environment_key(globex)
    factories.personal_token(globex)
    for kind, path in ((TokenKind.environment, "keys"), (TokenKind.personal, "tokens")):
        theirs = db.session.scalar(select(ApiToken.id).where(ApiToken.workspace_id == globex.workspace_id,
                                                              ApiToken.kind == kind))
        assert_error(client.post(f"/api/v1/{path}/{theirs}/revoke", headers=bearer(token)), 404)
        db.session.expire_all()
        assert db.session.get(ApiToken, theirs).revoked_at is None
    assert_error(client.post("/api/v1/keys/999999/revoke", headers=bearer(token)), 404)
