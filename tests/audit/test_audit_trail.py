"""What the audit log records, how its page filters, and that ids of another workspace stay hidden
on every admin route (404, nothing changed)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from webapp.accounts import services as accounts
from webapp.accounts.models import ApiToken
from webapp.audit import services as audit
from webapp.audit.models import AuditEvent
from webapp.outbox.models import EffectStatus, OutboxEffect
from webapp.webhooks import services as webhooks
from webapp.webhooks.models import WebhookEndpoint


def actions(db) -> list[tuple[str, str | None]]:
    return [(e.action, e.resource_type) for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_keys_and_tokens_created_and_revoked_are_audited_without_the_secret(auth, db, factories):
    admin = factories.user("admin")
    key, key_plaintext = accounts.create_environment_key(admin, "production", "ci")
    token, token_plaintext = accounts.create_personal_token(admin, "laptop")
    auth.login(admin.label)
    assert auth.post(f"/settings/keys/{key.id}/revoke").status_code < 400
    assert auth.post(f"/settings/tokens/{token.id}/revoke").status_code < 400
    assert [a for a in actions(db) if a[1] == "api_token"] == [
        ("key.created", "api_token"), ("token.created", "api_token"),
        ("key.revoked", "api_token"), ("token.revoked", "api_token")]
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.resource_type == "api_token")).all()
    assert all(e.actor_label == admin.label and e.workspace_id == admin.workspace_id for e in events)
    recorded = " ".join(str(e.details) for e in events)
    for secret in (key_plaintext, token_plaintext, key.token_hash, token.token_hash):
        assert secret not in recorded


def test_failed_logins_are_audited_in_each_workspace_of_the_account_and_unknown_ones_without(auth, db, factories):
    member = factories.user("viewer", "Acme", email="ada@example.com")
    accounts.create_user("ada@example.com", factories.PASSWORD, "Globex", "viewer")
    _, solo = accounts.create_user("loner@example.com", factories.PASSWORD, "Solo", "viewer")
    db.session.delete(solo)  # an account in no workspace
    db.session.commit()
    for email in ("ada@example.com", "loner@example.com", "nobody@example.com"):
        assert auth.login(email, "wrong-password").status_code == 401
    failed = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login_failed")).all()
    by_email: dict[str, list[int | None]] = {}
    for e in failed:
        by_email.setdefault(e.details["email"], []).append(e.workspace_id)
    assert sorted(by_email["ada@example.com"], key=str) == sorted([member.workspace_id,
                                                                   accounts.workspace_by_slug("globex").id], key=str)
    assert by_email["loner@example.com"] == [None] and by_email["nobody@example.com"] == [None]
    assert all("wrong-password" not in str(e.details) for e in failed)


def test_audit_page_filters_by_actor_and_by_dates_in_the_workspace_time_zone(auth, db, factories):
    ada = factories.user("admin", "Acme", email="ada@example.com")
    bob = factories.user("editor", "Acme", email="bob@example.com")
    for actor, at in ((ada, datetime(2026, 11, 20, 12, tzinfo=UTC)), (bob, datetime(2026, 11, 21, 23, 30, tzinfo=UTC)),
                      (ada, datetime(2026, 11, 22, 12, tzinfo=UTC))):
        audit.record(actor, "thing.done", "thing", 1).created_at = at
    db.session.commit()
    auth.login(ada.label)

    def rows(query: str) -> list[str]:
        html = auth.get(f"/audit?action=thing&{query}", htmx=True).get_data(as_text=True)
        return re.findall(r'<td class="audit-who"[^>]*>([^<]*)</td>', html)  # the actor column

    assert rows("actor=bob@example.com") == ["bob@example.com"]
    assert rows("actor=ADA@example.com") == ["ada@example.com", "ada@example.com"]  # e-mails ignore case
    assert rows("actor=ada&actor_match=contains") == ["ada@example.com", "ada@example.com"]
    # 23:30 UTC on the 21st is 00:30 on the 22nd in Ljubljana: that day holds Bob's and Ada's last.
    assert rows("since=2026-11-22&until=2026-11-22") == ["ada@example.com", "bob@example.com"]
    assert rows("until=2026-11-21") == ["ada@example.com"]


def test_audit_export_links_follow_the_filter_applied_by_htmx(auth, db, factories):
    admin = factories.user("admin")
    audit.record(admin, "thing.done", "thing", 1)
    audit.record(admin, "other.done", "thing", 2)
    db.session.commit()
    auth.login(admin.label)
    fragment = auth.get("/audit?action=thing", htmx=True).get_data(as_text=True)
    assert 'href="/audit/export?format=csv&amp;action=thing"' in fragment
    exported = auth.get("/audit/export?format=json&action=thing").get_json()
    assert [e["action"] for e in exported] == ["thing.done"]


# -- another workspace's ids ----------------------------------------------------------------------


def test_retrying_a_job_of_another_workspace_is_404_and_leaves_it_failed(auth, db, factories):
    stranger = factories.user("admin", "Initech")
    factories.production(stranger, factories.process(stranger))
    effect = db.session.scalar(select(OutboxEffect))
    effect.status = EffectStatus.failed
    db.session.commit()
    admin = factories.user("admin", "Acme")
    auth.login(admin.label)
    assert auth.post(f"/jobs/{effect.id}/retry").status_code == 404
    db.session.refresh(effect)
    assert effect.status is EffectStatus.failed


def test_disabling_a_webhook_of_another_workspace_is_404_and_leaves_it_enabled(auth, db, factories):
    stranger = factories.user("admin", "Initech")
    endpoint, _ = webhooks.create_endpoint(stranger, "https://hooks.example/initech")
    admin = factories.user("admin", "Acme")
    auth.login(admin.label)
    assert auth.post(f"/settings/webhooks/{endpoint.id}/disable").status_code == 404
    assert db.session.get(WebhookEndpoint, endpoint.id).disabled_at is None


def test_revoking_a_personal_token_of_another_workspace_is_404_and_leaves_it_live(auth, db, factories):
    stranger = factories.user("admin", "Initech")
    factories.personal_token(stranger)
    foreign = db.session.scalar(select(ApiToken))
    admin = factories.user("admin", "Acme")
    auth.login(admin.label)
    assert auth.post(f"/settings/tokens/{foreign.id}/revoke").status_code == 404
    db.session.refresh(foreign)
    assert foreign.revoked_at is None
