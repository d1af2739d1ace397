from __future__ import annotations

import enum
from datetime import datetime
from zoneinfo import ZoneInfo

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, Enum, ForeignKey, Index, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import CreatedAt, IntPk, UserId, UTCDateTime, WorkspaceId, db


class Role(enum.IntEnum):
    """Ordered: a higher role can do everything a lower one can."""

    viewer = 10
    editor = 20
    promoter = 30
    admin = 40

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.strip().lower()]
        except KeyError:
            valid = ", ".join(r.name for r in cls)
            raise ValueError(f"unknown role {name!r}; valid roles: {valid}") from None


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[IntPk]
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[CreatedAt]
    # An operator of the installation (not of a workspace): reaches what spans workspaces, like /rq.
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Advanced by sign-out, a password change and "sign out everywhere": older session cookies stop working.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    memberships: Mapped[list[Membership]] = relationship(back_populates="user", cascade="all, delete-orphan")

    def get_id(self) -> str:
        """What the session cookie names: the id, the creation time and the session generation. SQLite may
        hand a deleted user's id to the next new user; a cookie of the deleted account must not sign that one
        in, and a cookie from before the last sign-out must not sign anyone in."""
        return f"{self.id}:{self.created_at.timestamp():.6f}:{self.session_generation}"


class Workspace(db.Model):
    __tablename__ = "workspaces"

    id: Mapped[IntPk]
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    time_zone: Mapped[str] = mapped_column(String(64), default="Europe/Ljubljana")
    created_at: Mapped[CreatedAt]

    @property
    def zone(self) -> ZoneInfo:
        """Its dates and clock times are read and shown in this zone (DESIGN rule 8)."""
        return ZoneInfo(self.time_zone)


class Membership(db.Model):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "workspace_id", name="uq_memberships_user_workspace"),)

    id: Mapped[IntPk]
    user_id: Mapped[UserId]
    workspace_id: Mapped[WorkspaceId] = mapped_column(index=True)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16, validate_strings=True))
    created_at: Mapped[CreatedAt]

    user: Mapped[User] = relationship(back_populates="memberships")
    workspace: Mapped[Workspace] = relationship()


class TokenKind(enum.StrEnum):
    personal = "personal"
    environment = "environment"


class Environment(enum.StrEnum):
    sandbox = "sandbox"
    production = "production"


class ApiToken(db.Model):
    """A personal access token (acts as its user) or an environment key (reads serving API).

    Only a SHA-256 of the token is stored; the token itself is shown once, at creation.
    """

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'personal' AND user_id IS NOT NULL AND environment IS NULL) OR "
            "(kind = 'environment' AND environment IS NOT NULL)",
            name="kind_matches_owner",
        ),
        Index("ix_api_tokens_workspace_kind", "workspace_id", "kind"),
    )

    id: Mapped[IntPk]
    workspace_id: Mapped[WorkspaceId]
    kind: Mapped[TokenKind] = mapped_column(Enum(TokenKind, native_enum=False, length=16))
    environment: Mapped[Environment | None] = mapped_column(Enum(Environment, native_enum=False, length=16))
    user_id: Mapped[UserId | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(24))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[CreatedAt]
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User | None] = relationship(foreign_keys="ApiToken.user_id")


class LoginFailure(db.Model):
    """One row per failed login, for throttling (the audit log records them too)."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_email_created", "email", "created_at"),
        Index("ix_login_failures_ip_created", "ip", "created_at"),
    )

    id: Mapped[IntPk]
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[CreatedAt]
