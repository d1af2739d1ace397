"""The map's layout: rooms placed by the directions of their exits, never two in one cell; each area a block
of its own; exit lines that cross no room they do not join."""

from __future__ import annotations

import itertools
import random

import pytest

from tests.worlds.geometry import segment_hits_box
from webapp.worlds.directions import DIRECTIONS
from webapp.worlds.layout import Layout, crossed_cells, layout, route


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


# -- areas as blocks ---------------------------------------------------------------------------------


def _area_world(seed: int, areas: int = 6, per_area: int = 25) -> tuple[list[int], list[tuple[int, int, str]],
                                                                          dict[int, int]]:
    """A base world of 30 rooms and `areas` areas, each a random tangle of its own, hung off random rooms
    (of the base or of an earlier area) in random directions, several off one room."""
    rng = random.Random(seed)
    names = list(DIRECTIONS)
    ids = list(range(1, 31))
    exits = [(rng.randint(1, 30), rng.randint(1, 30), rng.choice(names)) for _ in range(50)]
    area_of: dict[int, int] = {}
    for area in range(1, areas + 1):
        first = len(ids) + 1
        rooms = list(range(first, first + per_area))
        ids += rooms
        area_of.update(dict.fromkeys(rooms, area))
        exits += [(rng.choice(rooms), rng.choice(rooms), rng.choice(names)) for _ in range(per_area * 2)]
        anchor = rng.choice(ids[: first - 1] if rng.random() < 0.7 else ids[:30])
        exits.append((anchor, first, rng.choice(names)))
    return ids, exits, area_of


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return not (a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1])


@pytest.mark.parametrize("seed", range(8))
def test_each_area_is_a_block_of_its_own_and_no_two_blocks_overlap_or_touch(seed):
    ids, exits, area_of = _area_world(seed)
    result = layout(ids, exits, areas=area_of)
    assert _unique(result) and set(result.positions) == set(ids)
    assert set(result.blocks) == {None, *area_of.values()}
    for room, (x, y) in result.positions.items():
        for area, (x0, y0, x1, y1) in result.blocks.items():
            inside = x0 <= x <= x1 and y0 <= y <= y1
            assert inside == (area_of.get(room) == area), (room, area)  # in its own block, in no other
    blocks = list(result.blocks.values())
    for i, a in enumerate(blocks):
        for b in blocks[i + 1:]:
            grown = (a[0] - 1, a[1] - 1, a[2] + 1, a[3] + 1)  # an empty row or column between any two
            assert not _overlap(grown, b), (a, b)
    assert min(x for x, _ in result.positions.values()) == 0 and min(y for _, y in result.positions.values()) == 0


@pytest.mark.parametrize("direction", list(DIRECTIONS))
def test_an_area_lies_the_way_its_connection_points_from_the_room_it_hangs_off(direction):
    # a 3 × 3 base, and a 2 × 2 area hung off the centre room: it cannot take the next cell, so it moves on
    base = list(range(1, 10))
    exits = [(i, i + 1, "east") for i in base if i % 3] + [(i, i + 3, "south") for i in base[:6]]
    area = [10, 11, 12, 13]
    exits += [(10, 11, "east"), (10, 12, "south"), (11, 13, "south"), (5, 10, direction)]
    result = layout(base + area, exits, areas=dict.fromkeys(area, "mill"))
    (cx, cy), (ex, ey) = result.positions[5], result.positions[10]
    d = DIRECTIONS[direction]
    assert ((ex > cx) - (ex < cx), (ey > cy) - (ey < cy)) == ((d.dx > 0) - (d.dx < 0), (d.dy > 0) - (d.dy < 0))
    assert [result.positions[i] for i in area] == [(ex, ey), (ex + 1, ey), (ex, ey + 1), (ex + 1, ey + 1)]
    assert not _overlap(result.blocks[None], result.blocks["mill"])


def test_an_area_no_exit_reaches_goes_to_the_right_of_everything():
    result = layout([1, 2, 3, 4], [(1, 2, "east"), (3, 4, "north")], areas={3: "a", 4: "a"})
    assert result.blocks[None] == (0, 0, 1, 0)
    assert result.blocks["a"][0] == 3  # one empty column after the base
    assert result.positions[4] == (result.positions[3][0], result.positions[3][1] - 1)


def test_without_areas_there_is_one_layout_and_no_blocks():
    ids, exits, _ = _area_world(1)
    plain = layout(ids, exits)
    assert plain.blocks == {}
    assert layout(ids, exits, areas={}).positions == plain.positions  # everyone in the one unnamed block


