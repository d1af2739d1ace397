"""The live planning room: the shared part polls with the tag it was drawn with and is answered 304 while the
room stands (in a bounded number of queries), in full after anybody's join, vote, suggestion or saved teams; the
member's draft is never in a poll's answer; the whole room comes back when the member joined or left elsewhere
or the day ended."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from webapp.extensions import db as _db
from webapp.gamenight import availability, night_settings, planning_rooms, team_names, teams
from webapp.gamenight.models import PlanningRoom, PostStatus, Status
from webapp.gamenight.planning_announcements import post_room

POLL = "/planning/today/shared"


def _tag(body: str) -> str:
    found = re.search(r'data-poll-etag="([^"]+)"', body)
    assert found, "the shared part carries no poll tag"
    return html.unescape(found[1])


def _poll(auth, tag: str | None, draft: bool = True, day: str | None = None):
    query = {"draft": "1" if draft else "0", **({"day": day} if day else {})}
    return auth.get(POLL, htmx=True, headers={"If-None-Match": tag} if tag else {}, query_string=query)


@pytest.fixture
def inside(room, auth) -> str:
    """p1 (who opened the room) signed in on the room's page: the tag its shared part was drawn with."""
    auth.login("p1@example.com")
    return _tag(auth.get("/planning/today").get_data(as_text=True))


@pytest.fixture
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(_db.engine, "before_cursor_execute", note)
    yield seen
    event.remove(_db.engine, "before_cursor_execute", note)


def test_the_poll_is_304_while_nothing_changed_and_the_new_state_after_another_members_vote(room, auth, inside):
    unchanged = _poll(auth, inside)
    assert unchanged.status_code == 304 and unchanged.get_data() == b""
    assert unchanged.headers["ETag"] == inside
    other = room.members_[1]
    owls, _ = team_names.suggest(other, "Owls")
    team_names.vote(other, owls.id)
    fresh = _poll(auth, inside)
    body = fresh.get_data(as_text=True)
    assert fresh.status_code == 200 and "Owls" in body and 'title="votes">1<' in body
    assert 'id="planning-shared"' in body and "draft-form" not in body  # the shared part only, never the draft
    assert _tag(body) != inside and fresh.headers["ETag"] == _tag(body)
    assert _poll(auth, _tag(body)).status_code == 304


def test_a_join_and_a_leave_elsewhere_answer_the_poll_in_full(ws, room, auth, inside):
    newcomer = ws.players(1)[0]
    planning_rooms.join(newcomer)
    joined = _poll(auth, inside)
    assert joined.status_code == 200 and "Player 7" in joined.get_data(as_text=True)
    planning_rooms.leave(newcomer)
    left = _poll(auth, _tag(joined.get_data(as_text=True)))
    assert left.status_code == 200 and "Player 7" not in left.get_data(as_text=True)


def test_saved_teams_and_more_ready_members_answer_the_poll_in_full(ws, room, auth, inside):
    teams.save_auto_draft(room.members_[2], 2)
    saved = _poll(auth, inside)
    assert saved.status_code == 200 and "Bench: nobody" in saved.get_data(as_text=True)
    tag = _tag(saved.get_data(as_text=True))
    ws.players(1)  # available today, not in the room: "7 ready today"
    ready = _poll(auth, tag)
    assert ready.status_code == 200 and "7 ready today" in ready.get_data(as_text=True)


def test_the_announcements_outcome_answers_the_poll_in_full(room, auth, inside):
    from webapp.outbox.models import OutboxEffect

    room.post_status = PostStatus.pending
    _db.session.commit()
    tag = _tag(auth.get("/planning/today").get_data(as_text=True))
    post_room(OutboxEffect(payload={"room_id": room.id}, attempts=1, max_attempts=3))  # no channel set: off
    assert _db.session.get(PlanningRoom, room.id).post_status is PostStatus.off
    assert _poll(auth, tag).status_code == 200


def test_every_change_of_the_room_counts_once_more(ws, room):
    def version() -> int:
        _db.session.expire_all()
        return _db.session.scalar(select(PlanningRoom.version).where(PlanningRoom.id == room.id))

    a, b = room.members_[:2]
    newcomer = ws.players(1)[0]
    steps = [lambda: planning_rooms.join(newcomer), lambda: planning_rooms.leave(newcomer),
             lambda: team_names.suggest(a, "Owls"), lambda: team_names.vote(b, name="Owls"),
             lambda: team_names.vote(b, name="Owls"), lambda: teams.save_auto_draft(a, 2)]
    for step in steps:
        before = version()
        step()
        assert version() == before + 1
    before = version()
    planning_rooms.join(a)  # already in: nothing changed, nothing counted
    team_names.suggest(a, "owls ")  # the same suggestion
    assert version() == before


def test_a_304_costs_the_same_few_queries_however_full_the_room(ws, room, auth, inside, statements):
    assert _poll(auth, inside).status_code == 304
    few = len(statements)
    for who in ws.players(40):
        planning_rooms.join(who)
    tag = _tag(auth.get("/planning/today").get_data(as_text=True))
    statements.clear()
    assert _poll(auth, tag).status_code == 304
    assert len(statements) == few <= 4, statements  # the sign-in's user and memberships, the room's stamp
    assert sum("planning_rooms" in s for s in statements) == 1


