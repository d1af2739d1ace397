"""Teams of today's planning room: the seeded auto-draft that balances sizes, the draft a member reworks on
the page (`Draft`, not stored until saved) and saving the teams (players left out sit on the bench)."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, Strict
from sqlalchemy import delete, select, update

from webapp import inputs
from webapp.commands import Command, Flag, whole
from webapp.errors import BadRequest, NotFound
from webapp.extensions import db, utcnow
from webapp.gamenight import night_settings
from webapp.gamenight.models import PlanningMember, PlanningRoom, PlanningTeam
from webapp.gamenight.planning_rooms import (
    MAX_TEAMS,
    NO_ROOM,
    Day,
    Member,
    PlanningDay,
    RoomChange,
    audit_change,
    joined_room,
    view,
)
from webapp.gamenight.players import player_names
from webapp.gamenight.team_names import TeamName, clean_name

MIN_TEAMS = 2
MAX_SEED = 10**30 - 1  # at most 30 digits, as everywhere


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


def save_teams(who: Member, teams: Sequence[Mapping[str, Any]], day: Day = "today") -> PlanningRoom:
    """Save the teams: `[{"name": …, "players": [user id, …]}, …]`. Players of the room left out sit on the
    bench; a player on two teams, a stranger or a duplicate name → 400 and nothing saved."""
    room = joined_room(who, day)
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
    names_of = player_names(who.workspace_id, in_room)

    def players(ids: Any) -> list[dict[str, Any]]:  # by id too: a deleted member's entry can be pseudonymised
        return [{"user_id": p, "name": names_of[p]} for p in sorted(ids, key=lambda p: (names_of[p], p))]

    audit_change(who, "planning.teams_saved", room,
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


def save_auto_draft(who: Member, count: int, seed: int | None = None, names: Sequence[str] | None = None,
                    day: Day = "today") -> PlanningRoom:
    """Auto-draft everyone in the room into `count` balanced teams (seed: the room's own by default) and
    save them, named after the leading suggestions unless `names` are given."""
    count = team_count(count)
    room = joined_room(who, day)
    current = view(night_settings.workspace(who.workspace_id), who.user_id)
    if names is None:
        names = current.leading_names(count)
    if not isinstance(names, (list, tuple)) or len(names) != count:
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


def _today_view(who: Member) -> PlanningDay:
    room = view(night_settings.workspace(who.workspace_id), who.user_id)
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
    def of(cls, room: PlanningDay) -> Draft:
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
    def parse(cls, room: PlanningDay, form: Any) -> Draft:
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


class TeamIn(Command):
    """One team of `{"teams": [...]}`: its name (default Team N) and its players' ids."""

    name: TeamName | None = None
    players: list[Annotated[int, Strict()]] = Field(default_factory=list)


class TeamsCommand(RoomChange):
    """`{"teams": [...]}` saves these teams; `{"auto": true, "team_count", "seed"?, "names"?}` auto-drafts
    everyone in the room into `team_count` balanced teams and saves them."""

    teams: list[TeamIn] | None = None
    auto: Flag = False
    team_count: whole(MIN_TEAMS, MAX_TEAMS) | None = None  # type: ignore[valid-type]
    seed: whole(-MAX_SEED, MAX_SEED) | None = None  # type: ignore[valid-type]
    names: list[TeamName] | None = None


def save(who: Member, command: TeamsCommand) -> PlanningRoom:
    """The API's teams: the auto-draft, or the teams as sent."""
    if command.auto:
        return save_auto_draft(who, command.team_count or 0, command.seed, command.names, command.day)
    teams = None if command.teams is None else [t.model_dump(exclude_none=True) for t in command.teams]
    return save_teams(who, teams, command.day)  # type: ignore[arg-type]  # None: the service's 400
