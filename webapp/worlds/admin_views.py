"""The world's admin pages in the dashboard: world-build settings (announcing new areas) and the live world
directly — its rooms and exits created, edited and removed, and a world imported. Admins only; the rules live in
`announcements`, `live`, `live_removal` and `live_import`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, flash, redirect, request, url_for

from webapp.accounts.context import current_actor, signed_in_only
from webapp.commands import from_form, from_query, parse
from webapp.errors import BadRequest, Conflict, DomainError, Invalid
from webapp.htmx import redirect_after_post, render
from webapp.worlds import announcements, live, live_import, live_removal, queries, transfer
from webapp.worlds.commands import LiveExit, LiveRoomsQuery
from webapp.worlds.directions import DIRECTIONS
from webapp.worlds.live_api import LiveImportQuery
from webapp.worlds.views import room_fields, room_form

bp = Blueprint("world_admin", __name__)
signed_in_only(bp)


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"DIRECTIONS": DIRECTIONS}


# -- settings (admins) ------------------------------------------------------------------------------


def _settings_page(status: int = 200, **context: Any) -> Response:
    context.setdefault("error", None)
    context.setdefault("errors", {})
    return render("worlds/settings.html", status=status, world=announcements.read_settings(current_actor()),
                  **context)


@bp.get("/world/settings")
def settings() -> Response:
    return _settings_page()


@bp.post("/world/settings")
def save_settings() -> Any:
    actor = current_actor()
    actor.require(*announcements.SETTINGS)
    try:
        announcements.save_settings(actor, from_form(announcements.WorldSettingsCommand))
    except DomainError as exc:  # a channel that is not an Apprise URL (400), announcing without one (422)
        errors = exc.details if isinstance(exc.details, dict) else {"announcement_target": exc.message}
        return _settings_page(exc.status, error=exc, errors=errors)
    flash("World-build settings saved.", "success")
    return redirect(url_for(".settings"), code=303)


# -- the live world, directly (admins) ----------------------------------------------------------


def _live_world(status: int = 200, block: str | None = None, **context: Any) -> Response:
    """The Live world page (with htmx and `block`, only that block of it)."""
    actor = current_actor()
    actor.require(*live.WORLD_ADMIN)
    q = from_query(LiveRoomsQuery).q if request.method == "GET" else ""
    for name in ("room_form", "errors"):
        context.setdefault(name, {})
    context.setdefault("error", None)
    context.setdefault("import_error", None)
    return render("worlds/live.html", block, status=status, listing=live.list_live_rooms(actor, q), q=q, **context)


@bp.get("/world/live")
def live_world() -> Response:
    """Live rooms as a list to search (`q`; htmx swaps the list alone), a new room, an import."""
    return _live_world(block="rooms")


@bp.post("/world/live/rooms")
def create_live_room() -> Any:
    actor = current_actor()
    actor.require(*live.WORLD_ADMIN)
    form = room_form()
    try:
        room = live.add_live_room(actor, room_fields(form))
    except Invalid as exc:
        return _live_world(exc.status, room_form=form, errors=exc.details or {}, error=exc)
    flash(f"Live room {room.name!r} created as {room.handle}: add its exits.", "success")
    return redirect(url_for(".live_room", room_id=room.id), code=303)


@bp.post("/world/live/import")
def import_live_world() -> Any:
    """A JSON export or an Evennia batch file (`format`, else by the file's extension) into the live world."""
    actor = current_actor()
    actor.require(*live.WORLD_ADMIN)
    upload = request.files.get("file")
    # MAX_CONTENT_LENGTH (4 MB) bounds the upload; a pasted document works as well as a file.
    named = upload.filename if upload and upload.filename else ""
    data = upload.read() if upload and named else request.form.get("document", "").encode()
    fmt = request.form.get("format") or ("ev" if named.lower().endswith(".ev") else "json")
    try:
        fmt = parse(LiveImportQuery, {"format": fmt}).format
        result = live_import.import_live(actor, transfer.read_transfer(data, fmt), fmt=fmt)
    except (BadRequest, Invalid, Conflict) as exc:
        return _live_world(exc.status, import_error=exc)
    flash(f"Imported {len(result.rooms)} rooms and {len(result.exits)} exits into the live world.", "success")
    return redirect(url_for(".live_world"), code=303)


def _live_room(room_id: int, status: int = 200, **context: Any) -> Response:
    """A live room's page: its form, its exits both ways, the form for a new exit (with htmx and `to`, only the
    destinations matching `to`)."""
    actor = current_actor()
    actor.require(*live.WORLD_ADMIN)
    room = live.live_room(actor, room_id)
    searching = request.method == "GET" and "to" in request.args
    to = request.args.get("to", "") if searching else ""
    values = live.room_values(room)
    context.setdefault("form", values | {"tags": ", ".join(f"{k}:{c}" if c else k
                                                          for k, c in values["tags"])})  # type: ignore[attr-defined]
    for name in ("errors", "exit_form"):
        context.setdefault(name, {})
    context.setdefault("error", None)
    context.setdefault("exit_error", None)
    destinations = [r for r in queries.live_rooms(actor, to, 21) if r.id != room.id][:20]
    return render("worlds/live_room.html", "destinations" if searching else None, status=status, room=room,
                  exits=queries.exits_of(room), arriving=live_removal.exits_into(room), destinations=destinations,
                  to=to, **context)


@bp.get("/world/live/rooms/<int:room_id>")
def live_room(room_id: int) -> Response:
    return _live_room(room_id)


@bp.post("/world/live/rooms/<int:room_id>")
def update_live_room(room_id: int) -> Any:
    actor = current_actor()
    actor.require(*live.WORLD_ADMIN)
    form = room_form()
    try:
        room = live.update_live_room(actor, room_id, room_fields(form))
    except Invalid as exc:
        return _live_room(room_id, exc.status, form=form, errors=exc.details or {}, error=exc)
    flash(f"Live room {room.name!r} saved.", "success")
    return redirect(url_for(".live_room", room_id=room.id), code=303)


@bp.post("/world/live/rooms/<int:room_id>/exits")
def add_live_exit(room_id: int) -> Any:
    actor = current_actor()
    actor.require(*live.WORLD_ADMIN)
    room = live.live_room(actor, room_id)  # this page's room: a 404, not a form error, when it is not there
    form = {k: request.form.get(k, "") for k in ("destination_id", "direction", "aliases")}
    both_ways = bool(request.form.get("both_ways"))
    try:
        # an empty id is a missing one; the aliases are the form's comma-separated text
        command = parse(LiveExit, {"source_id": room.id, "both_ways": both_ways,
                                   **{k: v for k, v in form.items() if v != "" or k == "direction"}})
        live.add_live_exit(actor, command)
    except DomainError as exc:
        return _live_room(room_id, exc.status, exit_form=form | {"both_ways": both_ways}, exit_error=exc)
    flash("Exit added" + (", and the way back." if both_ways else "."), "success")
    return redirect(url_for(".live_room", room_id=room_id) + "#exits", code=303)


def _removal_dialog(status: int = 200, **context: Any) -> Response:
    context.setdefault("message", None)
    context.setdefault("room_removal", None)
    context.setdefault("exit_removal", None)
    return render("worlds/live_remove.html", "dialog", status=status, **context)


@bp.get("/world/live/rooms/<int:room_id>/delete")
def live_room_removal(room_id: int) -> Response:
    """The dialog: the room, the exits that go with it, or why it cannot go."""
    return _removal_dialog(room_removal=live_removal.room_removal(current_actor(), room_id))


def _remove(item_id: int, remove: Callable[[Any, int], Any], explain: Callable[[Any, int], Any], dialog: str,
            done: Callable[[Any], Any]) -> Any:
    """`remove` it and go where `done` says, or show the removal dialog again with why it cannot go (409)."""
    actor = current_actor()
    try:
        removed = remove(actor, item_id)
    except Conflict as exc:
        return _removal_dialog(exc.status, message=exc.message, **{dialog: explain(actor, item_id)})
    return done(removed)


def _room_removed(removed: Any) -> Any:
    flash(f"Live room {removed.name!r} removed, with {len(removed.exit_ids)} exits.", "success")
    return redirect_after_post(url_for(".live_world"))


def _exit_removed(removed: Any) -> Any:
    flash(f"Exit {removed.name} removed.", "success")
    return redirect_after_post(url_for(".live_room", room_id=removed.source_id) + "#exits")


@bp.post("/world/live/rooms/<int:room_id>/delete")
def remove_live_room(room_id: int) -> Any:
    return _remove(room_id, live_removal.remove_live_room, live_removal.room_removal, "room_removal", _room_removed)


@bp.get("/world/live/exits/<int:exit_id>/delete")
def live_exit_removal(exit_id: int) -> Response:
    """The dialog: the exit between two live rooms, or why it cannot go."""
    return _removal_dialog(exit_removal=live_removal.exit_removal(current_actor(), exit_id))


@bp.post("/world/live/exits/<int:exit_id>/delete")
def remove_live_exit(exit_id: int) -> Any:
    return _remove(exit_id, live_removal.remove_live_exit, live_removal.exit_removal, "exit_removal", _exit_removed)
