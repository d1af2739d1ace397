"""The Evennia batch-command export, read back by Evennia's documented rules (`batchfile.parse`)."""

from __future__ import annotations

import ast
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.worlds.batchfile import UNSAFE_NAME_CHARS, ExportExit, ExportRoom, parse, render

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


def _sets(commands: list[str], handle: str) -> dict[str, str]:
    """attribute → the literal after the first '=' of its @set, in file order."""
    prefix = f"@set {handle}/"
    return dict(c.removeprefix(prefix).split(" = ", 1) for c in commands if c.startswith(prefix))


# -- the parser: Evennia's rules ------------------------------------------------------------------


def test_parse_follows_evennias_documented_example():
    text = ("# batch file\n# all lines starting with # are comments\n\n@create box\n\n# ends the @create\n\n"
            "@set box/desc = A large box.\n\nInside are some scattered piles of clothing.\n\n\n"
            "It seems the bottom of the box is a bit loose.\n\n# ends the @set\n\n@teleport #221\n\n"
            "# the last command needs no comment after it\n\n@drop box\n")
    box = ("@set box/desc = A large box.\nInside are some scattered piles of clothing.\n\n"
           "It seems the bottom of the box is a bit loose.")
    assert parse(text) == ["@create box", box, "@teleport #221", "@drop box"]


def test_parse_joins_stripped_lines_and_only_a_first_column_hash_is_a_comment():
    assert parse("  @desc here =  \n   one  \n two\n #three\n#\n\n#\n@look") == ["@desc here = one two #three", "@look"]
    assert parse("@dig a\n@dig b") == ["@dig a @dig b"]  # no comment between: the second is an argument
    assert parse("") == [] and parse("#\n\n   \n#x\n") == []


# -- the export ------------------------------------------------------------------------------------


def test_every_room_is_dug_once_and_every_exit_opened_once_each_a_command_of_its_own():
    rooms = [_room("mill#01"), _room("loft#01", "Loft"), _room("yard#01", "Yard")]
    exits = [ExportExit("mill#01", "loft#01", "up", ["u"]), ExportExit("loft#01", "mill#01", "down", ["d"]),
             ExportExit("mill#01", "yard#01", "north", ["n", "gate"])]
    text = render(rooms, exits, "test")
    commands = parse(text)
    assert len(commands) == 3 * 2 + 2 + 3  # @dig and @desc per room, a @teleport per source, an @open per exit
    assert [c for c in commands if c.startswith("@dig")] == ["@dig Mill;mill#01", "@dig Loft;loft#01",
                                                             "@dig Yard;yard#01"]
    assert_each_command_ends_with_a_comment(text, commands)
    # an exit is opened from where the builder stands: the @teleport before it names its source
    opened, here = [], None
    for command in commands:
        if command.startswith("@teleport "):
            here = command.removeprefix("@teleport ")
        elif command.startswith("@open "):
            opened.append((here, command))
    assert opened == [("mill#01", "@open up;u = loft#01"), ("mill#01", "@open north;n;gate = yard#01"),
                      ("loft#01", "@open down;d = mill#01")]
    # rooms are all dug before the first exit needs them
    assert max(i for i, c in enumerate(commands) if c.startswith("@dig")) < commands.index("@teleport mill#01")


def test_names_with_separators_are_dug_safely_and_kept_exactly_in_display_name():
    commands = parse(render([_room(name=ODD), _room("yard#01", ";,=:"), _room("loft#01", "Loft")], []))
    digs = [c for c in commands if c.startswith("@dig ")]
    assert digs == ["@dig The Mill north wing upstairs east;mill#01", "@dig yard#01;yard#01", "@dig Loft;loft#01"]
    for dig in digs:
        name, *aliases = dig.removeprefix("@dig ").split(";")
        assert not set(name) & set(UNSAFE_NAME_CHARS) and len(aliases) == 1  # no alias, typeclass or '=' but one
    assert ast.literal_eval(_sets(commands, "mill#01")["display_name"]) == ODD
    assert ast.literal_eval(_sets(commands, "yard#01")["display_name"]) == ";,=:"
    assert "display_name" not in _sets(commands, "loft#01")  # a name @dig takes as it is needs no copy


def test_descriptions_with_hash_lines_and_paragraphs_come_back_exactly():
    description = ("# Not a comment\n#INSERT evil.batch\nFirst line\nsecond line\n\nNew paragraph.\n\n\n"
                   "Two blank lines.\n@dig nope\n#")
    text = render([_room(description=description)], [])
    assert not any(line.startswith(("#INSERT", "# Not")) for line in text.split("\n"))
    commands = parse(text)
    assert _desc(commands, "mill#01") == description
    assert not any(c.startswith("@dig nope") for c in commands)


