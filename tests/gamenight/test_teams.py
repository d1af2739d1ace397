"""Teams of the planning room: the seeded auto-draft and saving teams."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.gamenight.steps import count
from webapp.audit.models import AuditEvent
from webapp.commands import parse
from webapp.errors import BadRequest
from webapp.extensions import db as _db
from webapp.gamenight import night_settings, planning_rooms, team_names
from webapp.gamenight import teams as planning_teams
from webapp.gamenight.models import (
    PlanningMember,
    PlanningTeam,
)
from webapp.gamenight.teams import TeamIn

# -- the auto-draft -----------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(players=st.sets(st.integers(1, 10_000), max_size=60), teams=st.integers(2, 8), seed=st.integers(0, 2**31))
def test_the_auto_draft_balances_sizes_and_is_the_same_for_the_same_input(players, teams, seed):
    dealt = planning_teams.auto_draft(list(players), teams, seed)
    sizes = [len(t) for t in dealt]
    assert len(dealt) == teams and max(sizes) - min(sizes) <= 1
    assert sorted(p for t in dealt for p in t) == sorted(players)
    assert planning_teams.auto_draft(sorted(players, reverse=True), teams, seed) == dealt  # order does not matter


def test_another_seed_gives_another_draft():
    players = list(range(1, 13))
    assert planning_teams.auto_draft(players, 2, 1) == planning_teams.auto_draft(players, 2, 1)
    assert any(planning_teams.auto_draft(players, 2, 1) != planning_teams.auto_draft(players, 2, s) for s in range(2, 6))


def test_auto_draft_saves_balanced_teams_named_after_the_leading_suggestions(room):
    a = room.members_[0]
    owls, _ = team_names.suggest(a, "Owls")
    team_names.vote(a, owls.id)
    planning_teams.save_auto_draft(a, 3, seed=42)
    teams = _db.session.scalars(select(PlanningTeam).order_by(PlanningTeam.position)).all()
    assert [t.name for t in teams] == ["Owls", "Team 2", "Team 3"]
    sizes = [_db.session.scalar(select(func.count()).select_from(PlanningMember).where(PlanningMember.team_id == t.id))
             for t in teams]
    assert sizes == [2, 2, 2]
    placed = {m.user_id: m.team_id for m in _db.session.scalars(select(PlanningMember))}
    planning_teams.save_auto_draft(a, 3, seed=42)  # the same input: the same teams
    again = {m.user_id: m.team_id for m in _db.session.scalars(select(PlanningMember))}
    positions = {t.id: t.position for t in _db.session.scalars(select(PlanningTeam))}
    old_positions = {t.id: t.position for t in teams}
    assert {u: old_positions[t] for u, t in placed.items()} == {u: positions[t] for u, t in again.items()}


# -- saving teams -------------------------------------------------------------------------------


def test_saved_teams_are_stored_audited_and_a_late_joiner_lands_on_the_bench(room, ws):
    a, b, c, d, e, f = room.members_
    planning_teams.save_teams(a, [TeamIn(name="Owls", players=[a.user_id, b.user_id, c.user_id]),
                                  TeamIn(name="Bats", players=[d.user_id, e.user_id])])  # f left out: the bench
    view = planning_rooms.view(night_settings.workspace(ws.id), a.user_id)
    assert [(team.name, [p.user_id for p in players]) for team, players in view.teams] == \
        [("Owls", [a.user_id, b.user_id, c.user_id]), ("Bats", [d.user_id, e.user_id])]
    assert [p.user_id for p in view.bench] == [f.user_id]
    event = _db.session.scalar(select(AuditEvent).where(AuditEvent.action == "planning.teams_saved"))
    assert event.details["teams"][0] == {"name": "Owls", "players": [
        {"user_id": a.user_id, "name": "Player 1"}, {"user_id": b.user_id, "name": "Player 2"},
        {"user_id": c.user_id, "name": "Player 3"}]}
    assert event.details["bench"] == [{"user_id": f.user_id, "name": "Player 6"}] and event.actor_id == a.user_id

    late = ws.players(1, prefix="late")[0]
    planning_rooms.join(late)
    assert late.user_id in [p.user_id for p in planning_rooms.view(night_settings.workspace(ws.id), None).bench]


@pytest.mark.parametrize("teams", [
    "Owls", [], [{"name": "Solo", "players": []}],
    [{"name": "A", "players": [0]}, {"name": "B", "players": []}],  # a stranger
    [{"name": "Same", "players": []}, {"name": "same", "players": []}],
    [{"name": "A", "players": ["1"]}, {"name": "B", "players": []}],
    [{"name": "A", "players": []}] * 9,
])
def test_invalid_teams_are_a_400_and_nothing_is_saved(room, teams):
    with pytest.raises(BadRequest):  # the shape in the command, strangers and duplicate names in the service
        planning_teams.save(room.members_[0], parse(planning_teams.TeamsCommand, {"teams": teams}))
    assert count(PlanningTeam) == 0 and room.teams_saved_at is None


def test_a_player_on_two_teams_is_a_400(room):
    a = room.members_[0]
    with pytest.raises(BadRequest):
        planning_teams.save_teams(a, [TeamIn(name="A", players=[a.user_id]), TeamIn(name="B", players=[a.user_id])])
