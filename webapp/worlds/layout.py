"""Rooms on a grid, placed by the directions of their exits, and the paths of the exits' lines: the
map's layout (the Mudlet export uses the same cells).

Breadth-first from a start room: a neighbour through "north" goes one cell up, and so on; a cell
already taken sends the room to the nearest free cell around the one it wanted. Rooms no exit
reaches form further groups, each laid out on its own and set to the right of everything placed,
one empty column between. Given areas (a build project's rooms), each area is laid out that way
as a block of its own, and the blocks are set apart: an area lies the way its connection points
from the room it hangs off — where that exit leads if the block fits there, else at the nearest
place further that way or beside it that still lies that way from the room — with an empty row or
column between it and every other block, so two areas never overlap. Same input, same picture,
whatever order the exits come in.

A room's box sits inside its cell with a margin on every side, so a line along a cell border (a
"gutter") never touches a box. An exit's line is straight when the cells it crosses hold no other
room, and otherwise runs from its room's centre to a corner of its cell, along the gutters, and in
through a corner of the other room's cell (`route`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

from webapp.worlds.directions import DIRECTIONS, find_direction

Cell = tuple[int, int]
Point = tuple[float, float]  # in cell units: (x, y) is a cell's centre, (x + 0.5, y + 0.5) its corner
Block = tuple[int, int, int, int]  # x0, y0, x1, y1, inclusive

_ORDER = {name: i for i, name in enumerate(DIRECTIONS)}  # neighbours are visited north, south, east, west, …
_OFF_COMPASS = {_ORDER[name] for name in ("up", "down", "in", "out")}
MAX_RING = 32  # how far a room may be pushed from the cell it wanted before it gets a column of its own
SIDEWAYS_RINGS = 48  # how far an area is looked for a place near the one it wanted, before it moves straight on


@dataclass(frozen=True)
class Layout:
    positions: dict[int, Cell]  # room id → (x, y), y growing southwards; min x = min y = 0; no two rooms share a cell
    width: int  # columns used (max x + 1); 0 for no rooms
    height: int  # rows used (max y + 1)
    blocks: dict[Hashable, Block] = field(default_factory=dict)  # area → the cells its rooms lie in (areas given)

    def bounds(self, ids: Iterable[int]) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1), inclusive, of the cells of these rooms, so a view can frame them.

        Ids not laid out are skipped; if none is left, the whole layout (or (0, 0, 0, 0) when empty).
        """
        cells = [self.positions[i] for i in ids if i in self.positions] or list(self.positions.values()) or [(0, 0)]
        xs, ys = [c[0] for c in cells], [c[1] for c in cells]
        return min(xs), min(ys), max(xs), max(ys)


@cache
def _ring(radius: int) -> tuple[Cell, ...]:
    """Offsets on the square ring at this distance, nearest first, then top to bottom, left to right."""
    cells = [(dx, dy) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)
             if max(abs(dx), abs(dy)) == radius]
    return tuple(sorted(cells, key=lambda c: (c[0] * c[0] + c[1] * c[1], c[1], c[0])))


class _Grid:
    """Cells taken by one group of rooms, and where to resume looking around each crowded cell.

    Cells are only ever taken, never freed, so the first free cell around a wanted one can only move
    further along the search order; remembering where it was found keeps a crowd of rooms all wanting
    one cell (a hub with many exits one way) linear instead of quadratic.
    """

    def __init__(self) -> None:
        self.taken: set[Cell] = set()
        self.resume: dict[Cell, tuple[int, int]] = {}  # wanted cell → (ring, index in ring) to search from
        self.right = 0  # rightmost column used

    def take(self, wanted: Cell) -> Cell:
        cell = self._free_near(wanted)
        self.taken.add(cell)
        self.right = max(self.right, cell[0])
        return cell

    def _free_near(self, wanted: Cell) -> Cell:
        if wanted not in self.taken:
            return wanted
        x, y = wanted
        taken = self.taken
        ring, start = self.resume.get(wanted, (1, 0))
        while ring <= MAX_RING:
            offsets = _ring(ring)
            for index in range(start, len(offsets)):
                dx, dy = offsets[index]
                if (x + dx, y + dy) not in taken:
                    self.resume[wanted] = (ring, index)
                    return x + dx, y + dy
            ring, start = ring + 1, 0
        self.resume[wanted] = (ring, 0)
        return self.right + 2, y  # hopelessly crowded (thousands of rooms round one cell): a column of its own


def _neighbours(ids: set[int], exits: Iterable[tuple[int, int, str]]) -> dict[int, list[tuple[int, int, int, int]]]:
    """Each room's neighbours through exits either way, as (direction order, room, dx, dy), sorted."""
    links: dict[int, list[tuple[int, int, int, int]]] = {i: [] for i in ids}
    for source, destination, key in exits:
        direction = find_direction(key) if isinstance(key, str) else None
        if direction is None or source == destination or source not in ids or destination not in ids:
            continue
        order = _ORDER[direction.name]
        links[source].append((order, destination, direction.dx, direction.dy))
        links[destination].append((order, source, -direction.dx, -direction.dy))
    for found in links.values():
        found.sort()
    return links


