"""Export and import: the JSON export imports back into a draft with the same rooms, exits, attributes and
tags; the world export holds live rooms only."""

from __future__ import annotations

import json

from webapp.worlds import promotion, transfer
from webapp.worlds.directions import parse_direction
from webapp.worlds.models import ProjectStatus


def test_json_export_imports_back_into_a_project_with_the_same_rooms_exits_attributes_and_tags(factories):
    admin = factories.user("admin")
    limbo = factories.live_room(admin)
    project = factories.build_project(admin)
    promotion.promote(admin, project.id, limbo.id, "north")
    exported = transfer.export_document(admin, area=project.id)
    imported = transfer.import_document(admin, json.loads(json.dumps(exported)))
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
    again = factories.build_project(admin, transfer.export_document(admin, area=project.id))
    second = transfer.export_document(admin, area=again.id)
    strip = lambda doc: [(r["key"], r["name"], r["description"], r["attributes"],
                          [t for t in r["tags"] if t["category"] != "build"]) for r in doc["rooms"]]
    assert strip(second) == strip(exported)
    assert len(second["exits"]) == len(exported["exits"]) - 0


def test_the_world_export_holds_live_rooms_only(factories):
    admin = factories.user("admin")
    factories.live_room(admin)
    factories.build_project(admin)
    assert [r["key"] for r in transfer.export_document(admin)["rooms"]] == ["limbo"]
