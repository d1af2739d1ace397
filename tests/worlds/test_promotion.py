"""Promotion into the live world: rooms moved with their ids, the exit pair, the outbox cleanup, conflicts,
an injected failure, the stale dialog and the preview token, the webhook."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from webapp.errors import BadRequest, Conflict, NotFound
from webapp.outbox import services as outbox
from webapp.outbox.models import EffectStatus, OutboxEffect
from webapp.worlds import live, promotion, queries
from webapp.worlds.models import BuildProject, Exit, ExitName, ProjectStatus, Room, RoomTag, Sandbox


def _snapshot(db, project_id: int) -> dict:
    rooms = db.session.scalars(select(Room).join(RoomTag).where(RoomTag.key == f"project_{project_id}")
                               .order_by(Room.id)).all()
    return {r.id: (r.key, r.name, r.description, r.attributes_json, r.sandbox_id,
                   sorted((t.key, t.category) for t in r.tags)) for r in rooms}


def test_promotion_moves_the_rooms_keeping_ids_and_attributes_and_links_them_in(factories, db):
    admin = factories.user("admin")
    limbo = factories.live_room(admin)
    project = factories.build_project(admin)
    before = _snapshot(db, project.id)
    entry = queries.get_project(admin, project.id).entry_room.room_id
    result = promotion.promote(admin, project.id, limbo.id, "NE")
    assert result.promoted_rooms == 3 and result.entry_room_id == entry
    assert [(e.source_id, e.destination_id, e.key, e.aliases) for e in result.created_exits] == [
        (limbo.id, entry, "northeast", ["ne"]), (entry, limbo.id, "southwest", ["sw"])]
    db.session.expire_all()
    after = _snapshot(db, project.id)
    assert after.keys() == before.keys()  # same ids: moved, not copied
    for room_id, (key, name, description, attributes, sandbox_id, tags) in before.items():
        assert sandbox_id is not None and after[room_id][4] is None
        assert after[room_id][:4] == (key, name, description, attributes)  # attributes byte for byte
        assert after[room_id][5] == [t for t in tags if t != ("sandbox", "build")]
    project = db.session.get(BuildProject, project.id)
    assert (project.status, project.connection_room_id, project.connection_direction, project.sandbox_id) == \
        (ProjectStatus.live, limbo.id, "northeast", None)
    assert project.promoted_at is not None
    assert {r.id for r in queries.live_rooms(admin)} == {limbo.id, *before}


def test_promotion_is_audited_and_removes_the_sandbox_through_the_outbox(factories, db, worker):
    admin = factories.user("admin")
    limbo = factories.live_room(admin)
    project = factories.build_project(admin)
    sandbox_id = project.sandbox_id
    promotion.promote(admin, project.id, limbo.id, "north")
    from webapp.audit.models import AuditEvent

    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "build.promoted"))
    assert event.details["rooms"] == 3 and event.details["direction"] == "north"
    effect = db.session.scalar(select(OutboxEffect).where(OutboxEffect.kind == "worlds.remove_sandbox"))
    assert effect.payload == {"sandbox_id": sandbox_id}
    worker()
    db.session.expire_all()
    assert db.session.get(OutboxEffect, effect.id).status is EffectStatus.done
    assert db.session.get(Sandbox, sandbox_id) is None


def test_the_sandbox_cleanup_effect_run_twice_removes_once_and_changes_nothing_more(factories, db):
    admin = factories.user("admin")
    limbo = factories.live_room(admin)
    project = factories.build_project(admin)
    sandbox_id = project.sandbox_id
    promotion.promote(admin, project.id, limbo.id, "north")
    effect = db.session.scalar(select(OutboxEffect).where(OutboxEffect.kind == "worlds.remove_sandbox"))
    assert outbox.HANDLERS["worlds.remove_sandbox"](effect) == {"removed": True}
    assert outbox.HANDLERS["worlds.remove_sandbox"](effect) == {"removed": False}
    assert db.session.get(Sandbox, sandbox_id) is None
    assert db.session.scalar(select(func.count()).select_from(Room)) == 4


def test_cleanup_never_removes_a_sandbox_that_still_holds_rooms(factories, db):
    admin = factories.user("admin")
    project = factories.build_project(admin)

    effect = OutboxEffect(kind="worlds.remove_sandbox", payload={"sandbox_id": project.sandbox_id})
    assert outbox.HANDLERS["worlds.remove_sandbox"](effect) == {"removed": False, "rooms_left": 3}
    assert db.session.get(Sandbox, project.sandbox_id) is not None


def test_a_connection_room_with_an_exit_that_way_is_a_409_by_key_or_alias(factories, db):
    admin = factories.user("admin")
    limbo, square = factories.live_room(admin, "limbo"), factories.live_room(admin, "square")
    live.link_rooms(admin, limbo.id, square.id, "north")  # limbo has north (n); square has south (s)
    project = factories.build_project(admin)
    before = _snapshot(db, project.id)
    for direction in ("north", "n", "N"):
        preview = promotion.promotion_preview(admin, project.id, limbo.id, direction)
        assert preview.conflicts and "already has an exit north (n)" in preview.conflicts[0]
        with pytest.raises(Conflict) as caught:
            promotion.promote(admin, project.id, limbo.id, direction)
        assert caught.value.status == 409 and "Limbo (the connection room)" in caught.value.message
    assert _snapshot(db, project.id) == before


def test_an_entry_room_with_an_exit_the_opposite_way_is_a_409(factories, db):
    admin = factories.user("admin")
    limbo = factories.live_room(admin)
    project = factories.build_project(admin)  # the entry (gate) has an exit north to the yard
    preview = promotion.promotion_preview(admin, project.id, limbo.id, "south")
    assert len(preview.conflicts) == 1 and "Mill gate (the entry room) already has an exit north" in preview.conflicts[0]
    with pytest.raises(Conflict, match="the entry room"):
        promotion.promote(admin, project.id, limbo.id, "south")
    assert queries.get_project(admin, project.id).status is ProjectStatus.built


def test_an_alias_taking_the_directions_short_form_also_conflicts(factories):
    admin = factories.user("admin")
    limbo, hut = factories.live_room(admin, "limbo"), factories.live_room(admin, "hut")
    project = factories.build_project(admin)
    from webapp.extensions import db

    live.add_exits(admin.workspace_id, [(limbo.id, hut.id, "hatch", ["e"])])  # a custom exit aliased "e"
    db.session.commit()
    preview = promotion.promotion_preview(admin, project.id, limbo.id, "east")
    assert preview.conflicts and "'hatch'" in preview.conflicts[0]


def test_a_connection_room_inside_the_area_is_a_conflict(factories):
    admin = factories.user("admin")
    project = factories.build_project(admin)
    inside = queries.get_project(admin, project.id).rooms[1].room_id
    preview = promotion.promotion_preview(admin, project.id, inside, "east")
    assert preview.conflicts == ["Mill yard (yard#01) is inside the area being promoted; connect it to a live room."]
    with pytest.raises(Conflict, match="inside the area"):
        promotion.promote(admin, project.id, inside, "east")


def test_a_missing_connection_room_is_a_404_and_an_unknown_direction_a_400(factories):
    admin = factories.user("admin")
    limbo = factories.live_room(admin)
    project = factories.build_project(admin)
    with pytest.raises(NotFound):
        promotion.promote(admin, project.id, 999_999, "north")
    with pytest.raises(BadRequest, match="not a direction"):
        promotion.promote(admin, project.id, limbo.id, "upward")
    with pytest.raises(NotFound):
        promotion.promote(admin, 999_999, limbo.id, "north")


def test_an_injected_failure_after_the_exits_are_written_rolls_everything_back_and_a_retry_succeeds(
        factories, db, monkeypatch):
    admin = factories.user("admin")
    limbo = factories.live_room(admin)
    project = factories.build_project(admin)
    before = _snapshot(db, project.id)
    written = []

    def fail_after_exits(*args, **kwargs):
        written.append(db.session.scalar(select(func.count()).select_from(Exit).where(Exit.source_id == limbo.id)))
        raise RuntimeError("disk full")

    monkeypatch.setattr(promotion, "_mark_live", fail_after_exits)
    with pytest.raises(RuntimeError, match="disk full"):
        promotion.promote(admin, project.id, limbo.id, "north")
    assert written == [1]  # the exits were in the transaction when it failed
    db.session.expire_all()
    assert _snapshot(db, project.id) == before  # the sandbox is intact: rooms, tags, container
    assert db.session.scalar(select(func.count()).select_from(Exit).where(Exit.source_id == limbo.id)) == 0
    assert db.session.scalar(select(func.count()).select_from(ExitName).where(ExitName.source_id == limbo.id)) == 0
    assert db.session.get(BuildProject, project.id).status is ProjectStatus.built
    assert db.session.scalar(select(func.count()).select_from(OutboxEffect)
                             .where(OutboxEffect.kind == "worlds.remove_sandbox")) == 0

    monkeypatch.undo()
    result = promotion.promote(admin, project.id, limbo.id, "north")
    assert result.promoted_rooms == 3


def test_a_stale_dialog_is_a_409_with_the_fresh_preview(factories, db):
    admin = factories.user("admin")
    limbo, square = factories.live_room(admin, "limbo"), factories.live_room(admin, "square")
    project = factories.build_project(admin)
    preview = promotion.promotion_preview(admin, project.id, limbo.id, "north")
    assert preview.conflicts == []
    live.link_rooms(admin, limbo.id, square.id, "north")  # someone links a room there meanwhile
    with pytest.raises(promotion.WorldChanged) as caught:
        promotion.promote(admin, project.id, limbo.id, "north", preview.token)
    assert caught.value.status == 409
    assert caught.value.details["conflicts"] and caught.value.details["preview_token"] != preview.token
    assert queries.get_project(admin, project.id).status is ProjectStatus.built


def test_an_unchanged_dialog_token_promotes_and_a_token_for_another_direction_is_a_400(factories):
    admin = factories.user("admin")
    limbo = factories.live_room(admin)
    project = factories.build_project(admin)
    token = promotion.promotion_preview(admin, project.id, limbo.id, "east").token
    with pytest.raises(BadRequest, match="another project, room or direction"):
        promotion.promote(admin, project.id, limbo.id, "west", token)
    with pytest.raises(BadRequest, match="not valid"):
        promotion.promote(admin, project.id, limbo.id, "east", "forged")
    assert promotion.promote(admin, project.id, limbo.id, "e", token).promoted_rooms == 3


def test_a_promotion_queues_a_world_promoted_webhook_for_every_active_endpoint(factories, db):
    from webapp.webhooks import services as webhooks

    admin = factories.user("admin")
    webhooks.create_endpoint(admin, "https://hooks.example/world")
    limbo = factories.live_room(admin)
    project = factories.build_project(admin)
    promotion.promote(admin, project.id, limbo.id, "west")
    [effect] = db.session.scalars(select(OutboxEffect).where(OutboxEffect.kind == "webhook.deliver")).all()
    assert effect.payload["event"] == "world.promoted"
    assert effect.payload["data"] | {"sandbox_id": None} == {
        "project_id": project.id, "name": project.name, "rooms": 3, "connection_room_id": limbo.id,
        "connection_room": "limbo#01", "direction": "west", "sandbox_id": None}


def test_the_promote_answer_carries_the_status_and_a_message_on_the_api_and_the_dashboard(factories, client, auth):
    admin = factories.user("admin", "Acme", email="boss@example.com")
    square = factories.live_room(admin, "square", "Village square")
    first, second = factories.build_project(admin, name="The Old Mill"), factories.build_project(admin, name="Hut")
    headers = {"Authorization": f"Bearer {factories.personal_token(admin)}"}
    answer = client.post(f"/api/v1/builds/{first.id}/promote", headers=headers,
                         json={"connection_room_id": square.id, "connection_direction": "down"})
    body = answer.get_json()
    assert answer.status_code == 200 and body["status"] == "live"
    assert body["message"] == "'The Old Mill' is live: 3 rooms, connected down from Village square."
    assert body["promoted_rooms"] == 3 and len(body["created_exits"]) == 2 and body["entry_room_id"]
    auth.login("boss@example.com")
    token = promotion.promotion_preview(admin, second.id, square.id, "ne").token
    confirmed = auth.post(f"/builds/{second.id}/promote", data={"connection_room_id": square.id, "direction": "ne",
                                                               "preview_token": token})
    assert confirmed.status_code == 303
    page = auth.get(confirmed.headers["Location"]).get_data(as_text=True)
    assert "&#39;Hut&#39; is live: 3 rooms, connected northeast of Village square." in page


def test_the_connection_room_list_answers_id_name_key_and_description(factories, client, auth):
    admin = factories.user("admin", "Acme", email="boss@example.com")
    square = factories.live_room(admin, "square", "Village square")
    factories.build_project(admin)  # sandbox rooms are not connection rooms
    headers = {"Authorization": f"Bearer {factories.personal_token(admin)}"}
    rooms = client.get("/api/v1/world/rooms", headers=headers).get_json()
    assert rooms == [{"id": square.id, "name": "Village square", "key": "square", "description": "The square.",
                      "handle": "square#01", "live": True}]
    auth.login("boss@example.com")
    picker = auth.get("/world/rooms/search", htmx=True, query_string={"q": "vill"}).get_data(as_text=True)
    assert "Village square <code>square#01</code>" in picker and "The square." in picker


def test_a_connection_room_taken_back_into_a_sandbox_after_the_preview_is_refused(factories, db):
    from webapp.worlds import unpromotion

    admin = factories.user("admin")
    limbo = factories.live_room(admin)
    mill, hut = factories.build_project(admin), factories.build_project(admin)
    promotion.promote(admin, mill.id, limbo.id, "north")
    loft = queries.get_project(admin, mill.id).rooms[2].room_id
    preview = promotion.promotion_preview(admin, hut.id, loft, "east")
    assert preview.conflicts == []
    unpromotion.unpromote(admin, mill.id)  # the loft goes back into a sandbox meanwhile
    with pytest.raises(Conflict, match="in another sandbox"):
        promotion.promote(admin, hut.id, loft, "east", preview.token)
    assert queries.get_project(admin, hut.id).status is ProjectStatus.built
