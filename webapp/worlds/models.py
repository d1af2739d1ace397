"""The world (rooms, their tags, exits and exit names) and the build projects that design areas of it.

A project's design lives in `build_rooms`/`build_exits` until "Build sandbox" digs real rooms for it
under a sandbox container; promotion then moves those very rooms into the live world (same ids, same
attributes) and links them in with a pair of exits.
"""

from __future__ import annotations

import enum
import json
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Enum, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.accounts.models import User
from webapp.extensions import CreatedAt, IntPk, UTCDateTime, WorkspaceId, db

BUILD_CATEGORY = "build"  # the category of the tags a build adds: sandbox, web_builder, project_{id}
SANDBOX_TAG = "sandbox"
WEB_BUILDER_TAG = "web_builder"


def project_tag(project_id: int) -> str:
    return f"project_{project_id}"


class Sandbox(db.Model):
    """The container a project's rooms are built under until promotion moves them out."""

    __tablename__ = "sandboxes"

    id: Mapped[IntPk]
    workspace_id: Mapped[WorkspaceId]
    key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[CreatedAt]


class Room(db.Model):
    """A room of the world. In a sandbox while `sandbox_id` is set (and tagged `sandbox`), live otherwise."""

    __tablename__ = "rooms"
    __table_args__ = (
        UniqueConstraint("workspace_id", "handle", name="uq_rooms_workspace_handle"),
        Index("ix_rooms_workspace_sandbox", "workspace_id", "sandbox_id"),
    )

    id: Mapped[IntPk]
    workspace_id: Mapped[WorkspaceId]
    handle: Mapped[str] = mapped_column(String(100))  # e.g. mill#01: how an export names it
    key: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # Verbatim JSON text: a game's character-sheet attributes come back exactly as they were given.
    attributes_json: Mapped[str] = mapped_column(Text, default="{}")
    sandbox_id: Mapped[int | None] = mapped_column(ForeignKey("sandboxes.id"))
    created_at: Mapped[CreatedAt]

    tags: Mapped[list[RoomTag]] = relationship(cascade="all, delete-orphan", order_by="RoomTag.id",
                                               back_populates="room")

    @property
    def attributes(self) -> dict[str, Any]:
        return json.loads(self.attributes_json)

    @property
    def in_sandbox(self) -> bool:
        return self.sandbox_id is not None


class RoomTag(db.Model):
    __tablename__ = "room_tags"
    __table_args__ = (
        UniqueConstraint("room_id", "key", "category", name="uq_room_tags_room_key_category"),
        Index("ix_room_tags_key_category", "key", "category"),
    )

    id: Mapped[IntPk]
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(100), default="")

    room: Mapped[Room] = relationship(back_populates="tags")


class Exit(db.Model):
    """A one-way exit. Its key and aliases are rows of `exit_names`, unique per source room."""

    __tablename__ = "exits"
    __table_args__ = (Index("ix_exits_source", "source_id"), Index("ix_exits_destination", "destination_id"))

    id: Mapped[IntPk]
    workspace_id: Mapped[WorkspaceId]
    source_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    destination_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(40))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[CreatedAt]


class ExitName(db.Model):
    """The schema's guarantee of "at most one exit per (room, direction or alias)": the key and every
    alias of an exit is a row here, and (source room, name) is unique."""

    __tablename__ = "exit_names"
    __table_args__ = (UniqueConstraint("source_id", "name", name="uq_exit_names_source_name"),)

    id: Mapped[IntPk]
    exit_id: Mapped[int] = mapped_column(ForeignKey("exits.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))


class ProjectStatus(enum.StrEnum):
    draft = "draft"
    submitted = "submitted"
    approved = "approved"
    built = "built"
    live = "live"


class BuildProject(db.Model):
    __tablename__ = "build_projects"
    __table_args__ = (
        Index("ix_build_projects_workspace_status", "workspace_id", "status"),
        CheckConstraint("status != 'built' OR sandbox_id IS NOT NULL", name="built_has_sandbox"),
        CheckConstraint("status != 'live' OR (promoted_at IS NOT NULL AND connection_direction IS NOT NULL)",
                        name="live_is_promoted"),
    )

    id: Mapped[IntPk]
    workspace_id: Mapped[WorkspaceId]
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[ProjectStatus] = mapped_column(Enum(ProjectStatus, native_enum=False, length=16),
                                                  default=ProjectStatus.draft)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    sandbox_id: Mapped[int | None] = mapped_column(ForeignKey("sandboxes.id", ondelete="SET NULL"))
    built_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    promoted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    connection_room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="SET NULL"))
    connection_direction: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[CreatedAt]

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    # read only: the project page names the room its area is connected to ("connected north of Village square")
    connection_room: Mapped[Room | None] = relationship(foreign_keys=[connection_room_id], viewonly=True)
    rooms: Mapped[list[BuildRoom]] = relationship(
        foreign_keys="BuildRoom.project_id", order_by="BuildRoom.position, BuildRoom.id",
        cascade="all, delete-orphan", back_populates="project")
    exits: Mapped[list[BuildExit]] = relationship(order_by="BuildExit.id", cascade="all, delete-orphan")

    @property
    def entry_room(self) -> BuildRoom | None:
        """The room the connection leads into: the one chosen, else the first."""
        chosen = next((r for r in self.rooms if r.is_entry), None)
        return chosen or (self.rooms[0] if self.rooms else None)


