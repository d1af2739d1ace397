"""The planning room: the threshold unlock, joining, team-name suggestions and votes, the auto-draft, saving
teams, the read-only past, the announcement, and the page and JSON routes that drive them."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.sink import Sink
from webapp.accounts import services as accounts
from webapp.accounts.models import User
from webapp.audit.models import AuditEvent
from webapp.errors import BadRequest, Conflict, NotFound
from webapp.extensions import db as _db
from webapp.gamenight import planning
from webapp.gamenight import services as gamenight
from webapp.gamenight.models import (
    PlanningMember,
    PlanningRoom,
    PlanningTeam,
    PostStatus,
    SuggestionVote,
    TeamSuggestion,
)
from webapp.gamenight.planning import Member
from webapp.outbox.models import EffectStatus, OutboxEffect


def count(model) -> int:
    return _db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def ws(factories):
    """Acme with an admin; `ws.players(n, status)` adds linked members ready today and returns their Members."""
    admin = factories.user("admin", "Acme", email="boss@example.com")
    seq = iter(range(1, 1000))

    class Workspace:
        id = admin.workspace_id
        actor = admin

        def players(self, n: int, status: str | None = "available", prefix: str = "p") -> list[Member]:
            out = []
            for _ in range(n):
                i = next(seq)
                user_id = factories.player(admin.workspace_id, f"{prefix}{i}@example.com", status,
                                           name=f"{prefix.title()}layer {i}", external_id=f"{prefix}-{i}")
                out.append(Member.of(accounts.actor_for_user(_db.session.get(User, user_id), admin.workspace_id)))
            return out

    return Workspace()


@pytest.fixture
def room(ws):
    """Today's open room with six players; `room.members` are they (the first created it)."""
    members = ws.players(6)
    created, _ = planning.create(members[0])
    for who in members[1:]:
        planning.join(who)
    created.members_ = members
    return created


# -- the threshold ------------------------------------------------------------------------------


def test_the_room_stays_locked_below_the_threshold_and_opens_at_it(ws):
    members = ws.players(5) + ws.players(2, "maybe", "m") + ws.players(1, "not_available", "n")
    with pytest.raises(Conflict) as caught:
        planning.create(members[0])
    assert caught.value.code == "below_threshold" and "6" in caught.value.message
    assert count(PlanningRoom) == 0
    assert planning.view(gamenight.workspace(ws.id), members[0].user_id).unlocked is False

    looking = ws.players(1, "looking", "l")  # available + looking count; maybe and not available do not
    created, new = planning.create(looking[0])
    assert new and created.day == gamenight.local_today(gamenight.workspace(ws.id))
    assert _db.session.get(PlanningMember, (created.id, looking[0].user_id)) is not None  # the opener is in it
    assert _db.session.scalar(select(AuditEvent.action).where(AuditEvent.resource_type == "planning_room")) == \
        "planning.room_created"


def test_opening_an_open_room_returns_it_and_the_threshold_is_a_setting(ws):
    members = ws.players(3)
    planning.update_settings(ws.actor, 3)
    first, new = planning.create(members[0])
    again, new_again = planning.create(members[1])
    assert new and not new_again and again.id == first.id and count(PlanningRoom) == 1
    with pytest.raises(BadRequest):
        planning.update_settings(ws.actor, 0)
    assert gamenight.settings(ws.id).planning_threshold == 3


def test_only_admins_change_the_threshold(ws, factories):
    viewer = factories.user("promoter", "Acme")
    with pytest.raises(Exception) as caught:
        planning.update_settings(viewer, 2)
    assert caught.value.status == 403 and gamenight.settings(ws.id).planning_threshold == 6


def test_an_unlinked_member_cannot_open_or_join(ws, factories, room):
    stranger = factories.user("viewer", "Acme")
    with pytest.raises(Conflict) as caught:
        planning.join(Member.of(stranger))
    assert caught.value.code == "not_linked"


def test_joining_twice_is_one_membership_and_leaving_removes_it(room):
    who = room.members_[1]
    planning.join(who)
    assert count(PlanningMember) == 6
    planning.leave(who)
    assert _db.session.get(PlanningMember, (room.id, who.user_id)) is None
    with pytest.raises(Conflict) as caught:
        planning.suggest(who, "Owls")
    assert caught.value.code == "not_in_room"


# -- suggestions and votes ----------------------------------------------------------------------


def test_suggestions_are_trimmed_and_merge_case_insensitively(room):
    a, b = room.members_[:2]
    first, new = planning.suggest(a, "  Red   Dragons ")
    same, new_again = planning.suggest(b, "red\n dragons")
    assert new and not new_again and same.id == first.id and first.name == "Red Dragons"
    assert count(TeamSuggestion) == 1


