"""World builds: design an area, review it, build it in a sandbox, walk it, promote it into the live world.

    draft ─submit→ submitted ─approve→ approved ─build→ built ─promote→ live
                       └─reject (reason)→ draft

Promotion moves the sandbox rooms themselves (ids, attributes and tags kept; the `sandbox` tag
dropped) and links the entry room to a live connection room with a pair of exits, in one
transaction; the empty sandbox container is removed afterwards by an outbox effect.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from webapp import inputs
from webapp.accounts.models import Role
from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.errors import NOTHING_CHANGED, BadRequest, Conflict, Invalid, NotFound, database_failed, lost_race
from webapp.extensions import db, utcnow
from webapp.outbox import services as outbox
from webapp.webhooks import services as webhooks
from webapp.worlds import batchfile
from webapp.worlds.directions import DIRECTIONS, Direction, parse_direction
from webapp.worlds.models import (
    BUILD_CATEGORY,
    SANDBOX_TAG,
    WEB_BUILDER_TAG,
    BuildExit,
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

# What each step needs (views and the API check before reading a body, so a viewer gets 403 first).
DESIGN = (Role.editor, "design build projects")
REVIEW = (Role.promoter, "approve or reject build projects")
BUILD = (Role.editor, "build sandboxes")
PROMOTE = (Role.promoter, "promote builds into the live world")

# name → (from which statuses, to which status)
TRANSITIONS: dict[str, tuple[frozenset[ProjectStatus], ProjectStatus]] = {
    "submit": (frozenset({ProjectStatus.draft}), ProjectStatus.submitted),
    "approve": (frozenset({ProjectStatus.submitted}), ProjectStatus.approved),
    "reject": (frozenset({ProjectStatus.submitted}), ProjectStatus.draft),
    "build": (frozenset({ProjectStatus.approved}), ProjectStatus.built),
    "promote": (frozenset({ProjectStatus.built}), ProjectStatus.live),
}
TRANSITION_ROLES = {"submit": DESIGN, "approve": REVIEW, "reject": REVIEW, "build": BUILD, "promote": PROMOTE}

KEY_RE = re.compile(r"[A-Za-z0-9_-]{1,80}")
ATTRIBUTE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,79}")
TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
ALIAS_RE = re.compile(r"[a-z0-9_-]{1,40}")
MAX_DESCRIPTION = 20_000
MAX_ATTRIBUTES = 64 * 1024
MAX_ROOMS = 5_000


class InvalidTransition(Conflict):
    code = "invalid_transition"


class WorldChanged(Conflict):
    code = "world_changed"


class ExitConflict(Conflict):
    code = "exit_conflict"


def allowed_transitions(status: ProjectStatus) -> list[str]:
    return [name for name, (sources, _) in TRANSITIONS.items() if status in sources]


def _require_transition(project: BuildProject, name: str) -> ProjectStatus:
    sources, target = TRANSITIONS[name]
    if project.status not in sources:
        allowed = allowed_transitions(project.status)
        raise InvalidTransition(
            f"Cannot {name} a project that is {project.status.value}; "
            f"allowed from {project.status.value}: {', '.join(allowed) if allowed else 'nothing (it is live)'}.",
            details={"status": project.status.value, "allowed": allowed})
    return target


# -- reading ------------------------------------------------------------------------------------


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


# -- validating a design ------------------------------------------------------------------------


@dataclass
class RoomFields:
    key: str
    name: str
    description: str = ""
    attributes_json: str = "{}"
    tags: list[list[str]] = field(default_factory=list)


def room_fields(key: Any, name: Any, description: Any = "", attributes: Any = "{}", tags: Any = (),
                *, drop_build_tags: bool = False) -> RoomFields:
    """Check a designed room; 422 naming every field that is wrong. `attributes` is JSON text (kept
    verbatim) or an already parsed object (written once as JSON); `tags` a list of [key, category].
    Tags of the `build` category are the build's own: refused, or dropped when importing an export."""
    errors: dict[str, str] = {}
    key = key.strip() if isinstance(key, str) else ""
    if not KEY_RE.fullmatch(key):
        errors["key"] = "1 to 80 letters, digits, '_' or '-' (it names the room in exports, e.g. mill#01)"
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 200 or "\n" in name or "\r" in name:
        errors["name"] = "required, one line of at most 200 characters"
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        errors["description"] = f"text of at most {MAX_DESCRIPTION:,} characters"
        description = ""
    description = description.replace("\r\n", "\n").replace("\r", "\n")
    attributes_json, problem = _attributes_json(attributes)
    if problem:
        errors["attributes"] = problem
    tag_list, problem = _tags(tags, drop_build_tags)
    if problem:
        errors["tags"] = problem
    if errors:
        raise Invalid("The room has errors: " + "; ".join(f"{k}: {v}" for k, v in errors.items()) + ".",
                      details=errors)
    return RoomFields(key=key, name=name, description=description, attributes_json=attributes_json, tags=tag_list)


