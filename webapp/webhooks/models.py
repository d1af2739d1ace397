from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import CreatedAt, IntPk, UTCDateTime, WorkspaceId, db


class WebhookEndpoint(db.Model):
    """A URL told about promotions, with an HMAC signing secret. Both are stored encrypted: URLs
    often carry credentials, and the secret must be used again to sign."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[IntPk]
    workspace_id: Mapped[WorkspaceId] = mapped_column(index=True)
    url_sealed: Mapped[str] = mapped_column(Text)
    url_hint: Mapped[str] = mapped_column(String(255))  # scheme://host/… — what the page shows
    secret_sealed: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[CreatedAt]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
