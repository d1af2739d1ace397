"""The Mudlet map export, checked against what Mudlet's XML map importer reads.

The structure is Mudlet's own, read from its importer (Mudlet/Mudlet at commit
48de88f44e2df99c80bb6adc683d09eba4b3dd89, `src/XMLimport.cpp`: `importPackage` takes a top-level `<map>`;
`readMap` handles `<areas>` (which clears the map), `<rooms>` and `<environments>`; `readArea` reads
`<area id name>`; `readRoom` reads `<room id area title environment>` and, inside it, `<coord x y z>` (`toInt`)
and `<exit direction target>` — direction one of north, east, south, west, up, down, northeast, southwest,
southeast, northwest, in, out — or `<exit special="1" command target>`; it drops a room whose id is below 1;
`readEnvColors` reads `<environment id color>` and never stops at `</environments>`, so nothing may follow it;
`src/TRoomDB.cpp` `addArea(int, QString)` refuses a second area with an id or a name it already has).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import namedtuple

import pytest

from tests.conftest import bearer
from tests.worlds.test_worldmap import map_world
from webapp.worlds import live, mudlet, worldmap
from webapp.worlds.layout import Layout

MUDLET_DIRECTIONS = {"north", "east", "south", "west", "up", "down", "northeast", "southwest", "southeast",
                     "northwest", "in", "out"}
INTEGER = re.compile(r"-?\d+")
RoomRow = namedtuple("RoomRow", "id name handle sandbox_id")  # a room as `place_world` reads it


def check_mudlet_map(text: str) -> ET.Element:
    """Everything Mudlet's importer needs of a map file (see the module's docstring); returns the root."""
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "map"
    assert [child.tag for child in root] == ["areas", "rooms", "environments"]  # in Mudlet's order, nothing after
    areas, rooms, environments = root
    area_ids = [a.get("id") for a in areas]
    assert all(a.tag == "area" and INTEGER.fullmatch(a.get("id", "")) and int(a.get("id")) >= 1 for a in areas)
    assert all(a.get("name") for a in areas)
    assert len(set(area_ids)) == len(area_ids) and len({a.get("name") for a in areas}) == len(areas)
    environment_ids = {e.get("id") for e in environments}
    assert all(e.tag == "environment" and INTEGER.fullmatch(e.get("id", "")) and INTEGER.fullmatch(e.get("color", ""))
               for e in environments)
    room_ids = [r.get("id") for r in rooms]
    assert len(set(room_ids)) == len(room_ids)
    for room in rooms:
        assert room.tag == "room" and INTEGER.fullmatch(room.get("id", "")) and int(room.get("id")) >= 1
        assert room.get("area") in area_ids and room.get("environment") in environment_ids
        assert room.get("title") is not None
        coords = room.findall("coord")
        assert len(coords) == 1 and all(INTEGER.fullmatch(coords[0].get(axis, "")) for axis in "xyz")
        assert {child.tag for child in room} <= {"coord", "exit"}
        directions = []
        for exit_ in room.findall("exit"):
            assert exit_.get("target") in room_ids  # every exit leads to a room of this file
            if exit_.get("direction") is not None:
                assert exit_.get("direction") in MUDLET_DIRECTIONS and exit_.get("special") is None
                directions.append(exit_.get("direction"))
            else:
                assert exit_.get("special") == "1" and exit_.get("command")
        assert len(directions) == len(set(directions))  # Mudlet holds one exit per direction
    return root


def _rooms(root: ET.Element) -> dict[str, ET.Element]:
    return {r.get("title"): r for r in root.find("rooms")}


def _coord(room: ET.Element) -> tuple[int, int, int]:
    c = room.find("coord")
    return int(c.get("x")), int(c.get("y")), int(c.get("z"))


def _exits(room: ET.Element) -> dict[str, str]:
    return {e.get("direction") or e.get("command"): e.get("target") for e in room.findall("exit")}


def test_the_live_world_exports_as_a_map_mudlets_importer_reads(admin, factories):
    ids = map_world(admin, factories)
    root = check_mudlet_map(mudlet.export_map(admin))
    rooms = _rooms(root)
    placed = worldmap.place_world(admin)
    assert set(rooms) == {r.name for r in placed.rooms} and len(rooms) == 27
    areas = {a.get("name"): a.get("id") for a in root.find("areas")}
    assert areas == {"Live world": "1", **{name: str(pid + 1) for name, pid in ids["projects"].items()}}
    assert rooms["Limbo"].get("area") == "1" and rooms["Mill yard"].get("area") == areas["The Old Mill"]
    colours = {e.get("id"): e.get("color") for e in root.find("environments")}
    assert set(colours) == set(areas.values()) and colours["1"] == "7"  # one environment, one colour, per area
    assert len(set(colours.values())) == len(colours)
    # the dashboard map's cells, y growing northwards as Mudlet's does
    for row in placed.rooms:
        x, y, _ = _coord(rooms[row.name])
        assert (x, -y) == placed.layout.positions[row.id]
    square = rooms["Village square"]
    assert _exits(square)["up"] == str(ids["rooms"]["Watchtower top"])
    assert _exits(square)["in"] == str(ids["rooms"]["Well shaft"]) and _exits(square)["northeast"]


def test_up_and_down_change_the_level_and_nothing_else_does(admin, factories):
    map_world(admin, factories)
    rooms = _rooms(check_mudlet_map(mudlet.export_map(admin)))
    z = {name: _coord(room)[2] for name, room in rooms.items()}
    assert z["Village square"] == z["Limbo"] == z["Chapel"] == z["Well shaft"] == z["Mill yard"]
    assert z["Watchtower top"] == z["Village square"] + 1 and z["Cellar"] == z["Village square"] - 1
    assert (z["Mill floor"], z["Grain loft"]) == (z["Mill yard"], z["Mill yard"] + 1)
    assert [z[n] - z["Tower gate"] for n in ("Spiral stair", "Bell loft")] == [1, 2]
    assert z["Ossuary"] == z["Crypt stair"] - 1 == z["Sealed tomb"]  # in/out keep the level


def test_an_area_exports_alone_without_its_connection_to_the_live_world(admin, factories):
    ids = map_world(admin, factories)
    project = ids["projects"]["The Old Mill"]
    root = check_mudlet_map(mudlet.export_map(admin, project))
    assert [(a.get("id"), a.get("name")) for a in root.find("areas")] == [(str(project + 1), "The Old Mill")]
    rooms = _rooms(root)
    assert sorted(rooms) == ["Grain loft", "Mill floor", "Mill race", "Mill yard", "Sluice gate"]
    assert "southwest" not in _exits(rooms["Mill yard"])  # the way back to the village square is not in the file
    assert _exits(rooms["Mill race"])["in"] == rooms["Sluice gate"].get("id")


def test_a_built_sandbox_exports_as_its_area(admin, factories):
    project = factories.build_project(admin, name="Sandboxed")
    root = check_mudlet_map(mudlet.export_map(admin, project.id))
    assert sorted(_rooms(root)) == ["Grain loft", "Mill gate", "Mill yard"]
    assert mudlet.export_map(admin).count("<room ") == 0  # not live: not in the live world's map


def test_two_areas_of_one_name_get_two_names_as_mudlet_keeps_only_one_area_per_name(admin, factories):
    square = factories.live_room(admin, "square", "Village square")
    from webapp.worlds import promotion

    made = []
    for direction in ("east", "west"):  # the entry room, the mill gate, has its exit north
        project = factories.build_project(admin, name="Live world")  # even the live world's own name
        promotion.promote(admin, project.id, square.id, direction,
                          promotion.promotion_preview(admin, project.id, square.id, direction).token)
        made.append(project.id)
    names = [a.get("name") for a in check_mudlet_map(mudlet.export_map(admin)).find("areas")]
    assert names == ["Live world", f"Live world (project {made[0]})", f"Live world (project {made[1]})"]


def test_names_are_kept_exactly_and_what_xml_cannot_hold_is_replaced(admin, factories):
    factories.live_room(admin, "odd", "Quotes \" ' & <tags> ; = / # ☃ 東京")
    text = mudlet.export_map(admin)
    assert "<tags>" not in text
    assert _rooms(check_mudlet_map(text)).keys() == {"Quotes \" ' & <tags> ; = / # ☃ 東京"}
    world = worldmap.place_world(admin)
    row = world.rooms[0]
    broken = worldmap.PlacedWorld(rooms=[RoomRow(row.id, "Bell\x07 and \ud800 -- end", row.handle, None)], exits=[],
                                  leaving={}, drawing=world.drawing, area_of=world.area_of, projects={}, area=None)
    assert list(_rooms(check_mudlet_map(mudlet.render(broken, "a test")))) == ["Bell\ufffd and \ufffd -- end"]


def test_an_exit_no_direction_names_is_a_special_exit_and_a_second_one_way_too():
    rows = [RoomRow(1, "Hall", "hall#01", None), RoomRow(2, "Vault", "vault#01", None),
            RoomRow(3, "Attic", "attic#01", None)]
    world = worldmap.PlacedWorld(
        rooms=rows, exits=[(1, 1, 2, "portal"), (2, 1, 3, "north"), (3, 1, 2, "n"), (4, 2, 1, "out")], leaving={},
        drawing=worldmap.Drawing(Layout(positions={1: (0, 1), 2: (1, 1), 3: (0, 0)}, width=2, height=2), {}),
        area_of=dict.fromkeys((1, 2, 3)), projects={}, area=None)
    rooms = _rooms(check_mudlet_map(mudlet.render(world, "a test")))
    hall = rooms["Hall"]
    assert [(e.get("direction"), e.get("special"), e.get("command"), e.get("target")) for e in hall.findall("exit")] \
        == [("north", None, None, "3"), (None, "1", "n", "2"), (None, "1", "portal", "2")]
    assert _exits(rooms["Vault"]) == {"out": "1"}
    assert [_coord(rooms[n]) for n in ("Hall", "Vault", "Attic")] == [(0, -1, 0), (1, -1, 0), (0, 0, 0)]


# -- over HTTP ------------------------------------------------------------------------------------


@pytest.fixture
def signed_in(auth, factories):
    actor = factories.user("viewer", "Acme", email="reader@example.com")
    auth.login("reader@example.com")
    return actor


def test_the_dashboard_downloads_the_mudlet_map_of_the_world_and_of_an_area(auth, admin, signed_in, factories):
    ids = map_world(admin, factories)
    answer = auth.get("/world/export", query_string={"format": "mudlet"})
    assert answer.status_code == 200 and answer.mimetype == "application/xml"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="world.xml"'
    assert len(check_mudlet_map(answer.get_data(as_text=True)).find("rooms")) == 27
    project = ids["projects"]["The Crypt"]
    area = auth.get("/world/export", query_string={"format": "mudlet", "area": project})
    assert area.headers["Content-Disposition"] == f'attachment; filename="area-{project}.xml"'
    assert len(check_mudlet_map(area.get_data(as_text=True)).find("rooms")) == 4
    page = auth.get("/builds").get_data(as_text=True)
    assert 'href="/world/export?format=mudlet"' in page
    assert f'href="/world/export?format=mudlet&amp;area={project}"' in auth.get(f"/builds/{project}").get_data(
        as_text=True)


def test_the_api_exports_the_mudlet_map_with_a_token(client, admin, factories):
    limbo, square = factories.live_room(admin, "limbo"), factories.live_room(admin, "square")
    live.link_rooms(admin, limbo.id, square.id, "north")
    headers = bearer(factories.personal_token(admin))
    answer = client.get("/api/v1/world/export?format=mudlet", headers=headers)
    assert answer.status_code == 200 and answer.mimetype == "application/xml"
    rooms = _rooms(check_mudlet_map(answer.get_data(as_text=True)))
    assert _exits(rooms["Limbo"]) == {"north": str(square.id)} and _exits(rooms["Square"]) == {"south": str(limbo.id)}


@pytest.mark.parametrize("query", ["format=xml", "format=MUDLET", "format=mudlet&area=0", "format=mudlet&area=x"])
def test_a_bad_export_query_is_a_400_naming_the_formats(client, admin, factories, query):
    headers = bearer(factories.personal_token(admin))
    answer = client.get(f"/api/v1/world/export?{query}", headers=headers)
    assert answer.status_code == 400
    if "area" not in query:
        assert "'mudlet'" in answer.get_json()["message"]


def test_another_workspaces_area_is_a_404(client, admin, factories):
    theirs = factories.build_project(factories.user("admin", "Globex"))
    answer = client.get(f"/api/v1/world/export?format=mudlet&area={theirs.id}",
                        headers=bearer(factories.personal_token(admin)))
    assert answer.status_code == 404
