"""Designing an area while its project is a draft: rooms, exits and the entry room, one by one (the design
forms) or from a design document (the create body, an import). The checks of a room and an exit are the
typed commands' (webapp/worlds/commands.py); the rules between them (distinct ids, exits between rooms of
the design, one exit per name or alias: 422 beside the field) are here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from pydantic import JsonValue

from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.errors import Conflict, Invalid, NotFound
from webapp.extensions import db
from webapp.worlds.commands import (
    MAX_PROJECT_NAME,
    MAX_ROOMS,
    DesignDocument,
    RoomDesign,
    parse_aliases,
    read_design,
    room_design,
)
from webapp.worlds.directions import Direction, parse_direction
from webapp.worlds.lifecycle import DESIGN, InvalidTransition, allowed_transitions
from webapp.worlds.models import BuildExit, BuildProject, BuildRoom, ProjectStatus
from webapp.worlds.queries import get_project


class ExitConflict(Conflict):
    code = "exit_conflict"


def room_fields(key: str, name: str, description: str = "", attributes: str | Mapping[str, JsonValue] = "{}",
                tags: Sequence[Sequence[str]] = ()) -> RoomDesign:
    """A designed room from its values (the seed, tests, the live world's rooms); 422 naming every bad field."""
    return room_design({"key": key, "name": name, "description": description, "attributes": attributes,
                        "tags": list(tags)})


def exit_names(direction: Direction, aliases: Iterable[str] = ()) -> list[str]:
    """An exit's key and its aliases: the direction's short form first, then any custom ones."""
    names = [direction.name, direction.short]
    for alias in aliases:
        alias = alias.strip().lower()
        if alias and alias not in names:
            names.append(alias)
    return names


# -- writing the design ----------------------------------------------------------------------------


def _editable(actor: Actor, project_id: int) -> BuildProject:
    actor.require(*DESIGN)
    project = get_project(actor, project_id, for_update=True)
    if project.status is not ProjectStatus.draft:
        raise InvalidTransition(f"The design can change only while the project is a draft; it is "
                                f"{project.status.value}.", details={"status": project.status.value,
                                                                     "allowed": allowed_transitions(project.status)})
    return project


def create_project(actor: Actor, name: str | None, description: str | None = "",
                   document: DesignDocument | Mapping[str, JsonValue] | None = None, *,
                   action: str = "build.created") -> BuildProject:
    """A new draft project, empty or with the rooms and exits of a design document."""
    actor.require(*DESIGN)
    name = (name or "").strip()
    if not name or len(name) > MAX_PROJECT_NAME:
        raise Invalid(f"A build project needs a name of 1 to {MAX_PROJECT_NAME} characters.",
                      details={"name": f"required, at most {MAX_PROJECT_NAME} characters"})
    project = BuildProject(workspace_id=actor.workspace_id, name=name, description=(description or "").strip(),
                           owner_id=actor.user_id, status=ProjectStatus.draft)
    db.session.add(project)
    db.session.flush()
    rooms = exits = 0
    if document is not None:
        rooms, exits = _add_document(project, read_design(document))
    audit.record(actor, action, "build_project", project.id, {"name": name, "rooms": rooms, "exits": exits})
    db.session.commit()
    return project


def _add_document(project: BuildProject, document: DesignDocument) -> tuple[int, int]:
    """Rooms and exits of a design document into an empty project: one 422/409 for the first broken rule."""
    by_ref: dict[str, BuildRoom] = {}
    for index, fields in enumerate(document.rooms or []):
        ref = fields.id if "id" in fields.model_fields_set else fields.key
        if not isinstance(ref, str | int) or str(ref) in by_ref:
            raise Invalid(f"rooms[{index}]: every room needs a distinct 'id' (or 'key') that exits refer to; "
                          f"{ref!r} is repeated or not a string.")
        room = _design_room_row(project, index, fields)
        db.session.add(room)
        by_ref[str(ref)] = room
    if document.entry is not None:
        if str(document.entry) not in by_ref:
            raise Invalid(f"The entry room {document.entry!r} is not one of the rooms.")
        by_ref[str(document.entry)].is_entry = True
    db.session.flush()
    seen: set[tuple[int, str]] = set()
    exits = document.exits or []
    for index, planned in enumerate(exits):
        source, destination = by_ref.get(str(planned.source)), by_ref.get(str(planned.destination))
        if source is None or destination is None:
            raise Invalid(f"exits[{index}]: 'source' and 'destination' must be ids of rooms in the design.")
        names = exit_names(parse_direction(planned.direction), planned.aliases)
        _check_new_exit_names(source, destination, names, seen, index)
        db.session.add(BuildExit(project_id=project.id, source_id=source.id, destination_id=destination.id,
                                 key=names[0], aliases=names[1:]))
    db.session.flush()
    return len(by_ref), len(exits)


def _design_room_row(project: BuildProject, position: int, fields: RoomDesign) -> BuildRoom:
    return BuildRoom(project_id=project.id, position=position, key=fields.key, name=fields.name,
                     description=fields.description, attributes_json=fields.attributes, tags=fields.tags)


def _check_new_exit_names(source: BuildRoom, destination: BuildRoom, names: list[str],
                          seen: set[tuple[int, str]], index: int | None = None) -> None:
    """A room has one exit per name or alias: a second one is a 422 beside the field that repeats it — the
    direction (its name or short form) or the aliases; in a document, `details.exits.<index>.<field>`."""
    if source.id == destination.id:
        raise Invalid(f"An exit of {source.name!r} must lead to another room.")
    taken = [n for n in names if (source.id, n) in seen]
    if taken:
        field = "direction" if taken[0] in names[:2] else "aliases"  # names: direction, its short form, aliases
        problem = f"{source.name!r} already has an exit named {taken[0]!r} (as key or alias)"
        if index is None:
            raise Invalid(f"{problem}.", details={field: problem})
        raise Invalid(f"exits[{index}]: {problem}.", details={"exits": {index: {field: problem}}})
    seen.update((source.id, n) for n in names)


def _names_in_use(project: BuildProject) -> set[tuple[int, str]]:
    return {(e.source_id, n) for e in project.exits for n in (e.key, *e.aliases)}


def add_room(actor: Actor, project_id: int, fields: RoomDesign) -> BuildRoom:
    project = _editable(actor, project_id)
    if len(project.rooms) >= MAX_ROOMS:
        raise Invalid(f"A project holds at most {MAX_ROOMS:,} rooms.")
    position = max((r.position for r in project.rooms), default=-1) + 1
    room = _design_room_row(project, position, fields)
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


def update_room(actor: Actor, project_id: int, room_id: int, fields: RoomDesign) -> BuildRoom:
    project = _editable(actor, project_id)
    room = design_room(project, room_id)
    room.key, room.name, room.description = fields.key, fields.name, fields.description
    room.attributes_json, room.tags = fields.attributes, fields.tags
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


def add_exit(actor: Actor, project_id: int, source_id: int, destination_id: int, direction_text: str,
             aliases: str | list[str] = "") -> BuildExit:
    """An exit between two rooms of the design; `aliases` a list of words or the form's comma-separated text."""
    project = _editable(actor, project_id)
    source, destination = design_room(project, source_id), design_room(project, destination_id)
    direction = parse_direction(direction_text)
    names = exit_names(direction, parse_aliases(aliases))
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
