"""Rooms and exits written into the world: unique room handles (`mill#01`), exits with their names, the
exit pair that links two rooms — used by a sandbox build, a promotion and an import — and the admin's direct
changes to the live world: live rooms created and edited, exits between them added (the Live world page,
`/api/v1/world/rooms…` and `/api/v1/world/exits`, the CLI, seed-demo). Removing them is live_removal.py's.

Sandbox rooms are never changed here: to these services a room in a sandbox is not there (404), its build
owns it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from webapp.accounts.models import Role
from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.commands import parse
from webapp.errors import Conflict, Invalid, NotFound, lost_race
from webapp.extensions import db, utcnow
from webapp.worlds.commands import LiveExit, RoomChanges, RoomDesign
from webapp.worlds.design import ExitConflict, exit_names
from webapp.worlds.directions import Direction, parse_direction
from webapp.worlds.models import (
    BUILD_CATEGORY,
    Exit,
    ExitName,
    Room,
    RoomTag,
)
from webapp.worlds.queries import live_rooms

HANDLE_RE = re.compile(r"[a-z0-9_]+#[0-9]+")  # what allocate_handles makes, and what an export names rooms by
MAX_HANDLE = 100


def is_handle(value: object) -> bool:
    """`mill#01`: a room handle as the exports write them."""
    return isinstance(value, str) and len(value) <= MAX_HANDLE and HANDLE_RE.fullmatch(value) is not None


def _handle_base(key: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", key.lower()).strip("_")[:80] or "room"


def allocate_handles(workspace_id: int, keys: Sequence[str], reserved: Iterable[str] = ()) -> list[str]:
    """`mill#01`, `mill#02`, …: the next free number per key in the workspace (and not among `reserved`)."""
    taken = set(db.session.scalars(select(Room.handle).where(Room.workspace_id == workspace_id))) | set(reserved)
    counters: dict[str, int] = {}
    handles = []
    for key in keys:
        base = _handle_base(key)
        n = counters.get(base, 0)
        while True:
            n += 1
            handle = f"{base}#{n:02d}"
            if handle not in taken:
                break
        counters[base] = n
        taken.add(handle)
        handles.append(handle)
    return handles


ExitSpec = tuple[int, int, str, list[str]]  # source id, destination id, key, aliases


def add_exits(workspace_id: int, specs: Sequence[ExitSpec]) -> list[Exit]:
    """Exits and their names as objects, in two flushes however many."""
    rows = [Exit(workspace_id=workspace_id, source_id=s, destination_id=d, key=k, aliases=a) for s, d, k, a in specs]
    db.session.add_all(rows)
    db.session.flush()
    _add_names([row.id for row in rows], specs)
    return rows


def insert_exits(workspace_id: int, specs: Sequence[ExitSpec]) -> list[int]:
    """The same as bulk statements, for an area's thousands of exits nobody reads back as objects: their ids, in
    the order of `specs`."""
    if not specs:
        return []
    now = utcnow()
    ids = list(db.session.scalars(insert(Exit).returning(Exit.id, sort_by_parameter_order=True), [
        {"workspace_id": workspace_id, "source_id": s, "destination_id": d, "key": k, "aliases": a, "created_at": now}
        for s, d, k, a in specs]))
    _add_names(ids, specs)
    return ids


def _add_names(exit_ids: Sequence[int], specs: Sequence[ExitSpec]) -> None:
    names = [{"exit_id": exit_id, "source_id": s, "name": name}
             for exit_id, (s, _, key, aliases) in zip(exit_ids, specs, strict=True) for name in (key, *aliases)]
    if names:  # one executemany
        db.session.execute(insert(ExitName), names)


def exit_pair(workspace_id: int, source_id: int, destination_id: int, direction: Direction) -> list[Exit]:
    """source → destination in `direction`, and back the opposite way."""
    return add_exits(workspace_id, [(source_id, destination_id, direction.name, [direction.short]),
                                     (destination_id, source_id, direction.opposite.name, [direction.opposite.short])])


# -- the live world, directly (admins) --------------------------------------------------------------

WORLD_ADMIN = (Role.admin, "change the live world directly")
LIST_LIMIT = 100  # the Live world page lists this many matching rooms; a search narrows a bigger world


def live_room(actor: Actor, room_id: int, *, for_update: bool = False) -> Room:
    """A live room of the actor's workspace: 404 for a room in a sandbox (its build owns it) or elsewhere."""
    query = select(Room).where(Room.id == room_id, Room.workspace_id == actor.workspace_id,
                               Room.sandbox_id.is_(None))
    room = db.session.scalar(query.with_for_update() if for_update else query)
    if room is None:
        raise NotFound(f"No live room {room_id} in this workspace.")
    return room


