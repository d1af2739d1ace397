"""Team-name suggestions and votes in the planning room."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.gamenight.steps import count
from webapp.audit.models import AuditEvent
from webapp.errors import BadRequest, Conflict, NotFound
from webapp.extensions import db as _db
from webapp.gamenight import night_settings, planning_rooms, team_names, teams
from webapp.gamenight.models import (
    PlanningTeam,
    SuggestionVote,
    TeamSuggestion,
)

# -- suggestions and votes ----------------------------------------------------------------------


def test_suggestions_are_trimmed_and_merge_case_insensitively(room):
    a, b = room.members_[:2]
    first, new = team_names.suggest(a, "  Red   Dragons ")
    same, new_again = team_names.suggest(b, "red\n dragons")
    assert new and not new_again and same.id == first.id and first.name == "Red Dragons"
    assert count(TeamSuggestion) == 1


@pytest.mark.parametrize("name", ["", "   ", "x" * 41, "bell\x07", None, 7])
def test_a_bad_team_name_is_a_400_and_writes_nothing(room, name):
    with pytest.raises(BadRequest):
        team_names.suggest(room.members_[0], name)
    assert count(TeamSuggestion) == 0


def test_one_vote_per_member_per_suggestion_and_voting_again_withdraws_it(room):
    a, b, c = room.members_[:3]
    owls, _ = team_names.suggest(a, "Owls")
    bats, _ = team_names.suggest(a, "Bats")
    assert team_names.vote(a, owls.id) is True
    assert team_names.vote(b, owls.id) is True
    assert team_names.vote(c, bats.id) is True
    assert team_names.vote(a, owls.id) is False  # withdrawn
    assert team_names.vote(a, owls.id) is True  # and back
    assert count(SuggestionVote) == 3
    view = planning_rooms.view(night_settings.workspace(a.workspace_id), a.user_id)
    assert [(s.name, s.votes, s.mine) for s in view.suggestions] == [("Owls", 2, True), ("Bats", 1, False)]
    assert view.leading_names(3) == ["Owls", "Bats", "Team 3"]
    actions = _db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("planning.vote%"))).all()
    assert actions.count("planning.voted") == 4 and actions.count("planning.vote_withdrawn") == 1


def test_default_team_names_never_repeat_a_leading_suggestion(room):
    a = room.members_[0]
    clash, _ = team_names.suggest(a, "team 2")
    team_names.vote(a, clash.id)
    assert planning_rooms.view(night_settings.workspace(a.workspace_id), None).leading_names(3) == ["team 2", "Team 3", "Team 4"]
    teams.save_auto_draft(a, 2)  # saves: no two teams share a name
    assert [t.name for t in _db.session.scalars(select(PlanningTeam).order_by(PlanningTeam.position))] == \
        ["team 2", "Team 3"]


def test_leading_names_put_the_most_voted_first(room):
    a, b, c = room.members_[:3]
    early, _ = team_names.suggest(a, "Early")
    late, _ = team_names.suggest(a, "Late")
    for who in (a, b, c):
        team_names.vote(who, late.id)
    team_names.vote(a, early.id)
    names = [s.name for s in planning_rooms.view(night_settings.workspace(a.workspace_id), None).suggestions]
    assert names == ["Late", "Early"]


def test_a_member_outside_the_room_cannot_vote_and_a_foreign_suggestion_is_404(room, ws, factories):
    outsider = ws.players(1, prefix="o")[0]
    owls, _ = team_names.suggest(room.members_[0], "Owls")
    with pytest.raises(Conflict):
        team_names.vote(outsider, owls.id)
    with pytest.raises(NotFound):
        team_names.vote(room.members_[0], owls.id + 999)
    assert count(SuggestionVote) == 0


def test_suggestions_by_name_serve_bots(room):
    team_names.suggest(room.members_[0], "Owls")
    assert team_names.vote(room.members_[1], name="  OWLS") is True
