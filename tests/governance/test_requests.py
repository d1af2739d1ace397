"""Four-eyes promotions, processes and world areas alike: the policy decides whether a promotion needs approval
(0 by default: promote as before), a request is bound to the preview the requester saw, approvers approve or
reject with a comment, the last approval needed lets it apply (or applies it), and anything that moved after the
request makes it stale (409 with the fresh preview) instead of applying what nobody reviewed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from webapp.audit.models import AuditEvent
from webapp.errors import Conflict, Forbidden, Invalid, NotFound
from webapp.governance import services as governance
from webapp.governance.models import Decision, PromotionRequest, RequestState
from webapp.governance.services import PolicyCommand, RequestCommand
from webapp.processes import promotion
from webapp.processes.documents import current_production
from webapp.worlds import promotion as world_promotion

NEEDS_ONE = PolicyCommand(required_approvals=1)


def sandbox_version(factories, actor, config=None):
    proc = factories.process(actor, "Support bot")
    factories.production(actor, proc, {"prompt": "v1"})
    return factories.version(actor, proc, config or {"prompt": "v2"})


def ask(actor, version, **kwargs):
    token = promotion.promotion_preview(actor, version.id).token
    return governance.request_promotion(actor, RequestCommand(flow="process", source=version.id,
                                                              preview_token=token, **kwargs))


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_without_a_policy_a_promoter_promotes_directly_and_a_request_is_refused(db, team, factories):
    _admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice)
    with pytest.raises(Conflict) as caught:
        ask(alice, version)
    assert caught.value.code == "approval_not_required"
    assert promotion.promote(alice, version.id).promoted.number == 4
    assert count(db, PromotionRequest) == 0


def test_a_policy_requiring_approval_refuses_a_direct_promote_and_writes_nothing(db, team, factories):
    admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice)
    governance.set_policy(admin, "workspace", NEEDS_ONE)
    with pytest.raises(Conflict) as caught:
        promotion.promote(alice, version.id)
    assert caught.value.code == "approval_required" and caught.value.details["required_approvals"] == 1
    assert current_production(version.process_id).number == 2


def test_a_request_for_a_version_identical_to_production_is_refused_and_writes_nothing(db, team, factories):
    admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice, {"prompt": "v1"})  # the same document as production v2
    governance.set_policy(admin, "workspace", NEEDS_ONE)
    with pytest.raises(Conflict) as caught:
        ask(alice, version)
    assert caught.value.code == "identical_to_production"
    assert count(db, PromotionRequest) == 0


def test_a_second_promoter_approves_and_the_requester_applies_what_was_reviewed(db, team, factories):
    admin, alice, bob, _eve = team
    version = sandbox_version(factories, alice)
    governance.set_policy(admin, "workspace", NEEDS_ONE)
    request = ask(alice, version, change_notes="friendlier")
    assert request.state is RequestState.open and request.title == "Support bot v3 → production"
    governance.decide(bob, request.id, Decision.approve, "looks right")
    assert request.state is RequestState.approved
    row, result = governance.apply(alice, request.id)
    assert row.state is RequestState.applied and row.applied_by_id == alice.user_id
    assert result.promoted.number == 4 and result.promoted.change_notes == "friendlier"
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-4:] == ["promotion.requested", "promotion.approved", "version.promoted", "promotion.applied"]
    assert governance.request_json(row)["decisions"] == [
        {"by": "bob@example.com", "decision": "approve", "comment": "looks right", "at": row.decisions[0].created_at.isoformat()}]


def test_the_requester_cannot_approve_their_own_request_unless_the_policy_allows_it(db, team, factories):
    admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice)
    governance.set_policy(admin, "workspace", NEEDS_ONE)
    request = ask(alice, version)
    with pytest.raises(Forbidden):
        governance.decide(alice, request.id, Decision.approve)
    governance.withdraw(alice, request.id)
    governance.set_policy(admin, "workspace", PolicyCommand(required_approvals=1, requester_may_approve=True))
    again = ask(alice, version)
    assert governance.decide(alice, again.id, Decision.approve).state is RequestState.approved


@pytest.mark.parametrize(("approver_role", "reviewer", "allowed"), [
    ("promoter", "bob", True), ("promoter", "eve", False), ("promoter", "admin", True),
    ("admin", "bob", False), ("admin", "admin", True),
])
def test_who_may_approve_follows_the_policys_role(db, team, factories, approver_role, reviewer, allowed):
    admin, alice, bob, eve = team
    version = sandbox_version(factories, alice)
    governance.set_policy(admin, "workspace", PolicyCommand(required_approvals=1, approver_role=approver_role))
    request = ask(alice, version)
    actor = {"bob": bob, "eve": eve, "admin": admin}[reviewer]
    if allowed:
        assert governance.decide(actor, request.id, Decision.approve).state is RequestState.approved
    else:
        with pytest.raises(Forbidden):
            governance.decide(actor, request.id, Decision.approve)
        assert db.session.get(PromotionRequest, request.id).decisions == []


def test_an_editor_cannot_request_and_one_request_per_source_is_open(db, team, factories):
    admin, alice, bob, eve = team
    version = sandbox_version(factories, alice)
    governance.set_policy(admin, "workspace", NEEDS_ONE)
    with pytest.raises(Forbidden):
        governance.request_promotion(eve, RequestCommand(flow="process", source=version.id))
    first = ask(alice, version)
    with pytest.raises(Conflict) as caught:
        ask(bob, version)
    assert caught.value.code == "request_open" and caught.value.details == {"request_id": first.id}
    assert count(db, PromotionRequest) == 1


def test_two_approvals_are_needed_and_one_reviewer_counts_once(db, team, factories):
    admin, alice, bob, _eve = team
    version = sandbox_version(factories, alice)
    governance.set_policy(admin, "workspace", PolicyCommand(required_approvals=2))
    request = ask(alice, version, apply_when_approved=True)
    governance.decide(bob, request.id, Decision.approve)
    assert request.state is RequestState.open
    with pytest.raises(Conflict) as caught:
        governance.decide(bob, request.id, Decision.approve)  # a replay
    assert caught.value.code == "already_reviewed"
    governance.decide(admin, request.id, Decision.approve)
    assert request.state is RequestState.applied  # the requester asked for it to apply itself
    assert current_production(version.process_id).number == 4
    assert request.applied_by_id == admin.user_id


def test_a_rejection_ends_the_request_with_its_comment(db, team, factories):
    admin, alice, bob, _eve = team
    version = sandbox_version(factories, alice)
    governance.set_policy(admin, "workspace", NEEDS_ONE)
    request = ask(alice, version)
    governance.decide(bob, request.id, Decision.reject, "the tone is off")
    assert request.state is RequestState.rejected and request.decisions[0].comment == "the tone is off"
    with pytest.raises(Conflict):
        governance.apply(alice, request.id)
    assert current_production(version.process_id).number == 2


def test_production_moving_after_the_request_makes_it_stale_with_the_fresh_diff(db, team, factories):
    admin, alice, bob, _eve = team
    version = sandbox_version(factories, alice)
    governance.set_policy(admin, "workspace", NEEDS_ONE)
    request = ask(alice, version)
    other = factories.version(alice, version.process, {"prompt": "hotfix"})
    promotion.promote(admin, other.id, override_reason="outage")  # an admin's hotfix goes first
    with pytest.raises(Conflict) as caught:
        governance.decide(bob, request.id, Decision.approve)
    assert caught.value.code == "request_stale"
    assert caught.value.details["current_production"]["version"] == 5 and caught.value.details["diff"]
    db.session.expire_all()
    assert db.session.get(PromotionRequest, request.id).state is RequestState.stale
    assert current_production(version.process_id).number == 5


def test_an_admin_applies_without_approval_only_with_a_reason_which_the_history_keeps(db, team, factories):
    admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice)
    governance.set_policy(admin, "workspace", NEEDS_ONE)
    with pytest.raises(Invalid):
        promotion.promote(admin, version.id, override_reason="  ")
    with pytest.raises(Forbidden):
        promotion.promote(alice, version.id, override_reason="in a hurry")
    result = promotion.promote(admin, version.id, override_reason="the outage cannot wait")
    [row] = governance.for_links(admin.workspace_id, process_id=version.process_id)
    assert row.state is RequestState.applied and row.outcome["override_reason"] == "the outage cannot wait"
    assert result.promoted.number == 4
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "promotion.applied")).one()
    assert event.details["override_reason"] == "the outage cannot wait"


def test_a_process_override_wins_over_the_workspace_policy_and_clearing_it_inherits_again(db, team, factories):
    admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice)
    governance.set_policy(admin, "workspace", NEEDS_ONE)
    subject = f"process:{version.process_id}"
    governance.set_policy(admin, subject, PolicyCommand(required_approvals=0))
    assert promotion.promote(alice, version.id).promoted.number == 4
    governance.clear_policy(admin, subject)
    assert governance.policy_for(admin.workspace_id, [subject, "workspace"]).required_approvals == 1


def test_policies_are_set_by_admins_for_their_own_workspace_only(db, team, factories):
    admin, alice, _bob, _eve = team
    with pytest.raises(Forbidden):
        governance.set_policy(alice, "workspace", NEEDS_ONE)
    elsewhere = factories.user("admin", "Globex", email="g@example.com")
    proc = factories.process(elsewhere, "Theirs")
    with pytest.raises(NotFound):
        governance.set_policy(admin, f"process:{proc.id}", NEEDS_ONE)
    with pytest.raises(NotFound):
        governance.set_policy(admin, "galaxy", NEEDS_ONE)


def test_an_approver_from_another_workspace_gets_a_404(db, team, factories):
    admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice)
    governance.set_policy(admin, "workspace", NEEDS_ONE)
    request = ask(alice, version)
    outsider = factories.user("admin", "Globex", email="g@example.com")
    with pytest.raises(NotFound):
        governance.decide(outsider, request.id, Decision.approve)


# -- world areas ---------------------------------------------------------------------------------------------


def world_request(actor, project, room, direction="north"):
    token = world_promotion.promotion_preview(actor, project.id, room.id, direction).token
    return governance.request_promotion(actor, RequestCommand(flow="world", source=[project.id, room.id, direction],
                                                              preview_token=token))


def test_only_the_owner_or_an_admin_requests_a_world_areas_promotion(db, team, factories):
    admin, alice, bob, _eve = team
    governance.set_policy(admin, "worlds", NEEDS_ONE)
    project = factories.build_project(alice)
    room = factories.live_room(admin)
    with pytest.raises(Forbidden):
        world_request(bob, project, room)
    request = world_request(alice, project, room)
    assert request.build_project_id == project.id
    governance.decide(bob, request.id, Decision.approve)
    _row, result = governance.apply(bob, request.id)
    assert result.project.status.value == "live"


def test_a_world_request_goes_stale_when_the_connection_room_changes(db, team, factories):
    admin, alice, bob, _eve = team
    governance.set_policy(admin, "worlds", NEEDS_ONE)
    project = factories.build_project(alice)
    room = factories.live_room(admin)
    request = world_request(alice, project, room)
    other = factories.live_room(admin, "annex")
    from webapp.worlds import live
    from webapp.worlds.directions import parse_direction

    live.exit_pair(admin.workspace_id, room.id, other.id, parse_direction("east"))  # someone builds an exit there
    db.session.commit()
    with pytest.raises(Conflict) as caught:
        governance.decide(bob, request.id, Decision.approve)
    assert caught.value.code == "request_stale"


def test_the_world_policy_overrides_the_workspaces(db, team, factories):
    admin, alice, _bob, _eve = team
    governance.set_policy(admin, "workspace", NEEDS_ONE)
    governance.set_policy(admin, "worlds", PolicyCommand(required_approvals=0))
    project = factories.build_project(alice)
    room = factories.live_room(admin)
    assert world_promotion.promote(alice, project.id, room.id, "north").project.status.value == "live"
