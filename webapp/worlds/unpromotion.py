"""Taking a promotion back — "Return to sandbox" (live → built): the preview its dialog shows, and the return.

In one transaction the two connection exits go, the area's rooms go back into a new sandbox (same ids, names,
descriptions, attributes and tags, plus `sandbox`), and the project is `built` again, ready to be walked,
changed nowhere else and promoted anew. It is refused (409 `foreign_exits`, with the list) while rooms outside
the area have exits into it, or rooms of the area exits out to rooms outside it, other than the connection pair:
a sandbox must neither be reachable from the live world nor lead into it. An admin may force it with a reason;
then those exits are removed too, and the answer, the audit event and the webhook list them.

It goes through the promotion engine (webapp/promotion.py): the dialog signs the exits it saw joining the area
to the rest of the world and how many rooms it would return; if they changed, 409 `world_changed` with the
fresh preview.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, literal, select, update

from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.commands import Command, Flag, Text
from webapp.errors import Conflict, Invalid
from webapp.extensions import db
from webapp.promotion import PreviewToken, Promotion, confirm
from webapp.webhooks import services as webhooks
from webapp.worlds import announcements
from webapp.worlds.directions import DIRECTIONS, Direction
from webapp.worlds.lifecycle import FORCE_UNPROMOTE, UNPROMOTE, require_transition
from webapp.worlds.models import (
    BUILD_CATEGORY,
    SANDBOX_TAG,
    BuildProject,
    BuildRoom,
    Exit,
    ExitName,
    ProjectStatus,
    Room,
    RoomTag,
    Sandbox,
    project_tag,
)
from webapp.worlds.promotion import WorldChanged
from webapp.worlds.queries import CrossingExit, among, crossing_exits, get_project

MAX_REASON = 2000


class ForeignExits(Conflict):
    code = "foreign_exits"


class UnpromoteBuild(Command):
    """`POST /builds/<id>/unpromote`: the `preview_token` of the dialog, and an admin's `force` (with a `reason`)
    to remove the exits other rooms have into the area, or the area out to them."""

    preview_token: Text | None = None
    force: Flag = False
    reason: Text | None = None


def returnable(actor: Actor, project_id: int) -> BuildProject:
    """Role, tenancy and state before content: the live project this actor may return to the sandbox (403, 404,
    409), checked before a view reads its body."""
    actor.require(*UNPROMOTE)
    project = get_project(actor, project_id)
    require_transition(project, "unpromote")
    return project


def _live_area(workspace_id: int, project_id: int, *, lock: bool = False) -> list[int]:
    """The ids of the project's live rooms (tagged `project_{id}`), locked with `lock`: one index scan of the
    tags, then the rooms by their ids. Lists, not subqueries, from here on: every statement of a return is then a
    lookup by key, whatever the planner thinks of tables it has no statistics for yet (a world imported a minute
    ago: a subquery there became a nested loop of a million comparisons)."""
    tagged = list(db.session.scalars(select(RoomTag.room_id).where(RoomTag.key == project_tag(project_id),
                                                                   RoomTag.category == BUILD_CATEGORY)))
    if not tagged:
        return []
    rooms = select(Room.id).where(among(Room.id, tagged), Room.workspace_id == workspace_id, Room.sandbox_id.is_(None))
    return sorted(db.session.scalars(rooms.with_for_update() if lock else rooms))


def _entry_room_id(project_id: int) -> int | None:
    """The world room of the project's entry (the chosen one, else the first designed), read without loading every
    designed room of a big area."""
    return db.session.scalar(select(BuildRoom.room_id).where(BuildRoom.project_id == project_id)
                             .order_by(BuildRoom.is_entry.desc(), BuildRoom.position, BuildRoom.id).limit(1))


@dataclass(frozen=True)
class Boundary:
    """A live area's rooms and the exits joining it to the rest of the world, split: the promotion's pair, and
    the others."""

    room_ids: list[int]
    connection: list[CrossingExit]
    foreign: list[CrossingExit]

    @property
    def room_count(self) -> int:
        return len(self.room_ids)

    def fingerprint(self) -> str:
        """What the dialog showed of the world: every exit across the area's edge, and how many rooms it holds."""
        seen = [[c.exit.id, c.exit.source_id, c.exit.destination_id, c.exit.key]
                for c in [*self.connection, *self.foreign]]
        return hashlib.sha256(json.dumps([self.room_count, sorted(seen)]).encode()).hexdigest()[:32]


