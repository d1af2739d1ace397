"""The version state machine through the services: draft → active → promoted → deprecated → rollback."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from webapp.accounts.models import Environment
from webapp.audit.models import AuditEvent
from webapp.errors import Conflict, Forbidden, Invalid
from webapp.processes import services as processes
from webapp.processes.models import ProcessVersion, VersionStatus


def actions(db, resource_id=None) -> list[str]:
    query = select(AuditEvent.action).order_by(AuditEvent.id)
    if resource_id is not None:
        query = query.where(AuditEvent.resource_type == "process_version",
                            AuditEvent.resource_id == str(resource_id))
    return list(db.session.scalars(query))


def test_activating_a_draft_makes_it_sandbox_active(app, db, factories):
    actor = factories.user("editor")
    proc = factories.process(actor)
    draft = factories.version(actor, proc, activate=False)
    assert (draft.environment, draft.status) == (Environment.sandbox, VersionStatus.draft)
    active = processes.activate(actor, draft.id)
    assert (active.environment, active.status) == (Environment.sandbox, VersionStatus.active)
    assert active.activated_at is not None


def test_activating_twice_is_a_409(app, factories):
    actor = factories.user("editor")
    proc = factories.process(actor)
    version = factories.version(actor, proc)
    with pytest.raises(Conflict) as exc:
        processes.activate(actor, version.id)
    assert exc.value.status == 409


def test_update_draft_changes_a_draft(app, db, factories):
    actor = factories.user("editor")
    proc = factories.process(actor)
    draft = factories.version(actor, proc, {"prompt": "a"}, activate=False)
    processes.update_draft(actor, draft.id, {"prompt": "b"}, None, None, "second try")
    db.session.expire_all()
    stored = db.session.get(ProcessVersion, draft.id)
    assert stored.config == {"prompt": "b"} and stored.change_notes == "second try"


def test_update_draft_refuses_an_active_sandbox_version(app, db, factories):
    actor = factories.user("editor")
    proc = factories.process(actor)
    active = factories.version(actor, proc, {"prompt": "a"})
    with pytest.raises(Conflict):
        processes.update_draft(actor, active.id, {"prompt": "changed"})
    db.session.expire_all()
    assert db.session.get(ProcessVersion, active.id).config == {"prompt": "a"}


def test_production_versions_are_immutable(app, db, factories):
    actor = factories.user("admin")
    proc = factories.process(actor)
    live = factories.production(actor, proc, {"prompt": "live"})
    with pytest.raises(Conflict) as exc:
        processes.update_draft(actor, live.id, {"prompt": "sneaky edit"})
    assert exc.value.status == 409
    db.session.expire_all()
    assert db.session.get(ProcessVersion, live.id).config == {"prompt": "live"}


def test_a_draft_is_not_promotable(app, db, factories):
    actor = factories.user("promoter")
    proc = factories.process(actor)
    draft = factories.version(actor, proc, activate=False)
    with pytest.raises(Conflict) as exc:
        processes.promote(actor, draft.id)
    assert exc.value.code == "not_promotable"
    assert processes.current_production(proc.id) is None
    with pytest.raises(Conflict) as exc:
        processes.promotion_preview(actor, draft.id)
    assert exc.value.code == "not_promotable"


def test_the_current_production_version_is_not_promotable_again(app, factories):
    actor = factories.user("promoter")
    proc = factories.process(actor)
    live = factories.production(actor, proc)
    with pytest.raises(Conflict) as exc:
        processes.promote(actor, live.id)
    assert exc.value.code == "not_promotable" and exc.value.status == 409
    assert processes.current_production(proc.id).id == live.id


def test_promote_copies_the_sandbox_version_into_production_and_keeps_the_source(app, db, factories):
    actor = factories.user("promoter")
    proc = factories.process(actor)
    source = factories.version(actor, proc, {"prompt": "p"}, input_schema={"type": "object"}, notes="tuned")
    result = processes.promote(actor, source.id)
    promoted = result.promoted
    assert (promoted.environment, promoted.status) == (Environment.production, VersionStatus.active)
    assert promoted.document == source.document
    assert promoted.promoted_from_id == source.id and promoted.promoted_by_id == actor.user_id
    assert promoted.change_notes == "tuned"
    assert result.deprecated is None
    db.session.expire_all()
    assert db.session.get(ProcessVersion, source.id).status is VersionStatus.active


def test_rollback_to_a_deprecated_production_version_creates_a_new_production_version(app, db, factories):
    actor = factories.user("promoter")
    proc = factories.process(actor)
    first = factories.production(actor, proc, {"prompt": "one"})   # v1 sandbox, v2 production
    second = factories.production(actor, proc, {"prompt": "two"})  # v3 sandbox, v4 production
    db.session.expire_all()
    assert db.session.get(ProcessVersion, first.id).status is VersionStatus.deprecated

    result = processes.promote(actor, first.id)
    rolled = result.promoted
    assert rolled.number == 5
    assert rolled.environment is Environment.production and rolled.status is VersionStatus.active
    assert rolled.config == {"prompt": "one"}
    assert rolled.change_notes == f"Rollback to v{first.number}"
    assert result.deprecated.id == second.id
    assert processes.current_production(proc.id).id == rolled.id
    assert actions(db, rolled.id) == ["version.rolled_back"]


def test_version_numbers_count_up_per_process_across_environments(app, factories):
    actor = factories.user("promoter")
    one, two = factories.process(actor), factories.process(actor)
    a1 = factories.version(actor, one)
    b1 = factories.version(actor, two)
    a3 = factories.production(actor, one)  # promoting a new sandbox v2 makes production v3
    a4 = factories.version(actor, one, activate=False)
    b2 = factories.version(actor, two)
    assert [a1.number, a3.number, a4.number] == [1, 3, 4]
    assert a3.promoted_from.number == 2
    assert [b1.number, b2.number] == [1, 2]


def test_a_viewer_cannot_create_a_process_or_a_version(app, db, factories):
    admin = factories.user("admin", workspace="Acme")
    viewer = factories.user("viewer", workspace="Acme")
    proc = factories.process(admin)
    with pytest.raises(Forbidden) as exc:
        processes.create_process(viewer, "Nope")
    assert exc.value.status == 403
    with pytest.raises(Forbidden):
        processes.create_draft(viewer, proc, {"prompt": "x"})
    assert db.session.scalar(select(ProcessVersion.id).where(ProcessVersion.process_id == proc.id)) is None


def test_an_editor_cannot_promote_but_a_promoter_can(app, factories):
    editor = factories.user("editor", workspace="Acme")
    promoter = factories.user("promoter", workspace="Acme")
    proc = factories.process(editor)
    version = factories.version(editor, proc)
    with pytest.raises(Forbidden) as exc:
        processes.promote(editor, version.id)
    assert exc.value.status == 403
    with pytest.raises(Forbidden):
        processes.promotion_preview(editor, version.id)
    assert processes.current_production(proc.id) is None
    assert processes.promote(promoter, version.id).promoted.status is VersionStatus.active


def test_create_activate_and_promote_are_audited_with_the_actor(app, db, factories):
    actor = factories.user("promoter")
    proc = factories.process(actor)
    version = factories.version(actor, proc)
    promoted = processes.promote(actor, version.id).promoted
    assert actions(db, version.id) == ["version.created", "version.activated"]
    assert actions(db, promoted.id) == ["version.promoted"]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "version.promoted"))
    assert event.actor_id == actor.user_id and event.workspace_id == actor.workspace_id
    assert event.details["version"] == promoted.number and event.details["from_version"] == version.number


def test_an_invalid_json_schema_is_refused_and_named(app, db, factories):
    actor = factories.user("editor")
    proc = factories.process(actor)
    with pytest.raises(Invalid) as exc:
        processes.create_draft(actor, proc, {"prompt": "x"}, {"type": "no-such-type"})
    assert exc.value.status == 422
    assert "input_schema" in exc.value.details
    assert db.session.scalar(select(ProcessVersion.id)) is None


def test_a_config_that_is_not_an_object_is_refused(app, db, factories):
    actor = factories.user("editor")
    proc = factories.process(actor)
    for config in (["a list"], "a string", 3, None):
        with pytest.raises(Invalid) as exc:
            processes.create_draft(actor, proc, config)
        assert "config" in exc.value.details
    assert db.session.scalar(select(ProcessVersion.id)) is None


def test_a_template_syntax_error_in_the_config_is_refused(app, db, factories):
    actor = factories.user("editor")
    proc = factories.process(actor)
    with pytest.raises(Invalid) as exc:
        processes.create_draft(actor, proc, {"prompt": "Hello {{ name "})
    assert "config" in exc.value.details
    with pytest.raises(Invalid):
        processes.create_draft(actor, proc, {"nested": ["{% if x %}unclosed"]})
    assert db.session.scalar(select(ProcessVersion.id)) is None


def test_an_invalid_update_leaves_the_draft_unchanged(app, db, factories):
    actor = factories.user("editor")
    proc = factories.process(actor)
    draft = factories.version(actor, proc, {"prompt": "ok"}, activate=False)
    with pytest.raises(Invalid):
        processes.update_draft(actor, draft.id, {"prompt": "{{ broken"})
    db.session.expire_all()
    assert db.session.get(ProcessVersion, draft.id).config == {"prompt": "ok"}
