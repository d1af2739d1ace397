"""The map a person reads: names inside their boxes, exit lines that cross no room they do not join, each area
a framed block that no other overlaps, up/down/in/out drawn apart from the compass, and the window and cache."""

from __future__ import annotations

import itertools
import re
from typing import Any

from tests.worlds.geometry import segment_hits_box
from webapp.worlds import live, promotion, worldmap
from webapp.worlds.worldmap import BOX_H, BOX_W

LONG_NAMES = [
    "The Extraordinarily Long-Named Hall of the Forgotten Kings of the North",
    "Supercalifragilisticexpialidociousnessitudeland",
    "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWW",
    "東京タワーの展望台と商店街の裏路地",
    "Ångström's Ćevapčići & <Grill> \"Ø\"",
]


def _area(prefix: str, names: list[str], links: list[tuple[int, int, str]]) -> dict[str, Any]:
    rooms = [{"key": f"{prefix}{i}", "name": name, "description": "Here."} for i, name in enumerate(names)]
    exits = [{"source": f"{prefix}{a}", "destination": f"{prefix}{b}", "direction": d} for a, b, d in links]
    return {"rooms": rooms, "exits": exits}


def map_world(admin: Any, factories: Any) -> dict[str, Any]:
    """A live world that tests a map: a village square with a crowded hub (every direction taken, so later
    rooms land far from their exits), long and odd names, and four areas promoted off it — two off one room,
    one off another area — with up/down/in/out inside them. Returns the ids by name."""
    names = ["Limbo", "Village square", "The Crooked Tankard", "Forest path", "Watchtower top", "Cellar",
             "Well shaft", "Chapel", *LONG_NAMES]
    rooms = {name: factories.live_room(admin, f"r{i}", name) for i, name in enumerate(names)}
    square = rooms["Village square"].id
    for name, direction in [("Limbo", "south"), ("The Crooked Tankard", "east"), ("Forest path", "west"),
                            ("Watchtower top", "up"), ("Cellar", "down"), ("Well shaft", "in"), ("Chapel", "north")]:
        live.link_rooms(admin, square, rooms[name].id, direction)
    live.link_rooms(admin, rooms["Chapel"].id, rooms[LONG_NAMES[0]].id, "north")
    for name, direction in zip(LONG_NAMES[1:], ["northwest", "southwest", "southeast", "out"], strict=True):
        live.link_rooms(admin, square, rooms[name].id, direction)
    mill = _area("mill", ["Mill yard", "Mill floor", "Grain loft", "Mill race", "Sluice gate"],
                 [(0, 1, "north"), (1, 0, "south"), (1, 2, "up"), (2, 1, "down"), (0, 3, "east"), (3, 4, "in"),
                  (4, 3, "out")])
    crypt = _area("crypt", ["Crypt stair", "Ossuary", "Long gallery of bones", "Sealed tomb"],
                  [(0, 1, "down"), (1, 2, "west"), (2, 3, "in"), (3, 2, "out"), (2, 1, "east")])
    tower = _area("tower", ["Tower gate", "Spiral stair", "Bell loft"],
                  [(0, 1, "up"), (1, 2, "up"), (2, 1, "down"), (1, 0, "down")])
    annex = _area("annex", ["Annex hall", "Annex store"], [(0, 1, "east"), (1, 0, "west")])
    projects = {}
    for name, document, anchor, direction in [("The Old Mill", mill, square, "northeast"),
                                              ("The Crypt", crypt, rooms["Chapel"].id, "east"),
                                              ("The Tower", tower, rooms["The Crooked Tankard"].id, "northeast")]:
        project = factories.build_project(admin, document, name=name)
        token = promotion.promotion_preview(admin, project.id, anchor, direction).token
        promotion.promote(admin, project.id, anchor, direction, token)
        projects[name] = project
    # the annex hangs off the mill's sluice gate: an area off an area
    annex_project = factories.build_project(admin, annex, name="Mill annex")
    gate = next(r.id for r in worldmap.place_world(admin).rooms if r.name == "Sluice gate")
    token = promotion.promotion_preview(admin, annex_project.id, gate, "south").token
    promotion.promote(admin, annex_project.id, gate, "south", token)
    projects["Mill annex"] = annex_project
    return {"rooms": {name: room.id for name, room in rooms.items()}, "projects": {n: p.id for n, p in projects.items()}}