def _attributes_json(attributes: Any) -> tuple[str, str | None]:
    if isinstance(attributes, str):
        text = attributes.strip() or "{}"
        if len(text) > MAX_ATTRIBUTES:
            return "{}", f"at most {MAX_ATTRIBUTES // 1024} KB of JSON"
        try:
            value = inputs.loads(text)
        except ValueError as exc:
            return "{}", f"not valid JSON: {exc}"
    else:
        value = attributes
        problem = inputs.document_problem(value)
        if problem:
            return "{}", problem
        text = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, dict):
        return "{}", "must be a JSON object of attribute names and values"
    bad = [k for k in value if not ATTRIBUTE_RE.fullmatch(k)]
    if bad:
        return "{}", (f"attribute names must be identifiers (letters, digits, '_', not starting with a digit); "
                      f"not {bad[0]!r}")
    return text, None


def parse_tag_text(text: str) -> list[list[str]]:
    """The form's tags: `outdoors:terrain, quest` → [["outdoors", "terrain"], ["quest", ""]]."""
    return [[k.strip(), c.strip()] for k, _, c in (t.partition(":") for t in (text or "").split(",")) if k.strip()]


def _tags(tags: Any, drop_build_tags: bool) -> tuple[list[list[str]], str | None]:
    result: list[list[str]] = []
    if not isinstance(tags, list | tuple):
        return [], "a list of [key, category] pairs"
    for tag in tags:
        if isinstance(tag, dict):
            tag = [tag.get("key"), tag.get("category") or ""]
        if isinstance(tag, str):
            tag = [tag, ""]
        if (not isinstance(tag, list | tuple) or len(tag) != 2 or not all(isinstance(t, str) for t in tag)):
            return [], "each tag is a key and a category"
        key, category = tag[0].strip(), tag[1].strip()
        if not TAG_RE.fullmatch(key) or (category and not TAG_RE.fullmatch(category)):
            return [], (f"tag {key!r}: keys and categories are letters, digits, '_', '.', '-' "
                        "(no spaces, ';', ',', '=' or ':')")
        if category == BUILD_CATEGORY and drop_build_tags:
            continue
        if category == BUILD_CATEGORY:
            return [], f"the category {BUILD_CATEGORY!r} is reserved for the tags a build adds"
        if [key, category] not in result:
            result.append([key, category])
    return result, None


def exit_names(direction: Direction, aliases: Iterable[str] = ()) -> list[str]:
    """An exit's key and its aliases: the direction's short form first, then any custom ones."""
    names = [direction.name, direction.short]
    for alias in aliases:
        alias = alias.strip().lower()
        if alias and alias not in names:
            names.append(alias)
    return names


def _aliases(raw: Any) -> list[str]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
        raise Invalid("Aliases are a list of words.", details={"aliases": "a list of words"})
    aliases = [a.strip().lower() for a in raw if a.strip()]
    for alias in aliases:
        if not ALIAS_RE.fullmatch(alias):
            raise Invalid(f"Alias {alias!r}: 1 to 40 lowercase letters, digits, '_' or '-'.",
                          details={"aliases": "lowercase letters, digits, '_' or '-'"})
    return aliases


# -- writing a design ---------------------------------------------------------------------------


def _editable(actor: Actor, project_id: int) -> BuildProject:
    actor.require(*DESIGN)
    project = get_project(actor, project_id, for_update=True)
    if project.status is not ProjectStatus.draft:
        raise InvalidTransition(f"The design can change only while the project is a draft; it is "
                                f"{project.status.value}.", details={"status": project.status.value,
                                                                     "allowed": allowed_transitions(project.status)})
    return project


