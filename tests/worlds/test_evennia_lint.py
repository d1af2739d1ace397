"""The Evennia-safe lint (webapp/worlds/evennia_lint.py), and the design-time checks that keep what Evennia cannot
hold out of a design in the first place (webapp/worlds/commands.py)."""

from __future__ import annotations

import pytest

from webapp.errors import Invalid
from webapp.worlds import design
from webapp.worlds.batchfile import ExportExit, ExportRoom
from webapp.worlds.commands import parse_aliases, room_design
from webapp.worlds.evennia_lint import exit_names_written, lint, shadowed_command


def _room(handle: str = "mill#01", name: str = "Mill", description: str = "", **kwargs) -> ExportRoom:
    return ExportRoom(handle, name, description, kwargs.get("attributes", {}), kwargs.get("tags", []))


def _design(**fields) -> dict:
    return {"key": "mill", "name": "Mill", **fields}


# -- design time: refused (422 beside the field) or made Evennia's way -----------------------------------------


@pytest.mark.parametrize(("attributes", "says"), [
    ('{"desc": "another description"}', "'desc' is the room's description in Evennia"),
    ('{"DESC": 1}', "'DESC' is the room's description in Evennia"),
    ('{"MaxHP": 10, "maxhp": 1}', "'MaxHP' and 'maxhp' are one attribute in Evennia"),
    ('{"HP": 10, "light": 1, "hp": 1}', "'HP' and 'hp' are one attribute in Evennia"),
])
def test_attribute_names_evennia_would_merge_or_read_as_the_description_are_refused_beside_the_field(attributes, says):
    with pytest.raises(Invalid) as refused:
        room_design(_design(attributes=attributes))
    assert refused.value.status == 422 and says in refused.value.details["attributes"]


def test_a_document_room_with_clashing_attributes_is_refused_naming_the_room_and_the_field(factories):
    admin = factories.user("admin")
    document = {"rooms": [{"key": "a", "name": "A"}, {"key": "b", "name": "B", "attributes": {"HP": 1, "hp": 2}}]}
    with pytest.raises(Invalid) as refused:
        design.create_project(admin, "Clash", "", document)
    assert refused.value.message.startswith("rooms[1]: The room has errors: attributes: 'HP' and 'hp' are one")
    assert "attributes" in refused.value.details["rooms"][1]


def test_mixed_case_attribute_names_that_do_not_clash_are_kept_as_typed():
    assert room_design(_design(attributes='{"MaxHP": 10,  "hp": 1}')).attributes == '{"MaxHP": 10,  "hp": 1}'


def test_a_room_name_is_one_line_even_for_the_line_breaks_python_knows_beyond_cr_and_lf():
    for name in ("Two\u2028lines", "Two\x85lines", "Two\x0blines"):
        with pytest.raises(Invalid) as refused:
            room_design(_design(name=name))
        assert "name" in refused.value.details


def test_names_evennias_dig_would_cut_are_accepted_the_export_makes_them_exact():
    assert room_design(_design(name="Slash/in/name; a, b = c: d")).name == "Slash/in/name; a, b = c: d"


def test_tags_are_stored_in_lower_case_as_evennia_stores_and_finds_them():
    assert room_design(_design(tags=[["Outdoors", "Terrain"], ["outdoors", "terrain"], ["Quest", ""]])).tags == [
        ["outdoors", "terrain"], ["quest", ""]]


@pytest.mark.parametrize(("alias", "command"), [("inv", "inv"), ("look", "look"), ("get", "get"), ("dig", "@dig"),
                                                  ("inventory", "inventory"), ("who", "who")])
def test_an_exit_alias_that_would_hide_a_default_command_is_refused(alias, command):
    with pytest.raises(Invalid) as refused:
        parse_aliases(["gate", alias])
    assert refused.value.details == {"aliases": f"{alias!r} would hide Evennia's {command} command in that room"}


def test_aliases_that_hide_nothing_are_accepted_and_so_are_the_directions_short_forms():
    assert parse_aliases("gate, o, ladder") == ["gate", "o", "ladder"]
    assert parse_aliases(["i"]) == ["i"]  # in's own short form, as every export lists it: the .ev leaves it out
    assert shadowed_command("ladder") is None and shadowed_command("Look") == "look"


