"""Promoting a built area into the live world (built → live): the preview the dialog shows, and the promotion.

Promotion moves the sandbox rooms themselves (ids, attributes and tags kept; the `sandbox` tag
dropped) and links the entry room to a live connection room with a pair of exits, in one
transaction; the empty sandbox container is removed afterwards by an outbox effect.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import delete, func, select, update

from webapp.accounts.models import Role
from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.errors import Conflict, Forbidden, NotFound
from webapp.extensions import db, utcnow
from webapp.governance import services as governance
from webapp.governance.models import WORKSPACE_SUBJECT, WORLDS_SUBJECT
from webapp.outbox import services as outbox
from webapp.outbox.models import OutboxEffect
from webapp.promotion import Flow, GovernedPromotion, PreviewChanged, PreviewToken, register
from webapp.webhooks import services as webhooks
from webapp.worlds import announcements
from webapp.worlds.design import ExitConflict
from webapp.worlds.directions import Direction, parse_direction, where
from webapp.worlds.lifecycle import PROMOTE, require_transition
from webapp.worlds.live import exit_pair
from webapp.worlds.models import (
    BUILD_CATEGORY,
    SANDBOX_TAG,
    AreaAnnouncement,
    BuildProject,
    Exit,
    ExitName,
    ProjectStatus,
    Room,
    RoomTag,
    Sandbox,
)
from webapp.worlds.queries import get_project, get_room


class WorldChanged(PreviewChanged):
    code = "world_changed"
    default_message = ("The world changed since you opened this dialog (exits around these rooms). "
                       "Review the new preview and confirm again.")


@dataclass(frozen=True)
class PlannedExit:
    source: Room
    destination: Room
    direction: Direction

    def as_json(self) -> dict[str, Any]:
        return {"source_room_id": self.source.id, "destination_room_id": self.destination.id,
                "direction": self.direction.name, "aliases": [self.direction.short]}


@dataclass(frozen=True)
class WorldPreview:
    project: BuildProject
    connection: Room
    direction: Direction
    entry: Room
    room_count: int
    exits: tuple[PlannedExit, PlannedExit]
    conflicts: list[str]
    token: str
    announcement: str | None = None  # what players will be told, when the workspace announces new areas

    def as_json(self) -> dict[str, Any]:
        return {"project_id": self.project.id, "status": self.project.status.value,
                "room_count": self.room_count,
                "entry_room": {"id": self.entry.id, "handle": self.entry.handle, "name": self.entry.name},
                "connection_room": {"id": self.connection.id, "handle": self.connection.handle,
                                    "name": self.connection.name},
                "connection_direction": self.direction.name,
                "exits": [e.as_json() for e in self.exits], "conflicts": self.conflicts,
                "announcement": self.announcement, "preview_token": self.token}


def _exit_state(*room_ids: int) -> str:
    """A fingerprint of every exit name leaving these rooms: what the dialog showed of the world."""
    names = db.session.execute(
        select(ExitName.source_id, ExitName.name).where(ExitName.source_id.in_(room_ids))
        .order_by(ExitName.source_id, ExitName.name)).all()
    return hashlib.sha256(json.dumps([list(n) for n in names]).encode()).hexdigest()[:32]


def _sandbox_entry(project: BuildProject) -> Room:
    design = project.entry_room
    room = db.session.get(Room, design.room_id) if design is not None and design.room_id else None
    if room is None or project.sandbox_id is None or room.sandbox_id != project.sandbox_id:
        raise Conflict("The project's sandbox has no entry room; build the sandbox first.", code="not_promotable")
    return room


POLICY_SUBJECTS = (WORLDS_SUBJECT, WORKSPACE_SUBJECT)  # the approval policies of world builds, most specific first


def approval_policy(actor: Actor) -> governance.Policy:
    """The policy an area's promotion passes now (the dialog: promote, or request approval)."""
    return governance.policy_for(actor.workspace_id, POLICY_SUBJECTS)


def promotable(actor: Actor, project_id: int) -> BuildProject:
    """Role, tenancy and state before content: the project this actor may promote now (403, 404, 409), checked
    before the views read the target, so another workspace's id is a 404 whatever the request carries."""
    actor.require(*PROMOTE)
    project = get_project(actor, project_id)
    require_transition(project, "promote")
    return project


def promotion_preview(actor: Actor, project_id: int, connection_room_id: int, direction_text: str) -> WorldPreview:
    """What promoting would do, and every reason it cannot (the dialog disables confirm for those)."""
    project = promotable(actor, project_id)
    direction = parse_direction(direction_text)
    connection = get_room(actor, connection_room_id)
    entry = _sandbox_entry(project)
    conflicts = _conflicts(project, connection, entry, direction)
    room_count = db.session.scalar(
        select(func.count()).select_from(Room).where(Room.sandbox_id == project.sandbox_id)) or 0
    token = AreaPromotion(actor, project, connection, entry, direction).sign()
    planned = (PlannedExit(connection, entry, direction), PlannedExit(entry, connection, direction.opposite))
    announced = announcements.planned(project, connection, direction)
    return WorldPreview(project=project, connection=connection, direction=direction, entry=entry,
                        room_count=room_count, exits=planned, conflicts=conflicts, token=token, announcement=announced)


