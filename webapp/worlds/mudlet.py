"""The live world (or one area) as a Mudlet map: the XML map file Mudlet loads with `loadMap("/path/world.xml")`.

What Mudlet reads, from its own importer (Mudlet/Mudlet, commit 48de88f44e2df99c80bb6adc683d09eba4b3dd89,
`src/XMLimport.cpp`: `importPackage`, `readMap`, `readAreas`, `readArea`, `readRooms`, `readRoom`,
`readEnvColors`, `readEnvColor`; `src/TRoomDB.cpp`: `addArea(int, QString)`), and what this file writes:

- The root element is `<map>`; its children `<areas>`, `<rooms>` and `<environments>`, in that order:
  reading `<areas>` clears Mudlet's map (so it comes first), and the environments reader reads on to the end
  of the file (so they come last: a room after them would never be read).
- `<area id="…" name="…"/>`. Mudlet refuses an area whose id or name it already has (the rooms then land in an
  "unnamed area"), so names are made unique here: the live world's own rooms are area 1, "Live world"; an area
  of a build project has the id project id + 1 and the project's name ("The Old Mill (project 7)" if another
  area has that name).
- `<room id="…" area="…" title="…" environment="…">`: Mudlet skips a room whose id is below 1 and keys rooms
  by id; the ids are the rooms' own (unique, from 1). The title is the room's name.
- In a room, `<coord x="…" y="…" z="…"/>` (integers; read with `toInt`, so anything else is 0): x and y are the
  cells of the dashboard's map (`worldmap.place_world`, each area a block), y negated because Mudlet's y grows
  northwards; z is the level: one up per exit "up" (one down per "down") on the way from the first room of
  its group.
- `<exit direction="…" target="…"/>`: Mudlet's twelve directions by full name (north … southwest, up, down,
  in, out — the same twelve as ours). An exit another name (a "portal") is written as Mudlet's special exit,
  `<exit special="1" command="portal" target="…"/>`. Only exits between rooms of the file are written (an
  area's export leaves out its connection to the live world), one per direction per room.
- `<environment id="…" color="…"/>`: Mudlet colours a room by its environment, through this table to its
  ANSI colour numbers (1–16); each area is one environment, so each area has its own colour.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass

from webapp.accounts.services import Actor
from webapp.worlds.directions import DIRECTIONS, find_direction
from webapp.worlds.labels import xml_text
from webapp.worlds.worldmap import LIVE_WORLD, PlacedWorld, place_world

LIVE_AREA_ID = 1
COLOURS = (7, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14, 9)  # ANSI colour numbers: the live world light grey, then areas


@dataclass(frozen=True)
class MudletArea:
    id: int
    name: str
    colour: int


def area_id(project_id: int | None) -> int:
    """The Mudlet area id of a build project's area (None: the live world's own rooms)."""
    return LIVE_AREA_ID if project_id is None else project_id + 1


def _areas(world: PlacedWorld) -> dict[int | None, MudletArea]:
    """One Mudlet area per area of the world, with unique names (Mudlet drops a second area of one name)."""
    keys = sorted(set(world.area_of.values()), key=lambda p: (p is not None, p or 0))
    areas: dict[int | None, MudletArea] = {}
    names: set[str] = set()
    for i, key in enumerate(keys):
        name = LIVE_WORLD if key is None else xml_text(world.projects[key].name)
        if name in names:
            name = f"{name} (project {key})"
        names.add(name)
        areas[key] = MudletArea(area_id(key), name, COLOURS[i % len(COLOURS)])
    return areas


def _levels(world: PlacedWorld) -> dict[int, int]:
    """Each room's z: 0 for the first room of each group its exits join, one more for each exit up on the way
    from it (one less for each exit down)."""
    links: dict[int, list[tuple[int, int]]] = {r.id: [] for r in world.rooms}
    for _, source, destination, key in world.exits:
        direction = find_direction(key)
        dz = 1 if direction is not None and direction.name == "up" else \
            -1 if direction is not None and direction.name == "down" else 0
        links[source].append((destination, dz))
        links[destination].append((source, -dz))
    level: dict[int, int] = {}
    for root in sorted(links):
        if root in level:
            continue
        level[root] = 0
        queue = deque([root])
        while queue:
            room = queue.popleft()
            for other, dz in sorted(links[room]):
                if other not in level:
                    level[other] = level[room] + dz
                    queue.append(other)
    return level


def render(world: PlacedWorld, title: str) -> str:
    """The Mudlet XML map of a placed world."""
    areas = _areas(world)
    level = _levels(world)
    cells = world.layout.positions
    order = {name: i for i, name in enumerate(DIRECTIONS)}
    leaving: dict[int, list[tuple[int, int, int, str]]] = {r.id: [] for r in world.rooms}
    for exit_row in world.exits:
        leaving[exit_row[1]].append(exit_row)

    root = ET.Element("map")
    # (a comment may not hold "--", so it names no project)
    root.append(ET.Comment(f" Promotion Desk: {title} as a Mudlet map. In Mudlet: lua loadMap(\"/path/to/this.xml\") "))
    area_list = ET.SubElement(root, "areas")
    for area in sorted(areas.values(), key=lambda a: a.id):
        ET.SubElement(area_list, "area", id=str(area.id), name=area.name)
    room_list = ET.SubElement(root, "rooms")
    for room in world.rooms:
        area = areas[world.area_of[room.id]]
        element = ET.SubElement(room_list, "room", id=str(room.id), area=str(area.id), title=xml_text(room.name),
                                environment=str(area.id))
        x, y = cells[room.id]
        ET.SubElement(element, "coord", x=str(x), y=str(-y), z=str(level[room.id]))
        used: set[str] = set()
        for exit_id, _, destination, key in sorted(leaving[room.id], key=lambda e: (
                order.get(d.name, 99) if (d := find_direction(e[3])) else 99, e[0])):
            direction = find_direction(key)
            if direction is not None and direction.name not in used:
                used.add(direction.name)
                ET.SubElement(element, "exit", direction=direction.name, target=str(destination))
            else:  # not a direction, or a second exit one way: Mudlet's special exit, by its command
                ET.SubElement(element, "exit", special="1", command=xml_text(key), target=str(destination))
    environments = ET.SubElement(root, "environments")
    for area in sorted(areas.values(), key=lambda a: a.id):
        ET.SubElement(environments, "environment", id=str(area.id), color=str(area.colour))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def export_map(actor: Actor, area: int | None = None) -> str:
    """The live world (or one project's area) as a Mudlet XML map, laid out as the dashboard's map is."""
    world = place_world(actor, area)
    return render(world, "the live world" if world.area is None else f"the area of build project {world.area.id}")
