"""Importing a world into the live world (admins): the rooms and exits of a JSON export, or of an Evennia batch
file the export wrote (read back into the same document by webapp/worlds/transfer.py), written as live rooms in
one transaction — or, when anything in the file clashes with the live world, nothing at all and the list of every
clash.

The document is read by the same typed commands as an import into a draft project (`ImportDocument`: each room
checked as a designed room, each exit's direction and aliases); what is particular to the live world is here:

- a room whose `id` is a handle (`mill#01`, what an export names rooms by) keeps it, so a world moved from one
  installation to another keeps the names a game knows its rooms by; any other room gets a handle allocated
  from its key, as a build's rooms do;
- an exit joins two rooms of the file, or a room of the file and a live room named by its handle (an area
  exported elsewhere that connects to `limbo#01` here);
- refused, with every case listed and nothing written: a handle that a room of the workspace already has
  (409), an exit whose end is neither a room of the file nor a live room (409), an exit name a live room
  already has (409); and a file that contradicts itself — two rooms with one id, an exit back into its own
  room, two exits of one room with one name (422);
- the tags a build adds (category `build`) are left out, as in every import: no build made these rooms here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pydantic import JsonValue
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.errors import Conflict, Invalid
from webapp.extensions import db
from webapp.webhooks import services as webhooks
from webapp.worlds.commands import DocumentExit, DocumentRoom, ImportDocument
from webapp.worlds.design import exit_names
from webapp.worlds.directions import parse_direction
from webapp.worlds.live import (
    WORLD_ADMIN,
    add_exits,
    allocate_handles,
    commit_or_conflict,
    is_handle,
    lost_race_conflict,
)
from webapp.worlds.models import Exit, ExitName, Room, RoomTag

SHOWN = 10  # the message names this many problems; `details` holds them all


class ImportConflict(Conflict):
    code = "import_conflict"


@dataclass(frozen=True)
class LiveImport:
    title: str
    rooms: list[Room]
    exits: list[Exit]


# An end of a planned exit: a room of the file (its index) or a live room.
End = tuple[Literal["file"], int] | tuple[Literal["live"], Room]


@dataclass
class _Plan:
    rooms: list[DocumentRoom]
    kept: dict[int, str]  # index of a room of the file → the handle it keeps
    exits: list[tuple[End, End, list[str]]]
    problems: list[str]  # the file contradicts itself: 422
    conflicts: list[str]  # the file clashes with the live world: 409


def _listing(opening: str, items: list[str]) -> str:
    more = f" … and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return f"{opening} ({len(items)}): " + " ".join(items[:SHOWN]) + more


def import_live(actor: Actor, document: ImportDocument, *, fmt: str = "json") -> LiveImport:
    """The rooms and exits of `document` into the live world, in one transaction; 422 listing what contradicts
    itself in the file, 409 listing every clash with the live world, and nothing written in either case."""
    actor.require(*WORLD_ADMIN)
    plan = _plan(actor, list(document.rooms or []), list(document.exits or []))
    if plan.problems:
        raise Invalid(_listing("The file cannot be imported; nothing was", plan.problems),
                      details={"problems": plan.problems, "conflicts": plan.conflicts})
    if plan.conflicts:
        raise ImportConflict(_listing("Nothing was imported: the file clashes with the live world", plan.conflicts),
                             details={"conflicts": plan.conflicts})
    title = document.title if isinstance(document.title, str) else "a world"
    try:
        rooms, exits = _write(actor, plan)
    except IntegrityError as exc:
        lost_race_conflict(exc, _RACE, ImportConflict)
    details = {"title": title[:200], "format": fmt, "rooms": len(rooms), "exits": len(exits)}
    audit.record(actor, "world.imported", "world", None, details)
    webhooks.emit(actor.workspace_id, "world.imported", details)
    ids = [r.id for r in rooms], [e.id for e in exits]
    commit_or_conflict(_RACE, ImportConflict)
    # The commit expired the rows: loaded again in a few queries, not one per row read.
    return LiveImport(title=title, rooms=_loaded(Room, ids[0]), exits=_loaded(Exit, ids[1]))


def _loaded(model: type[Room | Exit], ids: list[int]) -> list:  # type: ignore[type-arg]
    found = {}
    for start in range(0, len(ids), 500):
        found.update((row.id, row) for row in db.session.scalars(select(model).where(model.id.in_(ids[start:start + 500]))))
    return [found[i] for i in ids]


_RACE = ("The live world changed while the file was imported (a handle or an exit name was taken at the same "
         "moment); nothing was imported. Import it again to see what clashes.")


def _reference(value: JsonValue) -> str | None:
    """A room reference as the design's import reads it (a string or a number, compared as text)."""
    return None if isinstance(value, bool) or not isinstance(value, str | int) else str(value)


