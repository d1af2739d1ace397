"""Today's planning room: it unlocks once enough members are ready, then players join it and leave it.

The room belongs to a workspace-local date and is read-only once that date has passed: every change names
the day it was made for (the page's hidden field, the API's optional `date`) and a stale one gets 409
`room_closed`. Members act from the dashboard or with a personal token; bots act for the chat identity
they see. Every change is audited and counted on the room (`version`), which is how the live page knows in one
query that nothing changed (`Stamp`). Here: who acts (`Member`), what a day's planning shows (`PlanningDay`),
opening, joining and leaving; team names and votes are `team_names`, the draft and saved teams `teams`.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import ConfigDict, Field
from sqlalchemy import Date, Select, bindparam, case, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from webapp.accounts.models import User, Workspace
from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.commands import Command
from webapp.errors import Conflict, NotFound
from webapp.extensions import db
from webapp.gamenight import availability, discord_threads, night_settings, players
from webapp.gamenight.availability import DayChoice, RelativeDay
from webapp.gamenight.models import (
    GamenightSettings,
    PlanningMember,
    PlanningRoom,
    PlanningTeam,
    PlanningThread,
    PlayerProfile,
    PostStatus,
    SuggestionVote,
    TeamSuggestion,
)
from webapp.gamenight.planning_announcements import POST_EFFECT
from webapp.outbox import services as outbox

MAX_TEAMS = 8
Day = date | RelativeDay  # the day a change was made for: today's room only, another day is a 409
NO_ROOM = "There is no planning room today yet; it opens once enough members are ready."


class RoomChange(Command):
    """What every change of the room carries: the day it was made for (the page's hidden `day`, the API's
    optional `date`). A bot adds the chat identity it acts for (`channel`, `external_id`: `players.ChatIdentity`
    checks them); a personal token acts for its member and sends neither."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    day: DayChoice = Field("today", alias="date")
    channel: str | None = None
    external_id: str | int | None = None

    def identity(self) -> players.ChatIdentity:
        return players.ChatIdentity.of(self.channel, self.external_id)


@dataclass(frozen=True)
class Member:
    """Who acts in a room: a member from the dashboard or the API, or a bot for a linked chat identity."""

    workspace_id: int
    user_id: int
    label: str  # the audit's actor label
    actor: Actor | None = None  # None for a bot

    @classmethod
    def of(cls, actor: Actor) -> Member:
        assert actor.user_id is not None
        return cls(actor.workspace_id, actor.user_id, actor.label, actor)

    @classmethod
    def bot(cls, workspace_id: int, identity: players.ChatIdentity) -> Member:
        user_id = players.member_for_identity(workspace_id, identity)
        return cls(workspace_id, user_id, f"bot ({identity.channel.value})")


@dataclass
class Player:
    user_id: int
    name: str
    team_id: int | None


@dataclass
class Suggestion:
    id: int
    name: str
    votes: int
    mine: bool  # the viewer voted for it


@dataclass
class PlanningDay:
    """What the page and the API show of a day's planning."""

    day: date
    ready: int  # available + looking that day
    threshold: int
    read_only: bool  # not today: the day has ended, or has not come yet
    room: PlanningRoom | None
    players: list[Player] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)
    viewer_id: int | None = None
    later: bool = False  # a day still to come

    @property
    def unlocked(self) -> bool:
        return self.room is not None or self.ready >= self.threshold

    @property
    def joined(self) -> bool:
        return any(p.user_id == self.viewer_id for p in self.players)

    @property
    def teams(self) -> list[tuple[PlanningTeam, list[Player]]]:
        if self.room is None:
            return []
        return [(team, [p for p in self.players if p.team_id == team.id]) for team in self.room.teams]

    @property
    def bench(self) -> list[Player]:
        return [p for p in self.players if p.team_id is None]

    def leading_names(self, count: int) -> list[str]:
        """Default team names: the most voted suggestions (ties: the earlier one), then Team N."""
        names = [s.name for s in self.suggestions if s.votes > 0][:count]
        taken = {name.casefold() for name in names}
        spare = (f"Team {i}" for i in range(len(names) + 1, 2 * MAX_TEAMS + 1) if f"team {i}" not in taken)
        return names + [next(spare) for _ in range(count - len(names))]

    def as_json(self) -> dict[str, Any]:
        room = self.room
        return {
            "date": self.day.isoformat(), "ready": self.ready, "threshold": self.threshold,
            "unlocked": self.unlocked, "read_only": self.read_only,
            "room": None if room is None else {
                "id": room.id, "created_at": room.created_at.isoformat(), "joined": self.joined,
                "players": [{"id": p.user_id, "name": p.name} for p in self.players],
                "suggestions": [{"id": s.id, "name": s.name, "votes": s.votes, "voted": s.mine}
                                for s in self.suggestions],
                "teams": [{"name": team.name, "players": [p.user_id for p in players]}
                          for team, players in self.teams],
                "bench": [p.user_id for p in self.bench],
                "teams_saved_at": room.teams_saved_at.isoformat() if room.teams_saved_at else None,
                "announcement": {"status": room.post_status.value, "error": room.post_error or None},
                "discord_thread": discord_threads.as_json(room.discord_thread),
            },
        }