def create_project(actor: Actor, name: Any, description: Any = "", document: dict[str, Any] | None = None,
                   *, action: str = "build.created") -> BuildProject:
    """A new draft project, empty or with the rooms and exits of a design document (see `read_document`)."""
    actor.require(*DESIGN)
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 120:
        raise Invalid("A build project needs a name of 1 to 120 characters.",
                      details={"name": "required, at most 120 characters"})
    if not isinstance(description, str):
        raise Invalid("The description is text.", details={"description": "text"})
    project = BuildProject(workspace_id=actor.workspace_id, name=name, description=description.strip(),
                           owner_id=actor.user_id, status=ProjectStatus.draft)
    db.session.add(project)
    db.session.flush()
    rooms = exits = 0
    if document is not None:
        rooms, exits = _add_document(project, document)
    audit.record(actor, action, "build_project", project.id, {"name": name, "rooms": rooms, "exits": exits})
    db.session.commit()
    return project


def _add_document(project: BuildProject, document: Any) -> tuple[int, int]:
    """Rooms and exits of a design document into an empty project: one 422/400 for the first problem."""
    if not isinstance(document, dict):
        raise BadRequest("The design is a JSON object with 'rooms' and 'exits'.")
    rooms_in, exits_in = document.get("rooms", []), document.get("exits", [])
    if not isinstance(rooms_in, list) or not isinstance(exits_in, list):
        raise BadRequest("'rooms' and 'exits' are lists.")
    if len(rooms_in) > MAX_ROOMS:
        raise Invalid(f"A project holds at most {MAX_ROOMS:,} rooms.")
    by_ref: dict[str, BuildRoom] = {}
    for index, raw in enumerate(rooms_in):
        if not isinstance(raw, dict):
            raise BadRequest(f"rooms[{index}] is not an object.")
        try:
            fields = room_fields(raw.get("key"), raw.get("name"), raw.get("description", ""),
                                 raw.get("attributes", {}), raw.get("tags", []), drop_build_tags=True)
        except Invalid as exc:
            raise Invalid(f"rooms[{index}]: {exc.message}", details={"rooms": {index: exc.details}}) from None
        ref = raw.get("id", fields.key)
        if not isinstance(ref, str | int) or str(ref) in by_ref:
            raise Invalid(f"rooms[{index}]: every room needs a distinct 'id' (or 'key') that exits refer to; "
                          f"{ref!r} is repeated or not a string.")
        room = BuildRoom(project_id=project.id, position=index, key=fields.key, name=fields.name,
                         description=fields.description, attributes_json=fields.attributes_json, tags=fields.tags)
        db.session.add(room)
        by_ref[str(ref)] = room
    entry = document.get("entry")
    if entry is not None:
        if str(entry) not in by_ref:
            raise Invalid(f"The entry room {entry!r} is not one of the rooms.")
        by_ref[str(entry)].is_entry = True
    db.session.flush()
    seen: set[tuple[int, str]] = set()
    for index, raw in enumerate(exits_in):
        if not isinstance(raw, dict):
            raise BadRequest(f"exits[{index}] is not an object.")
        source, destination = by_ref.get(str(raw.get("source"))), by_ref.get(str(raw.get("destination")))
        if source is None or destination is None:
            raise Invalid(f"exits[{index}]: 'source' and 'destination' must be ids of rooms in the design.")
        direction = parse_direction(raw.get("direction", raw.get("key")))
        names = exit_names(direction, _aliases(raw.get("aliases")))
        _check_new_exit_names(source, destination, names, seen)
        db.session.add(BuildExit(project_id=project.id, source_id=source.id, destination_id=destination.id,
                                 key=direction.name, aliases=names[1:]))
    db.session.flush()
    return len(by_ref), len(exits_in)


def _check_new_exit_names(source: BuildRoom, destination: BuildRoom, names: list[str],
                          seen: set[tuple[int, str]]) -> None:
    if source.id == destination.id:
        raise Invalid(f"An exit of {source.name!r} must lead to another room.")
    taken = [n for n in names if (source.id, n) in seen]
    if taken:
        raise ExitConflict(f"{source.name!r} already has an exit named {taken[0]!r} (as key or alias).")
    seen.update((source.id, n) for n in names)


