"""Reviewing a promotion request from chat: a bot with the workspace's bot token approves or rejects for the
member behind a linked chat identity, with the same rules as the dashboard (the member's role, the policy's
approver role, never their own request unless the policy allows it, once per member). A forged token is 401, an
unlinked identity 404, a replay 409, another workspace's request 404 before the body is read — and none of
them writes anything."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import bearer
from webapp.audit.models import AuditEvent
from webapp.extensions import utcnow
from webapp.gamenight import night_settings
from webapp.governance import services as governance
from webapp.governance.models import Approval, PromotionRequest, RequestState
from webapp.notify.models import Channel, Contact
from webapp.processes import promotion
from webapp.processes.documents import current_production

BOT = "/api/v1/bot/promotion-requests"


def link(db, actor, external_id: str, *, confirmed: bool = True) -> dict[str, str]:
    """`actor`'s Discord identity, linked (confirmed) or only started; the body fields a bot sends for it."""
    db.session.add(Contact(workspace_id=actor.workspace_id, user_id=actor.user_id, channel=Channel.discord,
                           external_id=external_id, confirmed_at=utcnow() if confirmed else None))
    db.session.commit()
    return {"channel": "discord", "external_id": external_id}


@pytest.fixture
def acme(db, factories):
    """Acme's admin, a requester (alice), a second promoter (bob, linked), an editor (eve, linked), the bot token,
    and alice's open request to promote a version of "Support bot" under a one-approval policy."""
    admin = factories.user("admin", "Acme", email="admin@example.com")
    alice = factories.user("promoter", "Acme", email="alice@example.com")
    bob = factories.user("promoter", "Acme", email="bob@example.com")
    eve = factories.user("editor", "Acme", email="eve@example.com")
    proc = factories.process(alice, "Support bot")
    factories.production(alice, proc, {"prompt": "v1"})
    version = factories.version(alice, proc, {"prompt": "v2"})
    governance.set_policy(admin, "workspace", governance.PolicyCommand(required_approvals=1))
    token = promotion.promotion_preview(alice, version.id).token
    request = governance.request_promotion(alice, governance.RequestCommand(flow="process", source=version.id,
                                                                            preview_token=token))
    return {"admin": admin, "alice": alice, "bob": bob, "eve": eve, "version": version, "request": request.id,
            "bot": bearer(night_settings.rotate_bot_token(admin)),
            "bob_id": link(db, bob, "bob#1"), "eve_id": link(db, eve, "eve#1"), "alice_id": link(db, alice, "al#1")}


def written(db) -> dict[str, object]:
    db.session.expire_all()
    return {"approvals": db.session.scalar(select(func.count()).select_from(Approval)),
            "audit": db.session.scalar(select(func.count()).select_from(AuditEvent)),
            "states": [r.state for r in db.session.scalars(select(PromotionRequest).order_by(PromotionRequest.id))]}


def refused(response, status: int, code: str | None = None) -> None:
    body = response.get_json()
    assert response.status_code == status, body
    assert body["message"] and (code is None or body["error"] == code), body


def test_a_bot_approves_for_the_linked_member_and_the_history_says_who_and_how(client, db, acme):
    response = client.post(f"{BOT}/{acme['request']}/approve", json=acme["bob_id"] | {"comment": "ship it"},
                           headers=acme["bot"])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["state"] == "approved" and body["may_review"] is False  # bob has reviewed it now
    assert [(d["by"], d["decision"], d["comment"]) for d in body["decisions"]] == [
        ("bob@example.com", "approve", "ship it")]
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "promotion.approved")).one()
    assert event.actor_id == acme["bob"].user_id and event.actor_label == "bob@example.com via bot (discord)"
    row, _ = governance.apply(acme["alice"], acme["request"])  # what the bot approved applies as reviewed
    assert row.state is RequestState.applied and current_production(acme["version"].process_id).number == 4


def test_a_bot_rejects_with_the_members_comment(client, db, acme):
    response = client.post(f"{BOT}/{acme['request']}/reject", json=acme["bob_id"] | {"comment": "tone is off"},
                           headers=acme["bot"])
    assert response.status_code == 200 and response.get_json()["state"] == "rejected"
    assert db.session.get(PromotionRequest, acme["request"]).decisions[0].comment == "tone is off"


