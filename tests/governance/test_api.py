"""The governance JSON API (personal access tokens): promotion requests from request to apply, the approval
policies and the review opt-in, the policy matrix (who may request, approve, apply) through HTTP, and the rule
that every refusal — a bad body, a role too low, a replay, another workspace's id — is a 4xx that writes
nothing. The direct promote routes answer 409 `approval_required` under a policy, and take an admin's
`override_reason`."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import bearer
from webapp.audit.models import AuditEvent
from webapp.errors import Forbidden
from webapp.governance.models import Approval, ApprovalPolicy, PromotionRequest, ReviewSubscription
from webapp.outbox.models import OutboxEffect
from webapp.processes import promotion
from webapp.processes.documents import current_production
from webapp.worlds import promotion as world_promotion

REQUESTS = "/api/v1/promotion-requests"
HUGE = str(10**30)


class Member:
    """An actor of the test workspace and the headers of their personal access token."""

    def __init__(self, factories, role: str, email: str, workspace: str = "Acme") -> None:
        self.actor = factories.user(role, workspace, email=email)
        self.headers = bearer(factories.personal_token(self.actor))


@pytest.fixture
def team(factories):
    return {name: Member(factories, role, f"{name}@example.com") for name, role in (
        ("admin", "admin"), ("alice", "promoter"), ("bob", "promoter"), ("eve", "editor"), ("vic", "viewer"))}


@pytest.fixture
def version(factories, team):
    """A sandbox version of "Support bot" (production v2), ready to promote: v3."""
    alice = team["alice"].actor
    proc = factories.process(alice, "Support bot")
    factories.production(alice, proc, {"prompt": "v1"})
    return factories.version(alice, proc, {"prompt": "v2"})


def set_policy(client, team, subject="workspace", **policy):
    response = client.post(f"/api/v1/approval-policies/{subject}", json={"required_approvals": 1, **policy},
                           headers=team["admin"].headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ask(client, member, version, **extra):
    try:
        token = promotion.promotion_preview(member.actor, version.id).token
    except Forbidden:  # an editor or a viewer sees no preview; their request is refused all the same
        token = ""
    return client.post(REQUESTS, json={"flow": "process", "source": version.id, "preview_token": token, **extra},
                       headers=member.headers)


def written(db) -> dict[str, int]:
    """Rows of every table governance writes, and each request's state: a refusal changes none of it."""
    counts = {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
              for model in (PromotionRequest, Approval, ApprovalPolicy, ReviewSubscription, AuditEvent, OutboxEffect)}
    db.session.expire_all()
    return counts | {f"request {r.id}": r.state.value for r in db.session.scalars(select(PromotionRequest))}


def refused(response, status: int, code: str | None = None) -> dict:
    body = response.get_json()
    assert response.status_code == status, body
    assert body["message"] and (code is None or body["error"] == code), body
    return body


# -- the whole path --------------------------------------------------------------------------------------------


def test_a_request_is_approved_by_a_second_promoter_and_applied_by_the_requester_over_the_api(
        client, db, team, version):
    set_policy(client, team)
    created = ask(client, team["alice"], version, change_notes="friendlier")
    assert created.status_code == 201, created.get_json()
    request = created.get_json()
    assert request["state"] == "open" and request["title"] == "Support bot v3 → production"
    assert request["requested_by"] == "alice@example.com" and request["required_approvals"] == 1
    assert request["may_review"] is False  # alice asked: someone else must review it
    assert client.get(f"{REQUESTS}/{request['id']}", headers=team["bob"].headers).get_json()["may_review"] is True

    approved = client.post(f"{REQUESTS}/{request['id']}/approve", json={"comment": "looks right"},
                           headers=team["bob"].headers)
    assert approved.status_code == 200 and approved.get_json()["state"] == "approved"
    assert approved.get_json()["decisions"][0] | {"at": None} == {
        "by": "bob@example.com", "decision": "approve", "comment": "looks right", "at": None}
    applied = client.post(f"{REQUESTS}/{request['id']}/apply", headers=team["alice"].headers)
    assert applied.status_code == 200, applied.get_json()
    body = applied.get_json()
    assert body["state"] == "applied" and body["applied_by"] == "alice@example.com"
    assert body["outcome"]["result"]["promoted_version"]["version"] == 4
    assert current_production(version.process_id).number == 4


