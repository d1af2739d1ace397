"""The typed commands of world builds: what the build forms and the `/api/v1/builds…` bodies and queries become
before a service sees them (webapp/commands.py), with the answers clients already know for bad input.

A designed room answers one 422 naming every field that is wrong (`details` maps each field to its problem;
in a design document `rooms[2]: The room has errors: …` with `details` `{"rooms": {2: {…}}}`). Whole-command
refusals that name no single room field (an unknown direction, a room id that is not a number, rooms that are
not a list) are raised from the validators as the domain errors the services used to raise by hand, so
their codes (`unknown_direction`, `bad_request`) and messages stay as they were.
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from webapp import inputs
from webapp.commands import Command, Flag, Id, Line, Text, command_error, invalid, parse, whole
from webapp.errors import BadRequest, DomainError, Invalid
from webapp.worlds import evennia_lint
from webapp.worlds.directions import find_direction, parse_direction
from webapp.worlds.models import BUILD_CATEGORY

KEY_RE = re.compile(r"[A-Za-z0-9_-]{1,80}")
ATTRIBUTE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,79}")
TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
ALIAS_RE = re.compile(r"[a-z0-9_-]{1,40}")
MAX_DESCRIPTION = 20_000
MAX_ATTRIBUTES = 64 * 1024
MAX_ROOMS = 5_000
MAX_PROJECT_NAME = 120

# What is wrong with each field of a designed room, as the 422's `details` words it.
ROOM_PROBLEMS = {
    "key": "1 to 80 letters, digits, '_' or '-' (it names the room in exports, e.g. mill#01)",
    "name": "required, one line of at most 200 characters",
    "description": f"text of at most {MAX_DESCRIPTION:,} characters",
    "attributes": "must be a JSON object of attribute names and values",
    "tags": "a list of [key, category] pairs",
}


# -- a designed room ---------------------------------------------------------------------------


def _room_key(value: object) -> str:
    key = value.strip() if isinstance(value, str) else ""
    if not KEY_RE.fullmatch(key):
        raise invalid(ROOM_PROBLEMS["key"])
    return key


def _room_name(value: object) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > 200 or evennia_lint.LINE_BREAK.search(name):  # \u2028 too: a line of its own in Evennia
        raise invalid(ROOM_PROBLEMS["name"])
    return name


def _description(value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise invalid(ROOM_PROBLEMS["description"])
    return value.replace("\r\n", "\n").replace("\r", "\n")


def _attributes(value: object) -> str:
    """JSON text (kept verbatim) or an already parsed object (written once as JSON): the room's attributes."""
    if isinstance(value, str):
        text = value.strip() or "{}"
        if len(text) > MAX_ATTRIBUTES:
            raise invalid(f"at most {MAX_ATTRIBUTES // 1024} KB of JSON")
        try:
            parsed = inputs.loads(text)
        except ValueError as exc:
            raise invalid(f"not valid JSON: {exc}") from None
    else:
        problem = inputs.document_problem(value)
        if problem:
            raise invalid(problem)
        parsed, text = value, json.dumps(value, ensure_ascii=False)
    if not isinstance(parsed, dict):
        raise invalid(ROOM_PROBLEMS["attributes"])
    bad = [k for k in parsed if not ATTRIBUTE_RE.fullmatch(k)]
    if bad:
        raise invalid(f"attribute names must be identifiers (letters, digits, '_', not starting with a digit); "
                      f"not {bad[0]!r}")
    clashing = evennia_lint.attribute_problems(parsed)  # `desc`, and names one in Evennia's lower case
    if clashing:
        raise invalid(next(iter(clashing.values())))
    return text


def _tags(value: object, *, drop_build_tags: bool = False) -> list[list[str]]:
    """[key, category] pairs (or {"key", "category"} objects, or bare keys). Tags of the `build` category are the
    build's own: refused in a form, dropped from a design document (an export carries them)."""
    if not isinstance(value, list | tuple):
        raise invalid(ROOM_PROBLEMS["tags"])
    result: list[list[str]] = []
    for tag in value:
        if isinstance(tag, dict):
            tag = [tag.get("key"), tag.get("category") or ""]
        if isinstance(tag, str):
            tag = [tag, ""]
        if not isinstance(tag, list | tuple) or len(tag) != 2 or not all(isinstance(t, str) for t in tag):
            raise invalid("each tag is a key and a category")
        key, category = tag[0].strip().lower(), tag[1].strip().lower()  # as Evennia stores (and finds) them
        if not TAG_RE.fullmatch(key) or (category and not TAG_RE.fullmatch(category)):
            raise invalid(f"tag {key!r}: keys and categories are letters, digits, '_', '.', '-' "
                          "(no spaces, ';', ',', '=' or ':')")
        if category == BUILD_CATEGORY and drop_build_tags:
            continue
        if category == BUILD_CATEGORY:
            raise invalid(f"the category {BUILD_CATEGORY!r} is reserved for the tags a build adds")
        if [key, category] not in result:
            result.append([key, category])
    return result