def test_a_description_of_several_lines_is_also_set_exactly_as_one_literal():
    description = "  Indented.\n\n# a hash line\nlast line  "
    commands = parse(render([_room(description=description)], []))
    literal = _sets(commands, "mill#01")["desc"]
    assert ast.literal_eval(literal) == description
    assert commands.index(f"@set mill#01/desc = {literal}") == commands.index(
        next(c for c in commands if c.startswith("@desc"))) + 1  # right after @desc: it has the last word


def test_description_loses_only_what_evennias_rules_cannot_carry():
    """Spaces at the ends of lines and blank lines at the end go; a \\r\\n or lone \\r is a line break."""
    commands = parse(render([_room(description="  indented\t\nend spaces   \r\nold mac\rline\n\n  \n")], []))
    assert _desc(commands, "mill#01") == "indented\nend spaces\nold mac\nline"


def test_attributes_are_python_literals_evennia_reads_back_to_the_same_values():
    attributes = {"sheet": {"str": 12, "skills": ["milling", "haggling"], "cursed": None, "blessed": True},
                  "motto": 'Grind = "bread"; it\'s\nalways # and ever\r\n', "ratio": 1.5, "lit": False,
                  "name_u": "Jaša ☃ 😀", "empty": {}, "none": None, "big": 10**30, "list": [[], [1, "2"], {"k": []}]}
    commands = parse(render([_room(attributes=attributes)], []))
    sets = _sets(commands, "mill#01")
    assert list(sets) == list(attributes)  # one @set per attribute, in the dict's order
    assert {key: ast.literal_eval(value) for key, value in sets.items()} == attributes


def test_tags_with_and_without_a_category():
    commands = parse(render([_room(tags=[("outdoors", "terrain"), ("quest", "")])], []))
    assert [c for c in commands if c.startswith("@tag ")] == ["@tag mill#01 = outdoors:terrain",
                                                              "@tag mill#01 = quest"]


def test_the_file_is_utf8_with_lf_line_endings_and_one_final_newline():
    text = render([_room(name="Čajnica\r", description="Kava\r\nin čaj\rna \u2028 mizi", tags=[("ü", "")],
                         attributes={"note": "a\r\nb\x85"})], [], title="Čaj\r\nbar")
    raw = text.encode("utf-8")
    assert raw.decode("utf-8") == text
    assert b"\r" not in raw and raw.endswith(b"\n") and not raw.endswith(b"\n\n")
    assert render([], []).endswith("#\n") and parse(render([], [])) == []


def test_a_title_of_several_lines_stays_a_comment():
    commands = parse(render([], [], title="Export\n@py evil()\n# x"))
    assert commands == []


@pytest.mark.parametrize(("rooms", "exits"), [
    ([_room("Mill#01")], []),
    ([_room("mill 01")], []),
    ([_room(), _room()], []),
    ([_room(attributes={"a/b": 1})], []),
    ([_room(attributes={"x": float("nan")})], []),
    ([_room(attributes={"x": {1, 2}})], []),
    ([_room(tags=[("a:b", "")])], []),
    ([_room(tags=[("a", "b/c")])], []),
    ([_room(tags=[("  ", "")])], []),
    ([_room()], [ExportExit("mill#01", "mill#01", "north\n#\n@py evil()", [])]),
    ([_room()], [ExportExit("mill#01", "mill#01", "north", ["n=x"])]),
    ([_room()], [ExportExit("mill#01", "mill#01", "", [])]),
    ([_room()], [ExportExit("mill#01", "yard#01", "north", [])]),
    ([_room()], [ExportExit("yard#01", "mill#01", "north", [])]),
], ids=["upper-handle", "space-handle", "twice-dug", "attribute-name", "nan", "set", "tag-colon",
        "category-slash", "blank-tag", "exit-newline", "alias-equals", "empty-exit", "dangling-destination",
        "dangling-source"])
def test_what_the_file_cannot_carry_safely_is_refused_not_written(rooms, exits):
    with pytest.raises((ValueError, TypeError)):  # TypeError: a value that is not JSON's
        render(rooms, exits)


_line = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.lists(_line.map(str.strip), max_size=8))
def test_any_description_of_stripped_lines_round_trips(lines):
    description = "\n".join(lines).rstrip("\n")  # blank lines at the end of a command are not part of it
    assert _desc(parse(render([_room(description=description)], [])), "mill#01") == description


@settings(max_examples=300, deadline=None)
@given(st.lists(_line, max_size=8))
def test_any_description_loses_no_more_than_line_end_whitespace_and_final_blank_lines(lines):
    expected = "\n".join(line.strip() for line in lines).rstrip("\n")
    description = "\n".join(lines)
    commands = parse(render([_room(description=description)], []))
    assert _desc(commands, "mill#01") == expected
    if len(lines) > 1:  # and the exact text once more, as one literal: nothing else leaked out
        assert commands[2:] == [f"@set mill#01/desc = {description!r}"]
    else:
        assert len(commands) == 2
