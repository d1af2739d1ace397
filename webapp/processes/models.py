from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Enum, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.accounts.models import Environment, User
from webapp.extensions import CreatedAt, IntPk, UTCDateTime, WorkspaceId, db


class VersionStatus(enum.StrEnum):
    draft = "draft"
    active = "active"
    deprecated = "deprecated"


class Process(db.Model):
    __tablename__ = "processes"
    __table_args__ = (UniqueConstraint("workspace_id", "slug", name="uq_processes_workspace_slug"),)

    id: Mapped[IntPk]
    workspace_id: Mapped[WorkspaceId]
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[CreatedAt]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Archived: served to nobody (410), never promoted, never edited, until an admin restores it.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    archived_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    archived_by: Mapped[User | None] = relationship(foreign_keys=[archived_by_id])

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class ProcessVersion(db.Model):
    """One immutable-once-active configuration of a process in one environment.

    Numbers count up per process across both environments (v1, v2, …), so "v7" names one thing.
    """

    __tablename__ = "process_versions"
    __table_args__ = (
        UniqueConstraint("process_id", "number", name="uq_process_versions_process_number"),
        # The invariant the whole flow rests on: at most one ACTIVE production version per process.
        Index(
            "uq_process_versions_one_active_production",
            "process_id",
            unique=True,
            sqlite_where=text("environment = 'production' AND status = 'active'"),
            postgresql_where=text("environment = 'production' AND status = 'active'"),
        ),
        Index("ix_process_versions_process_env_status", "process_id", "environment", "status"),
        # What serving reads on every request: the newest active version of a process in an environment, the
        # first entry of this index read backwards (only active rows: the newest of 25,000 active sandbox
        # versions in one probe, however long the history).
        Index(
            "ix_process_versions_newest_active",
            "process_id",
            "environment",
            "number",
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        CheckConstraint(
            "environment = 'sandbox' OR status != 'draft'", name="production_is_never_draft"
        ),
    )

    id: Mapped[IntPk]
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id", ondelete="CASCADE"))
    number: Mapped[int]
    environment: Mapped[Environment] = mapped_column(Enum(Environment, native_enum=False, length=16))
    status: Mapped[VersionStatus] = mapped_column(Enum(VersionStatus, native_enum=False, length=16))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    input_schema: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    output_schema: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    change_notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[CreatedAt]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    promoted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    promoted_from_id: Mapped[int | None] = mapped_column(ForeignKey("process_versions.id", ondelete="SET NULL"))
    deprecated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    process: Mapped[Process] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    promoted_by: Mapped[User | None] = relationship(foreign_keys=[promoted_by_id])
    promoted_from: Mapped[ProcessVersion | None] = relationship(remote_side="ProcessVersion.id")

    @property
    def document(self) -> dict[str, Any]:
        """What a promotion copies and a diff compares."""
        return {"config": self.config, "input_schema": self.input_schema, "output_schema": self.output_schema}

    @property
    def label(self) -> str:
        """"v8", or "v8 (copy of v5)": how dialogs and messages name a version. Every production version copies
        the version that was promoted (a sandbox one, or an earlier production one promoted again)."""
        source = self.promoted_from
        return f"v{self.number}" if source is None else f"v{self.number} (copy of v{source.number})"

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.production

    @property
    def is_promotable(self) -> bool:
        """Sandbox ACTIVE versions go to production; earlier production versions can be rolled back to."""
        if self.environment is Environment.sandbox:
            return self.status is VersionStatus.active
        return self.status is VersionStatus.deprecated

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.number,
            "environment": self.environment.value,
            "status": self.status.value,
            "change_notes": self.change_notes,
            "created_at": self.created_at.isoformat(),
            "promoted_by": self.promoted_by.email if self.promoted_by else None,
            "copied_from": self.promoted_from.number if self.promoted_from else None,
        }


class KeyServing(db.Model):
    """Which version of a process an environment key was last served, and when: one row per key and process.

    Written by the reconciler from what the serving path batched in Redis (`webapp/processes/propagation.py`),
    never by a serving request itself.
    """

    __tablename__ = "key_servings"

    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id", ondelete="CASCADE"), primary_key=True,
                                            index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id", ondelete="CASCADE"))
    served_at: Mapped[datetime] = mapped_column(UTCDateTime)
