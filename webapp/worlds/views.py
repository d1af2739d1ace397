"""World builds in the dashboard: projects and their design, review, sandbox walk, the promote dialog,
the map and exports. Views parse input, call one service and render; the rules live in the service
modules beside this one (design, lifecycle, sandbox, promotion, transfer)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, flash, redirect, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from webapp import inputs
from webapp.accounts.context import current_actor, signed_in_only
from webapp.accounts.models import Role
from webapp.commands import from_form, parse
from webapp.errors import BadRequest, Conflict, DomainError, Invalid
from webapp.governance import forms as governance_forms
from webapp.governance import services as governance
from webapp.htmx import redirect_after_post, render, render_page
from webapp.worlds import (
    announcements,
    design,
    evennia_lint,
    lifecycle,
    promotion,
    queries,
    sandbox,
    transfer,
    unpromotion,
    worldmap,
)
from webapp.worlds.api import export_response
from webapp.worlds.commands import (
    ExitDesign,
    NewProject,
    PromoteBuild,
    PromotionTarget,
    ReviewStep,
    RoomDesign,
    parse_tag_text,
    read_import,
    room_design,
)
from webapp.worlds.directions import DIRECTIONS, where
from webapp.worlds.models import BuildProject

bp = Blueprint("worlds", __name__)
ROOM_FIELDS = ("key", "name", "description", "attributes", "tags")


signed_in_only(bp)


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"DIRECTIONS": DIRECTIONS, "allowed_transitions": lifecycle.allowed_transitions, "Role": Role,
            "may_walk": lifecycle.may_walk, "latest_announcement": announcements.latest, "where": where}


def _back_to_build(project_id: int, message: str, anchor: str = "") -> WerkzeugResponse:
    """After a change made on the build's page: say so and go back to it (to the section at `#anchor`)."""
    flash(message, "success")
    return redirect(url_for(".detail", project_id=project_id) + (f"#{anchor}" if anchor else ""), code=303)


# -- projects -----------------------------------------------------------------------------------


@bp.get("/builds")
def index() -> Response:
    return render("worlds/index.html", projects=queries.list_projects(current_actor()), form={}, error=None)


@bp.post("/builds")
def create() -> Any:
    actor = current_actor()
    form = {k: request.form.get(k, "") for k in ("name", "description")}
    try:
        command = from_form(NewProject)
        project = design.create_project(actor, command.name, command.description)
    except Invalid as exc:
        return render("worlds/index.html", status=exc.status, projects=queries.list_projects(actor), form=form,
                      error=exc)
    return _back_to_build(project.id, f"Build project {project.name!r} created: add its rooms.")


@bp.post("/builds/import")
def import_project() -> Any:
    actor = current_actor()
    actor.require(*lifecycle.DESIGN)
    upload = request.files.get("file")
    # MAX_CONTENT_LENGTH (4 MB) bounds the upload; a pasted document works as well as a file.
    text = upload.read() if upload and upload.filename else request.form.get("document", "").encode()
    try:
        document = inputs.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The import is not valid JSON: {exc}.") from None
    project = transfer.import_document(actor, read_import(document), request.form.get("name") or None)
    return _back_to_build(project.id, f"Imported {len(project.rooms)} rooms into the draft {project.name!r}.")


def _detail(project: BuildProject, status: int = 200, **context: Any) -> Response:
    context.setdefault("promotion_requests", governance.history(project.workspace_id, build_project_id=project.id))
    context.setdefault("room_form", {})
    context.setdefault("exit_form", {})
    context.setdefault("errors", {})
    context.setdefault("error", None)
    context.setdefault("evennia_lint", transfer.project_lint(current_actor(), project))
    context.setdefault("evennia_version", evennia_lint.EVENNIA_VERSION)
    return render("worlds/detail.html", status=status, project=project, **context)


@bp.get("/builds/<int:project_id>")
def detail(project_id: int) -> Response:
    return _detail(queries.get_project(current_actor(), project_id))