def _conflicts(project: BuildProject, connection: Room, entry: Room, direction: Direction) -> list[str]:
    if connection.sandbox_id is not None:
        if connection.sandbox_id == project.sandbox_id:
            inside = f"{connection.name} ({connection.handle}) is inside the area being promoted"
            return [f"{inside}; connect it to a live room."]
        return [f"{connection.name} ({connection.handle}) is in another sandbox, not in the live world."]
    conflicts = []
    opposite = direction.opposite
    for room, d, which in ((connection, direction, "the connection room"), (entry, opposite, "the entry room")):
        taken = db.session.execute(
            select(Exit.key, Room.name).join(ExitName, ExitName.exit_id == Exit.id)
            .join(Room, Room.id == Exit.destination_id)
            .where(ExitName.source_id == room.id, ExitName.name.in_(d.names)).limit(1)).first()
        if taken:
            conflicts.append(f"{room.name} ({which}) already has an exit {d.name} ({d.short}): "
                             f"'{taken.key}' to {taken.name}.")
    return conflicts


@dataclass(frozen=True)
class WorldPromotion:
    project: BuildProject
    connection: Room
    promoted_rooms: int
    created_exits: list[Exit]
    entry_room_id: int
    message: str  # what the dashboard's toast and the API's answer say
    announcement: AreaAnnouncement | None = None

    def as_json(self) -> dict[str, Any]:
        announced = self.announcement
        return {"status": ProjectStatus.live.value, "message": self.message, "promoted_rooms": self.promoted_rooms,
                "created_exits": [{"id": e.id, "source_room_id": e.source_id, "destination_room_id": e.destination_id,
                                   "direction": e.key, "aliases": e.aliases} for e in self.created_exits],
                "entry_room_id": self.entry_room_id,
                "announcement": {"id": announced.id, "text": announced.text, "status": announced.status.value}
                if announced else None}


def promoted_message(name: str, rooms: int, direction: Direction, connection: Room) -> str:
    """ "'The Old Mill' is live: 3 rooms, connected north of Village square." """
    return (f"{name!r} is live: {rooms} room{'' if rooms == 1 else 's'}, connected {where(direction)} "
            f"{connection.name}.")


class AreaPromotion(GovernedPromotion[WorldPromotion]):
    """A built area into the live world at `connection`, `direction` (webapp/promotion.py drives it). The dialog
    signs which project, room and direction it previews and the exits it saw around the two rooms."""

    token = PreviewToken(salt="world-promotion-preview",
                         other_source="This preview token belongs to another project, room or direction.")
    changed = WorldChanged
    outcome_unknown = "it may or may not have been saved; open the build to see whether it is live before trying again."
    flow = "world"

    def __init__(self, actor: Actor, project: BuildProject, connection: Room, entry: Room,
                 direction: Direction) -> None:
        self.actor, self.project, self.connection, self.entry, self.direction = (actor, project, connection, entry,
                                                                                  direction)
        # kept: the rows expire when a changed world rolls back
        self.ids = (project.id, connection.id, entry.id)

    def source(self) -> list[int | str]:
        return [self.ids[0], self.ids[1], self.direction.name]

    def seen_now(self) -> str:
        return _exit_state(self.ids[1], self.ids[2])

    def fresh_preview(self) -> WorldPreview:
        return promotion_preview(self.actor, self.ids[0], self.ids[1], self.direction.name)

    def source_key(self) -> str:
        return f"project:{self.ids[0]}"

    def title(self) -> str:
        return f"{self.project.name} → live, {where(self.direction)} {self.connection.name}"

    def policy_subjects(self) -> list[str]:
        return list(POLICY_SUBJECTS)

    def links(self) -> dict[str, int]:
        return {"build_project_id": self.ids[0]}

    def check_requester(self) -> None:
        if not (self.actor.can(Role.admin) or self.project.owner_id == self.actor.user_id):
            raise Forbidden("Only the build project's owner (or an admin) may request its promotion.")

    def check(self) -> None:
        conflicts = _conflicts(self.project, self.connection, self.entry, self.direction)
        if conflicts:
            raise ExitConflict(" ".join(conflicts), details={"conflicts": conflicts})

    def write(self) -> WorldPromotion:
        return _write_promotion(self.actor, self.project, self.connection, self.entry, self.direction)

    def lost_race(self) -> NoReturn:
        # another promotion took one of the two exit names first (or SQLite's writer lock)
        raise ExitConflict("Another promotion connected to that room and direction at the same moment; "
                           "open the dialog again to see the world as it is now.")


