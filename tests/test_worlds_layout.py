"""The map's layout: rooms placed by the directions of their exits, never two in one cell."""

from __future__ import annotations

import random

import pytest

from webapp.worlds.layout import layout


@pytest.mark.parametrize(("direction", "dx", "dy"), [
    ("north", 0, -1), ("south", 0, 1), ("east", 1, 0), ("west", -1, 0),
    ("northeast", 1, -1), ("northwest", -1, -1), ("southeast", 1, 1), ("southwest", -1, 1),
])
def test_a_room_through_a_compass_exit_is_drawn_that_way(direction, dx, dy):
    placed = layout([1, 2], [(1, 2, direction)]).positions
    assert (placed[2][0] - placed[1][0], placed[2][1] - placed[1][1]) == (dx, dy)


def test_an_exit_seen_from_its_destination_places_the_source_the_opposite_way():
    placed = layout([1, 2], [(2, 1, "north")], start=1).positions
    assert placed[2][1] == placed[1][1] + 1  # 1 is north of 2, so 2 is below 1


def test_two_rooms_wanting_one_cell_get_two_cells():
    placed = layout([1, 2, 3], [(1, 2, "north"), (1, 3, "n")]).positions
    assert len(set(placed.values())) == 3


def test_unconnected_rooms_are_placed_to_the_right_without_overlapping():
    result = layout([1, 2, 3, 4], [(1, 2, "west")])
    assert len(set(result.positions.values())) == 4
    assert result.positions[3][0] > max(result.positions[1][0], result.positions[2][0])
    assert result.positions[4][0] > result.positions[3][0]
    assert min(x for x, _ in result.positions.values()) == 0 and min(y for _, y in result.positions.values()) == 0


def test_the_layout_does_not_depend_on_the_order_of_the_exits():
    exits = [(i, i + 1, random.Random(i).choice(["north", "east", "south", "up", "ne"])) for i in range(1, 60)]
    first = layout(list(range(1, 61)), exits).positions
    shuffled = exits[:]
    random.Random(7).shuffle(shuffled)
    assert layout(list(range(60, 0, -1)), shuffled).positions == first


def test_exits_with_unknown_names_or_outside_rooms_are_ignored():
    result = layout([1, 2], [(1, 2, "portal"), (1, 99, "north"), (1, 1, "east")])
    assert set(result.positions) == {1, 2}


def test_two_thousand_rooms_in_a_grid_get_two_thousand_cells_and_bounds_cover_a_subset():
    ids = list(range(1, 2001))
    exits = []
    for i in ids:
        if i % 45 and i + 1 in ids:
            exits += [(i, i + 1, "east"), (i + 1, i, "west")]
        if i + 45 in ids:
            exits += [(i, i + 45, "south"), (i + 45, i, "north")]
    result = layout(ids, exits)
    assert len(set(result.positions.values())) == 2000 and (result.width, result.height) == (45, 45)
    assert result.bounds([1, 47]) == (0, 0, 1, 1)