class BuildRoom(db.Model):
    """A room as designed in a project; `room_id` is the world room "Build sandbox" dug for it."""

    __tablename__ = "build_rooms"
    __table_args__ = (
        Index("ix_build_rooms_project_position", "project_id", "position"),
        Index("uq_build_rooms_one_entry", "project_id", unique=True,
              sqlite_where=text("is_entry"), postgresql_where=text("is_entry")),
    )

    id: Mapped[IntPk]
    project_id: Mapped[int] = mapped_column(ForeignKey("build_projects.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    key: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    attributes_json: Mapped[str] = mapped_column(Text, default="{}")
    tags: Mapped[list[list[str]]] = mapped_column(JSON, default=list)  # [[key, category], …]
    is_entry: Mapped[bool] = mapped_column(default=False)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="SET NULL"))

    project: Mapped[BuildProject] = relationship(foreign_keys=[project_id], back_populates="rooms")

    @property
    def attributes(self) -> dict[str, Any]:
        return json.loads(self.attributes_json)


class BuildExit(db.Model):
    __tablename__ = "build_exits"
    __table_args__ = (UniqueConstraint("source_id", "key", name="uq_build_exits_source_key"),)

    id: Mapped[IntPk]
    project_id: Mapped[int] = mapped_column(ForeignKey("build_projects.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("build_rooms.id", ondelete="CASCADE"))
    destination_id: Mapped[int] = mapped_column(ForeignKey("build_rooms.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(40))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)

    source: Mapped[BuildRoom] = relationship(foreign_keys=[source_id])
    destination: Mapped[BuildRoom] = relationship(foreign_keys=[destination_id])


# -- telling players about new areas ----------------------------------------------------------------


class WorldSettings(db.Model):
    """A workspace's world-build settings (admins): whether a promotion announces the new area, and where (an
    Apprise URL, sealed like every channel; pages show only its masked hint)."""

    __tablename__ = "world_settings"

    workspace_id: Mapped[WorkspaceId] = mapped_column(primary_key=True)
    announce_new_areas: Mapped[bool] = mapped_column(default=False)
    announcement_target_sealed: Mapped[str | None] = mapped_column(Text)
    announcement_target_hint: Mapped[str] = mapped_column(String(80), default="")


class AnnouncementStatus(enum.StrEnum):
    pending = "pending"
    sent = "sent"
    retrying = "retrying"  # an attempt failed before reaching the channel; the outbox tries again after a back-off
    failed = "failed"  # the last attempt failed too: given up (the Jobs page can retry it)
    unknown = "unknown"  # the channel may have got it (no answer after sending, a 5xx): never posted again
    off = "off"  # announcements were turned off (or the channel cleared) before it went out
    cancelled = "cancelled"  # the area went back to the sandbox before it went out


class AreaAnnouncement(db.Model):
    """One promotion's announcement ("The Old Mill is open, north of Village square."), written with the
    promotion and sent once by an outbox effect; its status is what the project page shows."""

    __tablename__ = "area_announcements"
    __table_args__ = (Index("ix_area_announcements_project", "project_id", "id"),)

    id: Mapped[IntPk]
    workspace_id: Mapped[WorkspaceId]
    project_id: Mapped[int] = mapped_column(ForeignKey("build_projects.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[AnnouncementStatus] = mapped_column(Enum(AnnouncementStatus, native_enum=False, length=16),
                                                       default=AnnouncementStatus.pending)
    error: Mapped[str] = mapped_column(String(300), default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[CreatedAt]