@pytest.mark.parametrize("name", ["", "   ", "x" * 41, "bell\x07", None, 7])
def test_a_bad_team_name_is_a_400_and_writes_nothing(room, name):
    with pytest.raises(BadRequest):
        planning.suggest(room.members_[0], name)
    assert count(TeamSuggestion) == 0


def test_one_vote_per_member_per_suggestion_and_voting_again_withdraws_it(room):
    a, b, c = room.members_[:3]
    owls, _ = planning.suggest(a, "Owls")
    bats, _ = planning.suggest(a, "Bats")
    assert planning.vote(a, owls.id) is True
    assert planning.vote(b, owls.id) is True
    assert planning.vote(c, bats.id) is True
    assert planning.vote(a, owls.id) is False  # withdrawn
    assert planning.vote(a, owls.id) is True  # and back
    assert count(SuggestionVote) == 3
    view = planning.view(gamenight.workspace(a.workspace_id), a.user_id)
    assert [(s.name, s.votes, s.mine) for s in view.suggestions] == [("Owls", 2, True), ("Bats", 1, False)]
    assert view.leading_names(3) == ["Owls", "Bats", "Team 3"]
    actions = _db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("planning.vote%"))).all()
    assert actions.count("planning.voted") == 4 and actions.count("planning.vote_withdrawn") == 1


def test_default_team_names_never_repeat_a_leading_suggestion(room):
    a = room.members_[0]
    clash, _ = planning.suggest(a, "team 2")
    planning.vote(a, clash.id)
    assert planning.view(gamenight.workspace(a.workspace_id), None).leading_names(3) == ["team 2", "Team 3", "Team 4"]
    planning.save_auto_draft(a, 2)  # saves: no two teams share a name
    assert [t.name for t in _db.session.scalars(select(PlanningTeam).order_by(PlanningTeam.position))] == \
        ["team 2", "Team 3"]


def test_leading_names_put_the_most_voted_first(room):
    a, b, c = room.members_[:3]
    early, _ = planning.suggest(a, "Early")
    late, _ = planning.suggest(a, "Late")
    for who in (a, b, c):
        planning.vote(who, late.id)
    planning.vote(a, early.id)
    names = [s.name for s in planning.view(gamenight.workspace(a.workspace_id), None).suggestions]
    assert names == ["Late", "Early"]


def test_a_member_outside_the_room_cannot_vote_and_a_foreign_suggestion_is_404(room, ws, factories):
    outsider = ws.players(1, prefix="o")[0]
    owls, _ = planning.suggest(room.members_[0], "Owls")
    with pytest.raises(Conflict):
        planning.vote(outsider, owls.id)
    with pytest.raises(NotFound):
        planning.vote(room.members_[0], owls.id + 999)
    assert count(SuggestionVote) == 0


def test_suggestions_by_name_serve_bots(room):
    planning.suggest(room.members_[0], "Owls")
    assert planning.vote(room.members_[1], name="  OWLS") is True


# -- the auto-draft -----------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(players=st.sets(st.integers(1, 10_000), max_size=60), teams=st.integers(2, 8), seed=st.integers(0, 2**31))
def test_the_auto_draft_balances_sizes_and_is_the_same_for_the_same_input(players, teams, seed):
    dealt = planning.auto_draft(list(players), teams, seed)
    sizes = [len(t) for t in dealt]
    assert len(dealt) == teams and max(sizes) - min(sizes) <= 1
    assert sorted(p for t in dealt for p in t) == sorted(players)
    assert planning.auto_draft(sorted(players, reverse=True), teams, seed) == dealt  # order does not matter


def test_another_seed_gives_another_draft():
    players = list(range(1, 13))
    assert planning.auto_draft(players, 2, 1) == planning.auto_draft(players, 2, 1)
    assert any(planning.auto_draft(players, 2, 1) != planning.auto_draft(players, 2, s) for s in range(2, 6))


def test_auto_draft_saves_balanced_teams_named_after_the_leading_suggestions(room):
    a = room.members_[0]
    owls, _ = planning.suggest(a, "Owls")
    planning.vote(a, owls.id)
    planning.save_auto_draft(a, 3, seed=42)
    teams = _db.session.scalars(select(PlanningTeam).order_by(PlanningTeam.position)).all()
    assert [t.name for t in teams] == ["Owls", "Team 2", "Team 3"]
    sizes = [_db.session.scalar(select(func.count()).select_from(PlanningMember).where(PlanningMember.team_id == t.id))
             for t in teams]
    assert sizes == [2, 2, 2]
    placed = {m.user_id: m.team_id for m in _db.session.scalars(select(PlanningMember))}
    planning.save_auto_draft(a, 3, seed=42)  # the same input: the same teams
    again = {m.user_id: m.team_id for m in _db.session.scalars(select(PlanningMember))}
    positions = {t.id: t.position for t in _db.session.scalars(select(PlanningTeam))}
    old_positions = {t.id: t.position for t in teams}
    assert {u: old_positions[t] for u, t in placed.items()} == {u: positions[t] for u, t in again.items()}