def find_live_room(actor: Actor, ref: str) -> Room:
    """A live room by its handle (`limbo#01`) or its id (the CLI's way of naming rooms)."""
    ref = ref.strip()
    if ref.isdecimal() and len(ref) < 19:
        return live_room(actor, int(ref))
    room = db.session.scalar(select(Room).where(Room.workspace_id == actor.workspace_id, Room.handle == ref,
                                                Room.sandbox_id.is_(None))) if is_handle(ref) else None
    if room is None:
        raise NotFound(f"No live room {ref!r} in this workspace (name it by its handle, e.g. limbo#01, or its id).")
    return room


def room_values(room: Room) -> dict[str, object]:
    """A live room's fields as a designed room takes them; the tags a build added (category `build`) are the
    build's and stay out of the room's own."""
    return {"key": room.key, "name": room.name, "description": room.description,
            "attributes": room.attributes_json,
            "tags": [[t.key, t.category] for t in room.tags if t.category != BUILD_CATEGORY]}


@dataclass(frozen=True)
class RoomList:
    rooms: Sequence[Room]
    more: bool  # more rooms match than are listed
    total: int  # live rooms in the workspace
    exit_counts: dict[int, int]


def list_live_rooms(actor: Actor, query: str = "") -> RoomList:
    """The Live world page: the live rooms whose name, key or handle contains `query` (the first LIST_LIMIT by
    name), how many exits leave each, and how many live rooms there are."""
    actor.require(*WORLD_ADMIN)
    found = live_rooms(actor, query, LIST_LIMIT + 1)
    rooms = found[:LIST_LIMIT]
    counts = dict(db.session.execute(
        select(Exit.source_id, func.count()).where(Exit.source_id.in_([r.id for r in rooms]))
        .group_by(Exit.source_id)).all()) if rooms else {}
    total = db.session.scalar(select(func.count()).select_from(Room).where(
        Room.workspace_id == actor.workspace_id, Room.sandbox_id.is_(None))) or 0
    return RoomList(rooms=rooms, more=len(found) > LIST_LIMIT, total=total, exit_counts=counts)


def add_live_room(actor: Actor, fields: RoomDesign) -> Room:
    """A room straight into the live world, without a build: a team's first room, the demo's Limbo. Its handle is
    allocated from its key as a build's are (`limbo` → `limbo#01`)."""
    actor.require(*WORLD_ADMIN)
    room = Room(workspace_id=actor.workspace_id, handle=allocate_handles(actor.workspace_id, [fields.key])[0],
                key=fields.key, name=fields.name, description=fields.description,
                attributes_json=fields.attributes, tags=[RoomTag(key=k, category=c) for k, c in fields.tags])
    db.session.add(room)
    taken = "Another room took the same handle at the same moment; nothing was added. Try again."
    try:
        db.session.flush()
    except IntegrityError as exc:  # uq_rooms_workspace_handle: the same key added at once
        lost_race_conflict(exc, taken)
    audit.record(actor, "world.room_added", "room", room.id, {"handle": room.handle, "name": room.name})
    commit_or_conflict(taken)
    return room


