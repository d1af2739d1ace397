"""Export and import: the live world (or one project's area) as JSON that imports back into a draft project,
or as an Evennia batch-command file (.ev)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import JsonValue
from sqlalchemy import or_, select

from webapp import inputs
from webapp.accounts.services import Actor
from webapp.errors import BadRequest, Conflict
from webapp.extensions import db
from webapp.worlds import batchfile, evennia_lint
from webapp.worlds.commands import ImportDocument, read_import
from webapp.worlds.design import create_project
from webapp.worlds.lifecycle import DESIGN
from webapp.worlds.live import allocate_handles
from webapp.worlds.models import BUILD_CATEGORY, BuildProject, Exit, ProjectStatus, Room, RoomTag, project_tag
from webapp.worlds.queries import get_project


@dataclass(frozen=True)
class Extract:
    """Rooms, the exits between them and their tags: what an export writes. An area's export also holds the exits
    that join it to live rooms outside it (`crossing`, the connection a promotion made), and those rooms
    (`outside`), which it names but does not carry."""

    title: str
    rooms: list[Room]
    exits: list[Exit]
    tags: dict[int, list[tuple[str, str]]]  # room id → (key, category), in the order they were added
    crossing: list[Exit] = field(default_factory=list)
    outside: dict[int, Room] = field(default_factory=dict)

    @property
    def handles(self) -> dict[int, str]:
        return {r.id: r.handle for r in [*self.rooms, *self.outside.values()]}


def _extract(actor: Actor, area: int | None) -> Extract:
    """The rooms of the live world, or of one project's area (wherever they are now), with their exits and tags —
    a few queries however large, with only the area's rows loaded (1,000 rooms export in a fraction of a second)."""
    ws = actor.workspace_id
    if area is None:
        chosen = select(Room.id).where(Room.workspace_id == ws, Room.sandbox_id.is_(None))
        title = "the live world"
    else:
        project = get_project(actor, area)
        chosen = select(RoomTag.room_id).where(RoomTag.key == project_tag(project.id),
                                               RoomTag.category == BUILD_CATEGORY)
        title = f"area {project.name}"
    rooms = list(db.session.scalars(select(Room).where(Room.workspace_id == ws, Room.id.in_(chosen))
                                    .order_by(Room.id)))
    ids = {r.id for r in rooms}
    exits, crossing, others = [], [], set()
    for e in db.session.scalars(select(Exit).where(Exit.workspace_id == ws, or_(
            Exit.source_id.in_(chosen), Exit.destination_id.in_(chosen))).order_by(Exit.source_id, Exit.id)):
        if e.source_id in ids and e.destination_id in ids:
            exits.append(e)
        elif area is not None:
            crossing.append(e)
            others.add(e.destination_id if e.source_id in ids else e.source_id)
    outside = {r.id: r for r in db.session.scalars(select(Room).where(
        Room.workspace_id == ws, Room.id.in_(others), Room.sandbox_id.is_(None)))} if others else {}
    crossing = [e for e in crossing if e.source_id in outside or e.destination_id in outside]
    tags: dict[int, list[tuple[str, str]]] = {room_id: [] for room_id in ids}
    for room_id, key, category in db.session.execute(
            select(RoomTag.room_id, RoomTag.key, RoomTag.category).where(RoomTag.room_id.in_(chosen))
            .order_by(RoomTag.id)):
        if room_id in tags:
            tags[room_id].append((key, category))
    return Extract(title=title, rooms=rooms, exits=exits, tags=tags, crossing=crossing, outside=outside)


def _exit_json(e: Exit, handle: Mapping[int, str]) -> dict[str, Any]:
    return {"source": handle[e.source_id], "destination": handle[e.destination_id], "direction": e.key,
            "aliases": list(e.aliases)}


def _batch_rooms(x: Extract) -> list[batchfile.ExportRoom]:
    return [batchfile.ExportRoom(handle=r.handle, name=r.name, description=r.description,
                                 attributes=json.loads(r.attributes_json),
                                 tags=x.tags[r.id], key=r.key) for r in x.rooms]


def _batch_exits(exits: list[Exit], handle: Mapping[int, str]) -> list[batchfile.ExportExit]:
    return [batchfile.ExportExit(source=handle[e.source_id], destination=handle[e.destination_id], key=e.key,
                                 aliases=list(e.aliases)) for e in exits]


def _lint(x: Extract) -> list[evennia_lint.Finding]:
    handle = x.handles
    return evennia_lint.lint(_batch_rooms(x), _batch_exits([*x.exits, *x.crossing], handle),
                             {r.handle: r.name for r in x.outside.values()})


