from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import CreatedAt, IntPk, UTCDateTime, WorkspaceId, db, utcnow


class EffectStatus(enum.StrEnum):
    pending = "pending"
    running = "running"
    done = "done"
    failed = "failed"
    # The handler talked to the outside and cannot know whether it arrived (a timeout after sending, a 5xx, a
    # worker lost mid-call): never run again, by a retry or the reconciler.
    unknown = "unknown"


class OutboxEffect(db.Model):
    """A side effect that must happen after its transaction commits, exactly once in effect.

    Written in the same transaction as the change that causes it; RQ carries only its id; a
    handler claims it, does the work idempotently and marks it; the reconciler finds the ones
    Redis lost.
    """

    __tablename__ = "outbox_effects"
    __table_args__ = (
        Index("ix_outbox_effects_status_next_attempt", "status", "next_attempt_at"),
        Index("ix_outbox_effects_workspace_status", "workspace_id", "status"),
    )

    id: Mapped[IntPk]
    workspace_id: Mapped[WorkspaceId | None]
    kind: Mapped[str] = mapped_column(String(64))
    # Ids and small facts only: never a secret (the RQ dashboard may show what a job touches).
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[EffectStatus] = mapped_column(
        Enum(EffectStatus, native_enum=False, length=16), default=EffectStatus.pending
    )
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=5)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[CreatedAt]

    @property
    def job_id(self) -> str:
        return f"effect-{self.id}"