def room_form() -> dict[str, str]:
    """A room's fields as the form sent them (text)."""
    return {k: request.form.get(k, "") for k in ROOM_FIELDS}


def room_fields(form: dict[str, str]) -> RoomDesign:
    """The form's room as a checked `RoomDesign` (422 beside each wrong field)."""
    return room_design(form | {"attributes": form["attributes"] or "{}", "tags": parse_tag_text(form["tags"])})


@bp.post("/builds/<int:project_id>/rooms")
def add_room(project_id: int) -> Any:
    actor = current_actor()
    actor.require(*lifecycle.DESIGN)
    form = room_form()
    try:
        room = design.add_room(actor, project_id, room_fields(form))
    except Invalid as exc:
        return _detail(queries.get_project(actor, project_id), exc.status, room_form=form,
                       errors=exc.details or {}, error=exc)
    return _back_to_build(project_id, f"Room {room.name!r} added.", "rooms")


@bp.get("/builds/<int:project_id>/rooms/<int:room_id>/edit")
def edit_room(project_id: int, room_id: int) -> Response:
    actor = current_actor()
    actor.require(*lifecycle.DESIGN)  # the form is for those who may save it
    project = queries.get_project(actor, project_id)
    room = design.design_room(project, room_id)
    form = {"key": room.key, "name": room.name, "description": room.description,
            "attributes": room.attributes_json, "tags": ", ".join(f"{k}:{c}" if c else k for k, c in room.tags)}
    return render("worlds/room_form.html", project=project, room=room, form=form, errors={}, error=None)


@bp.post("/builds/<int:project_id>/rooms/<int:room_id>")
def update_room(project_id: int, room_id: int) -> Any:
    actor = current_actor()
    actor.require(*lifecycle.DESIGN)
    form = room_form()
    try:
        room = design.update_room(actor, project_id, room_id, room_fields(form))
    except Invalid as exc:
        project = queries.get_project(actor, project_id)
        return render("worlds/room_form.html", status=exc.status, project=project,
                      room=design.design_room(project, room_id), form=form, errors=exc.details or {}, error=exc)
    return _back_to_build(project_id, f"Room {room.name!r} saved.", "rooms")


@bp.post("/builds/<int:project_id>/rooms/<int:room_id>/delete")
def remove_room(project_id: int, room_id: int) -> Any:
    design.remove_room(current_actor(), project_id, room_id)
    return _back_to_build(project_id, "Room removed, with its exits.", "rooms")


@bp.post("/builds/<int:project_id>/rooms/<int:room_id>/entry")
def set_entry(project_id: int, room_id: int) -> Any:
    room = design.set_entry(current_actor(), project_id, room_id)
    return _back_to_build(project_id, f"{room.name!r} is the entry room.", "rooms")


@bp.post("/builds/<int:project_id>/exits")
def add_exit(project_id: int) -> Any:
    actor = current_actor()
    actor.require(*lifecycle.DESIGN)
    form = {k: request.form.get(k, "") for k in ("source_id", "destination_id", "direction", "aliases")}
    try:
        # an empty id is a missing one; the aliases are the form's comma-separated text
        command = parse(ExitDesign, {k: v for k, v in form.items() if v != "" or k == "direction"})
        design.add_exit(actor, project_id, command.source_id, command.destination_id, command.direction,
                        command.aliases)
    except DomainError as exc:
        return _detail(queries.get_project(actor, project_id), exc.status, exit_form=form, error=exc,
                       exit_errors=exc.details if isinstance(exc, Invalid) and isinstance(exc.details, dict) else {})
    return _back_to_build(project_id, "Exit added.", "exits")


@bp.post("/builds/<int:project_id>/exits/<int:exit_id>/delete")
def remove_exit(project_id: int, exit_id: int) -> Any:
    design.remove_exit(current_actor(), project_id, exit_id)
    return _back_to_build(project_id, "Exit removed.", "exits")


