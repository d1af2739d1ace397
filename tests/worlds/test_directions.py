"""Directions: full names and short forms, opposites, and the 400 for an unknown one."""

from __future__ import annotations

import pytest

from webapp.errors import BadRequest
from webapp.worlds.directions import DIRECTIONS, parse_direction


@pytest.mark.parametrize(("text", "name", "opposite"), [
    ("north", "north", "south"), ("N", "north", "south"), (" s ", "south", "north"), ("East", "east", "west"),
    ("w", "west", "east"), ("NE", "northeast", "southwest"), ("northwest", "northwest", "southeast"),
    ("se", "southeast", "northwest"), ("SW", "southwest", "northeast"), ("u", "up", "down"),
    ("Down", "down", "up"), ("i", "in", "out"), ("OUT", "out", "in"),
])
def test_directions_parse_full_names_and_short_forms_in_any_case(text, name, opposite):
    direction = parse_direction(text)
    assert (direction.name, direction.opposite.name) == (name, opposite)
    assert direction.opposite.opposite is direction


def test_every_direction_is_the_opposite_of_its_opposite_and_points_the_other_way():
    assert len(DIRECTIONS) == 12
    for d in DIRECTIONS.values():
        assert d.opposite.opposite == d
        assert (d.opposite.dx, d.opposite.dy) == (-d.dx, -d.dy)


@pytest.mark.parametrize("text", ["", "norht", "nn", "left", None, 5, "north-east", "x" * 500])
def test_an_unknown_direction_is_a_400_naming_the_valid_ones(text):
    with pytest.raises(BadRequest) as caught:
        parse_direction(text)
    assert "north (n)" in caught.value.message and "out (o)" in caught.value.message
    assert caught.value.status == 400
