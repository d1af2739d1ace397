"""Importing a world into the live world (webapp/worlds/live_import.py, transfer.read_transfer, `flask world-import`):
all of it in one transaction, or nothing and the list of every clash."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.drills.database import changes, rows
from webapp.audit.models import AuditEvent
from webapp.errors import BadRequest, Forbidden, Invalid
from webapp.outbox.models import OutboxEffect
from webapp.webhooks import services as webhooks
from webapp.worlds import design, live, live_import, promotion, transfer
from webapp.worlds.commands import read_import
from webapp.worlds.live_import import ImportConflict
from webapp.worlds.models import Exit, Room


@pytest.fixture
def elsewhere(factories):
    """A world in another installation's workspace (Globex): Limbo and a square, and the Old Mill promoted north of
    Limbo, so its rooms carry the tags a build adds."""
    admin = factories.user("admin", "Globex")
    limbo = live.add_live_room(admin, design.room_fields("limbo", "Limbo", "  Grey.\n# not a comment",
                                                         '{"MaxHP": 10, "hp": 1}', [["start", "zone"]]))
    square = live.add_live_room(admin, design.room_fields("square", "Village square; the heart", "Busy."))
    live.link_rooms(admin, limbo.id, square.id, "east")
    project = factories.build_project(admin, name="The Old Mill")
    promotion.promote(admin, project.id, limbo.id, "north")
    return admin


def without_build_tags(document: dict) -> dict:
    return document | {"rooms": [r | {"tags": [t for t in r["tags"] if t["category"] != "build"]}
                                 for r in document["rooms"]]}


def room_count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Room))


def test_a_world_exported_elsewhere_imports_into_an_empty_live_world_exactly(admin, elsewhere, db):
    exported = transfer.export_document(elsewhere)
    result = live_import.import_live(admin, read_import(exported))
    assert len(result.rooms) == 5 and len(result.exits) == 8
    again = transfer.export_document(admin)
    # Handles, names, descriptions, attributes (byte for byte), exits and aliases come over as they were; the
    # tags a build added stay behind (no build made these rooms here).
    assert again["rooms"] == without_build_tags(exported)["rooms"] and again["exits"] == exported["exits"]
    limbo = db.session.scalars(select(Room).where(Room.workspace_id == admin.workspace_id,
                                                  Room.handle == "limbo#01")).one()
    assert limbo.attributes_json == '{"MaxHP": 10, "hp": 1}' and limbo.sandbox_id is None
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "world.imported")).one()
    assert event.workspace_id == admin.workspace_id
    assert event.details == {"title": "the live world", "format": "json", "rooms": 5, "exits": 8}


def test_importing_the_same_world_twice_refuses_with_every_clash_and_writes_nothing(admin, elsewhere, db):
    document = read_import(transfer.export_document(elsewhere))
    live_import.import_live(admin, document)
    before = rows(db)
    with pytest.raises(ImportConflict) as refused:
        live_import.import_live(admin, document)
    conflicts = refused.value.details["conflicts"]
    assert refused.value.status == 409 and refused.value.code == "import_conflict"
    assert len(conflicts) == 5 and conflicts[0] == "rooms[0] (limbo#01): the live room 'Limbo' already has this handle."
    assert refused.value.message.startswith("Nothing was imported: the file clashes with the live world (5): ")
    assert changes(before, rows(db)) == {}


def test_an_area_connects_to_live_rooms_by_handle_and_keys_without_handles_get_new_ones(admin, db, factories):
    limbo = factories.live_room(admin)
    area = {"rooms": [{"id": "gate", "key": "limbo", "name": "Gate"}, {"id": "yard#07", "key": "yard", "name": "Yard"},
                      {"key": "loft", "name": "Loft"}],
            "exits": [{"source": "limbo#01", "destination": "gate", "direction": "north"},
                      {"source": "gate", "destination": "limbo#01", "direction": "south", "aliases": ["back"]},
                      {"source": "gate", "destination": "yard#07", "direction": "east"},
                      {"source": "yard#07", "destination": "loft", "direction": "up"}]}
    result = live_import.import_live(admin, read_import(area))
    assert [r.handle for r in result.rooms] == ["limbo#02", "yard#07", "loft#01"]
    north = db.session.scalars(select(Exit).where(Exit.source_id == limbo.id)).one()
    assert (north.key, north.destination_id) == ("north", result.rooms[0].id)
    assert [e.aliases for e in result.exits][1] == ["s", "back"]


def test_every_clash_with_the_live_world_is_listed_at_once(admin, db, factories):
    limbo, square = factories.live_room(admin), factories.live_room(admin, "square")
    live.link_rooms(admin, limbo.id, square.id, "north")
    sandboxed = db.session.get(Room, factories.build_project(admin).rooms[0].room_id)
    area = {"rooms": [{"id": "square#01", "key": "square", "name": "Square again"}, {"key": "gate", "name": "Gate"}],
            "exits": [{"source": "limbo#01", "destination": "gate", "direction": "north"},
                      {"source": "gate", "destination": "nowhere#09", "direction": "east"},
                      {"source": "gate", "destination": sandboxed.handle, "direction": "west"},
                      {"source": "gate", "destination": 42, "direction": "up"}]}
    before = rows(db)
    with pytest.raises(ImportConflict) as refused:
        live_import.import_live(admin, read_import(area))
    assert refused.value.details["conflicts"] == [
        "rooms[0] (square#01): the live room 'Square' already has this handle.",
        "exits[0]: the live room Limbo (limbo#01) already has an exit named 'north'.",
        "exits[0]: the live room Limbo (limbo#01) already has an exit named 'n'.",
        "exits[1]: the destination 'nowhere#09' is neither a room of the file nor a live room.",
        f"exits[2]: the destination {sandboxed.handle!r} is a room in a sandbox, not in the live world.",
        "exits[3]: the destination 42 is neither a room of the file nor a live room.",
    ]
    assert changes(before, rows(db)) == {}


def test_a_file_that_contradicts_itself_is_a_422_listing_each_problem_and_writes_nothing(admin, db):
    area = {"rooms": [{"id": "a#01", "key": "a", "name": "A"}, {"id": "a#01", "key": "b", "name": "B"},
                      {"id": "c", "key": "c", "name": "C"}],
            "exits": [{"source": "c", "destination": "c", "direction": "north"},
                      {"source": "a#01", "destination": "c", "direction": "east", "aliases": ["door"]},
                      {"source": "a#01", "destination": "c", "direction": "west", "aliases": ["door"]}]}
    before = rows(db)
    with pytest.raises(Invalid) as refused:
        live_import.import_live(admin, read_import(area))
    assert refused.value.details["problems"] == [
        "rooms[1]: the id 'a#01' is rooms[0]'s too.",
        "exits[0]: an exit leads to another room, not back into its own.",
        "exits[2]: rooms[0] has two exits named 'door' in the file.",
    ]
    assert changes(before, rows(db)) == {}


@pytest.mark.parametrize(("document", "error"), [
    ({}, Invalid), ({"rooms": [], "exits": []}, Invalid), ({"rooms": [{"key": "a b", "name": "A"}]}, Invalid),
    ({"rooms": "many"}, BadRequest), ({"rooms": [{"key": "a", "name": "A"}, {"key": "b", "name": "B"}],
                                       "exits": [{"source": "a", "destination": "b", "direction": "sideways"}]},
                                      BadRequest),
])
def test_bad_documents_are_4xx_and_write_nothing(admin, db, document, error):
    before = rows(db)
    with pytest.raises(error):
        live_import.import_live(admin, read_import(document))
    assert changes(before, rows(db)) == {}


def test_only_admins_import(factories, db):
    with pytest.raises(Forbidden):
        live_import.import_live(factories.user("promoter", "Acme"), read_import({"rooms": [{"key": "a", "name": "A"}]}))
    assert room_count(db) == 0


def test_an_import_tells_the_webhooks(admin, db):
    webhooks.create_endpoint(admin, "https://hooks.example/acme")
    live_import.import_live(admin, read_import({"title": "a test", "rooms": [{"key": "a", "name": "A"}]}))
    payloads = [e.payload for e in db.session.scalars(select(OutboxEffect).where(OutboxEffect.kind == "webhook.deliver"))]
    assert [p["event"] for p in payloads] == ["world.imported"]
    assert payloads[0]["data"] == {"title": "a test", "format": "json", "rooms": 1, "exits": 0}


def test_read_transfer_answers_400_for_what_is_not_json_or_not_utf8(admin):
    for data, fmt in ((b"{", "json"), (b"[1]", "json"), (b"\xff\xfe", "ev")):
        with pytest.raises(BadRequest):
            transfer.read_transfer(data, fmt)


def test_the_evennia_batch_file_of_an_export_imports_the_same_world_as_its_json(admin, elsewhere, factories, db):
    batch = transfer.export_batch(elsewhere)
    result = live_import.import_live(admin, transfer.read_transfer(batch.encode(), "ev"), fmt="ev")
    assert len(result.rooms) == 5
    other = factories.user("admin", "Initech")
    live_import.import_live(other, read_import(transfer.export_document(elsewhere)))
    assert transfer.export_document(admin)["rooms"] == transfer.export_document(other)["rooms"]

    def exits(actor):  # the batch file keeps which exits each room has, not the order they were made in
        return sorted(transfer.export_document(actor)["exits"], key=lambda e: (e["source"], e["direction"]))

    assert exits(admin) == exits(other)


@pytest.mark.parametrize("fmt", ["ev", "json"])
def test_an_areas_export_connects_to_the_live_room_it_names_or_is_refused_naming_it(admin, elsewhere, db, factories,
                                                                                    fmt):
    from webapp.worlds.models import BuildProject

    area = db.session.scalars(select(BuildProject).where(BuildProject.workspace_id == elsewhere.workspace_id)).one()
    exported = (transfer.export_batch(elsewhere, area.id) if fmt == "ev" else
                json.dumps(transfer.export_document(elsewhere, area.id))).encode()  # JSON: its `connections`
    before = rows(db)
    with pytest.raises(ImportConflict) as refused:  # no limbo#01 here yet
        live_import.import_live(admin, transfer.read_transfer(exported, fmt), fmt=fmt)
    assert "'limbo#01' is neither a room of the file nor a live room" in refused.value.message
    assert changes(before, rows(db)) == {}
    limbo = factories.live_room(admin)
    result = live_import.import_live(admin, transfer.read_transfer(exported, fmt), fmt=fmt)
    assert len(result.rooms) == 3
    assert {e.key for e in db.session.scalars(select(Exit).where(Exit.source_id == limbo.id))} == {"north"}


# -- the CLI ---------------------------------------------------------------------------------------------


def invoke(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def test_flask_world_import_imports_a_json_file_and_refuses_a_clash_with_the_list(app, db, admin, elsewhere,
                                                                                  tmp_path):
    path = tmp_path / "world.json"
    path.write_text(json.dumps(transfer.export_document(elsewhere)))
    result = invoke(app, "world-import", str(path), "--workspace", "acme")
    assert result.exit_code == 0, result.output
    assert result.output == "Imported 5 rooms and 8 exits into the live world of Acme.\n"
    before = rows(db)
    again = invoke(app, "world-import", str(path), "--workspace", "acme")
    assert again.exit_code == 1
    assert "Nothing was changed:\n  - rooms[0] (limbo#01): the live room 'Limbo' already has this handle." in again.output
    assert changes(before, rows(db)) == {}
    assert invoke(app, "world-import", str(path), "--workspace", "nowhere").exit_code == 1


def test_flask_world_room_create_and_world_exit_create_make_a_first_world(app, db, admin):
    first = invoke(app, "world-room-create", "--workspace", "acme", "--key", "limbo", "--name", "Limbo",
                   "--description", "Grey.", "--attributes", '{"hp": 1}', "--tags", "start:zone")
    assert first.exit_code == 0 and first.output.startswith("limbo#01 (room ")
    assert invoke(app, "world-room-create", "--workspace", "acme", "--key", "square", "--name", "Square").exit_code == 0
    linked = invoke(app, "world-exit-create", "--workspace", "acme", "--from", "limbo#01", "--to", "square#01",
                    "--direction", "N", "--aliases", "gate", "--both-ways")
    assert linked.exit_code == 0, linked.output
    limbo, square = db.session.scalars(select(Room.id).where(Room.workspace_id == admin.workspace_id)
                                       .order_by(Room.id))
    assert [line.split(": ", 1)[1] for line in linked.output.splitlines()] == [
        f"north (n, gate) from room {limbo} to room {square}", f"south (s) from room {square} to room {limbo}"]
    clash = invoke(app, "world-exit-create", "--workspace", "acme", "--from", "limbo#01", "--to", "square#01",
                   "--direction", "north")
    assert clash.exit_code == 1 and "Limbo (limbo#01) already has an exit named 'north'" in clash.output
    bad = invoke(app, "world-room-create", "--workspace", "acme", "--key", "a b", "--name", "X")
    assert bad.exit_code == 1 and "key" in bad.output
    assert db.session.scalar(select(func.count()).select_from(Room)) == 2