def _transition(project_id: int, action: str) -> Any:
    actor = current_actor()
    if action == "build":
        project = sandbox.build_sandbox(actor, project_id)
        message = f"Sandbox built: {len(project.rooms)} rooms. Walk it before promoting."
    else:
        project = lifecycle.transition(actor, project_id, action, from_form(ReviewStep).reason)
        message = f"{project.name!r} is {project.status.value}."
    return _back_to_build(project_id, message)


for _action in ("submit", "approve", "reject", "build"):
    bp.add_url_rule(f"/builds/<int:project_id>/{_action}", _action, _transition, methods=["POST"],
                    defaults={"action": _action})


# -- promotion ----------------------------------------------------------------------------------


PROMOTE_DIALOG, UNPROMOTE_DIALOG = "worlds/promote.html", "worlds/unpromote.html"


def _dialog(template: str, project_id: int, status: int = 200, **context: Any) -> Response:
    context.setdefault("preview", None)
    context.setdefault("message", None)
    context.setdefault("form", {})
    open_request = context.pop("open_request", None)
    if template == PROMOTE_DIALOG and context["preview"] is not None:
        # What the confirm needs: promote directly, or (the policy requiring approval) request it.
        actor = current_actor()
        context["approval"] = governance_forms.dialog_approval(
            actor, promotion.approval_policy(actor), url_for(".request_promotion", project_id=project_id), open_request)
    return render(template, "dialog", status=status, project_id=project_id, **context)


def _opened(template: str, project_id: int, preview: Callable[[], Any]) -> Response:
    """A dialog as it opens: with its preview, or with the refusal in its place."""
    try:
        shown = preview()
    except DomainError as exc:
        return _dialog(template, project_id, exc.status, message=exc.message)
    return _dialog(template, project_id, preview=shown)


def _preview_beside(refusal: DomainError, kinds: tuple[type[DomainError], ...], preview: Callable[[], Any]) -> Any:
    """The fresh preview a dialog shows again beside a refusal of one of `kinds` (the world changed, an exit is
    taken, …), or None: another refusal, or no preview can be had now."""
    if not isinstance(refusal, kinds):
        return None
    try:
        return preview()
    except DomainError:
        return None


@bp.get("/builds/<int:project_id>/promote")
def promote_dialog(project_id: int) -> Response:
    def preview() -> Any:
        promotion.promotable(current_actor(), project_id)
        target = parse(PromotionTarget, {"connection_room_id": request.args.get("connection_room_id"),
                                         "connection_direction": request.args.get("direction")})
        return promotion.promotion_preview(current_actor(), project_id, target.connection_room_id,
                                           target.connection_direction)

    return _opened(PROMOTE_DIALOG, project_id, preview)


@bp.post("/builds/<int:project_id>/promote")
def promote(project_id: int) -> Any:
    actor = current_actor()
    command: PromoteBuild | None = None
    try:
        promotion.promotable(actor, project_id)
        command = _promote_command()
        result = promotion.promote(actor, project_id, command.connection_room_id, command.connection_direction,
                                   command.preview_token, override_reason=from_form(governance_forms.Override)
                                   .override_reason)
    except DomainError as exc:
        # the world moved, or the policy changed since the dialog opened, or the override had no reason
        return _promote_refused(actor, project_id, command, exc,
                                (promotion.WorldChanged, design.ExitConflict, governance.ApprovalRequired, Invalid))
    message = result.message
    target = url_for(".world_map", highlight=project_id)
    flash(message, "success")
    return redirect_after_post(target)


def _promote_command() -> PromoteBuild:
    return parse(PromoteBuild, {"connection_room_id": request.form.get("connection_room_id"),
                                "connection_direction": request.form.get("direction"),
                                "preview_token": request.form.get("preview_token") or None})


