"""The Live world pages (admins): the room list and its search, a new room, a room's form and exits, the removal
dialogs, an import — with errors beside their fields and nothing written when refused."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select

from tests.drills.database import changes, rows
from webapp.worlds import live, promotion, transfer
from webapp.worlds.models import Exit, Room


@pytest.fixture
def admin(auth, factories):
    actor = factories.user("admin", "Acme", email="builder@example.com")
    auth.login(actor.label)
    return actor


def test_a_first_room_is_created_from_the_live_world_page_and_listed(auth, admin, db):
    page = auth.get("/world/live").get_data(as_text=True)
    assert "No live rooms yet" in page and "New live room" in page and "Import a world" in page
    assert 'href="/world/live"' in auth.get("/builds").get_data(as_text=True)  # the admin's way in
    answer = auth.post("/world/live/rooms", data={"key": "limbo", "name": "Limbo", "description": "Grey.",
                                                  "attributes": '{"hp": 1}', "tags": "start:zone"})
    assert answer.status_code == 303
    limbo = db.session.scalars(select(Room)).one()
    assert answer.headers["Location"].endswith(f"/world/live/rooms/{limbo.id}")
    assert (limbo.handle, limbo.attributes_json, [(t.key, t.category) for t in limbo.tags]) == (
        "limbo#01", '{"hp": 1}', [("start", "zone")])
    listed = auth.get("/world/live").get_data(as_text=True)
    assert "limbo#01" in listed and "1 live room" in listed


def test_a_bad_room_is_a_422_beside_each_field_and_saves_nothing(auth, admin, db):
    answer = auth.post("/world/live/rooms", data={"key": "a b", "name": "", "attributes": "{oops"})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert page.count('aria-invalid="true"') >= 3 and "not valid JSON" in page and "{oops" in page
    assert db.session.scalars(select(Room)).all() == []


def test_the_search_answers_htmx_with_the_list_alone(auth, admin, factories):
    factories.live_room(admin, "limbo", "Limbo")
    factories.live_room(admin, "square", "Village square")
    fragment = auth.get("/world/live", htmx=True, query_string={"q": "vill"}).get_data(as_text=True)
    assert "Village square" in fragment and "Limbo" not in fragment and "<html" not in fragment
    assert "1 match" in fragment


def test_a_room_is_edited_and_an_exit_added_both_ways_from_its_page(auth, admin, db, factories):
    limbo, square = factories.live_room(admin), factories.live_room(admin, "square", "Square")
    page = auth.get(f"/world/live/rooms/{limbo.id}").get_data(as_text=True)
    assert "limbo#01" in page and "No way out yet." in page and f'value="{square.id}"' in page
    saved = auth.post(f"/world/live/rooms/{limbo.id}", data={"key": "limbo", "name": "Limbo, the start",
                                                             "description": "Grey.", "attributes": "", "tags": ""})
    assert saved.status_code == 303 and db.session.get(Room, limbo.id).name == "Limbo, the start"
    added = auth.post(f"/world/live/rooms/{limbo.id}/exits", data={"destination_id": square.id, "direction": "north",
                                                                   "aliases": "gate", "both_ways": "1"})
    assert added.status_code == 303
    exits = db.session.scalars(select(Exit).order_by(Exit.id)).all()
    assert [(e.source_id, e.key, e.aliases) for e in exits] == [(limbo.id, "north", ["n", "gate"]),
                                                                (square.id, "south", ["s"])]
    page = auth.get(f"/world/live/rooms/{limbo.id}").get_data(as_text=True)
    assert "Leaving Limbo, the start" in page and "gate" in page


def test_the_destination_search_answers_htmx_with_the_options_alone(auth, admin, factories):
    limbo = factories.live_room(admin)
    factories.live_room(admin, "square", "Village square")
    factories.live_room(admin, "tower", "Watchtower")
    fragment = auth.get(f"/world/live/rooms/{limbo.id}", htmx=True, query_string={"to": "tower"}).get_data(as_text=True)
    assert "Watchtower" in fragment and "Village square" not in fragment and "<form" not in fragment
    assert 'name="destination_id"' in fragment


def test_an_exit_whose_name_is_taken_is_a_409_on_the_page_listing_the_clash(auth, admin, db, factories):
    limbo, square = factories.live_room(admin), factories.live_room(admin, "square", "Square")
    live.link_rooms(admin, limbo.id, square.id, "north")
    before = rows(db)
    answer = auth.post(f"/world/live/rooms/{limbo.id}/exits", data={"destination_id": square.id, "direction": "n"})
    assert answer.status_code == 409
    page = answer.get_data(as_text=True)
    assert "already has an exit named" in page and 'aria-invalid="true"' in page
    assert changes(before, rows(db)) == {}
    missing = auth.post(f"/world/live/rooms/{limbo.id}/exits", data={"direction": "up"})
    assert missing.status_code == 400
    assert auth.post("/world/live/rooms/999999/exits", data={"destination_id": square.id,
                                                             "direction": "up"}).status_code == 404


def test_the_removal_dialog_shows_what_goes_and_confirm_removes_it(auth, admin, db, factories):
    limbo, square = factories.live_room(admin), factories.live_room(admin, "square", "Square")
    live.link_rooms(admin, limbo.id, square.id, "east")
    dialog = auth.get(f"/world/live/rooms/{square.id}/delete", htmx=True).get_data(as_text=True)
    assert "Remove Square from the live world" in dialog and "(2)" in dialog and "<html" not in dialog
    assert 'hx-post="/world/live/rooms/' in dialog and "disabled" not in dialog
    answer = auth.post(f"/world/live/rooms/{square.id}/delete", htmx=True)
    assert answer.status_code == 204 and answer.headers["HX-Redirect"] == "/world/live"
    assert db.session.get(Room, square.id) is None and db.session.scalars(select(Exit)).all() == []


def test_a_room_a_live_area_needs_shows_why_and_confirm_is_refused(auth, admin, db, factories):
    limbo = factories.live_room(admin)
    project = factories.build_project(admin, name="The Old Mill")
    result = promotion.promote(admin, project.id, limbo.id, "north")
    dialog = auth.get(f"/world/live/rooms/{limbo.id}/delete", htmx=True).get_data(as_text=True)
    assert "Cannot remove" in dialog and "The Old Mill" in dialog and "disabled" in dialog
    before = rows(db)
    refused = auth.post(f"/world/live/rooms/{limbo.id}/delete", htmx=True)
    assert refused.status_code == 409 and "return that area to the sandbox" in refused.get_data(as_text=True)
    exit_dialog = auth.get(f"/world/live/exits/{result.created_exits[0].id}/delete", htmx=True)
    assert exit_dialog.status_code == 200 and "connects the live area" in exit_dialog.get_data(as_text=True)
    assert auth.post(f"/world/live/exits/{result.created_exits[0].id}/delete", htmx=True).status_code == 409
    assert changes(before, rows(db)) == {}


def test_an_exit_is_removed_from_its_dialog(auth, admin, db, factories):
    limbo, square = factories.live_room(admin), factories.live_room(admin, "square", "Square")
    out, back = live.link_rooms(admin, limbo.id, square.id, "east")
    dialog = auth.get(f"/world/live/exits/{out.id}/delete", htmx=True).get_data(as_text=True)
    assert "Remove the exit east" in dialog and "an exit back, if there is one, stays" in dialog
    answer = auth.post(f"/world/live/exits/{out.id}/delete")
    assert answer.status_code == 303 and answer.headers["Location"].endswith(f"/world/live/rooms/{limbo.id}#exits")
    assert [e.id for e in db.session.scalars(select(Exit))] == [back.id]


def test_a_world_file_is_imported_from_the_page_and_a_clash_lists_everything(auth, admin, db, factories):
    elsewhere = factories.user("admin", "Globex")
    factories.live_room(elsewhere, "limbo", "Limbo")
    factories.live_room(elsewhere, "square", "Square")
    body = json.dumps(transfer.export_document(elsewhere)).encode()
    answer = auth.post("/world/live/import", data={"file": (io.BytesIO(body), "world.json")},
                       content_type="multipart/form-data")
    assert answer.status_code == 303
    assert [r.handle for r in db.session.scalars(select(Room).where(Room.workspace_id == admin.workspace_id))] == [
        "limbo#01", "square#01"]
    before = rows(db)
    again = auth.post("/world/live/import", data={"file": (io.BytesIO(body), "world.json")},
                      content_type="multipart/form-data")
    assert again.status_code == 409
    page = again.get_data(as_text=True)
    assert "Nothing was imported" in page and page.count("already has this handle") == 2
    assert changes(before, rows(db)) == {}
    broken = auth.post("/world/live/import", data={"file": (io.BytesIO(b"{"), "world.json")},
                       content_type="multipart/form-data")
    assert broken.status_code == 400 and "not valid JSON" in broken.get_data(as_text=True)


@pytest.mark.parametrize("role", ["viewer", "editor", "promoter"])
def test_the_live_world_pages_are_for_admins_only(auth, factories, db, role):
    limbo = factories.live_room(factories.user("admin", "Acme"))
    auth.login(factories.user(role, "Acme").label)
    before = rows(db)
    for url in ("/world/live", f"/world/live/rooms/{limbo.id}", f"/world/live/rooms/{limbo.id}/delete"):
        assert auth.get(url).status_code == 403
    for url in ("/world/live/rooms", f"/world/live/rooms/{limbo.id}", f"/world/live/rooms/{limbo.id}/delete",
                f"/world/live/rooms/{limbo.id}/exits", "/world/live/import"):
        assert auth.post(url, data={"key": "x", "name": "X"}).status_code == 403
    assert changes(before, rows(db)) == {}
    assert 'href="/world/live"' not in auth.get("/builds").get_data(as_text=True)


def test_a_sandbox_room_has_no_live_room_page(auth, admin, factories):
    project = factories.build_project(admin)
    assert auth.get(f"/world/live/rooms/{project.rooms[0].room_id}").status_code == 404
    assert auth.get(f"/world/live/rooms/{project.rooms[0].room_id}/delete").status_code == 404
