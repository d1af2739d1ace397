"""What the audit log recorded, for the processes tests."""

from __future__ import annotations

from sqlalchemy import select

from webapp.audit.models import AuditEvent


def actions(db, resource_id=None) -> list[str]:
    """The audit actions so far, oldest first (of one version when `resource_id` is given)."""
    query = select(AuditEvent.action).order_by(AuditEvent.id)
    if resource_id is not None:
        query = query.where(AuditEvent.resource_type == "process_version",
                            AuditEvent.resource_id == str(resource_id))
    return list(db.session.scalars(query))
