"""Drill: twenty promoters confirm the same version's promotion at the same moment, each from its own dialog
(preview token) and its own connection. PostgreSQL decides the race with row locks: exactly one new production
version, nineteen 409s, and the audit trail and the outbox record one promotion."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from tests.drills.report import drill
from tests.races import race, require_postgres
from webapp.accounts.models import Environment
from webapp.audit.models import AuditEvent
from webapp.outbox.models import OutboxEffect
from webapp.processes.models import ProcessVersion, VersionStatus

RACERS = 20


def _count(db, model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_twenty_concurrent_promotes_of_one_version_give_one_production_version_and_nineteen_409(app, db, factories):
    require_postgres(db)
    actor = factories.user("promoter")
    proc = factories.process(actor)
    old = factories.production(actor, proc, {"prompt": "live"})
    candidate = factories.version(actor, proc, {"prompt": "candidate"})
    token = factories.personal_token(actor)
    client = app.test_client()
    previews = []
    for _ in range(RACERS):  # every dialog is opened before anyone confirms
        answer = client.get(f"/api/v1/versions/{candidate.id}/promotion-preview",
                            headers={"Authorization": f"Bearer {token}"}).get_json()
        assert answer["current_production"]["id"] == old.id
        previews.append(answer["preview_token"])
    audit_before = _count(db, AuditEvent, AuditEvent.action == "version.promoted")
    effects_before = _count(db, OutboxEffect, OutboxEffect.kind == "cache.invalidate_process")

    results = race(app, [(f"/api/v1/versions/{candidate.id}/promote", {"preview_token": preview})
                         for preview in previews], token)

    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 409: RACERS - 1}, results
    assert {body["error"] for status, body in results if status == 409} == {"production_changed"}
    [winner] = [body for status, body in results if status == 201]
    db.session.expire_all()
    production = list(db.session.scalars(select(ProcessVersion).where(
        ProcessVersion.process_id == proc.id, ProcessVersion.environment == Environment.production)))
    new = [v for v in production if v.id != old.id]
    assert [v.id for v in new] == [winner["promoted_version"]["id"]]
    assert [v.status for v in production if v.status is VersionStatus.active] == [VersionStatus.active]
    assert db.session.get(ProcessVersion, old.id).status is VersionStatus.deprecated
    audit_rows = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "version.promoted")
                                         .order_by(AuditEvent.id)))[audit_before:]
    assert [row.resource_id for row in audit_rows] == [str(new[0].id)]
    effects = _count(db, OutboxEffect, OutboxEffect.kind == "cache.invalidate_process") - effects_before
    assert effects == 1
    drill("concurrent promotes on postgresql", lost=1 - min(len(new), 1),
          duplicated=max(len(new) - 1, 0) + max(len(audit_rows) - 1, 0) + max(effects - 1, 0))
