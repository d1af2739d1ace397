"""Webhooks, audit and jobs pages."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from rq.job import Job
from sqlalchemy import select

from webapp.audit import services as audit
from webapp.outbox.models import EffectStatus, OutboxEffect
from webapp.webhooks.models import WebhookEndpoint

# -- webhooks ---------------------------------------------------------------------------------------


def test_admin_creates_webhook_and_sees_the_signing_secret_once(auth, db, factories):
    admin = factories.user("admin")
    auth.login(admin.label)
    response = auth.post("/settings/webhooks", data={"url": "https://user:pw@hooks.example/in", "description": "ops"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    secret = re.search(r'value="(whsec_[^"]+)"', html).group(1)
    assert "X-PromotionDesk-Signature: sha256=" in html
    endpoint = db.session.scalar(select(WebhookEndpoint))
    assert endpoint.url_hint == "https://hooks.example/…" and secret not in endpoint.secret_sealed
    page = auth.client.get("/settings/webhooks").get_data(as_text=True)
    assert "https://hooks.example/…" in page and secret not in page and "user:pw" not in page


@pytest.mark.parametrize("role", ["viewer", "editor", "promoter"])
def test_below_admin_neither_sees_nor_creates_webhooks(auth, db, factories, role):
    member = factories.user(role)
    auth.login(member.label)
    assert auth.client.get("/settings/webhooks").status_code == 403
    assert ">Webhooks</a>" not in auth.client.get("/settings/tokens").get_data(as_text=True)
    assert auth.post("/settings/webhooks", data={"url": "https://hooks.example/in"}).status_code == 403
    assert db.session.scalars(select(WebhookEndpoint)).all() == []


def test_webhook_with_a_bad_url_is_422_and_writes_nothing(auth, db, factories):
    admin = factories.user("admin")
    auth.login(admin.label)
    response = auth.post("/settings/webhooks", htmx=True, data={"url": "ftp://nope"})
    assert response.status_code == 422 and "http:// or https://" in response.get_data(as_text=True)
    assert db.session.scalars(select(WebhookEndpoint)).all() == []


def test_admin_disables_a_webhook(auth, db, factories):
    from webapp.webhooks import services as webhooks

    admin = factories.user("admin")
    endpoint, _ = webhooks.create_endpoint(admin, "https://hooks.example/in")
    auth.login(admin.label)
    response = auth.post(f"/settings/webhooks/{endpoint.id}/disable", htmx=True)
    assert response.status_code == 200 and "disabled" in json.loads(response.headers["HX-Trigger"])["toast"]["message"]
    db.session.refresh(endpoint)
    assert endpoint.disabled_at is not None


# -- audit ----------------------------------------------------------------------------------------


@pytest.fixture
def audited(db, factories):
    """A viewer in a workspace with a few known events, plus one event in another workspace."""
    admin = factories.user("admin", "Acme")
    for i in range(3):
        audit.record(admin, "version.promoted", "process", 7, {"n": i})
    audit.record(admin, "webhook.created", "webhook", 1)
    other = factories.user("admin", "Initech")
    audit.record(other, "version.promoted", "process", 99)
    db.session.commit()
    return factories.user("viewer", "Acme")


def test_audit_page_filters_by_action_and_resource(auth, audited):
    auth.login(audited.label)
    html = auth.get("/audit?action=version&resource=process:7").get_data(as_text=True)
    assert html.count("<code>version.promoted</code>") == 3
    assert "webhook.created" not in html.split('<section id="events">')[1]
    assert "process:99" not in html  # another workspace's event


def test_audit_page_answers_htmx_with_the_table_fragment(auth, audited):
    auth.login(audited.label)
    response = auth.get("/audit?action=webhook", htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and "<form" not in html
    assert "webhook.created" in html and "version.promoted" not in html


def test_audit_page_with_a_bad_date_is_400_with_a_message(auth, audited):
    auth.login(audited.label)
    response = auth.get("/audit?since=yesterday")
    assert response.status_code == 400 and "ISO 8601" in response.get_data(as_text=True)


def test_audit_pages_are_100_events_long(auth, db, factories):
    admin = factories.user("admin")
    for i in range(101):
        audit.record(admin, "test.event", "thing", i)
    db.session.commit()
    auth.login(admin.label)
    first = auth.get("/audit?action=test").get_data(as_text=True)
    assert first.count("<code>test.event</code>") == 100 and "page 1 of 2" in first
    assert 'href="/audit?page=2&amp;action=test"' in first
    second = auth.get("/audit?action=test&page=2").get_data(as_text=True)
    assert second.count("<code>test.event</code>") == 1


def test_audit_exports_csv_with_current_filters(auth, audited):
    auth.login(audited.label)
    response = auth.get("/audit/export?format=csv&action=webhook")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="audit-')
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["action"], r["resource_type"], r["resource_id"]) for r in rows] == [("webhook.created", "webhook", "1")]


def test_audit_exports_json(auth, audited):
    auth.login(audited.label)
    response = auth.get("/audit/export?format=json&resource=process:7")
    assert response.mimetype == "application/json" and "attachment" in response.headers["Content-Disposition"]
    events = response.get_json()
    assert len(events) == 3 and {e["action"] for e in events} == {"version.promoted"}
    assert sorted(e["details"]["n"] for e in events) == [0, 1, 2]


def test_audit_export_in_an_unknown_format_is_400(auth, audited):
    auth.login(audited.label)
    assert auth.get("/audit/export?format=xml").status_code == 400


# -- jobs -----------------------------------------------------------------------------------------


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
