from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import CreatedAt, IntPk, UTCDateTime, WorkspaceId, db


class WebhookEndpoint(db.Model):
    """A URL told about promotions, with an HMAC signing secret. Both are stored encrypted: URLs
    often carry credentials, and the secret must be used again to sign. After a rotation the previous
    secret signs too (a second `v1=`) until `previous_secret_until`."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[IntPk]
    workspace_id: Mapped[WorkspaceId] = mapped_column(index=True)
    url_sealed: Mapped[str] = mapped_column(Text)
    url_hint: Mapped[str] = mapped_column(String(255))  # scheme://host/… — what the page shows
    secret_sealed: Mapped[str] = mapped_column(Text)
    previous_secret_sealed: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The events it is sent: exact names or `prefix.*`; empty = every event.
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[CreatedAt]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookDelivery(db.Model):
    """One attempt to POST one event to one endpoint: what the delivery log shows. The outbox effect stays the
    truth of whether it is retried (its `next_attempt_at` is the next retry)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
        CheckConstraint("outcome IN ('sent', 'refused', 'unknown')", name="outcome"),
    )

    id: Mapped[IntPk]
    workspace_id: Mapped[WorkspaceId]
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    effect_id: Mapped[int] = mapped_column(ForeignKey("outbox_effects.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int]
    status_code: Mapped[int | None]
    duration_ms: Mapped[int]
    outcome: Mapped[str] = mapped_column(String(16))  # sent (2xx) · refused (provably not taken) · unknown
    error: Mapped[str | None] = mapped_column(String(500))  # the transport's summary, never the URL
    created_at: Mapped[CreatedAt]
