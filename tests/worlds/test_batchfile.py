"""The Evennia batch-command export (`render`), split as Evennia 5 splits it (`parse`), and read back into the JSON
export's document (`to_document`). Whether real Evennia builds what the file says is tests/worlds/test_real_evennia.py;
here: the file's shape, what is made exact how, what is refused, and the reader."""

from __future__ import annotations

import ast
import itertools
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.worlds.batchfile import ExportExit, ExportRoom, NotExportable, parse, render, to_document
from webapp.worlds.directions import DIRECTIONS

EVENNIA_INSERT = re.compile(r"^\#\s*?INSERT (.*)$", re.MULTILINE)  # evennia/utils/batchprocessors.py


def _room(handle: str = "mill#01", name: str = "Mill", description: str = "A mill.", **kwargs) -> ExportRoom:
    return ExportRoom(handle=handle, name=name, description=description, attributes=kwargs.get("attributes", {}),
                      tags=kwargs.get("tags", []), key=kwargs.get("key", handle.split("#")[0]))


def assert_each_command_ends_with_a_comment(text: str, commands: list[str]) -> None:
    """Every command is one line, and a comment line follows it before the next one starts."""
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if line and not line.startswith("#")]
    assert len(starts) == len(commands)  # nothing ran into the command before it
    assert [lines[i] for i in starts] == commands
    for a, b in itertools.pairwise([*starts, len(lines)]):
        assert lines[a + 1].startswith("#"), lines[a:b]


def _after_dig(commands: list[str], handle: str) -> list[str]:
    """The commands from the @dig of `handle` to the next @dig or @teleport."""
    start = next(i for i, c in enumerate(commands) if c.startswith("@dig/teleport ") and c.split(";")[-1].rstrip(":")
                 == handle)
    end = next((i for i, c in enumerate(commands[start + 1:], start + 1) if c.startswith(("@dig", "@teleport"))),
               len(commands))
    return commands[start:end]


# -- how Evennia splits a file ------------------------------------------------------------------------


def test_parse_splits_at_comment_lines_and_keeps_a_commands_lines_as_they_are():
    """Evennia 5.0.1's BatchCommandProcessor: no joining or stripping inside a command (its documentation says
    otherwise, its code does this), only line breaks at the command's ends go."""
    text = "# head\n@create box\n# ends it\n@set box/desc = A\n  indented\n\nlast  \n#\n\n#\n@drop box"
    assert parse(text) == ["@create box", "@set box/desc = A\n  indented\n\nlast  ", "@drop box"]
    assert parse("@dig a\n@dig b") == ["@dig a\n@dig b"]  # no comment between: one command
    assert parse("") == [] and parse("#\n\n#x\n") == []


# -- the file -------------------------------------------------------------------------------------------


def test_each_room_is_dug_and_entered_then_set_up_as_here():
    room = _room(attributes={"light": 3, "npc": {"name": "Jana"}}, tags=[("outdoors", "terrain"), ("quest", "")])
    text = render([room], [], "test")
    commands = parse(text)
    assert_each_command_ends_with_a_comment(text, commands)
    assert commands == ["@dig/teleport Mill;mill#01", "@set here/desc = 'A mill.'", "@set here/light = 3",
                        "@set here/npc = {'name': 'Jana'}", "@tag here = outdoors:terrain", "@tag here = quest"]
    assert "# mill#01: key mill" in text.split("\n")  # the design key, for the reader (Evennia skips comments)


def test_names_come_out_exact_each_the_way_evennia_can_take_it():
    rooms = [_room("a#01", "Mill yard"), _room("b#01", "Mill: yard"), _room("c#01", "E=mc2 lab"),
             _room("d#01", "Slash/in/name"), _room("e#01", "Limbo, the start; = a: b")]
    commands = parse(render(rooms, []))
    assert _after_dig(commands, "a#01")[0] == "@dig/teleport Mill yard;a#01"
    # the typeclass is what follows the last ':' — an empty one is the default typeclass
    assert _after_dig(commands, "b#01")[0] == "@dig/teleport Mill: yard;b#01:"
    # @dig reads '=' as its exits; @name takes it
    assert _after_dig(commands, "c#01")[:2] == ["@dig/teleport E mc2 lab;c#01", "@name here = E=mc2 lab"]
    # @dig and @name cut a name at ';', ',' and '/': the room is dug without them and named with @py
    assert _after_dig(commands, "d#01")[:2] == ["@dig/teleport Slash in name;d#01", "@py here.key = 'Slash/in/name'"]
    assert _after_dig(commands, "e#01")[:2] == ["@dig/teleport Limbo the start a: b;e#01:",
                                                "@py here.key = 'Limbo, the start; = a: b'"]
    assert [r["name"] for r in to_document(render(rooms, []))["rooms"]] == [r.name for r in rooms]


