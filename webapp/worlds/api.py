"""World builds and the live world over JSON: `/api/v1/builds…` and `/api/v1/world…` (personal tokens)."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, jsonify, request

from webapp import inputs
from webapp.accounts.context import api_actor
from webapp.api import bp, json_body, optional_str
from webapp.errors import BadRequest
from webapp.worlds import services
from webapp.worlds.models import BuildProject, Room


def project_json(project: BuildProject) -> dict[str, Any]:
    entry = project.entry_room
    return {
        "id": project.id, "name": project.name, "description": project.description,
        "status": project.status.value, "allowed_transitions": services.allowed_transitions(project.status),
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
def world_rooms() -> Response:
    """Connection rooms: live rooms whose name, key or handle contains `q`."""
    limit = inputs.whole_number(request.args.get("limit"), "limit", default=20, maximum=200)
    return jsonify([room_json(r) for r in services.live_rooms(api_actor(), request.args.get("q", ""), limit)])


@bp.get("/world/rooms/<int:room_id>")
def world_room(room_id: int) -> Response:
    room = services.get_room(api_actor(), room_id)
    return jsonify(room_json(room) | {
        "description": room.description, "attributes": room.attributes,
        "tags": [{"key": t.key, "category": t.category} for t in room.tags],
        "exits": [{"id": v.exit.id, "direction": v.exit.key, "aliases": v.exit.aliases,
                   "destination": room_json(v.other)} for v in services.exits_of(room)]})


@bp.get("/world/export")
def world_export() -> Response:
    actor = api_actor()
    area = inputs.optional_whole_number(request.args.get("area"), "area")
    return export_response(actor, request.args.get("format", "json"), area)


def export_response(actor: Any, fmt: str, area: int | None) -> Response:
    """The export as a download: `.ev` (Evennia batch commands) or `.json`."""
    name = f"area-{area}" if area else "world"
    if fmt == "ev":
        response = Response(services.export_batch(actor, area), mimetype="text/plain")
        response.charset = "utf-8"
        response.headers["Content-Disposition"] = f'attachment; filename="{name}.ev"'
        return response
    if fmt != "json":
        raise BadRequest("'format' is 'ev' (Evennia batch commands) or 'json'.")
    body = json.dumps(services.export_document(actor, area), ensure_ascii=False, indent=2) + "\n"
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.json"'
    return response


@bp.get("/builds")
def builds() -> Response:
    return jsonify([project_json(p) for p in services.list_projects(api_actor())])


@bp.post("/builds")
def create_build() -> tuple[Response, int]:
    """`{"name", "description"?, "rooms"?: [...], "exits"?: [...], "entry"?}` → 201 the draft project."""
    actor = api_actor()
    actor.require(*services.DESIGN)
    body = json_body()
    project = services.create_project(actor, optional_str(body, "name"), optional_str(body, "description"),
                                      body if ("rooms" in body or "exits" in body) else None)
    return jsonify(project_json(project)), 201


@bp.post("/builds/import")
def import_build() -> tuple[Response, int]:
    """A JSON export (`/world/export`) as a new draft project."""
    actor = api_actor()
    actor.require(*services.DESIGN)
    body = json_body()
    project = services.import_document(actor, body, request.args.get("name") or None)
    return jsonify(project_json(project)), 201


@bp.get("/builds/<int:project_id>")
def build(project_id: int) -> Response:
    return jsonify(project_json(services.get_project(api_actor(), project_id)))


def _transition(project_id: int, action: str) -> Response:
    actor = api_actor()
    actor.require(*services.TRANSITION_ROLES[action])
    if action == "build":
        project = services.build_sandbox(actor, project_id)
    else:
        project = services.transition(actor, project_id, action, optional_str(json_body(), "reason"))
    return jsonify(project_json(project))


for _action in ("submit", "approve", "reject", "build"):
    bp.add_url_rule(f"/builds/<int:project_id>/{_action}", f"builds_{_action}", _transition, methods=["POST"],
                    defaults={"action": _action})


@bp.get("/builds/<int:project_id>/promotion-preview")
def build_promotion_preview(project_id: int) -> Response:
    preview = services.promotion_preview(api_actor(), project_id, request.args.get("connection_room_id"),
                                         request.args.get("connection_direction"))
    return jsonify(preview.as_json())


@bp.post("/builds/<int:project_id>/promote")
def promote_build(project_id: int) -> Response:
    """`{"connection_room_id", "connection_direction", "preview_token"?}` → 200
    `{"promoted_rooms", "created_exits", "entry_room_id"}`."""
    actor = api_actor()
    actor.require(*services.PROMOTE)
    body = json_body()
    result = services.promote(actor, project_id, body.get("connection_room_id"), body.get("connection_direction"),
                              optional_str(body, "preview_token") or None)
    return jsonify(result.as_json())
