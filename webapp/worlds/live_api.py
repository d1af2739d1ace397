"""The live world directly over JSON (admins): rooms and exits created, changed and removed, and a world
imported — `/api/v1/world/rooms…`, `/api/v1/world/exits…`, `/api/v1/world/import`. The rules live in `live`,
`live_removal` and `live_import`."""

from __future__ import annotations

from typing import Annotated

from flask import Response, jsonify, request
from pydantic import BaseModel, BeforeValidator, Field

from webapp.accounts.context import api_actor
from webapp.accounts.services import Actor
from webapp.apiblueprint import bp, json_body
from webapp.commands import Command, from_json, from_query
from webapp.errors import BadRequest
from webapp.openapi import documented
from webapp.worlds import live, live_import, live_removal, transfer
from webapp.worlds.api import exit_json, room_detail_json, room_json
from webapp.worlds.commands import ImportDocument, LiveExit, RoomChanges, RoomDesign
from webapp.worlds.schemas import CreatedExitOut, RoomDetailOut, RoomOut


class CreatedExitsOut(BaseModel):
    exits: list[CreatedExitOut] = Field(description="the exit, and with `both_ways` the way back")


class RemovedRoomOut(BaseModel):
    removed_room_id: int
    removed_exit_ids: list[int] = Field(description="the exits that left or entered the room")


class RemovedExitOut(BaseModel):
    removed_exit_id: int


class ImportedOut(BaseModel):
    title: str
    rooms: list[RoomOut]
    exits: list[CreatedExitOut]


def _export_format(value: object) -> object:
    if value not in ("ev", "json"):
        raise BadRequest("'format' is 'ev' (Evennia batch commands) or 'json'.")
    return value


class LiveImportQuery(Command):
    """What the body of `POST /world/import` is: a JSON export (`json`), or an Evennia batch file (`ev`)."""

    format: Annotated[str, BeforeValidator(_export_format), Field(json_schema_extra={"enum": ["json", "ev"]})] = "json"


# -- the live world, directly (admins) ------------------------------------------------------------


def _world_admin() -> Actor:
    """The token's actor, once its role may change the live world (403 before any body is read)."""
    actor = api_actor()
    actor.require(*live.WORLD_ADMIN)
    return actor


@bp.post("/world/rooms")
@documented("Create a live room (admins)", body=RoomDesign, body_required=True, responses={
    201: RoomDetailOut, 422: "a field breaks a rule (`details` maps each wrong field to its problem)"})
def create_world_room() -> tuple[Response, int]:
    """A room straight into the live world, its handle allocated from its key (`limbo` → `limbo#01`)."""
    actor = _world_admin()
    room = live.add_live_room(actor, from_json(RoomDesign))
    return jsonify(room_detail_json(room)), 201


@bp.post("/world/rooms/<int:room_id>")
@documented("Change a live room (admins)", body=RoomChanges, body_required=True, responses={
    200: RoomDetailOut, 404: "no live room with this id (a sandbox room belongs to its build)",
    422: "a field breaks a rule (`details` maps each wrong field to its problem)"})
def update_world_room(room_id: int) -> Response:
    """Any of `key`, `name`, `description`, `attributes`, `tags`; the others, the handle and the tags a build
    added stay as they are."""
    actor = _world_admin()
    room = live.update_live_room(actor, room_id, from_json(RoomChanges))
    return jsonify(room_detail_json(room))


@bp.post("/world/rooms/<int:room_id>/delete")
@documented("Remove a live room and its exits both ways (admins)", responses={
    200: RemovedRoomOut, 404: "no live room with this id",
    409: "a live area is connected to it or it is one of a live area's rooms (`room_in_use`, `details.refusals`)"})
def delete_world_room(room_id: int) -> Response:
    removed = live_removal.remove_live_room(_world_admin(), room_id)
    return jsonify({"removed_room_id": removed.id, "removed_exit_ids": removed.exit_ids})


@bp.post("/world/exits")
@documented("Add an exit between two live rooms (admins)", body=LiveExit, body_required=True, responses={
    201: CreatedExitsOut, 404: "no live room `source_id` or `destination_id`",
    409: "a room already has an exit by one of the names (`exit_conflict`, `details.conflicts` lists each)",
    422: "the exit leads back into its own room"})
def create_world_exit() -> tuple[Response, int]:
    """`{"source_id", "destination_id", "direction", "aliases"?, "both_ways"?}`: the exit in `direction`, named by it
    and its short form plus `aliases`; with `both_ways` also the way back in the opposite direction."""
    actor = _world_admin()
    rows = live.add_live_exit(actor, from_json(LiveExit))
    return jsonify({"exits": [exit_json(e) for e in rows]}), 201


@bp.post("/world/exits/<int:exit_id>/delete")
@documented("Remove an exit between live rooms (admins)", responses={
    200: RemovedExitOut, 404: "no exit between live rooms with this id",
    409: "it connects a live area to the world (`exit_in_use`, `details.refusals`)"})
def delete_world_exit(exit_id: int) -> Response:
    """One exit; the way back, if there is one, stays."""
    removed = live_removal.remove_live_exit(_world_admin(), exit_id)
    return jsonify({"removed_exit_id": removed.id})


@bp.post("/world/import")
@documented("Import a world into the live world (admins)", body=ImportDocument, body_required=True,
            query=LiveImportQuery, responses={
                201: ImportedOut,
                409: "the file clashes with the live world (`import_conflict`; `details.conflicts` lists every clash: "
                     "a handle taken, an exit to a room that is neither in the file nor live, an exit name taken)",
                422: "the file contradicts itself or a room breaks a rule (`details.problems`, or the room's fields)"})
def import_world() -> tuple[Response, int]:
    """The body is a JSON export (`GET /world/export`), or with `?format=ev` the Evennia batch file the export
    writes; its rooms and exits become live rooms in one transaction, or nothing does."""
    actor = _world_admin()
    fmt = from_query(LiveImportQuery).format
    document = transfer.read_transfer(request.get_data(), "ev") if fmt == "ev" else transfer.live_document(json_body())
    result = live_import.import_live(actor, document, fmt=fmt)
    return jsonify({"title": result.title, "rooms": [room_json(r) for r in result.rooms],
                    "exits": [exit_json(e) for e in result.exits]}), 201