def _names_in_use(project: BuildProject) -> set[tuple[int, str]]:
    return {(e.source_id, n) for e in project.exits for n in (e.key, *e.aliases)}


def add_room(actor: Actor, project_id: int, fields: RoomFields) -> BuildRoom:
    project = _editable(actor, project_id)
    if len(project.rooms) >= MAX_ROOMS:
        raise Invalid(f"A project holds at most {MAX_ROOMS:,} rooms.")
    position = max((r.position for r in project.rooms), default=-1) + 1
    room = BuildRoom(project_id=project.id, position=position, key=fields.key, name=fields.name,
                     description=fields.description, attributes_json=fields.attributes_json, tags=fields.tags)
    db.session.add(room)
    db.session.flush()
    audit.record(actor, "build.room_added", "build_project", project.id, {"room": room.key, "name": room.name})
    db.session.commit()
    return room


def design_room(project: BuildProject, room_id: int) -> BuildRoom:
    room = next((r for r in project.rooms if r.id == room_id), None)
    if room is None:
        raise NotFound(f"No room {room_id} in {project.name!r}.")
    return room


def update_room(actor: Actor, project_id: int, room_id: int, fields: RoomFields) -> BuildRoom:
    project = _editable(actor, project_id)
    room = design_room(project, room_id)
    room.key, room.name, room.description = fields.key, fields.name, fields.description
    room.attributes_json, room.tags = fields.attributes_json, fields.tags
    audit.record(actor, "build.room_updated", "build_project", project.id, {"room": room.key, "name": room.name})
    db.session.commit()
    return room


def remove_room(actor: Actor, project_id: int, room_id: int) -> None:
    project = _editable(actor, project_id)
    room = design_room(project, room_id)
    for e in [e for e in project.exits if room.id in (e.source_id, e.destination_id)]:
        project.exits.remove(e)
    project.rooms.remove(room)
    audit.record(actor, "build.room_removed", "build_project", project.id, {"room": room.key, "name": room.name})
    db.session.commit()


def add_exit(actor: Actor, project_id: int, source_id: int, destination_id: int, direction_text: Any,
             aliases: Any = None) -> BuildExit:
    project = _editable(actor, project_id)
    source, destination = design_room(project, source_id), design_room(project, destination_id)
    direction = parse_direction(direction_text)
    names = exit_names(direction, _aliases(aliases))
    _check_new_exit_names(source, destination, names, _names_in_use(project))
    built = BuildExit(project_id=project.id, source_id=source.id, destination_id=destination.id,
                      key=direction.name, aliases=names[1:])
    project.exits.append(built)
    db.session.flush()
    audit.record(actor, "build.exit_added", "build_project", project.id,
                 {"from": source.key, "to": destination.key, "direction": direction.name})
    db.session.commit()
    return built


def remove_exit(actor: Actor, project_id: int, exit_id: int) -> None:
    project = _editable(actor, project_id)
    found = next((e for e in project.exits if e.id == exit_id), None)
    if found is None:
        raise NotFound(f"No exit {exit_id} in {project.name!r}.")
    project.exits.remove(found)
    audit.record(actor, "build.exit_removed", "build_project", project.id, {"direction": found.key})
    db.session.commit()


def set_entry(actor: Actor, project_id: int, room_id: int) -> BuildRoom:
    project = _editable(actor, project_id)
    room = design_room(project, room_id)
    for r in project.rooms:
        r.is_entry = False
    db.session.flush()  # the partial unique index must see the old entry leave first
    room.is_entry = True
    audit.record(actor, "build.entry_set", "build_project", project.id, {"room": room.key})
    db.session.commit()
    return room


# -- review -------------------------------------------------------------------------------------


def transition(actor: Actor, project_id: int, name: str, reason: Any = "") -> BuildProject:
    """submit, approve, or reject (with a reason, back to draft). `build` and `promote` have their own."""
    if name not in ("submit", "approve", "reject"):
        raise NotFound(f"No transition {name!r}.")
    actor.require(*TRANSITION_ROLES[name])
    project = get_project(actor, project_id, for_update=True)
    target = _require_transition(project, name)
    details: dict[str, Any] = {"from": project.status.value, "to": target.value}
    if name == "submit" and not project.rooms:
        raise Invalid("Add at least one room before submitting the project for review.")
    if name == "reject":
        reason = reason.strip() if isinstance(reason, str) else ""
        if not reason or len(reason) > 2000:
            raise Invalid("Say why the project is rejected (1 to 2,000 characters).",
                          details={"reason": "required, at most 2,000 characters"})
        project.rejection_reason = details["reason"] = reason
    elif name == "submit":
        project.rejection_reason = None
    project.status = target
    audit.record(actor, f"build.{'submitted' if name == 'submit' else name + 'd'}", "build_project", project.id,
                 details)
    db.session.commit()
    return project


