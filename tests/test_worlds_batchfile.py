"""The Evennia batch-command export, read back by Evennia's own rules (tests/… parse)."""

from __future__ import annotations

import ast
import itertools

from hypothesis import given
from hypothesis import strategies as st

from webapp.worlds.batchfile import ExportExit, ExportRoom, parse, render

ODD = "The Mill; north wing, = upstairs: east"


def _room(handle: str = "mill#01", name: str = "Mill", description: str = "A mill.", **kwargs) -> ExportRoom:
    return ExportRoom(handle=handle, name=name, description=description, attributes=kwargs.get("attributes", {}),
                      tags=kwargs.get("tags", []))


def assert_each_command_ends_with_a_comment(text: str, commands: list[str]) -> None:
    """Every line starting a command is followed by a comment line before the next one starts."""
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith("@")]
    assert len(starts) == len(commands)  # nothing ran into the command before it
    for a, b in itertools.pairwise([*starts, len(lines)]):
        assert any(line.startswith("#") for line in lines[a + 1:b]), lines[a:b]


def _desc(commands: list[str], handle: str) -> str:
    command = next(c for c in commands if c.startswith(f"@desc {handle} ="))
    return command.removeprefix(f"@desc {handle} =").removeprefix(" ")


def test_every_room_is_dug_once_and_every_exit_opened_once_each_a_command_of_its_own():
    rooms = [_room("mill#01"), _room("loft#01", "Loft"), _room("yard#01", "Yard")]
    exits = [ExportExit("mill#01", "loft#01", "up", ["u"]), ExportExit("loft#01", "mill#01", "down", ["d"]),
             ExportExit("mill#01", "yard#01", "north", ["n", "gate"])]
    text = render(rooms, exits, "test")
    commands = parse(text)
    assert [c for c in commands if c.startswith("@dig")] == ["@dig Mill;mill#01", "@dig Loft;loft#01",
                                                             "@dig Yard;yard#01"]
    assert [c for c in commands if c.startswith("@open")] == ["@open up;u = loft#01", "@open north;n;gate = yard#01",
                                                              "@open down;d = mill#01"]
    assert_each_command_ends_with_a_comment(text, commands)
    # an exit is opened from where the builder stands: a @teleport to its source comes first
    assert commands.index("@teleport mill#01") < commands.index("@open up;u = loft#01")
    assert commands.index("@teleport loft#01") < commands.index("@open down;d = mill#01")


def test_names_with_separators_are_dug_safely_and_kept_exactly_in_display_name():
    commands = parse(render([_room(name=ODD)], []))
    assert commands[0] == "@dig The Mill north wing upstairs east;mill#01"
    value = next(c for c in commands if c.startswith("@set mill#01/display_name = ")).split(" = ", 1)[1]
    assert ast.literal_eval(value) == ODD


def test_descriptions_with_hash_lines_and_paragraphs_come_back_exactly():
    description = "# Not a comment\n#INSERT evil.batch\nFirst line\nsecond line\n\nNew paragraph.\n@dig nope"
    text = render([_room(description=description)], [])
    assert "\n#INSERT" not in text and "\n# Not a comment" not in text
    assert _desc(parse(text), "mill#01") == description


def test_attributes_are_python_literals_evennia_reads_back_to_the_same_values():
    attributes = {"sheet": {"str": 12, "skills": ["milling", "haggling"], "cursed": None, "blessed": True},
                  "motto": 'Grind = "bread"; always\nand ever', "ratio": 1.5, "name_ü": "Jaša ☃"}
    commands = parse(render([_room(attributes=attributes)], []))
    sets = {c.split(" = ", 1)[0]: c.split(" = ", 1)[1] for c in commands if c.startswith("@set ")}
    assert {k.split("/", 1)[1]: ast.literal_eval(v) for k, v in sets.items()} == attributes


def test_tags_with_and_without_a_category():
    commands = parse(render([_room(tags=[("outdoors", "terrain"), ("quest", "")])], []))
    assert "@tag mill#01 = outdoors:terrain" in commands and "@tag mill#01 = quest" in commands


def test_the_file_is_utf8_with_lf_line_endings_and_one_final_newline():
    text = render([_room(name="Čajnica", description="Kava\r\nin čaj")], [])
    raw = text.encode("utf-8")
    assert b"\r" not in raw.replace(b"\r\n", b"") and raw.endswith(b"\n") and not raw.endswith(b"\n\n")


_line = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=30).map(str.strip)


@given(st.lists(_line, max_size=8))
def test_any_description_of_stripped_lines_round_trips(lines):
    description = "\n".join(lines).rstrip("\n")  # trailing blank lines end a command in Evennia: they go
    assert _desc(parse(render([_room(description=description)], [])), "mill#01") == description
