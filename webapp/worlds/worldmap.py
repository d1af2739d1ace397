"""The map: rooms laid out by the directions of their exits (`layout`), each area a block of its own,
seen through a window and drawn as SVG.

The server lays out the whole world or one area, then sends only what the window shows, so a world
of 2,000 rooms is a page of a few hundred boxes; pan and zoom are links that move the window. The SVG
is written here rather than in a template: a box is a dozen attributes, and a template's escaping of
each of them costs more than the whole layout (see Benchmarks in the README).

What a reader sees: a room's name inside its box (`labels`: two lines at most, shortened with "…";
the full name, handle and exits on hover), exit lines that cross no room they do not join (`layout.route`),
up/down exits dashed and in/out dotted with ▲ ▼ in out marked in the box they leave, and each area
framed and named.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import select

from webapp import inputs
from webapp.accounts.services import Actor
from webapp.extensions import db
from webapp.worlds import queries
from webapp.worlds.directions import find_direction
from webapp.worlds.labels import LABEL_WIDTH, label_lines, shorten, text_width, xml_text
from webapp.worlds.layout import Layout, layout, route
from webapp.worlds.models import BUILD_CATEGORY, BuildProject, Exit, Room, RoomTag

CELL_W, CELL_H = 160, 96  # a grid cell in SVG units
BOX_W, BOX_H = 128, 56  # a room's box, centred in its cell (a 16/20 unit gutter all round); labels.LABEL_WIDTH fits it
FRAME_INSET = 6  # an area's frame: this far inside the border of its outermost cells, so outside every box
AREA_LABEL_SIZE = 12
MARKERS = {"up": "▲", "down": "▼", "in": "in", "out": "out"}  # shown in the box of a room with such an exit
# px per SVG unit while the window is at most READABLE_SPAN columns wide (a name is then about 11 px high and the
# map at most 1,280 px wide); a wider window is an overview of that width. The first window is at most that wide.
SCALE, READABLE_SPAN = 0.8, 10
MIN_SPAN, MAX_SPAN = 4, 400
ASPECT = 1.0  # rows shown per column shown (cells are wider than tall, so the window is landscape)
COORDINATE_LIMIT = 1_000_000
LIVE_WORLD = "Live world"  # the name of the rooms no area holds


# -- placing a world -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Drawing:
    """Where every room lies and the line each exit takes (in SVG units)."""

    layout: Layout
    paths: dict[tuple[int, int, str], tuple[tuple[tuple[int, int], ...], str]]  # exit → its line's points, kind


@lru_cache(maxsize=8)  # about 12 MB for a world of 10,000 rooms, well under 1 MB for a few hundred
def drawing(ids: tuple[int, ...], exits: tuple[tuple[int, int, str], ...], start: int | None,
             areas: tuple[tuple[int, Hashable], ...]) -> Drawing:
    """The layout and the exits' lines are a pure function of the rooms, exits and areas: a world that did
    not change since the last look (in this process) is neither laid out nor routed again."""
    placed = layout(ids, exits, start=start, areas=dict(areas))
    cells = placed.positions
    taken = set(cells.values())
    paths = {(s, d, k): (tuple((round(px * CELL_W), round(py * CELL_H)) for px, py in route(cells[s], cells[d], taken)),
                         _kind(k))
             for s, d, k in exits if s != d}
    return Drawing(placed, paths)


@dataclass(frozen=True)
class PlacedWorld:
    """The rooms of the live world (or one area), their exits and the cells the layout gave them; shared
    by the map and the Mudlet export, so both show the same world the same way."""

    rooms: list[Any]  # rows of (id, name, handle, sandbox_id), by id
    exits: list[tuple[int, int, int, str]]  # (id, source, destination, key) between those rooms
    leaving: dict[int, set[str]]  # room → the directions of all its exits (to anywhere)
    drawing: Drawing
    area_of: dict[int, int | None]  # room → the project whose area holds it (None: no area)
    projects: dict[int, BuildProject]  # those projects
    area: BuildProject | None  # the one area asked for (None: the live world)

    @property
    def layout(self) -> Layout:
        return self.drawing.layout


def _area_tags(workspace_id: int) -> dict[int, int]:
    """Room → the project whose area it belongs to (its `project_<id>` build tag; the oldest project if several)."""
    found: dict[int, int] = {}
    prefix = "project_"
    for room_id, key in db.session.execute(
            select(RoomTag.room_id, RoomTag.key).join(Room, Room.id == RoomTag.room_id)
            .where(Room.workspace_id == workspace_id, RoomTag.category == BUILD_CATEGORY,
                   RoomTag.key.like(prefix.replace("_", "\\_") + "%", escape="\\"))):
        number = key[len(prefix):]
        if number.isdigit() and (room_id not in found or int(number) < found[room_id]):
            found[room_id] = int(number)
    return found


def place_world(actor: Actor, area: int | None = None) -> PlacedWorld:
    """The live world, or one project's area (sandbox or live), laid out: each area a block of its own."""
    area_project = queries.get_project(actor, area) if area is not None else None
    rows = list(db.session.execute(select(Room.id, Room.name, Room.handle, Room.sandbox_id)
                                   .where(Room.workspace_id == actor.workspace_id).order_by(Room.id)))
    if area_project is not None:
        wanted = set(queries.area_room_ids(actor.workspace_id, area_project.id))
        rooms = [r for r in rows if r.id in wanted]
        area_of: dict[int, int | None] = {r.id: area_project.id for r in rooms}
        projects = {area_project.id: area_project}
    else:
        rooms = [r for r in rows if r.sandbox_id is None]
        tags = _area_tags(actor.workspace_id)
        candidates = {tags[r.id] for r in rooms if r.id in tags}
        projects = {p.id: p for p in db.session.scalars(select(BuildProject).where(
            BuildProject.workspace_id == actor.workspace_id, BuildProject.id.in_(candidates)))} if candidates else {}
        area_of = {r.id: tags[r.id] if tags.get(r.id) in projects else None for r in rooms}
    ids = {r.id for r in rooms}
    exits, leaving = [], {i: set() for i in ids}
    for exit_id, source, destination, key in db.session.execute(
            select(Exit.id, Exit.source_id, Exit.destination_id, Exit.key)
            .where(Exit.workspace_id == actor.workspace_id).order_by(Exit.id)):
        if source in ids:
            direction = find_direction(key)
            leaving[source].add(direction.name if direction else key)
            if destination in ids:
                exits.append((exit_id, source, destination, key))
    ordered = tuple(sorted(ids))
    drawn = drawing(ordered, tuple(sorted((s, d, k) for _, s, d, k in exits)), ordered[0] if ordered else None,
                    tuple(sorted(area_of.items(), key=lambda item: item[0])))
    return PlacedWorld(rooms=rooms, exits=exits, leaving=leaving, drawing=drawn, area_of=area_of,
                       projects=projects, area=area_project)


