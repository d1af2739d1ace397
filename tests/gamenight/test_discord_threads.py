"""A planning room's Discord thread, made by the workspace's bot through the outbox, against a strict fake of
Discord's REST API (tests/fake_discord_api.py): once, retried after a 429's `retry_after` and after a lost 5xx
answer, `unknown` after a timeout and never sent again, given up on a refused token, and shown in the room."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.fake_discord_api import BOT_TOKEN, CHANNEL_ID, GUILD_ID, FakeDiscordAPI, serve
from webapp.audit.models import AuditEvent
from webapp.errors import BadRequest
from webapp.extensions import db as _db
from webapp.extensions import utcnow
from webapp.gamenight import discord_threads, night_settings, planning_rooms, planning_settings
from webapp.gamenight import teams as planning_teams
from webapp.gamenight.models import GamenightSettings, PlanningThread, PostStatus, ThreadStatus
from webapp.gamenight.teams import TeamIn
from webapp.outbox import services as outbox
from webapp.outbox.models import EffectStatus, OutboxEffect


@pytest.fixture
def discord(app, monkeypatch) -> Iterator[FakeDiscordAPI]:
    with serve() as fake:
        monkeypatch.setitem(app.config, "SETTINGS", replace(app.config["SETTINGS"], DISCORD_API_URL=fake.base,
                                                            DISCORD_API_TIMEOUT_SECONDS=0.5, OUTBOX_MAX_ATTEMPTS=4))
        yield fake
        assert fake.violations == [], "requests Discord would refuse for their form"


@pytest.fixture
def bot_ws(ws, discord):
    planning_settings.update_settings(ws.actor, 6, discord_channel_id=CHANNEL_ID, discord_bot_token=BOT_TOKEN)
    return ws


def _thread(room_id: int) -> PlanningThread:
    _db.session.expire_all()
    found = _db.session.get(PlanningThread, room_id)
    assert found is not None
    return found


def _effects(kind: str) -> list[OutboxEffect]:
    _db.session.expire_all()
    return list(_db.session.scalars(select(OutboxEffect).where(OutboxEffect.kind == kind).order_by(OutboxEffect.id)))


def _open(ws) -> tuple[planning_rooms.PlanningRoom, list[planning_rooms.Member]]:
    members = ws.players(6)
    room, created = planning_rooms.create(members[0])
    assert created
    for who in members[1:]:
        planning_rooms.join(who)
    return room, members


# -- the thread -----------------------------------------------------------------------------------


def test_opening_the_room_makes_one_thread_named_after_the_night_with_the_rooms_link(bot_ws, discord, worker, sink,
                                                                                       auth):
    planning_settings.update_settings(bot_ws.actor, 6, sink.target("rooms"))  # a webhook too: the thread wins
    room, _ = _open(bot_ws)
    assert room.post_status is PostStatus.off and _thread(room.id).status is ThreadStatus.pending
    worker()

    [starter] = discord.channel_messages()
    assert f"/planning/{room.day.isoformat()}" in starter["content"] and "6 players are ready" in starter["content"]
    assert starter["nonce"] and discord.calls_to("create_message")[0].body["allowed_mentions"] == {"parse": []}
    [made] = discord.threads.values()
    assert made["id"] == starter["id"] and made["type"] == 11 and made["parent_id"] == CHANNEL_ID
    assert made["name"] == f"Game night · {room.day:%A} {room.day.day} {room.day:%B} · 21:00"
    thread = _thread(room.id)
    assert (thread.status, thread.thread_id, thread.guild_id) == (ThreadStatus.created, made["id"], GUILD_ID)
    assert sink.count() == 0  # no webhook announcement besides the thread
    call = discord.calls_to("start_thread")[0]
    assert call.headers["Authorization"] == f"Bot {BOT_TOKEN}" and call.headers["User-Agent"].startswith("DiscordBot (")
    assert _db.session.scalar(select(AuditEvent.details).where(AuditEvent.action == "planning.discord_thread_created"))

    auth.login("p1@example.com")
    page = auth.get("/planning/today").get_data(as_text=True)
    assert f'href="https://discord.com/channels/{GUILD_ID}/{made["id"]}"' in page
    shown = planning_rooms.view(night_settings.workspace(bot_ws.id), None).as_json()["room"]["discord_thread"]
    assert shown == {"status": "created", "url": f"https://discord.com/channels/{GUILD_ID}/{made['id']}",
                     "error": None, "teams": None}


def test_the_saved_teams_are_posted_in_the_thread_once_per_save(bot_ws, discord, worker):
    room, members = _open(bot_ws)
    worker()
    a, b, c, d, e, _ = members
    planning_teams.save_teams(a, [TeamIn(name="Owls", players=[a.user_id, b.user_id]),
                                  TeamIn(name="Bats", players=[c.user_id, d.user_id, e.user_id])])
    worker()
    thread = _thread(room.id)
    [post] = discord.channel_messages(thread.thread_id)
    assert "**Owls**: Player 1, Player 2" in post["content"] and "**Bats**: Player 3, Player 4, Player 5" in post[
        "content"] and "Bench: Player 6" in post["content"]
    assert thread.teams_status is ThreadStatus.sent
    worker()  # nothing left to post
    outbox.run_effect(_effects(discord_threads.TEAMS_EFFECT)[0].id)  # a stale run again: done, nothing sent
    assert len(discord.channel_messages(thread.thread_id)) == 1

    planning_teams.save_teams(a, [TeamIn(name="Owls", players=[a.user_id]), TeamIn(name="Bats", players=[b.user_id])])
    worker()
    posts = discord.channel_messages(thread.thread_id)
    assert len(posts) == 2 and posts[0]["nonce"] != posts[1]["nonce"]


def test_of_two_saves_effects_only_the_latest_posts_so_they_never_post_side_by_side(bot_ws, discord, worker):
    room, members = _open(bot_ws)
    worker()
    a, b = members[:2]
    planning_teams.save_teams(a, [TeamIn(name="Owls", players=[a.user_id]), TeamIn(name="Bats", players=[b.user_id])])
    planning_teams.save_teams(a, [TeamIn(name="Moths", players=[a.user_id, b.user_id]), TeamIn(name="Bats")])
    first, second = _effects(discord_threads.TEAMS_EFFECT)
    assert outbox.run_effect(first.id) == "done" and discord.channel_messages(_thread(room.id).thread_id) == []
    assert outbox.run_effect(second.id) == "done"
    [post] = discord.channel_messages(_thread(room.id).thread_id)
    assert "**Moths**" in post["content"]


def test_teams_saved_while_the_thread_waits_are_posted_once_it_is_made(bot_ws, discord, worker):
    discord.rate_limit("start_thread", retry_after=30)
    room, members = _open(bot_ws)
    worker()
    assert _thread(room.id).status is ThreadStatus.retrying
    planning_teams.save_teams(members[0], [TeamIn(name="Owls", players=[members[0].user_id]), TeamIn(name="Bats")])
    assert _effects(discord_threads.TEAMS_EFFECT) == []  # no thread to post in yet: the thread's effect will
    assert outbox.run_effect(_effects(discord_threads.THREAD_EFFECT)[0].id) == "done"  # RQ, after retry_after
    worker()
    thread = _thread(room.id)
    assert "**Owls**: Player 1" in discord.channel_messages(thread.thread_id)[0]["content"]
    assert thread.teams_status is ThreadStatus.sent and len(discord.threads) == 1


# -- retries and unknown outcomes --------------------------------------------------------------------


def test_a_429_is_retried_after_discords_retry_after_and_makes_one_thread(bot_ws, discord, worker):
    discord.rate_limit("create_message", retry_after=42.5)
    room, _ = _open(bot_ws)
    worker()
    [effect] = _effects(discord_threads.THREAD_EFFECT)
    assert effect.status is EffectStatus.pending and effect.attempts == 1
    assert effect.next_attempt_at >= utcnow() + timedelta(seconds=40)  # not the 2 s back-off: Discord's word
    thread = _thread(room.id)
    assert thread.status is ThreadStatus.retrying and "429" in thread.error and "retry after 42.5s" in thread.error
    assert discord.channel_messages() == []
    assert outbox.run_effect(effect.id) == "done"
    assert len(discord.channel_messages()) == 1 and len(discord.threads) == 1
    assert _thread(room.id).status is ThreadStatus.created


def test_a_5xx_after_discord_made_the_message_is_retried_and_discord_drops_the_repeat(bot_ws, discord, worker):
    discord.fail("create_message", 502, after=True)  # the message exists, its answer is lost
    room, _ = _open(bot_ws)
    worker()
    [effect] = _effects(discord_threads.THREAD_EFFECT)
    assert effect.status is EffectStatus.pending and _thread(room.id).status is ThreadStatus.retrying
    assert outbox.run_effect(effect.id) == "done"
    first, second = discord.calls_to("create_message")
    assert first.body["nonce"] == second.body["nonce"] and second.body["enforce_nonce"] is True
    assert len(discord.channel_messages()) == 1 and len(discord.threads) == 1  # exactly once


def test_a_5xx_once_the_nonce_may_be_forgotten_is_unknown_and_not_sent_again(bot_ws, discord, worker):
    discord.fail("create_message", 503, after=True)
    room, _ = _open(bot_ws)
    thread = _thread(room.id)
    thread.message_tried_at = utcnow() - discord_threads.NONCE_WINDOW - timedelta(seconds=1)  # a long-lost first try
    _db.session.commit()
    worker()
    assert _effects(discord_threads.THREAD_EFFECT)[0].status is EffectStatus.unknown
    assert _thread(room.id).status is ThreadStatus.unknown
    outbox.reconcile()
    worker()
    assert len(discord.calls_to("create_message")) == 1


def test_a_2xx_without_the_message_is_unknown_not_sent_again(bot_ws, discord, worker):
    discord.fail("create_message", 200, after=True)  # made, but the answer is not the message's JSON
    room, _ = _open(bot_ws)
    worker()
    assert _thread(room.id).status is ThreadStatus.unknown and "without the JSON" in _thread(room.id).error
    assert len(discord.calls_to("create_message")) == 1 and len(discord.channel_messages()) == 1


def test_a_lost_answer_to_the_thread_start_is_retried_and_finds_the_thread_discord_made(bot_ws, discord, worker):
    discord.fail("start_thread", 500, after=True)
    room, _ = _open(bot_ws)
    worker()
    assert _thread(room.id).status is ThreadStatus.retrying and len(discord.threads) == 1
    assert outbox.run_effect(_effects(discord_threads.THREAD_EFFECT)[0].id) == "done"
    assert [c.status for c in discord.calls_to("start_thread")] == [500, 400]  # 400: 160004, already made
    thread = _thread(room.id)
    assert thread.status is ThreadStatus.created and thread.thread_id == thread.message_id
    assert thread.guild_id == GUILD_ID and len(discord.threads) == 1 and len(discord.channel_messages()) == 1


def test_a_timeout_after_the_message_was_sent_is_unknown_and_never_sent_again(bot_ws, discord, worker, auth):
    discord.slow("create_message", 5)  # Discord makes it, the answer comes after our 0.5 s timeout
    room, _ = _open(bot_ws)
    worker()
    [effect] = _effects(discord_threads.THREAD_EFFECT)
    assert effect.status is EffectStatus.unknown and _thread(room.id).status is ThreadStatus.unknown
    assert "no answer after the request was sent" in _thread(room.id).error
    outbox.reconcile()  # the reconciler does not bring it back
    worker()
    assert len(discord.calls_to("create_message")) == 1 and len(discord.channel_messages()) == 1
    assert discord.calls_to("start_thread") == []
    auth.login("p1@example.com")
    assert "Discord may or may not show it" in auth.get("/planning/today").get_data(as_text=True)


def test_a_teams_post_that_timed_out_is_unknown_and_not_posted_again(bot_ws, discord, worker):
    room, members = _open(bot_ws)
    worker()
    discord.slow("create_message", 5)
    planning_teams.save_teams(members[0], [TeamIn(name="Owls", players=[members[0].user_id]), TeamIn(name="Bats")])
    worker()
    thread = _thread(room.id)
    assert thread.teams_status is ThreadStatus.unknown
    outbox.reconcile()
    worker()
    assert len(discord.channel_messages(thread.thread_id)) == 1 and len(discord.calls_to("create_message")) == 2


def test_a_refused_token_fails_at_once_with_discords_reason_and_the_room_says_so(bot_ws, discord, worker, auth):
    discord.token = "another-token"  # the bot's token was reset in Discord's portal
    room, _ = _open(bot_ws)
    worker()
    [effect] = _effects(discord_threads.THREAD_EFFECT)
    assert effect.status is EffectStatus.failed and effect.attempts == 1  # no attempts spent on a dead token
    thread = _thread(room.id)
    assert thread.status is ThreadStatus.failed and "Discord answered 401" in thread.error
    auth.login("p1@example.com")
    page = auth.get("/planning/today").get_data(as_text=True)
    assert "Discord answered 401" in page and "gave up" in page
    planning_rooms.join(bot_ws.players(1, prefix="late")[0])  # the room works regardless


def test_discord_down_is_retried_with_back_off_until_the_attempts_run_out(bot_ws, discord, worker):
    discord.fail("create_message", 500, after=False, times=10)
    room, _ = _open(bot_ws)
    worker()
    [effect] = _effects(discord_threads.THREAD_EFFECT)
    for _ in range(3):
        outbox.run_effect(effect.id)
    assert _effects(discord_threads.THREAD_EFFECT)[0].status is EffectStatus.failed
    assert _thread(room.id).status is ThreadStatus.failed and discord.channel_messages() == []


def test_a_worker_killed_mid_call_leaves_the_thread_unknown_not_repeated(bot_ws, discord, worker):
    room, _ = _open(bot_ws)
    [effect] = _effects(discord_threads.THREAD_EFFECT)
    effect.status, effect.started_at = EffectStatus.running, utcnow() - outbox.RUNNING_LEASE - timedelta(seconds=1)
    _db.session.commit()  # as a SIGKILLed worker leaves it
    assert outbox.reconcile()["discord_threads_lost"] == 1
    worker()
    assert _effects(discord_threads.THREAD_EFFECT)[0].status is EffectStatus.unknown and discord.calls == []
    thread = _thread(room.id)
    assert thread.status is ThreadStatus.unknown and thread.error == discord_threads.LOST


# -- settings and secrets ------------------------------------------------------------------------------


def test_the_bot_token_is_sealed_shown_by_its_last_four_and_in_no_job_page_or_log(bot_ws, discord, worker, auth,
                                                                                  caplog):
    caplog.set_level(logging.DEBUG)
    discord.fail("create_message", 500, after=False)
    _open(bot_ws)
    worker()
    row = _db.session.get(GamenightSettings, bot_ws.id)
    assert BOT_TOKEN not in (row.discord_bot_token_sealed or "") and row.discord_bot_token_hint == "…" + BOT_TOKEN[-4:]
    assert BOT_TOKEN not in str(_db.session.scalars(select(OutboxEffect.payload)).all())
    assert BOT_TOKEN not in str(_db.session.scalars(select(OutboxEffect.last_error)).all())
    assert BOT_TOKEN not in str(_db.session.scalars(select(AuditEvent.details)).all())
    assert BOT_TOKEN not in caplog.text
    auth.login("boss@example.com")
    page = auth.get("/settings/gamenight").get_data(as_text=True)
    assert BOT_TOKEN not in page and "…" + BOT_TOKEN[-4:] in page and CHANNEL_ID in page


def test_the_settings_form_keeps_the_token_when_left_empty_and_clears_the_bot_when_asked(ws, auth):
    auth.login("boss@example.com")
    form = {"planning_threshold": "6", "discord_channel_id": CHANNEL_ID, "discord_bot_token": BOT_TOKEN}
    assert auth.post("/settings/gamenight/planning", data=form).status_code == 303
    assert auth.post("/settings/gamenight/planning", data={**form, "discord_bot_token": ""}).status_code == 303
    assert discord_threads.bot_configured(ws.id)
    assert auth.post("/settings/gamenight/planning", data={**form, "clear_discord_bot": "on"}).status_code == 303
    _db.session.expire_all()
    row = _db.session.get(GamenightSettings, ws.id)
    assert (row.discord_bot_token_sealed, row.discord_bot_token_hint, row.discord_channel_id) == (None, "", "")


@pytest.mark.parametrize("channel, token", [("general", BOT_TOKEN), ("12", BOT_TOKEN), (CHANNEL_ID, "short"),
                                            (CHANNEL_ID, "two words " + BOT_TOKEN)])
def test_a_bad_channel_id_or_token_is_a_400_and_writes_nothing(ws, channel, token):
    with pytest.raises(BadRequest):
        planning_settings.update_settings(ws.actor, 6, discord_channel_id=channel, discord_bot_token=token)
    _db.session.rollback()
    assert not discord_threads.bot_configured(ws.id)


def test_without_a_bot_the_webhook_announcement_stays_and_no_thread_is_made(ws, worker, sink):
    planning_settings.update_settings(ws.actor, 6, sink.target("rooms"), discord_channel_id=CHANNEL_ID)  # no token
    room, _ = _open(ws)
    worker()
    assert sink.count() == 1 and _db.session.get(PlanningThread, room.id) is None and not _effects(
        discord_threads.THREAD_EFFECT)


# -- the fake is strict ---------------------------------------------------------------------------------


def test_the_fake_refuses_what_discord_refuses(app, discord):
    with app.test_request_context():
        assert discord_threads.call("wrong", "GET", f"/channels/{CHANNEL_ID}").status == 401
        long_name = discord_threads.call(BOT_TOKEN, "POST", f"/channels/{CHANNEL_ID}/messages/1/threads",
                                         {"name": "x" * 101, "auto_archive_duration": 1440})
        too_long = discord_threads.call(BOT_TOKEN, "POST", f"/channels/{CHANNEL_ID}/messages",
                                        {"content": "x" * 2001})
        strange = discord_threads.call(BOT_TOKEN, "POST", f"/channels/{CHANNEL_ID}/messages",
                                       {"content": "hi", "embed_everyone": True})
    assert (long_name.status, long_name.code) == (400, 50035) and (too_long.status, too_long.code) == (400, 50035)
    assert strange.status == 400 and len(discord.violations) == 3
    discord.violations.clear()