def _promote_refused(actor: Any, project_id: int, command: PromoteBuild | None, refusal: DomainError,
                     kinds: tuple[type[DomainError], ...]) -> Response:
    """The promote dialog after a refused confirm or request: the refusal, beside the fresh preview for `kinds`."""
    fresh = None if command is None else _preview_beside(
        refusal, kinds, lambda: promotion.promotion_preview(actor, project_id, command.connection_room_id,
                                                            command.connection_direction))
    return _dialog(PROMOTE_DIALOG, project_id, refusal.status, preview=fresh, message=refusal.message,
                   open_request=governance_forms.open_request(refusal))


@bp.post("/builds/<int:project_id>/request")
def request_promotion(project_id: int) -> Any:
    """The dialog's "Request promotion": a request bound to the preview it showed (governance)."""
    actor = current_actor()
    command: PromoteBuild | None = None
    try:
        promotion.promotable(actor, project_id)
        command = _promote_command()
        form = from_form(governance_forms.Request)
        row = governance.request_promotion(actor, governance.RequestCommand(
            flow=promotion.FLOW.name, source=[project_id, command.connection_room_id, command.connection_direction],
            preview_token=form.preview_token, apply_when_approved=form.apply_when_approved))
    except DomainError as exc:  # the world moved, already requested, no approval needed (any more), not the owner
        return _promote_refused(actor, project_id, command, exc,
                                (promotion.WorldChanged, design.ExitConflict, Conflict, Invalid))
    flash(governance_forms.requested_message(row), "success")
    return redirect_after_post(url_for("governance.review", request_id=row.id))


# -- return to sandbox -----------------------------------------------------------------------------


@bp.get("/builds/<int:project_id>/unpromote")
def unpromote_dialog(project_id: int) -> Response:
    return _opened(UNPROMOTE_DIALOG, project_id, lambda: unpromotion.unpromotion_preview(current_actor(), project_id))


@bp.post("/builds/<int:project_id>/unpromote")
def unpromote(project_id: int) -> Any:
    actor = current_actor()
    form = {"force": request.form.get("force", ""), "reason": request.form.get("reason", "")}
    try:
        unpromotion.returnable(actor, project_id)  # role and state before the form
        command = from_form(unpromotion.UnpromoteBuild)
        result = unpromotion.unpromote(actor, project_id, command.preview_token or None, force=command.force,
                                       reason=command.reason)
    except DomainError as exc:
        fresh = _preview_beside(exc, (promotion.WorldChanged, unpromotion.ForeignExits, Invalid),
                                lambda: unpromotion.unpromotion_preview(actor, project_id))
        return _dialog(UNPROMOTE_DIALOG, project_id, exc.status, preview=fresh, message=exc.message, form=form)
    flash(result.message, "success")
    return redirect_after_post(url_for(".detail", project_id=project_id))


# -- the world ----------------------------------------------------------------------------------


@bp.get("/world/rooms/search")
def room_search() -> Response:
    """Live rooms as you type (the connection room picker)."""
    rooms = queries.live_rooms(current_actor(), request.args.get("q", ""))
    return render("worlds/_room_options.html", rooms=rooms, selected=request.args.get("connection_room_id"))


@bp.get("/world/rooms/<int:room_id>")
def room(room_id: int) -> Response:
    """A room and its exits as links: walking the sandbox before promotion, or the live world."""
    room, project = sandbox.walk_room(current_actor(), room_id)  # a sandbox: its owner, promoters, admins
    return render("worlds/room.html", room=room, exits=queries.exits_of(room), project=project)


@bp.get("/world/map")
def world_map() -> Response:
    actor = current_actor()
    area = inputs.optional_whole_number(request.args.get("area"), "area")
    highlight = inputs.optional_whole_number(request.args.get("highlight"), "highlight")
    view = worldmap.build_map(actor, area=area, highlight=highlight, x=request.args.get("x"),
                             y=request.args.get("y"), span=request.args.get("span"))
    return render_page("worlds/map.html", "map", view=view)


@bp.get("/world/export")
def export() -> Response:
    area = inputs.optional_whole_number(request.args.get("area"), "area")
    return export_response(current_actor(), request.args.get("format", "ev"), area)
