"""The announcement of a new planning room through the outbox: once, retried, given up, or not at all."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from tests.gamenight.steps import count
from webapp.extensions import db as _db
from webapp.gamenight import planning_rooms, planning_settings
from webapp.gamenight.models import (
    PlanningMember,
    PlanningRoom,
    PostStatus,
)
from webapp.outbox.models import EffectStatus, OutboxEffect

# -- the announcement ---------------------------------------------------------------------------


def test_a_new_room_is_announced_once_through_the_outbox(ws, worker, sink):
    planning_settings.update_settings(ws.actor, 6, sink.target("rooms"))
    members = ws.players(6)
    created, _ = planning_rooms.create(members[0])
    assert created.post_status is PostStatus.pending
    worker()
    assert sink.count() == 1 and "6 players are ready" in sink.received("rooms")[0]["message"]
    _db.session.expire_all()
    assert _db.session.get(PlanningRoom, created.id).post_status is PostStatus.sent
    assert "rooms" not in str(_db.session.scalars(select(OutboxEffect.payload)).all())  # the target is not in jobs


def test_a_failed_announcement_is_shown_and_retried_and_never_blocks_the_room(ws, worker, sink, app, monkeypatch):
    monkeypatch.setitem(app.config, "SETTINGS", replace(app.config["SETTINGS"], OUTBOX_MAX_ATTEMPTS=3))
    planning_settings.update_settings(ws.actor, 6, sink.target("down"))
    members = ws.players(6)
    sink.failing.add("down")
    created, _ = planning_rooms.create(members[0])
    planning_rooms.join(members[1])  # the room works meanwhile
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
    planning_settings.update_settings(ws.actor, 6, sink.target("down"))
    members = ws.players(6)
    sink.failing.add("down")
    created, _ = planning_rooms.create(members[0])
    worker()
    _db.session.expire_all()
    assert _db.session.get(PlanningRoom, created.id).post_status is PostStatus.failed
    assert _db.session.scalars(select(OutboxEffect.status)).one() is EffectStatus.failed
    auth.login("p1@example.com")
    assert "gave up" in auth.get("/planning/today").get_data(as_text=True)


def test_without_an_announcement_channel_nothing_is_queued(ws):
    created, _ = planning_rooms.create(ws.players(6)[0])
    assert created.post_status is PostStatus.off and count(OutboxEffect) == 0
