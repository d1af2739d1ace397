"""What the world-build routes of the JSON API answer, as pydantic models the OpenAPI document describes
(`webapp/openapi.py`); the routes build plain dicts of the same shape (`worlds/api.py`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class TagOut(BaseModel):
    key: str
    category: str


class DesignRoomOut(BaseModel):
    id: int
    key: str
    name: str
    description: str
    attributes: dict[str, Any]
    tags: list[TagOut]
    world_room_id: int | None


class DesignExitOut(BaseModel):
    id: int
    source: int
    destination: int
    direction: str
    aliases: list[str]


class ProjectOut(BaseModel):
    id: int
    name: str
    description: str
    status: str = Field(description="draft, submitted, approved, built or live")
    allowed_transitions: list[str]
    owner: str | None
    rejection_reason: str | None
    entry_room_id: int | None
    sandbox_id: int | None
    built_at: datetime | None
    promoted_at: datetime | None
    connection_room_id: int | None
    connection_direction: str | None
    created_at: datetime
    rooms: list[DesignRoomOut]
    exits: list[DesignExitOut]


class RoomOut(BaseModel):
    id: int
    handle: str
    key: str
    name: str
    live: bool


class ConnectionRoomOut(RoomOut):
    description: str


class RoomExitOut(BaseModel):
    id: int
    direction: str
    aliases: list[str]
    destination: RoomOut


class RoomDetailOut(RoomOut):
    description: str
    attributes: dict[str, Any]
    tags: list[TagOut]
    exits: list[RoomExitOut]


class RoomBrief(BaseModel):
    id: int
    handle: str
    name: str


class PlannedExitOut(BaseModel):
    source_room_id: int
    destination_room_id: int
    direction: str
    aliases: list[str]


class PreviewOut(BaseModel):
    project_id: int
    status: str
    room_count: int
    entry_room: RoomBrief
    connection_room: RoomBrief
    connection_direction: str
    exits: list[PlannedExitOut]
    conflicts: list[str] = Field(description="why the promotion cannot go ahead (empty: it can)")
    announcement: str | None = Field(description="what players will be told once it is live, when the workspace "
                                                 "announces new areas")
    preview_token: str


class CreatedExitOut(BaseModel):
    id: int
    source_room_id: int
    destination_room_id: int
    direction: str
    aliases: list[str]


class AnnouncementOut(BaseModel):
    id: int
    text: str = Field(description='"The Old Mill is open, north of Village square."')
    status: str = Field(description="pending, sent, retrying, failed, unknown, off or cancelled")


class PromotedOut(BaseModel):
    status: str = Field(description="the project's status now: live")
    message: str = Field(description="what happened, for a person")
    promoted_rooms: int
    created_exits: list[CreatedExitOut]
    entry_room_id: int
    announcement: AnnouncementOut | None = Field(description="the announcement to players, when the workspace "
                                                             "announces new areas (sent after the promotion)")


class CrossingExitOut(BaseModel):
    id: int
    direction: str
    aliases: list[str]
    into_area: bool = Field(description="it leads from a room outside the area into it")
    source: RoomBrief
    destination: RoomBrief


class UnpromotionPreviewOut(BaseModel):
    project_id: int
    status: str
    room_count: int = Field(description="rooms that go back into a sandbox")
    connection_room: RoomBrief | None
    connection_direction: str | None
    connection_exits: list[CrossingExitOut] = Field(description="the promotion's exit pair, removed")
    foreign_exits: list[CrossingExitOut] = Field(description="other exits joining the area to the world: they stop "
                                                             "the return unless an admin forces it")
    conflicts: list[str]
    can_force: bool = Field(description="the token's user is an admin and may force the return with a reason")
    preview_token: str


class UnpromotedOut(BaseModel):
    status: str = Field(description="the project's status now: built")
    message: str
    project_id: int
    returned_rooms: int
    sandbox_id: int
    removed_exits: list[CrossingExitOut]
    forced: bool
