"""Approvals in the dashboard (HTML through the test client): the confirm dialogs ask for approval where the policy
says so, the review dialog approves, rejects, applies and withdraws, the nav counts what waits, admins set the
policies, and the process and build pages say who asked and who approved. Refusals (403, 404, 409, 422) write
nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.governance.test_requests import NEEDS_ONE, ask, count, sandbox_version
from webapp.governance import services as governance
from webapp.governance.models import Approval, ApprovalPolicy, Decision, PromotionRequest, RequestState
from webapp.governance.services import PolicyCommand
from webapp.processes import documents, promotion
from webapp.processes.models import ProcessVersion
from webapp.worlds import promotion as world_promotion
from webapp.worlds.models import BuildProject, ProjectStatus


def as_(auth, actor) -> None:
    auth.logout()
    auth.login(actor.label)


def token_of(html: str) -> str:
    match = re.search(r'name="preview_token" value="([^"]+)"', html)
    assert match, "no preview_token in the dialog"
    return match.group(1)


def candidate(factories, actor):
    """Support bot: v1 sandbox → v2 production, v3 sandbox active (the one to promote)."""
    return sandbox_version(factories, actor, {"prompt": "v2", "temperature": 0.1})


@pytest.fixture
def asked(team, factories):
    """The workspace needs one approval, and Alice has asked for Support bot v3: (the version, the request)."""
    admin, alice, _bob, _eve = team
    version = candidate(factories, alice)
    governance.set_policy(admin, "workspace", NEEDS_ONE)
    return version, ask(alice, version)


# -- the confirm dialog --------------------------------------------------------------------------------------


def test_without_a_policy_the_dialog_promotes_directly_as_before(auth, team, factories):
    _admin, alice, _bob, _eve = team
    version = candidate(factories, alice)
    as_(auth, alice)
    page = auth.get(f"/versions/{version.id}/promote", htmx=True).get_data(as_text=True)
    assert f'action="/versions/{version.id}/promote"' in page and ">Promote</button>" in page
    assert "Request promotion" not in page and "approval" not in page.lower()


def test_an_identical_dialog_under_a_policy_offers_neither_a_request_nor_an_override(auth, db, team, factories):
    admin, alice, _bob, _eve = team
    twin = sandbox_version(factories, alice, {"prompt": "v1"})  # the same document as production v2
    governance.set_policy(admin, "workspace", NEEDS_ONE)
    as_(auth, admin)  # an admin sees "Apply without approval" too
    page = auth.get(f"/versions/{twin.id}/promote", htmx=True).get_data(as_text=True)
    assert "Identical to production — nothing to promote." in page
    buttons = re.findall(r'<button type="submit"([^>]*)>(Request promotion|Apply without approval)</button>', page)
    assert sorted(label for _, label in buttons) == ["Apply without approval", "Request promotion"]
    assert all(" disabled" in attrs for attrs, _ in buttons)
    response = auth.post(f"/versions/{twin.id}/request", htmx=True, data={"preview_token": token_of(page)})
    assert response.status_code == 409 and "Identical to production" in response.get_data(as_text=True)
    assert count(db, PromotionRequest) == 0


def test_with_a_policy_the_dialog_says_who_must_approve_and_requests_instead_of_promoting(auth, db, team, factories):
    admin, alice, _bob, _eve = team
    version = candidate(factories, alice)
    governance.set_policy(admin, "workspace", NEEDS_ONE)
    as_(auth, alice)
    page = auth.get(f"/versions/{version.id}/promote", htmx=True).get_data(as_text=True)
    assert "Needs 1 approval from a promoter or admin other than you before it applies." in page
    assert f'action="/versions/{version.id}/request"' in page and ">Request promotion</button>" in page
    assert "Apply it as soon as it is approved" in page
    assert "Apply without approval" not in page  # admins only

    answer = auth.post(f"/versions/{version.id}/request", htmx=True,
                       data={"preview_token": token_of(page), "change_notes": "friendlier",
                             "apply_when_approved": "1"})
    row = db.session.scalars(select(PromotionRequest)).one()
    assert answer.status_code == 204 and answer.headers["HX-Redirect"] == f"/reviews/{row.id}"
    assert row.state is RequestState.open and row.change_notes == "friendlier" and row.apply_when_approved
    assert documents.current_production(version.process_id).number == 2  # nothing promoted yet
    review = auth.get(f"/reviews/{row.id}").get_data(as_text=True)
    assert "Requested: Support bot v3 → production needs 1 approval before it applies." in review
    assert "You asked for this promotion: someone else must review it." in review
    assert ">Approve</button>" not in review and ">Withdraw</button>" in review


def test_a_second_request_for_the_same_version_is_409_and_links_the_open_one(auth, db, team, factories):
    admin, alice, _bob, _eve = team
    version = candidate(factories, alice)
    governance.set_policy(admin, "workspace", NEEDS_ONE)
    first = ask(alice, version)
    as_(auth, alice)
    page = auth.get(f"/versions/{version.id}/promote", htmx=True).get_data(as_text=True)
    answer = auth.post(f"/versions/{version.id}/request", htmx=True, data={"preview_token": token_of(page)})
    assert answer.status_code == 409
    assert f'href="/reviews/{first.id}"' in answer.get_data(as_text=True)
    assert count(db, PromotionRequest) == 1


def test_a_direct_promote_after_the_policy_changed_is_409_and_offers_the_request_writing_nothing(auth, db, team,
                                                                                                 factories):
    admin, alice, _bob, _eve = team
    version = candidate(factories, alice)
    as_(auth, alice)
    page = auth.get(f"/versions/{version.id}/promote", htmx=True).get_data(as_text=True)
    governance.set_policy(admin, "workspace", NEEDS_ONE)  # while the dialog is open
    versions = count(db, ProcessVersion)
    answer = auth.post(f"/versions/{version.id}/promote", htmx=True, data={"preview_token": token_of(page)})
    body = answer.get_data(as_text=True)
    assert answer.status_code == 409 and "needs 1 approval first" in body
    assert ">Request promotion</button>" in body
    assert count(db, ProcessVersion) == versions and count(db, PromotionRequest) == 0


def test_an_admin_applies_without_approval_only_with_a_reason_and_the_history_keeps_it(auth, db, team, factories):
    admin, alice, _bob, _eve = team
    version = candidate(factories, alice)
    governance.set_policy(admin, "workspace", NEEDS_ONE)
    as_(auth, admin)
    page = auth.get(f"/versions/{version.id}/promote", htmx=True).get_data(as_text=True)
    assert "<summary>Apply without approval</summary>" in page
    assert re.search(r'<textarea name="override_reason"[^>]*required', page)
    versions = count(db, ProcessVersion)

    refused = auth.post(f"/versions/{version.id}/promote", htmx=True,
                        data={"preview_token": token_of(page), "override_reason": "  "})
    assert refused.status_code == 422 and "Say why it cannot wait" in refused.get_data(as_text=True)
    assert count(db, ProcessVersion) == versions and count(db, PromotionRequest) == 0

    done = auth.post(f"/versions/{version.id}/promote", htmx=True,
                     data={"preview_token": token_of(page), "override_reason": "Outage: the old prompt leaks PII",
                           "change_notes": "hotfix"})
    assert done.status_code == 200 and done.headers["HX-Retarget"] == "#history"
    assert documents.current_production(version.process_id).change_notes == "hotfix"
    row = db.session.scalars(select(PromotionRequest)).one()
    assert row.state is RequestState.applied and row.outcome["override_reason"] == "Outage: the old prompt leaks PII"
    process_page = auth.get(f"/processes/{version.process.slug}").get_data(as_text=True)
    assert "Applied without approval by admin@example.com: <q>Outage: the old prompt leaks PII</q>" in process_page


# -- the review dialog ---------------------------------------------------------------------------------------


def test_the_nav_counts_what_a_promoter_may_review_and_viewers_and_editors_see_no_reviews(auth, team, factories):
    admin, alice, bob, eve = team
    version = candidate(factories, alice)
    governance.set_policy(admin, "workspace", NEEDS_ONE)
    ask(alice, version)
    as_(auth, bob)
    page = auth.get("/processes").get_data(as_text=True)
    assert re.search(r'class="nav-reviews">Reviews\s*<span class="badge[^"]*"[^>]*>1</span>', page)
    as_(auth, alice)  # her own request is not hers to review
    page = auth.get("/processes").get_data(as_text=True)
    assert 'class="nav-reviews">Reviews</a>' in page
    as_(auth, eve)
    page = auth.get("/processes").get_data(as_text=True)
    assert "nav-reviews" not in page
    assert auth.get("/reviews").status_code == 403


@pytest.mark.parametrize("policy, counts", [
    # (alice asks; bob approves first where two are needed): what each one's badge says afterwards
    (PolicyCommand(required_approvals=2), {"alice": 0, "bob": 0, "admin": 1}),
    (PolicyCommand(required_approvals=2, requester_may_approve=True), {"alice": 1, "bob": 0, "admin": 1}),
    (PolicyCommand(required_approvals=2, approver_role="admin"), {"alice": 0, "bob": 0, "admin": 1}),
])
def test_the_badge_counts_the_open_requests_may_review_allows(db, team, factories, policy, counts):
    admin, alice, bob, _eve = team
    version = candidate(factories, alice)
    governance.set_policy(admin, "workspace", policy)
    row = ask(alice, version)
    if governance.may_review(bob, row) is None:
        governance.decide(bob, row.id, Decision.approve, "one of two")
    for name, actor in (("alice", alice), ("bob", bob), ("admin", admin)):
        assert governance.waiting_for(actor) == counts[name], name
        assert counts[name] == (governance.may_review(actor, row) is None), name  # the same rule, row by row


def test_the_waiting_list_shows_title_flow_requester_approvals_age_and_state(auth, team, factories):
    admin, alice, bob, _eve = team
    version = candidate(factories, alice)
    governance.set_policy(admin, "workspace", PolicyCommand(required_approvals=2))
    row = ask(alice, version)
    as_(auth, bob)
    page = auth.get("/reviews").get_data(as_text=True)
    line = re.search(rf'<tr data-request-id="{row.id}">(.*?)</tr>', page, re.DOTALL).group(1)
    for shown in ("Support bot v3 → production", "yours to review", "process", "alice@example.com", ">0/2<",
                  "just now", ">open<"):
        assert shown in line, shown


def test_a_second_promoter_approves_the_requester_applies_and_the_process_page_names_the_approver(auth, db, team,
                                                                                                  factories):
    admin, alice, bob, _eve = team
    version = candidate(factories, alice)
    governance.set_policy(admin, "workspace", NEEDS_ONE)
    row = ask(alice, version, change_notes="friendlier")
    as_(auth, bob)
    page = auth.get(f"/reviews/{row.id}").get_data(as_text=True)
    assert "friendlier" in page and "Changes against v2" in page and "config.temperature" in page
    assert ">Approve</button>" in page and ">Reject</button>" in page and ">Apply</button>" not in page
    approved = auth.post(f"/reviews/{row.id}/approve", data={"comment": "checked the prompt"})
    assert approved.status_code == 303
    assert "Approved: Support bot v3 → production may be applied now." in auth.get(f"/reviews/{row.id}").get_data(
        as_text=True)

    as_(auth, alice)
    applied = auth.post(f"/reviews/{row.id}/apply")
    assert applied.status_code == 303
    db.session.expire_all()
    assert db.session.get(PromotionRequest, row.id).state is RequestState.applied
    assert documents.current_production(version.process_id).number == 4
    history = auth.get(f"/processes/{version.process.slug}").get_data(as_text=True)
    assert "Approved by bob@example.com: <q>checked the prompt</q>" in history
    assert "Applied by alice@example.com" in history


def test_apply_it_as_soon_as_approved_applies_on_the_last_approval(auth, db, team, factories):
    admin, alice, bob, _eve = team
    version = candidate(factories, alice)
    governance.set_policy(admin, "workspace", NEEDS_ONE)
    row = ask(alice, version, apply_when_approved=True)
    as_(auth, bob)
    auth.post(f"/reviews/{row.id}/approve", data={"comment": ""})
    assert "Approved and applied" in auth.get(f"/reviews/{row.id}").get_data(as_text=True)
    assert documents.current_production(version.process_id).number == 4


def test_the_requester_approving_their_own_request_is_403_and_writes_nothing(auth, db, team, asked):
    _admin, alice, _bob, _eve = team
    _version, row = asked
    as_(auth, alice)
    answer = auth.post(f"/reviews/{row.id}/approve", data={"comment": "mine"})
    assert answer.status_code == 403
    assert "someone else must review it" in answer.get_data(as_text=True)
    db.session.expire_all()
    assert count(db, Approval) == 0 and db.session.get(PromotionRequest, row.id).state is RequestState.open


def test_applying_before_the_approvals_is_409_and_writes_nothing(auth, team, asked):
    _admin, alice, _bob, _eve = team
    version, row = asked
    as_(auth, alice)
    answer = auth.post(f"/reviews/{row.id}/apply")
    assert answer.status_code == 409 and "needs its approvals first" in answer.get_data(as_text=True)
    assert documents.current_production(version.process_id).number == 2


def test_a_request_of_another_workspace_or_none_at_all_is_404_and_writes_nothing(auth, db, team, factories, asked):
    _admin, _alice, _bob, _eve = team
    _version, row = asked
    outsider = factories.user("admin", "Globex", email="olga@example.com")
    as_(auth, outsider)
    assert auth.get(f"/reviews/{row.id}").status_code == 404
    assert auth.post(f"/reviews/{row.id}/approve", data={"comment": "x"}).status_code == 404
    assert auth.post(f"/reviews/{row.id}/withdraw").status_code == 404
    assert auth.get("/reviews/999999").status_code == 404
    db.session.expire_all()
    assert count(db, Approval) == 0 and db.session.get(PromotionRequest, row.id).state is RequestState.open


def test_approving_after_production_moved_is_409_request_stale_with_the_fresh_diff(auth, db, team, factories, asked):
    admin, _alice, bob, _eve = team
    version, row = asked
    governance.set_policy(admin, "workspace", PolicyCommand(required_approvals=0))
    factories.production(admin, version.process, {"prompt": "hotfix"})  # v4 sandbox → v5 production
    as_(auth, bob)
    opened = auth.get(f"/reviews/{row.id}").get_data(as_text=True)
    assert "Production changed since this was requested" in opened
    answer = auth.post(f"/reviews/{row.id}/approve", data={"comment": "ok"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 409 and "This request went stale" in page
    assert "Changes against v5" in page  # the fresh preview, which nobody reviewed
    assert ">Approve</button>" not in page
    db.session.expire_all()
    assert db.session.get(PromotionRequest, row.id).state is RequestState.stale and count(db, Approval) == 0


def test_a_rejection_with_its_comment_shows_in_the_dialog_and_the_history(auth, team, asked):
    _admin, _alice, bob, _eve = team
    version, row = asked
    as_(auth, bob)
    auth.post(f"/reviews/{row.id}/reject", data={"comment": "temperature too low"})
    page = auth.get(f"/reviews/{row.id}").get_data(as_text=True)
    assert "<strong>Rejected</strong> by bob@example.com: <q>temperature too low</q>" in page
    assert ">Approve</button>" not in page and ">Apply</button>" not in page
    history = auth.get(f"/processes/{version.process.slug}").get_data(as_text=True)
    assert "Rejected by bob@example.com: <q>temperature too low</q>" in history


def test_only_the_requester_or_an_admin_withdraws(auth, db, team, asked):
    _admin, alice, bob, _eve = team
    _version, row = asked
    as_(auth, bob)
    assert ">Withdraw</button>" not in auth.get(f"/reviews/{row.id}").get_data(as_text=True)
    assert auth.post(f"/reviews/{row.id}/withdraw").status_code == 403
    db.session.expire_all()
    assert db.session.get(PromotionRequest, row.id).state is RequestState.open
    as_(auth, alice)
    assert auth.post(f"/reviews/{row.id}/withdraw").status_code == 303
    db.session.expire_all()
    assert db.session.get(PromotionRequest, row.id).state is RequestState.withdrawn


def test_the_review_opt_in_toggles_on_and_off(auth, team):
    _admin, _alice, bob, _eve = team
    as_(auth, bob)
    assert "Tell me when a promotion waits for my review" in auth.get("/reviews").get_data(as_text=True)
    assert auth.post("/reviews/subscription", data={"on": "1", "next": "/reviews"}).headers["Location"] == "/reviews"
    assert governance.subscribed(bob)
    assert "Stop telling me" in auth.get("/reviews").get_data(as_text=True)
    auth.post("/reviews/subscription", data={"next": "//evil.example/"})
    assert not governance.subscribed(bob)


# -- policies ------------------------------------------------------------------------------------------------


def test_an_admin_sets_the_workspace_and_world_policies_on_the_policy_page(auth, db, team):
    admin, *_ = team
    as_(auth, admin)
    assert "Workspace default" in auth.get("/reviews/policy").get_data(as_text=True)
    answer = auth.post("/reviews/policy", data={"subject": "workspace", "required_approvals": "2",
                                                "approver_role": "admin"})
    assert answer.status_code == 303
    auth.post("/reviews/policy", data={"subject": "worlds", "required_approvals": "1",
                                       "requester_may_approve": "1"})
    policies = governance.policies(admin)
    assert policies["workspace"].required_approvals == 2 and policies["workspace"].approver_role.name == "admin"
    assert policies["worlds"].requester_may_approve
    page = auth.get("/reviews/policy").get_data(as_text=True)
    assert "Promotions need 2 approvals from an admin other than the requester." in page
    assert auth.post("/reviews/policy/clear", data={"subject": "worlds"}).status_code == 303
    assert "worlds" not in governance.policies(admin)


@pytest.mark.parametrize("data, status, said", [
    ({"subject": "workspace", "required_approvals": "7"}, 400, "&#39;required_approvals&#39; must be between 0 and 3"),
    ({"subject": "workspace", "required_approvals": "1", "approver_role": "editor"}, 400, "&#39;approver_role&#39;"),
    ({"subject": "process:999999", "required_approvals": "1"}, 404, "No policy subject"),
])
def test_a_bad_policy_form_is_refused_with_its_reason_and_writes_nothing(auth, db, team, data, status, said):
    admin, *_ = team
    as_(auth, admin)
    answer = auth.post("/reviews/policy", data=data)
    assert answer.status_code == status and said in answer.get_data(as_text=True)
    assert count(db, ApprovalPolicy) == 0


def test_the_workspace_policy_cannot_be_cleared_and_members_below_admin_cannot_set_one(auth, db, team):
    admin, alice, _bob, eve = team
    as_(auth, admin)
    answer = auth.post("/reviews/policy/clear", data={"subject": "workspace"})
    assert answer.status_code == 422 and "set to 0 approvals, not removed" in answer.get_data(as_text=True)
    for member in (alice, eve):
        as_(auth, member)
        assert auth.get("/reviews/policy").status_code == 403
        assert auth.post("/reviews/policy", data={"subject": "workspace", "required_approvals": "1"}).status_code \
            == 403
    assert count(db, ApprovalPolicy) == 0


def test_an_admin_overrides_and_clears_a_process_policy_from_the_process_page(auth, db, team, factories):
    admin, alice, _bob, _eve = team
    version = candidate(factories, alice)
    slug, subject = version.process.slug, f"process:{version.process_id}"
    as_(auth, alice)  # promoters read the policy; the form is for admins
    page = auth.get(f"/processes/{slug}").get_data(as_text=True)
    assert "Promotions need no approval" in page and "policy-form" not in page
    as_(auth, admin)
    page = auth.get(f"/processes/{slug}").get_data(as_text=True)
    assert f'data-subject="{subject}"' in page
    answer = auth.post("/reviews/policy", data={"subject": subject, "required_approvals": "1",
                                                "next": f"/processes/{slug}"})
    assert answer.status_code == 303 and answer.headers["Location"] == f"/processes/{slug}"
    page = auth.get(f"/processes/{slug}").get_data(as_text=True)
    assert "Promotions need 1 approval from a promoter or admin other than the requester</strong> (this process" in page
    assert "Clear the override" in page
    auth.post("/reviews/policy/clear", data={"subject": subject, "next": f"/processes/{slug}"})
    assert governance.policies(admin) == {}


# -- world builds --------------------------------------------------------------------------------------------


def test_a_world_build_is_requested_from_its_dialog_approved_and_the_build_page_names_the_approver(auth, db, team,
                                                                                                   factories):
    admin, alice, bob, _eve = team
    limbo = factories.live_room(admin)
    project = factories.build_project(alice)
    governance.set_policy(admin, "worlds", NEEDS_ONE)
    as_(auth, alice)
    page = auth.get(f"/builds/{project.id}/promote", htmx=True,
                    query_string={"connection_room_id": limbo.id, "direction": "east"}).get_data(as_text=True)
    assert f'action="/builds/{project.id}/request"' in page and ">Request promotion</button>" in page
    answer = auth.post(f"/builds/{project.id}/request", htmx=True,
                       data={"connection_room_id": limbo.id, "direction": "east", "preview_token": token_of(page)})
    row = db.session.scalars(select(PromotionRequest)).one()
    assert answer.status_code == 204 and answer.headers["HX-Redirect"] == f"/reviews/{row.id}"

    as_(auth, bob)
    review = auth.get(f"/reviews/{row.id}").get_data(as_text=True)
    assert 'class="room-count">3<' in review and "→ <strong>east</strong> (e) →" in review
    auth.post(f"/reviews/{row.id}/approve", data={"comment": "exits look right"})
    auth.post(f"/reviews/{row.id}/apply")
    db.session.expire_all()
    assert db.session.get(BuildProject, project.id).status is ProjectStatus.live
    build_page = auth.get(f"/builds/{project.id}").get_data(as_text=True)
    assert "Approved by bob@example.com: <q>exits look right</q>" in build_page


def test_only_the_build_owner_or_an_admin_requests_an_area_and_a_refusal_writes_nothing(auth, db, team, factories):
    admin, alice, bob, _eve = team
    limbo = factories.live_room(admin)
    project = factories.build_project(alice)
    governance.set_policy(admin, "worlds", NEEDS_ONE)
    token = world_promotion.promotion_preview(bob, project.id, limbo.id, "east").token
    as_(auth, bob)
    answer = auth.post(f"/builds/{project.id}/request", htmx=True,
                       data={"connection_room_id": limbo.id, "direction": "east", "preview_token": token})
    assert answer.status_code == 403
    assert "Only the build project&#39;s owner (or an admin) may request" in answer.get_data(as_text=True)
    assert count(db, PromotionRequest) == 0



def test_an_admin_applies_an_area_without_approval_with_a_reason_and_the_build_page_keeps_it(auth, db, team,
                                                                                             factories):
    admin, alice, _bob, _eve = team
    limbo = factories.live_room(admin)
    project = factories.build_project(alice)
    governance.set_policy(admin, "worlds", NEEDS_ONE)
    as_(auth, admin)
    page = auth.get(f"/builds/{project.id}/promote", htmx=True,
                    query_string={"connection_room_id": limbo.id, "direction": "east"}).get_data(as_text=True)
    assert "<summary>Apply without approval</summary>" in page
    fields = {"connection_room_id": limbo.id, "direction": "east", "preview_token": token_of(page)}
    assert auth.post(f"/builds/{project.id}/promote", htmx=True, data=fields).status_code == 409  # a plain promote
    assert auth.post(f"/builds/{project.id}/promote", htmx=True, data=fields | {"override_reason": ""}).status_code \
        == 422
    assert db.session.get(BuildProject, project.id).status is ProjectStatus.built
    answer = auth.post(f"/builds/{project.id}/promote", htmx=True,
                       data=fields | {"override_reason": "Tonight's event needs the area"})
    assert answer.status_code == 204
    db.session.expire_all()
    assert db.session.get(BuildProject, project.id).status is ProjectStatus.live
    build_page = auth.get(f"/builds/{project.id}").get_data(as_text=True)
    assert "Applied without approval by admin@example.com: <q>Tonight&#39;s event needs the area</q>" in build_page


def test_an_editor_cannot_request_a_promotion_and_nothing_is_written(auth, db, team, factories):
    admin, alice, _bob, eve = team
    version = candidate(factories, alice)
    governance.set_policy(admin, "workspace", NEEDS_ONE)
    token = promotion.promotion_preview(alice, version.id).token
    as_(auth, eve)
    answer = auth.post(f"/versions/{version.id}/request", htmx=True, data={"preview_token": token})
    assert answer.status_code == 403 and "promoter role" in answer.get_data(as_text=True)
    assert count(db, PromotionRequest) == 0
