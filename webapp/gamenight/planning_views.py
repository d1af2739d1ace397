"""The planning room in the dashboard: today's room (join, suggest and vote, draft and save teams) and the
read-only rooms of past days. Every change answers with the room again (the `room` block for htmx)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from flask import Blueprint, Response, redirect, request, url_for

from webapp.accounts.context import current_actor, signed_in_only
from webapp.commands import parse
from webapp.errors import DomainError, NotFound
from webapp.gamenight import discord_threads, night_settings, planning_rooms, players, team_names, teams
from webapp.gamenight.planning_rooms import Day, Member, RoomChange
from webapp.gamenight.teams import Draft, DraftForm
from webapp.htmx import is_htmx, render_page

bp = Blueprint("planning", __name__)
signed_in_only(bp)


def _page(day: date | None = None, status: int = 200, message: str | None = None,
          draft: Draft | None = None) -> Response:
    actor = current_actor()
    ws = night_settings.workspace(actor.workspace_id)
    room = planning_rooms.view(ws, actor.user_id, day)
    if room.room is not None and draft is None:
        draft = Draft.of(room)
    return render_page("gamenight/planning.html", "room", status, ws=ws, view=room, draft=draft, message=message,
                       linked=players.is_linked(ws.id, actor.user_id), thread_url=discord_threads.thread_url)


def _change(apply: Callable[[Member, Day], Any], *, keep_draft: bool = False) -> Response:
    """Run one change for the signed-in member on the day the page showed; answer with the room (a 303 back
    to it without htmx), or the room with the error and its 4xx status (and, with `keep_draft`, the page's
    draft as it was, so a refused save loses no placement)."""
    who = Member.of(current_actor())
    try:
        apply(who, parse(RoomChange, {"day": request.form.get("day")}).day)
    except DomainError as exc:
        return _page(status=exc.status, message=exc.message, draft=_form_draft(who) if keep_draft else None)
    if not is_htmx():
        return redirect(url_for(".today"), code=303)
    return _page()


def _form_draft(who: Member) -> Draft | None:
    try:
        return Draft.of_form(who, DraftForm.of(request.form))
    except DomainError:
        return None


@bp.get("/planning/today")
def today() -> Response:
    return _page()


@bp.get("/planning/<day>")
def past(day: str) -> Any:
    """A day's room; today's is the live one, other days are read-only."""
    ws = night_settings.workspace(current_actor().workspace_id)
    try:
        wanted = date.fromisoformat(day)
    except ValueError:
        raise NotFound("No planning room on that date (dates are YYYY-MM-DD).") from None
    if wanted == night_settings.local_today(ws):
        return redirect(url_for(".today"))
    return _page(wanted)


@bp.post("/planning/today/create")
def create() -> Response:
    return _change(planning_rooms.create)


@bp.post("/planning/today/join")
def join() -> Response:
    return _change(planning_rooms.join)


@bp.post("/planning/today/leave")
def leave() -> Response:
    return _change(planning_rooms.leave)


@bp.post("/planning/today/suggestions")
def suggest() -> Response:
    return _change(lambda who, day: team_names.suggest(who, request.form.get("name"), day))


@bp.post("/planning/today/suggestions/<int:suggestion_id>/vote")
def vote(suggestion_id: int) -> Response:
    return _change(lambda who, day: team_names.vote(who, suggestion_id, day=day))


@bp.post("/planning/today/draft")
def draft() -> Response:
    """Rework the draft without saving it (a chip moved, an auto-draft, another team count)."""
    try:
        current = teams.redraw(Member.of(current_actor()), DraftForm.of(request.form))
    except DomainError as exc:
        return _page(status=exc.status, message=exc.message)
    return _page(draft=current)


@bp.post("/planning/today/teams")
def save_teams() -> Response:
    return _change(lambda who, day: teams.save_teams(who, Draft.of_form(who, DraftForm.of(request.form)).as_teams(),
                                                     day), keep_draft=True)