def export_document(actor: Actor, area: int | None = None) -> dict[str, Any]:
    """The live world (or one project's area) as JSON that `import_document` reads back: rooms (`id` is the
    handle), the exits between them, and for an area the `connections` (exits to and from the live rooms it is
    joined to, named by their handles; an import into a draft leaves them out). `evennia_lint` says what Evennia
    would do with the `.ev` export of the same rooms (webapp/worlds/evennia_lint.py)."""
    x = _extract(actor, area)
    handle = x.handles
    return {
        "format": batchfile.FORMAT,
        "title": x.title,
        "rooms": [{"id": r.handle, "key": r.key, "name": r.name, "description": r.description,
                   "attributes": json.loads(r.attributes_json),
                   "tags": [{"key": k, "category": c} for k, c in x.tags[r.id]]}
                  for r in x.rooms],
        "exits": [_exit_json(e, handle) for e in x.exits],
        "connections": [_exit_json(e, handle) for e in x.crossing],
        "evennia_lint": [f.as_json() for f in _lint(x)],
    }


class NotExportable(Conflict):
    code = "not_exportable"


def export_batch(actor: Actor, area: int | None = None) -> str:
    """The same rooms and exits as an Evennia batch-command file (.ev) that Evennia 5 builds exactly (see
    webapp/worlds/batchfile.py); 409 naming each room and field it could not carry exactly."""
    x = _extract(actor, area)
    handle = x.handles
    try:
        return batchfile.render(_batch_rooms(x), _batch_exits([*x.exits, *x.crossing], handle), title=x.title,
                                outside={r.handle: r.name for r in x.outside.values()})
    except batchfile.NotExportable as exc:
        raise NotExportable(f"The .ev export would not build this exactly in Evennia: {exc}",
                            details={"evennia_lint": [f.as_json() for f in exc.findings]}) from None


def project_lint(actor: Actor, project: BuildProject) -> list[evennia_lint.Finding]:
    """What Evennia would do with the project's `.ev` export: of its rooms in the world once it is built (with the
    connection once it is live), of its design before (with the handles a build would give the rooms now)."""
    if project.status in (ProjectStatus.built, ProjectStatus.live):
        return _lint(_extract(actor, project.id))
    handles = dict(zip([r.id for r in project.rooms],
                       allocate_handles(actor.workspace_id, [r.key for r in project.rooms]), strict=True))
    rooms = [batchfile.ExportRoom(handle=handles[r.id], name=r.name, description=r.description,
                                  attributes=json.loads(r.attributes_json), tags=[(k, c) for k, c in r.tags], key=r.key)
             for r in project.rooms]
    exits = [batchfile.ExportExit(source=handles[e.source_id], destination=handles[e.destination_id], key=e.key,
                                  aliases=list(e.aliases)) for e in project.exits]
    return evennia_lint.lint(rooms, exits)


def import_document(actor: Actor, document: ImportDocument | Mapping[str, JsonValue],
                    name: str | None = None) -> BuildProject:
    """A JSON export (or any design document) as a new draft project: rooms, exits, attributes and tags
    (the tags a build adds are left out: building the project adds its own)."""
    actor.require(*DESIGN)
    if not isinstance(document, ImportDocument):
        document = read_import(document)
    return create_project(actor, document.project_name(name), document.description, document,
                          action="build.imported")


def read_transfer(data: bytes | str, fmt: str = "json") -> ImportDocument:
    """An uploaded export as the document to import into the live world: JSON (`fmt="json"`), or an Evennia batch
    file the export wrote (`"ev"`) read back into the same document by `batchfile.to_document`; 400 when it cannot
    be read as that. Either way its `connections` count as exits (`live_document`)."""
    if fmt == "ev":
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
            document = batchfile.to_document(text)
        except UnicodeDecodeError:
            raise BadRequest("The batch file is not UTF-8 text.") from None
        except ValueError as exc:
            raise BadRequest(f"The batch file cannot be read: {exc}") from None
    else:
        try:
            document = inputs.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"The import is not valid JSON: {exc}.") from None
    return live_document(document)


def live_document(document: Any) -> ImportDocument:
    """An export as the live world imports it: its `connections` (an area's exits to and from rooms it does not
    hold, such as its connection room) are exits to those rooms by handle, like the others."""
    if (isinstance(document, dict) and isinstance(document.get("connections"), list)
            and isinstance(document.get("exits", []), list)):
        document = {**document, "exits": [*(document.get("exits") or []), *document["connections"]]}
        del document["connections"]
    return read_import(document)
