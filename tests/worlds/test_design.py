"""The design of a draft: the room checks (422 naming the field), attribute text kept verbatim, exit names,
removing rooms."""

from __future__ import annotations

import re

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


def test_two_exits_with_the_same_name_or_alias_from_one_room_are_a_422_beside_the_field(factories):
    admin = factories.user("admin")
    project = factories.build_project(admin, until="draft")
    gate, yard, loft = project.rooms
    with pytest.raises(Invalid, match="'north'") as caught:
        design.add_exit(admin, project.id, gate.id, loft.id, "n")
    assert caught.value.status == 422 and set(caught.value.details) == {"direction"}
    with pytest.raises(Invalid, match="'ladder'") as caught:
        design.add_exit(admin, project.id, yard.id, gate.id, "west", "ladder")
    assert set(caught.value.details) == {"aliases"}
    with pytest.raises(BadRequest, match="not a direction"):
        design.add_exit(admin, project.id, gate.id, loft.id, "sideways")
    with pytest.raises(Invalid, match="another room"):
        design.add_exit(admin, project.id, gate.id, gate.id, "east")
    added = design.add_exit(admin, project.id, gate.id, loft.id, "ne", "shortcut")
    assert (added.key, added.aliases) == ("northeast", ["ne", "shortcut"])
    assert len(queries.get_project(admin, project.id).exits) == 5  # the refused ones wrote nothing


@pytest.mark.parametrize(("exits", "field", "name"), [
    ([{"source": "a", "destination": "b", "direction": "north"},
      {"source": "a", "destination": "c", "direction": "n"}], "direction", "north"),
    ([{"source": "a", "destination": "b", "direction": "north", "aliases": ["door"]},
      {"source": "a", "destination": "c", "direction": "east", "aliases": ["door"]}], "aliases", "door"),
])
def test_a_document_with_two_exits_of_one_name_is_a_422_naming_the_exit_and_field(factories, db, exits, field,
                                                                                  name):
    from sqlalchemy import func, select

    from webapp.worlds.models import BuildProject

    admin = factories.user("admin")
    rooms = [{"key": k, "name": k.upper()} for k in "abc"]
    with pytest.raises(Invalid) as caught:
        design.create_project(admin, "Twice", "", {"rooms": rooms, "exits": exits})
    assert caught.value.status == 422 and caught.value.message.startswith("exits[1]: 'A' already has an exit named")
    assert caught.value.details == {"exits": {1: {field: f"'A' already has an exit named {name!r} (as key or alias)"}}}
    db.session.rollback()  # what a request does at its end: nothing was committed
    assert db.session.scalar(select(func.count()).select_from(BuildProject)) == 0


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


def test_the_exit_form_answers_a_repeated_name_with_a_422_beside_its_field(auth, factories, db):
    admin = factories.user("admin", "Acme", email="boss@example.com")
    project = factories.build_project(admin, until="draft")
    gate, yard, loft = project.rooms
    auth.login("boss@example.com")
    answer = auth.post(f"/builds/{project.id}/exits", data={"source_id": gate.id, "destination_id": loft.id,
                                                            "direction": "n"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert re.search(r'<select name="direction" aria-invalid="true">', page)
    assert '<small class="field-error">&#39;Mill gate&#39; already has an exit named &#39;north&#39;' in page
    answer = auth.post(f"/builds/{project.id}/exits", data={"source_id": yard.id, "destination_id": gate.id,
                                                            "direction": "west", "aliases": "ladder"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422 and 'value="ladder"' in page
    assert re.search(r'name="aliases" value="ladder"[^>]*aria-invalid="true"', page)
    assert len(queries.get_project(admin, project.id).exits) == 4


def test_a_design_over_the_api_with_one_name_twice_is_a_422_naming_the_exit(client, factories, db):
    from sqlalchemy import func, select

    from webapp.worlds.models import BuildProject

    admin = factories.user("admin", "Acme")
    headers = {"Authorization": f"Bearer {factories.personal_token(admin)}"}
    body = {"name": "Twice", "rooms": [{"key": "a", "name": "A"}, {"key": "b", "name": "B"}],
            "exits": [{"source": "a", "destination": "b", "direction": "up", "aliases": ["stairs"]},
                      {"source": "a", "destination": "b", "direction": "in", "aliases": ["stairs"]}]}
    for url in ("/api/v1/builds", "/api/v1/builds/import"):
        answer = client.post(url, headers=headers, json=body)
        assert answer.status_code == 422, answer.get_json()
        assert answer.get_json()["error"] == "invalid"
        assert answer.get_json()["details"] == {"exits": {"1": {"aliases": "'A' already has an exit named 'stairs' "
                                                                           "(as key or alias)"}}}
    assert db.session.scalar(select(func.count()).select_from(BuildProject)) == 0
