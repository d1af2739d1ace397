"""The map: rooms laid out by the directions of their exits (`layout`), seen through a window.

The server lays out the whole world or one area, then sends only what the window shows, so a world
of 2,000 rooms is a page of a few hundred boxes; pan and zoom are links that move the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from webapp import inputs
from webapp.accounts.services import Actor
from webapp.extensions import db
from webapp.worlds import queries
from webapp.worlds.directions import find_direction
from webapp.worlds.layout import layout
from webapp.worlds.models import BuildProject, Exit, Room

CELL_W, CELL_H = 160, 90  # a grid cell in SVG units
BOX_W, BOX_H = 124, 44  # a room's box inside its cell
NAME_CHARS = 17
MIN_SPAN, MAX_SPAN, DEFAULT_SPAN = 4, 400, 24
ASPECT = 1.0  # rows shown per column shown (cells are wider than tall, so the window is landscape)
COORDINATE_LIMIT = 1_000_000


@dataclass(frozen=True)
class MapRoom:
    id: int
    name: str
    handle: str
    x: int  # SVG units, top-left of the box
    y: int
    highlighted: bool
    in_sandbox: bool

    @property
    def label(self) -> str:
        return self.name if len(self.name) <= NAME_CHARS else self.name[:NAME_CHARS - 1] + "…"


@dataclass(frozen=True)
class MapLine:
    x1: int
    y1: int
    x2: int
    y2: int
    kind: str  # "compass", "vertical" (up/down/in/out, drawn dashed) or "other"
    highlighted: bool


@dataclass(frozen=True)
class MapView:
    rooms: list[MapRoom]
    lines: list[MapLine]
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
    def view_box(self) -> str:
        x0 = (self.cx - self.span / 2) * CELL_W
        y0 = (self.cy - self.rows / 2) * CELL_H
        return f"{x0:.0f} {y0:.0f} {self.span * CELL_W} {self.rows * CELL_H}"

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


def _fit(box: tuple[int, int, int, int], limit: int) -> int:
    """The span (columns) of a window showing `box` with a cell of margin."""
    x0, y0, x1, y1 = box
    return min(limit, max(x1 - x0 + 3, math.ceil((y1 - y0 + 3) / ASPECT), MIN_SPAN))


def build_map(actor: Actor, *, area: int | None = None, highlight: int | None = None,
              x: str | None = None, y: str | None = None, span: str | None = None) -> MapView:
    """The live world (or one project's area, sandbox or live), the promoted area highlighted: by
    default the most recently promoted one, and the window centred on it."""
    area_project = queries.get_project(actor, area) if area is not None else None
    if area_project is not None:
        ids = set(queries.area_room_ids(actor.workspace_id, area_project.id))
        rooms = [r for r in _rooms(actor) if r.id in ids]
    else:
        rooms = [r for r in _rooms(actor) if r.sandbox_id is None]
    highlight_project = (queries.get_project(actor, highlight) if highlight is not None
                         else queries.latest_promoted(actor) if area_project is None else area_project)
    marked = set(queries.area_room_ids(actor.workspace_id, highlight_project.id)) if highlight_project else set()
    ids = {r.id for r in rooms}
    exits = [(s, d, k) for s, d, k in db.session.execute(
        select(Exit.source_id, Exit.destination_id, Exit.key).where(Exit.workspace_id == actor.workspace_id))
        if s in ids and d in ids]
    placed = layout(sorted(ids), exits, start=min(ids) if ids else None)
    # The whole map when it is small, else the highlighted area with a margin around it.
    whole = placed.bounds(ids)
    focus = whole if whole[2] - whole[0] < DEFAULT_SPAN or not marked & ids else placed.bounds(marked & ids)
    if ids:
        x0, y0, x1, y1 = focus
        default_span, default_x, default_y = _fit(focus, DEFAULT_SPAN * 2), (x0 + x1) // 2, (y0 + y1) // 2
    else:
        default_span, default_x, default_y = DEFAULT_SPAN, 0, 0
    view_span = inputs.whole_number(span, "span", default=default_span, minimum=MIN_SPAN, maximum=MAX_SPAN)
    cx = inputs.whole_number(x, "x", default=default_x, minimum=-COORDINATE_LIMIT, maximum=COORDINATE_LIMIT)
    cy = inputs.whole_number(y, "y", default=default_y, minimum=-COORDINATE_LIMIT, maximum=COORDINATE_LIMIT)
    rows = max(3, math.ceil(view_span * ASPECT))

    def visible(cell: tuple[int, int]) -> bool:
        return abs(cell[0] - cx) <= view_span / 2 + 1 and abs(cell[1] - cy) <= rows / 2 + 1

    shown = [MapRoom(r.id, r.name, r.handle, placed.positions[r.id][0] * CELL_W - BOX_W // 2,
                     placed.positions[r.id][1] * CELL_H - BOX_H // 2, r.id in marked, r.sandbox_id is not None)
             for r in rooms if visible(placed.positions[r.id])]
    lines = []
    for source, destination, key in exits:
        a, b = placed.positions[source], placed.positions[destination]
        if visible(a) or visible(b):
            direction = find_direction(key)
            kind = "other" if direction is None else "vertical" if direction.short in ("u", "d", "i", "o") \
                else "compass"
            lines.append(MapLine(a[0] * CELL_W, a[1] * CELL_H, b[0] * CELL_W, b[1] * CELL_H, kind,
                                 source in marked and destination in marked))
    return MapView(rooms=shown, lines=lines, total=len(rooms), cx=cx, cy=cy, span=view_span, area=area_project,
                   highlight=highlight_project, areas=queries.mapped_areas(actor), whole=whole)


def _rooms(actor: Actor) -> list[Any]:
    """What a box needs of every room of the workspace (not descriptions or attributes)."""
    return list(db.session.execute(select(Room.id, Room.name, Room.handle, Room.sandbox_id)
                                   .where(Room.workspace_id == actor.workspace_id).order_by(Room.id)))
