"""Rooms and exits written into the world: unique room handles (`mill#01`), exits with their names, the
exit pair that links two rooms — used by a sandbox build and a promotion — and the admin's direct
changes to the live world (seed-demo, tests, fixes)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp.accounts.models import Role
from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.errors import Invalid
from webapp.extensions import db
from webapp.worlds.commands import RoomDesign
from webapp.worlds.design import ExitConflict
from webapp.worlds.directions import Direction, parse_direction
from webapp.worlds.models import Exit, ExitName, Room, RoomTag
from webapp.worlds.queries import get_room


def _handle_base(key: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", key.lower()).strip("_")[:80] or "room"


def allocate_handles(workspace_id: int, keys: Sequence[str]) -> list[str]:
    """`mill#01`, `mill#02`, …: the next free number per key in the workspace."""
    taken = set(db.session.scalars(select(Room.handle).where(Room.workspace_id == workspace_id)))
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


def add_exits(workspace_id: int, specs: Sequence[tuple[int, int, str, list[str]]]) -> list[Exit]:
    """Exits (source id, destination id, key, aliases) and their names, in two flushes however many."""
    rows = [Exit(workspace_id=workspace_id, source_id=s, destination_id=d, key=k, aliases=a) for s, d, k, a in specs]
    db.session.add_all(rows)
    db.session.flush()
    db.session.add_all(ExitName(exit_id=row.id, source_id=row.source_id, name=name)
                       for row in rows for name in (row.key, *row.aliases))
    db.session.flush()
    return rows


def exit_pair(workspace_id: int, source_id: int, destination_id: int, direction: Direction) -> list[Exit]:
    """source → destination in `direction`, and back the opposite way."""
    return add_exits(workspace_id, [(source_id, destination_id, direction.name, [direction.short]),
                                     (destination_id, source_id, direction.opposite.name, [direction.opposite.short])])


# -- the live world, directly ----------------------------------------------------------------------

WORLD_ADMIN = (Role.admin, "change the live world directly")


def add_live_room(actor: Actor, fields: RoomDesign) -> Room:
    """A room straight into the live world, without a build (the demo's Limbo and its neighbours)."""
    actor.require(*WORLD_ADMIN)
    room = Room(workspace_id=actor.workspace_id, handle=allocate_handles(actor.workspace_id, [fields.key])[0],
                key=fields.key, name=fields.name, description=fields.description,
                attributes_json=fields.attributes, tags=[RoomTag(key=k, category=c) for k, c in fields.tags])
    db.session.add(room)
    db.session.flush()
    audit.record(actor, "world.room_added", "room", room.id, {"handle": room.handle, "name": room.name})
    db.session.commit()
    return room


def link_rooms(actor: Actor, source_id: int, destination_id: int, direction_text: str) -> list[Exit]:
    """A pair of exits between two live rooms (the direction and its opposite); 409 if either is taken."""
    actor.require(*WORLD_ADMIN)
    direction = parse_direction(direction_text)
    source, destination = get_room(actor, source_id), get_room(actor, destination_id)
    if source.id == destination.id:
        raise Invalid("An exit must lead to another room.")
    try:
        pair = exit_pair(actor.workspace_id, source.id, destination.id, direction)
        audit.record(actor, "world.rooms_linked", "room", source.id,
                     {"from": source.handle, "to": destination.handle, "direction": direction.name})
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ExitConflict(f"{source.name} already has an exit {direction.name}, or {destination.name} one "
                           f"{direction.opposite.name}.") from None
    return pair
