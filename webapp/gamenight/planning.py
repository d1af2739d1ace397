"""Today's planning room: it unlocks once enough members are ready, then players join, suggest team names
and vote on them, draft teams (by hand or an auto-draft that balances sizes, seeded) and save them.

The room belongs to a workspace-local date and is read-only once that date has passed: every change names
the day it was made for (the page's hidden field, the API's optional `date`) and a stale one gets 409
`room_closed`. Members act from the dashboard or with a personal token; bots act for the chat identity
they see. Every change is audited. A new room can be announced in a chat channel (an outbox effect:
retried with back-off, never in the way of the room).
"""

from __future__ import annotations

import random
import re
import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import case, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from webapp import inputs
from webapp.accounts.models import Role, User, Workspace
from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.errors import BadRequest, Conflict, NotFound, OutcomeUnknown
from webapp.extensions import db, utcnow
from webapp.gamenight import services
from webapp.gamenight.models import (
    PlanningMember,
    PlanningRoom,
    PlanningTeam,
    PlayerProfile,
    PostStatus,
    SuggestionVote,
    TeamSuggestion,
)
from webapp.outbox import services as outbox
from webapp.outbox.models import OutboxEffect
from webapp.sealing import unseal

NAME_MAX = 40  # a team name, after trimming
MAX_SUGGESTIONS = 50  # per room
MIN_TEAMS, MAX_TEAMS = 2, 8
THRESHOLD_MAX = 500
POST_EFFECT = "gamenight.planning_post"
NO_ROOM = "There is no planning room today yet; it opens once enough members are ready."


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
    def bot(cls, workspace_id: int, channel: Any, external_id: Any) -> Member:
        user_id = services.member_for_identity(workspace_id, channel, external_id)
        return cls(workspace_id, user_id, f"bot ({str(channel).strip().lower()})")


# -- reading ------------------------------------------------------------------------------------


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
class Room:
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
            },
        }


def threshold(workspace_id: int) -> int:
    return services.settings(workspace_id).planning_threshold


