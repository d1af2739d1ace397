"""Directions: full names and short forms, opposites, the 400 for an unknown one, and their wording in English."""

from __future__ import annotations

import re

import pytest

from webapp.errors import BadRequest
from webapp.worlds.directions import DIRECTIONS, parse_direction, where


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


@pytest.mark.parametrize(("direction", "phrase"), [
    ("north", "north of"), ("south", "south of"), ("east", "east of"), ("west", "west of"),
    ("northeast", "northeast of"), ("northwest", "northwest of"), ("southeast", "southeast of"),
    ("southwest", "southwest of"), ("up", "up from"), ("down", "down from"), ("in", "in from"), ("out", "out from"),
])
def test_where_words_every_direction_as_english_that_a_room_name_follows(direction, phrase):
    assert where(direction) == where(DIRECTIONS[direction]) == where(DIRECTIONS[direction].short.upper()) == phrase


def test_where_covers_all_twelve_directions_and_only_compass_points_take_of():
    assert {where(d).split()[-1] for d in DIRECTIONS.values() if d.on_compass} == {"of"}
    assert {d.name for d in DIRECTIONS.values() if not d.on_compass} == {"up", "down", "in", "out"}
    assert all(where(d) == f"{d.name} from" for d in DIRECTIONS.values() if not d.on_compass)


def test_where_names_an_exit_that_is_no_direction():
    assert where(" portal ") == 'by the exit "portal" from'


def test_the_live_project_page_names_its_connection_room_in_that_wording(client, auth, factories):
    from webapp.worlds import live, promotion

    admin = factories.user("admin", "Acme", email="words@example.com")
    auth.login("words@example.com")
    limbo = factories.live_room(admin, "limbo", "Limbo")
    square = factories.live_room(admin, "square", "Village square")
    live.link_rooms(admin, limbo.id, square.id, "north")
    for direction in ("northeast", "down"):
        project = factories.build_project(admin)
        token = promotion.promotion_preview(admin, project.id, square.id, direction).token
        promotion.promote(admin, project.id, square.id, direction, token)
        page = auth.get(f"/builds/{project.id}").get_data(as_text=True)
        words = re.sub(r"<[^>]+>|\s+", " ", page[page.index('notice-success connection'):]).split(".")[0]
        assert f"connected {where(direction)} Village square" in re.sub(" +", " ", words)
        assert f'href="/world/rooms/{square.id}"' in page and "down of" not in page
