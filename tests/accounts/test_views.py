"""Sign-in, sign-out, workspace switching, environment keys and personal access tokens (HTML)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from webapp.accounts.models import ApiToken, TokenKind
from webapp.audit.models import AuditEvent


def _shown_secret(html: str, prefix: str) -> str:
    match = re.search(rf'value="({prefix}[^"]+)"', html)
    assert match, f"no {prefix} secret shown on the page"
    return match.group(1)


# -- sign-in ----------------------------------------------------------------------------------------


def test_login_with_right_password_signs_in_and_lands_on_processes(auth, factories):
    actor = factories.user("viewer")
    response = auth.login(actor.label)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/")
    assert auth.client.get("/settings/tokens").status_code == 200


def test_login_with_wrong_password_answers_401_with_message(auth, factories):
    actor = factories.user("viewer")
    response = auth.login(actor.label, "wrong-password")
    assert response.status_code == 401
    assert "E-mail or password is wrong." in response.get_data(as_text=True)
    assert auth.client.get("/settings/tokens").status_code == 302


def test_login_is_throttled_after_max_failures_even_with_right_password(app, auth, db, factories):
    actor = factories.user("viewer")
    for _ in range(app.config["SETTINGS"].LOGIN_MAX_FAILURES):
        assert auth.login(actor.label, "wrong-password").status_code == 401
    response = auth.login(actor.label)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == str(app.config["SETTINGS"].LOGIN_FAILURE_WINDOW_SECONDS)
    assert "Too many failed sign-ins" in response.get_data(as_text=True)
    failures = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login_failed")).all()
    assert len(failures) == app.config["SETTINGS"].LOGIN_MAX_FAILURES


@pytest.mark.parametrize("target, expected", [
    ("/audit", "/audit"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example", "/"),
])
def test_login_follows_next_only_to_a_relative_path(auth, factories, target, expected):
    actor = factories.user("viewer")
    response = auth.client.post("/login", data={"email": actor.label, "password": factories.PASSWORD,
                                                "next": target, "csrf_token": auth.csrf})
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_login_renews_the_session_so_the_old_csrf_token_dies(auth, factories):
    actor = factories.user("viewer")
    old_token = auth.csrf
    auth.login(actor.label)
    response = auth.client.post("/settings/tokens", data={"csrf_token": old_token})
    assert response.status_code == 400


def test_logout_signs_out(auth, factories):
    actor = factories.user("viewer")
    auth.login(actor.label)
    assert auth.logout().status_code == 302
    response = auth.client.get("/settings/tokens")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_switch_workspace_changes_the_current_workspace(auth, factories):
    actor = factories.user("admin", "Acme")
    other = factories.user("viewer", "Globex", email=actor.label)
    auth.login(actor.label)
    assert "Acme" in auth.client.get("/settings/keys").get_data(as_text=True).split("<main")[1]
    response = auth.post("/workspaces/switch", data={"workspace_id": other.workspace_id})
    assert response.status_code == 302
    assert "Globex" in auth.client.get("/settings/tokens").get_data(as_text=True).split("<main")[1]
    assert auth.client.get("/settings/keys").status_code == 403  # a viewer there


def test_switch_to_a_workspace_you_are_not_a_member_of_is_404(auth, factories):
    actor = factories.user("admin", "Acme")
    stranger = factories.user("admin", "Initech")
    auth.login(actor.label)
    response = auth.post("/workspaces/switch", data={"workspace_id": stranger.workspace_id})
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/", "/settings/keys", "/settings/tokens", "/settings/webhooks", "/audit",
                                  "/audit/export?format=csv", "/jobs"])
def test_pages_redirect_anonymous_visitors_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


# -- environment keys -----------------------------------------------------------------------------


def test_admin_creates_key_shown_once_and_only_its_hash_is_stored(auth, db, factories):
    admin = factories.user("admin")
    auth.login(admin.label)
    response = auth.post("/settings/keys", data={"environment": "production", "name": "checkout"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    key = _shown_secret(html, "pdk_production")
    assert "it will not be shown again" in html
    row = db.session.scalar(select(ApiToken).where(ApiToken.name == "checkout"))
    assert key not in {row.token_hash, row.prefix, row.name} and key.startswith(row.prefix)
    assert key not in auth.client.get("/settings/keys").get_data(as_text=True)


def test_key_created_by_htmx_comes_back_as_the_fragment(auth, factories):
    admin = factories.user("admin")
    auth.login(admin.label)
    response = auth.post("/settings/keys", htmx=True, data={"environment": "sandbox"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    _shown_secret(html, "pdk_sandbox")


def test_revoked_key_can_no_longer_serve(auth, client, factories):
    admin = factories.user("admin")
    proc = factories.process(admin)
    factories.production(admin, proc)
    auth.login(admin.label)
    html = auth.post("/settings/keys", data={"environment": "production"}).get_data(as_text=True)
    key = _shown_secret(html, "pdk_production")
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get(f"/api/v1/serve/{proc.slug}", headers=headers).status_code == 200
    token_id = int(re.search(r'/settings/keys/(\d+)/revoke', html).group(1))
    response = auth.post(f"/settings/keys/{token_id}/revoke", htmx=True)
    assert response.status_code == 200 and "toast" in response.headers["HX-Trigger"]
    assert client.get(f"/api/v1/serve/{proc.slug}", headers=headers).status_code == 401


@pytest.mark.parametrize("role", ["viewer", "editor", "promoter"])
def test_below_admin_neither_sees_nor_creates_keys(auth, db, factories, role):
    member = factories.user(role)
    factories.environment_key(factories.user("admin"))
    auth.login(member.label)
    assert auth.client.get("/settings/keys").status_code == 403
    assert auth.get("/settings/keys", htmx=True).status_code == 403
    assert ">Keys</a>" not in auth.client.get("/settings/tokens").get_data(as_text=True)
    response = auth.post("/settings/keys", data={"environment": "production"})
    assert response.status_code == 403
    assert len(db.session.scalars(select(ApiToken)).all()) == 1


def test_revoking_a_key_of_another_workspace_is_404(auth, db, factories):
    admin = factories.user("admin", "Acme")
    stranger = factories.user("admin", "Initech")
    factories.environment_key(stranger)
    foreign = db.session.scalar(select(ApiToken))
    auth.login(admin.label)
    assert auth.post(f"/settings/keys/{foreign.id}/revoke").status_code == 404
    db.session.refresh(foreign)
    assert foreign.revoked_at is None


def test_the_keys_route_does_not_revoke_a_personal_token_and_vice_versa(auth, db, factories):
    admin = factories.user("admin")
    factories.personal_token(admin)
    factories.environment_key(admin)
    token = db.session.scalar(select(ApiToken).where(ApiToken.kind == TokenKind.personal))
    key = db.session.scalar(select(ApiToken).where(ApiToken.kind == TokenKind.environment))
    auth.login(admin.label)
    assert auth.post(f"/settings/keys/{token.id}/revoke").status_code == 404
    assert auth.post(f"/settings/tokens/{key.id}/revoke").status_code == 404
    db.session.refresh(token)
    db.session.refresh(key)
    assert token.revoked_at is None and key.revoked_at is None


# -- personal access tokens -------------------------------------------------------------------------


def test_any_member_creates_and_revokes_their_own_token(auth, client, db, factories):
    viewer = factories.user("viewer")
    auth.login(viewer.label)
    html = auth.post("/settings/tokens", data={"name": "script"}).get_data(as_text=True)
    token = _shown_secret(html, "pdp")
    assert client.get("/api/v1/processes", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    row = db.session.scalar(select(ApiToken).where(ApiToken.kind == TokenKind.personal))
    response = auth.post(f"/settings/tokens/{row.id}/revoke")
    assert response.status_code == 302
    db.session.refresh(row)
    assert row.revoked_at is not None
    assert client.get("/api/v1/processes", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_member_cannot_revoke_someone_elses_token(auth, db, factories):
    owner = factories.user("editor")
    factories.personal_token(owner)
    other = factories.user("editor")
    row = db.session.scalar(select(ApiToken))
    auth.login(other.label)
    assert auth.post(f"/settings/tokens/{row.id}/revoke").status_code == 403
