"""Building a project's sandbox (approved → built): its designed rooms dug under a new sandbox container,
tagged `sandbox`, `web_builder` and `project_{id}`, with their exits, for the builder to walk before promotion;
and walking it (`walk_room`: the project's owner, promoters and admins)."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from webapp.accounts.models import Role
from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.errors import Conflict, NotFound
from webapp.extensions import db, utcnow
from webapp.worlds.lifecycle import BUILD, may_walk, require_transition
from webapp.worlds.live import allocate_handles, insert_exits
from webapp.worlds.models import (
    BUILD_CATEGORY,
    SANDBOX_TAG,
    WEB_BUILDER_TAG,
    BuildProject,
    Room,
    RoomTag,
    Sandbox,
    project_tag,
)
from webapp.worlds.queries import get_project, get_room, project_of_sandbox


def walk_room(actor: Actor, room_id: int) -> tuple[Room, BuildProject | None]:
    """A room to look at and walk on from (the room page, `GET /api/v1/world/rooms/<id>`), with the project whose
    sandbox holds it. A live room is for every member; a sandbox room only for its project's owner, promoters and
    admins — anyone else is told it is not there (404), as for another workspace's room."""
    room = get_room(actor, room_id)
    project = project_of_sandbox(actor, room)
    if room.in_sandbox and not (actor.can(Role.promoter) or (project is not None and may_walk(actor, project))):
        raise NotFound(f"No room {room_id} in this workspace.")
    return room, project


def build_sandbox(actor: Actor, project_id: int) -> BuildProject:
    """approved → built: dig the designed rooms under a new sandbox container, tagged sandbox,
    web_builder and project_{id}, with their exits; the builder can walk them before promotion."""
    actor.require(*BUILD)
    project = get_project(actor, project_id, for_update=True)
    target = require_transition(project, "build")
    sandbox = Sandbox(workspace_id=actor.workspace_id, key=f"sandbox: {project.name}"[:200])
    db.session.add(sandbox)
    db.session.flush()
    system_tags = [(SANDBOX_TAG, BUILD_CATEGORY), (WEB_BUILDER_TAG, BUILD_CATEGORY),
                   (project_tag(project.id), BUILD_CATEGORY)]
    designs = project.rooms
    handles = allocate_handles(actor.workspace_id, [r.key for r in designs])
    now = utcnow()
    # Bulk statements, not an object per row: a 1,000-room area is three inserts (rooms with their ids back in
    # order, their tags, the exits) and one executemany of the designs' room ids.
    room_ids = list(db.session.scalars(insert(Room).returning(Room.id, sort_by_parameter_order=True), [
        {"workspace_id": actor.workspace_id, "handle": handle, "key": d.key, "name": d.name,
         "description": d.description, "attributes_json": d.attributes_json, "sandbox_id": sandbox.id,
         "created_at": now} for d, handle in zip(designs, handles, strict=True)]))
    tags = [{"room_id": room_id, "key": k, "category": c}
            for d, room_id in zip(designs, room_ids, strict=True) for k, c in [*d.tags, *system_tags]]
    if tags:
        db.session.execute(insert(RoomTag), tags)
    for design, room_id in zip(designs, room_ids, strict=True):
        design.room_id = room_id
    world_id = {design.id: room_id for design, room_id in zip(designs, room_ids, strict=True)}
    insert_exits(actor.workspace_id, [(world_id[e.source_id], world_id[e.destination_id], e.key, list(e.aliases))
                                       for e in project.exits])
    project.status, project.sandbox_id, project.built_at = target, sandbox.id, utcnow()
    audit.record(actor, "build.built", "build_project", project.id,
                 {"sandbox_id": sandbox.id, "rooms": len(room_ids), "exits": len(project.exits)})
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("Another build took the same room handles at the same moment; build again.") from None
    return project