def _whole(admin: Any, **kwargs: Any) -> worldmap.MapView:
    first = worldmap.build_map(admin, **kwargs)
    args = first.everything()
    return worldmap.build_map(admin, area=args.get("area"), highlight=args.get("highlight"), x=str(args["x"]),
                              y=str(args["y"]), span=str(args["span"]))




def _box(room: worldmap.MapRoom) -> tuple[float, float, float, float]:
    return room.x, room.y, room.x + BOX_W, room.y + BOX_H


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return not (a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1])


# -- names inside their boxes ----------------------------------------------------------------------


def test_the_box_carries_the_full_name_handle_and_off_compass_exits_on_hover_and_escapes_them(auth, admin, factories):
    ids = map_world(admin, factories)
    auth.login(admin.label)
    page = auth.get("/world/map", query_string=worldmap.build_map(admin).everything()).get_data(as_text=True)
    square = re.search(rf'<a href="/world/rooms/{ids["rooms"]["Village square"]}"[^>]*><title>([^<]*)</title>', page)
    assert square and square.group(1).startswith("Village square (r1#01) · exits up, down, in, out")
    assert "<title>Ångström&#39;s Ćevapčići &amp; &lt;Grill&gt; &#34;Ø&#34; (r12#01) · exits in</title>" in page
    assert "<Grill>" not in page
    assert f"<title>{LONG_NAMES[0]} (r8#01)</title>" in page and "Forgotten Kings of the North</text>" not in page


# -- lines, blocks and markers ---------------------------------------------------------------------


def test_no_exit_line_crosses_the_box_of_a_room_it_does_not_join(admin, factories):
    map_world(admin, factories)
    view = _whole(admin)
    assert view.total == len(view.rooms) == 27
    routed = [line for line in view.lines if not line.straight]
    assert routed  # the crowded square sends some rooms far: their lines go round
    for line in view.lines:
        segments = list(itertools.pairwise(line.points))
        for room in view.rooms:
            if room.id in (line.source, line.destination):
                continue
            assert not any(segment_hits_box(a, b, _box(room)) for a, b in segments), (line, room.name)


def test_each_area_is_framed_and_no_two_frames_overlap(admin, factories):
    ids = map_world(admin, factories)
    view = _whole(admin)
    frames = {f.project_id: (f.x, f.y, f.x + f.width, f.y + f.height) for f in view.frames}
    assert set(frames) == set(ids["projects"].values())
    for a, frame_a in frames.items():
        for b, frame_b in frames.items():
            assert a == b or not _overlap(frame_a, frame_b), (a, b)
    for room in view.rooms:
        box = _box(room)
        for project_id, frame in frames.items():
            inside = frame[0] < box[0] and frame[1] < box[1] and box[2] < frame[2] and box[3] < frame[3]
            assert inside == (room.area == project_id), (room.name, project_id)
            assert inside or not _overlap(box, frame)
    assert {room.area for room in view.rooms if room.name.startswith("Mill ")} == {ids["projects"]["The Old Mill"]}
    assert {room.area for room in view.rooms if room.name == "Annex hall"} == {ids["projects"]["Mill annex"]}


def test_up_down_in_and_out_are_drawn_apart_from_the_compass_and_marked_in_the_room_they_leave(admin, factories):
    ids = map_world(admin, factories)
    view = _whole(admin)
    by_id = {r.id: r for r in view.rooms}
    square = by_id[ids["rooms"]["Village square"]]
    assert square.markers == ("up", "down", "in", "out")
    assert by_id[ids["rooms"]["Limbo"]].markers == ()
    kinds = {(by_id[line.source].name, by_id[line.destination].name): line.kind for line in view.lines}
    assert kinds["Village square", "Watchtower top"] == kinds["Watchtower top", "Village square"] == "updown"
    assert kinds["Village square", "Well shaft"] == kinds["Well shaft", "Village square"] == "inout"
    assert kinds["Village square", "Chapel"] == "compass"
    svg = view.svg("/world/rooms/0")
    box = svg[svg.index(f'data-room-id="{square.id}"'):]
    assert '<text class="map-marker"' in box[:box.index("</a>")] and "▲ ▼ in out" in box[:box.index("</a>")]
    assert svg.count('class="map-exit map-exit-updown') == sum(1 for k in kinds.values() if k == "updown")


