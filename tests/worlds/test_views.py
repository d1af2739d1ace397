"""The world-build pages: design forms, review buttons, the walk, the promote dialog, the map, exports."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from webapp.worlds import live, promotion, queries, transfer
from webapp.worlds.models import BuildProject, BuildRoom, ProjectStatus


@pytest.fixture
def admin(auth, factories):
    actor = factories.user("admin", "Acme", email="builder@example.com")
    auth.login(actor.label)
    return actor


def test_a_builder_designs_rooms_and_exits_through_the_forms(auth, admin, db):
    answer = auth.post("/builds", data={"name": "Mill", "description": "A mill."})
    assert answer.status_code == 303
    project_id = int(answer.headers["Location"].rsplit("/", 1)[1])
    for key, name in (("gate", "Mill gate"), ("yard", "Mill yard")):
        assert auth.post(f"/builds/{project_id}/rooms", data={
            "key": key, "name": name, "description": "Here.", "attributes": '{"hp": 3}',
            "tags": "outdoors:terrain, quest"}).status_code == 303
    project = db.session.get(BuildProject, project_id)
    gate, yard = project.rooms
    assert gate.tags == [["outdoors", "terrain"], ["quest", ""]] and gate.attributes_json == '{"hp": 3}'
    assert auth.post(f"/builds/{project_id}/exits", data={"source_id": gate.id, "destination_id": yard.id,
                                                          "direction": "north", "aliases": "gatepath"}).status_code == 303
    page = auth.get(f"/builds/{project_id}").get_data(as_text=True)
    assert "Mill yard" in page and "gatepath" in page and "Submit for review" in page


def test_a_room_form_with_bad_json_is_a_422_beside_the_field_and_saves_nothing(auth, admin, db, factories):
    project = factories.build_project(admin, until="draft")
    answer = auth.post(f"/builds/{project.id}/rooms", data={"key": "bad", "name": "Bad", "attributes": "{oops"})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "not valid JSON" in page and 'aria-invalid="true"' in page and "{oops" in page
    assert db.session.scalar(select(func.count()).select_from(BuildRoom)
                             .where(BuildRoom.project_id == project.id)) == 3


def test_an_exit_in_an_unknown_direction_from_the_form_is_a_400_naming_the_valid_ones(auth, admin, factories):
    project = factories.build_project(admin, until="draft")
    gate, yard, _ = project.rooms
    answer = auth.post(f"/builds/{project.id}/exits", data={"source_id": gate.id, "destination_id": yard.id,
                                                            "direction": "widdershins"})
    assert answer.status_code == 400 and "north (n)" in answer.get_data(as_text=True)


def test_review_buttons_move_the_project_and_reject_shows_the_reason(auth, admin, factories):
    project = factories.build_project(admin, until="submitted")
    assert auth.post(f"/builds/{project.id}/reject", data={"reason": "Needs a way down."}).status_code == 303
    page = auth.get(f"/builds/{project.id}").get_data(as_text=True)
    assert "Rejected:" in page and "Needs a way down." in page
    auth.post(f"/builds/{project.id}/submit")
    auth.post(f"/builds/{project.id}/approve")
    assert auth.post(f"/builds/{project.id}/build").status_code == 303
    page = auth.get(f"/builds/{project.id}").get_data(as_text=True)
    assert "Walk the sandbox" in page and "Preview promotion" in page


def test_an_invalid_transition_from_the_page_is_a_409(auth, admin, factories):
    project = factories.build_project(admin, until="draft")
    answer = auth.post(f"/builds/{project.id}/approve")
    assert answer.status_code == 409 and "allowed from draft: submit" in answer.get_data(as_text=True)


def test_walking_the_sandbox_shows_description_attributes_and_exits_as_links(auth, admin, factories):
    project = queries.get_project(admin, factories.build_project(admin).id)
    gate, yard, _ = project.rooms
    page = auth.get(f"/world/rooms/{gate.room_id}").get_data(as_text=True)
    assert "Mill gate" in page and "sandbox" in page and '&#34;hp&#34;: 10' in page
    assert f'href="/world/rooms/{yard.room_id}"' in page and ">north</strong>" in page


def test_the_connection_room_search_lists_live_rooms_only(auth, admin, factories):
    factories.live_room(admin, "limbo", "Limbo")
    factories.live_room(admin, "square", "Village square")
    factories.build_project(admin)
    page = auth.get("/world/rooms/search", htmx=True, query_string={"q": "vill"}).get_data(as_text=True)
    assert "Village square" in page and "Limbo" not in page
    page = auth.get("/world/rooms/search", htmx=True, query_string={"q": "mill"}).get_data(as_text=True)
    assert "No live room matches" in page


def test_the_promote_dialog_shows_rooms_entry_exits_and_disables_confirm_on_conflict(auth, admin, factories):
    limbo = factories.live_room(admin)
    project = factories.build_project(admin)
    page = auth.get(f"/builds/{project.id}/promote", htmx=True,
                    query_string={"connection_room_id": limbo.id, "direction": "east"}).get_data(as_text=True)
    assert "<html" not in page  # the fragment only
    assert 'class="room-count">3<' in page and "Mill gate" in page
    assert "→ <strong>east</strong> (e) →" in page and "→ <strong>west</strong> (w) →" in page
    assert not re.search(r'<button type="submit"\s+disabled', page)
    conflicted = auth.get(f"/builds/{project.id}/promote", htmx=True,
                          query_string={"connection_room_id": limbo.id, "direction": "south"}).get_data(as_text=True)
    assert "Cannot promote" in conflicted and "already has an exit north" in conflicted
    assert re.search(r'<button type="submit"\s+disabled', conflicted)


def test_confirming_the_dialog_promotes_and_sends_the_browser_to_the_map(auth, admin, factories, db):
    limbo = factories.live_room(admin)
    project = factories.build_project(admin)
    token = promotion.promotion_preview(admin, project.id, limbo.id, "east").token
    answer = auth.post(f"/builds/{project.id}/promote", htmx=True,
                       data={"connection_room_id": limbo.id, "direction": "east", "preview_token": token})
    assert answer.status_code == 204 and answer.headers["HX-Redirect"] == f"/world/map?highlight={project.id}"
    assert db.session.get(BuildProject, project.id).status is ProjectStatus.live
    page = auth.get(answer.headers["HX-Redirect"]).get_data(as_text=True)
    assert page.count("map-room is-new") == 3 and "Limbo" in page


def test_a_stale_dialog_answers_409_with_the_fresh_preview(auth, admin, factories):
    limbo, square = factories.live_room(admin, "limbo"), factories.live_room(admin, "square")
    project = factories.build_project(admin)
    token = promotion.promotion_preview(admin, project.id, limbo.id, "east").token
    live.link_rooms(admin, limbo.id, square.id, "east")
    answer = auth.post(f"/builds/{project.id}/promote", htmx=True,
                       data={"connection_room_id": limbo.id, "direction": "east", "preview_token": token})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 409 and "changed since you opened this dialog" in page
    assert "already has an exit east" in page


def test_the_map_draws_every_live_room_as_a_link_and_the_exits_as_lines(auth, admin, factories):
    limbo, square = factories.live_room(admin, "limbo"), factories.live_room(admin, "square")
    live.link_rooms(admin, limbo.id, square.id, "north")
    factories.build_project(admin)  # sandbox rooms are not on the live map
    page = auth.get("/world/map").get_data(as_text=True)
    assert page.count('class="map-room') == 2 and page.count("<line ") == 2
    assert f'href="/world/rooms/{limbo.id}"' in page
    fragment = auth.get("/world/map", htmx=True, query_string={"span": 8}).get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="map"') and "<html" not in fragment


def test_the_area_map_shows_a_built_sandbox(auth, admin, factories):
    project = factories.build_project(admin)
    page = auth.get("/world/map", query_string={"area": project.id}).get_data(as_text=True)
    assert page.count("is-sandbox") == 3


@pytest.mark.parametrize("query", [{"span": "0"}, {"span": "x"}, {"x": "1e9"}, {"area": "abc"},
                                   {"highlight": "-1"}])
def test_bad_map_arguments_are_a_400(auth, admin, query):
    assert auth.get("/world/map", query_string=query).status_code == 400


def test_world_pages_need_a_sign_in_and_posts_need_the_csrf_token(client, factories):
    admin = factories.user("admin", "Acme", email="a@example.com")
    project = factories.build_project(admin, until="draft")
    assert client.get("/builds").status_code == 302
    assert client.get("/world/map").status_code == 302
    from tests.conftest import Auth

    auth = Auth(client)
    auth.login("a@example.com")
    assert client.post("/builds", data={"name": "No token"}).status_code == 400
    assert client.post(f"/builds/{project.id}/submit").status_code == 400
    assert queries.get_project(admin, project.id).status is ProjectStatus.draft


def test_another_workspaces_build_pages_are_404(auth, admin, factories):
    theirs = factories.user("admin", "Globex")
    project = factories.build_project(theirs)
    room = factories.live_room(theirs)
    for url in (f"/builds/{project.id}", f"/world/rooms/{room.id}", f"/world/map?area={project.id}",
                f"/builds/{project.id}/promote?connection_room_id={room.id}&direction=n"):
        assert auth.get(url).status_code == 404, url
    assert auth.post(f"/builds/{project.id}/submit").status_code == 404


def test_importing_an_export_file_creates_a_draft_with_its_rooms(auth, admin, factories):
    import io
    import json

    project = factories.build_project(admin)
    document = transfer.export_document(admin, area=project.id)
    answer = auth.post("/builds/import", data={"name": "Copy", "file": (io.BytesIO(json.dumps(document).encode()),
                                                                         "area.json")},
                       content_type="multipart/form-data")
    assert answer.status_code == 303
    copy = queries.list_projects(admin)[0]
    assert copy.name == "Copy" and [r.key for r in copy.rooms] == ["gate", "yard", "loft"]
    bad = auth.post("/builds/import", data={"file": (io.BytesIO(b"{nope"), "x.json")},
                    content_type="multipart/form-data")
    assert bad.status_code == 400


def test_the_export_downloads_are_ev_and_json(auth, admin, factories):
    factories.live_room(admin)
    ev = auth.get("/world/export")
    assert ev.status_code == 200 and ev.headers["Content-Disposition"].endswith('world.ev"')
    assert "@dig/teleport Limbo;limbo#01" in ev.get_data(as_text=True)
    assert auth.get("/world/export?format=json").get_json()["rooms"][0]["id"] == "limbo#01"
    assert auth.get("/world/export?format=xml").status_code == 400