def test_the_list_filters_by_state_and_waiting_is_open_and_approved(client, db, team, factories, version):
    set_policy(client, team)
    first = ask(client, team["alice"], version).get_json()
    other = factories.version(team["alice"].actor, version.process, {"prompt": "v3"})
    client.post(f"{REQUESTS}/{first['id']}/withdraw", headers=team["alice"].headers)
    second = ask(client, team["alice"], other).get_json()

    def ids(query: str) -> list[int]:
        response = client.get(f"{REQUESTS}{query}", headers=team["vic"].headers)
        assert response.status_code == 200, response.get_json()
        return [r["id"] for r in response.get_json()]

    assert ids("") == [second["id"], first["id"]]  # newest first, any member may read them
    assert ids("?state=withdrawn") == [first["id"]]
    assert ids("?state=waiting") == [second["id"]]
    assert ids("?state=applied") == []
    assert ids("?limit=1") == [second["id"]]
    refused(client.get(f"{REQUESTS}?state=lost", headers=team["vic"].headers), 400)
    refused(client.get(f"{REQUESTS}?limit=0", headers=team["vic"].headers), 400)


def test_a_rejection_keeps_its_comment_and_the_request_cannot_be_applied(client, db, team, version):
    set_policy(client, team)
    request = ask(client, team["alice"], version).get_json()
    rejected = client.post(f"{REQUESTS}/{request['id']}/reject", json={"comment": "the tone is off"},
                           headers=team["bob"].headers)
    assert rejected.status_code == 200 and rejected.get_json()["state"] == "rejected"
    assert rejected.get_json()["decisions"][0]["comment"] == "the tone is off"
    before = written(db)
    refused(client.post(f"{REQUESTS}/{request['id']}/apply", headers=team["alice"].headers), 409,
            "request_not_approved")
    assert written(db) == before and current_production(version.process_id).number == 2


def test_apply_when_approved_applies_with_the_last_approval(client, db, team, version):
    set_policy(client, team, required_approvals=2)
    request = ask(client, team["alice"], version, apply_when_approved=True).get_json()
    once = client.post(f"{REQUESTS}/{request['id']}/approve", headers=team["bob"].headers).get_json()
    assert once["state"] == "open"
    twice = client.post(f"{REQUESTS}/{request['id']}/approve", json={}, headers=team["admin"].headers).get_json()
    assert twice["state"] == "applied" and current_production(version.process_id).number == 4


def test_only_the_requester_or_an_admin_withdraws(client, db, team, version):
    set_policy(client, team)
    request = ask(client, team["alice"], version).get_json()
    before = written(db)
    refused(client.post(f"{REQUESTS}/{request['id']}/withdraw", headers=team["bob"].headers), 403)
    assert written(db) == before
    withdrawn = client.post(f"{REQUESTS}/{request['id']}/withdraw", headers=team["alice"].headers)
    assert withdrawn.status_code == 200 and withdrawn.get_json()["state"] == "withdrawn"
    refused(client.post(f"{REQUESTS}/{request['id']}/withdraw", headers=team["admin"].headers), 409,
            "request_not_open")


def test_a_request_gone_stale_answers_409_with_the_fresh_preview(client, db, team, factories, version):
    set_policy(client, team)
    request = ask(client, team["alice"], version).get_json()
    hotfix = factories.version(team["alice"].actor, version.process, {"prompt": "hotfix"})
    promotion.promote(team["admin"].actor, hotfix.id, override_reason="outage")
    stale = refused(client.post(f"{REQUESTS}/{request['id']}/approve", headers=team["bob"].headers), 409,
                    "request_stale")
    assert stale["details"]["current_production"]["version"] == 5 and stale["details"]["state"] == "stale"
    assert client.get(f"{REQUESTS}/{request['id']}", headers=team["bob"].headers).get_json()["state"] == "stale"


