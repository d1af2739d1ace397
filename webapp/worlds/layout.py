"""Rooms on a grid, placed by the directions of their exits: the map's layout.

Breadth-first from a start room: a neighbour through "north" goes one cell up, and so on; a cell
already taken sends the room to the nearest free cell around the one it wanted. Rooms no exit
reaches start new groups to the right of everything placed. Same input, same picture.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from webapp.worlds.directions import DIRECTIONS, find_direction

_ORDER = {name: i for i, name in enumerate(DIRECTIONS)}
MAX_RING = 64  # how far a room may be pushed from the cell it wanted before it goes to a fresh column


@dataclass(frozen=True)
class Layout:
    positions: dict[int, tuple[int, int]]  # room id → (x, y), y growing southwards; min x = min y = 0
    width: int
    height: int

    def bounds(self, ids: Iterable[int]) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1), inclusive, of the cells of these rooms (the whole layout for none)."""
        cells = [self.positions[i] for i in ids if i in self.positions] or list(self.positions.values()) or [(0, 0)]
        xs, ys = [c[0] for c in cells], [c[1] for c in cells]
        return min(xs), min(ys), max(xs), max(ys)


def _free_near(cell: tuple[int, int], taken: set[tuple[int, int]]) -> tuple[int, int] | None:
    if cell not in taken:
        return cell
    x, y = cell
    for ring in range(1, MAX_RING + 1):
        # the ring's cells in a fixed order, nearest (by Manhattan distance) first
        ring_cells = [(x + dx, y + dy) for dy in range(-ring, ring + 1) for dx in range(-ring, ring + 1)
                      if max(abs(dx), abs(dy)) == ring]
        ring_cells.sort(key=lambda c: (abs(c[0] - x) + abs(c[1] - y), c[1], c[0]))
        for candidate in ring_cells:
            if candidate not in taken:
                return candidate
    return None


def layout(room_ids: Sequence[int], exits: Iterable[tuple[int, int, str]], start: int | None = None) -> Layout:
    ids = set(room_ids)
    neighbours: dict[int, list[tuple[int, int, int, int]]] = {i: [] for i in ids}  # (order, other, dx, dy)
    for source, destination, key in exits:
        direction = find_direction(key)
        if direction is None or source not in ids or destination not in ids or source == destination:
            continue
        order = _ORDER[direction.name]
        neighbours[source].append((order, destination, direction.dx, direction.dy))
        neighbours[destination].append((order, source, -direction.dx, -direction.dy))
    for links in neighbours.values():
        links.sort()

    positions: dict[int, tuple[int, int]] = {}
    taken: set[tuple[int, int]] = set()
    right_edge = -2  # the rightmost column used so far; a new group starts two columns further

    def place(room: int, wanted: tuple[int, int]) -> None:
        nonlocal right_edge
        cell = _free_near(wanted, taken)
        if cell is None:  # hopelessly crowded: a column of its own
            cell = (right_edge + 2, wanted[1])
        positions[room] = cell
        taken.add(cell)
        right_edge = max(right_edge, cell[0])

    roots = ([start] if start in ids else []) + sorted(ids)
    for root in roots:
        if root in positions:
            continue
        place(root, (right_edge + 2, 0))
        queue = deque([root])
        while queue:
            room = queue.popleft()
            x, y = positions[room]
            for _, other, dx, dy in neighbours[room]:
                if other not in positions:
                    place(other, (x + dx, y + dy))
                    queue.append(other)

    if not positions:
        return Layout(positions={}, width=0, height=0)
    min_x = min(c[0] for c in positions.values())
    min_y = min(c[1] for c in positions.values())
    normal = {room: (x - min_x, y - min_y) for room, (x, y) in positions.items()}
    return Layout(positions=normal, width=max(c[0] for c in normal.values()) + 1,
                  height=max(c[1] for c in normal.values()) + 1)