def promote(actor: Actor, project_id: int, connection_room_id: int, direction_text: str,
            preview_token: str | None = None, *, override_reason: str | None = None) -> WorldPromotion:
    """built → live, in one transaction: the sandbox rooms become live rooms (same ids, attributes and
    tags, less `sandbox`), the exit pair links the entry room to the connection room, the project
    records where it was connected. Anything failing rolls all of it back; the sandbox stays as it was.

    With a `preview_token` the exits around the two rooms must still be what the dialog showed, or
    `WorldChanged` carries the fresh preview. Two promotions into one room serialise on its row lock
    (PostgreSQL) or on the unique exit names; the loser gets a 409. Where the approval policy requires approval
    it is refused (`governance.confirm`) unless an admin gives an `override_reason`.
    """
    return governance.confirm(reopen(actor, [project_id, connection_room_id, direction_text]), preview_token,
                              override_reason=override_reason)


def reopen(actor: Actor, source: list[Any], change_notes: str = "") -> AreaPromotion:
    """`promote` up to the engine's confirm, for a `source()` ([project id, connection room id, direction]):
    role, tenancy, the project's and the connection room's locks, a promotable project."""
    project_id, connection_room_id, direction_text = source
    actor.require(*PROMOTE)
    project = get_project(actor, project_id, for_update=True)
    require_transition(project, "promote")
    direction = parse_direction(direction_text)
    connection = get_room(actor, connection_room_id)
    # Locked and read again: a return to the sandbox may have taken it out of the live world meanwhile.
    connection = db.session.scalars(select(Room).where(Room.id == connection.id).with_for_update()
                                    .execution_options(populate_existing=True)).one_or_none()
    if connection is None:  # an admin removed it meanwhile
        raise NotFound(f"No room {connection_room_id} in this workspace any more.")
    entry = _sandbox_entry(project)
    return AreaPromotion(actor, project, connection, entry, direction)


FLOW = register(Flow("world", reopen=reopen,
                     preview=lambda actor, source: promotion_preview(actor, source[0], source[1], source[2])))


def _write_promotion(actor: Actor, project: BuildProject, connection: Room, entry: Room,
                     direction: Direction) -> WorldPromotion:
    sandbox_id = project.sandbox_id
    in_sandbox = select(Room.id).where(Room.sandbox_id == sandbox_id).scalar_subquery()
    db.session.execute(delete(RoomTag).where(RoomTag.room_id.in_(in_sandbox), RoomTag.key == SANDBOX_TAG,
                                             RoomTag.category == BUILD_CATEGORY))
    moved = db.session.execute(
        update(Room).where(Room.sandbox_id == sandbox_id).values(sandbox_id=None)
        .execution_options(synchronize_session=False)).rowcount
    created = exit_pair(actor.workspace_id, connection.id, entry.id, direction)  # unique names decide a race
    announced = _mark_live(actor, project, connection, direction, sandbox_id, moved)
    db.session.flush()  # the engine commits: a failure there is told apart from one here
    return WorldPromotion(project=project, connection=connection, promoted_rooms=moved, created_exits=created,
                          entry_room_id=entry.id, message=promoted_message(project.name, moved, direction, connection),
                          announcement=announced)


def _mark_live(actor: Actor, project: BuildProject, connection: Room, direction: Direction,
               sandbox_id: int | None, moved: int) -> AreaAnnouncement | None:
    project.status = ProjectStatus.live
    project.promoted_at = utcnow()
    project.promoted_by_id = actor.user_id
    project.connection_room_id = connection.id
    project.connection_direction = direction.name
    project.sandbox_id = None
    details = {"project_id": project.id, "name": project.name, "rooms": moved, "connection_room_id": connection.id,
               "connection_room": connection.handle, "direction": direction.name, "sandbox_id": sandbox_id}
    audit.record(actor, "build.promoted", "build_project", project.id, details)
    outbox.add(actor.workspace_id, "worlds.remove_sandbox", {"sandbox_id": sandbox_id})
    webhooks.emit(actor.workspace_id, "world.promoted", details)
    return announcements.announce(project, connection, direction)  # when the workspace announces new areas


@outbox.handler("worlds.remove_sandbox")
def _remove_sandbox(effect: OutboxEffect) -> dict[str, Any]:
    """After a promotion: the emptied sandbox container goes. Running it again changes nothing."""
    sandbox_id = effect.payload["sandbox_id"]
    left = db.session.scalar(select(func.count()).select_from(Room).where(Room.sandbox_id == sandbox_id)) or 0
    if left:
        return {"removed": False, "rooms_left": left}  # never delete rooms: only an empty container goes
    removed = db.session.execute(delete(Sandbox).where(Sandbox.id == sandbox_id)).rowcount
    db.session.commit()
    return {"removed": bool(removed)}