def test_a_world_area_is_requested_by_its_owner_and_applied_after_approval(client, db, team, factories):
    set_policy(client, team, subject="worlds")
    alice, bob = team["alice"], team["bob"]
    project = factories.build_project(alice.actor)
    room = factories.live_room(team["admin"].actor)
    token = world_promotion.promotion_preview(alice.actor, project.id, room.id, "north").token
    body = {"flow": "world", "source": [project.id, room.id, "north"], "preview_token": token}
    refused(client.post(REQUESTS, json=body, headers=bob.headers), 403)  # not the project's owner
    created = client.post(REQUESTS, json=body, headers=alice.headers)
    assert created.status_code == 201, created.get_json()
    request = created.get_json()
    assert request["flow"] == "world" and request["build_project_id"] == project.id
    client.post(f"{REQUESTS}/{request['id']}/approve", headers=bob.headers)
    applied = client.post(f"{REQUESTS}/{request['id']}/apply", headers=bob.headers)
    assert applied.status_code == 200 and applied.get_json()["state"] == "applied"


# -- refusals write nothing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    {}, {"flow": "process"}, {"flow": "deploy", "source": 1}, {"flow": "process", "source": "three"},
    {"flow": "process", "source": [1, 2, "north"]}, {"flow": "process", "source": True},
    {"flow": "world", "source": 3}, {"flow": "world", "source": [1, 2]}, {"flow": "world", "source": [1, "x", "n"]},
    {"flow": "process", "source": 1, "apply_when_approved": "yes"}, {"flow": "process", "source": 1,
                                                                     "change_notes": 5},
], ids=lambda b: str(b))
def test_a_request_body_of_the_wrong_shape_is_400_and_writes_nothing(client, db, team, version, body):
    set_policy(client, team)
    before = written(db)
    refused(client.post(REQUESTS, json=body, headers=team["alice"].headers), 400)
    assert written(db) == before


def test_a_request_for_an_unknown_source_is_404_and_writes_nothing(client, db, team, version):
    set_policy(client, team)
    before = written(db)
    refused(client.post(REQUESTS, json={"flow": "process", "source": 999_999}, headers=team["alice"].headers), 404)
    refused(client.post(REQUESTS, json={"flow": "world", "source": [999_999, 1, "north"]},
                        headers=team["alice"].headers), 404)
    assert written(db) == before


def test_requests_that_are_not_needed_or_not_allowed_or_already_open_write_nothing(client, db, team, version):
    before = written(db)
    refused(ask(client, team["alice"], version), 409, "approval_not_required")  # no policy yet
    assert written(db) == before
    set_policy(client, team)
    before = written(db)
    refused(ask(client, team["eve"], version), 403)
    refused(ask(client, team["vic"], version), 403)
    assert written(db) == before
    first = ask(client, team["alice"], version).get_json()
    before = written(db)
    again = refused(ask(client, team["bob"], version), 409, "request_open")
    assert again["details"] == {"request_id": first["id"]} and written(db) == before


def test_a_stale_preview_token_is_409_production_changed_and_writes_nothing(client, db, team, factories, version):
    set_policy(client, team)
    token = promotion.promotion_preview(team["alice"].actor, version.id).token
    hotfix = factories.version(team["alice"].actor, version.process, {"prompt": "hotfix"})
    promotion.promote(team["admin"].actor, hotfix.id, override_reason="outage")
    before = written(db)
    refused(client.post(REQUESTS, json={"flow": "process", "source": version.id, "preview_token": token},
                        headers=team["alice"].headers), 409, "production_changed")
    assert written(db) == before


def test_reviewing_twice_reviewing_your_own_and_reviewing_below_the_role_write_nothing(client, db, team, version):
    set_policy(client, team, required_approvals=2)
    request = ask(client, team["alice"], version).get_json()
    url = f"{REQUESTS}/{request['id']}"
    assert client.post(f"{url}/approve", headers=team["bob"].headers).status_code == 200
    before = written(db)
    refused(client.post(f"{url}/approve", headers=team["bob"].headers), 409, "already_reviewed")
    refused(client.post(f"{url}/reject", headers=team["bob"].headers), 409, "already_reviewed")
    refused(client.post(f"{url}/approve", headers=team["alice"].headers), 403)
    refused(client.post(f"{url}/approve", headers=team["eve"].headers), 403)
    refused(client.post(f"{url}/apply", headers=team["alice"].headers), 409, "request_not_approved")
    refused(client.post(f"{url}/approve", json={"comment": 5}, headers=team["admin"].headers), 400)
    refused(client.post(f"{url}/approve", data=b"{", content_type="application/json",
                        headers=team["admin"].headers), 400)
    assert written(db) == before