def _group(root: int, links: dict[int, list[tuple[int, int, int, int]]]) -> dict[int, Cell]:
    """Breadth-first from root: every room its exits reach, each at (or near) the cell its exit points to.

    Compass exits are followed before up/down/in/out ones: those rarely agree with the grid (a ladder
    up is not a step north-east), so a room reachable both ways sits where the compass puts it."""
    grid = _Grid()
    placed = {root: grid.take((0, 0))}
    queue = deque([root])
    deferred: deque[tuple[int, int, int, int]] = deque()  # (from room, to room, dx, dy) off the compass
    while queue or deferred:
        if queue:
            room = queue.popleft()
            x, y = placed[room]
            for order, other, dx, dy in links[room]:
                if other in placed:
                    continue
                if order in _OFF_COMPASS:
                    deferred.append((room, other, dx, dy))
                    continue
                placed[other] = grid.take((x + dx, y + dy))
                queue.append(other)
            continue
        room, other, dx, dy = deferred.popleft()
        if other not in placed:
            x, y = placed[room]
            placed[other] = grid.take((x + dx, y + dy))
            queue.append(other)
    return placed


def _place_group(ids: Sequence[int], links: dict[int, list[tuple[int, int, int, int]]],
                 start: int | None) -> dict[int, Cell]:
    """Every room of `ids` on its own cell, the groups side by side (the start room's first); min x = min y = 0."""
    roots = ([start] if start in links else []) + sorted(ids)
    positions: dict[int, Cell] = {}
    next_column = 0
    for root in roots:
        if root in positions:
            continue
        group = _group(root, links)
        left = min(x for x, _ in group.values())
        top = min(y for _, y in group.values())
        shift_x = next_column - left
        for room, (x, y) in group.items():
            positions[room] = (x + shift_x, y - top)
        next_column = max(x for x, _ in group.values()) + shift_x + 2  # one empty column before the next group
    return positions


def _bounds(cells: Iterable[Cell]) -> Block:
    xs, ys = zip(*cells, strict=True)
    return min(xs), min(ys), max(xs), max(ys)


def _apart(a: Block, b: Block) -> bool:
    """At least one empty row or column between the two blocks."""
    return a[2] + 1 < b[0] or b[2] + 1 < a[0] or a[3] + 1 < b[1] or b[3] + 1 < a[1]


def _sign(n: int) -> int:
    return (n > 0) - (n < 0)


def layout(room_ids: Sequence[int], exits: Iterable[tuple[int, int, str]], start: int | None = None,
           areas: Mapping[int, Hashable] | None = None) -> Layout:
    """Place every room on its own grid cell, neighbours where their exits' directions point.

    `exits` are (source, destination, key); keys that are not directions and exits to rooms outside
    `room_ids` are ignored. The group of `start` (default, or if it is not a room: the smallest id)
    comes first, at the left; the rest follow in order of their smallest id.

    `areas` (room id → area) lays each area out as a block of its own (rooms not in it form one more
    block, the area None); `Layout.blocks` then says where each lies, and no two blocks touch.
    """
    ids = sorted(set(room_ids))
    exits = list(exits)
    if not ids:
        return Layout(positions={}, width=0, height=0)
    start = start if start in set(ids) else ids[0]
    if areas is None:
        positions = _place_group(ids, _neighbours(set(ids), exits), start)
        return _finish(positions, {})
    area_of = {i: areas.get(i) for i in ids}
    members: dict[Hashable, list[int]] = {}
    for i in ids:
        members.setdefault(area_of[i], []).append(i)
    local: dict[Hashable, dict[int, Cell]] = {}
    for area, rooms in members.items():
        inside = set(rooms)
        local[area] = _place_group(rooms, _neighbours(inside, [e for e in exits if e[0] in inside and e[1] in inside]),
                                   start if start in inside else None)
    # Exits between areas, in a stable order: they say which way one area lies from another.
    between = sorted((_ORDER[d.name], s, t, d.dx, d.dy) for s, t, key in exits
                     if isinstance(key, str) and (d := find_direction(key)) is not None
                     and s in area_of and t in area_of and area_of[s] != area_of[t])
    order = sorted(members, key=lambda a: (a != area_of[start], members[a][0]))
    offsets: dict[Hashable, Cell] = {}
    placed: list[Block] = []
    bounds = {area: _bounds(cells.values()) for area, cells in local.items()}

    def free(area: Hashable, dx: int, dy: int) -> bool:
        x0, y0, x1, y1 = bounds[area]
        return all(_apart((x0 + dx, y0 + dy, x1 + dx, y1 + dy), other) for other in placed)

    def put(area: Hashable, dx: int, dy: int, step: Cell, keep: tuple[Cell, Cell] | None = None) -> None:
        """Place `area` shifted by (dx, dy) or, if that touches a placed block, by the nearest shift that does
        not: `step` further and up to as far sideways, `keep` = (room cell, anchor cell) staying the way `step`
        points from the anchor; past SIDEWAYS_RINGS, straight on `step` until it is free."""
        found = None
        if keep is not None:
            (rx, ry), (ax, ay) = keep
            side = (-step[1], step[0])
            for ring in range(SIDEWAYS_RINGS):
                for j in sorted(range(-ring, ring + 1), key=lambda j: (abs(j), -j)):
                    k = ring - abs(j)
                    ox, oy = dx + k * step[0] + j * side[0], dy + k * step[1] + j * side[1]
                    if (not step[0] or _sign(rx + ox - ax) == step[0]) and (not step[1] or _sign(ry + oy - ay) == step[1]) \
                            and free(area, ox, oy):
                        found = ox, oy
                        break
                if found:
                    break
        while found is None:
            if free(area, dx, dy):
                found = dx, dy
            dx, dy = dx + step[0], dy + step[1]
        offsets[area] = found
        x0, y0, x1, y1 = bounds[area]
        placed.append((x0 + found[0], y0 + found[1], x1 + found[0], y1 + found[1]))

    for first in order:
        if first in offsets:
            continue
        # An area no exit reaches from what is placed: to the right of everything, level with the top.
        right = max((b[2] for b in placed), default=-2) + 2
        put(first, right - min(x for x, _ in local[first].values()), 0, (1, 0))
        queue = deque([first])
        while queue:
            here = queue.popleft()
            for _, source, target, dx, dy in between:
                there = area_of[target] if area_of[source] == here else area_of[source]
                if here not in (area_of[source], area_of[target]) or there in offsets:
                    continue
                if area_of[target] == here:  # seen from its destination: the other way
                    source, target, dx, dy = target, source, -dx, -dy
                sx, sy = local[here][source]
                ox, oy = offsets[here]
                tx, ty = local[there][target]
                put(there, sx + ox + dx - tx, sy + oy + dy - ty, (_sign(dx), _sign(dy)),
                    keep=(local[there][target], (sx + ox, sy + oy)))
                queue.append(there)
    positions = {room: (x + offsets[area_of[room]][0], y + offsets[area_of[room]][1])
                 for area, cells in local.items() for room, (x, y) in cells.items()}
    blocks = {area: _bounds(positions[r] for r in members[area]) for area in members}
    return _finish(positions, blocks)


