"""The planning room: the threshold unlock, joining and leaving, the read-only past, a future day."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.gamenight.steps import count
from webapp.audit.models import AuditEvent
from webapp.commands import parse
from webapp.errors import BadRequest, Conflict, NotFound
from webapp.extensions import db as _db
from webapp.gamenight import night_settings, planning_rooms, planning_settings, team_names, teams
from webapp.gamenight.models import (
    PlanningMember,
    PlanningRoom,
    PlanningTeam,
    SuggestionVote,
    TeamSuggestion,
)
from webapp.gamenight.planning_rooms import Member

# -- the threshold ------------------------------------------------------------------------------


def test_the_room_stays_locked_below_the_threshold_and_opens_at_it(ws):
    members = ws.players(5) + ws.players(2, "maybe", "m") + ws.players(1, "not_available", "n")
    with pytest.raises(Conflict) as caught:
        planning_rooms.create(members[0])
    assert caught.value.code == "below_threshold" and "6" in caught.value.message
    assert count(PlanningRoom) == 0
    assert planning_rooms.view(night_settings.workspace(ws.id), members[0].user_id).unlocked is False

    looking = ws.players(1, "looking", "l")  # available + looking count; maybe and not available do not
    created, new = planning_rooms.create(looking[0])
    assert new and created.day == night_settings.local_today(night_settings.workspace(ws.id))
    assert _db.session.get(PlanningMember, (created.id, looking[0].user_id)) is not None  # the opener is in it
    assert _db.session.scalar(select(AuditEvent.action).where(AuditEvent.resource_type == "planning_room")) == \
        "planning.room_created"


def test_opening_an_open_room_returns_it_and_the_threshold_is_a_setting(ws):
    members = ws.players(3)
    planning_settings.update_settings(ws.actor, 3)
    first, new = planning_rooms.create(members[0])
    again, new_again = planning_rooms.create(members[1])
    assert new and not new_again and again.id == first.id and count(PlanningRoom) == 1
    with pytest.raises(BadRequest):
        planning_settings.save(ws.actor, parse(planning_settings.PlanningSettingsCommand, {"planning_threshold": 0}))
    assert night_settings.settings(ws.id).planning_threshold == 3


def test_only_admins_change_the_threshold(ws, factories):
    viewer = factories.user("promoter", "Acme")
    with pytest.raises(Exception) as caught:
        planning_settings.update_settings(viewer, 2)
    assert caught.value.status == 403 and night_settings.settings(ws.id).planning_threshold == 6


def test_an_unlinked_member_cannot_open_or_join(ws, factories, room):
    stranger = factories.user("viewer", "Acme")
    with pytest.raises(Conflict) as caught:
        planning_rooms.join(Member.of(stranger))
    assert caught.value.code == "not_linked"


def test_joining_twice_is_one_membership_and_leaving_removes_it(room):
    who = room.members_[1]
    planning_rooms.join(who)
    assert count(PlanningMember) == 6
    planning_rooms.leave(who)
    assert _db.session.get(PlanningMember, (room.id, who.user_id)) is None
    with pytest.raises(Conflict) as caught:
        team_names.suggest(who, "Owls")
    assert caught.value.code == "not_in_room"


# -- after the day ------------------------------------------------------------------------------


def test_the_room_is_read_only_once_its_day_has_ended(ws, room):
    a = room.members_[0]
    owls, _ = team_names.suggest(a, "Owls")
    yesterday = room.day - timedelta(days=1)
    room.day = yesterday  # as if midnight has passed since the page was drawn
    _db.session.commit()
    for change in (lambda: planning_rooms.join(a, yesterday), lambda: planning_rooms.leave(a, yesterday),
                   lambda: team_names.suggest(a, "Bats", yesterday),
                   lambda: team_names.vote(a, owls.id, day=yesterday),
                   lambda: teams.save_auto_draft(a, 2, day=yesterday),
                   lambda: planning_rooms.create(a, yesterday)):
        with pytest.raises(Conflict) as caught:
            change()
        assert caught.value.code == "room_closed"
    assert count(SuggestionVote) == 0 and count(TeamSuggestion) == 1 and count(PlanningTeam) == 0
    with pytest.raises(NotFound):  # and today is another day, with no room yet
        planning_rooms.join(a)
    past = planning_rooms.view(night_settings.workspace(ws.id), a.user_id, yesterday)
    assert past.read_only and past.room.id == room.id and len(past.players) == 6


def test_a_future_day_is_not_open_yet(ws, room, auth, client, bot):
    tomorrow = (room.day + timedelta(days=1)).isoformat()
    with pytest.raises(Conflict) as caught:
        planning_rooms.join(room.members_[0], room.day + timedelta(days=1))
    assert caught.value.code == "room_not_open_yet"
    auth.login("p1@example.com")
    page = auth.get(f"/planning/{tomorrow}").get_data(as_text=True)
    assert "Open the planning room" not in page and "opens on its day" in page