@pytest.mark.parametrize("action", ["approve", "reject", "apply", "withdraw"])
def test_another_workspaces_request_is_404_before_the_body_is_read_and_writes_nothing(
        client, db, factories, team, version, action):
    set_policy(client, team)
    request = ask(client, team["alice"], version).get_json()
    outsider = Member(factories, "admin", "olga@globex.example", workspace="Globex")
    before = written(db)
    for body in ({}, {"comment": ["not", "text"]}):
        refused(client.post(f"{REQUESTS}/{request['id']}/{action}", json=body, headers=outsider.headers), 404)
    refused(client.get(f"{REQUESTS}/{request['id']}", headers=outsider.headers), 404)
    refused(client.post(f"{REQUESTS}/{HUGE}/{action}", json={}, headers=team["admin"].headers), 404)
    assert client.get(REQUESTS, headers=outsider.headers).get_json() == []
    assert written(db) == before


def test_without_a_token_every_governance_route_is_401(client, db, team):
    for method, url in (("get", REQUESTS), ("post", REQUESTS), ("get", f"{REQUESTS}/1"),
                        ("post", f"{REQUESTS}/1/approve"), ("get", "/api/v1/approval-policies"),
                        ("post", "/api/v1/approval-policies/workspace"), ("post", "/api/v1/review-subscription")):
        refused(getattr(client, method)(url), 401)


# -- the policy matrix through the API ---------------------------------------------------------------------------


@pytest.mark.parametrize(("policy", "reviewer", "status"), [
    ({}, "bob", 200), ({}, "admin", 200), ({}, "eve", 403), ({}, "vic", 403), ({}, "alice", 403),
    ({"approver_role": "admin"}, "bob", 403), ({"approver_role": "admin"}, "admin", 200),
    ({"requester_may_approve": True}, "alice", 200),
    ({"approver_role": "admin", "requester_may_approve": True}, "alice", 403),
])
def test_who_may_approve_follows_the_policy(client, db, team, version, policy, reviewer, status):
    set_policy(client, team, **policy)
    request = ask(client, team["alice"], version).get_json()
    before = written(db)
    response = client.post(f"{REQUESTS}/{request['id']}/approve", headers=team[reviewer].headers)
    assert response.status_code == status, response.get_json()
    if status == 200:
        assert response.get_json()["state"] == "approved"
    else:
        assert written(db) == before


@pytest.mark.parametrize(("requester", "status"), [("alice", 201), ("admin", 201), ("eve", 403), ("vic", 403)])
def test_who_may_request_a_process_promotion(client, db, team, version, requester, status):
    set_policy(client, team)
    assert ask(client, team[requester], version).status_code == status


@pytest.mark.parametrize(("applier", "status"), [("alice", 200), ("bob", 200), ("admin", 200), ("eve", 403),
                                                 ("vic", 403)])
def test_who_may_apply_an_approved_request(client, db, team, version, applier, status):
    set_policy(client, team)
    request = ask(client, team["alice"], version).get_json()
    client.post(f"{REQUESTS}/{request['id']}/approve", headers=team["bob"].headers)
    before = written(db)
    response = client.post(f"{REQUESTS}/{request['id']}/apply", headers=team[applier].headers)
    assert response.status_code == status, response.get_json()
    if status != 200:
        assert written(db) == before and current_production(version.process_id).number == 2


# -- policies ----------------------------------------------------------------------------------------------------


def test_policies_are_listed_with_the_workspace_first_and_an_override_can_be_cleared(client, db, team, version):
    listed = client.get("/api/v1/approval-policies", headers=team["vic"].headers).get_json()
    assert listed == [{"subject": "workspace", "required_approvals": 0, "approver_role": "promoter",
                       "requester_may_approve": False, "from": None}]
    set_policy(client, team)
    subject = f"process:{version.process_id}"
    override = set_policy(client, team, subject=subject, required_approvals=0)
    assert override == {"subject": subject, "required_approvals": 0, "approver_role": "promoter",
                        "requester_may_approve": False, "from": subject}
    assert [p["subject"] for p in client.get("/api/v1/approval-policies", headers=team["vic"].headers)
            .get_json()] == ["workspace", subject]
    assert refused(ask(client, team["alice"], version), 409, "approval_not_required")
    cleared = client.post(f"/api/v1/approval-policies/{subject}/clear", headers=team["admin"].headers)
    assert cleared.status_code == 200 and cleared.get_json()["from"] == "workspace"
    assert cleared.get_json()["required_approvals"] == 1
    assert ask(client, team["alice"], version).status_code == 201


