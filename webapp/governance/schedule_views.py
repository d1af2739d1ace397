"""Scheduled promotions in the dashboard: the confirm dialogs' "Promote at" posts here, and the "Scheduled" list on
the process page and the build page (`governance/_schedules.html`) cancels here. Both answer with that list's
fragment anew (htmx) or a redirect back to the page."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, request

from webapp import inputs
from webapp.accounts.context import current_actor, signed_in_only
from webapp.accounts.models import Role
from webapp.commands import parse
from webapp.errors import DomainError
from webapp.governance import schedules
from webapp.governance import services as governance
from webapp.governance.models import ScheduledPromotion
from webapp.governance.schedules import ScheduleCommand
from webapp.htmx import is_htmx, render, toast_or_redirect
from webapp.templating import format_datetime

bp = Blueprint("scheduled_promotions", __name__)
signed_in_only(bp)
FORM_FIELDS = ("date", "time", "preview_token", "change_notes", "deadline_minutes")


@bp.app_context_processor
def _schedules_for_pages() -> dict[str, Any]:
    """`scheduled_promotions(process_id=…)` / `(build_project_id=…)`: the "Scheduled" list of a page, for the
    partial the process page and the build page include (one line each, the pages' views unchanged)."""
    return {"scheduled_promotions": _listing}


def _listing(**links: int) -> dict[str, Any]:
    actor = current_actor()
    rows = schedules.list_schedules(actor, limit=20, **links)
    return {"rows": rows, "names": governance.names([r.created_by_id for r in rows]), "links": links,
            "may_cancel": actor.can(Role.promoter), "me": actor.user_id}


def _links(row: ScheduledPromotion) -> dict[str, int]:
    return governance.row_links(row)


def _fragment(links: dict[str, int]) -> Response:
    response = render("governance/_schedules.html", schedules_of=_listing(**links))
    response.headers["HX-Retarget"] = "#scheduled-promotions"
    response.headers["HX-Reswap"] = "outerHTML"
    return response


def _command() -> ScheduleCommand:
    form = request.form
    data: dict[str, Any] = {k: form[k] for k in FORM_FIELDS if form.get(k, "") != ""}
    if form.get("request_id"):  # an approved request, from its review page: its source and notes
        data["request_id"] = inputs.as_whole_number(form["request_id"]) or form["request_id"]
        return parse(ScheduleCommand, data)
    flow = form.get("flow", "")
    data["flow"] = flow
    if flow == "process":
        data["source"] = inputs.as_whole_number(form.get("version_id", ""))
    elif flow == "world":
        data["source"] = [inputs.as_whole_number(form.get("project_id", "")),
                          inputs.as_whole_number(form.get("connection_room_id", "")), form.get("direction", "")]
    if "deadline_minutes" in data:
        data["deadline_minutes"] = inputs.as_whole_number(data["deadline_minutes"]) or data["deadline_minutes"]
    return parse(ScheduleCommand, data)


@bp.post("/scheduled-promotions")
def create() -> Response:
    """The dialog's "Schedule" button: the same form as Promote, plus the local date and time."""
    try:
        row = schedules.schedule(current_actor(), _command())
    except DomainError as exc:  # shown in the dialog, beside the date and time
        return render("governance/_promote_at_error.html", status=exc.status, message=exc.message)
    message = f"{row.title}: scheduled for {format_datetime(row.run_at)}."
    if is_htmx():
        response = _fragment(_links(row))
        response.headers["HX-Trigger"] = json.dumps({"closeDialog": True,
                                                     "toast": {"level": "success", "message": message}})
        return response
    return toast_or_redirect(lambda: _fragment(_links(row)), message, request.script_root + schedules.page_path(row), code=303)


@bp.post("/scheduled-promotions/<int:schedule_id>/cancel")
def cancel(schedule_id: int) -> Response:
    row = schedules.cancel(current_actor(), schedule_id)
    return toast_or_redirect(lambda: _fragment(_links(row)), f"{row.title}: the scheduled promotion is cancelled.",
                             request.script_root + schedules.page_path(row), code=303)