def test_blocks_do_not_depend_on_the_order_of_the_exits():
    ids, exits, area_of = _area_world(5)
    shuffled = exits[:]
    random.Random(2).shuffle(shuffled)
    assert layout(ids, exits, areas=area_of) == layout(list(reversed(ids)), shuffled, areas=area_of)


# -- the exits' lines --------------------------------------------------------------------------------


def test_crossed_cells_follow_the_line_borders_included():
    assert crossed_cells((0, 0), (3, 0)) == {(0, 0), (1, 0), (2, 0), (3, 0)}
    assert crossed_cells((0, 0), (0, -2)) == {(0, 0), (0, -1), (0, -2)}
    assert crossed_cells((0, 0), (2, 2)) == {(0, 0), (1, 0), (0, 1), (1, 1), (2, 1), (1, 2), (2, 2)}
    assert crossed_cells((0, 0), (1, -2)) == {(0, 0), (0, -1), (1, -1), (1, -2)}  # an "up" line: through the border


def test_neighbours_are_joined_straight_even_with_every_cell_around_taken():
    taken = {(x, y) for x in range(-2, 3) for y in range(-2, 3)}
    for b in [(1, 0), (1, 1), (0, -1), (-1, 1)]:
        assert route((0, 0), b, taken) == ((0.0, 0.0), (float(b[0]), float(b[1])))


def test_a_line_with_nothing_in_its_way_is_straight_however_long():
    assert route((0, 0), (5, -2), {(0, 0), (5, -2), (3, 3)}) == ((0.0, 0.0), (5.0, -2.0))


def test_a_line_that_would_cross_a_room_goes_round_it_along_the_gutters():
    path = route((0, 0), (3, 0), {(0, 0), (1, 0), (3, 0)})
    assert path == ((0.0, 0.0), (0.5, 0.5), (2.5, 0.5), (3.0, 0.0))
    up = route((0, 0), (1, -2), {(0, 0), (0, -1), (1, -2)})
    assert up == ((0.0, 0.0), (0.5, -0.5), (0.5, -1.5), (1.0, -2.0))
    for path in (route((4, 1), (-3, 6), {(0, 3)}), route((0, 0), (0, 4), {(0, 2)})):
        inner = path[1:-1]
        assert all(x % 1 == 0.5 and y % 1 == 0.5 for x, y in inner)  # corners of cells: on the gutters
        assert all(a[0] == b[0] or a[1] == b[1] for a, b in itertools.pairwise(inner))  # along them




@pytest.mark.parametrize("seed", range(6))
def test_no_line_crosses_the_box_of_a_room_it_does_not_join(seed):
    # boxes as large as the map draws them (128 × 56 in a 160 × 96 cell), in cell units
    hx, hy = 64 / 160, 28 / 96
    ids, exits, area_of = _area_world(seed, areas=4, per_area=40)
    result = layout(ids, exits, areas=area_of)
    cells = result.positions
    taken = set(cells.values())
    for source, destination, key in exits:
        if source == destination:
            continue
        path = route(cells[source], cells[destination], taken)
        for room, (x, y) in cells.items():
            if room in (source, destination):
                continue
            box = (x - hx, y - hy, x + hx, y + hy)
            assert not any(segment_hits_box(a, b, box) for a, b in itertools.pairwise(path)), (source, destination,
                                                                                              room, path)


def test_areas_hung_off_neighbouring_rooms_the_same_way_sit_side_by_side_not_in_a_tower():
    hubs = list(range(1, 11))  # ten rooms in a row, an area of 5 × 8 south of each
    exits = [(h, h + 1, "east") for h in hubs[:-1]]
    ids, areas = hubs[:], {}
    for h in hubs:
        rooms = list(range(100 * h, 100 * h + 40))
        ids += rooms
        areas.update(dict.fromkeys(rooms, h))
        exits += [(r, r + 1, "east") for r in rooms if (r - 100 * h) % 5 != 4]
        exits += [(r, r + 5, "south") for r in rooms[:-5]]
        exits.append((h, rooms[0], "south"))
    result = layout(ids, exits, areas=areas)
    hub_row = result.positions[1][1]
    for h in hubs:
        assert result.blocks[h][1] > hub_row  # every area south of its room
    assert result.height <= 1 + 3 * 9  # three rows of areas at most: a tower of ten would be 91 rows high