def _boundary(project: BuildProject, room_ids: list[int] | None = None) -> Boundary:
    room_ids = _live_area(project.workspace_id, project.id) if room_ids is None else room_ids
    crossing = crossing_exits(project.workspace_id, room_ids)
    entry_id = _entry_room_id(project.id)
    direction = DIRECTIONS.get(project.connection_direction or "")
    pair = set()
    if direction is not None and project.connection_room_id is not None and entry_id is not None:
        pair = {(project.connection_room_id, entry_id, direction.name),
                (entry_id, project.connection_room_id, direction.opposite.name)}
    connection = [c for c in crossing if (c.exit.source_id, c.exit.destination_id, c.exit.key) in pair]
    foreign = [c for c in crossing if (c.exit.source_id, c.exit.destination_id, c.exit.key) not in pair]
    return Boundary(room_ids=room_ids, connection=connection, foreign=foreign)


def _areas_hanging_off(project: BuildProject, room_ids: list[int]) -> list[BuildProject]:
    """Other live areas whose connection room is one of `room_ids`."""
    if not room_ids:
        return []
    return list(db.session.scalars(select(BuildProject).where(
        BuildProject.workspace_id == project.workspace_id, BuildProject.id != project.id,
        BuildProject.status == ProjectStatus.live, among(BuildProject.connection_room_id, room_ids))
        .order_by(BuildProject.id)))


def _foreign_message(foreign: list[CrossingExit]) -> str:
    listed = "; ".join(c.describe() for c in foreign)
    return (f"{len(foreign)} exit{'' if len(foreign) == 1 else 's'} besides the connection join the area to other "
            f"rooms: {listed}. Remove {'it' if len(foreign) == 1 else 'them'} first, or an admin forces the return "
            "with a reason, which removes them too.")


@dataclass(frozen=True)
class UnpromotionPreview:
    project: BuildProject
    connection: Room | None
    direction: Direction | None
    boundary: Boundary
    can_force: bool  # the actor is an admin: foreign exits can be removed with a reason
    token: str

    @property
    def conflicts(self) -> list[str]:
        return [_foreign_message(self.boundary.foreign)] if self.boundary.foreign else []

    def as_json(self) -> dict[str, Any]:
        connection = self.connection
        return {"project_id": self.project.id, "status": self.project.status.value,
                "room_count": self.boundary.room_count,
                "connection_room": {"id": connection.id, "handle": connection.handle, "name": connection.name}
                if connection else None,
                "connection_direction": self.direction.name if self.direction else None,
                "connection_exits": [c.as_json() for c in self.boundary.connection],
                "foreign_exits": [c.as_json() for c in self.boundary.foreign],
                "conflicts": self.conflicts, "can_force": self.can_force, "preview_token": self.token}


def unpromotion_preview(actor: Actor, project_id: int) -> UnpromotionPreview:
    """What returning the area to the sandbox would do: the rooms, the exits removed, and the exits of other
    rooms that stop it (unless an admin forces it)."""
    project = returnable(actor, project_id)
    boundary = _boundary(project)
    connection = db.session.get(Room, project.connection_room_id) if project.connection_room_id else None
    token = AreaUnpromotion(actor, project, boundary).sign()
    return UnpromotionPreview(project=project, connection=connection,
                              direction=DIRECTIONS.get(project.connection_direction or ""), boundary=boundary,
                              can_force=actor.can(FORCE_UNPROMOTE[0]), token=token)


