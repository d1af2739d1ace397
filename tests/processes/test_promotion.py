"""Promotion through the services (webapp/processes/promotion.py): active → promoted → deprecated → rollback."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.processes.audit_trail import actions
from webapp.accounts.models import Environment
from webapp.audit.models import AuditEvent
from webapp.errors import Conflict, Forbidden
from webapp.processes import documents, promotion
from webapp.processes.models import ProcessVersion, VersionStatus


def test_a_draft_is_not_promotable(app, db, factories):
    actor = factories.user("promoter")
    proc = factories.process(actor)
    draft = factories.version(actor, proc, activate=False)
    with pytest.raises(Conflict) as exc:
        promotion.promote(actor, draft.id)
    assert exc.value.code == "not_promotable"
    assert documents.current_production(proc.id) is None
    with pytest.raises(Conflict) as exc:
        promotion.promotion_preview(actor, draft.id)
    assert exc.value.code == "not_promotable"


def test_the_current_production_version_is_not_promotable_again(app, factories):
    actor = factories.user("promoter")
    proc = factories.process(actor)
    live = factories.production(actor, proc)
    with pytest.raises(Conflict) as exc:
        promotion.promote(actor, live.id)
    assert exc.value.code == "not_promotable" and exc.value.status == 409
    assert documents.current_production(proc.id).id == live.id


def test_promote_copies_the_sandbox_version_into_production_and_keeps_the_source(app, db, factories):
    actor = factories.user("promoter")
    proc = factories.process(actor)
    source = factories.version(actor, proc, {"prompt": "p"}, input_schema={"type": "object"}, notes="tuned")
    result = promotion.promote(actor, source.id)
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

    result = promotion.promote(actor, first.id)
    rolled = result.promoted
    assert rolled.number == 5
    assert rolled.environment is Environment.production and rolled.status is VersionStatus.active
    assert rolled.config == {"prompt": "one"}
    assert rolled.change_notes == f"Rollback to v{first.number}"
    assert result.deprecated.id == second.id
    assert documents.current_production(proc.id).id == rolled.id
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


def test_an_editor_cannot_promote_but_a_promoter_can(app, factories):
    editor = factories.user("editor", workspace="Acme")
    promoter = factories.user("promoter", workspace="Acme")
    proc = factories.process(editor)
    version = factories.version(editor, proc)
    with pytest.raises(Forbidden) as exc:
        promotion.promote(editor, version.id)
    assert exc.value.status == 403
    with pytest.raises(Forbidden):
        promotion.promotion_preview(editor, version.id)
    assert documents.current_production(proc.id) is None
    assert promotion.promote(promoter, version.id).promoted.status is VersionStatus.active


def test_create_activate_and_promote_are_audited_with_the_actor(app, db, factories):
    actor = factories.user("promoter")
    proc = factories.process(actor)
    version = factories.version(actor, proc)
    promoted = promotion.promote(actor, version.id).promoted
    assert actions(db, version.id) == ["version.created", "version.activated"]
    assert actions(db, promoted.id) == ["version.promoted"]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "version.promoted"))
    assert event.actor_id == actor.user_id and event.workspace_id == actor.workspace_id
    assert event.details["version"] == promoted.number and event.details["from_version"] == version.number


# -- copies and identical promotions ------------------------------------------------------------------------


def test_a_production_version_names_the_version_it_copies_in_its_label_and_json(app, db, factories):
    actor = factories.user("promoter")
    proc = factories.process(actor)
    first = factories.production(actor, proc, {"prompt": "one"})  # v1 sandbox → v2 production
    factories.production(actor, proc, {"prompt": "two"})  # v3 → v4
    again = promotion.promote(actor, first.id).promoted  # v2 promoted again: v5
    assert (first.label, again.label) == ("v2 (copy of v1)", "v5 (copy of v2)")
    assert again.as_json()["copied_from"] == 2
    assert factories.version(actor, proc, {"prompt": "three"}).as_json()["copied_from"] is None


def test_promoting_a_version_identical_to_production_is_409_and_writes_nothing(app, db, factories):
    actor = factories.user("promoter")
    proc = factories.process(actor)
    live = factories.production(actor, proc, {"prompt": "same", "temperature": 0.2})  # v2
    twin = factories.version(actor, proc, {"temperature": 0.2, "prompt": "same"})  # v3, same document
    preview = promotion.promotion_preview(actor, twin.id)
    assert preview.is_identical and preview.as_json()["identical_to_production"] is True
    events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    with pytest.raises(Conflict) as exc:
        promotion.promote(actor, twin.id, preview_token=preview.token)
    assert (exc.value.status, exc.value.code) == (409, "identical_to_production")
    assert exc.value.message.startswith("Identical to production — nothing to promote")
    db.session.expire_all()
    assert documents.current_production(proc.id).id == live.id
    assert db.session.scalar(select(func.count()).select_from(ProcessVersion)) == 3
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_rolling_back_to_the_version_production_already_copies_is_refused_as_identical(app, db, factories):
    actor = factories.user("promoter")
    proc = factories.process(actor)
    first = factories.production(actor, proc, {"prompt": "one"})  # v2
    factories.production(actor, proc, {"prompt": "two"})  # v4
    assert not promotion.promotion_preview(actor, first.id).is_identical
    promotion.promote(actor, first.id)  # v5, a copy of v2, is live
    assert promotion.promotion_preview(actor, first.id).is_identical
    with pytest.raises(Conflict) as exc:
        promotion.promote(actor, first.id)
    assert exc.value.code == "identical_to_production" and "v5 (copy of v2)" in exc.value.message
    assert documents.current_production(proc.id).number == 5


def test_a_changed_value_of_another_json_type_is_not_identical(app, factories):
    actor = factories.user("promoter")
    proc = factories.process(actor)
    factories.production(actor, proc, {"prompt": "p", "temperature": 1})
    other = factories.version(actor, proc, {"prompt": "p", "temperature": True})
    assert not promotion.promotion_preview(actor, other.id).is_identical
    assert promotion.promote(actor, other.id).promoted.number == 4