def test_a_replayed_approval_is_409_already_reviewed_and_writes_nothing(client, db, factories, acme):
    governance.set_policy(acme["admin"], "workspace", governance.PolicyCommand(required_approvals=2))
    other = factories.version(acme["alice"], acme["version"].process, {"prompt": "v3"})
    token = promotion.promotion_preview(acme["alice"], other.id).token
    governance.withdraw(acme["alice"], acme["request"])
    two = governance.request_promotion(acme["alice"], governance.RequestCommand(flow="process", source=other.id,
                                                                                preview_token=token)).id
    assert client.post(f"{BOT}/{two}/approve", json=acme["bob_id"], headers=acme["bot"]).status_code == 200
    before = written(db)
    refused(client.post(f"{BOT}/{two}/approve", json=acme["bob_id"], headers=acme["bot"]), 409, "already_reviewed")
    refused(client.post(f"{BOT}/{two}/reject", json=acme["bob_id"], headers=acme["bot"]), 409, "already_reviewed")
    assert written(db) == before and db.session.get(PromotionRequest, two).state is RequestState.open


@pytest.mark.parametrize("token", ["pdb_forged", "", "not-even-a-bot-token"])
def test_a_forged_or_missing_bot_token_is_401_and_writes_nothing(client, db, acme, token):
    before = written(db)
    headers = bearer(token) if token else {}
    refused(client.post(f"{BOT}/{acme['request']}/approve", json=acme["bob_id"], headers=headers), 401)
    assert written(db) == before


def test_a_personal_token_is_no_bot_token(client, db, factories, acme):
    personal = bearer(factories.personal_token(acme["bob"]))
    before = written(db)
    refused(client.post(f"{BOT}/{acme['request']}/approve", json=acme["bob_id"], headers=personal), 401)
    assert written(db) == before


def test_an_unlinked_or_unconfirmed_identity_is_404_not_linked_and_writes_nothing(client, db, factories, acme):
    dan = factories.user("promoter", "Acme", email="dan@example.com")
    half = link(db, dan, "dan#1", confirmed=False)
    before = written(db)
    for identity in ({"channel": "discord", "external_id": "nobody#0"}, half,
                     {"channel": "telegram", "external_id": "bob#1"}):
        refused(client.post(f"{BOT}/{acme['request']}/approve", json=identity, headers=acme["bot"]), 404,
                "not_linked")
    assert written(db) == before


@pytest.mark.parametrize(("who", "policy", "status"), [
    ("eve_id", {}, 403),  # an editor may not review
    ("alice_id", {}, 403),  # the requester, under a policy that does not let them
    ("bob_id", {"approver_role": "admin"}, 403),  # a promoter, where admins approve
    ("alice_id", {"requester_may_approve": True}, 200),
])
def test_the_dashboards_rules_hold_for_the_member_behind_the_bot(client, db, factories, acme, who, policy, status):
    governance.withdraw(acme["alice"], acme["request"])
    governance.set_policy(acme["admin"], "workspace", governance.PolicyCommand(required_approvals=1, **policy))
    token = promotion.promotion_preview(acme["alice"], acme["version"].id).token
    request = governance.request_promotion(acme["alice"], governance.RequestCommand(
        flow="process", source=acme["version"].id, preview_token=token)).id
    before = written(db)
    response = client.post(f"{BOT}/{request}/approve", json=acme[who], headers=acme["bot"])
    assert response.status_code == status, response.get_json()
    if status != 200:
        assert written(db) == before


def test_another_workspaces_request_is_404_before_the_body_is_read_and_writes_nothing(client, db, factories, acme):
    globex = factories.user("admin", "Globex", email="g@globex.example")
    their_bot = bearer(night_settings.rotate_bot_token(globex))
    link(db, globex, "bob#1")  # the same chat identity, linked in Globex
    before = written(db)
    for body in (acme["bob_id"], {}, {"channel": 5}):
        refused(client.post(f"{BOT}/{acme['request']}/approve", json=body, headers=their_bot), 404)
    refused(client.post(f"{BOT}/999999999/approve", json={}, headers=acme["bot"]), 404)
    assert written(db) == before


@pytest.mark.parametrize("body", [{}, {"channel": "discord"}, {"channel": "irc", "external_id": "bob#1"},
                                  {"channel": "discord", "external_id": "bob#1", "comment": 5}], ids=str)
def test_a_bot_body_of_the_wrong_shape_is_400_and_writes_nothing(client, db, acme, body):
    before = written(db)
    refused(client.post(f"{BOT}/{acme['request']}/approve", json=body, headers=acme["bot"]), 400)
    assert written(db) == before