def test_bad_policy_changes_are_4xx_and_write_nothing(client, db, factories, team):
    elsewhere = factories.user("admin", "Globex", email="g@globex.example")
    theirs = factories.process(elsewhere, "Theirs")
    before = written(db)
    url = "/api/v1/approval-policies"
    refused(client.post(f"{url}/workspace", json={"required_approvals": 1}, headers=team["alice"].headers), 403)
    refused(client.post(f"{url}/workspace", json={"required_approvals": 4}, headers=team["admin"].headers), 400)
    refused(client.post(f"{url}/workspace", json={"approver_role": "editor"}, headers=team["admin"].headers), 400)
    refused(client.post(f"{url}/workspace", json={"requester_may_approve": "no"}, headers=team["admin"].headers),
            400)
    for subject in (f"process:{theirs.id}", "galaxy", "process:abc", f"process:{HUGE}"):
        refused(client.post(f"{url}/{subject}", json={"required_approvals": 9}, headers=team["admin"].headers), 404)
        refused(client.post(f"{url}/{subject}/clear", headers=team["admin"].headers), 404)
    refused(client.post(f"{url}/workspace/clear", headers=team["admin"].headers), 422)
    refused(client.post(f"{url}/worlds/clear", headers=team["bob"].headers), 403)
    assert written(db) == before


# -- the review opt-in ---------------------------------------------------------------------------------------------


def test_a_member_opts_in_and_out_of_review_messages(client, db, team):
    url = "/api/v1/review-subscription"
    assert client.get(url, headers=team["bob"].headers).get_json() == {"on": False}
    assert client.post(url, json={"on": True}, headers=team["bob"].headers).get_json() == {"on": True}
    assert client.post(url, json={"on": True}, headers=team["bob"].headers).get_json() == {"on": True}
    assert client.get(url, headers=team["bob"].headers).get_json() == {"on": True}
    assert written(db)["review_subscriptions"] == 1
    before = written(db)
    for body in ({}, {"on": "yes"}, {"on": 1}):
        refused(client.post(url, json=body, headers=team["bob"].headers), 400)
    assert written(db) == before
    assert client.post(url, json={"on": False}, headers=team["bob"].headers).get_json() == {"on": False}
    assert written(db)["review_subscriptions"] == 0


# -- the direct promote routes under a policy ----------------------------------------------------------------------


def test_the_promote_route_answers_approval_required_and_takes_an_admins_reason(client, db, team, version):
    set_policy(client, team)
    url = f"/api/v1/versions/{version.id}/promote"
    before = written(db)
    required = refused(client.post(url, json={}, headers=team["alice"].headers), 409, "approval_required")
    assert required["details"]["required_approvals"] == 1
    refused(client.post(url, json={"override_reason": "hurry"}, headers=team["alice"].headers), 403)
    refused(client.post(url, json={"override_reason": "   "}, headers=team["admin"].headers), 422)
    refused(client.post(url, json={"override_reason": 5}, headers=team["admin"].headers), 400)
    assert written(db) == before and current_production(version.process_id).number == 2
    done = client.post(url, json={"override_reason": "the outage cannot wait"}, headers=team["admin"].headers)
    assert done.status_code == 201 and done.get_json()["promoted_version"]["version"] == 4
    [kept] = client.get(f"{REQUESTS}?state=applied", headers=team["vic"].headers).get_json()
    assert kept["outcome"]["override_reason"] == "the outage cannot wait"


def test_the_build_promote_route_answers_approval_required_and_takes_an_admins_reason(client, db, team, factories):
    set_policy(client, team, subject="worlds")
    project = factories.build_project(team["alice"].actor)
    room = factories.live_room(team["admin"].actor)
    url = f"/api/v1/builds/{project.id}/promote"
    target = {"connection_room_id": room.id, "connection_direction": "north"}
    before = written(db)
    refused(client.post(url, json=target, headers=team["alice"].headers), 409, "approval_required")
    refused(client.post(url, json=target | {"override_reason": ""}, headers=team["admin"].headers), 422)
    assert written(db) == before
    done = client.post(url, json=target | {"override_reason": "opening night"}, headers=team["admin"].headers)
    assert done.status_code == 200 and done.get_json()["status"] == "live"