# -- the lint ------------------------------------------------------------------------------------------------


def test_the_lint_says_what_evennia_stores_differently_as_warnings():
    findings = lint([_room(name="|rRed|n room", attributes={"MaxHP": 10}, tags=[("Quest", "")])], [])
    assert [(f.level, f.field) for f in findings] == [("warning", "name"), ("warning", "attributes.MaxHP"),
                                                      ("warning", "tags")]
    assert "it is 'maxhp' there" in findings[1].message and "quest" in findings[2].message


def test_the_lint_says_how_a_cut_name_is_made_exact():
    [finding] = lint([_room(name="Slash/in/name")], [])
    assert finding.level == "note" and "dug as 'Slash in name' and named exactly with @py" in finding.message


def test_the_lint_warns_that_opening_the_connection_may_re_route_an_exit_of_the_live_room():
    rooms = [_room("yard#01", "Mill yard")]
    exits = [ExportExit("yard#01", "square#01", "southwest", ["sw"]), ExportExit("square#01", "yard#01",
                                                                                 "northeast", ["ne"])]
    [finding] = lint(rooms, exits, {"square#01": "Village square"})
    assert (finding.level, finding.room, finding.field) == ("warning", "Village square (square#01)", "connection")
    assert "already has an exit northeast" in finding.message and "re-routes that exit to Mill yard" in finding.message
    assert "Could not find" in finding.message


def test_a_connection_to_a_room_not_named_by_a_handle_is_an_error_it_would_be_written_raw_after_open():
    rooms = [_room("yard#01", "Mill yard")]
    exits = [ExportExit("yard#01", "square#01\n@py evil()", "southwest", ["sw"])]
    findings = lint(rooms, exits, {"square#01\n@py evil()": "Village square"})
    assert [(f.level, f.field) for f in findings if f.level == "error"] == [("error", "handle")]


def test_the_lint_notes_in_and_out_once_and_warns_of_each_alias_left_out():
    rooms = [_room("a#01", "A"), _room("b#01", "B")]
    exits = [ExportExit("a#01", "b#01", "in", ["i"]), ExportExit("b#01", "a#01", "out", ["o", "l"])]
    findings = lint(rooms, exits)
    assert [(f.level, f.field) for f in findings] == [("warning", "exits.out"), ("note", "exits")]
    assert "alias 'l' is left out of the .ev: it would hide Evennia's l command" in findings[0].message
    assert findings[1].message.startswith("2 in/out exits are written without the one-letter alias i/o")


def test_exit_names_written_leave_out_i_o_and_aliases_hiding_default_commands():
    assert exit_names_written("in", ["i", "door"]) == (["in", "door"], ["i"])
    assert exit_names_written("out", ["o"]) == (["out"], ["o"])
    assert exit_names_written("north", ["n", "look", "o"]) == (["north", "n", "o"], ["look"])


def test_the_project_page_lists_what_evennia_would_do_with_the_design(auth, admin):
    document = {"rooms": [{"key": "a", "name": "Slash/in/name", "attributes": {"MaxHP": 1}}, {"key": "b", "name": "B"}],
                "exits": [{"source": "a", "destination": "b", "direction": "in"},
                          {"source": "b", "destination": "a", "direction": "out"}]}
    project = design.create_project(admin, "Lint me", "", document)
    auth.login(admin.label)
    page = auth.get(f"/builds/{project.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Evennia" in text and "named exactly with @py" in text and "it is &#39;maxhp&#39; there" in text


def test_another_directions_short_form_on_an_exit_is_a_custom_alias_refused_when_it_hides_a_command():
    from webapp.commands import parse
    from webapp.errors import Invalid
    from webapp.worlds.commands import ExitDesign

    assert parse(ExitDesign, {"source_id": 1, "destination_id": 2, "direction": "in", "aliases": ["i"]}).aliases == ["i"]
    assert parse(ExitDesign, {"source_id": 1, "destination_id": 2, "direction": "north", "aliases": ["s"]}).aliases \
        == ["s"]  # hides nothing
    with pytest.raises(Invalid) as refused:
        parse(ExitDesign, {"source_id": 1, "destination_id": 2, "direction": "north", "aliases": ["i"]})
    assert "would hide Evennia's i command" in refused.value.message and list(refused.value.details) == ["aliases"]

