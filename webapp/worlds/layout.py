"""Rooms on a grid, placed by the directions of their exits: the map's layout.

Breadth-first from a start room: a neighbour through "north" goes one cell up, and so on; a cell
already taken sends the room to the nearest free cell around the one it wanted. Rooms no exit
reaches form further groups, each laid out on its own and set to the right of everything placed,
one empty column between. Same input, same picture, whatever order the exits come in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from webapp.worlds.directions import DIRECTIONS, find_direction

Cell = tuple[int, int]

_ORDER = {name: i for i, name in enumerate(DIRECTIONS)}  # neighbours are visited north, south, east, west, …
_OFF_COMPASS = {_ORDER[name] for name in ("up", "down", "in", "out")}
MAX_RING = 32  # how far a room may be pushed from the cell it wanted before it gets a column of its own


@dataclass(frozen=True)
class Layout:
    positions: dict[int, Cell]  # room id → (x, y), y growing southwards; min x = min y = 0; no two rooms share a cell
    width: int  # columns used (max x + 1); 0 for no rooms
    height: int  # rows used (max y + 1)

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


def layout(room_ids: Sequence[int], exits: Iterable[tuple[int, int, str]], start: int | None = None) -> Layout:
    """Place every room on its own grid cell, neighbours where their exits' directions point.

    `exits` are (source, destination, key); keys that are not directions and exits to rooms outside
    `room_ids` are ignored. The group of `start` (default, or if it is not a room: the smallest id)
    comes first, at the left; the rest follow in order of their smallest id.
    """
    ids = set(room_ids)
    links = _neighbours(ids, exits)
    roots = ([start] if start in ids else []) + sorted(ids)
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
    if not positions:
        return Layout(positions={}, width=0, height=0)
    return Layout(positions=positions, width=next_column - 1, height=max(y for _, y in positions.values()) + 1)
