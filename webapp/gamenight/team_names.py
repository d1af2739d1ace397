"""Team names put to the vote in today's planning room: suggesting one (names that differ only in case or
spacing are one suggestion, at most MAX_SUGGESTIONS a room) and toggling a member's vote for it."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from webapp import inputs
from webapp.commands import bad_request, whole
from webapp.errors import BadRequest, Conflict, NotFound
from webapp.extensions import db
from webapp.gamenight.models import PlanningRoom, SuggestionVote, TeamSuggestion
from webapp.gamenight.planning_rooms import Day, Member, RoomChange, audit_change, joined_room

NAME_MAX = 40  # a team name, after trimming
MAX_SUGGESTIONS = 50  # per room
MAX_NUMBER = 10**30 - 1  # a suggestion id as the API takes it: any whole number of up to 30 digits


def clean_name(value: Any) -> str:
    """A team name: trimmed, inner whitespace collapsed, 1 to NAME_MAX characters, printable."""
    if not isinstance(value, str):
        raise BadRequest("'name' is a team name (text).")
    name = re.sub(r"\s+", " ", value).strip()
    if not name or len(name) > NAME_MAX or not name.isprintable():
        raise BadRequest(f"A team name has 1 to {NAME_MAX} characters on one line.")
    return name


def _team_name(value: Any) -> str:
    try:
        return clean_name(value)
    except BadRequest:
        raise bad_request(f"is a team name of 1 to {NAME_MAX} characters on one line") from None


def suggest(who: Member, name: str, day: Day = "today") -> tuple[TeamSuggestion, bool]:
    """Put a team name to the vote. A name that differs from an existing one only in case or spacing is that
    one (False: merged). The room is locked meanwhile (PostgreSQL), so its cap holds under a rush."""
    room = joined_room(who, day, lock=True)
    name = clean_name(name)
    key = name.casefold()
    found = db.session.scalar(select(TeamSuggestion).where(TeamSuggestion.room_id == room.id,
                                                           TeamSuggestion.name_key == key))
    if found is not None:
        return found, False
    count = db.session.scalar(select(func.count()).select_from(TeamSuggestion)
                              .where(TeamSuggestion.room_id == room.id))
    if count >= MAX_SUGGESTIONS:
        raise Conflict(f"This room has {MAX_SUGGESTIONS} suggestions already; vote for one of them.",
                       code="too_many_suggestions")
    suggestion = TeamSuggestion(room_id=room.id, name=name, name_key=key, created_by_id=who.user_id)
    db.session.add(suggestion)
    try:
        db.session.flush()
    except IntegrityError:  # the same name suggested at the same moment
        db.session.rollback()
        return db.session.scalars(select(TeamSuggestion).where(TeamSuggestion.room_id == room.id,
                                                               TeamSuggestion.name_key == key)).one(), False
    audit_change(who, "planning.suggested", room, {"name": name})
    db.session.commit()
    return suggestion, True


def _suggestion(room: PlanningRoom, suggestion_id: int | None = None, name: str | None = None) -> TeamSuggestion:
    """A suggestion of the room by id or (for bots) by name; 404 otherwise."""
    query = select(TeamSuggestion).where(TeamSuggestion.room_id == room.id)
    if suggestion_id is not None:
        query = query.where(TeamSuggestion.id == min(max(suggestion_id, 0), inputs.MAX_ID))  # out of range: not found
    elif name is not None:
        query = query.where(TeamSuggestion.name_key == clean_name(name).casefold())
    else:
        raise BadRequest("Name the suggestion: 'suggestion_id' or 'name'.")
    found = db.session.scalar(query)
    if found is None:
        raise NotFound("No such suggestion in today's planning room.")
    return found


def vote(who: Member, suggestion_id: int | None = None, name: str | None = None, day: Day = "today") -> bool:
    """Toggle the member's one vote for a suggestion: True when it now counts, False when withdrawn."""
    room = joined_room(who, day)
    suggestion = _suggestion(room, suggestion_id, name)
    removed = db.session.execute(delete(SuggestionVote).where(SuggestionVote.suggestion_id == suggestion.id,
                                                              SuggestionVote.user_id == who.user_id)).rowcount
    if not removed:
        db.session.add(SuggestionVote(suggestion_id=suggestion.id, user_id=who.user_id))
    audit_change(who, "planning.vote_withdrawn" if removed else "planning.voted", room, {"name": suggestion.name})
    try:
        db.session.commit()
    except IntegrityError:  # a double click raced itself: the vote is in
        db.session.rollback()
        return True
    return not removed


TeamName = Annotated[str, BeforeValidator(_team_name), Field(min_length=1, max_length=NAME_MAX)]


class SuggestionCommand(RoomChange):
    """`{"name"}`: a team name to put to the vote."""

    name: TeamName = Field("", validate_default=True)


class VoteCommand(RoomChange):
    """`{"suggestion_id"}` or, for bots, `{"name"}`: the suggestion whose vote is toggled."""

    suggestion_id: whole(-MAX_NUMBER, MAX_NUMBER) | None = None  # type: ignore[valid-type]  # any: unknown is 404
    name: TeamName | None = None
