"""The planning room in the dashboard: today's room (join, suggest and vote, draft and save teams) and the
read-only rooms of past days.

The page is two parts: the room's shared part (`shared` block: who is in, suggestions and votes, saved teams),
which polls `GET /planning/today/shared` every 2 s and is answered 304 while the room's `Stamp` stands, and the
member's own draft (`draft` block), which only the member's own actions redraw. Joining, leaving and opening
answer with the whole room; a vote or a suggestion with the shared part; a draft change with the draft; saving
teams with the draft and the shared part out of band."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from flask import Blueprint, Response, make_response, redirect, request, url_for

from webapp.accounts.context import current_actor, signed_in_only
from webapp.commands import parse
from webapp.errors import BadRequest, DomainError, NotFound
from webapp.gamenight import discord_threads, night_settings, planning_rooms, players, team_names, teams
from webapp.gamenight.planning_rooms import Day, Member, RoomChange, Stamp
from webapp.gamenight.teams import Draft, DraftForm
from webapp.htmx import is_htmx, render_page, render_with_oob

bp = Blueprint("planning", __name__)
signed_in_only(bp)

TEMPLATE = "gamenight/planning.html"
POLL_SECONDS = 2


def _context(day: date | None = None, message: str | None = None, draft: Draft | None = None,
             draft_message: str | None = None, *, stamp: Stamp | None = None, drafts: bool = True) -> dict[str, Any]:
    """What the page's blocks show: the room of `day` (today by default) as the signed-in member sees it, its
    poll tag (read first: see `planning_rooms.stamp`), the draft (the saved teams unless given; none without
    `drafts`, for the shared part alone) and a message for the shared part or the draft."""
    actor = current_actor()
    assert actor.user_id is not None
    ws = night_settings.workspace(actor.workspace_id)
    stamp = stamp or planning_rooms.stamp(ws, actor.user_id, day)
    room = planning_rooms.view(ws, actor.user_id, day)
    if room.room is not None and draft is None and drafts:
        draft = Draft.of(room)
    return {"ws": ws, "view": room, "draft": draft, "message": message, "draft_message": draft_message,
            "linked": players.is_linked(ws.id, actor.user_id), "etag": _etag(stamp.tag),
            "poll_seconds": POLL_SECONDS, "max_teams": planning_rooms.MAX_TEAMS, "thread_url": discord_threads.thread_url}


def _etag(tag: str) -> str:
    return f'W/"{tag}"'  # weak: the fragment carries fresh CSRF tokens, equal in meaning, not in bytes


def _page(day: date | None = None) -> Response:
    return render_page(TEMPLATE, "room", **_context(day))


def _change(apply: Callable[[Member, Day], Any], block: str = "room") -> Response:
    """Run one change for the signed-in member on the day the page showed; answer with `block` of the room
    (a 303 back to it without htmx), or that block with the error and its 4xx status."""
    who = Member.of(current_actor())
    try:
        apply(who, parse(RoomChange, {"day": request.form.get("day")}).day)
    except DomainError as exc:
        return render_page(TEMPLATE, block, exc.status, **_context(message=exc.message))
    if not is_htmx():
        return redirect(url_for(".today"), code=303)
    return render_page(TEMPLATE, block, **_context())


def _form_draft(who: Member) -> Draft | None:
    try:
        return Draft.of_form(who, DraftForm.of(request.form))
    except DomainError:
        return None


def _poll_day() -> date | None:
    """The day the polling page shows (`?day=`, today without it): once it has ended, its room is read-only."""
    asked = request.args.get("day")
    if not asked:
        return None
    try:
        return date.fromisoformat(asked)
    except ValueError:
        raise BadRequest("'day' is a date (YYYY-MM-DD).") from None


@bp.get("/planning/today")
def today() -> Response:
    return _page()


@bp.get("/planning/today/shared")
def shared() -> Response:
    """The room's shared part for the page's poll: 304 while the room's tag (`If-None-Match`) stands, else the
    part anew with its tag. When the member joined or left elsewhere (a bot, another tab) or the day ended, the
    page's draft (`draft=1`: it shows one) no longer fits: the whole room comes back instead."""
    actor = current_actor()
    assert actor.user_id is not None
    ws, day = night_settings.workspace(actor.workspace_id), _poll_day()
    stamp = planning_rooms.stamp(ws, actor.user_id, day)
    if stamp.drafting != (request.args.get("draft") == "1"):
        context = _context(day, stamp=stamp)
        response = render_page(TEMPLATE, "room", **context)
        response.headers["HX-Retarget"], response.headers["HX-Reswap"] = "#planning-room", "outerHTML"
    elif request.if_none_match.contains_weak(stamp.tag):
        context = {"etag": _etag(stamp.tag)}
        response = make_response("", 304)
    else:
        context = _context(day, stamp=stamp, drafts=not is_htmx())  # without htmx: the page, with the draft
        response = render_page(TEMPLATE, "shared", **context)
    response.headers["ETag"] = context["etag"]
    response.headers["Cache-Control"] = "no-cache, private"
    return response


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
    return _change(lambda who, day: team_names.suggest(who, request.form.get("name"), day), "shared")


@bp.post("/planning/today/suggestions/<int:suggestion_id>/vote")
def vote(suggestion_id: int) -> Response:
    return _change(lambda who, day: team_names.vote(who, suggestion_id, day=day), "shared")


@bp.post("/planning/today/draft")
def draft() -> Response:
    """Rework the draft without saving it (a chip moved, an auto-draft, another team count): the draft again."""
    try:
        current = teams.redraw(Member.of(current_actor()), DraftForm.of(request.form))
    except DomainError as exc:
        return render_page(TEMPLATE, "draft", exc.status, **_context(draft_message=exc.message))
    return render_page(TEMPLATE, "draft", **_context(draft=current))


@bp.post("/planning/today/teams")
def save_teams() -> Response:
    """Save the draft: the draft as saved, and the shared part (out of band) with the saved teams. A refused
    save shows the draft as it was, so no placement is lost."""
    who = Member.of(current_actor())
    try:
        teams.save_teams(who, Draft.of_form(who, DraftForm.of(request.form)).as_teams(),
                         parse(RoomChange, {"day": request.form.get("day")}).day)
    except DomainError as exc:
        return render_page(TEMPLATE, "draft", exc.status,
                           **_context(draft=_form_draft(who), draft_message=exc.message))
    if not is_htmx():
        return redirect(url_for(".today"), code=303)
    return render_with_oob(TEMPLATE, "draft", "shared", **_context())