def _plan(actor: Actor, rooms: list[DocumentRoom], exits: list[DocumentExit]) -> _Plan:
    plan = _Plan(rooms=rooms, kept={}, exits=[], problems=[], conflicts=[])
    if not rooms and not exits:
        plan.problems.append("The file holds no rooms and no exits.")
        return plan
    by_ref: dict[str, int] = {}
    for index, room in enumerate(rooms):
        ref = _reference(room.reference)
        if ref is None:
            plan.problems.append(f"rooms[{index}]: its 'id' is a string or a number (the exits name rooms by it).")
        elif ref in by_ref:
            plan.problems.append(f"rooms[{index}]: the id {ref!r} is rooms[{by_ref[ref]}]'s too.")
        else:
            by_ref[ref] = index
            if is_handle(ref):
                plan.kept[index] = ref
    taken = {r.handle: r for r in _rooms_by_handle(actor, plan.kept.values())}
    plan.conflicts += [f"rooms[{index}] ({handle}): the {'sandbox' if taken[handle].in_sandbox else 'live'} room "
                       f"{taken[handle].name!r} already has this handle."
                       for index, handle in plan.kept.items() if handle in taken]
    outside = {ref for e in exits for ref in (_reference(e.source), _reference(e.destination))
               if ref is not None and ref not in by_ref}
    # Locked and read as they are now: a return to the sandbox or a removal under way settles first, and its
    # rooms then read as sandbox rooms or as missing, never as the live rooms they were.
    named = {r.handle: r for r in _rooms_by_handle(actor, outside, lock=True)}
    _plan_exits(plan, exits, by_ref, named)
    return plan


def _rooms_by_handle(actor: Actor, handles: Iterable[str], *, lock: bool = False) -> list[Room]:
    """The workspace's rooms (live or in a sandbox) that have these handles (with `lock`, locked and re-read)."""
    wanted = sorted({h for h in handles if is_handle(h)})
    found: list[Room] = []
    for start in range(0, len(wanted), 500):  # bounded IN lists, whatever the file's size
        query = select(Room).where(Room.workspace_id == actor.workspace_id, Room.handle.in_(wanted[start:start + 500]))
        if lock:
            query = query.order_by(Room.id).with_for_update().execution_options(populate_existing=True)
        found += db.session.scalars(query)
    return found


def _plan_exits(plan: _Plan, exits: list[DocumentExit], by_ref: dict[str, int], named: dict[str, Room]) -> None:
    live_ids = [r.id for r in named.values() if not r.in_sandbox]
    in_use = {(source_id, name) for source_id, name in db.session.execute(
        select(ExitName.source_id, ExitName.name).where(ExitName.source_id.in_(live_ids)))} \
        if live_ids else set()
    seen: set[tuple[str, str]] = set()
    for index, planned in enumerate(exits):
        ends: list[End] = []
        for what, value in (("source", planned.source), ("destination", planned.destination)):
            ref = _reference(value)
            if ref is not None and ref in by_ref:
                ends.append(("file", by_ref[ref]))
            elif ref in named and not named[ref].in_sandbox:
                ends.append(("live", named[ref]))
            elif ref in named:
                plan.conflicts.append(f"exits[{index}]: the {what} {ref!r} is a room in a sandbox, not in the live "
                                      "world.")
            else:
                plan.conflicts.append(f"exits[{index}]: the {what} {value!r} is neither a room of the file nor a "
                                      "live room.")
        if len(ends) < 2:
            continue
        source, destination = ends
        if source == destination:
            plan.problems.append(f"exits[{index}]: an exit leads to another room, not back into its own.")
            continue
        names = exit_names(parse_direction(planned.direction), planned.aliases)
        who = f"rooms[{source[1]}]" if source[0] == "file" else f"{source[1].name} ({source[1].handle})"
        mark = f"{source[0]}:{source[1] if source[0] == 'file' else source[1].id}"
        for name in names:
            if (mark, name) in seen:
                plan.problems.append(f"exits[{index}]: {who} has two exits named {name!r} in the file.")
            elif source[0] == "live" and (source[1].id, name) in in_use:
                plan.conflicts.append(f"exits[{index}]: the live room {who} already has an exit named {name!r}.")
        seen.update((mark, name) for name in names)
        plan.exits.append((source, destination, names))


def _write(actor: Actor, plan: _Plan) -> tuple[list[Room], list[Exit]]:
    fresh = iter(allocate_handles(actor.workspace_id, [r.key for i, r in enumerate(plan.rooms) if i not in plan.kept],
                                  reserved=plan.kept.values()))
    rooms = [Room(workspace_id=actor.workspace_id, handle=plan.kept.get(i) or next(fresh), key=r.key, name=r.name,
                  description=r.description, attributes_json=r.attributes) for i, r in enumerate(plan.rooms)]
    db.session.add_all(rooms)
    db.session.flush()
    tags = [{"room_id": room.id, "key": k, "category": c} for room, r in zip(rooms, plan.rooms, strict=True)
            for k, c in r.tags]
    if tags:  # one executemany, however big the world
        db.session.execute(insert(RoomTag), tags)

    def room_id(end: End) -> int:
        return rooms[end[1]].id if end[0] == "file" else end[1].id  # type: ignore[index, union-attr]

    exits = add_exits(actor.workspace_id, [(room_id(s), room_id(d), names[0], names[1:])
                                           for s, d, names in plan.exits])
    return rooms, exits