@dataclass(frozen=True)
class WorldUnpromotion:
    project_id: int
    returned_rooms: int
    sandbox_id: int
    removed_exits: list[dict[str, Any]]
    forced: bool
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"status": ProjectStatus.built.value, "message": self.message, "project_id": self.project_id,
                "returned_rooms": self.returned_rooms, "sandbox_id": self.sandbox_id,
                "removed_exits": self.removed_exits, "forced": self.forced}


class AreaUnpromotion(Promotion[WorldUnpromotion]):
    """A live area back into a sandbox (webapp/promotion.py drives it). The dialog signs which project it
    previews and the exits it saw across the area's edge."""

    token = PreviewToken(salt="world-unpromotion-preview",
                         other_source="This preview token belongs to another project.")
    changed = WorldChanged
    outcome_unknown = ("it may or may not have been saved; open the build to see whether it is back in a sandbox "
                       "before trying again.")

    def __init__(self, actor: Actor, project: BuildProject, boundary: Boundary, *, force: bool = False,
                 reason: str = "") -> None:
        self.actor, self.project, self.boundary, self.force, self.reason = actor, project, boundary, force, reason
        self.project_id = project.id  # kept: the row expires when a changed world rolls back

    def source(self) -> list[int | str]:
        return [self.project_id, "unpromote"]

    def seen_now(self) -> str:
        return self.boundary.fingerprint()

    def fresh_preview(self) -> UnpromotionPreview:
        return unpromotion_preview(self.actor, self.project_id)

    def check(self) -> None:
        foreign = self.boundary.foreign
        if foreign and not self.force:
            raise ForeignExits(_foreign_message(foreign), details={"foreign_exits": [c.as_json() for c in foreign]})
        hanging = _areas_hanging_off(self.project, self.boundary.room_ids)
        if hanging:  # even forced: their connection would go and leave them live but cut off
            names = ", ".join(repr(p.name) for p in hanging)
            raise ForeignExits(f"The live area{'' if len(hanging) == 1 else 's'} {names} "
                               f"{'is' if len(hanging) == 1 else 'are'} connected to a room of this area; return "
                               f"{'it' if len(hanging) == 1 else 'them'} to the sandbox first.",
                               details={"connected_areas": [{"id": p.id, "name": p.name} for p in hanging]})

    def write(self) -> WorldUnpromotion:
        return _write_return(self.actor, self.project, self.boundary, self.force, self.reason)


def unpromote(actor: Actor, project_id: int, preview_token: str | None = None, *, force: bool = False,
              reason: str | None = None) -> WorldUnpromotion:
    """live → built, in one transaction: the connection exits removed, the area's rooms in a new sandbox (same
    ids, attributes and tags, plus `sandbox`), the project built again. 409 `foreign_exits` while other exits join
    the area to the world, unless an admin `force`s it with a `reason` (then they go too, listed in the answer,
    the audit event and the webhook). With a `preview_token` the exits across the area's edge must still be what
    the dialog showed, or `WorldChanged` carries the fresh preview."""
    actor.require(*UNPROMOTE)
    reason = (reason or "").strip()
    if force:
        actor.require(*FORCE_UNPROMOTE)
        if not reason or len(reason) > MAX_REASON:
            raise Invalid(f"Say why the return is forced (1 to {MAX_REASON:,} characters).",
                          details={"reason": f"required to force, at most {MAX_REASON:,} characters"})
    project = get_project(actor, project_id, for_update=True)
    require_transition(project, "unpromote")
    # The area's rooms, locked: an exit being added into one of them (it takes a key share on the room) waits
    # until this commits, and a promotion connecting to one of them waits on the same row lock (PostgreSQL).
    room_ids = _live_area(project.workspace_id, project.id, lock=True)
    return confirm(AreaUnpromotion(actor, project, _boundary(project, room_ids), force=force, reason=reason),
                   preview_token)