def test_a_members_own_vote_answers_the_shared_part_with_its_new_tag(room, auth, inside):
    owls, _ = team_names.suggest(room.members_[1], "Owls")
    tag = _tag(auth.get("/planning/today").get_data(as_text=True))
    voted = auth.post(f"/planning/today/suggestions/{owls.id}/vote", htmx=True, data={"day": room.day.isoformat()})
    body = voted.get_data(as_text=True)
    assert voted.status_code == 200 and "Withdraw vote" in body and "draft-form" not in body
    assert _tag(body) != tag and _poll(auth, _tag(body)).status_code == 304  # no second answer for one's own vote


def test_saving_teams_answers_the_draft_and_the_shared_part_out_of_band(room, auth, inside):
    form = {"day": room.day.isoformat(), "team_count": "2", "seed": "1", "team_name_0": "Owls", "team_name_1": "Bats",
            **{f"player_{m.user_id}": str(i % 2) for i, m in enumerate(room.members_)}}
    body = auth.post("/planning/today/teams", htmx=True, data=form).get_data(as_text=True)
    assert body.index('id="planning-draft"') < body.index('id="planning-shared" aria-live="polite" hx-swap-oob="true"')
    assert "<strong>Owls</strong>" in body and _poll(auth, _tag(body)).status_code == 304


def test_the_poll_answers_the_whole_room_when_the_member_joined_elsewhere(ws, room, auth):
    newcomer = ws.players(1)[0]
    auth.login("p7@example.com")
    page = auth.get("/planning/today").get_data(as_text=True)
    assert "Join the room" in page and "draft-form" not in page
    planning_rooms.join(newcomer)  # from the chat bot, say
    answer = _poll(auth, _tag(page), draft=False)
    assert answer.status_code == 200 and answer.headers["HX-Retarget"] == "#planning-room"
    assert 'id="draft-form"' in answer.get_data(as_text=True) and "Leave the room" in answer.get_data(as_text=True)
    planning_rooms.leave(newcomer)
    gone = _poll(auth, _tag(answer.get_data(as_text=True)), draft=True)
    assert gone.headers["HX-Retarget"] == "#planning-room" and "draft-form" not in gone.get_data(as_text=True)


def test_a_poll_after_the_day_ended_shows_the_room_read_only_and_polls_no_more(room, auth, inside):
    yesterday = room.day - timedelta(days=1)
    room.day = yesterday
    _db.session.commit()
    answer = _poll(auth, inside, day=yesterday.isoformat())
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200 and answer.headers["HX-Retarget"] == "#planning-room"
    assert "read-only" in body and "draft-form" not in body and "hx-trigger" not in body


def test_a_poll_for_a_day_that_is_no_date_is_400(room, auth, inside):
    answer = _poll(auth, inside, day="someday")
    assert answer.status_code == 400 and "YYYY-MM-DD" in answer.get_data(as_text=True)


def test_the_locked_room_polls_too_and_shows_the_room_once_someone_opens_it(ws, auth):
    members = ws.players(6)
    auth.login("p1@example.com")
    tag = _tag(auth.get("/planning/today").get_data(as_text=True))
    assert _poll(auth, tag, draft=False).status_code == 304
    planning_rooms.create(members[1])
    opened = _poll(auth, tag, draft=False)
    assert opened.status_code == 200 and "Join the room" in opened.get_data(as_text=True)


def test_someone_elses_availability_today_changes_the_locked_rooms_count(ws, auth):
    ws.players(2)
    auth.login("p1@example.com")
    tag = _tag(auth.get("/planning/today").get_data(as_text=True))
    third = ws.players(1, status=None)[0]
    availability.set_status(ws.id, third.user_id, night_settings.local_today(night_settings.workspace(ws.id)),
                            Status.looking, actor_label="test")
    answer = _poll(auth, tag, draft=False)
    assert answer.status_code == 200 and "<strong>3</strong> of 6 ready" in answer.get_data(as_text=True)


def test_the_poll_needs_a_sign_in(client, room):
    assert client.get(POLL).status_code == 302


def test_the_poll_opened_without_htmx_is_the_whole_page_with_the_draft(room, auth, inside):
    page = auth.get(POLL).get_data(as_text=True)
    assert "<html" in page and 'id="draft-form"' in page and 'id="planning-shared"' in page


def test_the_discord_threads_progress_answers_the_poll_in_full(room, auth, inside):
    from webapp.gamenight.models import PlanningThread, ThreadStatus

    _db.session.add(PlanningThread(room_id=room.id, channel_id="123", name="Game night", nonce="n0"))
    _db.session.commit()
    tag = _tag(auth.get("/planning/today").get_data(as_text=True))
    assert _poll(auth, tag).status_code == 304
    thread = _db.session.get(PlanningThread, room.id)
    thread.status, thread.thread_id, thread.guild_id = ThreadStatus.created, "456", "789"  # as the bot's run writes it
    _db.session.commit()
    answer = _poll(auth, tag)
    assert answer.status_code == 200 and "created" in answer.get_data(as_text=True)