# -- sandbox ------------------------------------------------------------------------------------


def _handle_base(key: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", key.lower()).strip("_")[:80] or "room"


def _allocate_handles(workspace_id: int, keys: Sequence[str]) -> list[str]:
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


def _add_exits(workspace_id: int, specs: Sequence[tuple[int, int, str, list[str]]]) -> list[Exit]:
    """Exits (source id, destination id, key, aliases) and their names, in two flushes however many."""
    rows = [Exit(workspace_id=workspace_id, source_id=s, destination_id=d, key=k, aliases=a) for s, d, k, a in specs]
    db.session.add_all(rows)
    db.session.flush()
    db.session.add_all(ExitName(exit_id=row.id, source_id=row.source_id, name=name)
                       for row in rows for name in (row.key, *row.aliases))
    db.session.flush()
    return rows


def _exit_pair(workspace_id: int, source_id: int, destination_id: int, direction: Direction) -> list[Exit]:
    """source → destination in `direction`, and back the opposite way."""
    return _add_exits(workspace_id, [(source_id, destination_id, direction.name, [direction.short]),
                                     (destination_id, source_id, direction.opposite.name, [direction.opposite.short])])


def build_sandbox(actor: Actor, project_id: int) -> BuildProject:
    """approved → built: dig the designed rooms under a new sandbox container, tagged sandbox,
    web_builder and project_{id}, with their exits; the builder can walk them before promotion."""
    actor.require(*BUILD)
    project = get_project(actor, project_id, for_update=True)
    target = _require_transition(project, "build")
    sandbox = Sandbox(workspace_id=actor.workspace_id, key=f"sandbox: {project.name}"[:200])
    db.session.add(sandbox)
    db.session.flush()
    system_tags = [[SANDBOX_TAG, BUILD_CATEGORY], [WEB_BUILDER_TAG, BUILD_CATEGORY],
                   [project_tag(project.id), BUILD_CATEGORY]]
    handles = _allocate_handles(actor.workspace_id, [r.key for r in project.rooms])
    rooms = []
    for design, handle in zip(project.rooms, handles, strict=True):
        room = Room(workspace_id=actor.workspace_id, handle=handle, key=design.key, name=design.name,
                    description=design.description, attributes_json=design.attributes_json, sandbox_id=sandbox.id,
                    tags=[RoomTag(key=k, category=c) for k, c in [*design.tags, *system_tags]])
        rooms.append(room)
    db.session.add_all(rooms)
    db.session.flush()
    for design, room in zip(project.rooms, rooms, strict=True):
        design.room_id = room.id
    world_id = {design.id: room.id for design, room in zip(project.rooms, rooms, strict=True)}
    _add_exits(actor.workspace_id, [(world_id[e.source_id], world_id[e.destination_id], e.key, list(e.aliases))
                                    for e in project.exits])
    project.status, project.sandbox_id, project.built_at = target, sandbox.id, utcnow()
    audit.record(actor, "build.built", "build_project", project.id,
                 {"sandbox_id": sandbox.id, "rooms": len(rooms), "exits": len(project.exits)})
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("Another build took the same room handles at the same moment; build again.") from None
    return project


# -- the live world, directly (seed-demo, tests, admins' fixes) --------------------------------

WORLD_ADMIN = (Role.admin, "change the live world directly")


def add_live_room(actor: Actor, fields: RoomFields) -> Room:
    """A room straight into the live world, without a build (the demo's Limbo and its neighbours)."""
    actor.require(*WORLD_ADMIN)
    room = Room(workspace_id=actor.workspace_id, handle=_allocate_handles(actor.workspace_id, [fields.key])[0],
                key=fields.key, name=fields.name, description=fields.description,
                attributes_json=fields.attributes_json, tags=[RoomTag(key=k, category=c) for k, c in fields.tags])
    db.session.add(room)
    db.session.flush()
    audit.record(actor, "world.room_added", "room", room.id, {"handle": room.handle, "name": room.name})
    db.session.commit()
    return room


def link_rooms(actor: Actor, source_id: int, destination_id: int, direction_text: Any) -> list[Exit]:
    """A pair of exits between two live rooms (the direction and its opposite); 409 if either is taken."""
    actor.require(*WORLD_ADMIN)
    direction = parse_direction(direction_text)
    source, destination = get_room(actor, source_id), get_room(actor, destination_id)
    if source.id == destination.id:
        raise Invalid("An exit must lead to another room.")
    try:
        pair = _exit_pair(actor.workspace_id, source.id, destination.id, direction)
        audit.record(actor, "world.rooms_linked", "room", source.id,
                     {"from": source.handle, "to": destination.handle, "direction": direction.name})
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ExitConflict(f"{source.name} already has an exit {direction.name}, or {destination.name} one "
                           f"{direction.opposite.name}.") from None
    return pair


# -- promotion ----------------------------------------------------------------------------------


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

    def as_json(self) -> dict[str, Any]:
        return {"project_id": self.project.id, "status": self.project.status.value,
                "room_count": self.room_count,
                "entry_room": {"id": self.entry.id, "handle": self.entry.handle, "name": self.entry.name},
                "connection_room": {"id": self.connection.id, "handle": self.connection.handle,
                                    "name": self.connection.name},
                "connection_direction": self.direction.name,
                "exits": [e.as_json() for e in self.exits], "conflicts": self.conflicts,
                "preview_token": self.token}


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="world-promotion-preview")


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


