"""The map's layout: rooms placed by the directions of their exits, never two in one cell."""

from __future__ import annotations

import random

import pytest

from webapp.worlds.layout import Layout, layout


def _unique(result: Layout) -> bool:
    return len(set(result.positions.values())) == len(result.positions)


@pytest.mark.parametrize(("direction", "dx", "dy"), [
    ("north", 0, -1), ("south", 0, 1), ("east", 1, 0), ("west", -1, 0),
    ("northeast", 1, -1), ("northwest", -1, -1), ("southeast", 1, 1), ("southwest", -1, 1),
])
def test_a_room_through_a_compass_exit_is_drawn_that_way(direction, dx, dy):
    placed = layout([1, 2], [(1, 2, direction)]).positions
    assert (placed[2][0] - placed[1][0], placed[2][1] - placed[1][1]) == (dx, dy)


@pytest.mark.parametrize("key", ["N", " north ", "n"])
def test_short_and_oddly_cased_exit_names_count_as_their_direction(key):
    placed = layout([1, 2], [(1, 2, key)]).positions
    assert placed[2][1] == placed[1][1] - 1 and placed[2][0] == placed[1][0]


def test_up_down_in_and_out_use_their_off_compass_vectors():
    placed = layout([1, 2, 3, 4, 5], [(1, 2, "up"), (1, 3, "down"), (1, 4, "in"), (1, 5, "out")]).positions
    x, y = placed[1]
    assert [placed[i] for i in (2, 3, 4, 5)] == [(x + 1, y - 2), (x - 1, y + 2), (x + 2, y + 1), (x - 2, y - 1)]


def test_an_exit_seen_from_its_destination_places_the_source_the_opposite_way():
    placed = layout([1, 2], [(2, 1, "north")], start=1).positions
    assert placed[2] == (placed[1][0], placed[1][1] + 1)  # 1 is north of 2, so 2 is drawn below 1


def test_two_rooms_wanting_one_cell_get_two_distinct_cells_next_to_it():
    placed = layout([1, 2, 3], [(1, 2, "north"), (1, 3, "n")]).positions
    assert len(set(placed.values())) == 3
    wanted = (placed[1][0], placed[1][1] - 1)
    assert placed[2] == wanted  # the lower id (same direction) wins the cell
    assert max(abs(placed[3][0] - wanted[0]), abs(placed[3][1] - wanted[1])) == 1


def test_a_hub_with_hundreds_of_exits_one_way_stays_compact():
    result = layout(range(1, 402), [(1, i, "north") for i in range(2, 402)])
    assert _unique(result)
    assert result.width <= 25 and result.height <= 25  # a square blob around the wanted cell, not a long line


def test_unconnected_rooms_are_all_placed_to_the_right_without_overlapping():
    result = layout([1, 2, 3, 4], [(1, 2, "west")])
    assert set(result.positions) == {1, 2, 3, 4} and _unique(result)
    assert result.positions[3][0] > max(result.positions[1][0], result.positions[2][0]) + 1  # one empty column
    assert result.positions[4][0] > result.positions[3][0] + 1
    assert min(x for x, _ in result.positions.values()) == 0 and min(y for _, y in result.positions.values()) == 0


def test_a_later_group_growing_westwards_still_sits_wholly_right_of_the_first():
    result = layout([1, 2, 3, 4, 5], [(1, 2, "east"), (3, 4, "west"), (4, 5, "west")])
    first, later = [result.positions[i] for i in (1, 2)], [result.positions[i] for i in (3, 4, 5)]
    assert min(x for x, _ in later) == max(x for x, _ in first) + 2
    assert (result.width, result.height) == (max(x for x, _ in later) + 1, 1)


def test_the_start_rooms_group_is_laid_out_first_at_the_left():
    result = layout([1, 2, 3, 4], [(1, 2, "east"), (3, 4, "east")], start=4)
    assert result.positions[3] == (0, 0) and result.positions[4] == (1, 0)
    assert result.positions[1][0] > 1


def test_a_start_that_is_not_a_room_falls_back_to_the_smallest_id():
    assert layout([1, 2], [(1, 2, "east")], start=99).positions == {1: (0, 0), 2: (1, 0)}


def test_the_layout_depends_neither_on_the_order_of_the_exits_nor_of_the_rooms():
    rng = random.Random(3)
    names = ["north", "east", "south", "west", "up", "ne", "sw", "in", "out"]
    exits = [(rng.randint(1, 120), rng.randint(1, 120), rng.choice(names)) for _ in range(240)]
    first = layout(list(range(1, 121)), exits).positions
    shuffled = exits[:]
    random.Random(7).shuffle(shuffled)
    again = layout(list(range(120, 0, -1)), shuffled)
    assert again.positions == first and _unique(again) and len(first) == 120


def test_exits_with_unknown_names_or_outside_rooms_are_ignored():
    result = layout([1, 2], [(1, 2, "portal"), (1, 99, "north"), (99, 2, "south"), (1, 1, "east")])
    assert set(result.positions) == {1, 2}
    assert result.positions[2][0] == result.positions[1][0] + 2  # no exit joined them: two groups, one gap


def test_no_rooms_is_an_empty_layout():
    result = layout([], [(1, 2, "north")])
    assert (result.positions, result.width, result.height) == ({}, 0, 0)
    assert result.bounds([1]) == (0, 0, 0, 0)


def test_two_thousand_rooms_with_four_thousand_exits_in_a_grid_keep_their_grid():
    columns, rows = 40, 50
    ids = list(range(1, columns * rows + 1))
    cell = {i: ((i - 1) % columns, (i - 1) // columns) for i in ids}
    exits = [(i, i + 1, "east") for i in ids if i % columns] + [(i, i + columns, "south") for i in ids[:-columns]]
    exits += [(i + 1, i, "west") for i in ids if i % columns][: 4000 - len(exits)]  # some two-way
    assert len(exits) == 4000
    random.Random(1).shuffle(exits)
    result = layout(ids, exits)
    assert _unique(result) and result.positions == cell and (result.width, result.height) == (columns, rows)


def test_bounds_frame_a_subset_and_skip_unknown_ids():
    ids = list(range(1, 10))  # a 3×3 square
    exits = [(i, i + 1, "east") for i in ids if i % 3] + [(i, i + 3, "south") for i in ids[:6]]
    result = layout(ids, exits)
    assert result.bounds([5, 9, 404]) == (1, 1, 2, 2)
    assert result.bounds([2]) == (1, 0, 1, 0)
    assert result.bounds([404]) == result.bounds([]) == (0, 0, 2, 2)  # nothing known: the whole layout


def test_compass_exits_win_over_a_ladder_when_both_reach_a_room():
    # 1 → 2 → 3 eastwards, and a ladder "up" from 1 straight to 3: 3 stays east of 2, on the row.
    placed = layout([1, 2, 3], [(1, 3, "up"), (1, 2, "east"), (2, 3, "east")]).positions
    assert placed[3] == (placed[1][0] + 2, placed[1][1])