def view(ws: Workspace, viewer_id: int | None, day: date | None = None, now: datetime | None = None) -> Room:
    """The room of `day` (default: today) with its players, suggestions (most voted first) and teams."""
    today = services.local_today(ws, now)
    day = day or today
    ready = services.ready(ws.id, day)
    room = db.session.scalar(select(PlanningRoom).where(PlanningRoom.workspace_id == ws.id, PlanningRoom.day == day))
    found = Room(day=day, ready=ready, threshold=threshold(ws.id), read_only=day != today, room=room,
                 viewer_id=viewer_id, later=day > today)
    if room is not None:
        found.players = [Player(user_id, services.shown_name(name, email), team_id)
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


# -- changing -----------------------------------------------------------------------------------


def _open_day(who: Member, day: Any) -> tuple[Workspace, date]:
    """Today (the workspace's); a change made for another day (a page left open past midnight) → 409."""
    ws = services.workspace(who.workspace_id)
    today = services.local_today(ws)
    if day not in (None, "", "today"):
        asked = services.parse_day(ws, day)
        if asked < today:
            raise Conflict(f"The planning room of {asked.isoformat()} closed when that day ended; it is read-only "
                           "now.", code="room_closed")
        if asked > today:
            raise Conflict(f"Planning rooms are for today; the room of {asked.isoformat()} opens on that day.",
                           code="room_not_open_yet")
    if not services.is_linked(who.workspace_id, who.user_id):
        raise Conflict("Link your account to take part: create your player profile and link a chat account on your "
                       "profile page.", code="not_linked")
    return ws, today


def _room(who: Member, day: Any, *, lock: bool = False) -> PlanningRoom:
    ws, today = _open_day(who, day)
    query = select(PlanningRoom).where(PlanningRoom.workspace_id == ws.id, PlanningRoom.day == today)
    room = db.session.scalar(query.with_for_update() if lock else query)
    if room is None:
        raise NotFound(NO_ROOM, code="no_room")
    return room


def _joined(who: Member, day: Any, *, lock: bool = False) -> PlanningRoom:
    room = _room(who, day, lock=lock)
    if db.session.get(PlanningMember, (room.id, who.user_id)) is None:
        raise Conflict("Join the planning room first.", code="not_in_room")
    return room


def _audit(who: Member, action: str, room: PlanningRoom, details: dict[str, Any] | None = None) -> None:
    details = {"day": room.day.isoformat(), **(details or {})}
    if who.actor is None:
        details["user_id"] = who.user_id
    audit.record(who.actor, action, "planning_room", room.id, details, workspace_id=who.workspace_id,
                 actor_label=who.label)


def create(who: Member, day: Any = None) -> tuple[PlanningRoom, bool]:
    """Open today's room and be in it. Below the threshold → 409 `below_threshold`; when the room exists
    already (or was opened by someone else at the same moment) the member joins it instead (False)."""
    ws, today = _open_day(who, day)
    existing = db.session.scalar(select(PlanningRoom).where(PlanningRoom.workspace_id == ws.id,
                                                            PlanningRoom.day == today))
    if existing is not None:
        return join(who, day), False
    ready, needed = services.ready(ws.id, today), threshold(ws.id)
    if ready < needed:
        raise Conflict(f"The planning room opens when {needed} members are available or looking today; "
                       f"{ready} are so far.", code="below_threshold")
    game = services.settings(ws.id)
    room = PlanningRoom(workspace_id=ws.id, day=today, created_by_id=who.user_id, seed=secrets.randbelow(10_000),
                        post_status=PostStatus.pending if game.planning_post_target_sealed else PostStatus.off)
    db.session.add(room)
    try:
        db.session.flush()
    except IntegrityError:  # opened by someone else at the same moment: theirs it is
        db.session.rollback()
        return join(who, day), False
    db.session.add(PlanningMember(room_id=room.id, user_id=who.user_id))
    if room.post_status is PostStatus.pending:
        outbox.add(ws.id, POST_EFFECT, {"room_id": room.id})
    _audit(who, "planning.room_created", room, {"ready": ready, "threshold": needed})
    db.session.commit()
    return room, True


def join(who: Member, day: Any = None) -> PlanningRoom:
    """Join today's room; after the teams were saved a newcomer lands on the bench. Joining twice is one."""
    room = _room(who, day)
    if db.session.get(PlanningMember, (room.id, who.user_id)) is None:
        db.session.add(PlanningMember(room_id=room.id, user_id=who.user_id))
        _audit(who, "planning.joined", room)
        try:
            db.session.commit()
        except IntegrityError:  # the same member joined twice at once
            db.session.rollback()
    return room


def leave(who: Member, day: Any = None) -> PlanningRoom:
    """Leave today's room (and its team); the member's votes stay."""
    room = _room(who, day)
    if db.session.execute(delete(PlanningMember).where(PlanningMember.room_id == room.id,
                                                       PlanningMember.user_id == who.user_id)).rowcount:
        _audit(who, "planning.left", room)
    db.session.commit()
    return room


def clean_name(value: Any) -> str:
    """A team name: trimmed, inner whitespace collapsed, 1 to NAME_MAX characters, printable."""
    if not isinstance(value, str):
        raise BadRequest("'name' is a team name (text).")
    name = re.sub(r"\s+", " ", value).strip()
    if not name or len(name) > NAME_MAX or not name.isprintable():
        raise BadRequest(f"A team name has 1 to {NAME_MAX} characters on one line.")
    return name


def suggest(who: Member, name: Any, day: Any = None) -> tuple[TeamSuggestion, bool]:
    """Put a team name to the vote. A name that differs from an existing one only in case or spacing is that
    one (False: merged). The room is locked meanwhile (PostgreSQL), so its cap holds under a rush."""
    room = _joined(who, day, lock=True)
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
    _audit(who, "planning.suggested", room, {"name": name})
    db.session.commit()
    return suggestion, True


def _suggestion(room: PlanningRoom, suggestion_id: Any = None, name: Any = None) -> TeamSuggestion:
    """A suggestion of the room by id or (for bots) by name; 404 otherwise."""
    query = select(TeamSuggestion).where(TeamSuggestion.room_id == room.id)
    if suggestion_id is not None:
        number = inputs.as_whole_number(suggestion_id)
        if number is None:
            raise BadRequest("'suggestion_id' is a number.")
        query = query.where(TeamSuggestion.id == min(max(number, 0), inputs.MAX_ID))  # out of range: not found
    elif name is not None:
        query = query.where(TeamSuggestion.name_key == clean_name(name).casefold())
    else:
        raise BadRequest("Name the suggestion: 'suggestion_id' or 'name'.")
    found = db.session.scalar(query)
    if found is None:
        raise NotFound("No such suggestion in today's planning room.")
    return found


def vote(who: Member, suggestion_id: Any = None, name: Any = None, day: Any = None) -> bool:
    """Toggle the member's one vote for a suggestion: True when it now counts, False when withdrawn."""
    room = _joined(who, day)
    suggestion = _suggestion(room, suggestion_id, name)
    removed = db.session.execute(delete(SuggestionVote).where(SuggestionVote.suggestion_id == suggestion.id,
                                                              SuggestionVote.user_id == who.user_id)).rowcount
    if not removed:
        db.session.add(SuggestionVote(suggestion_id=suggestion.id, user_id=who.user_id))
    _audit(who, "planning.vote_withdrawn" if removed else "planning.voted", room, {"name": suggestion.name})
    try:
        db.session.commit()
    except IntegrityError:  # a double click raced itself: the vote is in
        db.session.rollback()
        return True
    return not removed


# -- teams --------------------------------------------------------------------------------------


def auto_draft(player_ids: Sequence[int], teams: int, seed: int) -> list[list[int]]:
    """Deal the players into `teams` teams whose sizes differ by at most one. The same players, team count
    and seed always give the same teams (the players' order does not matter)."""
    order = sorted(set(player_ids))
    random.Random(seed).shuffle(order)
    dealt: list[list[int]] = [[] for _ in range(teams)]
    for i, player_id in enumerate(order):
        dealt[i % teams].append(player_id)
    return dealt


def team_count(value: Any) -> int:
    count = inputs.as_whole_number(value)
    if count is None or not MIN_TEAMS <= count <= MAX_TEAMS:
        raise BadRequest(f"'teams' is a number of teams from {MIN_TEAMS} to {MAX_TEAMS}.")
    return count


def save_teams(who: Member, teams: Any, day: Any = None) -> PlanningRoom:
    """Save the teams: `[{"name": …, "players": [user id, …]}, …]`. Players of the room left out sit on the
    bench; a player on two teams, a stranger or a duplicate name → 400 and nothing saved."""
    room = _joined(who, day)
    if not isinstance(teams, list) or not MIN_TEAMS <= len(teams) <= MAX_TEAMS:
        raise BadRequest(f"'teams' is a list of {MIN_TEAMS} to {MAX_TEAMS} teams.")
    in_room = set(db.session.scalars(select(PlanningMember.user_id).where(PlanningMember.room_id == room.id)))
    names: list[str] = []
    placed: dict[int, int] = {}
    for position, team in enumerate(teams):
        if not isinstance(team, dict) or not isinstance(team.get("players", []), list):
            raise BadRequest('Each team is {"name": "…", "players": [player ids]}.')
        name = clean_name(team.get("name") or f"Team {position + 1}")
        if name.casefold() in (n.casefold() for n in names):
            raise BadRequest(f"Two teams are called {name!r}; team names differ.")
        names.append(name)
        for player in team.get("players", []):
            if not isinstance(player, int) or isinstance(player, bool) or player not in in_room:
                raise BadRequest(f"Player {str(player)[:20]!r} is not in this planning room.")
            if player in placed:
                raise BadRequest("A player is on one team at most.")
            placed[player] = position
    db.session.execute(update(PlanningMember).where(PlanningMember.room_id == room.id).values(team_id=None))
    db.session.execute(delete(PlanningTeam).where(PlanningTeam.room_id == room.id))
    db.session.flush()
    rows = [PlanningTeam(room_id=room.id, position=i, name=name) for i, name in enumerate(names)]
    db.session.add_all(rows)
    db.session.flush()
    by_team: dict[int, list[int]] = defaultdict(list)
    for player, position in placed.items():
        by_team[position].append(player)
    for position, players in by_team.items():
        db.session.execute(update(PlanningMember).where(PlanningMember.room_id == room.id,
                                                        PlanningMember.user_id.in_(players))
                           .values(team_id=rows[position].id))
    room.teams_saved_at = utcnow()
    names_of = services.player_names(who.workspace_id, in_room)

    def players(ids: Any) -> list[dict[str, Any]]:  # by id too: a deleted member's entry can be pseudonymised
        return [{"user_id": p, "name": names_of[p]} for p in sorted(ids, key=lambda p: (names_of[p], p))]

    _audit(who, "planning.teams_saved", room,
           {"teams": [{"name": name, "players": players(by_team[i])} for i, name in enumerate(names)],
            "bench": players(in_room - placed.keys())})
    db.session.commit()
    return room


def _seed(value: Any, default: int) -> int:
    if value in (None, ""):
        return default
    seed = inputs.as_whole_number(value)
    if seed is None:
        raise BadRequest("'seed' is a whole number of at most 30 digits.")
    return seed


def save_auto_draft(who: Member, count: Any, seed: Any = None, names: Any = None, day: Any = None) -> PlanningRoom:
    """Auto-draft everyone in the room into `count` balanced teams (seed: the room's own by default) and
    save them, named after the leading suggestions unless `names` are given."""
    count = team_count(count)
    room = _joined(who, day)
    current = view(services.workspace(who.workspace_id), who.user_id)
    if names is None:
        names = current.leading_names(count)
    if not isinstance(names, list) or len(names) != count:
        raise BadRequest(f"'names' lists {count} team names.")
    dealt = auto_draft([p.user_id for p in current.players], count, _seed(seed, room.seed))
    return save_teams(who, [{"name": n, "players": d} for n, d in zip(names, dealt, strict=True)], day)


def redraw(who: Member, form: Any) -> Draft:
    """The page's draft reworked, nothing written: a chip moved on (`move`), an auto-draft (`op=auto`, or
    `op=reshuffle` for the next seed), or the team count changed."""
    current = Draft.parse(_today_view(who), form)
    if form.get("move"):
        return current.moved(form["move"])
    if form.get("op") in ("auto", "reshuffle"):
        return current.auto(reshuffle=form["op"] == "reshuffle")
    return current


def _today_view(who: Member) -> Room:
    room = view(services.workspace(who.workspace_id), who.user_id)
    if room.room is None:
        raise NotFound(NO_ROOM, code="no_room")
    return room


@dataclass
class Draft:
    """The teams being drafted on the page: not stored until saved. `placement` maps a player to a team's
    index, or None for the bench."""

    count: int
    seed: int
    names: list[str]
    placement: dict[int, int | None]

    @classmethod
    def of(cls, room: Room) -> Draft:
        """The saved teams, or (before any were saved) two teams named after the leading suggestions and
        everyone on the bench."""
        assert room.room is not None
        saved = room.teams
        if len(saved) >= MIN_TEAMS:
            index = {team.id: i for i, (team, _) in enumerate(saved)}
            return cls(len(saved), room.room.seed, [team.name for team, _ in saved],
                       {p.user_id: index.get(p.team_id) if p.team_id else None for p in room.players})
        return cls(MIN_TEAMS, room.room.seed, room.leading_names(MIN_TEAMS), {p.user_id: None for p in room.players})

    @classmethod
    def parse(cls, room: Room, form: Any) -> Draft:
        """The page's draft form: `team_count`, `seed`, `team_name_<i>`, `player_<id>` = team index or "bench".
        Players who joined since the page was drawn land on the bench; a stranger's field is ignored."""
        assert room.room is not None
        count = team_count(form.get("team_count", MIN_TEAMS))
        defaults = room.leading_names(count)
        names = [(form.get(f"team_name_{i}") or "").strip() or defaults[i] for i in range(count)]
        placement: dict[int, int | None] = {}
        for player in room.players:
            index = inputs.as_whole_number(form.get(f"player_{player.user_id}", "bench"))  # "bench" → None
            placement[player.user_id] = index if index is not None and 0 <= index < count else None
        return cls(count, _seed(form.get("seed"), room.room.seed), names, placement)

    def moved(self, user_id: Any) -> Draft:
        """Click a chip: the player moves on to the next team (the last team → the bench → the first)."""
        player = inputs.as_whole_number(user_id)
        if player not in self.placement:
            raise BadRequest("'move' names a player of the room.")
        now = self.placement[player]
        self.placement[player] = 0 if now is None else (None if now + 1 >= self.count else now + 1)
        return self

    def auto(self, reshuffle: bool = False) -> Draft:
        """Everyone dealt into balanced teams; `reshuffle` tries the next seed."""
        if reshuffle:
            self.seed += 1
        for index, team in enumerate(auto_draft(list(self.placement), self.count, self.seed)):
            self.placement.update(dict.fromkeys(team, index))
        return self

    def team(self, index: int | None) -> list[int]:
        return [player for player, at in self.placement.items() if at == index]

    def as_teams(self) -> list[dict[str, Any]]:
        return [{"name": name, "players": self.team(i)} for i, name in enumerate(self.names)]

    @classmethod
    def of_form(cls, who: Member, form: Any) -> Draft:
        """The page's draft as it stands (to save it, or to show it again with an error)."""
        return cls.parse(_today_view(who), form)


# -- settings and the announcement --------------------------------------------------------------


def update_settings(actor: Actor, threshold_value: Any, post_target: Any = None) -> None:
    """Admins: how many ready members unlock the room, and where a new room is announced (an Apprise URL;
    None keeps it, "" clears it)."""
    actor.require(Role.admin, "change the game-night settings")
    needed = inputs.as_whole_number(threshold_value)
    if needed is None or not 1 <= needed <= THRESHOLD_MAX:
        raise BadRequest(f"The planning threshold is a number of members from 1 to {THRESHOLD_MAX}.")
    row = services.settings_row(actor.workspace_id)
    row.planning_threshold = needed
    details: dict[str, Any] = {"planning_threshold": needed}
    if post_target is not None:
        row.planning_post_target_sealed, row.planning_post_target_hint = services.apprise_target(post_target)
        details["announcement"] = row.planning_post_target_hint or None
    audit.record(actor, "gamenight.planning_settings_updated", "workspace", actor.workspace_id, details)
    db.session.commit()


@outbox.handler(POST_EFFECT, outside=True)
def post_room(effect: OutboxEffect) -> dict[str, Any]:
    """Announce a new room in the workspace's channel. A failure is written on the room (the page shows it)
    and raised: one that provably never reached the channel is retried with back-off, one that may have
    (no answer after sending, a 5xx) is `unknown` and never posted again."""
    from webapp.notify import delivery
    from webapp.notify.transport import Outcome

    room = db.session.get(PlanningRoom, effect.payload["room_id"])
    if room is None or room.post_status in (PostStatus.sent, PostStatus.unknown):
        return {"skipped": "room gone or announced"}
    sealed = services.settings(room.workspace_id).planning_post_target_sealed
    if not sealed:
        room.post_status, room.post_error = PostStatus.off, ""
        db.session.commit()
        return {"skipped": "no announcement channel"}
    ws = services.workspace(room.workspace_id)
    ready = services.ready(ws.id, room.day)
    link = current_app.config["SETTINGS"].PUBLIC_URL.rstrip("/") + "/planning/today"
    try:
        outcome, answer = delivery.send(unseal(sealed), f"Planning room open · {ws.name}",
                                        f"{ready} players are ready for {room.day.strftime('%A %d %B')}. Join the "
                                        f"planning room, suggest team names and vote: {link}", f"planning:{room.id}:post")
    except Exception as exc:  # noqa: BLE001 — an unusable target is a failed post, recorded like one
        outcome, answer = Outcome.refused, type(exc).__name__
    if outcome is Outcome.sent:
        room.post_status, room.post_error = PostStatus.sent, ""
    elif outcome is Outcome.ambiguous:
        room.post_status, room.post_error = PostStatus.unknown, answer[:300]
    else:  # the outbox counted this attempt when it claimed the effect
        last = effect.attempts >= effect.max_attempts
        room.post_status, room.post_error = PostStatus.failed if last else PostStatus.retrying, answer[:300]
    db.session.commit()
    if outcome is Outcome.ambiguous:
        raise OutcomeUnknown(f"the announcement: {answer}")
    if outcome is not Outcome.sent:
        raise RuntimeError(f"the announcement was not accepted: {answer}")
    return {"sent": True}
