"""Game nights: player profiles, one-time link codes, availability, and the workspace's bot token."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Date, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.accounts.models import User
from webapp.extensions import UTCDateTime, db, utcnow


class Status(enum.StrEnum):
    available = "available"
    maybe = "maybe"
    looking = "looking"
    not_available = "not_available"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class PlayerProfile(db.Model):
    """A member's player: display name and game aliases. At most one per member and workspace."""

    __tablename__ = "player_profiles"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id", name="uq_player_profiles_workspace_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    display_name: Mapped[str] = mapped_column(String(80))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LinkCode(db.Model):
    """A short-lived one-time code the dashboard shows and a bot sends back with the chat identity."""

    __tablename__ = "link_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Availability(db.Model):
    """A member's status for one local date of the workspace. One row per member and date."""

    __tablename__ = "availability"
    __table_args__ = (
        UniqueConstraint("workspace_id", "user_id", "day", name="uq_availability_member_day"),
        Index("ix_availability_workspace_day", "workspace_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[Status] = mapped_column(Enum(Status, native_enum=False, length=16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship()


class GamenightSettings(db.Model):
    """The workspace's game-night settings beside its time zone: game start, reminder lead, the bot."""

    __tablename__ = "gamenight_settings"

    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True)
    game_start: Mapped[str] = mapped_column(String(5), default="21:00")  # local HH:MM
    lead_minutes: Mapped[int] = mapped_column(default=15)
    bot_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    bot_token_prefix: Mapped[str | None] = mapped_column(String(24))
    bot_token_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
