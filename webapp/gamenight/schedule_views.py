"""Recurring game nights in the dashboard: the schedules page (each schedule and a form for a new one), a
schedule's nights with their campaigns, pausing, and skipping a night or deleting a schedule in the shared
confirm dialog."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, flash, request, url_for

from webapp.accounts.context import current_actor, signed_in_only
from webapp.accounts.models import Role
from webapp.errors import DomainError
from webapp.gamenight import night_settings, schedules
from webapp.gamenight.models import ScheduledNight, Status
from webapp.gamenight.schedules import WEEKDAYS, ScheduleCommand
from webapp.htmx import redirect_after_post, render, render_page

bp = Blueprint("schedules", __name__)
signed_in_only(bp)


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"Status": Status, "Role": Role, "WEEKDAYS": WEEKDAYS}


def _list_page(status: int = 200, error: DomainError | None = None) -> Response:
    actor = current_actor()
    ws = night_settings.workspace(actor.workspace_id)
    return render("gamenight/schedules.html", status=status, ws=ws, actor=actor, error=error,
                  game=night_settings.settings(ws.id), schedules=schedules.listing(actor),
                  form=request.form if error else None)


@bp.get("/schedules")
def schedule_list() -> Response:
    return _list_page()


@bp.post("/schedules")
def create_schedule() -> Any:
    try:
        schedule = schedules.create(current_actor(), ScheduleCommand.of_form(request.form))
    except DomainError as exc:
        return _list_page(exc.status, exc)
    flash(f"Weekly game night set: {len(schedule.nights)} night(s) of the next two weeks are scheduled.", "success")
    return redirect_after_post(url_for(".schedule", schedule_id=schedule.id))


@bp.get("/schedules/<int:schedule_id>")
def schedule(schedule_id: int) -> Response:
    """The schedule and its nights (a week back and two ahead), each with its campaign once created."""
    actor = current_actor()
    found = schedules.get(actor, schedule_id)
    return render_page("gamenight/schedule.html", "nights", ws=night_settings.workspace(actor.workspace_id),
                       actor=actor, schedule=found, nights=schedules.upcoming(found))


@bp.post("/schedules/<int:schedule_id>/pause")
def pause_schedule(schedule_id: int) -> Any:
    schedules.set_paused(current_actor(), schedule_id, True)
    flash("Schedule paused: nights due meanwhile are skipped.", "success")
    return redirect_after_post(url_for(".schedule", schedule_id=schedule_id))


@bp.post("/schedules/<int:schedule_id>/resume")
def resume_schedule(schedule_id: int) -> Any:
    schedules.set_paused(current_actor(), schedule_id, False)
    flash("Schedule resumed.", "success")
    return redirect_after_post(url_for(".schedule", schedule_id=schedule_id))


def _dialog(status: int = 200, **context: Any) -> Response:
    for name in ("schedule", "night", "message", "action", "told"):
        context.setdefault(name, None)
    return render("gamenight/schedule_confirm.html", "dialog", status=status, **context)


def _confirming(step: Callable[[], Any], **context: Any) -> Any:
    try:
        return step()
    except DomainError as exc:
        return _dialog(exc.status, message=exc.message, **context)


@bp.get("/schedules/<int:schedule_id>/delete")
def delete_schedule_dialog(schedule_id: int) -> Response:
    found = _confirming(lambda: schedules.deletable(current_actor(), schedule_id))
    if isinstance(found, Response):
        return found
    return _dialog(schedule=found, action=url_for(".delete_schedule", schedule_id=schedule_id))


@bp.post("/schedules/<int:schedule_id>/delete")
def delete_schedule(schedule_id: int) -> Any:
    done = _confirming(lambda: schedules.delete(current_actor(), schedule_id))
    if isinstance(done, Response):
        return done
    flash("Schedule deleted; campaigns it created stay.", "success")
    return redirect_after_post(url_for(".schedule_list"))


@bp.get("/scheduled-nights/<int:night_id>/skip")
def skip_night_dialog(night_id: int) -> Response:
    found = _confirming(lambda: schedules.skippable(current_actor(), night_id))
    if isinstance(found, Response):
        return found
    told = found.campaign_id is not None and schedules.reminder_sent(found.campaign_id)
    return _dialog(night=found, told=told, action=url_for(".skip_night", night_id=night_id))


@bp.post("/scheduled-nights/<int:night_id>/skip")
def skip_night(night_id: int) -> Any:
    night = _confirming(lambda: schedules.skip(current_actor(), night_id))
    if isinstance(night, Response):
        return night
    assert isinstance(night, ScheduledNight)
    called_off = night.campaign is not None and night.campaign.called_off_at is not None
    flash(f"The night of {night.local_day.isoformat()} is skipped"
          + (": it is called off, and everyone who got the reminder is told." if called_off else "."), "success")
    return redirect_after_post(url_for(".schedule", schedule_id=night.schedule_id))
