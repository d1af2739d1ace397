"""Archiving a process (admins): its keys get 410 Gone, it cannot be promoted or edited, it can be restored."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import bearer
from tests.races import race, require_postgres
from webapp.audit.models import AuditEvent
from webapp.errors import Conflict, Forbidden
from webapp.processes import documents, promotion
from webapp.processes.models import Process, ProcessVersion
from webapp.promotion import confirm


def _archived_world(factories, admin):
    proc = factories.process(admin, "Greeter")
    live = factories.production(admin, proc, {"prompt": "Hello {{ name }}"})
    candidate = factories.version(admin, proc, {"prompt": "Hi {{ name }}"})  # sandbox active, promotable
    draft = factories.version(admin, proc, {"prompt": "unfinished"}, activate=False)
    return proc, live, candidate, draft


def _versions(db) -> int:
    return db.session.scalar(select(func.count()).select_from(ProcessVersion))


def test_an_archived_process_answers_410_to_serve_and_invoke_with_a_clear_message_for_both_keys(client, db, factories,
                                                                                                  admin):
    proc, *_ = _archived_world(factories, admin)
    production, sandbox = factories.environment_key(admin, "production"), factories.environment_key(admin, "sandbox")
    etag = client.get("/api/v1/serve/greeter", headers=bearer(production)).headers["ETag"]
    documents.archive_process(admin, proc.slug, "replaced by greeter-v2")
    for key in (production, sandbox):
        for response in (client.get("/api/v1/serve/greeter", headers=bearer(key)),
                         client.get("/api/v1/serve/greeter", headers={**bearer(key), "If-None-Match": etag}),
                         client.post("/api/v1/serve/greeter/invoke", json={"name": "Ada"}, headers=bearer(key))):
            assert response.status_code == 410
            body = response.get_json()
            assert body["error"] == "process_archived"
            assert "'greeter' is archived" in body["message"] and "restores it" in body["message"]
    # a bad key is still 401, not a hint that the process exists
    assert client.get("/api/v1/serve/greeter", headers=bearer("pd_env_wrong")).status_code == 401


def test_an_archived_process_cannot_be_previewed_promoted_or_rolled_back_and_nothing_is_written(db, factories, admin):
    proc, live, candidate, _ = _archived_world(factories, admin)
    first = db.session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == proc.id,
                                                           ProcessVersion.number == 1))
    token = promotion.promotion_preview(admin, candidate.id).token  # a dialog opened before the archive
    documents.archive_process(admin, proc.slug)
    before = _versions(db)
    for call in (lambda: promotion.promotion_preview(admin, candidate.id),
                 lambda: promotion.promote(admin, candidate.id, preview_token=token),
                 lambda: promotion.promote(admin, candidate.id),
                 lambda: promotion.promote(admin, first.id)):
        with pytest.raises(Conflict) as exc:
            call()
        assert exc.value.code == "process_archived" and exc.value.status == 409
    assert _versions(db) == before
    assert documents.current_production(proc.id).id == live.id


def test_the_promotion_engine_itself_refuses_an_archived_process_so_a_later_path_cannot_promote_it(db, factories,
                                                                                                     admin):
    """A scheduled or approved promotion built before the archive confirms through the engine: `check` refuses."""
    proc, live, candidate, _ = _archived_world(factories, admin)
    prepared = promotion.VersionPromotion(admin, candidate, documents.current_production(proc.id))
    token = prepared.sign()
    documents.archive_process(admin, proc.slug)
    db.session.refresh(candidate.process)
    before = _versions(db)
    with pytest.raises(Conflict) as exc:
        confirm(prepared, token)
    assert exc.value.code == "process_archived"
    assert _versions(db) == before and documents.current_production(proc.id).id == live.id


def test_an_archived_process_gets_no_new_drafts_no_edits_and_no_activations(db, factories, admin):
    proc, _, _, draft = _archived_world(factories, admin)
    documents.archive_process(admin, proc.slug)
    before = _versions(db)
    for call in (lambda: documents.create_draft(admin, proc, {"prompt": "new"}),
                 lambda: documents.update_draft(admin, draft.id, {"prompt": "edited"}),
                 lambda: documents.editable_draft(admin, draft.id),
                 lambda: documents.activate(admin, draft.id)):
        with pytest.raises(Conflict) as exc:
            call()
        assert exc.value.code == "process_archived"
    db.session.expire_all()
    assert _versions(db) == before
    assert db.session.get(ProcessVersion, draft.id).config == {"prompt": "unfinished"}


def test_restore_serves_promotes_and_edits_again_as_before(client, db, factories, admin):
    proc, live, candidate, draft = _archived_world(factories, admin)
    key = factories.environment_key(admin, "production")
    documents.archive_process(admin, proc.slug)
    documents.restore_process(admin, proc.slug)
    body = client.get("/api/v1/serve/greeter", headers=bearer(key)).get_json()
    assert body["version"] == live.number
    documents.activate(admin, draft.id)
    assert promotion.promote(admin, candidate.id).promoted.config == {"prompt": "Hi {{ name }}"}


def test_archive_and_restore_are_audited_with_who_and_why_and_twice_is_a_409(db, factories, admin):
    proc, *_ = _archived_world(factories, admin)
    documents.archive_process(admin, proc.slug, "  replaced by greeter-v2 ")
    with pytest.raises(Conflict) as exc:
        documents.archive_process(admin, proc.slug)
    assert exc.value.code == "already_archived"
    db.session.expire_all()
    archived = db.session.get(Process, proc.id)
    assert archived.archived_by_id == admin.user_id and archived.archived_at is not None
    documents.restore_process(admin, proc.slug)
    with pytest.raises(Conflict) as exc:
        documents.restore_process(admin, proc.slug)
    assert exc.value.code == "not_archived"
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.resource_type == "process",
                                                         AuditEvent.resource_id == str(proc.id))
                                .order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["process.created", "process.archived", "process.restored"]
    assert events[1].details["reason"] == "replaced by greeter-v2" and events[1].actor_id == admin.user_id
    assert db.session.get(Process, proc.id).archived_at is None


@pytest.mark.parametrize("role", ["viewer", "editor", "promoter"])
def test_only_admins_archive_or_restore_and_a_refusal_writes_nothing(db, factories, admin, role):
    proc, *_ = _archived_world(factories, admin)
    member = factories.user(role)
    with pytest.raises(Forbidden):
        documents.archive_process(member, proc.slug)
    documents.archive_process(admin, proc.slug)
    with pytest.raises(Forbidden):
        documents.restore_process(member, proc.slug)
    db.session.expire_all()
    assert db.session.get(Process, proc.id).archived_at is not None


# -- the dashboard and the management API ------------------------------------------------------------


def test_dashboard_archive_shows_archived_in_the_list_and_page_hides_edit_and_promote_then_restore(auth, db,
                                                                                                   factories):
    admin = factories.user("admin")
    auth.login(admin.label)
    proc, _, candidate, _ = _archived_world(factories, admin)
    page = auth.get(f"/processes/{proc.slug}").get_data(as_text=True)
    assert "Promote to Production" in page and "Archive this process" in page
    response = auth.post(f"/processes/{proc.slug}/archive", data={"reason": "old"})
    assert response.status_code == 303
    page = auth.get(f"/processes/{proc.slug}").get_data(as_text=True)
    assert "badge-archived" in page and "410 Gone" in page and "Restore process" in page
    assert "Promote to Production" not in page and "New draft" not in page and "Edit draft" not in page
    listing = auth.get("/processes").get_data(as_text=True)
    assert '<span class="badge badge-archived">archived</span>' in listing
    dialog = auth.get(f"/versions/{candidate.id}/promote", htmx=True)
    assert dialog.status_code == 409 and "is archived" in dialog.get_data(as_text=True)
    edit = auth.post(f"/processes/{proc.slug}/versions", data={"config": '{"prompt": "x"}', "input_schema": "",
                                                               "output_schema": "", "change_notes": ""})
    assert edit.status_code == 409
    assert auth.post(f"/processes/{proc.slug}/restore").status_code == 303
    page = auth.get(f"/processes/{proc.slug}").get_data(as_text=True)
    assert "badge-archived" not in page and "Promote to Production" in page


@pytest.mark.parametrize("role", ["viewer", "editor", "promoter"])
def test_dashboard_archive_and_restore_are_403_below_admin_and_the_button_is_not_shown(auth, db, factories, role):
    admin = factories.user("admin")
    proc, *_ = _archived_world(factories, admin)
    member = factories.user(role)
    auth.login(member.label)
    assert "Archive this process" not in auth.get(f"/processes/{proc.slug}").get_data(as_text=True)
    assert auth.post(f"/processes/{proc.slug}/archive", data={"reason": "x"}).status_code == 403
    documents.archive_process(admin, proc.slug)
    assert "Restore process" not in auth.get(f"/processes/{proc.slug}").get_data(as_text=True)
    assert auth.post(f"/processes/{proc.slug}/restore").status_code == 403
    db.session.expire_all()
    assert db.session.get(Process, proc.id).archived_at is not None


def test_api_archive_list_promote_409_and_restore(client, db, factories, admin):
    proc, _, candidate, _ = _archived_world(factories, admin)
    headers = bearer(factories.personal_token(admin))
    response = client.post(f"/api/v1/processes/{proc.slug}/archive", json={"reason": "replaced"}, headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["slug"] == "greeter" and body["archived_by"] == admin.label and body["archived_at"]
    listed = {p["slug"]: p for p in client.get("/api/v1/processes", headers=headers).get_json()}
    assert listed["greeter"]["archived_at"] == body["archived_at"]
    again = client.post(f"/api/v1/processes/{proc.slug}/archive", headers=headers)
    assert again.status_code == 409 and again.get_json()["error"] == "already_archived"
    promote = client.post(f"/api/v1/versions/{candidate.id}/promote", json={}, headers=headers)
    assert promote.status_code == 409 and promote.get_json()["error"] == "process_archived"
    draft = client.post(f"/api/v1/processes/{proc.slug}/versions", json={"config": {"p": 1}}, headers=headers)
    assert draft.status_code == 409 and draft.get_json()["error"] == "process_archived"
    restored = client.post(f"/api/v1/processes/{proc.slug}/restore", headers=headers)
    assert restored.status_code == 200 and restored.get_json()["archived_at"] is None
    assert client.get("/api/v1/processes", headers=headers).get_json()[0]["archived_at"] is None


@pytest.mark.parametrize("role", ["viewer", "editor", "promoter"])
def test_api_archive_and_restore_are_403_below_admin(client, db, factories, admin, role):
    proc, *_ = _archived_world(factories, admin)
    headers = bearer(factories.personal_token(factories.user(role)))
    assert client.post(f"/api/v1/processes/{proc.slug}/archive", json={"reason": "x"}, headers=headers).status_code == 403
    documents.archive_process(admin, proc.slug)
    assert client.post(f"/api/v1/processes/{proc.slug}/restore", headers=headers).status_code == 403


def test_api_archive_of_another_workspaces_process_is_404_and_leaves_it_served(client, db, factories, admin):
    proc, *_ = _archived_world(factories, admin)
    other = factories.user("admin", "Globex")
    response = client.post(f"/api/v1/processes/{proc.slug}/archive", headers=bearer(factories.personal_token(other)))
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Process, proc.id).archived_at is None


# -- races (PostgreSQL: the process row lock orders archive and promote) ---------------------------------


def test_archive_racing_a_promote_either_comes_after_it_or_refuses_it_never_promotes_an_archived_process(app, db,
                                                                                                       factories):
    require_postgres(db)
    admin = factories.user("admin")
    proc, *_ = _archived_world(factories, admin)
    token = factories.personal_token(admin)
    outcomes = set()
    for i in range(6):
        candidate = factories.version(admin, proc, {"prompt": f"raced {i}"})  # never identical to production
        before = _versions(db)
        (archived, _), (promoted, body) = race(app, [(f"/api/v1/processes/{proc.slug}/archive", {}),
                                                      (f"/api/v1/versions/{candidate.id}/promote", {})], token)
        assert archived == 200
        db.session.expire_all()
        process = db.session.get(Process, proc.id)
        if promoted == 201:  # it took the lock first: promoted while the process was live
            version = db.session.get(ProcessVersion, body["promoted_version"]["id"])
            assert version.published_at <= process.archived_at
            assert _versions(db) == before + 1
        else:
            assert (promoted, body["error"]) == (409, "process_archived")
            assert _versions(db) == before
        outcomes.add(promoted)
        documents.restore_process(admin, proc.slug)
    assert outcomes <= {201, 409}