_TAG_SCHEMA = {"type": "array", "description": "[key, category] pairs, {\"key\", \"category\"} objects or bare keys",
               "items": {"anyOf": [{"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
                                   {"type": "object", "properties": {"key": {"type": "string"},
                                                                     "category": {"type": ["string", "null"]}}},
                                   {"type": "string"}]}}

RoomKey = Annotated[str, BeforeValidator(_room_key),
                    WithJsonSchema({"type": "string", "pattern": "^\\s*[A-Za-z0-9_-]{1,80}\\s*$"})]
RoomName = Annotated[str, BeforeValidator(_room_name), WithJsonSchema({"type": "string", "maxLength": 200})]
RoomDescription = Annotated[str, BeforeValidator(_description),
                            WithJsonSchema({"type": "string", "maxLength": MAX_DESCRIPTION})]
AttributesText = Annotated[str, BeforeValidator(_attributes),
                           WithJsonSchema({"description": "a JSON object of attributes, or its JSON text",
                                           "anyOf": [{"type": "object"}, {"type": "string"}]})]
Tags = Annotated[list[list[str]], BeforeValidator(_tags), WithJsonSchema(_TAG_SCHEMA)]
DocumentTags = Annotated[list[list[str]], BeforeValidator(lambda value: _tags(value, drop_build_tags=True)),
                         WithJsonSchema(_TAG_SCHEMA)]


def _requires(*names: str) -> ConfigDict:
    """A model whose fields default so that their own check answers when they are missing, described as requiring
    them all the same."""
    return ConfigDict(json_schema_extra={"required": list(names)})


def _not_null(schema: dict[str, Any]) -> None:
    """A field that may be left out but not sent as null (the check refuses null with its own 400)."""
    options = [o for o in schema.pop("anyOf", []) if o.get("type") != "null"]
    schema.update(options[0] if options else {})
    schema.pop("default", None)


class RoomDesign(Command):
    """One designed room: the room form and each room of a design document. `attributes` is read as JSON text
    and kept verbatim (or an object, written once as JSON); `tags` are [key, category] pairs."""

    model_config = _requires("key", "name")

    key: RoomKey = Field("", validate_default=True)
    name: RoomName = Field("", validate_default=True)
    description: RoomDescription = ""
    attributes: AttributesText = "{}"
    tags: Tags = Field(default_factory=list)


def room_problems(exc: ValidationError, depth: int = 0) -> dict[str, str]:
    """Each wrong field of a room (its name at `loc[depth]`) and what is wrong with it."""
    problems: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        field = str(error["loc"][depth]) if len(error["loc"]) > depth else ""
        if field in ROOM_PROBLEMS:
            problems.setdefault(field, error["msg"] if error["type"] == "invalid" else ROOM_PROBLEMS[field])
    return problems


def room_invalid(problems: dict[str, str]) -> Invalid:
    return Invalid("The room has errors: " + "; ".join(f"{k}: {v}" for k, v in problems.items()) + ".",
                   details=problems)


def room_design(data: Mapping[str, object]) -> RoomDesign:
    """`data` as a designed room, or one 422 naming every field that is wrong."""
    try:
        return RoomDesign.model_validate(data)
    except ValidationError as exc:
        raise room_invalid(room_problems(exc)) from None


def _left_out(schema: dict[str, Any]) -> None:
    """A field that may be left out (it keeps its value), described without the default no client sends."""
    schema.pop("default", None)


def _schema_of(kind: Any) -> WithJsonSchema:
    """The JSON Schema an annotated field type of a room carries, for a field that takes any JSON and has it
    checked by that type later."""
    return next(m for m in typing.get_args(kind)[1:] if isinstance(m, WithJsonSchema))


class RoomChanges(Command):
    """A change to a live room (`POST /world/rooms/<id>`): any of a room's fields; those left out keep their
    values. What results is checked as a designed room is (`RoomDesign`): one 422 naming every wrong field."""

    key: Annotated[JsonValue, _schema_of(RoomKey)] = Field(None, json_schema_extra=_left_out)
    name: Annotated[JsonValue, _schema_of(RoomName)] = Field(None, json_schema_extra=_left_out)
    description: Annotated[JsonValue, _schema_of(RoomDescription)] = Field(None, json_schema_extra=_left_out)
    attributes: Annotated[JsonValue, _schema_of(AttributesText)] = Field(None, json_schema_extra=_left_out)
    tags: Annotated[JsonValue, _schema_of(Tags)] = Field(None, json_schema_extra=_left_out)

    def applied_to(self, current: Mapping[str, object]) -> RoomDesign:
        """`current` (a room's values as a designed room takes them) with the fields this change gives."""
        return room_design({**current, **{name: getattr(self, name) for name in sorted(self.model_fields_set)}})


def parse_tag_text(text: str) -> list[list[str]]:
    """The form's tags: `outdoors:terrain, quest` → [["outdoors", "terrain"], ["quest", ""]]."""
    return [[k.strip(), c.strip()] for k, _, c in (t.partition(":") for t in (text or "").split(",")) if k.strip()]


# -- exits and directions ----------------------------------------------------------------------


def _direction(value: object) -> str:
    return parse_direction(value).name  # 400 unknown_direction, naming the valid ones


def parse_aliases(value: object) -> list[str]:
    """Custom exit names: a list of words (or the form's comma-separated text)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise Invalid("Aliases are a list of words.", details={"aliases": "a list of words"})
    aliases = [a.strip().lower() for a in value if a.strip()]
    for alias in aliases:
        if not ALIAS_RE.fullmatch(alias):
            raise Invalid(f"Alias {alias!r}: 1 to 40 lowercase letters, digits, '_' or '-'.",
                          details={"aliases": "lowercase letters, digits, '_' or '-'"})
        # An exit is a command of its room, and wins over the default one. A direction's own short form (`i`, as
        # an export of an `in` exit lists it) is the design's vocabulary: the .ev export leaves `i` out (evennia_lint).
        hidden = None if find_direction(alias) else evennia_lint.shadowed_command(alias)
        if hidden:
            problem = f"{alias!r} would hide Evennia's {hidden} command in that room"
            raise Invalid(f"Alias {problem}.", details={"aliases": problem})
    return aliases


DirectionName = Annotated[str, BeforeValidator(_direction),
                          WithJsonSchema({"type": "string", "examples": ["north", "n", "up"],
                                          "description": "a direction or its short form, any case"})]
Aliases = Annotated[list[str], BeforeValidator(parse_aliases),
                    WithJsonSchema({"anyOf": [{"type": "array", "items": {"type": "string", "pattern": "^[a-z0-9_-]{1,40}$"}},
                                              {"type": "string", "description": "comma-separated"}]})]


def other_directions_shadowing(direction: str | None, aliases: list[str]) -> None:
    """A direction's short form is the design's own word only on an exit of that direction (`i` on an `in` exit);
    on another exit it is a custom alias like any other, and 422 when it would hide a default command (`i` on a
    `north` exit hides Evennia's inventory)."""
    own = find_direction(direction or "")
    for alias in aliases:
        named = find_direction(alias)
        hidden = evennia_lint.shadowed_command(alias) if named is not None and named != own else None
        if hidden:
            problem = f"{alias!r} would hide Evennia's {hidden} command in that room"
            raise Invalid(f"Alias {problem}.", details={"aliases": problem})


class ExitDesign(Command):
    """An exit of the design form: from one designed room to another, in a direction, with custom aliases."""

    source_id: Id
    destination_id: Id
    direction: DirectionName = Field(None, validate_default=True)
    aliases: Aliases = Field(default_factory=list)

    @model_validator(mode="after")
    def _aliases_of_its_direction(self) -> ExitDesign:
        other_directions_shadowing(self.direction, self.aliases)
        return self


class LiveExit(ExitDesign):
    """An exit between two live rooms (`POST /world/exits`, the live room page): in a direction, with custom
    aliases, and with `both_ways` the exit back the opposite way too (named by that direction alone)."""

    both_ways: Flag = False


# -- a design document (the create body, an import) --------------------------------------------


def _each_item(name: str, value: object, handler: ValidatorFunctionWrapHandler,
               item_error: Callable[[int, ValidationError], DomainError]) -> Any:
    """A list of the design (`rooms`, `exits`): a 400 unless it is a list of objects, then the first item that
    does not validate answered as `item_error` words it."""
    if not isinstance(value, list):
        raise BadRequest("'rooms' and 'exits' are lists.")
    if name == "rooms" and len(value) > MAX_ROOMS:
        raise Invalid(f"A project holds at most {MAX_ROOMS:,} rooms.")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise BadRequest(f"{name}[{index}] is not an object.")
    try:
        return handler(value)
    except ValidationError as exc:
        index = next(e["loc"][0] for e in exc.errors(include_url=False))
        raise item_error(int(index), exc) from None


def _room_error(index: int, exc: ValidationError) -> DomainError:
    problem = room_invalid(room_problems(exc, depth=1))
    return Invalid(f"rooms[{index}]: {problem.message}", details={"rooms": {index: problem.details}})


class DocumentRoom(RoomDesign):
    """A room of a design document: `id` (or else its `key`) is what the document's exits and `entry` name."""

    id: JsonValue = None
    tags: DocumentTags = Field(default_factory=list)

    @property
    def reference(self) -> JsonValue:
        """What the document's exits (and `entry`) call this room: its `id`, else its `key`."""
        return self.id if "id" in self.model_fields_set else self.key


class DocumentExit(Command):
    """An exit of a design document, between rooms named by their document `id` (or `key`)."""

    source: JsonValue = None
    destination: JsonValue = None
    direction: DirectionName = Field(None, validate_default=True, validation_alias=AliasChoices("direction", "key"))
    aliases: Aliases = Field(default_factory=list)

    @model_validator(mode="after")
    def _aliases_of_its_direction(self) -> DocumentExit:
        other_directions_shadowing(self.direction, self.aliases)
        return self


class DesignDocument(Command):
    """The rooms and exits of an area, and which room is the entry: a create body or an import."""

    rooms: list[DocumentRoom] | None = Field(None, json_schema_extra=_not_null)
    exits: list[DocumentExit] | None = Field(None, json_schema_extra=_not_null)
    entry: JsonValue = None

    @field_validator("rooms", mode="wrap")
    @classmethod
    def _rooms(cls, value: object, handler: ValidatorFunctionWrapHandler) -> Any:
        return _each_item("rooms", value, handler, _room_error)

    @field_validator("exits", mode="wrap")
    @classmethod
    def _exits(cls, value: object, handler: ValidatorFunctionWrapHandler) -> Any:
        return _each_item("exits", value, handler, lambda _index, exc: command_error(exc))

    @property
    def has_design(self) -> bool:
        return self.rooms is not None or self.exits is not None


class NewProject(DesignDocument):
    """`POST /builds` (form or JSON): a name, a description, and optionally the design (rooms, exits, entry)."""

    name: Line | None = None
    description: Text | None = None


def _import_description(value: object) -> object:
    if value is not None and not isinstance(value, str):
        raise Invalid("The description is text.", details={"description": "text"})
    return value


class ImportDocument(DesignDocument):
    """A JSON export (`GET /world/export`) or any design document, imported as a new draft. Its `name` (else
    "Imported <title>") names the draft; the tags a build adds are left out."""

    format: JsonValue = None
    name: JsonValue = None
    title: JsonValue = None
    description: Annotated[str | None, BeforeValidator(_import_description)] = None

    def project_name(self, given: str | None = None) -> str:
        """The draft's name: `given` (the `?name=`), the document's, or "Imported <title>"; at most 120 characters
        (a name that is not text is refused by the project's name check)."""
        name = given or self.name or f"Imported {self.title or 'area'}"
        return name[:MAX_PROJECT_NAME] if isinstance(name, str) else ""


def read_import(data: object) -> ImportDocument:
    """A parsed JSON import as a command (400 unless it is an object)."""
    if not isinstance(data, dict):
        raise BadRequest("The import is a JSON object with 'rooms' and 'exits'.")
    try:
        return ImportDocument.model_validate(data)
    except ValidationError as exc:
        raise command_error(exc) from None


def read_design(data: object) -> DesignDocument:
    """A design document (the seed's, a test's) as a command; for the API body use `NewProject`."""
    if isinstance(data, DesignDocument):
        return data
    if not isinstance(data, dict):
        raise BadRequest("The design is a JSON object with 'rooms' and 'exits'.")
    return parse(DesignDocument, data)


# -- review and promotion ----------------------------------------------------------------------


class ReviewStep(Command):
    """`POST /builds/<id>/{submit,approve,reject}`: a rejection says why (`reason`)."""

    reason: Text | None = None


def _room_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadRequest("'connection_room_id' is the id of a live room.")
    return inputs.whole_number(str(value), "connection_room_id")


RoomId = Annotated[int, BeforeValidator(_room_id),
                   WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1, "maximum": inputs.MAX_ID},
                                             {"type": "string", "pattern": "^\\s*[+-]?[0-9]+\\s*$"}],
                                   "description": "the id of a live room"})]


class PromotionTarget(Command):
    """Where the area is connected: the live room and the direction from it (the preview's query)."""

    model_config = _requires("connection_room_id", "connection_direction")

    connection_direction: DirectionName = Field(None, validate_default=True)  # checked first, as always
    connection_room_id: RoomId = Field(None, validate_default=True)  # type: ignore[assignment]


class PromoteBuild(PromotionTarget):
    """`POST /builds/<id>/promote`: the target, and the `preview_token` of the dialog that showed it."""

    preview_token: Text | None = None
    override_reason: Line | None = Field(None, description="Admins only, where the approval policy requires "
                                                           "approval: apply without it, saying why (audited).")


# -- the live world ------------------------------------------------------------------------------


class LiveRoomsQuery(Command):
    """The Live world page's list: live rooms whose name, key or handle contains `q`, a page at a time."""

    q: Text = ""
    page: whole(1, 1_000_000) = 1  # type: ignore[valid-type]
