"""Reading world builds and rooms, always scoped to the actor's workspace: projects, rooms and their exits,
the connection-room picker, a project's area and the map's areas."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select

from webapp.accounts.services import Actor
from webapp.errors import NotFound
from webapp.extensions import db
from webapp.worlds.directions import DIRECTIONS
from webapp.worlds.models import BUILD_CATEGORY, BuildProject, Exit, ProjectStatus, Room, RoomTag, project_tag


def list_projects(actor: Actor) -> Sequence[BuildProject]:
    return db.session.scalars(
        select(BuildProject).where(BuildProject.workspace_id == actor.workspace_id)
        .order_by(BuildProject.created_at.desc(), BuildProject.id.desc())
    ).all()


def get_project(actor: Actor, project_id: int, *, for_update: bool = False) -> BuildProject:
    query = select(BuildProject).where(BuildProject.id == project_id,
                                       BuildProject.workspace_id == actor.workspace_id)
    project = db.session.scalar(query.with_for_update() if for_update else query)
    if project is None:
        raise NotFound(f"No build project {project_id} in this workspace.")
    return project


def get_room(actor: Actor, room_id: int) -> Room:
    room = db.session.scalar(select(Room).where(Room.id == room_id, Room.workspace_id == actor.workspace_id))
    if room is None:
        raise NotFound(f"No room {room_id} in this workspace.")
    return room


@dataclass(frozen=True)
class ExitView:
    exit: Exit
    other: Room  # where it leads (or, for an arriving exit, where it comes from)


def exits_of(room: Room) -> list[ExitView]:
    """The exits leaving `room`, with their destinations, in direction order."""
    rows = db.session.execute(
        select(Exit, Room).join(Room, Room.id == Exit.destination_id).where(Exit.source_id == room.id)
    ).all()
    order = {name: i for i, name in enumerate(DIRECTIONS)}
    return sorted((ExitView(e, r) for e, r in rows), key=lambda v: (order.get(v.exit.key, 99), v.exit.key))


def live_rooms(actor: Actor, query: str = "", limit: int = 20) -> Sequence[Room]:
    """Live (non-sandbox) rooms whose name, key or handle contains `query`: the connection room picker."""
    statement = select(Room).where(Room.workspace_id == actor.workspace_id, Room.sandbox_id.is_(None))
    query = (query or "").strip()[:100]
    if query:
        pattern = "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(or_(func.lower(Room.name).like(pattern, escape="\\"),
                                        func.lower(Room.key).like(pattern, escape="\\"),
                                        func.lower(Room.handle).like(pattern, escape="\\")))
    return db.session.scalars(statement.order_by(Room.name, Room.id).limit(limit)).all()


def area_room_ids(workspace_id: int, project_id: int) -> list[int]:
    """The rooms of a project's area (tagged `project_{id}`), wherever they are now."""
    return list(db.session.scalars(
        select(RoomTag.room_id).join(Room, Room.id == RoomTag.room_id)
        .where(Room.workspace_id == workspace_id, RoomTag.key == project_tag(project_id),
               RoomTag.category == BUILD_CATEGORY)
        .order_by(RoomTag.room_id)))


def project_of_sandbox(actor: Actor, room: Room) -> BuildProject | None:
    """The project whose sandbox holds `room` (None for a live room)."""
    if room.sandbox_id is None:
        return None
    return db.session.scalar(select(BuildProject).where(BuildProject.workspace_id == actor.workspace_id,
                                                        BuildProject.sandbox_id == room.sandbox_id))


def mapped_areas(actor: Actor) -> Sequence[BuildProject]:
    """Projects with rooms in the world (built or live): the map's areas."""
    return db.session.scalars(
        select(BuildProject).where(BuildProject.workspace_id == actor.workspace_id,
                                   BuildProject.status.in_([ProjectStatus.built, ProjectStatus.live]))
        .order_by(BuildProject.name, BuildProject.id)).all()


def latest_promoted(actor: Actor) -> BuildProject | None:
    return db.session.scalar(
        select(BuildProject).where(BuildProject.workspace_id == actor.workspace_id,
                                   BuildProject.status == ProjectStatus.live)
        .order_by(BuildProject.promoted_at.desc(), BuildProject.id.desc()).limit(1))
