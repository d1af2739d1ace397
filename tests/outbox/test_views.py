"""The jobs page: failed and unknown effects, for admins; retrying a failed one."""

from __future__ import annotations

import json

import pytest
from rq.job import Job

from webapp.outbox.models import EffectStatus, OutboxEffect


def _failed_effect(db, workspace_id: int) -> OutboxEffect:
    effect = OutboxEffect(workspace_id=workspace_id, kind="webhook.deliver", payload={"endpoint_id": 1},
                          status=EffectStatus.failed, attempts=5, max_attempts=5, last_error="RuntimeError: boom")
    db.session.add(effect)
    db.session.commit()
    return effect


@pytest.mark.parametrize("role", ["viewer", "editor", "promoter"])
def test_jobs_page_is_for_admins_only(auth, factories, role):
    actor = factories.user(role)
    auth.login(actor.label)
    assert auth.get("/jobs").status_code == 403
    assert ">Jobs</a>" not in auth.get("/settings/tokens").get_data(as_text=True)


def test_jobs_page_lists_the_failed_effect_for_an_admin(auth, db, factories):
    admin = factories.user("admin")
    _failed_effect(db, admin.workspace_id)
    auth.login(admin.label)
    html = auth.get("/jobs").get_data(as_text=True)
    assert "webhook.deliver" in html and "RuntimeError: boom" in html and "5/5" in html
    assert 'class="badge badge-failed"' in html


def test_jobs_page_shows_only_this_workspaces_effects_and_retrying_anothers_is_404(auth, db, factories):
    stranger = factories.user("admin", "Initech")
    theirs = _failed_effect(db, stranger.workspace_id)
    theirs.last_error = "RuntimeError: initech secret"
    db.session.commit()
    admin = factories.user("admin", "Acme")
    auth.login(admin.label)
    assert "initech secret" not in auth.get("/jobs").get_data(as_text=True)
    assert auth.post(f"/jobs/{theirs.id}/retry").status_code == 404
    db.session.refresh(theirs)
    assert theirs.status is EffectStatus.failed


def test_admin_retries_a_failed_effect_and_it_is_queued_again(auth, db, factories, redis):
    admin = factories.user("admin")
    effect = _failed_effect(db, admin.workspace_id)
    auth.login(admin.label)
    response = auth.post(f"/jobs/{effect.id}/retry", htmx=True)
    assert response.status_code == 200 and "<html" not in response.get_data(as_text=True)
    assert "queued again" in json.loads(response.headers["HX-Trigger"])["toast"]["message"]
    db.session.refresh(effect)
    assert effect.status is EffectStatus.pending and effect.attempts == 0
    assert Job.fetch(f"effect-{effect.id}", connection=redis).get_status() == "queued"


def test_promoter_cannot_retry_and_retrying_a_pending_job_is_409(auth, db, factories):
    admin = factories.user("admin")
    effect = _failed_effect(db, admin.workspace_id)
    promoter = factories.user("promoter")
    auth.login(promoter.label)
    assert auth.post(f"/jobs/{effect.id}/retry").status_code == 403
    auth.logout()
    auth.login(admin.label)
    assert auth.post(f"/jobs/{effect.id}/retry").headers["Location"] == "/jobs"
    assert auth.post(f"/jobs/{effect.id}/retry", htmx=True).status_code == 409
