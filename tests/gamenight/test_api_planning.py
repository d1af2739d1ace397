"""The planning room over JSON: bots and members drive it, bad input writes nothing, a stale date is 409."""

from __future__ import annotations

from datetime import timedelta

from tests.gamenight.steps import count
from webapp.gamenight import planning_rooms
from webapp.gamenight.models import (
    PlanningRoom,
    PlanningTeam,
    TeamSuggestion,
)

# -- the JSON API -------------------------------------------------------------------------------


def test_bots_and_members_drive_the_room_over_json(client, ws, bot, factories):
    members = ws.players(6)
    state = client.get("/api/v1/planning/today", headers=bot).get_json()
    assert state["ready"] == 6 and state["threshold"] == 6 and state["unlocked"] and state["room"] is None
    who = {"channel": "discord", "external_id": "p-1"}
    created = client.post("/api/v1/planning/today/create", headers=bot, json=who)
    assert created.status_code == 201 and created.get_json()["room"]["joined"] is True
    assert client.post("/api/v1/planning/today/create", headers=bot, json=who).status_code == 200
    suggested = client.post("/api/v1/planning/today/suggestions", headers=bot, json={**who, "name": " Owls "})
    assert suggested.status_code == 201 and suggested.get_json()["suggestion"]["name"] == "Owls"
    merged = client.post("/api/v1/planning/today/suggestions", headers=bot, json={**who, "name": "owls"})
    assert merged.status_code == 200 and merged.get_json()["created"] is False
    voted = client.post("/api/v1/planning/today/vote", headers=bot, json={**who, "name": "Owls"}).get_json()
    assert voted["voted"] is True and voted["room"]["suggestions"][0] == \
        {"id": suggested.get_json()["suggestion"]["id"], "name": "Owls", "votes": 1, "voted": True}

    token = factories.personal_token(members[1].actor)
    member = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/planning/today/join", headers=member, json={}).status_code == 200
    for m in members[2:]:
        planning_rooms.join(m)
    teams = client.post("/api/v1/planning/today/teams", headers=member,
                        json={"auto": True, "team_count": 2, "seed": 9}).get_json()["room"]
    assert [len(t["players"]) for t in teams["teams"]] == [3, 3] and teams["teams"][0]["name"] == "Owls"
    left = client.post("/api/v1/planning/today/leave", headers=member, json={}).get_json()
    assert left["room"]["joined"] is False


def test_planning_json_rejects_bad_input_without_writing(client, ws, bot):
    ws.players(6)
    who = {"channel": "discord", "external_id": "p-1"}
    assert client.post("/api/v1/planning/today/create", headers=bot, json={**who, "colour": "red"}).status_code == 400
    assert client.post("/api/v1/planning/today/create", headers=bot, data="{nope",
                       content_type="application/json").status_code == 400
    assert client.post("/api/v1/planning/today/create", headers=bot,
                       json={"channel": "discord", "external_id": "nobody"}).status_code == 404
    assert client.post("/api/v1/planning/today/create", json=who).status_code == 401
    assert count(PlanningRoom) == 0
    client.post("/api/v1/planning/today/create", headers=bot, json=who)
    for body in ({"teams": "two"}, {"auto": True, "team_count": 1}, {"auto": True, "team_count": 2, "seed": "x"}):
        assert client.post("/api/v1/planning/today/teams", headers=bot, json={**who, **body}).status_code == 400
    assert client.post("/api/v1/planning/today/vote", headers=bot, json={**who, "suggestion_id": 999}).status_code \
        == 404
    assert client.post("/api/v1/planning/today/suggestions", headers=bot,
                       json={**who, "name": "x" * 41}).status_code == 400
    assert count(PlanningTeam) == 0 and count(TeamSuggestion) == 0


def test_a_stale_date_is_409_room_closed_over_json(client, ws, bot, room):
    who = {"channel": "discord", "external_id": "p-1"}
    yesterday = (room.day - timedelta(days=1)).isoformat()
    answer = client.post("/api/v1/planning/today/suggestions", headers=bot, json={**who, "name": "Owls",
                                                                                  "date": yesterday})
    assert answer.status_code == 409 and answer.get_json()["error"] == "room_closed"