# -- the view ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MapRoom:
    id: int
    name: str
    handle: str
    x: int  # SVG units, top-left of the box
    y: int
    highlighted: bool
    in_sandbox: bool
    area: int | None  # the project whose area holds it
    markers: tuple[str, ...]  # up, down, in, out: the off-compass ways out of it

    @property
    def lines(self) -> tuple[str, ...]:
        return label_lines(self.name)

    @property
    def label(self) -> str:
        return " ".join(self.lines)


@dataclass(frozen=True)
class MapLine:
    points: tuple[tuple[int, int], ...]  # SVG units, from the source room's centre to the destination's
    kind: str  # "compass", "updown" (dashed), "inout" (dotted) or "other" (an exit no direction names)
    highlighted: bool
    source: int
    destination: int

    @property
    def straight(self) -> bool:
        return len(self.points) == 2


@dataclass(frozen=True)
class MapArea:
    """An area's frame: the rectangle its rooms lie in, named."""

    project_id: int
    name: str
    x: int
    y: int
    width: int
    height: int
    highlighted: bool


@dataclass(frozen=True)
class MapView:
    rooms: list[MapRoom]
    lines: list[MapLine]
    frames: list[MapArea]
    total: int
    cx: int  # the window's centre cell and width in cells
    cy: int
    span: int
    area: BuildProject | None
    highlight: BuildProject | None
    areas: list[BuildProject]
    whole: tuple[int, int, int, int]  # the cells every room of the map lies in: x0, y0, x1, y1

    @property
    def rows(self) -> int:
        return max(3, math.ceil(self.span * ASPECT))

    @property
    def drawn_box(self) -> tuple[float, float, float, float]:
        """What the SVG shows, in SVG units (x, y, width, height): the window, less any margin of it beyond the
        map's outermost cells (so the picture starts where the rooms do); the whole window if it shows no room."""
        x0, y0 = (self.cx - self.span / 2) * CELL_W, (self.cy - self.rows / 2) * CELL_H
        x1, y1 = x0 + self.span * CELL_W, y0 + self.rows * CELL_H
        wx0, wy0, wx1, wy1 = self.whole
        left, top = max(x0, (wx0 - 0.5) * CELL_W), max(y0, (wy0 - 0.5) * CELL_H)
        right, bottom = min(x1, (wx1 + 0.5) * CELL_W), min(y1, (wy1 + 0.5) * CELL_H)
        if not self.total or right <= left or bottom <= top:
            return x0, y0, x1 - x0, y1 - y0
        return left, top, right - left, bottom - top

    @property
    def view_box(self) -> str:
        x, y, width, height = self.drawn_box
        return f"{x:.0f} {y:.0f} {width:.0f} {height:.0f}"

    @property
    def pixels(self) -> tuple[int, int]:
        """The SVG's size on the page: readable (a name at about 11 px) while the window is at most READABLE_SPAN
        columns wide, an overview of that width beyond; the page scrolls the map in its box, never itself."""
        scale = SCALE * min(1.0, READABLE_SPAN / self.span)
        _, _, width, height = self.drawn_box
        return round(width * scale), round(height * scale)

    def args(self, **changes: Any) -> dict[str, Any]:
        """Query arguments for this view with some changed: the pan and zoom links."""
        base: dict[str, Any] = {"x": self.cx, "y": self.cy, "span": self.span}
        if self.area:
            base["area"] = self.area.id
        if self.highlight:
            base["highlight"] = self.highlight.id
        return base | changes

    def pan(self, dx: int, dy: int) -> dict[str, Any]:
        return self.args(x=self.cx + dx * max(1, self.span // 2), y=self.cy + dy * max(1, self.rows // 2))

    def zoom(self, factor: float) -> dict[str, Any]:
        return self.args(span=min(MAX_SPAN, max(MIN_SPAN, round(self.span * factor))))

    def everything(self) -> dict[str, Any]:
        """The window that shows every room at once."""
        x0, y0, x1, y1 = self.whole
        return self.args(x=(x0 + x1) // 2, y=(y0 + y1) // 2, span=_fit(self.whole, MAX_SPAN))

    def svg(self, room_url: str) -> Markup:
        """The map as SVG. `room_url` is a room's page with the id 0, e.g. `/world/rooms/0`."""
        return Markup(_svg(self, room_url))


def _fit(box: tuple[int, int, int, int], limit: int) -> int:
    """The span (columns) of a window showing `box` with a cell of margin."""
    x0, y0, x1, y1 = box
    return min(limit, max(x1 - x0 + 3, math.ceil((y1 - y0 + 3) / ASPECT), MIN_SPAN))


def _kind(key: str) -> str:
    direction = find_direction(key)
    if direction is None:
        return "other"
    if direction.on_compass:
        return "compass"
    return "updown" if direction.name in ("up", "down") else "inout"


def build_map(actor: Actor, *, area: int | None = None, highlight: int | None = None,
              x: str | None = None, y: str | None = None, span: str | None = None) -> MapView:
    """The live world (or one project's area, sandbox or live), the promoted area highlighted: by
    default the most recently promoted one, and the window centred on it."""
    world = place_world(actor, area)
    area_project = world.area
    highlight_project = (queries.get_project(actor, highlight) if highlight is not None
                         else queries.latest_promoted(actor) if area_project is None else area_project)
    ids = {r.id for r in world.rooms}
    if highlight_project is None:
        marked: set[int] = set()
    elif highlight_project.id in world.projects:  # an area of this map: its rooms are known
        marked = {i for i, a in world.area_of.items() if a == highlight_project.id}
    else:
        marked = set(queries.area_room_ids(actor.workspace_id, highlight_project.id)) & ids
    placed = world.layout
    # The whole map when it fits a readable window, else the highlighted area (its middle if it is bigger).
    whole = placed.bounds(ids)
    focus = whole if _fit(whole, MAX_SPAN) <= READABLE_SPAN or not marked else placed.bounds(marked)
    x0, y0, x1, y1 = focus
    default_span, default_x, default_y = _fit(focus, READABLE_SPAN), (x0 + x1) // 2, (y0 + y1) // 2
    view_span = inputs.whole_number(span, "span", default=default_span, minimum=MIN_SPAN, maximum=MAX_SPAN)
    cx = inputs.whole_number(x, "x", default=default_x, minimum=-COORDINATE_LIMIT, maximum=COORDINATE_LIMIT)
    cy = inputs.whole_number(y, "y", default=default_y, minimum=-COORDINATE_LIMIT, maximum=COORDINATE_LIMIT)
    rows = max(3, math.ceil(view_span * ASPECT))
    left, right = cx - view_span / 2 - 1, cx + view_span / 2 + 1
    top, bottom = cy - rows / 2 - 1, cy + rows / 2 + 1

    def in_view(x0: float, y0: float, x1: float, y1: float) -> bool:
        return x1 >= left and x0 <= right and y1 >= top and y0 <= bottom

    cells = placed.positions
    shown = [MapRoom(r.id, xml_text(r.name), xml_text(r.handle), cells[r.id][0] * CELL_W - BOX_W // 2,
                     cells[r.id][1] * CELL_H - BOX_H // 2, r.id in marked, r.sandbox_id is not None,
                     world.area_of[r.id], tuple(d for d in MARKERS if d in world.leaving[r.id]))
             for r in world.rooms if in_view(*cells[r.id], *cells[r.id])]
    lines = []
    paths = world.drawing.paths
    for _, source, destination, key in world.exits:
        if source == destination:
            continue
        (ax, ay), (bx, by) = cells[source], cells[destination]
        if in_view(min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)):
            points, kind = paths[source, destination, key]
            lines.append(MapLine(points, kind, source in marked and destination in marked, source, destination))
    frames = []
    for project_id, (x0, y0, x1, y1) in placed.blocks.items():
        if project_id is None or not in_view(x0, y0, x1, y1):
            continue
        project = world.projects[project_id]  # type: ignore[index]
        frames.append(MapArea(project.id, xml_text(project.name), round((x0 - 0.5) * CELL_W) + FRAME_INSET,
                              round((y0 - 0.5) * CELL_H) + FRAME_INSET, (x1 - x0 + 1) * CELL_W - 2 * FRAME_INSET,
                              (y1 - y0 + 1) * CELL_H - 2 * FRAME_INSET,
                              highlight_project is not None and project.id == highlight_project.id))
    return MapView(rooms=shown, lines=lines, frames=frames, total=len(world.rooms), cx=cx, cy=cy, span=view_span,
                   area=area_project, highlight=highlight_project, areas=list(queries.mapped_areas(actor)),
                   whole=whole)


# -- SVG -----------------------------------------------------------------------------------------


def _svg(view: MapView, room_url: str) -> str:
    width, height = view.pixels
    url = str(escape(room_url)).rsplit("0", 1)[0] + "{}"
    out = [(f'<svg class="map-svg" xmlns="http://www.w3.org/2000/svg" viewBox="{view.view_box}" width="{width}" '
            f'height="{height}" role="graphics-document" aria-label="Map: rooms and exits">')]
    for f in view.frames:
        label = shorten(f.name, f.width - 16, AREA_LABEL_SIZE)
        out.append(f'<g class="map-area{" is-new" if f.highlighted else ""}" data-area-id="{f.project_id}">'
                   f'<title>{escape(f.name)}</title><rect x="{f.x}" y="{f.y}" width="{f.width}" height="{f.height}" '
                   f'rx="10"/><text x="{f.x + 8}" y="{f.y + AREA_LABEL_SIZE + 1}">{escape(label)}</text></g>')
    for line in view.lines:
        cls = f'map-exit map-exit-{line.kind}{" is-new" if line.highlighted else ""}'
        ends = f'data-from="{line.source}" data-to="{line.destination}"'
        if line.straight:
            (x1, y1), (x2, y2) = line.points
            out.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" class="{cls}" {ends}/>')
        else:
            points = " ".join(f"{px},{py}" for px, py in line.points)
            out.append(f'<polyline points="{points}" class="{cls}" {ends}/>')
    for r in view.rooms:
        cls = f'map-room{" is-new" if r.highlighted else ""}{" is-sandbox" if r.in_sandbox else ""}'
        lines = r.lines
        centre = r.x + BOX_W // 2
        first = r.y + (BOX_H // 2 + 5 if len(lines) == 1 else BOX_H // 2 - 7)
        title = f"{r.name} ({r.handle})" + (f" · exits {', '.join(r.markers)}" if r.markers else "")
        parts = [(f'<a href="{url.format(r.id)}" class="{cls}" data-room-id="{r.id}"><title>{escape(title)}</title>'
                  f'<rect x="{r.x}" y="{r.y}" width="{BOX_W}" height="{BOX_H}" rx="6"/>')]
        for i, text in enumerate(lines):
            estimate = text_width(text)
            fit = f' textLength="{estimate:.0f}" lengthAdjust="spacingAndGlyphs"' if estimate > LABEL_WIDTH * 0.75 \
                else ""
            parts.append(f'<text class="map-label" x="{centre}" y="{first + i * 16}" text-anchor="middle"{fit}>'
                         f'{escape(text)}</text>')
        if r.markers:
            marks = " ".join(MARKERS[m] for m in r.markers)
            parts.append(f'<text class="map-marker" x="{r.x + BOX_W - 5}" y="{r.y + BOX_H - 3}" '
                         f'text-anchor="end">{marks}</text>')
        parts.append("</a>")
        out.append("".join(parts))
    out.append("</svg>")
    return "\n".join(out)
