"""The audit API (personal access tokens), held to the DESIGN.md v1 contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import bearer
from tests.processes.test_api import assert_error
from webapp.processes import promotion

# -- audit --------------------------------------------------------------------------------------


def test_audit_api_filters_by_action_prefix_and_since_newest_first(client, factories, promoter_and_token):
    actor, token = promoter_and_token
    proc = factories.process(actor)
    factories.version(actor, proc)  # before `since`
    since = datetime.now(UTC) - timedelta(microseconds=1)
    later = factories.version(actor, proc)
    promoted = promotion.promote(actor, later.id).promoted
    response = client.get("/api/v1/audit", headers=bearer(token),
                          query_string={"action": "version", "since": since.isoformat()})
    assert response.status_code == 200
    events = response.get_json()
    assert [(e["action"], e["resource_id"]) for e in events] == [
        ("version.promoted", str(promoted.id)),
        ("version.activated", str(later.id)),
        ("version.created", str(later.id)),
    ]
    assert set(events[0]) >= {"id", "action", "actor", "resource_type", "resource_id", "details", "created_at"}
    assert events[0]["actor"] == actor.label


def test_audit_api_rejects_a_malformed_since_with_400(client, promoter_and_token):
    assert_error(client.get("/api/v1/audit", headers=bearer(promoter_and_token[1]), query_string={"since": "yesterday"}), 400)


def test_audit_api_shows_only_the_tokens_workspace(client, factories):
    a = factories.user("admin", workspace="Acme")
    factories.process(a)
    other = factories.personal_token(factories.user("admin", workspace="Globex"))
    actions = [e["action"] for e in client.get("/api/v1/audit", headers=bearer(other)).get_json()]
    assert "process.created" not in actions


def test_a_personal_token_acts_with_its_users_current_role_and_is_refused_once_revoked_or_its_user_left(
        client, db, factories):
    from webapp.accounts import services as accounts
    from webapp.accounts.models import Membership, Role

    viewer = factories.user("viewer")
    token = factories.personal_token(viewer)
    assert client.get("/api/v1/processes", headers=bearer(token)).status_code == 200
    membership = db.session.scalars(db.select(Membership).filter_by(user_id=viewer.user_id)).one()
    membership.role = Role.promoter  # the role is read on each request, not kept with the token
    db.session.commit()
    assert accounts.actor_for_personal_token(token).role is Role.promoter
    db.session.delete(membership)
    db.session.commit()
    left = client.get("/api/v1/processes", headers=bearer(token))
    assert left.status_code == 401 and "no longer a member" in left.get_json()["message"]
    admin = factories.user("admin")
    revoked = factories.personal_token(admin)
    key = factories.environment_key(admin)
    [row] = [t for t in accounts.list_tokens(admin, accounts.TokenKind.personal) if t.user_id == admin.user_id]
    accounts.revoke_token(admin, row.id, accounts.TokenKind.personal)
    for wrong in (revoked, key, "pdp_nonsense"):  # revoked, a serving key, no such token
        answer = client.get("/api/v1/processes", headers=bearer(wrong))
        assert answer.status_code == 401 and "not valid or has been revoked" in answer.get_json()["message"]
    assert client.get("/api/v1/processes").status_code == 401