# -- saving teams -------------------------------------------------------------------------------


def test_saved_teams_are_stored_audited_and_a_late_joiner_lands_on_the_bench(room, ws):
    a, b, c, d, e, f = room.members_
    planning.save_teams(a, [{"name": "Owls", "players": [a.user_id, b.user_id, c.user_id]},
                            {"name": "Bats", "players": [d.user_id, e.user_id]}])  # f left out: the bench
    view = planning.view(gamenight.workspace(ws.id), a.user_id)
    assert [(team.name, [p.user_id for p in players]) for team, players in view.teams] == \
        [("Owls", [a.user_id, b.user_id, c.user_id]), ("Bats", [d.user_id, e.user_id])]
    assert [p.user_id for p in view.bench] == [f.user_id]
    event = _db.session.scalar(select(AuditEvent).where(AuditEvent.action == "planning.teams_saved"))
    assert event.details["teams"][0] == {"name": "Owls", "players": [
        {"user_id": a.user_id, "name": "Player 1"}, {"user_id": b.user_id, "name": "Player 2"},
        {"user_id": c.user_id, "name": "Player 3"}]}
    assert event.details["bench"] == [{"user_id": f.user_id, "name": "Player 6"}] and event.actor_id == a.user_id

    late = ws.players(1, prefix="late")[0]
    planning.join(late)
    assert late.user_id in [p.user_id for p in planning.view(gamenight.workspace(ws.id), None).bench]


@pytest.mark.parametrize("teams", [
    "Owls", [], [{"name": "Solo", "players": []}],
    [{"name": "A", "players": [0]}, {"name": "B", "players": []}],  # a stranger
    [{"name": "Same", "players": []}, {"name": "same", "players": []}],
    [{"name": "A", "players": ["1"]}, {"name": "B", "players": []}],
    [{"name": "A", "players": []}] * 9,
])
def test_invalid_teams_are_a_400_and_nothing_is_saved(room, teams):
    with pytest.raises(BadRequest):
        planning.save_teams(room.members_[0], teams)
    assert count(PlanningTeam) == 0 and room.teams_saved_at is None


def test_a_player_on_two_teams_is_a_400(room):
    a = room.members_[0]
    with pytest.raises(BadRequest):
        planning.save_teams(a, [{"name": "A", "players": [a.user_id]}, {"name": "B", "players": [a.user_id]}])


# -- after the day ------------------------------------------------------------------------------


def test_the_room_is_read_only_once_its_day_has_ended(ws, room):
    a = room.members_[0]
    owls, _ = planning.suggest(a, "Owls")
    yesterday = room.day - timedelta(days=1)
    room.day = yesterday  # as if midnight has passed since the page was drawn
    _db.session.commit()
    for change in (lambda: planning.join(a, yesterday.isoformat()), lambda: planning.leave(a, yesterday.isoformat()),
                   lambda: planning.suggest(a, "Bats", yesterday.isoformat()),
                   lambda: planning.vote(a, owls.id, day=yesterday.isoformat()),
                   lambda: planning.save_auto_draft(a, 2, day=yesterday.isoformat()),
                   lambda: planning.create(a, yesterday.isoformat())):
        with pytest.raises(Conflict) as caught:
            change()
        assert caught.value.code == "room_closed"
    assert count(SuggestionVote) == 0 and count(TeamSuggestion) == 1 and count(PlanningTeam) == 0
    with pytest.raises(NotFound):  # and today is another day, with no room yet
        planning.join(a)
    past = planning.view(gamenight.workspace(ws.id), a.user_id, yesterday)
    assert past.read_only and past.room.id == room.id and len(past.players) == 6


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
    today = gamenight.local_today(gamenight.workspace(ws.id)).isoformat()
    auth.login("p1@example.com")
    availability = auth.get("/w/acme/availability").get_data(as_text=True)
    assert "Open the planning room" in availability
    assert auth.post("/planning/today/create", data={"day": today}).status_code == 303
    room = _db.session.scalars(select(PlanningRoom)).one()
    page = auth.post("/planning/today/suggestions", htmx=True, data={"day": today, "name": "Owls"})
    assert page.status_code == 200 and 'id="planning-room"' in page.get_data(as_text=True)
    assert "<html" not in page.get_data(as_text=True)  # the room block alone
    owls = _db.session.scalars(select(TeamSuggestion)).one()
    auth.post(f"/planning/today/suggestions/{owls.id}/vote", htmx=True, data={"day": today})
    assert count(SuggestionVote) == 1
    for who in members[1:]:
        planning.join(who)
    form = {"day": today, "team_count": "2", "seed": "5", "op": "auto",
            **{f"player_{m.user_id}": "bench" for m in members}}
    drafted = auth.post("/planning/today/draft", htmx=True, data=form).get_data(as_text=True)
    assert count(PlanningTeam) == 0  # a draft is not saved
    placement = dict(re.findall(r'name="player_(\d+)" value="(\w+)"', drafted))
    assert sorted(placement.values()) == ["0", "0", "0", "1", "1", "1"]
    expected = planning.auto_draft([m.user_id for m in members], 2, 5)
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
    owls, _ = planning.suggest(room.members_[0], "Owls")
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


