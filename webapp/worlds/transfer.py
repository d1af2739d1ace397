"""Export and import: the live world (or one project's area) as JSON that imports back into a draft project,
or as an Evennia batch-command file (.ev)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue
from sqlalchemy import select

from webapp.accounts.services import Actor
from webapp.extensions import db
from webapp.worlds import batchfile
from webapp.worlds.commands import ImportDocument, read_import
from webapp.worlds.design import create_project
from webapp.worlds.lifecycle import DESIGN
from webapp.worlds.models import BuildProject, Exit, Room, RoomTag
from webapp.worlds.queries import area_room_ids, get_project


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


def import_document(actor: Actor, document: ImportDocument | Mapping[str, JsonValue],
                    name: str | None = None) -> BuildProject:
    """A JSON export (or any design document) as a new draft project: rooms, exits, attributes and tags
    (the tags a build adds are left out: building the project adds its own)."""
    actor.require(*DESIGN)
    if not isinstance(document, ImportDocument):
        document = read_import(document)
    return create_project(actor, document.project_name(name), document.description, document,
                          action="build.imported")