def test_the_area_map_shows_one_framed_area_and_leaves_the_live_world_out(admin, factories):
    ids = map_world(admin, factories)
    view = worldmap.build_map(admin, area=ids["projects"]["The Crypt"])
    assert sorted(r.name for r in view.rooms) == ["Crypt stair", "Long gallery of bones", "Ossuary", "Sealed tomb"]
    assert [f.name for f in view.frames] == ["The Crypt"] and view.frames[0].highlighted
    assert all(r.highlighted for r in view.rooms)


def test_the_promoted_area_is_highlighted_on_the_live_map(admin, factories):
    ids = map_world(admin, factories)
    view = _whole(admin)
    newest = ids["projects"]["Mill annex"]
    assert view.highlight is not None and view.highlight.id == newest
    assert {r.name for r in view.rooms if r.highlighted} == {"Annex hall", "Annex store"}
    assert [f.project_id for f in view.frames if f.highlighted] == [newest]


# -- the window, its size on the page, the cache -----------------------------------------------------


def test_the_svg_is_drawn_at_a_readable_size_and_no_bigger_than_its_rooms(admin, factories):
    rooms = [factories.live_room(admin, f"r{i}") for i in range(12)]
    for a, b in itertools.pairwise(rooms):
        live.link_rooms(admin, a.id, b.id, "east")  # a row of 12 rooms
    view = worldmap.build_map(admin, span="8", x="5", y="0")
    assert view.view_box == "160 -48 1280 96"  # the window's 8 columns (1 to 8), and of its rows the one with rooms
    assert view.pixels == (round(8 * 160 * 0.8), round(96 * 0.8))  # a 14-unit name is 11 px on the page
    whole = worldmap.build_map(admin, **{k: str(v) for k, v in view.everything().items()})
    assert whole.span == 14 and whole.view_box == f"-80 -48 {12 * 160} 96"  # only the cells with rooms
    # wider than 10 columns: an overview, 10 columns' width at most
    assert whole.pixels == (round(12 * 160 * 0.8 * 10 / 14), round(96 * 0.8 * 10 / 14))
    assert worldmap.build_map(admin, span="96", x="5", y="0").pixels == (round(12 * 160 * 0.8 * 10 / 96),
                                                                         round(96 * 0.8 * 10 / 96))
    first = worldmap.build_map(admin)  # the first window: as wide as can be read, on the middle of the map
    assert (first.span, first.cx, first.pixels[0]) == (10, 5, 1280)
    svg = view.svg("/world/rooms/0")
    assert f'width="{view.pixels[0]}" height="{view.pixels[1]}"' in svg and f'href="/world/rooms/{rooms[5].id}"' in svg


def test_a_changed_world_is_laid_out_again_and_an_unchanged_one_is_not(admin, factories):
    limbo, square = factories.live_room(admin, "limbo"), factories.live_room(admin, "square")
    first = worldmap.place_world(admin)
    assert worldmap.place_world(admin).drawing is first.drawing  # the cache: nothing changed
    live.link_rooms(admin, limbo.id, square.id, "north")
    linked = worldmap.place_world(admin)
    assert linked.drawing is not first.drawing
    assert linked.layout.positions[square.id] == (0, 0) and linked.layout.positions[limbo.id] == (0, 1)


def test_another_workspaces_rooms_are_never_on_the_map(admin, factories):
    theirs = factories.user("admin", "Globex")
    factories.live_room(theirs, "secret", "Their secret room")
    factories.live_room(admin, "limbo")
    view = worldmap.build_map(admin)
    assert [r.name for r in view.rooms] == ["Limbo"] and "Their secret room" not in view.svg("/world/rooms/0")
