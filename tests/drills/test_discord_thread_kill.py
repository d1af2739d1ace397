"""Drill: a real worker (`flask --app wsgi worker`) SIGKILLed while Discord holds its answer to the thread's first
message. Discord made the message; nobody knows. Past the outbox's lease the reconciler marks the effect and the
room's thread `unknown`, and a fresh worker sends nothing again (tests/fake_discord_api.py stands in for Discord)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.drills.fanout import fresh, needs_proc
from tests.drills.report import drill
from tests.fake_discord_api import BOT_TOKEN, CHANNEL_ID, FakeDiscordAPI, serve
from tests.workers import TIMEOUT, Workers
from webapp.accounts import services as accounts
from webapp.accounts.models import User
from webapp.gamenight import discord_threads, planning_rooms, planning_settings
from webapp.gamenight.models import PlanningThread, ThreadStatus
from webapp.outbox import services as outbox
from webapp.outbox.models import EffectStatus, OutboxEffect

pytestmark = needs_proc


@pytest.fixture
def admin(factories):
    return factories.user("admin", "Acme", email="boss@example.com")


@pytest.fixture
def discord() -> Iterator[FakeDiscordAPI]:
    with serve() as fake:
        yield fake


def test_a_worker_killed_while_discord_holds_the_answer_leaves_one_message_and_an_unknown_thread(
        db, redis, settings, admin, factories, discord, tmp_path, monkeypatch):
    workers = Workers(settings, tmp_path, DISCORD_API_URL=discord.base, DISCORD_API_TIMEOUT_SECONDS="60")
    try:
        planning_settings.update_settings(admin, 6, discord_channel_id=CHANNEL_ID, discord_bot_token=BOT_TOKEN)
        discord.slow("create_message", TIMEOUT)
        players = [factories.player(admin.workspace_id, f"p{i}@example.com", "available", name=f"Player {i}",
                                    external_id=f"p-{i}") for i in range(6)]
        opener = accounts.actor_for_user(db.session.get(User, players[0]), admin.workspace_id)
        room, _ = planning_rooms.create(planning_rooms.Member.of(opener))  # the effect goes onto RQ after the commit
        first = workers.start()
        assert discord.holding.wait(TIMEOUT), "the worker never asked Discord\n" + workers.output()
        workers.kill(first)  # the worker, its scheduler and the work horse waiting for Discord's answer
        discord.release()

        fresh(db)
        [effect] = db.session.query(OutboxEffect).filter_by(kind=discord_threads.THREAD_EFFECT).all()
        assert effect.status is EffectStatus.running  # nobody will finish it
        monkeypatch.setattr(outbox, "RUNNING_LEASE", timedelta(0))  # its lease is over (5 minutes in production)
        assert outbox.reconcile()["discord_threads_lost"] == 1

        second = workers.start("--burst")
        assert second.wait(TIMEOUT) == 0, workers.output()
        fresh(db)
        thread = db.session.get(PlanningThread, room.id)
        assert db.session.get(OutboxEffect, effect.id).status is EffectStatus.unknown
        assert thread.status is ThreadStatus.unknown and thread.error == discord_threads.LOST
        made = len(discord.channel_messages())
        drill("discord thread, worker SIGKILLed mid-call", lost=0, duplicated=made - 1)
        assert len(discord.calls_to("create_message")) == 1 and discord.calls_to("start_thread") == []
    finally:
        workers.close()