def _connection_room(actor: Actor, room_id: Any) -> Room:
    if isinstance(room_id, bool) or not isinstance(room_id, int | str):
        raise BadRequest("'connection_room_id' is the id of a live room.")
    room_id = inputs.whole_number(str(room_id), "connection_room_id")
    return get_room(actor, room_id)


def promotion_preview(actor: Actor, project_id: int, connection_room_id: Any, direction_text: Any) -> WorldPreview:
    """What promoting would do, and every reason it cannot (the dialog disables confirm for those)."""
    actor.require(*PROMOTE)
    project = get_project(actor, project_id)
    _require_transition(project, "promote")
    direction = parse_direction(direction_text)
    connection = _connection_room(actor, connection_room_id)
    entry = _sandbox_entry(project)
    conflicts = _conflicts(project, connection, entry, direction)
    room_count = db.session.scalar(
        select(func.count()).select_from(Room).where(Room.sandbox_id == project.sandbox_id)) or 0
    token = _serializer().dumps({"p": project.id, "c": connection.id, "d": direction.name,
                                 "x": _exit_state(connection.id, entry.id)})
    planned = (PlannedExit(connection, entry, direction), PlannedExit(entry, connection, direction.opposite))
    return WorldPreview(project=project, connection=connection, direction=direction, entry=entry,
                        room_count=room_count, exits=planned, conflicts=conflicts, token=token)


def _conflicts(project: BuildProject, connection: Room, entry: Room, direction: Direction) -> list[str]:
    if connection.sandbox_id is not None:
        if connection.sandbox_id == project.sandbox_id:
            inside = f"{connection.name} ({connection.handle}) is inside the area being promoted"
            return [f"{inside}; connect it to a live room."]
        return [f"{connection.name} ({connection.handle}) is in another sandbox, not in the live world."]
    conflicts = []
    opposite = direction.opposite
    for room, d, where in ((connection, direction, "the connection room"), (entry, opposite, "the entry room")):
        taken = db.session.execute(
            select(Exit.key, Room.name).join(ExitName, ExitName.exit_id == Exit.id)
            .join(Room, Room.id == Exit.destination_id)
            .where(ExitName.source_id == room.id, ExitName.name.in_(d.names)).limit(1)).first()
        if taken:
            conflicts.append(f"{room.name} ({where}) already has an exit {d.name} ({d.short}): "
                             f"'{taken.key}' to {taken.name}.")
    return conflicts