def _write_return(actor: Actor, project: BuildProject, boundary: Boundary, force: bool,
                  reason: str) -> WorldUnpromotion:
    removed = [*boundary.connection, *(boundary.foreign if force else [])]
    removed_json = [c.as_json() for c in removed]  # before the rows go
    connection_room = db.session.get(Room, project.connection_room_id) if project.connection_room_id else None
    exit_ids = [c.exit.id for c in removed]
    if exit_ids:
        db.session.execute(delete(ExitName).where(among(ExitName.exit_id, exit_ids))
                           .execution_options(synchronize_session=False))
        db.session.execute(delete(Exit).where(among(Exit.id, exit_ids)).execution_options(synchronize_session=False))
    sandbox = Sandbox(workspace_id=actor.workspace_id, key=f"sandbox: {project.name}"[:200])
    db.session.add(sandbox)
    db.session.flush()
    moved = 0
    if boundary.room_ids:  # locked and read under the lock: these are the rooms
        moved = db.session.execute(
            update(Room).where(among(Room.id, boundary.room_ids), Room.sandbox_id.is_(None))
            .values(sandbox_id=sandbox.id).execution_options(synchronize_session=False)).rowcount
        tagged = set(db.session.scalars(select(RoomTag.room_id).where(  # none, unless a build tag was kept by hand
            among(RoomTag.room_id, boundary.room_ids), RoomTag.key == SANDBOX_TAG, RoomTag.category == BUILD_CATEGORY)))
        untagged = [i for i in boundary.room_ids if i not in tagged]
        if untagged:
            db.session.execute(insert(RoomTag.__table__).from_select(  # one statement for the whole area
                ["room_id", "key", "category"],
                select(Room.id, literal(SANDBOX_TAG), literal(BUILD_CATEGORY)).where(among(Room.id, untagged))))
    details: dict[str, Any] = {
        "project_id": project.id, "name": project.name, "rooms": moved, "sandbox_id": sandbox.id,
        "connection_room_id": project.connection_room_id,
        "connection_room": connection_room.handle if connection_room else None,
        "direction": project.connection_direction,
        "removed_exits": [c.describe() for c in removed], "forced": force,
        "foreign_exits": [c.describe() for c in boundary.foreign] if force else []}
    if force:
        details["reason"] = reason
    project.status = ProjectStatus.built
    project.sandbox_id = sandbox.id
    project.promoted_at = project.promoted_by_id = None
    project.connection_room_id = project.connection_direction = None
    audit.record(actor, "build.unpromoted", "build_project", project.id, details)
    webhooks.emit(actor.workspace_id, "world.unpromoted", details)
    announcements.cancel_pending(project.id)  # "The Old Mill is open" must not go out once it is closed
    db.session.flush()  # the engine commits: a failure there is told apart from one here
    return WorldUnpromotion(project_id=project.id, returned_rooms=moved, sandbox_id=sandbox.id,
                            removed_exits=removed_json, forced=force,
                            message=_returned_message(project.name, moved, len(boundary.connection),
                                                      boundary.foreign if force else []))


def _returned_message(name: str, rooms: int, connection_exits: int, forced: list[CrossingExit]) -> str:
    """ "'The Old Mill' is back in a sandbox: 3 rooms, the 2 connection exits removed." (and what force removed)"""
    text = (f"{name!r} is back in a sandbox: {rooms} room{'' if rooms == 1 else 's'}, "
            f"{'the ' if connection_exits else ''}{connection_exits or 'no'} connection "
            f"exit{'' if connection_exits == 1 else 's'} removed")
    if forced:
        text += (f"; forced, so {len(forced)} other exit{'' if len(forced) == 1 else 's'} removed too: "
                 + "; ".join(c.describe() for c in forced))
    return text + "."
