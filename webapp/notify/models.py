"""Who can be reached, how, and whether they want to be: contacts and preferences.

A contact's delivery target (an Apprise URL) is a secret: stored sealed, shown only masked, never
returned by an endpoint, logged or put in a job's arguments.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import CreatedAt, IntPk, UpdatedAt, UserId, UTCDateTime, WorkspaceId, db, utcnow


class Channel(enum.StrEnum):
    discord = "discord"
    telegram = "telegram"
    signal = "signal"
    email = "email"


CHAT_CHANNELS = (Channel.discord, Channel.telegram, Channel.signal)


class Contact(db.Model):
    """One chat identity (or e-mail address) of a member. An identity belongs to one member of the
    workspace, and a member has at most one identity per channel."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("workspace_id", "channel", "external_id", name="uq_contacts_identity"),
        UniqueConstraint("workspace_id", "user_id", "channel", name="uq_contacts_user_channel"),
    )

    id: Mapped[IntPk]
    workspace_id: Mapped[WorkspaceId]
    user_id: Mapped[UserId]
    channel: Mapped[Channel] = mapped_column(Enum(Channel, native_enum=False, length=16))
    external_id: Mapped[str] = mapped_column(String(200))
    target_sealed: Mapped[str | None] = mapped_column(Text)  # the Apprise URL, encrypted
    target_hint: Mapped[str] = mapped_column(String(80), default="")  # e.g. "tgram://…4821"
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the provider proved the identity (Discord OAuth), not just a bot asserting it: only such a
    # contact may sign its member in.
    oauth_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[CreatedAt]


class Preference(db.Model):
    """A member's say in being told: opt-in (off until they turn it on), channel order, quiet hours."""

    __tablename__ = "preferences"
    __table_args__ = (Index("ix_preferences_workspace_opted_in", "workspace_id", "opted_in"),)

    workspace_id: Mapped[WorkspaceId] = mapped_column(primary_key=True)
    user_id: Mapped[UserId] = mapped_column(primary_key=True)
    opted_in: Mapped[bool] = mapped_column(default=False)
    channel_order: Mapped[list[str]] = mapped_column(JSON, default=list)
    quiet_hours: Mapped[str | None] = mapped_column(String(11))  # "22:00-08:00"
    updated_at: Mapped[UpdatedAt]


class DeliveryStatus(enum.StrEnum):
    sending = "sending"  # claimed; a claim a crash left behind becomes `unknown`, never sent again
    retrying = "retrying"  # every channel failed this time; the job runs again after a back-off
    sent = "sent"
    failed = "failed"
    skipped = "skipped"  # opted out since the campaign was created, or no usable contact
    skipped_quiet_hours = "skipped_quiet_hours"
    unknown = "unknown"
    dry_run = "dry_run"
    withdrawn = "withdrawn"  # the member answered "can't" before it was claimed: never sent


class Delivery(db.Model):
    """The ledger: one row per message that must go out at most once, under a unique key such as
    `campaign:7:start:12`. Claimed (`sending`) before the send, marked after it."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_source", "source_type", "source_id"),)

    id: Mapped[IntPk]
    workspace_id: Mapped[WorkspaceId]
    key: Mapped[str] = mapped_column(String(120), unique=True)
    source_type: Mapped[str] = mapped_column(String(32))  # e.g. campaign_job
    source_id: Mapped[int]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[DeliveryStatus] = mapped_column(Enum(DeliveryStatus, native_enum=False, length=24))
    channel: Mapped[str | None] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    provider_answer: Mapped[str | None] = mapped_column(Text)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SendLog(db.Model):
    """One row per attempt: outcome, channel type and error. Never a handle or a target."""

    __tablename__ = "send_logs"

    id: Mapped[IntPk]
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int]
    status: Mapped[str] = mapped_column(String(24))
    channel: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[CreatedAt]