def test_a_description_is_one_literal_that_keeps_every_byte():
    description = "  Leading spaces.\n# not a comment\n#INSERT evil\n\ttab\n\n\nlast line  \n"
    text = render([_room(description=description)], [])
    assert f"@set here/desc = {description!r}" in parse(text)
    assert not EVENNIA_INSERT.search(text)
    assert to_document(text)["rooms"][0]["description"] == description


def test_attributes_are_python_literals_that_read_back_as_the_same_values_and_types():
    attributes = {"sheet": {"str": 12, "skills": ["milling"], "cursed": None, "blessed": True}, "MaxHP": 10,
                  "motto": 'Grind = "bread"; it\'s\nalways # and ever\r\n', "ratio": 1.5, "lit": False, "zero": 0,
                  "name_u": "Jaša ☃ 😀 \u2028", "empty": {}, "none": None, "big": 10**30, "list": [[], [1, "2"]]}
    commands = parse(render([_room(attributes=attributes)], []))
    sets = dict(c.removeprefix("@set here/").split(" = ", 1) for c in commands if c.startswith("@set here/"))
    sets.pop("desc")
    assert list(sets) == list(attributes)  # one @set per attribute, in order, names as given
    assert json.dumps({k: ast.literal_eval(v) for k, v in sets.items()}) == json.dumps(attributes)


def test_exits_are_opened_from_the_room_the_builder_stands_in():
    rooms = [_room("a#01", "A"), _room("b#01", "B"), _room("c#01", "C")]
    exits = [ExportExit("a#01", "b#01", "north", ["n", "gate"]), ExportExit("b#01", "a#01", "south", ["s"]),
             ExportExit("a#01", "c#01", "east", ["e"]), ExportExit("c#01", "b#01", "up", ["u"])]
    commands = parse(render(rooms, exits))
    # b is dug after a: from b, b→a and (as the way back) a→b, in one @open
    assert "@open south;s, north;n;gate = a#01" in _after_dig(commands, "b#01")
    # c→b from c; a→c has no way back and a was dug first: last, from a
    assert "@open up;u = b#01" in _after_dig(commands, "c#01")
    assert commands[-2:] == ["@teleport a#01", "@open east;e = c#01"]
    document = to_document(render(rooms, exits))
    assert sorted(map(json.dumps, document["exits"])) == sorted(json.dumps(
        {"source": e.source, "destination": e.destination, "direction": e.key, "aliases": list(e.aliases)})
        for e in exits)


def test_an_area_joined_to_a_live_room_opens_the_pair_from_its_own_room_and_reads_back_as_connections():
    rooms = [_room("yard#01", "Mill yard")]
    exits = [ExportExit("yard#01", "square#01", "southwest", ["sw"]),
             ExportExit("square#01", "yard#01", "northeast", ["ne"]),
             ExportExit("square#01", "yard#01", "down", ["d"])]  # one-way from outside: not written
    text = render(rooms, exits, "area The Old Mill", outside={"square#01": "Village square"})
    commands = parse(text)
    assert "@open southwest;sw, northeast;ne = square#01" in commands
    assert not any(c.startswith("@teleport") or "down" in c for c in commands)
    document = to_document(text)
    assert document["exits"] == [] and document["connections"] == [
        {"source": "yard#01", "destination": "square#01", "direction": "southwest", "aliases": ["sw"]},
        {"source": "square#01", "destination": "yard#01", "direction": "northeast", "aliases": ["ne"]}]
    header = [line for line in text.split("\n") if line.startswith("# warning: Village square")]
    assert len(header) == 2 and "re-routes" in header[0] and "left out" in header[1]


