"""Removing live rooms and exits (admins): what a removal takes with it, and what refuses it.

A room goes with every exit leaving or entering it. A room of a live area, or the room a live area is connected
to, is not removed, nor is an exit of the pair that connects a live area to the world (409 listing why): the
area would be left cut off or half gone; return that area to the sandbox first. Sandbox rooms are not live
rooms here (404).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select

from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.errors import Conflict, NotFound
from webapp.extensions import db
from webapp.worlds.directions import where
from webapp.worlds.live import WORLD_ADMIN, commit_or_conflict, live_room
from webapp.worlds.models import BUILD_CATEGORY, BuildProject, Exit, ExitName, ProjectStatus, Room, project_tag
from webapp.worlds.queries import ExitView, area_room_ids, exits_of


def _live_projects(actor: Actor, *conditions: object) -> list[BuildProject]:
    return list(db.session.scalars(select(BuildProject).where(
        BuildProject.workspace_id == actor.workspace_id, BuildProject.status == ProjectStatus.live, *conditions)
        .order_by(BuildProject.id)))


def _room_refusals(actor: Actor, room: Room) -> list[str]:
    """Why `room` may not be removed: a live area is connected to it, or it is one of a live area's rooms."""
    named = f"{room.name} ({room.handle})"
    area_tags = {t.key for t in room.tags if t.category == BUILD_CATEGORY}
    refusals = [f"{named} is the connection room of the live area {p.name!r} (connected "
                f"{where(p.connection_direction or '')} it); return that area to the sandbox first."
                for p in _live_projects(actor, BuildProject.connection_room_id == room.id)]
    refusals += [f"{named} is a room of the live area {p.name!r}; return that area to the sandbox first."
                 for p in _live_projects(actor) if project_tag(p.id) in area_tags]
    return refusals


def _exit_refusals(actor: Actor, exit_: Exit, source: Room, destination: Room) -> list[str]:
    """Why `exit_` may not be removed: it is one of the pair that connects a live area to the world."""
    refusals = []
    ends = (exit_.source_id, exit_.destination_id)
    for project in _live_projects(actor, BuildProject.connection_room_id.in_(ends)):
        other = ends[1] if project.connection_room_id == ends[0] else ends[0]
        if other in set(area_room_ids(actor.workspace_id, project.id)):
            refusals.append(f"The exit {exit_.key} from {source.name} to {destination.name} connects the live area "
                            f"{project.name!r} to the world; return that area to the sandbox first.")
    return refusals


def exits_into(room: Room) -> list[ExitView]:
    """The exits arriving in `room`, each with the room it leaves from."""
    rows = db.session.execute(select(Exit, Room).join(Room, Room.id == Exit.source_id)
                              .where(Exit.destination_id == room.id).order_by(Room.name, Exit.id)).all()
    return [ExitView(e, r) for e, r in rows]


@dataclass(frozen=True)
class RoomRemoval:
    """What removing a live room would take with it (its exits both ways), and why it may not (`refusals`)."""

    room: Room
    leaving: list[ExitView]
    arriving: list[ExitView]
    refusals: list[str]

    @property
    def exit_ids(self) -> list[int]:
        return sorted({v.exit.id for v in (*self.leaving, *self.arriving)})


def room_removal(actor: Actor, room_id: int, *, for_update: bool = False) -> RoomRemoval:
    """The removal dialog: the room, its exits out and in, and anything refusing the removal."""
    actor.require(*WORLD_ADMIN)
    room = live_room(actor, room_id, for_update=for_update)
    return RoomRemoval(room=room, leaving=exits_of(room), arriving=exits_into(room),
                       refusals=_room_refusals(actor, room))


@dataclass(frozen=True)
class Removed:
    """What a removal took out (read before the rows went)."""

    id: int
    name: str
    exit_ids: list[int]
    source_id: int | None = None  # an exit's: the room it left from


def remove_live_room(actor: Actor, room_id: int) -> Removed:
    """A live room and every exit leaving or entering it, in one transaction; 409 listing why not when a live
    area is connected to it or it belongs to one."""
    removal = room_removal(actor, room_id, for_update=True)
    if removal.refusals:
        raise Conflict(" ".join(removal.refusals), code="room_in_use", details={"refusals": removal.refusals})
    room, exit_ids = removal.room, removal.exit_ids
    removed = Removed(id=room.id, name=room.name, exit_ids=exit_ids)
    _delete_exits(exit_ids)
    db.session.delete(room)
    audit.record(actor, "world.room_removed", "room", room.id,
                 {"handle": room.handle, "name": room.name, "exits": len(exit_ids)})
    commit_or_conflict("The room changed at the same moment; nothing was removed. Try again.")
    return removed


def _delete_exits(exit_ids: Sequence[int]) -> None:
    if exit_ids:
        db.session.execute(delete(ExitName).where(ExitName.exit_id.in_(exit_ids)))
        db.session.execute(delete(Exit).where(Exit.id.in_(exit_ids)).execution_options(synchronize_session=False))


@dataclass(frozen=True)
class ExitRemoval:
    exit: Exit
    source: Room
    destination: Room
    refusals: list[str]


def exit_removal(actor: Actor, exit_id: int) -> ExitRemoval:
    """The exit removal dialog: the exit between two live rooms, and anything refusing its removal."""
    actor.require(*WORLD_ADMIN)
    found = db.session.scalar(select(Exit).where(Exit.id == exit_id, Exit.workspace_id == actor.workspace_id))
    source = db.session.get(Room, found.source_id) if found else None
    destination = db.session.get(Room, found.destination_id) if found else None
    if found is None or source is None or destination is None or source.in_sandbox or destination.in_sandbox:
        raise NotFound(f"No exit {exit_id} between live rooms in this workspace.")
    return ExitRemoval(exit=found, source=source, destination=destination,
                       refusals=_exit_refusals(actor, found, source, destination))


def remove_live_exit(actor: Actor, exit_id: int) -> Removed:
    """One exit between live rooms (the way back, if any, stays); 409 when it connects a live area."""
    removal = exit_removal(actor, exit_id)
    if removal.refusals:
        raise Conflict(" ".join(removal.refusals), code="exit_in_use", details={"refusals": removal.refusals})
    found, source, destination = removal.exit, removal.source, removal.destination
    removed = Removed(id=found.id, name=found.key, exit_ids=[found.id], source_id=source.id)
    _delete_exits([found.id])
    audit.record(actor, "world.exit_removed", "room", source.id,
                 {"from": source.handle, "to": destination.handle, "direction": found.key})
    commit_or_conflict("The exit changed at the same moment; nothing was removed. Try again.")
    return removed
