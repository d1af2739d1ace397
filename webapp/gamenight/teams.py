"""Teams of today's planning room: the seeded auto-draft that balances sizes, the draft a member reworks on
the page (`Draft`, not stored until saved) and saving the teams (players left out sit on the bench)."""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, Strict, model_validator
from sqlalchemy import delete, select, update

from webapp import inputs
from webapp.commands import Command, Flag, Id, Text, bad_request, parse, whole
from webapp.errors import BadRequest, NotFound
from webapp.extensions import db, utcnow
from webapp.gamenight import discord_threads, night_settings
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


class TeamIn(Command):
    """One team of `{"teams": [...]}`: its name (default Team N) and its players' ids."""

    name: TeamName | None = None
    players: list[Annotated[int, Strict()]] = Field(default_factory=list)


def _team_list(teams: list[TeamIn]) -> list[TeamIn]:
    if not MIN_TEAMS <= len(teams) <= MAX_TEAMS:
        raise bad_request(f"is a list of {MIN_TEAMS} to {MAX_TEAMS} teams")
    return teams


Teams = Annotated[list[TeamIn], AfterValidator(_team_list)]
"""2 to 8 teams (400 otherwise)."""
TeamCount = whole(MIN_TEAMS, MAX_TEAMS)
Seed = whole(-MAX_SEED, MAX_SEED)


def save_teams(who: Member, teams: Sequence[TeamIn], day: Day = "today") -> PlanningRoom:
    """Save the teams (`Teams`: 2 to 8). Players of the room left out sit on the bench; a player on two teams,
    a stranger or a duplicate name → 400 and nothing saved."""
    room = joined_room(who, day)
    in_room = set(db.session.scalars(select(PlanningMember.user_id).where(PlanningMember.room_id == room.id)))
    names: list[str] = []
    placed: dict[int, int] = {}
    for position, team in enumerate(teams):
        name = team.name or f"Team {position + 1}"
        if name.casefold() in (n.casefold() for n in names):
            raise BadRequest(f"Two teams are called {name!r}; team names differ.")
        names.append(name)
        for player in team.players:
            if player not in in_room:
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
    discord_threads.teams_saved(room)
    names_of = player_names(who.workspace_id, in_room)

    def players(ids: Any) -> list[dict[str, Any]]:  # by id too: a deleted member's entry can be pseudonymised
        return [{"user_id": p, "name": names_of[p]} for p in sorted(ids, key=lambda p: (names_of[p], p))]

    audit_change(who, "planning.teams_saved", room,
           {"teams": [{"name": name, "players": players(by_team[i])} for i, name in enumerate(names)],
            "bench": players(in_room - placed.keys())})
    db.session.commit()
    return room


def save_auto_draft(who: Member, count: int, seed: int | None = None, names: Sequence[str] | None = None,
                    day: Day = "today") -> PlanningRoom:
    """Auto-draft everyone in the room into `count` (`TeamCount`) balanced teams (seed: the room's own by
    default) and save them, named after the leading suggestions unless `names` are given."""
    room = joined_room(who, day)
    current = view(night_settings.workspace(who.workspace_id), who.user_id)
    if names is None:
        names = current.leading_names(count)
    if len(names) != count:
        raise BadRequest(f"'names' lists {count} team names.")
    dealt = auto_draft([p.user_id for p in current.players], count, room.seed if seed is None else seed)
    return save_teams(who, [TeamIn(name=n, players=d) for n, d in zip(names, dealt, strict=True)], day)


_DRAFT_FIELD = re.compile(r"(team_name|player)_([0-9]{1,18})")


class DraftForm(Command):
    """The page's draft form: `team_count`, `seed`, `team_name_<i>`, `player_<id>` (a team's index or
    "bench"), and what to do with it: `move` (a player's id: their chip moves on) or `op` (auto, reshuffle)."""

    team_count: TeamCount = MIN_TEAMS
    seed: Seed | None = None
    names: dict[int, Text] = Field(default_factory=dict)
    placement: dict[int, str] = Field(default_factory=dict)
    move: Id | None = None
    op: Literal["auto", "reshuffle"] | None = None

    @classmethod
    def of(cls, form: Mapping[str, str]) -> DraftForm:
        """The form's fields as the model reads them: empty values count as not sent."""
        data: dict[str, Any] = {k: form[k] for k in ("team_count", "seed", "move", "op") if form.get(k)}
        for key, value in form.items():
            if field := _DRAFT_FIELD.fullmatch(key):
                data.setdefault("names" if field[1] == "team_name" else "placement", {})[int(field[2])] = value
        return parse(cls, data)


def redraw(who: Member, form: DraftForm) -> Draft:
    """The page's draft reworked, nothing written: a chip moved on (`move`), an auto-draft (`op=auto`, or
    `op=reshuffle` for the next seed), or the team count changed."""
    current = Draft.parse(_today_view(who), form)
    if form.move is not None:
        return current.moved(form.move)
    if form.op:
        return current.auto(reshuffle=form.op == "reshuffle")
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
    def parse(cls, room: PlanningDay, form: DraftForm) -> Draft:
        """The page's draft as the form sent it. Players who joined since the page was drawn land on the bench,
        so does a player placed on a team that is no longer there ("bench" or a stale index); a stranger's
        field is ignored."""
        assert room.room is not None
        count = form.team_count
        defaults = room.leading_names(count)
        names = [form.names.get(i, "").strip() or defaults[i] for i in range(count)]
        placement: dict[int, int | None] = {}
        for player in room.players:
            index = inputs.as_whole_number(form.placement.get(player.user_id, "bench"))  # "bench" → None
            placement[player.user_id] = index if index is not None and 0 <= index < count else None
        return cls(count, room.room.seed if form.seed is None else form.seed, names, placement)

    def moved(self, player: int) -> Draft:
        """Click a chip: the player moves on to the next team (the last team → the bench → the first)."""
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

    def as_teams(self) -> list[TeamIn]:
        return [TeamIn(name=clean_name(name), players=self.team(i)) for i, name in enumerate(self.names)]

    @classmethod
    def of_form(cls, who: Member, form: DraftForm) -> Draft:
        """The page's draft as it stands (to save it, or to show it again with an error)."""
        return cls.parse(_today_view(who), form)


class TeamsCommand(RoomChange):
    """`{"teams": [...]}` saves these teams; `{"auto": true, "team_count", "seed"?, "names"?}` auto-drafts
    everyone in the room into `team_count` balanced teams and saves them."""

    teams: Teams | None = None
    auto: Flag = False
    team_count: TeamCount | None = None  # type: ignore[valid-type]
    seed: Seed | None = None  # type: ignore[valid-type]
    names: list[TeamName] | None = None

    @model_validator(mode="after")
    def _one_way(self) -> TeamsCommand:
        if self.auto and self.team_count is None:
            raise bad_request("'team_count' is required with auto")
        if not self.auto and self.teams is None:
            raise bad_request(f"'teams' is required: a list of {MIN_TEAMS} to {MAX_TEAMS} teams (or send auto)")
        return self


def save(who: Member, command: TeamsCommand) -> PlanningRoom:
    """The API's teams: the auto-draft, or the teams as sent."""
    if command.auto:
        assert command.team_count is not None  # the command's rule
        return save_auto_draft(who, command.team_count, command.seed, command.names, command.day)
    assert command.teams is not None
    return save_teams(who, command.teams, command.day)
