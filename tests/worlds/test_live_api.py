"""The live world over the JSON API (admins): `POST /api/v1/world/rooms…`, `/world/exits…`, `/world/import`, and a
team's first session end to end — a fresh workspace gets its world, designs an area and promotes it into it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.conftest import bearer
from tests.drills.database import changes, rows
from webapp.worlds import transfer
from webapp.worlds.models import Room


@pytest.fixture
def api(client, factories):
    """A client acting with a personal token of `role` in Acme: api(role).post(...)."""

    class Api:
        def __init__(self, role: str) -> None:
            self.actor = factories.user(role, "Acme")
            self.headers = bearer(factories.personal_token(self.actor))

        def get(self, url: str, **kwargs):
            return client.get(url, headers=self.headers, **kwargs)

        def post(self, url: str, body=None, **kwargs):
            if isinstance(body, bytes | str):
                return client.post(url, headers=self.headers, data=body,
                                   content_type=kwargs.pop("content_type", "application/json"), **kwargs)
            return client.post(url, headers=self.headers, json=body if body is not None else {}, **kwargs)

    return Api


def test_a_fresh_workspace_creates_its_world_designs_an_area_and_promotes_it_through_the_api(api, db):
    admin, editor, promoter = api("admin"), api("editor"), api("promoter")
    assert admin.get("/api/v1/world/rooms").get_json() == []  # nothing to promote into yet
    created = admin.post("/api/v1/world/rooms", {"key": "limbo", "name": "Limbo", "description": "Grey.",
                                                 "attributes": {"hp": 1}, "tags": ["start"]})
    assert created.status_code == 201, created.get_json()
    limbo = created.get_json()
    assert (limbo["handle"], limbo["live"], limbo["tags"], limbo["exits"]) == ("limbo#01", True,
                                                                             [{"key": "start", "category": ""}], [])
    square = admin.post("/api/v1/world/rooms", {"key": "square", "name": "Square"}).get_json()
    linked = admin.post("/api/v1/world/exits", {"source_id": limbo["id"], "destination_id": square["id"],
                                                "direction": "east", "both_ways": True})
    assert linked.status_code == 201 and [e["direction"] for e in linked.get_json()["exits"]] == ["east", "west"]

    design = editor.post("/api/v1/builds", {"name": "The Old Mill", "rooms": [
        {"key": "gate", "name": "Mill gate"}, {"key": "yard", "name": "Mill yard"}], "exits": [
        {"source": "gate", "destination": "yard", "direction": "north"},
        {"source": "yard", "destination": "gate", "direction": "south"}]}).get_json()
    for who, step in ((editor, "submit"), (promoter, "approve"), (editor, "build")):
        assert who.post(f"/api/v1/builds/{design['id']}/{step}").status_code == 200
    choices = promoter.get("/api/v1/world/rooms", query_string={"q": "limbo"}).get_json()
    assert [r["id"] for r in choices] == [limbo["id"]]
    preview = promoter.get(f"/api/v1/builds/{design['id']}/promotion-preview", query_string={
        "connection_room_id": limbo["id"], "connection_direction": "north"}).get_json()
    assert preview["conflicts"] == []
    promoted = promoter.post(f"/api/v1/builds/{design['id']}/promote", {
        "connection_room_id": limbo["id"], "connection_direction": "north", "preview_token": preview["preview_token"]})
    assert promoted.status_code == 200, promoted.get_json()
    assert promoter.get(f"/api/v1/builds/{design['id']}").get_json()["status"] == "live"
    exits = {e["direction"]: e["destination"]["name"]
             for e in admin.get(f"/api/v1/world/rooms/{limbo['id']}").get_json()["exits"]}
    assert exits == {"north": "Mill gate", "east": "Square"}
    # The area is live now: its connection room stays until the area is returned to the sandbox.
    refused = admin.post(f"/api/v1/world/rooms/{limbo['id']}/delete")
    assert refused.status_code == 409 and refused.get_json()["error"] == "room_in_use"


def test_a_fresh_workspace_imports_its_world_and_promotes_into_it(api, factories):
    elsewhere = factories.user("admin", "Globex")
    factories.live_room(elsewhere, "limbo", "Limbo")
    exported = transfer.export_document(elsewhere)
    admin, promoter = api("admin"), api("promoter")
    imported = admin.post("/api/v1/world/import", exported)
    assert imported.status_code == 201, imported.get_json()
    assert [(r["handle"], r["live"]) for r in imported.get_json()["rooms"]] == [("limbo#01", True)]
    project = factories.build_project(promoter.actor)
    limbo_id = imported.get_json()["rooms"][0]["id"]
    answer = promoter.post(f"/api/v1/builds/{project.id}/promote", {"connection_room_id": limbo_id,
                                                                    "connection_direction": "up"})
    assert answer.status_code == 200, answer.get_json()


def test_a_room_is_changed_field_by_field_and_removed_with_its_exits(api, db):
    admin = api("admin")
    limbo = admin.post("/api/v1/world/rooms", {"key": "limbo", "name": "Limbo", "attributes": '{"a":  1}'}).get_json()
    square = admin.post("/api/v1/world/rooms", {"key": "square", "name": "Square"}).get_json()
    out = admin.post("/api/v1/world/exits", {"source_id": square["id"], "destination_id": limbo["id"],
                                             "direction": "w", "aliases": ["gate"], "both_ways": True}).get_json()
    changed = admin.post(f"/api/v1/world/rooms/{limbo['id']}", {"description": "Now grey.", "tags": [["quiet", "mood"]]})
    assert changed.status_code == 200
    body = changed.get_json()
    assert (body["name"], body["description"], body["attributes"], body["handle"]) == ("Limbo", "Now grey.",
                                                                                      {"a": 1}, "limbo#01")
    assert db.session.get(Room, limbo["id"]).attributes_json == '{"a":  1}'  # untouched, byte for byte
    assert body["tags"] == [{"key": "quiet", "category": "mood"}]
    removed = admin.post(f"/api/v1/world/rooms/{limbo['id']}/delete")
    assert removed.status_code == 200
    assert removed.get_json() == {"removed_room_id": limbo["id"],
                                  "removed_exit_ids": sorted(e["id"] for e in out["exits"])}
    assert admin.get(f"/api/v1/world/rooms/{limbo['id']}").status_code == 404
    assert admin.get(f"/api/v1/world/rooms/{square['id']}").get_json()["exits"] == []


def test_an_exit_is_removed_alone_and_the_way_back_stays(api):
    admin = api("admin")
    a = admin.post("/api/v1/world/rooms", {"key": "a", "name": "A"}).get_json()
    b = admin.post("/api/v1/world/rooms", {"key": "b", "name": "B"}).get_json()
    out, back = admin.post("/api/v1/world/exits", {"source_id": a["id"], "destination_id": b["id"],
                                                   "direction": "in", "both_ways": True}).get_json()["exits"]
    answer = admin.post(f"/api/v1/world/exits/{out['id']}/delete")
    assert answer.status_code == 200 and answer.get_json() == {"removed_exit_id": out["id"]}
    assert [e["id"] for e in admin.get(f"/api/v1/world/rooms/{b['id']}").get_json()["exits"]] == [back["id"]]
    assert admin.post(f"/api/v1/world/exits/{out['id']}/delete").status_code == 404


@pytest.mark.parametrize("role", ["viewer", "editor", "promoter"])
def test_non_admins_get_403_before_their_body_is_read_and_nothing_is_written(api, db, factories, role):
    limbo = factories.live_room(factories.user("admin", "Acme"))
    someone = api(role)
    before = rows(db)
    for url in ("/api/v1/world/rooms", f"/api/v1/world/rooms/{limbo.id}", f"/api/v1/world/rooms/{limbo.id}/delete",
                "/api/v1/world/exits", "/api/v1/world/exits/1/delete", "/api/v1/world/import"):
        for body in ({"key": "x", "name": "X"}, b"{not json"):
            answer = someone.post(url, body)
            assert answer.status_code == 403, (url, answer.get_json())
    assert changes(before, rows(db)) == {}


@pytest.mark.parametrize(("url", "body", "status", "field"), [
    ("/api/v1/world/rooms", {"key": "a b", "name": ""}, 422, "key"),
    ("/api/v1/world/rooms", {"key": "ok", "name": "Ok", "attributes": "[1]"}, 422, "attributes"),
    ("/api/v1/world/rooms", {"key": "ok", "name": "Ok", "tags": [["t", "build"]]}, 422, "tags"),
    ("/api/v1/world/rooms", b"[]", 400, None),
    ("/api/v1/world/rooms/{limbo}", {"name": None}, 422, "name"),
    ("/api/v1/world/rooms/{limbo}", {"tags": "not-a-list"}, 422, "tags"),
    ("/api/v1/world/exits", {"source_id": "{limbo}", "destination_id": "{limbo}", "direction": "n"}, 422, None),
    ("/api/v1/world/exits", {"source_id": "{limbo}", "destination_id": "{square}", "direction": "widdershins"},
     400, None),
    ("/api/v1/world/exits", {"source_id": "{limbo}", "destination_id": "{square}", "direction": "n",
                             "aliases": ["Two Words"]}, 422, None),
    ("/api/v1/world/exits", {"source_id": "{limbo}", "destination_id": 999999, "direction": "n"}, 404, None),
    ("/api/v1/world/exits", {"source_id": "{limbo}", "destination_id": "{square}", "direction": "n",
                             "both_ways": "yes"}, 400, None),
    ("/api/v1/world/import", {}, 422, None),
    ("/api/v1/world/import", {"rooms": [{"key": "limbo", "name": "Again", "id": "limbo#01"}]}, 409, None),
    ("/api/v1/world/import?format=xml", {"rooms": []}, 400, None),
    ("/api/v1/world/rooms/999999", {"name": "X"}, 404, None),
])
def test_bad_input_is_a_clear_4xx_and_writes_nothing(api, db, factories, url, body, status, field):
    admin = api("admin")
    limbo, square = factories.live_room(admin.actor), factories.live_room(admin.actor, "square")
    ids = {"limbo": limbo.id, "square": square.id}
    url = url.format(**ids)
    if isinstance(body, dict):
        body = json.loads(json.dumps(body).replace('"{limbo}"', str(limbo.id)).replace('"{square}"', str(square.id)))
    before = rows(db)
    answer = admin.post(url, body)
    assert answer.status_code == status, answer.get_json()
    assert answer.get_json()["message"]
    if field:
        assert field in answer.get_json()["details"]
    assert changes(before, rows(db)) == {}


def test_an_exit_name_taken_is_a_409_listing_the_clashes(api, factories):
    admin = api("admin")
    limbo, square = factories.live_room(admin.actor), factories.live_room(admin.actor, "square")
    body = {"source_id": limbo.id, "destination_id": square.id, "direction": "north", "both_ways": True}
    assert admin.post("/api/v1/world/exits", body).status_code == 201
    again = admin.post("/api/v1/world/exits", body)
    assert again.status_code == 409 and again.get_json()["error"] == "exit_conflict"
    assert len(again.get_json()["details"]["conflicts"]) == 4  # north, n from limbo; south, s from square


def test_an_import_clash_lists_every_conflict_in_details(api, factories, db):
    admin = api("admin")
    factories.live_room(admin.actor)
    before = db.session.scalar(select(func.count()).select_from(Room))
    answer = admin.post("/api/v1/world/import", {"rooms": [{"id": "limbo#01", "key": "limbo", "name": "L"}],
                                                 "exits": [{"source": "limbo#01", "destination": "x#01",
                                                            "direction": "n"}]})
    assert answer.status_code == 409 and answer.get_json()["error"] == "import_conflict"
    assert len(answer.get_json()["details"]["conflicts"]) == 2
    assert db.session.scalar(select(func.count()).select_from(Room)) == before


def test_an_evennia_batch_file_imports_with_format_ev(api, factories):
    elsewhere = factories.user("admin", "Globex")
    factories.live_room(elsewhere, "limbo", "Limbo")
    answer = api("admin").post("/api/v1/world/import?format=ev", transfer.export_batch(elsewhere),
                               content_type="text/plain")
    assert answer.status_code == 201, answer.get_json()
    assert [r["handle"] for r in answer.get_json()["rooms"]] == ["limbo#01"]


def test_the_new_routes_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/world/rooms", "/api/v1/world/rooms/{room_id}", "/api/v1/world/rooms/{room_id}/delete",
                 "/api/v1/world/exits", "/api/v1/world/exits/{exit_id}/delete", "/api/v1/world/import"):
        assert "post" in paths[path], path
    assert {p["name"] for p in paths["/api/v1/world/import"]["post"]["parameters"]} == {"format"}