def _finish(positions: dict[int, Cell], blocks: dict[Hashable, Block]) -> Layout:
    """Shift everything so that min x = min y = 0."""
    left = min(x for x, _ in positions.values())
    top = min(y for _, y in positions.values())
    positions = {room: (x - left, y - top) for room, (x, y) in positions.items()}
    blocks = {area: (x0 - left, y0 - top, x1 - left, y1 - top) for area, (x0, y0, x1, y1) in blocks.items()}
    return Layout(positions=positions, width=max(x for x, _ in positions.values()) + 1,
                  height=max(y for _, y in positions.values()) + 1, blocks=blocks)


# -- the exits' lines ------------------------------------------------------------------------------


def crossed_cells(a: Cell, b: Cell) -> set[Cell]:
    """Every cell the straight line between the centres of `a` and `b` touches, borders included."""
    (ax, ay), (bx, by) = a, b
    if ax == bx:
        return {(ax, y) for y in range(min(ay, by), max(ay, by) + 1)}
    cells: set[Cell] = set()
    slope = (by - ay) / (bx - ax)
    for column in range(min(ax, bx), max(ax, bx) + 1):
        # where the line is within this column's strip [column - ½, column + ½]
        left, right = max(column - 0.5, min(ax, bx)), min(column + 0.5, max(ax, bx))
        y_left, y_right = ay + (left - ax) * slope, ay + (right - ax) * slope
        low, high = min(y_left, y_right), max(y_left, y_right)
        # a cell's rows span [row - ½, row + ½]: every row that range meets, its borders included
        for row in range(math.ceil(low - 0.5), math.floor(high + 0.5) + 1):
            cells.add((column, row))
    return cells


def route(a: Cell, b: Cell, taken: Collection[Cell]) -> tuple[Point, ...]:
    """The points of the line of an exit between the rooms in cells `a` and `b`, in cell units.

    Straight when the cells it crosses hold no other room (neighbouring cells always do: a box is
    smaller than its cell by more than the corner a diagonal cuts). Otherwise out of `a`'s cell
    through its corner towards `b`, along a gutter row, then a gutter column, and into `b` through
    its corner: gutters hold no boxes, so the line crosses no room it does not join.
    """
    (ax, ay), (bx, by) = a, b
    if max(abs(bx - ax), abs(by - ay)) <= 1 or not any(
            c in taken for c in crossed_cells(a, b) if c != a and c != b):
        return (float(ax), float(ay)), (float(bx), float(by))
    sx, sy = _sign(bx - ax) or 1, _sign(by - ay) or 1
    out_of_a = (ax + sx / 2, ay + sy / 2)
    into_b = (bx - sx / 2 if bx != ax else bx + sx / 2, by - sy / 2 if by != ay else by + sy / 2)
    points = [(float(ax), float(ay)), out_of_a, (into_b[0], out_of_a[1]), into_b, (float(bx), float(by))]
    return tuple(p for i, p in enumerate(points) if i == 0 or p != points[i - 1])
