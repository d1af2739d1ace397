"""A room's name in its box: measured, wrapped at spaces into two lines, shortened with "…"; and names made safe
for a page and an XML file."""

from __future__ import annotations

import pytest

from tests.worlds.test_worldmap import LONG_NAMES
from webapp.worlds import worldmap
from webapp.worlds.labels import LABEL_WIDTH, label_lines, shorten, text_width, xml_text


def test_a_short_name_is_one_line_and_a_long_one_wraps_at_spaces_into_two():
    assert label_lines("Limbo") == ("Limbo",)
    assert label_lines("The Crooked Tankard Inn") == ("The Crooked", "Tankard Inn")


@pytest.mark.parametrize("name", LONG_NAMES)
def test_a_name_too_long_for_its_box_is_shortened_with_an_ellipsis_and_every_line_fits(name):
    lines = label_lines(name)
    assert 1 <= len(lines) <= 2 and all(text_width(line) <= LABEL_WIDTH for line in lines)
    shown = "".join(lines).replace(" ", "")
    assert shown.endswith("…") and name.replace(" ", "").startswith(shown[:-1])


def test_a_single_word_wider_than_a_line_is_broken_across_the_two():
    first, second = label_lines("Supercalifragilistic")
    assert first + second == "Supercalifragilistic" and text_width(first) <= LABEL_WIDTH


def test_a_line_of_a_label_fits_the_box_the_map_draws():
    assert LABEL_WIDTH <= worldmap.BOX_W - 14  # seven units of padding each side


def test_a_wide_letter_counts_wider_than_a_narrow_one_and_east_asian_ones_a_full_em():
    assert text_width("W") > text_width("n") > text_width("i") > 0
    assert text_width("東") == 14.0 and text_width("e\u0301") == text_width("e")  # a combining accent takes no room


def test_shorten_keeps_a_text_that_fits_and_ends_one_that_does_not_with_an_ellipsis():
    assert shorten("The Old Mill", 200, 12) == "The Old Mill"
    cut = shorten("The Old Mill", 60, 12)
    assert cut.endswith("…") and text_width(cut, 12) <= 60 and "The Old Mill".startswith(cut[:-1])


def test_what_xml_cannot_hold_becomes_a_replacement_character_and_the_rest_stays():
    assert xml_text("Village square ☃ 東京") == "Village square ☃ 東京"
    assert xml_text("Bell\x07 tower\ud800\uffff") == "Bell\ufffd tower\ufffd\ufffd"
    assert xml_text("tab\tand\u00a0space") == "tab\tand\u00a0space"
