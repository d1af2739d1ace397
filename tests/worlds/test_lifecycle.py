"""A build project's statuses and review: the status machine, reject with a reason, the 409 for an invalid
step, who may take each step."""

from __future__ import annotations

import pytest

from webapp.errors import Conflict, Forbidden, Invalid
from webapp.worlds import design, lifecycle, promotion, queries, sandbox
from webapp.worlds.models import ProjectStatus


def test_the_status_machine_goes_draft_submitted_approved_built_live(factories):
    admin = factories.user("admin")
    limbo = factories.live_room(admin)
    project = factories.build_project(admin, until="draft")
    assert project.status is ProjectStatus.draft
    for action, status in (("submit", "submitted"), ("approve", "approved")):
        assert lifecycle.transition(admin, project.id, action).status.value == status
    assert sandbox.build_sandbox(admin, project.id).status is ProjectStatus.built
    promotion.promote(admin, project.id, limbo.id, "north")
    assert queries.get_project(admin, project.id).status is ProjectStatus.live


def test_reject_needs_a_reason_and_sends_the_project_back_to_draft_with_it(factories):
    admin = factories.user("admin")
    project = factories.build_project(admin, until="submitted")
    with pytest.raises(Invalid):
        lifecycle.transition(admin, project.id, "reject", "  ")
    rejected = lifecycle.transition(admin, project.id, "reject", "The loft has no way down.")
    assert rejected.status is ProjectStatus.draft and rejected.rejection_reason == "The loft has no way down."
    assert lifecycle.transition(admin, project.id, "submit").rejection_reason is None


@pytest.mark.parametrize(("until", "action", "allowed"), [
    ("draft", "approve", ["submit"]), ("draft", "build", ["submit"]), ("submitted", "build", ["approve", "reject"]),
    ("submitted", "submit", ["approve", "reject"]), ("approved", "submit", ["build"]),
    ("built", "approve", ["promote"]), ("built", "build", ["promote"]),
])
def test_an_invalid_transition_is_a_409_saying_which_are_allowed(factories, until, action, allowed):
    admin = factories.user("admin")
    project = factories.build_project(admin, until=until)
    with pytest.raises(Conflict) as caught:
        if action == "build":
            sandbox.build_sandbox(admin, project.id)
        else:
            lifecycle.transition(admin, project.id, action, "reason")
    assert caught.value.status == 409 and caught.value.details["allowed"] == allowed
    assert ", ".join(allowed) in caught.value.message


def test_a_live_project_allows_only_the_return_to_the_sandbox(factories):
    admin = factories.user("admin")
    limbo = factories.live_room(admin)
    project = factories.build_project(admin)
    promotion.promote(admin, project.id, limbo.id, "north")
    with pytest.raises(Conflict, match="allowed from live: unpromote") as caught:
        lifecycle.transition(admin, project.id, "submit")
    assert caught.value.details["allowed"] == ["unpromote"]


@pytest.mark.parametrize(("step", "action"), [("submit", "build.submitted"), ("approve", "build.approved"),
                                              ("reject", "build.rejected")])
def test_each_review_step_is_audited_under_its_past_tense(factories, db, step, action):
    from sqlalchemy import select

    from webapp.audit.models import AuditEvent

    admin = factories.user("admin")
    project = factories.build_project(admin, until="draft" if step == "submit" else "submitted")
    lifecycle.transition(admin, project.id, step, "The loft has no way down.")
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.resource_id == str(project.id))
                                 .order_by(AuditEvent.id)).all()
    assert actions[-1] == action and "build.rejectd" not in actions


def test_only_the_owner_promoters_and_admins_may_walk_a_sandbox(factories):
    owner = factories.user("editor", "Acme")
    project = factories.build_project(owner, until="draft")
    assert lifecycle.may_walk(owner, project)
    assert lifecycle.may_walk(factories.user("promoter", "Acme"), project)
    assert lifecycle.may_walk(factories.user("admin", "Acme"), project)
    assert not lifecycle.may_walk(factories.user("editor", "Acme"), project)
    assert not lifecycle.may_walk(factories.user("viewer", "Acme"), project)


def test_roles_editors_design_and_build_promoters_approve_and_promote(factories):
    editor = factories.user("editor", "Acme")
    promoter = factories.user("promoter", "Acme")
    viewer = factories.user("viewer", "Acme")
    with pytest.raises(Forbidden):
        design.create_project(viewer, "Nope")
    project = design.create_project(editor, "Mill", "", factories.AREA)
    lifecycle.transition(editor, project.id, "submit")
    with pytest.raises(Forbidden):
        lifecycle.transition(editor, project.id, "approve")
    lifecycle.transition(promoter, project.id, "approve")
    sandbox.build_sandbox(editor, project.id)
    limbo = factories.live_room(factories.user("admin", "Acme"))
    with pytest.raises(Forbidden):
        promotion.promotion_preview(editor, project.id, limbo.id, "north")
    with pytest.raises(Forbidden):
        promotion.promote(editor, project.id, limbo.id, "north")
    promotion.promote(promoter, project.id, limbo.id, "north")