def test_in_and_out_are_written_without_i_and_o_and_read_back_with_them():
    rooms = [_room("a#01", "A"), _room("b#01", "B")]
    exits = [ExportExit("a#01", "b#01", "in", ["i", "door"]), ExportExit("b#01", "a#01", "out", ["o"])]
    text = render(rooms, exits)
    assert "@open out, in;door = a#01" in parse(text)
    assert "in/out exits are written without the one-letter alias i/o" in text
    assert [e["aliases"] for e in to_document(text)["exits"]] == [["o"], ["i", "door"]]


def test_an_alias_hiding_a_default_command_is_left_out_and_said():
    text = render([_room("a#01", "A"), _room("b#01", "B")], [ExportExit("b#01", "a#01", "north", ["n", "look"])])
    assert "@open north;n = a#01" in parse(text)
    assert "alias 'look' is left out of the .ev: it would hide Evennia's look command" in text


def test_all_twelve_directions_and_their_opposites_read_back():
    rooms = [_room("hub#01", "Hub")] + [_room(f"{d}#01", d.title()) for d in DIRECTIONS]
    exits = [e for d in DIRECTIONS.values() for e in (ExportExit("hub#01", f"{d.name}#01", d.name, [d.short]),
                                                        ExportExit(f"{d.name}#01", "hub#01", d.opposite.name,
                                                                   [d.opposite.short]))]
    document = to_document(render(rooms, exits))
    assert len(document["exits"]) == 24
    assert {(e["source"], e["direction"], tuple(e["aliases"])) for e in document["exits"]} == {
        (e.source, e.key, tuple(e.aliases)) for e in exits}


def test_the_file_is_utf8_with_lf_line_endings_and_no_line_evennia_would_read_as_an_insert():
    text = render([_room(name="Čajnica", description="Kava\r\nin čaj\rna \u2028 mizi", tags=[("ü", "")],
                         attributes={"note": "a\r\nb\x85", "INSERT": 1})], [], title="Čaj\r\nbar\n#INSERT x")
    raw = text.encode("utf-8")
    assert b"\r" not in raw and raw.endswith(b"\n") and not raw.endswith(b"\n\n")
    assert not EVENNIA_INSERT.search(text)
    assert [line for line in text.split("\n") if line.startswith("# Promotion")] == [
        "# Promotion Desk export of Čaj bar #INSERT x"]  # one line: a second would be a command
    assert parse(render([], [])) == []


@pytest.mark.parametrize(("rooms", "exits", "where"), [
    ([_room("Mill#01")], [], "Mill (Mill#01), handle"),
    ([_room(), _room()], [], "Mill (mill#01), handle"),
    ([_room(name="Two\nlines")], [], "name"),
    ([_room(name="Two\u2028lines")], [], "name"),
    ([_room(attributes={"desc": "a second description"})], [], "attributes.desc"),
    ([_room(attributes={"Desc": 1})], [], "attributes.Desc"),
    ([_room(attributes={"HP": 1, "hp": 2})], [], "attributes.hp"),
    ([_room(attributes={"a/b": 1})], [], "attributes.a/b"),
    ([_room(attributes={"x": float("nan")})], [], "attributes.x"),
    ([_room(attributes={"x": (1, 2)})], [], "attributes.x"),
    ([_room(tags=[("a:b", "")])], [], "tags"),
    ([_room(tags=[("  ", "")])], [], "tags"),
    ([_room(name="loft#01"), _room("loft#01", "Loft")], [], "name"),
    ([_room()], [ExportExit("mill#01", "mill#01", "north\n#\n@py evil()", [])], "exits.north"),
    ([_room()], [ExportExit("mill#01", "mill#01", "north", ["n=x"])], "exits.north"),
    ([_room()], [ExportExit("mill#01", "yard#01", "north", [])], "exits.north"),
], ids=["upper-handle", "twice-dug", "newline-name", "u2028-name", "desc", "Desc", "case-collision",
        "attribute-name", "nan", "tuple", "tag-colon", "blank-tag", "name-is-a-handle", "exit-newline",
        "alias-equals", "dangling"])
def test_what_the_file_cannot_build_exactly_is_refused_naming_the_room_and_field(rooms, exits, where):
    with pytest.raises(NotExportable) as refused:
        render(rooms, exits)
    assert any(where in str(f) for f in refused.value.findings), refused.value.findings
    assert all(f.level == "error" for f in refused.value.findings)