# -- the JSON API -------------------------------------------------------------------------------


@pytest.fixture
def bot(client, ws):
    token = gamenight.rotate_bot_token(ws.actor)
    return {"Authorization": f"Bearer {token}"}


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
        planning.join(m)
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


# -- the announcement ---------------------------------------------------------------------------


@pytest.fixture
def sink():
    with Sink() as s:
        yield s


def test_a_new_room_is_announced_once_through_the_outbox(ws, worker, sink):
    planning.update_settings(ws.actor, 6, sink.target("rooms"))
    members = ws.players(6)
    created, _ = planning.create(members[0])
    assert created.post_status is PostStatus.pending
    worker()
    assert sink.count() == 1 and "6 players are ready" in sink.received("rooms")[0]["message"]
    _db.session.expire_all()
    assert _db.session.get(PlanningRoom, created.id).post_status is PostStatus.sent
    assert "rooms" not in str(_db.session.scalars(select(OutboxEffect.payload)).all())  # the target is not in jobs


def test_a_failed_announcement_is_shown_and_retried_and_never_blocks_the_room(ws, worker, sink, app, monkeypatch):
    monkeypatch.setitem(app.config, "SETTINGS", replace(app.config["SETTINGS"], OUTBOX_MAX_ATTEMPTS=3))
    planning.update_settings(ws.actor, 6, sink.target("down"))
    members = ws.players(6)
    sink.failing.add("down")
    created, _ = planning.create(members[0])
    planning.join(members[1])  # the room works meanwhile
    worker()
    _db.session.expire_all()
    room = _db.session.get(PlanningRoom, created.id)
    assert room.post_status is PostStatus.retrying and room.post_error
    effect = _db.session.scalars(select(OutboxEffect)).one()
    assert effect.status is EffectStatus.pending and effect.attempts == 1  # a retry is scheduled
    assert count(PlanningMember) == 2
    sink.failing.clear()
    from webapp.outbox import services as outbox

    assert outbox.run_effect(effect.id) == "done"  # the retry (RQ runs it at its back-off time)
    _db.session.expire_all()
    assert _db.session.get(PlanningRoom, created.id).post_status is PostStatus.sent and sink.count() == 1


def test_an_announcement_that_runs_out_of_attempts_says_it_gave_up(ws, worker, sink, app, monkeypatch, auth):
    monkeypatch.setitem(app.config, "SETTINGS", replace(app.config["SETTINGS"], OUTBOX_MAX_ATTEMPTS=1))
    planning.update_settings(ws.actor, 6, sink.target("down"))
    members = ws.players(6)
    sink.failing.add("down")
    created, _ = planning.create(members[0])
    worker()
    _db.session.expire_all()
    assert _db.session.get(PlanningRoom, created.id).post_status is PostStatus.failed
    assert _db.session.scalars(select(OutboxEffect.status)).one() is EffectStatus.failed
    auth.login("p1@example.com")
    assert "gave up" in auth.get("/planning/today").get_data(as_text=True)


def test_without_an_announcement_channel_nothing_is_queued(ws):
    created, _ = planning.create(ws.players(6)[0])
    assert created.post_status is PostStatus.off and count(OutboxEffect) == 0


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


def test_a_future_day_is_not_open_yet(ws, room, auth, client, bot):
    tomorrow = (room.day + timedelta(days=1)).isoformat()
    with pytest.raises(Conflict) as caught:
        planning.join(room.members_[0], tomorrow)
    assert caught.value.code == "room_not_open_yet"
    auth.login("p1@example.com")
    page = auth.get(f"/planning/{tomorrow}").get_data(as_text=True)
    assert "Open the planning room" not in page and "opens on its day" in page
