"""The planning pages: opening, joining, suggesting, voting, drafting and saving from the page, errors in
the room, CSRF, tenancy, sign-in, the past page."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from tests.gamenight.steps import count
from webapp.extensions import db as _db
from webapp.gamenight import night_settings, planning_rooms, team_names, teams
from webapp.gamenight.models import (
    PlanningRoom,
    PlanningTeam,
    SuggestionVote,
    TeamSuggestion,
)


def test_the_past_page_shows_the_room_without_controls(ws, room, auth):
    yesterday = room.day - timedelta(days=1)
    room.day = yesterday
    _db.session.commit()
    auth.login("p1@example.com")
    page = auth.get(f"/planning/{yesterday.isoformat()}").get_data(as_text=True)
    assert "read-only" in page and "Player 6" in page
    assert "Join the room" not in page and "Suggest" not in page and "Save teams" not in page
    answer = auth.post("/planning/today/join", data={"day": yesterday.isoformat()})
    assert answer.status_code == 409 and "read-only" in answer.get_data(as_text=True)


# -- pages --------------------------------------------------------------------------------------


def test_a_member_opens_joins_suggests_votes_drafts_and_saves_from_the_page(ws, auth):
    members = ws.players(6)
    today = night_settings.local_today(night_settings.workspace(ws.id)).isoformat()
    auth.login("p1@example.com")
    availability = auth.get("/w/acme/availability").get_data(as_text=True)
    assert "Open the planning room" in availability
    assert auth.post("/planning/today/create", data={"day": today}).status_code == 303
    room = _db.session.scalars(select(PlanningRoom)).one()
    page = auth.post("/planning/today/suggestions", htmx=True, data={"day": today, "name": "Owls"})
    assert page.status_code == 200 and 'id="planning-shared"' in page.get_data(as_text=True)
    assert "<html" not in page.get_data(as_text=True)  # the room block alone
    owls = _db.session.scalars(select(TeamSuggestion)).one()
    auth.post(f"/planning/today/suggestions/{owls.id}/vote", htmx=True, data={"day": today})
    assert count(SuggestionVote) == 1
    for who in members[1:]:
        planning_rooms.join(who)
    form = {"day": today, "team_count": "2", "seed": "5", "op": "auto",
            **{f"player_{m.user_id}": "bench" for m in members}}
    drafted = auth.post("/planning/today/draft", htmx=True, data=form).get_data(as_text=True)
    assert count(PlanningTeam) == 0  # a draft is not saved
    placement = dict(re.findall(r'name="player_(\d+)" value="(\w+)"', drafted))
    assert sorted(placement.values()) == ["0", "0", "0", "1", "1", "1"]
    expected = teams.auto_draft([m.user_id for m in members], 2, 5)
    assert {int(u) for u, team in placement.items() if team == "0"} == set(expected[0])
    saved = auth.post("/planning/today/teams", htmx=True,
                      data={"day": today, "team_count": "2", "seed": "5", "team_name_0": "Owls", "team_name_1": "Bats",
                            **{f"player_{u}": team for u, team in placement.items()}})
    assert saved.status_code == 200 and "saved" in saved.get_data(as_text=True)
    assert [t.name for t in _db.session.scalars(select(PlanningTeam).order_by(PlanningTeam.position))] == \
        ["Owls", "Bats"]
    assert room.id == _db.session.scalars(select(PlanningTeam.room_id)).first()


def test_clicking_a_chip_moves_the_player_on_without_saving(ws, room, auth):
    a = room.members_[0]
    today = room.day.isoformat()
    auth.login("p1@example.com")
    base = {"day": today, "team_count": "2", "seed": "1", **{f"player_{m.user_id}": "bench" for m in room.members_}}
    page = auth.post("/planning/today/draft", htmx=True, data={**base, "move": str(a.user_id)}).get_data(as_text=True)
    assert f'name="player_{a.user_id}" value="0"' in page
    page = auth.post("/planning/today/draft", htmx=True,
                     data={**base, f"player_{a.user_id}": "1", "move": str(a.user_id)}).get_data(as_text=True)
    assert f'name="player_{a.user_id}" value="bench"' in page
    assert count(PlanningTeam) == 0


def test_page_errors_come_back_in_the_room_with_their_status(ws, auth):
    ws.players(2)
    auth.login("p1@example.com")
    answer = auth.post("/planning/today/create", htmx=True, data={})
    assert answer.status_code == 409 and "unlocks" in answer.get_data(as_text=True) or "opens" in \
        answer.get_data(as_text=True)
    assert count(PlanningRoom) == 0


def test_planning_posts_need_the_csrf_token(ws, room, client, auth):
    auth.login("p1@example.com")
    for url in ("/planning/today/create", "/planning/today/join", "/planning/today/leave",
                "/planning/today/suggestions", "/planning/today/suggestions/1/vote", "/planning/today/draft",
                "/planning/today/teams"):
        assert client.post(url, data={"day": room.day.isoformat(), "name": "X"}).status_code == 400, url
    assert count(TeamSuggestion) == 0


def test_another_workspace_cannot_touch_the_room(ws, room, factories, auth):
    owls, _ = team_names.suggest(room.members_[0], "Owls")
    other = factories.user("admin", "Globex", email="g@example.com")
    factories.player(other.workspace_id, "gplayer@example.com", "available")
    auth.login("gplayer@example.com")
    answer = auth.post(f"/planning/today/suggestions/{owls.id}/vote", data={"day": room.day.isoformat()})
    assert answer.status_code == 404 and count(SuggestionVote) == 0
    assert "Owls" not in auth.get("/planning/today").get_data(as_text=True)


def test_the_planning_pages_need_a_sign_in(client, room):
    assert client.get("/planning/today").status_code == 302
    assert client.get(f"/planning/{room.day.isoformat()}").status_code == 302


def test_a_bad_date_in_the_url_is_404(ws, auth):
    ws.players(1)
    auth.login("p1@example.com")
    assert auth.get("/planning/2026-13-01").status_code == 404
    assert auth.get("/planning/yesterday").status_code == 404


def test_a_refused_save_shows_the_draft_as_it_was(ws, room, auth):
    a, b = room.members_[:2]
    auth.login("p1@example.com")
    form = {"day": room.day.isoformat(), "team_count": "2", "seed": "1", "team_name_0": "Owls", "team_name_1": "owls",
            **{f"player_{m.user_id}": "bench" for m in room.members_}, f"player_{a.user_id}": "1",
            f"player_{b.user_id}": "²"}  # a digit Python's isdigit() accepts and int() refuses: the bench
    answer = auth.post("/planning/today/teams", htmx=True, data=form)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400 and "Two teams" in page and count(PlanningTeam) == 0
    assert f'name="player_{a.user_id}" value="1"' in page and f'name="player_{b.user_id}" value="bench"' in page
    assert 'value="owls"' in page  # the names as typed, to fix
