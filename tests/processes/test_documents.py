"""Drafts through the services (webapp/processes/documents.py): create, edit, activate, validate, who may."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from webapp.accounts.models import Environment
from webapp.errors import Conflict, Forbidden, Invalid
from webapp.processes import documents
from webapp.processes.models import ProcessVersion, VersionStatus


def test_activating_a_draft_makes_it_sandbox_active(app, db, factories):
    actor = factories.user("editor")
    proc = factories.process(actor)
    draft = factories.version(actor, proc, activate=False)
    assert (draft.environment, draft.status) == (Environment.sandbox, VersionStatus.draft)
    active = documents.activate(actor, draft.id)
    assert (active.environment, active.status) == (Environment.sandbox, VersionStatus.active)
    assert active.activated_at is not None


def test_activating_twice_is_a_409(app, factories):
    actor = factories.user("editor")
    proc = factories.process(actor)
    version = factories.version(actor, proc)
    with pytest.raises(Conflict) as exc:
        documents.activate(actor, version.id)
    assert exc.value.status == 409


def test_update_draft_changes_a_draft(app, db, factories):
    actor = factories.user("editor")
    proc = factories.process(actor)
    draft = factories.version(actor, proc, {"prompt": "a"}, activate=False)
    documents.update_draft(actor, draft.id, {"prompt": "b"}, None, None, "second try")
    db.session.expire_all()
    stored = db.session.get(ProcessVersion, draft.id)
    assert stored.config == {"prompt": "b"} and stored.change_notes == "second try"


def test_update_draft_refuses_an_active_sandbox_version(app, db, factories):
    actor = factories.user("editor")
    proc = factories.process(actor)
    active = factories.version(actor, proc, {"prompt": "a"})
    with pytest.raises(Conflict):
        documents.update_draft(actor, active.id, {"prompt": "changed"})
    db.session.expire_all()
    assert db.session.get(ProcessVersion, active.id).config == {"prompt": "a"}


def test_production_versions_are_immutable(app, db, factories):
    actor = factories.user("admin")
    proc = factories.process(actor)
    live = factories.production(actor, proc, {"prompt": "live"})
    with pytest.raises(Conflict) as exc:
        documents.update_draft(actor, live.id, {"prompt": "sneaky edit"})
    assert exc.value.status == 409
    db.session.expire_all()
    assert db.session.get(ProcessVersion, live.id).config == {"prompt": "live"}


def test_a_viewer_cannot_create_a_process_or_a_version(app, db, factories):
    admin = factories.user("admin", workspace="Acme")
    viewer = factories.user("viewer", workspace="Acme")
    proc = factories.process(admin)
    with pytest.raises(Forbidden) as exc:
        documents.create_process(viewer, "Nope")
    assert exc.value.status == 403
    with pytest.raises(Forbidden):
        documents.create_draft(viewer, proc, {"prompt": "x"})
    assert db.session.scalar(select(ProcessVersion.id).where(ProcessVersion.process_id == proc.id)) is None


def test_an_invalid_json_schema_is_refused_and_named(app, db, factories):
    actor = factories.user("editor")
    proc = factories.process(actor)
    with pytest.raises(Invalid) as exc:
        documents.create_draft(actor, proc, {"prompt": "x"}, {"type": "no-such-type"})
    assert exc.value.status == 422
    assert "input_schema" in exc.value.details
    assert db.session.scalar(select(ProcessVersion.id)) is None


def test_a_config_that_is_not_an_object_is_refused(app, db, factories):
    actor = factories.user("editor")
    proc = factories.process(actor)
    for config in (["a list"], "a string", 3, None):
        with pytest.raises(Invalid) as exc:
            documents.create_draft(actor, proc, config)
        assert "config" in exc.value.details
    assert db.session.scalar(select(ProcessVersion.id)) is None


def test_a_template_syntax_error_in_the_config_is_refused(app, db, factories):
    actor = factories.user("editor")
    proc = factories.process(actor)
    with pytest.raises(Invalid) as exc:
        documents.create_draft(actor, proc, {"prompt": "Hello {{ name "})
    assert "config" in exc.value.details
    with pytest.raises(Invalid):
        documents.create_draft(actor, proc, {"nested": ["{% if x %}unclosed"]})
    assert db.session.scalar(select(ProcessVersion.id)) is None


def test_an_invalid_update_leaves_the_draft_unchanged(app, db, factories):
    actor = factories.user("editor")
    proc = factories.process(actor)
    draft = factories.version(actor, proc, {"prompt": "ok"}, activate=False)
    with pytest.raises(Invalid):
        documents.update_draft(actor, draft.id, {"prompt": "{{ broken"})
    db.session.expire_all()
    assert db.session.get(ProcessVersion, draft.id).config == {"prompt": "ok"}
