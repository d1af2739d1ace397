"""The audit trail's one table: who did what to which resource, when and from where."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import CreatedAt, IntPk, WorkspaceId, db


class AuditEvent(db.Model):
    """One change, recorded in the transaction that made it (webapp/audit/services.py `record`)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        # The page's keyset order, newest first by (created_at, id), read backwards from any cursor.
        Index("ix_audit_events_workspace_created_id", "workspace_id", "created_at", "id"),
        # The exact actor filter (lower(actor_label) = …) in that same order; an expression index both
        # PostgreSQL and SQLite use.
        Index("ix_audit_events_workspace_actor_created", "workspace_id", text("lower(actor_label)"), "created_at", "id"),
        Index("ix_audit_events_workspace_action", "workspace_id", "action"),
    )

    id: Mapped[IntPk]
    # NULL only for events that belong to no workspace (a failed login for an unknown e-mail).
    workspace_id: Mapped[WorkspaceId | None]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[CreatedAt]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "actor": self.actor_label,
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "details": self.details,
            "created_at": self.created_at.isoformat(),
        }
