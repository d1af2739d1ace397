"""The world-build JSON API as integrations use it: /api/v1/builds… and /api/v1/world…"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.worlds.test_batchfile import assert_each_command_ends_with_a_comment
from webapp.worlds import batchfile
from webapp.worlds.models import Exit, Room


@pytest.fixture
def api(client, factories):
    """A client acting with a personal token of `role` in Acme: api(role).post(...)."""

    class Api:
        def __init__(self, role: str) -> None:
            self.actor = factories.user(role, "Acme")
            self.headers = {"Authorization": f"Bearer {factories.personal_token(self.actor)}"}

        def get(self, url: str, **kwargs):
            return client.get(url, headers=self.headers, **kwargs)

        def post(self, url: str, body=None, **kwargs):
            if isinstance(body, bytes):
                return client.post(url, headers=self.headers, data=body, content_type="application/json")
            return client.post(url, headers=self.headers, json=body if body is not None else {}, **kwargs)

    return Api


def test_a_project_goes_from_json_to_live_through_the_api(api, factories):
    promoter = api("promoter")
    limbo = factories.live_room(factories.user("admin", "Acme"))
    created = promoter.post("/api/v1/builds", {"name": "Mill", "description": "A mill.", **factories.AREA})
    assert created.status_code == 201, created.get_json()
    project = created.get_json()
    assert project["status"] == "draft" and project["allowed_transitions"] == ["submit"]
    assert [r["key"] for r in project["rooms"]] == ["gate", "yard", "loft"]
    assert project["rooms"][1]["attributes"] == factories.AREA["rooms"][1]["attributes"]
    pid = project["id"]
    for action, status in (("submit", "submitted"), ("approve", "approved"), ("build", "built")):
        answer = promoter.post(f"/api/v1/builds/{pid}/{action}")
        assert answer.status_code == 200 and answer.get_json()["status"] == status

    rooms = promoter.get("/api/v1/world/rooms", query_string={"q": "lim"}).get_json()
    assert [r["id"] for r in rooms] == [limbo.id]
    preview = promoter.get(f"/api/v1/builds/{pid}/promotion-preview",
                           query_string={"connection_room_id": limbo.id, "connection_direction": "n"})
    assert preview.status_code == 200
    body = preview.get_json()
    assert body["room_count"] == 3 and body["conflicts"] == [] and body["connection_direction"] == "north"
    assert [(e["direction"], e["source_room_id"]) for e in body["exits"]] == [
        ("north", limbo.id), ("south", body["entry_room"]["id"])]

    promoted = promoter.post(f"/api/v1/builds/{pid}/promote", {
        "connection_room_id": limbo.id, "connection_direction": "north", "preview_token": body["preview_token"]})
    assert promoted.status_code == 200, promoted.get_json()
    result = promoted.get_json()
    assert set(result) == {"status", "message", "promoted_rooms", "created_exits", "entry_room_id", "announcement"}
    assert result["status"] == "live" and result["message"] == "'Mill' is live: 3 rooms, connected north of Limbo."
    assert result["announcement"] is None  # the workspace does not announce new areas
    assert result["promoted_rooms"] == 3 and result["entry_room_id"] == body["entry_room"]["id"]
    assert [e["direction"] for e in result["created_exits"]] == ["north", "south"]
    assert promoter.get(f"/api/v1/builds/{pid}").get_json()["status"] == "live"
    room = promoter.get(f"/api/v1/world/rooms/{result['entry_room_id']}").get_json()
    assert room["live"] is True and {"direction": "south"}.items() <= room["exits"][-1].items()


@pytest.mark.parametrize(("direction", "status", "code"), [
    ("sideways", 400, "unknown_direction"), (None, 400, "unknown_direction"), ("north", 409, "exit_conflict"),
    ("south", 409, "exit_conflict"),
])
def test_promote_answers_400_for_unknown_directions_and_409_for_conflicts_both_ways(api, factories, db, direction,
                                                                                    status, code):
    promoter, admin = api("promoter"), factories.user("admin", "Acme")
    limbo, square = factories.live_room(admin, "limbo"), factories.live_room(admin, "square")
    from webapp.worlds import live

    live.link_rooms(admin, limbo.id, square.id, "north")  # limbo has "north"
    project = factories.build_project(promoter.actor)  # its entry room has "north" → "south" conflicts there
    exits_before = db.session.scalar(select(func.count()).select_from(Exit))
    answer = promoter.post(f"/api/v1/builds/{project.id}/promote",
                           {"connection_room_id": limbo.id, "connection_direction": direction})
    assert answer.status_code == status
    assert answer.get_json()["error"] == code and answer.get_json()["message"]
    if direction == "sideways":
        assert "north (n)" in answer.get_json()["message"]
    assert db.session.scalar(select(func.count()).select_from(Exit)) == exits_before


def test_promote_into_a_missing_room_is_a_404_and_a_missing_project_too(api, factories):
    promoter = api("promoter")
    limbo = factories.live_room(factories.user("admin", "Acme"))
    project = factories.build_project(promoter.actor)
    for url, body in ((f"/api/v1/builds/{project.id}/promote", {"connection_room_id": 999_999,
                                                                "connection_direction": "north"}),
                      ("/api/v1/builds/999999/promote", {"connection_room_id": limbo.id,
                                                        "connection_direction": "north"})):
        assert promoter.post(url, body).status_code == 404
    assert promoter.post(f"/api/v1/builds/{project.id}/promote",
                         {"connection_room_id": "abc", "connection_direction": "north"}).status_code == 400


def test_an_invalid_transition_over_the_api_is_a_409_listing_the_allowed_ones(api, factories):
    promoter = api("promoter")
    project = factories.build_project(promoter.actor, until="draft")
    answer = promoter.post(f"/api/v1/builds/{project.id}/build")
    assert answer.status_code == 409
    assert answer.get_json()["error"] == "invalid_transition" and "submit" in answer.get_json()["message"]
    assert promoter.post(f"/api/v1/builds/{project.id}/submit").status_code == 200
    assert promoter.post(f"/api/v1/builds/{project.id}/reject", {}).status_code == 422
    assert promoter.post(f"/api/v1/builds/{project.id}/reject", {"reason": "no"}).get_json()["status"] == "draft"


def test_roles_over_the_api_viewer_reads_editor_builds_promoter_approves(api, factories):
    viewer, editor = api("viewer"), api("editor")
    assert viewer.post("/api/v1/builds", {"name": "X"}).status_code == 403
    assert viewer.post("/api/v1/builds", b"{not json").status_code == 403  # the role first, then the body
    project = editor.post("/api/v1/builds", {"name": "X", **factories.AREA}).get_json()
    assert editor.post(f"/api/v1/builds/{project['id']}/submit").status_code == 200
    assert editor.post(f"/api/v1/builds/{project['id']}/approve").status_code == 403
    assert viewer.get(f"/api/v1/builds/{project['id']}").status_code == 200
    assert viewer.get("/api/v1/builds").status_code == 200


@pytest.mark.parametrize("body", [
    {"name": ""}, {"name": "X", "rooms": "many"}, {"name": "X", "rooms": [{"key": "a b", "name": "A"}]},
    {"name": "X", "rooms": [{"key": "a", "name": "A"}, {"key": "a", "name": "B"}]},
    {"name": "X", "rooms": [{"key": "a", "name": "A"}], "exits": [{"source": "a", "destination": "zz",
                                                                   "direction": "n"}]},
    {"name": "X", "rooms": [{"key": "a", "name": "A"}, {"key": "b", "name": "B"}],
     "exits": [{"source": "a", "destination": "b", "direction": "upward"}]},
    {"name": "X", "rooms": [{"key": "a", "name": "A", "attributes": [1]}]},
])
def test_a_bad_design_is_answered_4xx_and_writes_nothing(api, db, body):
    from webapp.worlds.models import BuildProject, BuildRoom

    answer = api("editor").post("/api/v1/builds", body)
    assert answer.status_code in (400, 422), answer.get_json()
    assert answer.get_json()["message"]
    assert db.session.scalar(select(func.count()).select_from(BuildProject)) == 0
    assert db.session.scalar(select(func.count()).select_from(BuildRoom)) == 0


def test_another_workspaces_project_and_rooms_are_404_over_the_api(api, factories):
    mine = api("admin")
    theirs = factories.user("admin", "Globex")
    project = factories.build_project(theirs)
    room = factories.live_room(theirs)
    assert mine.get(f"/api/v1/builds/{project.id}").status_code == 404
    assert mine.get(f"/api/v1/world/rooms/{room.id}").status_code == 404
    assert mine.post(f"/api/v1/builds/{project.id}/promote", {"connection_room_id": room.id,
                                                              "connection_direction": "n"}).status_code == 404
    assert mine.get("/api/v1/world/export", query_string={"area": project.id}).status_code == 404
    assert mine.get("/api/v1/world/rooms").get_json() == []


def test_the_ev_export_digs_each_room_once_and_reads_back_as_the_json_export(api, factories):
    admin = api("admin")
    limbo = factories.live_room(admin.actor)
    odd = "Odd; names, = here: too"
    document = {**factories.AREA, "rooms": [{**factories.AREA["rooms"][0], "name": odd}, *factories.AREA["rooms"][1:]]}
    project = factories.build_project(admin.actor, document)
    from webapp.worlds import promotion

    promotion.promote(admin.actor, project.id, limbo.id, "north")
    answer = admin.get("/api/v1/world/export", query_string={"format": "ev"})
    assert answer.status_code == 200 and answer.mimetype == "text/plain"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="world.ev"'
    raw = answer.get_data()
    assert b"\r" not in raw and raw.endswith(b"\n")
    text = raw.decode("utf-8")
    commands = batchfile.parse(text)
    assert_each_command_ends_with_a_comment(text, commands)
    digs = [c for c in commands if c.startswith("@dig/teleport ")]
    assert sorted(c.rsplit(";", 1)[1].rstrip(":") for c in digs) == sorted(r.handle for r in factories_rooms())
    assert "@dig/teleport Odd names here: too;gate#01:" in digs  # no alias, typeclass or exit sneaks in
    assert f"@py here.key = {odd!r}" in commands  # …and the name is set exactly
    assert len([c for c in commands if c.startswith("@open ")]) == 3  # a pair each: two in the area, one to Limbo
    exported = admin.get("/api/v1/world/export", query_string={"format": "json"}).get_json()
    read = batchfile.to_document(text)
    assert read["rooms"] == exported["rooms"] and read["connections"] == exported["connections"] == []
    assert sorted(map(str, read["exits"])) == sorted(map(str, exported["exits"]))


def factories_rooms():
    from webapp.extensions import db

    return db.session.scalars(select(Room).where(Room.sandbox_id.is_(None))).all()


def test_the_json_export_round_trips_through_import(api, factories):
    admin = api("admin")
    project = factories.build_project(admin.actor)
    exported = admin.get("/api/v1/world/export", query_string={"area": project.id, "format": "json"})
    assert exported.status_code == 200
    document = json.loads(exported.get_data())
    imported = admin.post("/api/v1/builds/import", document)
    assert imported.status_code == 201, imported.get_json()
    body = imported.get_json()
    assert [(r["key"], r["attributes"], r["tags"]) for r in body["rooms"]] == [
        (r["key"], r["attributes"], r.get("tags", [])) for r in factories.AREA["rooms"]]
    assert len(body["exits"]) == 4