def threshold(workspace_id: int) -> int:
    return night_settings.settings(workspace_id).planning_threshold


def view(ws: Workspace, viewer_id: int | None, day: date | None = None, now: datetime | None = None) -> PlanningDay:
    """The room of `day` (default: today) with its players, suggestions (most voted first) and teams."""
    today = night_settings.local_today(ws, now)
    day = day or today
    ready = availability.ready(ws.id, day)
    room = db.session.scalar(select(PlanningRoom).where(PlanningRoom.workspace_id == ws.id, PlanningRoom.day == day))
    found = PlanningDay(day=day, ready=ready, threshold=threshold(ws.id), read_only=day != today, room=room,
                 viewer_id=viewer_id, later=day > today)
    if room is not None:
        found.players = [Player(user_id, players.shown_name(name, email), team_id)
                         for user_id, team_id, name, email in
                         db.session.execute(
                             select(PlanningMember.user_id, PlanningMember.team_id, PlayerProfile.display_name,
                                    User.email)
                             .join(User, User.id == PlanningMember.user_id)
                             .outerjoin(PlayerProfile, (PlayerProfile.user_id == PlanningMember.user_id)
                                        & (PlayerProfile.workspace_id == ws.id))
                             .where(PlanningMember.room_id == room.id)
                             .order_by(PlanningMember.joined_at, PlanningMember.user_id))]
        found.suggestions = _suggestions(room.id, viewer_id)
    return found


@dataclass(frozen=True)
class Stamp:
    """What the live page's poll compares, read in one query: `tag` (the ETag of the room's shared part as
    `viewer_id` sees it) and whether the viewer is in an open room (the page then shows their draft)."""

    tag: str
    drafting: bool


def _stamp_query() -> Select[Any]:
    in_room = (PlanningRoom.workspace_id == bindparam("workspace_id"), PlanningRoom.day == bindparam("day", type_=Date))
    room_id = select(PlanningRoom.id).where(*in_room).scalar_subquery()
    viewer = bindparam("viewer_id")
    thread_shows = (PlanningThread.status, PlanningThread.error, PlanningThread.guild_id, PlanningThread.teams_status,
                    PlanningThread.teams_error)  # what the room shows of its Discord thread, which the bot's runs write
    return select(
        room_id,
        select(PlanningRoom.version).where(*in_room).scalar_subquery(),
        availability.ready_count(bindparam("workspace_id"), bindparam("day", type_=Date)).scalar_subquery(),
        select(GamenightSettings.planning_threshold).where(GamenightSettings.workspace_id == bindparam("workspace_id"))
        .scalar_subquery(),
        players.linked_clause(bindparam("workspace_id"), viewer),
        select(PlanningMember.user_id).where(PlanningMember.room_id == room_id, PlanningMember.user_id == viewer)
        .exists(),
        *(select(column).where(PlanningThread.room_id == room_id).scalar_subquery() for column in thread_shows),
    )


_STAMP = _stamp_query()  # built once: the poll runs it every 2 s per open page


def stamp(ws: Workspace, viewer_id: int, day: date | None = None, now: datetime | None = None) -> Stamp:
    """The room's version with everything else its shared part shows that changes outside the room: how many
    are ready that day, the threshold, whether the viewer is linked, the state of its Discord thread. Read it before the room itself, so a change
    in between makes the next poll answer in full again rather than never."""
    today = night_settings.local_today(ws, now)
    day = day or today
    row = db.session.execute(_STAMP, {"workspace_id": ws.id, "day": day, "viewer_id": viewer_id}).one()
    parts = (ws.id, day.isoformat(), day == today, viewer_id, *row)
    tag = hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()
    return Stamp(tag, drafting=day == today and row[0] is not None and bool(row[5]))


def changed(room_id: int) -> None:
    """Count a change of what the room shows to all, in the change's own transaction (`Stamp`)."""
    db.session.execute(update(PlanningRoom).where(PlanningRoom.id == room_id)
                       .values(version=PlanningRoom.version + 1))


def _suggestions(room_id: int, viewer_id: int | None) -> list[Suggestion]:
    votes = func.count(SuggestionVote.user_id)
    mine = func.max(case((SuggestionVote.user_id == (viewer_id or 0), 1), else_=0))
    rows = db.session.execute(
        select(TeamSuggestion.id, TeamSuggestion.name, votes, mine)
        .outerjoin(SuggestionVote, SuggestionVote.suggestion_id == TeamSuggestion.id)
        .where(TeamSuggestion.room_id == room_id)
        .group_by(TeamSuggestion.id, TeamSuggestion.name, TeamSuggestion.created_at)
        .order_by(votes.desc(), TeamSuggestion.created_at, TeamSuggestion.id))
    return [Suggestion(id_, name, count, bool(voted)) for id_, name, count, voted in rows]