def update_live_room(actor: Actor, room_id: int, change: RoomDesign | RoomChanges) -> Room:
    """A live room's key, name, description, attributes and own tags: all of them (a form) or the fields a
    `RoomChanges` gives. The handle stays (a game that loaded an export knows the room by it), and so do the
    tags a build added. Nothing changed, nothing recorded."""
    actor.require(*WORLD_ADMIN)
    room = live_room(actor, room_id, for_update=True)
    before = room_values(room)
    fields = change if isinstance(change, RoomDesign) else change.applied_to(before)
    after = {"key": fields.key, "name": fields.name, "description": fields.description,
             "attributes": fields.attributes, "tags": fields.tags}
    changed = [name for name in after if after[name] != before[name]]
    if not changed:
        return room
    room.key, room.name, room.description, room.attributes_json = (fields.key, fields.name, fields.description,
                                                                    fields.attributes)
    own = {(t.key, t.category): t for t in room.tags if t.category != BUILD_CATEGORY}
    room.tags = [t for t in room.tags if t.category == BUILD_CATEGORY] + [
        own.get((k, c)) or RoomTag(key=k, category=c) for k, c in fields.tags]
    audit.record(actor, "world.room_updated", "room", room.id,
                 {"handle": room.handle, "name": room.name, "changed": changed})
    commit_or_conflict("The room changed at the same moment; nothing was saved. Try again.")
    return room


# -- adding exits -------------------------------------------------------------------------------------


def add_live_exit(actor: Actor, command: LiveExit) -> list[Exit]:
    """An exit from one live room to another in a direction, with custom aliases, and with `both_ways` the way
    back in the opposite direction. 409 listing every name already taken in either room (the schema's
    `uq_exit_names_source_name` settles a race the same way)."""
    actor.require(*WORLD_ADMIN)
    direction = parse_direction(command.direction)
    source = live_room(actor, command.source_id, for_update=True)
    destination = live_room(actor, command.destination_id, for_update=True)
    if source.id == destination.id:
        raise Invalid("An exit must lead to another room.", details={"destination_id": "another live room"})
    planned = [(source, destination, exit_names(direction, command.aliases))]
    if command.both_ways:
        planned.append((destination, source, exit_names(direction.opposite)))
    conflicts = _names_taken(planned)
    if conflicts:
        raise ExitConflict(" ".join(conflicts), details={"conflicts": conflicts})
    try:
        rows = add_exits(actor.workspace_id, [(s.id, d.id, names[0], names[1:]) for s, d, names in planned])
    except IntegrityError as exc:
        lost_race_conflict(exc, "Another change took one of these exit names at the same moment; nothing was added.", ExitConflict)
    audit.record(actor, "world.exit_added", "room", source.id,
                 {"from": source.handle, "to": destination.handle, "direction": direction.name,
                  "aliases": planned[0][2][1:], "both_ways": command.both_ways})
    commit_or_conflict("Another change took one of these exit names at the same moment; nothing was added.", ExitConflict)
    return rows


def _names_taken(planned: Sequence[tuple[Room, Room, list[str]]]) -> list[str]:
    """Each name of the planned exits that its room already has, with the exit that has it."""
    sources = {s.id for s, _, _ in planned}
    taken = {(source_id, name): (key, where) for source_id, name, key, where in db.session.execute(
        select(ExitName.source_id, ExitName.name, Exit.key, Room.name).join(Exit, Exit.id == ExitName.exit_id)
        .join(Room, Room.id == Exit.destination_id).where(ExitName.source_id.in_(sources)))}
    return [f"{s.name} ({s.handle}) already has an exit named {name!r}: '{taken[s.id, name][0]}' to "
            f"{taken[s.id, name][1]}." for s, _, names in planned for name in names if (s.id, name) in taken]


def link_rooms(actor: Actor, source_id: int, destination_id: int, direction_text: str) -> list[Exit]:
    """A pair of exits between two live rooms (the direction and its opposite); 409 if either is taken."""
    return add_live_exit(actor, parse(LiveExit, {"source_id": source_id, "destination_id": destination_id,
                                                 "direction": direction_text, "both_ways": True}))


# -- the transaction ----------------------------------------------------------------------------------


def lost_race_conflict(exc: IntegrityError, message: str, error: type[Conflict] = Conflict) -> NoReturn:
    """A unique key (a handle, an exit name) taken first by a concurrent write is a 409 to look again; any other
    integrity error is a bug and goes on up."""
    db.session.rollback()
    if not lost_race(exc):
        raise exc
    raise error(message) from None


def commit_or_conflict(lost_race_message: str, error: type[Conflict] = Conflict) -> None:
    """Commit the change; a race lost on a unique key is `error(lost_race_message)`, with nothing written."""
    try:
        db.session.commit()
    except IntegrityError as exc:
        lost_race_conflict(exc, lost_race_message, error)

