"""The admin's direct changes to the live world (webapp/worlds/live.py, live_removal.py): rooms created, edited and
removed, exits added and removed; sandbox rooms untouched; live areas protected; every change audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.drills.database import changes, rows
from webapp.audit.models import AuditEvent
from webapp.commands import parse
from webapp.errors import Conflict, Forbidden, Invalid, NotFound
from webapp.worlds import design, live, live_removal, promotion, queries
from webapp.worlds.commands import LiveExit, RoomChanges
from webapp.worlds.design import ExitConflict
from webapp.worlds.models import Exit, ExitName, Room


def room(admin, key="limbo", name=None, **fields):
    return live.add_live_room(admin, design.room_fields(key, name or key.title(), **fields))


def exit_command(source, destination, direction="north", **more):
    return parse(LiveExit, {"source_id": source.id, "destination_id": destination.id, "direction": direction, **more})


def audit_actions(db) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("world.%"))
                                   .order_by(AuditEvent.id)))


def test_a_live_room_gets_a_handle_from_its_key_and_keeps_its_fields_exactly(admin):
    first = room(admin, "limbo", "Limbo", description="  Grey.\n# not a comment", attributes='{"MaxHP": 10,  "hp": 1}',
                 tags=[["start", "zone"], ["safe", ""]])
    second = room(admin, "limbo", "Another Limbo")
    assert (first.handle, second.handle) == ("limbo#01", "limbo#02")
    assert first.sandbox_id is None and first.description == "  Grey.\n# not a comment"
    assert first.attributes_json == '{"MaxHP": 10,  "hp": 1}'
    assert [(t.key, t.category) for t in first.tags] == [("start", "zone"), ("safe", "")]


def test_an_edit_changes_only_the_fields_given_keeps_the_handle_and_the_build_tags(admin, db, factories):
    project = factories.build_project(admin)
    limbo = room(admin)
    promotion.promote(admin, project.id, limbo.id, "north")
    entry = db.session.get(Room, project.entry_room.room_id)
    handle, build_tags = entry.handle, sorted((t.key, t.category) for t in entry.tags if t.category == "build")
    assert build_tags
    updated = live.update_live_room(admin, entry.id, RoomChanges.model_validate(
        {"key": "gatehouse", "tags": [["outdoors", "terrain"], ["quest", ""]]}))
    assert (updated.key, updated.name, updated.handle) == ("gatehouse", "Mill gate", handle)
    assert sorted((t.key, t.category) for t in updated.tags) == sorted(
        [*build_tags, ("outdoors", "terrain"), ("quest", "")])
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "world.room_updated")).one()
    assert event.details["changed"] == ["key", "tags"]


def test_an_edit_that_breaks_a_rule_is_one_422_naming_every_field_and_saves_nothing(admin, db):
    limbo = room(admin)
    before = rows(db)
    with pytest.raises(Invalid) as refused:
        live.update_live_room(admin, limbo.id, RoomChanges.model_validate(
            {"key": "a b", "name": None, "attributes": "[1]", "tags": [["x", "build"]]}))
    assert set(refused.value.details) == {"key", "name", "attributes", "tags"}
    assert changes(before, rows(db)) == {}


def test_an_edit_that_changes_nothing_records_nothing(admin, db):
    limbo = room(admin)
    live.update_live_room(admin, limbo.id, RoomChanges.model_validate({"name": "Limbo"}))
    assert audit_actions(db) == ["world.room_added"]


def test_sandbox_rooms_are_not_live_rooms_to_any_of_these_services(admin, db, factories):
    project = factories.build_project(admin)
    sandboxed = project.rooms[0].room_id
    limbo = room(admin)
    before = rows(db)
    for attempt in (lambda: live.update_live_room(admin, sandboxed, RoomChanges.model_validate({"name": "X"})),
                    lambda: live_removal.remove_live_room(admin, sandboxed),
                    lambda: live.add_live_exit(admin, parse(LiveExit, {"source_id": limbo.id, "destination_id":
                                                                       sandboxed, "direction": "up"})),
                    lambda: live_removal.remove_live_exit(admin, db.session.scalars(
                        select(Exit.id).where(Exit.source_id == sandboxed)).first())):
        with pytest.raises(NotFound):
            attempt()
    assert changes(before, rows(db)) == {}


@pytest.mark.parametrize("role", ["viewer", "editor", "promoter"])
def test_only_admins_change_the_live_world(factories, db, admin, role):
    other = factories.user(role, "Acme")
    limbo, square = room(admin), room(admin, "square")
    before = rows(db)
    for attempt in (lambda: live.add_live_room(other, design.room_fields("x", "X")),
                    lambda: live.update_live_room(other, limbo.id, RoomChanges.model_validate({"name": "X"})),
                    lambda: live_removal.remove_live_room(other, limbo.id),
                    lambda: live.add_live_exit(other, exit_command(limbo, square)),
                    lambda: live.list_live_rooms(other)):
        with pytest.raises(Forbidden):
            attempt()
    assert changes(before, rows(db)) == {}


def test_another_workspaces_room_is_a_404(factories, admin):
    theirs = room(factories.user("admin", "Globex"))
    with pytest.raises(NotFound):
        live.update_live_room(admin, theirs.id, RoomChanges.model_validate({"name": "Mine now"}))
    with pytest.raises(NotFound):
        live_removal.remove_live_room(admin, theirs.id)


def test_an_exit_both_ways_is_named_by_its_direction_and_aliases_and_the_way_back_by_the_opposite(admin, db):
    limbo, square = room(admin), room(admin, "square")
    out, back = live.add_live_exit(admin, exit_command(limbo, square, "N", aliases="gate, arch", both_ways=True))
    assert (out.key, out.aliases, out.source_id, out.destination_id) == ("north", ["n", "gate", "arch"], limbo.id,
                                                                         square.id)
    assert (back.key, back.aliases, back.source_id) == ("south", ["s"], square.id)
    assert sorted(db.session.scalars(select(ExitName.name).where(ExitName.source_id == limbo.id))) == [
        "arch", "gate", "n", "north"]
    one_way = live.add_live_exit(admin, exit_command(square, limbo, "up"))
    assert [e.key for e in one_way] == ["up"]


def test_an_exit_whose_name_a_room_already_has_is_a_409_listing_each_clash_and_adds_nothing(admin, db):
    limbo, square, tower = room(admin), room(admin, "square"), room(admin, "tower")
    live.add_live_exit(admin, exit_command(limbo, square, "north", aliases="gate", both_ways=True))
    before = rows(db)
    taken = ["Limbo (limbo#01) already has an exit named 'north': 'north' to Square.",
             "Limbo (limbo#01) already has an exit named 'n': 'north' to Square."]
    with pytest.raises(ExitConflict) as forward:
        live.add_live_exit(admin, exit_command(limbo, tower, "n"))
    assert forward.value.status == 409 and forward.value.details["conflicts"] == taken
    with pytest.raises(ExitConflict) as way_back:  # tower → limbo south is free; limbo → tower north is not
        live.add_live_exit(admin, exit_command(tower, limbo, "south", both_ways=True))
    assert way_back.value.details["conflicts"] == taken
    with pytest.raises(ExitConflict) as alias:
        live.add_live_exit(admin, exit_command(limbo, tower, "up", aliases="gate"))
    assert alias.value.details["conflicts"] == [taken[0].replace("'north': ", "'gate': ")]
    assert changes(before, rows(db)) == {}


def test_an_exit_back_into_its_own_room_is_a_422(admin, db):
    limbo = room(admin)
    with pytest.raises(Invalid):
        live.add_live_exit(admin, exit_command(limbo, limbo))
    assert db.session.scalars(select(Exit)).all() == []


def test_a_room_is_removed_with_its_exits_both_ways_and_the_other_rooms_stay(admin, db):
    limbo, square, tower = room(admin), room(admin, "square"), room(admin, "tower")
    live.add_live_exit(admin, exit_command(limbo, square, "north", both_ways=True))
    live.add_live_exit(admin, exit_command(square, tower, "up", both_ways=True))
    removal = live_removal.room_removal(admin, square.id)
    assert [v.exit.key for v in removal.leaving] == ["south", "up"] and removal.refusals == []
    assert sorted(v.other.name for v in removal.arriving) == ["Limbo", "Tower"]
    removed = live_removal.remove_live_room(admin, square.id)
    assert len(removed.exit_ids) == 4
    assert db.session.get(Room, square.id) is None and db.session.scalars(select(Exit)).all() == []
    assert db.session.scalars(select(ExitName)).all() == []
    assert [r.handle for r in queries.live_rooms(admin)] == ["limbo#01", "tower#01"]
    assert audit_actions(db)[-1] == "world.room_removed"


def test_the_connection_room_and_the_rooms_of_a_live_area_are_not_removed_nor_its_connecting_exits(
        admin, db, factories):
    project = factories.build_project(admin, name="The Old Mill")
    limbo, square = room(admin), room(admin, "square")
    live.add_live_exit(admin, exit_command(limbo, square, "east", both_ways=True))
    result = promotion.promote(admin, project.id, limbo.id, "north")
    before = rows(db)
    with pytest.raises(Conflict) as connection:
        live_removal.remove_live_room(admin, limbo.id)
    assert connection.value.code == "room_in_use" and "connection room of the live area 'The Old Mill'" in \
        connection.value.details["refusals"][0]
    with pytest.raises(Conflict) as area_room:
        live_removal.remove_live_room(admin, result.entry_room_id)
    assert "a room of the live area 'The Old Mill'" in area_room.value.message
    for created in result.created_exits:
        with pytest.raises(Conflict) as pair:
            live_removal.remove_live_exit(admin, created.id)
        assert pair.value.code == "exit_in_use"
    assert changes(before, rows(db)) == {}
    # What joins only live rooms outside the area goes as asked.
    east = db.session.scalars(select(Exit).where(Exit.source_id == limbo.id, Exit.key == "east")).one()
    assert live_removal.remove_live_exit(admin, east.id).source_id == limbo.id
    assert live_removal.remove_live_room(admin, square.id).exit_ids  # the way back from square went with it


def test_every_change_is_audited_with_consistent_names(admin, db):
    limbo, square = room(admin), room(admin, "square")
    out, _ = live.add_live_exit(admin, exit_command(limbo, square, both_ways=True))
    live.update_live_room(admin, square.id, RoomChanges.model_validate({"name": "Village square"}))
    live_removal.remove_live_exit(admin, out.id)
    live_removal.remove_live_room(admin, square.id)
    assert audit_actions(db) == ["world.room_added", "world.room_added", "world.exit_added", "world.room_updated",
                                 "world.exit_removed", "world.room_removed"]


def test_find_live_room_takes_a_handle_or_an_id(admin):
    limbo = room(admin)
    assert live.find_live_room(admin, "limbo#01").id == live.find_live_room(admin, str(limbo.id)).id == limbo.id
    for ref in ("limbo", "nowhere#01", "9" * 30):
        with pytest.raises(NotFound):
            live.find_live_room(admin, ref)


def test_the_list_counts_every_live_room_and_lists_the_matches_with_their_exits(admin):
    limbo, square = room(admin), room(admin, "square", "Village square")
    live.add_live_exit(admin, exit_command(limbo, square, both_ways=True))
    listing = live.list_live_rooms(admin, "vill")
    assert listing.total == 2 and [r.id for r in listing.rooms] == [square.id] and not listing.more
    assert listing.exit_counts == {square.id: 1}