@dataclass(frozen=True)
class WorldPromotion:
    project: BuildProject
    connection: Room
    promoted_rooms: int
    created_exits: list[Exit]
    entry_room_id: int

    def as_json(self) -> dict[str, Any]:
        return {"promoted_rooms": self.promoted_rooms,
                "created_exits": [{"id": e.id, "source_room_id": e.source_id, "destination_room_id": e.destination_id,
                                   "direction": e.key, "aliases": e.aliases} for e in self.created_exits],
                "entry_room_id": self.entry_room_id}


def promote(actor: Actor, project_id: int, connection_room_id: Any, direction_text: Any,
            preview_token: str | None = None) -> WorldPromotion:
    """built → live, in one transaction: the sandbox rooms become live rooms (same ids, attributes and
    tags, less `sandbox`), the exit pair links the entry room to the connection room, the project
    records where it was connected. Anything failing rolls all of it back; the sandbox stays as it was.

    With a `preview_token` the exits around the two rooms must still be what the dialog showed, or
    `WorldChanged` carries the fresh preview. Two promotions into one room serialise on its row lock
    (PostgreSQL) or on the unique exit names; the loser gets a 409.
    """
    actor.require(*PROMOTE)
    project = get_project(actor, project_id, for_update=True)
    _require_transition(project, "promote")
    direction = parse_direction(direction_text)
    connection = _connection_room(actor, connection_room_id)
    db.session.execute(select(Room.id).where(Room.id == connection.id).with_for_update())
    entry = _sandbox_entry(project)
    if preview_token:
        try:
            seen = _serializer().loads(preview_token)
        except BadSignature:
            raise BadRequest("The preview token is not valid; open the promotion dialog again.") from None
        if (seen.get("p"), seen.get("c"), seen.get("d")) != (project.id, connection.id, direction.name):
            raise BadRequest("This preview token belongs to another project, room or direction.")
        if seen.get("x") != _exit_state(connection.id, entry.id):
            _world_changed(actor, project_id, connection.id, direction.name)
    conflicts = _conflicts(project, connection, entry, direction)
    if conflicts:
        raise ExitConflict(" ".join(conflicts), details={"conflicts": conflicts})
    outcome = NOTHING_CHANGED
    try:
        promotion = _write_promotion(actor, project, connection, entry, direction)
        outcome = "it may or may not have been saved; open the build to see whether it is live before trying again."
        db.session.commit()  # sent: from here a lost connection leaves the outcome unknown (rule 12)
    except DBAPIError as exc:
        db.session.rollback()
        if lost_race(exc):  # another promotion took one of the two exit names first (or SQLite's writer lock)
            raise ExitConflict("Another promotion connected to that room and direction at the same moment; "
                               "open the dialog again to see the world as it is now.") from None
        raise database_failed(exc, "the promotion", outcome) from None
    except Exception:
        db.session.rollback()
        raise
    return promotion


def _write_promotion(actor: Actor, project: BuildProject, connection: Room, entry: Room,
                     direction: Direction) -> WorldPromotion:
    sandbox_id = project.sandbox_id
    in_sandbox = select(Room.id).where(Room.sandbox_id == sandbox_id).scalar_subquery()
    db.session.execute(delete(RoomTag).where(RoomTag.room_id.in_(in_sandbox), RoomTag.key == SANDBOX_TAG,
                                             RoomTag.category == BUILD_CATEGORY))
    moved = db.session.execute(
        update(Room).where(Room.sandbox_id == sandbox_id).values(sandbox_id=None)
        .execution_options(synchronize_session=False)).rowcount
    created = _exit_pair(actor.workspace_id, connection.id, entry.id, direction)  # unique names decide a race
    _mark_live(actor, project, connection, direction, sandbox_id, moved)
    db.session.flush()  # the caller commits: a failure there is told apart from one here
    return WorldPromotion(project=project, connection=connection, promoted_rooms=moved, created_exits=created,
                          entry_room_id=entry.id)


def _mark_live(actor: Actor, project: BuildProject, connection: Room, direction: Direction,
               sandbox_id: int | None, moved: int) -> None:
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


def _world_changed(actor: Actor, project_id: int, connection_id: int, direction: str) -> NoReturn:
    db.session.rollback()
    fresh = promotion_preview(actor, project_id, connection_id, direction)
    raise WorldChanged("The world changed since you opened this dialog (exits around these rooms). "
                       "Review the new preview and confirm again.", details=fresh.as_json())


