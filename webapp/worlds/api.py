"""World builds and the live world over JSON: `/api/v1/builds…` and `/api/v1/world…` (personal tokens)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from flask import Response, jsonify, request
from pydantic import BeforeValidator, Field

from webapp.accounts.context import api_actor
from webapp.accounts.services import Actor
from webapp.apiblueprint import bp, json_body
from webapp.commands import Command, Text, from_json, from_query, parse, whole
from webapp.errors import BadRequest
from webapp.openapi import Reply, documented
from webapp.worlds import (
    design,
    lifecycle,
    mudlet,
    promotion,
    queries,
    sandbox,
    transfer,
    unpromotion,
)
from webapp.worlds.commands import (
    ImportDocument,
    NewProject,
    PromoteBuild,
    PromotionTarget,
    ReviewStep,
    read_import,
)
from webapp.worlds.models import BuildProject, Exit, Room
from webapp.worlds.schemas import (
    ConnectionRoomOut,
    PreviewOut,
    ProjectOut,
    PromotedOut,
    RoomDetailOut,
    UnpromotedOut,
    UnpromotionPreviewOut,
)

# -- the queries ---------------------------------------------------------------------------------


class RoomSearch(Command):
    """The connection-room picker: live rooms whose name, key or handle contains `q`."""

    q: Text = ""
    limit: whole(1, 200) = 20  # type: ignore[valid-type]



def _download_format(value: object) -> object:
    if value not in ("ev", "json", "mudlet"):
        raise BadRequest("'format' is 'ev' (Evennia batch commands), 'json' or 'mudlet' (a Mudlet XML map).")
    return value


class ExportQuery(Command):
    """What to export (the live world, or one project's `area`) and how (`json`, `ev` batch commands, or `mudlet`:
    the XML map Mudlet's `loadMap` reads)."""

    format: Annotated[str, BeforeValidator(_download_format),
                      Field(json_schema_extra={"enum": ["json", "ev", "mudlet"]})] = "json"
    area: whole() | None = None  # type: ignore[valid-type]


class ImportQuery(Command):
    name: Text | None = Field(None, description="the draft's name (else the document's, else `Imported <title>`)")



# -- the routes ----------------------------------------------------------------------------------


def project_json(project: BuildProject) -> dict[str, Any]:
    entry = project.entry_room
    return {
        "id": project.id, "name": project.name, "description": project.description,
        "status": project.status.value, "allowed_transitions": lifecycle.allowed_transitions(project.status),
        "owner": project.owner.email if project.owner else None, "rejection_reason": project.rejection_reason,
        "entry_room_id": entry.id if entry else None, "sandbox_id": project.sandbox_id,
        "built_at": project.built_at.isoformat() if project.built_at else None,
        "promoted_at": project.promoted_at.isoformat() if project.promoted_at else None,
        "connection_room_id": project.connection_room_id, "connection_direction": project.connection_direction,
        "created_at": project.created_at.isoformat(),
        "rooms": [{"id": r.id, "key": r.key, "name": r.name, "description": r.description,
                   "attributes": r.attributes, "tags": [{"key": k, "category": c} for k, c in r.tags],
                   "world_room_id": r.room_id} for r in project.rooms],
        "exits": [{"id": e.id, "source": e.source_id, "destination": e.destination_id, "direction": e.key,
                   "aliases": e.aliases} for e in project.exits],
    }


def room_json(room: Room) -> dict[str, Any]:
    return {"id": room.id, "handle": room.handle, "key": room.key, "name": room.name,
            "live": not room.in_sandbox}


@bp.get("/world/rooms")
@documented("Live rooms to connect an area to", query=RoomSearch, responses={200: list[ConnectionRoomOut]})
def world_rooms() -> Response:
    """Connection rooms: live rooms whose name, key or handle contains `q`, each `{id, name, key, description}`
    (and its `handle`, `live`)."""
    query = from_query(RoomSearch)
    return jsonify([room_json(r) | {"description": r.description}
                    for r in queries.live_rooms(api_actor(), query.q, query.limit)])


@bp.get("/world/rooms/<int:room_id>")
@documented("A room with its attributes, tags and exits", responses={200: RoomDetailOut})
def world_room(room_id: int) -> Response:
    return jsonify(room_detail_json(sandbox.walk_room(api_actor(), room_id)[0]))  # a sandbox: owner, promoters


def room_detail_json(room: Room) -> dict[str, Any]:
    return room_json(room) | {
        "description": room.description, "attributes": room.attributes,
        "tags": [{"key": t.key, "category": t.category} for t in room.tags],
        "exits": [{"id": v.exit.id, "direction": v.exit.key, "aliases": v.exit.aliases,
                   "destination": room_json(v.other)} for v in queries.exits_of(room)]}


def exit_json(row: Exit) -> dict[str, Any]:
    return {"id": row.id, "source_room_id": row.source_id, "destination_room_id": row.destination_id,
            "direction": row.key, "aliases": list(row.aliases)}


@bp.get("/world/export")
@documented("The live world or one area as a download", query=ExportQuery, responses={200: Reply(
    "The export: JSON that `POST /builds/import` reads back, an Evennia batch-command file (`format=ev`), or a "
    "Mudlet XML map (`format=mudlet`: areas, rooms with coordinates, exits; Mudlet loads it with `loadMap`). The "
    "JSON holds `connections` (an area's exits to and from the live rooms it is joined to) and `evennia_lint` "
    "(what Evennia would do with the `.ev` of the same rooms: `{level, room, field, message}`).",
    content={"application/json": {"type": "object", "required": ["format", "title", "rooms", "exits"],
                                  "properties": {"connections": {"type": "array"},
                                                 "evennia_lint": {"type": "array", "items": {"type": "object"}}}},
             "text/plain": {"type": "string"}, "application/xml": {"type": "string"}},
    headers={"Content-Disposition": "attachment; filename=\"world.json\" (or area-<id>, .ev, .xml)"}),
    404: "no build project `area` in this workspace",
    409: "`format=ev` and a room holds what Evennia cannot be given exactly (`not_exportable`; `details.evennia_lint`)"})
def world_export() -> Response:
    actor = api_actor()
    query = from_query(ExportQuery)
    return export_response(actor, query.format, query.area)


def export_response(actor: Actor, fmt: str, area: int | None) -> Response:
    """The export as a download: `.ev` (Evennia batch commands), `.json` or a Mudlet map (`.xml`)."""
    name = f"area-{area}" if area else "world"
    if fmt == "mudlet":
        response = Response(mudlet.export_map(actor, area), mimetype="application/xml")
        response.charset = "utf-8"
        response.headers["Content-Disposition"] = f'attachment; filename="{name}.xml"'
        return response
    if fmt == "ev":
        response = Response(transfer.export_batch(actor, area), mimetype="text/plain")
        response.charset = "utf-8"
        response.headers["Content-Disposition"] = f'attachment; filename="{name}.ev"'
        return response
    parse(ExportQuery, {"format": fmt})  # the same 400 as the API's for anything else
    body = json.dumps(transfer.export_document(actor, area), ensure_ascii=False, indent=2) + "\n"
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.json"'
    return response


@bp.get("/builds")
@documented("The workspace's build projects, newest first", responses={200: list[ProjectOut]})
def builds() -> Response:
    return jsonify([project_json(p) for p in queries.list_projects(api_actor())])


@bp.post("/builds")
@documented("Create a draft build project", body=NewProject, body_required=True, responses={
    201: ProjectOut,
    422: "a rule is broken: the name, a room's fields (`details.rooms.<index>.<field>`), ids the exits name, two "
         "exits of one room with one name or alias (`details.exits.<index>.direction` or `.aliases`)"})
def create_build() -> tuple[Response, int]:
    """`{"name", "description"?, "rooms"?: [...], "exits"?: [...], "entry"?}` → 201 the draft project."""
    actor = api_actor()
    actor.require(*lifecycle.DESIGN)
    command = from_json(NewProject)
    project = design.create_project(actor, command.name, command.description,
                                    command if command.has_design else None)
    return jsonify(project_json(project)), 201


@bp.post("/builds/import")
@documented("Import a JSON export as a new draft project", body=ImportDocument, body_required=True,
            query=ImportQuery, responses={201: ProjectOut,
                                          422: "a room or exit of the document breaks a rule (two exits of one "
                                               "room with one name or alias: `details.exits.<index>.<field>`)"})
def import_build() -> tuple[Response, int]:
    """A JSON export (`/world/export`) as a new draft project."""
    actor = api_actor()
    actor.require(*lifecycle.DESIGN)
    document = read_import(json_body())
    project = transfer.import_document(actor, document, from_query(ImportQuery).name or None)
    return jsonify(project_json(project)), 201


@bp.get("/builds/<int:project_id>")
@documented("A build project with its designed rooms and exits", responses={200: ProjectOut})
def build(project_id: int) -> Response:
    return jsonify(project_json(queries.get_project(api_actor(), project_id)))


def _transition(project_id: int, action: str) -> Response:
    actor = api_actor()
    actor.require(*lifecycle.TRANSITION_ROLES[action])
    if action == "build":
        project = sandbox.build_sandbox(actor, project_id)
    else:
        project = lifecycle.transition(actor, project_id, action, from_json(ReviewStep).reason)
    return jsonify(project_json(project))


_STEPS = {"submit": "Submit a draft for review (it needs a room)", "approve": "Approve a submitted project",
          "reject": "Reject a submitted project back to draft, saying why (`reason`)",
          "build": "Build an approved project's sandbox"}


def _step(action: str) -> Any:
    """The route of one step, documented on its own (the build step reads no body)."""

    def view(project_id: int, action: str = action) -> Response:
        return _transition(project_id, action)

    view.__name__ = view.__qualname__ = f"builds_{action}"
    errors = {409: "not allowed from the project's status (`invalid_transition`; `details.allowed` lists what is)"}
    if action in ("submit", "reject"):
        errors[422] = ("a submitted project needs a room" if action == "submit"
                       else "a rejection needs a reason of 1 to 2,000 characters")
    return documented(_STEPS[action], body=None if action == "build" else ReviewStep, body_required=False,
                      responses={200: ProjectOut, **errors})(view)


for _action in _STEPS:
    bp.add_url_rule(f"/builds/<int:project_id>/{_action}", f"builds_{_action}", _step(_action), methods=["POST"],
                    defaults={"action": _action})


@bp.get("/builds/<int:project_id>/promotion-preview")
@documented("What promoting a built area would do, and the token to confirm it with", query=PromotionTarget,
            responses={200: PreviewOut, 409: "the project is not built (`invalid_transition`) or has no sandbox"})
def build_promotion_preview(project_id: int) -> Response:
    actor = api_actor()
    promotion.promotable(actor, project_id)
    target = parse(PromotionTarget, {"connection_room_id": request.args.get("connection_room_id"),
                                     "connection_direction": request.args.get("connection_direction")})
    preview = promotion.promotion_preview(actor, project_id, target.connection_room_id,
                                          target.connection_direction)
    return jsonify(preview.as_json())


@bp.post("/builds/<int:project_id>/promote")
@documented("Promote a built area into the live world", body=PromoteBuild, body_required=True, responses={
    200: PromotedOut, 409: "an exit is taken (`exit_conflict`, `details.conflicts`), the world changed since the "
                           "preview (`world_changed`, `details` is the fresh preview), the project is not built, "
                           "or the approval policy requires approval (`approval_required`, `details` = the "
                           "policy: request the promotion instead)",
    403: "the role is too low, or an `override_reason` from someone not an admin",
    422: "an `override_reason` that is empty",
    503: "the database failed; the message says whether anything was saved"})
def promote_build(project_id: int) -> Response:
    """`{"connection_room_id", "connection_direction", "preview_token"?, "override_reason"?}` → 200
    `{"status": "live", "message", "promoted_rooms", "created_exits", "entry_room_id", "announcement"}`."""
    actor = api_actor()
    promotion.promotable(actor, project_id)
    command = from_json(PromoteBuild)
    result = promotion.promote(actor, project_id, command.connection_room_id, command.connection_direction,
                               command.preview_token or None, override_reason=command.override_reason)
    return jsonify(result.as_json())


@bp.get("/builds/<int:project_id>/unpromotion-preview")
@documented("What returning a live area to the sandbox would do, and the token to confirm it with",
            responses={200: UnpromotionPreviewOut, 409: "the project is not live (`invalid_transition`)"})
def build_unpromotion_preview(project_id: int) -> Response:
    """The rooms that go back, the connection exits removed, and any other exits joining the area to the world
    (`foreign_exits`: they stop the return unless an admin forces it)."""
    return jsonify(unpromotion.unpromotion_preview(api_actor(), project_id).as_json())


@bp.post("/builds/<int:project_id>/unpromote")
@documented("Return a live area to the sandbox", body=unpromotion.UnpromoteBuild, body_required=False, responses={
    200: UnpromotedOut, 403: "the role is too low (promoter; `force` needs admin)",
    409: "other exits join the area to the world (`foreign_exits`, `details.foreign_exits`), the world changed "
         "since the preview (`world_changed`, `details` is the fresh preview) or the project is not live",
    422: "`force` without a `reason` (1 to 2,000 characters)",
    503: "the database failed; the message says whether anything was saved"})
def unpromote_build(project_id: int) -> Response:
    """`{"preview_token"?, "force"?, "reason"?}` → 200 `{"status": "built", "message", "returned_rooms",
    "sandbox_id", "removed_exits", "forced"}`: one transaction, the rooms keep their ids."""
    actor = api_actor()
    unpromotion.returnable(actor, project_id)
    command = from_json(unpromotion.UnpromoteBuild)
    result = unpromotion.unpromote(actor, project_id, command.preview_token or None, force=command.force,
                                   reason=command.reason)
    return jsonify(result.as_json())