def _open_day(who: Member, day: Day) -> tuple[Workspace, date]:
    """Today (the workspace's); a change made for another day (a page left open past midnight) → 409."""
    ws = night_settings.workspace(who.workspace_id)
    today = night_settings.local_today(ws)
    if day != "today":
        asked = availability.resolve_day(ws, day)
        if asked < today:
            raise Conflict(f"The planning room of {asked.isoformat()} closed when that day ended; it is read-only "
                           "now.", code="room_closed")
        if asked > today:
            raise Conflict(f"Planning rooms are for today; the room of {asked.isoformat()} opens on that day.",
                           code="room_not_open_yet")
    if not players.is_linked(who.workspace_id, who.user_id):
        raise Conflict("Link your account to take part: create your player profile and link a chat account on your "
                       "profile page.", code="not_linked")
    return ws, today


def todays_room(who: Member, day: Day, *, lock: bool = False) -> PlanningRoom:
    ws, today = _open_day(who, day)
    query = select(PlanningRoom).where(PlanningRoom.workspace_id == ws.id, PlanningRoom.day == today)
    room = db.session.scalar(query.with_for_update() if lock else query)
    if room is None:
        raise NotFound(NO_ROOM, code="no_room")
    return room


def joined_room(who: Member, day: Day, *, lock: bool = False) -> PlanningRoom:
    room = todays_room(who, day, lock=lock)
    if db.session.get(PlanningMember, (room.id, who.user_id)) is None:
        raise Conflict("Join the planning room first.", code="not_in_room")
    return room


def audit_change(who: Member, action: str, room: PlanningRoom, details: dict[str, Any] | None = None) -> None:
    """Audit a change of the room and count it (`changed`): every change of a room passes here."""
    changed(room.id)
    details = {"day": room.day.isoformat(), **(details or {})}
    if who.actor is None:
        details["user_id"] = who.user_id
    audit.record(who.actor, action, "planning_room", room.id, details, workspace_id=who.workspace_id,
                 actor_label=who.label)


def create(who: Member, day: Day = "today") -> tuple[PlanningRoom, bool]:
    """Open today's room and be in it. Below the threshold → 409 `below_threshold`; when the room exists
    already (or was opened by someone else at the same moment) the member joins it instead (False)."""
    ws, today = _open_day(who, day)
    existing = db.session.scalar(select(PlanningRoom).where(PlanningRoom.workspace_id == ws.id,
                                                            PlanningRoom.day == today))
    if existing is not None:
        return join(who, day), False
    ready, needed = availability.ready(ws.id, today), threshold(ws.id)
    if ready < needed:
        raise Conflict(f"The planning room opens when {needed} members are available or looking today; "
                       f"{ready} are so far.", code="below_threshold")
    game = night_settings.settings(ws.id)
    # With a Discord bot the room's thread announces it (its first message is in the channel); else the webhook.
    announce = bool(game.planning_post_target_sealed) and not discord_threads.bot_configured(ws.id)
    room = PlanningRoom(workspace_id=ws.id, day=today, created_by_id=who.user_id, seed=secrets.randbelow(10_000),
                        post_status=PostStatus.pending if announce else PostStatus.off)
    db.session.add(room)
    try:
        db.session.flush()
    except IntegrityError:  # opened by someone else at the same moment: theirs it is
        db.session.rollback()
        return join(who, day), False
    db.session.add(PlanningMember(room_id=room.id, user_id=who.user_id))
    if room.post_status is PostStatus.pending:
        outbox.add(ws.id, POST_EFFECT, {"room_id": room.id})
    discord_threads.open_for(room)
    audit_change(who, "planning.room_created", room, {"ready": ready, "threshold": needed})
    db.session.commit()
    return room, True


def join(who: Member, day: Day = "today") -> PlanningRoom:
    """Join today's room; after the teams were saved a newcomer lands on the bench. Joining twice is one."""
    room = todays_room(who, day)
    if db.session.get(PlanningMember, (room.id, who.user_id)) is None:
        db.session.add(PlanningMember(room_id=room.id, user_id=who.user_id))
        audit_change(who, "planning.joined", room)
        try:
            db.session.commit()
        except IntegrityError:  # the same member joined twice at once
            db.session.rollback()
    return room


def leave(who: Member, day: Day = "today") -> PlanningRoom:
    """Leave today's room (and its team); the member's votes stay."""
    room = todays_room(who, day)
    if db.session.execute(delete(PlanningMember).where(PlanningMember.room_id == room.id,
                                                       PlanningMember.user_id == who.user_id)).rowcount:
        audit_change(who, "planning.left", room)
    db.session.commit()
    return room
