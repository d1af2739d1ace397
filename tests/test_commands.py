"""Typed commands (webapp/commands.py): one model reads a JSON body, a form and a query string, and what does
not validate is the project's 400/422 naming each field by its path."""

from __future__ import annotations

import pytest
from pydantic import ConfigDict, Field, field_validator
from werkzeug.datastructures import MultiDict

from webapp.commands import Command, Flag, Line, Text, ZoneName, bad_request, field_path, invalid, parse, whole
from webapp.errors import BadRequest, Invalid, error_response


class Room(Command):
    name: Line
    description: Text = ""


class Draft(Command):
    model_config = ConfigDict(extra="forbid")

    name: Line = ""
    lead_minutes: whole(0, 240) = 15
    time_zone: ZoneName = "Europe/Ljubljana"
    statuses: list[str] = Field(default_factory=list)
    dry_run: Flag = False
    page: whole() | None = None
    rooms: list[Room] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value == "admin":
            raise invalid("is reserved")
        if value == "root":
            raise bad_request("is not a name")
        return value


def refused(data, source="json"):
    with pytest.raises((BadRequest, Invalid)) as caught:
        parse(Draft, data, source=source)
    return caught.value


def test_a_valid_json_body_becomes_the_typed_command_with_defaults_and_stripped_lines():
    draft = parse(Draft, {"name": "  Tonight ", "lead_minutes": 10, "statuses": ["maybe"], "dry_run": True,
                          "rooms": [{"name": " Hall "}]})
    assert draft == Draft(name="Tonight", lead_minutes=10, statuses=["maybe"], dry_run=True, rooms=[Room(name="Hall")])
    assert draft.time_zone == "Europe/Ljubljana" and draft.page is None


def test_a_form_with_checkboxes_repeated_fields_empty_numbers_and_a_csrf_token_reads_as_the_same_command():
    form = MultiDict([("name", "Tonight"), ("lead_minutes", " 10 "), ("statuses", "available"), ("statuses", "maybe"),
                      ("dry_run", "on"), ("page", ""), ("csrf_token", "abc"), ("submit", "Save")])
    assert parse(Draft, form, source="form") == Draft(name="Tonight", lead_minutes=10,
                                                      statuses=["available", "maybe"], dry_run=True)
    unchecked = parse(Draft, MultiDict([("name", "x")]), source="form")
    assert unchecked.dry_run is False and unchecked.lead_minutes == 15


def test_a_query_string_reads_like_a_form():
    assert parse(Draft, MultiDict([("page", "3")]), source="query").page == 3


@pytest.mark.parametrize("value", [True, 1.5, "²", "١٥", "1e3", "1.0", "abc", [15]])
def test_a_whole_number_refuses_bools_floats_and_other_digits_with_400_naming_the_field(value):
    error = refused({"lead_minutes": value})
    assert isinstance(error, BadRequest) and error.status == 400
    assert error.details == {"lead_minutes": "must be a whole number"}
    assert "'lead_minutes' must be a whole number" in error.message


@pytest.mark.parametrize("value", [-1, 241, "9" * 5000])
def test_a_whole_number_out_of_range_is_400_worded_as_the_query_checks_word_it(value):
    error = refused({"lead_minutes": value})
    assert error.status == 400 and error.details == {"lead_minutes": "must be between 0 and 240"}


def test_nested_errors_name_their_path_and_unknown_fields_are_listed():
    error = refused({"rooms": [{"name": "ok"}, {"name": 7}, {}], "colour": "red"})
    assert error.status == 400
    assert error.details == {"rooms[1].name": "must be a string", "rooms[2].name": "is required",
                             "colour": "unknown field"}
    assert "'rooms[1].name' must be a string" in error.message and "Unknown field(s): colour" in error.message


@pytest.mark.parametrize("text, problem", [("a\x00b", "NUL"), ("hi \ud800", "surrogate")])
def test_text_that_cannot_be_stored_is_400(text, problem):
    error = refused({"rooms": [{"name": "x", "description": text}]})
    assert error.status == 400 and problem in error.details["rooms[0].description"]


def test_text_is_never_a_number():
    assert refused({"name": 12}).details == {"name": "must be a string"}


@pytest.mark.parametrize("zone", ["America", "Europe/Paris/x", "9" * 5000, "../../etc/passwd", 5])
def test_a_time_zone_that_is_not_a_zone_is_400(zone):
    error = refused({"time_zone": zone})
    assert error.status == 400 and "time_zone" in error.details and "IANA" in error.message


def test_a_flag_is_json_true_or_false_only():
    assert refused({"dry_run": "yes"}).details == {"dry_run": "must be true or false"}
    assert refused({"dry_run": 1}).status == 400


def test_a_rule_broken_by_a_well_formed_value_is_422_and_a_validator_may_choose_400():
    assert isinstance(refused({"name": "admin"}), Invalid)
    assert refused({"name": "admin"}).details == {"name": "is reserved"}
    assert refused({"name": "root"}).status == 400


def test_a_body_that_is_not_an_object_is_400_without_details():
    error = refused(["x"])
    assert error.status == 400 and error.message == "The body must be a JSON object." and error.details is None


@pytest.mark.parametrize("loc, path", [(("config", "prompt"), "config.prompt"), (("rooms", 0, "name"), "rooms[0].name"),
                                       (("config", "a key"), 'config."a key"'), (("x", 1, 2), "x[1][2]")])
def test_field_paths_are_written_as_the_project_writes_them(loc, path):
    assert field_path(loc) == path


def test_the_error_reaches_a_client_in_the_existing_json_shape(app):
    error = refused({"rooms": [{"name": 7}]})
    with app.test_request_context("/api/v1/builds", method="POST"):
        response = error_response(error.status, error.code, error.message, error.details)
    assert response.status_code == 400
    assert response.get_json() == {"error": "bad_request", "message": "'rooms[0].name' must be a string.",
                                   "details": {"rooms[0].name": "must be a string"}}
