"""World builds through the services: directions, the design rules, the status machine, the sandbox,
and promotion into the live world (conflicts, the stale dialog, an injected failure, cleanup)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from webapp.errors import BadRequest, Conflict, Forbidden, Invalid, NotFound
from webapp.outbox import services as outbox
from webapp.outbox.models import EffectStatus, OutboxEffect
from webapp.worlds import services as worlds
from webapp.worlds.directions import DIRECTIONS, parse_direction
from webapp.worlds.models import (
    BuildProject,
    Exit,
    ExitName,
    ProjectStatus,
    Room,
    RoomTag,
    Sandbox,
)

# -- directions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "name", "opposite"), [
    ("north", "north", "south"), ("N", "north", "south"), (" s ", "south", "north"), ("East", "east", "west"),
    ("w", "west", "east"), ("NE", "northeast", "southwest"), ("northwest", "northwest", "southeast"),
    ("se", "southeast", "northwest"), ("SW", "southwest", "northeast"), ("u", "up", "down"),
    ("Down", "down", "up"), ("i", "in", "out"), ("OUT", "out", "in"),
])
def test_directions_parse_full_names_and_short_forms_in_any_case(text, name, opposite):
    direction = parse_direction(text)
    assert (direction.name, direction.opposite.name) == (name, opposite)
    assert direction.opposite.opposite is direction


def test_every_direction_is_the_opposite_of_its_opposite_and_points_the_other_way():
    assert len(DIRECTIONS) == 12
    for d in DIRECTIONS.values():
        assert d.opposite.opposite == d
        assert (d.opposite.dx, d.opposite.dy) == (-d.dx, -d.dy)


@pytest.mark.parametrize("text", ["", "norht", "nn", "left", None, 5, "north-east", "x" * 500])
def test_an_unknown_direction_is_a_400_naming_the_valid_ones(text):
    with pytest.raises(BadRequest) as caught:
        parse_direction(text)
    assert "north (n)" in caught.value.message and "out (o)" in caught.value.message
    assert caught.value.status == 400


# -- design and status machine ------------------------------------------------------------------


def test_the_status_machine_goes_draft_submitted_approved_built_live(factories):
    admin = factories.user("admin")
    limbo = factories.live_room(admin)
    project = factories.build_project(admin, until="draft")
    assert project.status is ProjectStatus.draft
    for action, status in (("submit", "submitted"), ("approve", "approved")):
        assert worlds.transition(admin, project.id, action).status.value == status
    assert worlds.build_sandbox(admin, project.id).status is ProjectStatus.built
    worlds.promote(admin, project.id, limbo.id, "north")
    assert worlds.get_project(admin, project.id).status is ProjectStatus.live


def test_reject_needs_a_reason_and_sends_the_project_back_to_draft_with_it(factories):
    admin = factories.user("admin")
    project = factories.build_project(admin, until="submitted")
    with pytest.raises(Invalid):
        worlds.transition(admin, project.id, "reject", "  ")
    rejected = worlds.transition(admin, project.id, "reject", "The loft has no way down.")
    assert rejected.status is ProjectStatus.draft and rejected.rejection_reason == "The loft has no way down."
    assert worlds.transition(admin, project.id, "submit").rejection_reason is None


@pytest.mark.parametrize(("until", "action", "allowed"), [
    ("draft", "approve", ["submit"]), ("draft", "build", ["submit"]), ("submitted", "build", ["approve", "reject"]),
    ("submitted", "submit", ["approve", "reject"]), ("approved", "submit", ["build"]),
    ("built", "approve", ["promote"]), ("built", "build", ["promote"]),
])
def test_an_invalid_transition_is_a_409_saying_which_are_allowed(factories, until, action, allowed):
    admin = factories.user("admin")
    project = factories.build_project(admin, until=until)
    with pytest.raises(Conflict) as caught:
        if action == "build":
            worlds.build_sandbox(admin, project.id)
        else:
            worlds.transition(admin, project.id, action, "reason")
    assert caught.value.status == 409 and caught.value.details["allowed"] == allowed
    assert ", ".join(allowed) in caught.value.message


def test_a_live_project_allows_no_transition(factories):
    admin = factories.user("admin")
    limbo = factories.live_room(admin)
    project = factories.build_project(admin)
    worlds.promote(admin, project.id, limbo.id, "north")
    with pytest.raises(Conflict, match="nothing"):
        worlds.transition(admin, project.id, "submit")


def test_roles_editors_design_and_build_promoters_approve_and_promote(factories):
    editor = factories.user("editor", "Acme")
    promoter = factories.user("promoter", "Acme")
    viewer = factories.user("viewer", "Acme")
    with pytest.raises(Forbidden):
        worlds.create_project(viewer, "Nope")
    project = worlds.create_project(editor, "Mill", "", factories.AREA)
    worlds.transition(editor, project.id, "submit")
    with pytest.raises(Forbidden):
        worlds.transition(editor, project.id, "approve")
    worlds.transition(promoter, project.id, "approve")
    worlds.build_sandbox(editor, project.id)
    limbo = factories.live_room(factories.user("admin", "Acme"))
    with pytest.raises(Forbidden):
        worlds.promotion_preview(editor, project.id, limbo.id, "north")
    with pytest.raises(Forbidden):
        worlds.promote(editor, project.id, limbo.id, "north")
    worlds.promote(promoter, project.id, limbo.id, "north")


def test_the_design_only_changes_while_the_project_is_a_draft(factories):
    admin = factories.user("admin")
    project = factories.build_project(admin, until="submitted")
    with pytest.raises(Conflict, match="only while the project is a draft"):
        worlds.add_room(admin, project.id, worlds.room_fields("cellar", "Cellar"))


@pytest.mark.parametrize(("field", "kwargs"), [
    ("key", {"key": "has space"}), ("key", {"key": ""}), ("name", {"name": ""}), ("name", {"name": "two\nlines"}),
    ("attributes", {"attributes": "[1, 2]"}), ("attributes", {"attributes": "{"}),
    ("attributes", {"attributes": '{"bad key": 1}'}), ("attributes", {"attributes": '{"x": NaN}'}),
    ("tags", {"tags": [["a;b", ""]]}), ("tags", {"tags": [["sandbox", "build"]]}),
])
def test_a_designed_room_with_a_bad_field_is_a_422_naming_it(field, kwargs):
    values = {"key": "hall", "name": "Hall", "description": "", "attributes": "{}", "tags": []} | kwargs
    with pytest.raises(Invalid) as caught:
        worlds.room_fields(**values)
    assert field in caught.value.details


def test_attribute_text_is_kept_verbatim(factories):
    admin = factories.user("admin")
    project = factories.build_project(admin, until="draft")
    text = '{ "sheet":{"str" :12,"notes":"é ☃", "ratio": 1.50} }'
    room = worlds.add_room(admin, project.id, worlds.room_fields("hall", "Hall", "", text))
    assert room.attributes_json == text
    assert room.attributes == {"sheet": {"str": 12, "notes": "é ☃", "ratio": 1.5}}


def test_two_exits_with_the_same_name_or_alias_from_one_room_are_refused(factories):
    admin = factories.user("admin")
    project = factories.build_project(admin, until="draft")
    gate, yard, loft = project.rooms
    with pytest.raises(Conflict, match="'north'"):
        worlds.add_exit(admin, project.id, gate.id, loft.id, "n")
    with pytest.raises(Conflict, match="'ladder'"):
        worlds.add_exit(admin, project.id, yard.id, gate.id, "west", "ladder")
    with pytest.raises(BadRequest, match="not a direction"):
        worlds.add_exit(admin, project.id, gate.id, loft.id, "sideways")
    with pytest.raises(Invalid, match="another room"):
        worlds.add_exit(admin, project.id, gate.id, gate.id, "east")
    added = worlds.add_exit(admin, project.id, gate.id, loft.id, "ne", "shortcut")
    assert (added.key, added.aliases) == ("northeast", ["ne", "shortcut"])


def test_removing_a_room_removes_its_exits_and_the_entry_falls_back_to_the_first_room(factories):
    admin = factories.user("admin")
    project = factories.build_project(admin, until="draft")
    gate, yard, _loft = project.rooms
    worlds.set_entry(admin, project.id, yard.id)
    assert worlds.get_project(admin, project.id).entry_room.id == yard.id
    worlds.remove_room(admin, project.id, yard.id)
    project = worlds.get_project(admin, project.id)
    assert [r.key for r in project.rooms] == ["gate", "loft"] and project.exits == []
    assert project.entry_room.id == gate.id


# -- sandbox ------------------------------------------------------------------------------------


def test_build_digs_the_rooms_in_a_sandbox_tagged_and_hidden_from_live_rooms(factories, db):
    admin = factories.user("admin")
    factories.live_room(admin, "limbo")
    project = factories.build_project(admin)
    rooms = db.session.scalars(select(Room).where(Room.sandbox_id == project.sandbox_id)).all()
    assert sorted(r.key for r in rooms) == ["gate", "loft", "yard"]
    assert [r.handle for r in sorted(rooms, key=lambda r: r.id)] == ["gate#01", "yard#01", "loft#01"]
    for room in rooms:
        tags = {(t.key, t.category) for t in room.tags}
        assert {("sandbox", "build"), ("web_builder", "build"), (f"project_{project.id}", "build")} <= tags
    assert [r.key for r in worlds.live_rooms(admin)] == ["limbo"]
    assert db.session.scalar(select(func.count()).select_from(Exit)) == 4


def test_handles_count_up_per_key_across_builds(factories):
    admin = factories.user("admin")
    first, second = factories.build_project(admin), factories.build_project(admin)
    handles = {r.handle for p in (first, second) for r in worlds.get_project(admin, p.id).rooms
               for r in [worlds.get_room(admin, r.room_id)]}
    assert {"gate#01", "gate#02", "yard#01", "yard#02"} <= handles


# -- promotion ----------------------------------------------------------------------------------


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
    entry = worlds.get_project(admin, project.id).entry_room.room_id
    result = worlds.promote(admin, project.id, limbo.id, "NE")
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
    assert {r.id for r in worlds.live_rooms(admin)} == {limbo.id, *before}


def test_promotion_is_audited_and_removes_the_sandbox_through_the_outbox(factories, db, worker):
    admin = factories.user("admin")
    limbo = factories.live_room(admin)
    project = factories.build_project(admin)
    sandbox_id = project.sandbox_id
    worlds.promote(admin, project.id, limbo.id, "north")
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
    worlds.promote(admin, project.id, limbo.id, "north")
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
    worlds.link_rooms(admin, limbo.id, square.id, "north")  # limbo has north (n); square has south (s)
    project = factories.build_project(admin)
    before = _snapshot(db, project.id)
    for direction in ("north", "n", "N"):
        preview = worlds.promotion_preview(admin, project.id, limbo.id, direction)
        assert preview.conflicts and "already has an exit north (n)" in preview.conflicts[0]
        with pytest.raises(Conflict) as caught:
            worlds.promote(admin, project.id, limbo.id, direction)
        assert caught.value.status == 409 and "Limbo (the connection room)" in caught.value.message
    assert _snapshot(db, project.id) == before


def test_an_entry_room_with_an_exit_the_opposite_way_is_a_409(factories, db):
    admin = factories.user("admin")
    limbo = factories.live_room(admin)
    project = factories.build_project(admin)  # the entry (gate) has an exit north to the yard
    preview = worlds.promotion_preview(admin, project.id, limbo.id, "south")
    assert len(preview.conflicts) == 1 and "Mill gate (the entry room) already has an exit north" in preview.conflicts[0]
    with pytest.raises(Conflict, match="the entry room"):
        worlds.promote(admin, project.id, limbo.id, "south")
    assert worlds.get_project(admin, project.id).status is ProjectStatus.built


def test_an_alias_taking_the_directions_short_form_also_conflicts(factories):
    admin = factories.user("admin")
    limbo, hut = factories.live_room(admin, "limbo"), factories.live_room(admin, "hut")
    project = factories.build_project(admin)
    from webapp.extensions import db

    worlds._add_exits(admin.workspace_id, [(limbo.id, hut.id, "hatch", ["e"])])  # a custom exit aliased "e"
    db.session.commit()
    preview = worlds.promotion_preview(admin, project.id, limbo.id, "east")
    assert preview.conflicts and "'hatch'" in preview.conflicts[0]


def test_a_connection_room_inside_the_area_is_a_conflict(factories):
    admin = factories.user("admin")
    project = factories.build_project(admin)
    inside = worlds.get_project(admin, project.id).rooms[1].room_id
    preview = worlds.promotion_preview(admin, project.id, inside, "east")
    assert preview.conflicts == ["Mill yard (yard#01) is inside the area being promoted; connect it to a live room."]
    with pytest.raises(Conflict, match="inside the area"):
        worlds.promote(admin, project.id, inside, "east")


def test_a_missing_connection_room_is_a_404_and_an_unknown_direction_a_400(factories):
    admin = factories.user("admin")
    limbo = factories.live_room(admin)
    project = factories.build_project(admin)
    with pytest.raises(NotFound):
        worlds.promote(admin, project.id, 999_999, "north")
    with pytest.raises(BadRequest, match="not a direction"):
        worlds.promote(admin, project.id, limbo.id, "upward")
    with pytest.raises(NotFound):
        worlds.promote(admin, 999_999, limbo.id, "north")


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

    monkeypatch.setattr(worlds, "_mark_live", fail_after_exits)
    with pytest.raises(RuntimeError, match="disk full"):
        worlds.promote(admin, project.id, limbo.id, "north")
    assert written == [1]  # the exits were in the transaction when it failed
    db.session.expire_all()
    assert _snapshot(db, project.id) == before  # the sandbox is intact: rooms, tags, container
    assert db.session.scalar(select(func.count()).select_from(Exit).where(Exit.source_id == limbo.id)) == 0
    assert db.session.scalar(select(func.count()).select_from(ExitName).where(ExitName.source_id == limbo.id)) == 0
    assert db.session.get(BuildProject, project.id).status is ProjectStatus.built
    assert db.session.scalar(select(func.count()).select_from(OutboxEffect)
                             .where(OutboxEffect.kind == "worlds.remove_sandbox")) == 0

    monkeypatch.undo()
    result = worlds.promote(admin, project.id, limbo.id, "north")
    assert result.promoted_rooms == 3


def test_a_stale_dialog_is_a_409_with_the_fresh_preview(factories, db):
    admin = factories.user("admin")
    limbo, square = factories.live_room(admin, "limbo"), factories.live_room(admin, "square")
    project = factories.build_project(admin)
    preview = worlds.promotion_preview(admin, project.id, limbo.id, "north")
    assert preview.conflicts == []
    worlds.link_rooms(admin, limbo.id, square.id, "north")  # someone links a room there meanwhile
    with pytest.raises(worlds.WorldChanged) as caught:
        worlds.promote(admin, project.id, limbo.id, "north", preview.token)
    assert caught.value.status == 409
    assert caught.value.details["conflicts"] and caught.value.details["preview_token"] != preview.token
    assert worlds.get_project(admin, project.id).status is ProjectStatus.built


def test_an_unchanged_dialog_token_promotes_and_a_token_for_another_direction_is_a_400(factories):
    admin = factories.user("admin")
    limbo = factories.live_room(admin)
    project = factories.build_project(admin)
    token = worlds.promotion_preview(admin, project.id, limbo.id, "east").token
    with pytest.raises(BadRequest, match="another project, room or direction"):
        worlds.promote(admin, project.id, limbo.id, "west", token)
    with pytest.raises(BadRequest, match="not valid"):
        worlds.promote(admin, project.id, limbo.id, "east", "forged")
    assert worlds.promote(admin, project.id, limbo.id, "e", token).promoted_rooms == 3


def test_another_workspace_sees_nothing_of_this_one(factories):
    admin = factories.user("admin", "Acme")
    limbo = factories.live_room(admin)
    project = factories.build_project(admin)
    other = factories.user("admin", "Globex")
    mine = factories.live_room(other, "limbo")
    with pytest.raises(NotFound):
        worlds.get_project(other, project.id)
    with pytest.raises(NotFound):
        worlds.get_room(other, limbo.id)
    with pytest.raises(NotFound):
        worlds.promote(other, project.id, mine.id, "north")
    other_project = factories.build_project(other)
    with pytest.raises(NotFound):
        worlds.promotion_preview(other, other_project.id, limbo.id, "north")
    assert [r.id for r in worlds.live_rooms(other)] == [mine.id]


# -- export and import --------------------------------------------------------------------------


def test_json_export_imports_back_into_a_project_with_the_same_rooms_exits_attributes_and_tags(factories):
    admin = factories.user("admin")
    limbo = factories.live_room(admin)
    project = factories.build_project(admin)
    worlds.promote(admin, project.id, limbo.id, "north")
    exported = worlds.export_document(admin, area=project.id)
    imported = worlds.import_document(admin, json.loads(json.dumps(exported)))
    assert imported.status is ProjectStatus.draft
    original = factories.AREA
    assert [(r.key, r.name, r.description, r.attributes) for r in imported.rooms] == [
        (r["key"], r["name"], r["description"], r["attributes"]) for r in original["rooms"]]
    assert [r.tags for r in imported.rooms] == [[["outdoors", "terrain"]], [], []]
    by_id = {r.id: r.key for r in imported.rooms}
    assert sorted((by_id[e.source_id], by_id[e.destination_id], e.key, e.aliases) for e in imported.exits) == sorted(
        (e["source"], e["destination"], parse_direction(e["direction"]).name,
         [parse_direction(e["direction"]).short, *e.get("aliases", [])]) for e in original["exits"])
    # ... and building the import gives the same export again, up to the new handles and project tag.
    again = factories.build_project(admin, worlds.export_document(admin, area=project.id))
    second = worlds.export_document(admin, area=again.id)
    strip = lambda doc: [(r["key"], r["name"], r["description"], r["attributes"],
                          [t for t in r["tags"] if t["category"] != "build"]) for r in doc["rooms"]]
    assert strip(second) == strip(exported)
    assert len(second["exits"]) == len(exported["exits"]) - 0


def test_the_world_export_holds_live_rooms_only(factories):
    admin = factories.user("admin")
    factories.live_room(admin)
    factories.build_project(admin)
    assert [r["key"] for r in worlds.export_document(admin)["rooms"]] == ["limbo"]


def test_a_promotion_queues_a_world_promoted_webhook_for_every_active_endpoint(factories, db):
    from webapp.webhooks import services as webhooks

    admin = factories.user("admin")
    webhooks.create_endpoint(admin, "https://hooks.example/world")
    limbo = factories.live_room(admin)
    project = factories.build_project(admin)
    worlds.promote(admin, project.id, limbo.id, "west")
    [effect] = db.session.scalars(select(OutboxEffect).where(OutboxEffect.kind == "webhook.deliver")).all()
    assert effect.payload["event"] == "world.promoted"
    assert effect.payload["data"] | {"sandbox_id": None} == {
        "project_id": project.id, "name": project.name, "rooms": 3, "connection_room_id": limbo.id,
        "connection_room": "limbo#01", "direction": "west", "sandbox_id": None}
