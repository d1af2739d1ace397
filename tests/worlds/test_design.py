"""The design of a draft: the room checks (422 naming the field), attribute text kept verbatim, exit names,
removing rooms."""

from __future__ import annotations

import pytest

from webapp.errors import BadRequest, Conflict, Invalid
from webapp.worlds import design, queries


def test_the_design_only_changes_while_the_project_is_a_draft(factories):
    admin = factories.user("admin")
    project = factories.build_project(admin, until="submitted")
    with pytest.raises(Conflict, match="only while the project is a draft"):
        design.add_room(admin, project.id, design.room_fields("cellar", "Cellar"))


@pytest.mark.parametrize(("field", "kwargs"), [
    ("key", {"key": "has space"}), ("key", {"key": ""}), ("name", {"name": ""}), ("name", {"name": "two\nlines"}),
    ("attributes", {"attributes": "[1, 2]"}), ("attributes", {"attributes": "{"}),
    ("attributes", {"attributes": '{"bad key": 1}'}), ("attributes", {"attributes": '{"x": NaN}'}),
    ("tags", {"tags": [["a;b", ""]]}), ("tags", {"tags": [["sandbox", "build"]]}),
])
def test_a_designed_room_with_a_bad_field_is_a_422_naming_it(field, kwargs):
    values = {"key": "hall", "name": "Hall", "description": "", "attributes": "{}", "tags": []} | kwargs
    with pytest.raises(Invalid) as caught:
        design.room_fields(**values)
    assert field in caught.value.details


def test_attribute_text_is_kept_verbatim(factories):
    admin = factories.user("admin")
    project = factories.build_project(admin, until="draft")
    text = '{ "sheet":{"str" :12,"notes":"é ☃", "ratio": 1.50} }'
    room = design.add_room(admin, project.id, design.room_fields("hall", "Hall", "", text))
    assert room.attributes_json == text
    assert room.attributes == {"sheet": {"str": 12, "notes": "é ☃", "ratio": 1.5}}


def test_two_exits_with_the_same_name_or_alias_from_one_room_are_refused(factories):
    admin = factories.user("admin")
    project = factories.build_project(admin, until="draft")
    gate, yard, loft = project.rooms
    with pytest.raises(Conflict, match="'north'"):
        design.add_exit(admin, project.id, gate.id, loft.id, "n")
    with pytest.raises(Conflict, match="'ladder'"):
        design.add_exit(admin, project.id, yard.id, gate.id, "west", "ladder")
    with pytest.raises(BadRequest, match="not a direction"):
        design.add_exit(admin, project.id, gate.id, loft.id, "sideways")
    with pytest.raises(Invalid, match="another room"):
        design.add_exit(admin, project.id, gate.id, gate.id, "east")
    added = design.add_exit(admin, project.id, gate.id, loft.id, "ne", "shortcut")
    assert (added.key, added.aliases) == ("northeast", ["ne", "shortcut"])


def test_removing_a_room_removes_its_exits_and_the_entry_falls_back_to_the_first_room(factories):
    admin = factories.user("admin")
    project = factories.build_project(admin, until="draft")
    gate, yard, _loft = project.rooms
    design.set_entry(admin, project.id, yard.id)
    assert queries.get_project(admin, project.id).entry_room.id == yard.id
    design.remove_room(admin, project.id, yard.id)
    project = queries.get_project(admin, project.id)
    assert [r.key for r in project.rooms] == ["gate", "loft"] and project.exits == []
    assert project.entry_room.id == gate.id