@outbox.handler("worlds.remove_sandbox")
def _remove_sandbox(effect: Any) -> dict[str, Any]:
    """After a promotion: the emptied sandbox container goes. Running it again changes nothing."""
    sandbox_id = effect.payload["sandbox_id"]
    left = db.session.scalar(select(func.count()).select_from(Room).where(Room.sandbox_id == sandbox_id)) or 0
    if left:
        return {"removed": False, "rooms_left": left}  # never delete rooms: only an empty container goes
    removed = db.session.execute(delete(Sandbox).where(Sandbox.id == sandbox_id)).rowcount
    db.session.commit()
    return {"removed": bool(removed)}


# -- export and import --------------------------------------------------------------------------


@dataclass(frozen=True)
class Extract:
    """Rooms, the exits between them and their tags: what an export writes."""

    title: str
    rooms: list[Room]
    exits: list[Exit]
    tags: dict[int, list[RoomTag]]

    @property
    def handles(self) -> dict[int, str]:
        return {r.id: r.handle for r in self.rooms}


def _extract(actor: Actor, area: int | None) -> Extract:
    if area is None:
        rooms = list(db.session.scalars(select(Room).where(Room.workspace_id == actor.workspace_id,
                                                           Room.sandbox_id.is_(None)).order_by(Room.id)))
        title = "the live world"
    else:
        project = get_project(actor, area)
        ids = set(area_room_ids(actor.workspace_id, project.id))
        rooms = [r for r in db.session.scalars(select(Room).where(Room.workspace_id == actor.workspace_id)
                                               .order_by(Room.id)) if r.id in ids]
        title = f"area {project.name}"
    ids = {r.id for r in rooms}
    exits = [e for e in db.session.scalars(
        select(Exit).where(Exit.workspace_id == actor.workspace_id).order_by(Exit.source_id, Exit.id))
        if e.source_id in ids and e.destination_id in ids]
    tags: dict[int, list[RoomTag]] = {room_id: [] for room_id in ids}
    for tag in db.session.scalars(select(RoomTag).join(Room).where(Room.workspace_id == actor.workspace_id)
                                  .order_by(RoomTag.id)):
        if tag.room_id in ids:
            tags[tag.room_id].append(tag)
    return Extract(title=title, rooms=rooms, exits=exits, tags=tags)


def export_document(actor: Actor, area: int | None = None) -> dict[str, Any]:
    """The live world (or one project's area) as JSON that `import_document` reads back."""
    x = _extract(actor, area)
    handle = x.handles
    return {
        "format": "promotion-desk/world@1",
        "title": x.title,
        "rooms": [{"id": r.handle, "key": r.key, "name": r.name, "description": r.description,
                   "attributes": json.loads(r.attributes_json),
                   "tags": [{"key": t.key, "category": t.category} for t in x.tags[r.id]]}
                  for r in x.rooms],
        "exits": [{"source": handle[e.source_id], "destination": handle[e.destination_id], "direction": e.key,
                   "aliases": list(e.aliases)} for e in x.exits],
    }


def export_batch(actor: Actor, area: int | None = None) -> str:
    """The same rooms and exits as an Evennia batch-command file (.ev)."""
    x = _extract(actor, area)
    handle = x.handles
    return batchfile.render(
        [batchfile.ExportRoom(handle=r.handle, name=r.name, description=r.description,
                              attributes=json.loads(r.attributes_json),
                              tags=[(t.key, t.category) for t in x.tags[r.id]]) for r in x.rooms],
        [batchfile.ExportExit(source=handle[e.source_id], destination=handle[e.destination_id], key=e.key,
                              aliases=list(e.aliases)) for e in x.exits],
        title=f"Promotion Desk export of {x.title}")


def import_document(actor: Actor, document: Any, name: Any = None) -> BuildProject:
    """A JSON export (or any design document) as a new draft project: rooms, exits, attributes and tags
    (the tags a build adds are left out: building the project adds its own)."""
    actor.require(*DESIGN)
    if not isinstance(document, dict):
        raise BadRequest("The import is a JSON object with 'rooms' and 'exits'.")
    name = name or document.get("name") or f"Imported {document.get('title') or 'area'}"
    if isinstance(name, str):
        name = name[:120]
    return create_project(actor, name, document.get("description", "") or "", document, action="build.imported")