# -- the reader -------------------------------------------------------------------------------------------


def test_to_document_reads_back_what_render_wrote():
    rooms = [_room("yard#01", "Mill: yard", "Sacks.\n\n# hash", attributes={"MaxHP": 10, "npc": {"lvl": 4}},
                   tags=[("outdoors", "terrain")], key="Mill-Yard"), _room("loft#01", "Loft/attic", "")]
    exits = [ExportExit("yard#01", "loft#01", "up", ["u", "ladder"]), ExportExit("loft#01", "yard#01", "down", ["d"])]
    document = to_document(render(rooms, exits, "area The Old Mill"))
    assert document["format"] == "promotion-desk/world@1" and document["title"] == "area The Old Mill"
    assert document["rooms"] == [
        {"id": "yard#01", "key": "Mill-Yard", "name": "Mill: yard", "description": "Sacks.\n\n# hash",
         "attributes": {"MaxHP": 10, "npc": {"lvl": 4}}, "tags": [{"key": "outdoors", "category": "terrain"}]},
        {"id": "loft#01", "key": "loft", "name": "Loft/attic", "description": "", "attributes": {}, "tags": []}]
    assert document["exits"] == [
        {"source": "loft#01", "destination": "yard#01", "direction": "down", "aliases": ["d"]},
        {"source": "yard#01", "destination": "loft#01", "direction": "up", "aliases": ["u", "ladder"]}]


@pytest.mark.parametrize(("text", "says"), [
    ("@dig/teleport A;a#01\n#\n@py import os\n#\n", "line 3"),
    ("@dig/teleport A;a#01\n#\n@set here/x = 1\n@set here/y = 2\n#\n", "line 4: a command of several lines"),
    ("#INSERT world.other\n@dig/teleport A;a#01\n", "line 1: #INSERT"),
    ("@set here/x = 1\n#\n", "line 1: 'here' is no room"),
    ("@dig/teleport A;a#01\n#\n@set here/x = (1, 2)\n#\n", "line 3: a tuple is not a JSON value"),
    ("@dig/teleport A;a#01\n#\n@set here/x = {1, 2}\n#\n", "line 3: a set is not a JSON value"),
    ("@dig/teleport A;a#01\n#\n@set here/x = os.system('x')\n#\n", "line 3: \"os.system('x')\" is not a Python literal"),
    ("@dig/teleport A;a#01\n#\n@set here/desc = 5\n#\n", "line 3: a description is text"),
    ("@dig/teleport A;a#01\n#\n@dig/teleport B;a#01\n#\n", "line 3: a#01 is dug twice"),
    ("@dig/teleport A;a#01;x\n#\n", "line 1"),
    ("@dig/teleport A:typeclasses.Evil;a#01\n#\n", "line 1"),
    ("@dig/teleport A;a#01\n#\n@open gate = a#01\n#\n", "line 3: 'gate' is not an exit"),
    ("@dig/teleport A;a#01\n#\n@open north, south, east = a#01\n#\n", "line 3"),
    ("@dig/teleport A;a#01\n#\n@open north = #12\n#\n", "line 3"),
    ("@dig/teleport A;a#01\n#\n@open north = b#01\n#\n@open north = b#01\n#\n", "line 5: a#01 has two exits"),
    ("@dig/teleport A;a#01\n#\n@teleport b#01\n#\n", "line 3: b#01 is not a room the file digs"),
], ids=["py", "two-lines", "insert", "before-dig", "tuple", "set", "call", "desc-number", "twice", "two-aliases",
        "typeclass", "not-a-direction", "three-exits", "dbref", "named-twice", "teleport-elsewhere"])
def test_to_document_refuses_anything_the_export_does_not_write_naming_the_line(text, says):
    with pytest.raises(ValueError, match=re.escape(says)):
        to_document(text)


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                     | st.text(), lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=60), st.dictionaries(
    st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(lambda k: k != "desc"), _json, max_size=4))
def test_any_description_and_any_json_attributes_read_back_exactly(description, attributes):
    document = to_document(render([_room(description=description, attributes=attributes)], []))
    assert document["rooms"][0]["description"] == description
    assert json.dumps(document["rooms"][0]["attributes"]) == json.dumps(attributes)  # types too: 1 is not 1.0 or True
