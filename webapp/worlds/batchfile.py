"""Evennia batch-command files (`.ev`): the export of rooms and exits that Evennia 5's own `batchcommands`
builds exactly, the way Evennia splits such a file into commands (`parse`), and the reader that turns a file
the export wrote back into the JSON export's document (`to_document`).

How Evennia 5.0.1 reads the file (`BatchCommandProcessor.parse_file`): every line whose first character is
`#` is a comment and ends the command before it; the lines between two comments are one command, passed on
as they are (not joined, not stripped inside); each command is run as if the builder typed it, so it finds
what it names near the builder — after a plain `@dig` the builder is still in the old room, and `@desc mill#01`
answers "Could not find". Hence the export (one command per line, a `#` line after each):

    @dig/teleport Mill yard;millyard#01          dig the room and step into it: everything below is `here`
    # millyard#01: key millyard                  (the design key, for the reader; Evennia ignores comments)
    @set here/desc = 'Sacks of grain…\\n\\n…'      the description as a Python literal, exact to the byte
    @set here/light = 3                          one per attribute: `@set` reads the value with literal_eval
    @tag here = outdoors:terrain                 one per tag
    @open north;n, south;s = millfloor#01        exits to rooms dug before (and the way back), opened from here
    @teleport loft#01 / @open … = …              last, the one-way exits whose room was dug before their target

What `@dig` cannot take in a name is made exact another way: a name ending in the typeclass separator `:` gets
an empty typeclass (`Mill: yard;millyard#01:`, the default one); a name with `=` (which `@dig` reads as its
exits) is dug without it and given with `@name here = …`; a name with `;`, `,` or `/` (which `@dig` and `@name`
cut it at) is dug without them and set with `@py here.key = '…'` (Developers only, as `batchcommands` itself).
The rest is in `webapp/worlds/evennia_lint.py`: what the export refuses, and what Evennia changes (attribute
names and tags in lower case, the aliases i/o and any alias hiding a default command left out).
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from webapp.worlds import evennia_lint
from webapp.worlds.directions import DIRECTIONS
from webapp.worlds.evennia_lint import EVENNIA_VERSION, LINE_BREAK, NAME_CUT, Finding

FORMAT = "promotion-desk/world@1"
TITLE_PREFIX = "# Promotion Desk export of "
_KEY_COMMENT = re.compile(r"# (?P<handle>[a-z0-9_]+#[0-9]+): key (?P<key>[A-Za-z0-9_-]{1,80})")
_INSERT = re.compile(r"^\#\s*?INSERT (.*)$", re.MULTILINE)  # Evennia's own: it pastes that file in here
_HANDLE = re.compile(r"[a-z0-9_]+#[0-9]+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class ExportRoom:
    handle: str  # unique, [a-z0-9_]+#[0-9]+ (mill#01): the room's alias in Evennia, how the file names it
    name: str  # one line
    description: str  # any text
    attributes: Mapping[str, Any]  # identifier → JSON value
    tags: Sequence[tuple[str, str]]  # (key, category); category may be ""
    key: str = ""  # the design key (kept in a comment for the reader)


@dataclass(frozen=True)
class ExportExit:
    source: str  # handles: of exported rooms, or of a room the file does not dig (`outside`)
    destination: str
    key: str  # "north"
    aliases: Sequence[str] = field(default_factory=list)  # ["n"]


class NotExportable(ValueError):
    """The rooms hold something the file cannot build exactly; `findings` says what, room by room."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        shown = "; ".join(str(f) for f in findings[:5])
        more = f" … and {len(findings) - 5} more" if len(findings) > 5 else ""
        super().__init__(f"{shown}{more}")


# -- writing ------------------------------------------------------------------------------------------


def _comment(text: str) -> str:
    return "# " + " ".join(LINE_BREAK.sub(" ", text).split())


def _room_commands(room: ExportRoom) -> list[str]:
    name, handle = room.name, room.handle
    colon = ":" if ":" in name else ""  # the typeclass is what follows the last ':': an empty one is the default
    cut = any(c in NAME_CUT for c in name)
    dug = (" ".join(re.sub(f"[{re.escape(NAME_CUT)}=]", " ", name).split()) or handle) if cut or "=" in name else name
    lines = [f"@dig/teleport {dug};{handle}{':' if ':' in dug else ''}", _comment(f"{handle}: key {room.key}")
             if room.key else "#"]
    if cut:
        lines += [f"@py here.key = {name!r}", "#"]
    elif "=" in name:
        lines += [f"@name here = {name}{colon}", "#"]
    lines += [f"@set here/desc = {room.description!r}", "#"]
    for attribute, value in room.attributes.items():
        lines += [f"@set here/{attribute} = {value!r}", "#"]
    for key, category in room.tags:
        lines += [f"@tag here = {key}:{category}" if category else f"@tag here = {key}", "#"]
    return lines


def _names(exit_: ExportExit) -> str:
    return ";".join(evennia_lint.exit_names_written(exit_.key, exit_.aliases)[0])


def render(rooms: Sequence[ExportRoom], exits: Sequence[ExportExit], title: str = "",
           outside: Mapping[str, str] | None = None) -> str:
    """The batch file that builds `rooms` and `exits` in Evennia. `outside` names the rooms exits reach that the
    file does not dig (handle → name: the live room an area is connected to); an exit from such a room is written
    with its way back, from the area's room (the file never opens an exit in a room it has not just entered), and
    left out when it has none (the lint says so).

    Raises NotExportable naming each room and field the file cannot carry exactly (evennia_lint's errors)."""
    outside = dict(outside or {})
    findings = evennia_lint.lint(rooms, exits, outside)
    refused = evennia_lint.errors(findings)
    if refused:
        raise NotExportable(refused)
    position = {r.handle: i for i, r in enumerate(rooms)} | {h: -1 for h in outside}
    leaving: dict[str, list[ExportExit]] = defaultdict(list)  # opened from the source, once the target exists
    arriving: dict[str, list[ExportExit]] = defaultdict(list)  # the source was dug first (or is outside)
    for e in exits:
        if position[e.source] >= position[e.destination]:
            leaving[e.source].append(e)
        else:
            arriving[e.destination].append(e)
    heading = " ".join(LINE_BREAK.sub(" ", title).split()) or "a world"
    crossing = sum(1 for e in exits if e.source in outside or e.destination in outside)
    out = ["#", f"{TITLE_PREFIX}{heading}",
           _comment(f"{len(rooms)} rooms, {len(exits)} exits"
                    + (f" ({crossing} to or from rooms it does not dig: {', '.join(sorted(outside))})"
                       if crossing else "") + f". Tested with Evennia {EVENNIA_VERSION}."),
           "# Load it as a Developer: save it as world/<name>.ev in your game and type  batchcommands world.<name>",
           "# Each room is dug and entered (@dig/teleport), then set up as 'here'; exits are opened from the room",
           "# the builder stands in. Load a file once: a second load digs a second copy, whose exits between its",
           "# rooms Evennia refuses (each handle then names two rooms: 'More than one match').",
           *(_comment(f"{f.level}: {f}") for f in findings), "#"]
    deferred: list[ExportExit] = []
    for room in rooms:
        out += _room_commands(room)
        waiting = list(arriving.get(room.handle, []))
        for e in leaving.get(room.handle, []):
            target = "here" if e.destination == room.handle else e.destination
            back = next((f for f in waiting if f.source == e.destination), None)
            if back is not None:
                waiting.remove(back)
                out += [f"@open {_names(e)}, {_names(back)} = {target}", "#"]
            else:
                out += [f"@open {_names(e)} = {target}", "#"]
        deferred += [f for f in waiting if f.source not in outside]  # from outside without a way back: left out
    by_source: dict[str, list[ExportExit]] = defaultdict(list)
    for e in deferred:
        by_source[e.source].append(e)
    for source, one_way in by_source.items():
        out += [f"@teleport {source}", _comment(f"one-way exits of {source}")]
        out += [line for e in one_way for line in (f"@open {_names(e)} = {e.destination}", "#")]
    return "\n".join(out) + "\n"


# -- reading --------------------------------------------------------------------------------------------


def parse(text: str) -> list[str]:
    """The commands of a batch file as Evennia 5.0.1 splits it (`BatchCommandProcessor.parse_file`, without
    `#INSERT`): the text between two comment lines (first character `#`), with line breaks at its ends stripped;
    empty ones dropped."""
    return [c for c in (part.strip("\r\n") for part in re.split(r"^\#.*?$", text, flags=re.MULTILINE)) if c]


def _commands(text: str) -> list[tuple[int, str, list[str]]]:
    """(line number, command, the comment lines right after it) — one line each, as the export writes them."""
    found: list[tuple[int, str, list[str]]] = []
    block: list[tuple[int, str]] = []

    def finish() -> None:
        lines = [(n, line) for n, line in block if line.strip()]
        block.clear()
        if len(lines) > 1:
            raise ValueError(f"line {lines[1][0]}: a command of several lines ({lines[0][1][:60]!r} …) is not one "
                             "the export writes")
        if lines:
            found.append((lines[0][0], lines[0][1].strip(), []))

    for number, line in enumerate(text.split("\n"), start=1):
        if line.startswith("#"):
            finish()
            if found and not block:
                found[-1][2].append(line)
        else:
            block.append((number, line.removesuffix("\r")))
    finish()
    return found


def _objdef(text: str) -> tuple[str, list[str], str | None]:
    """`name;alias;alias:typeclass` as Evennia's ObjManipCommand reads one (name, aliases, typeclass)."""
    option = None
    if ":" in text:
        text, option = (part.strip() for part in text.rsplit(":", 1))
    aliases: list[str] = []
    if ";" in text:
        text, rest = (part.strip() for part in text.split(";", 1))
        aliases = [a.strip() for a in rest.split(";") if a.strip()]
    return text, aliases, option


def _literal(source: str, where: str) -> Any:
    try:
        value = ast.literal_eval(source)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise ValueError(f"{where}: {source[:60]!r} is not a Python literal") from None
    problem = evennia_lint.json_value_problem(value)
    if problem:
        raise ValueError(f"{where}: {problem}")
    return value


@dataclass
class _Reading:
    rooms: dict[str, dict[str, Any]] = field(default_factory=dict)
    exits: list[dict[str, Any]] = field(default_factory=list)
    here: str | None = None
    opened: set[tuple[str, str]] = field(default_factory=set)

    def room(self, where: str) -> dict[str, Any]:
        if self.here is None:
            raise ValueError(f"{where}: 'here' is no room of the file yet (a command before the first @dig)")
        return self.rooms[self.here]

    def open(self, where: str, source: str, destination: str, objdef: str) -> None:
        key, aliases, option = _objdef(objdef)
        if option or key not in DIRECTIONS or not all(_word(a) for a in aliases):
            raise ValueError(f"{where}: {objdef!r} is not an exit the export writes (a direction and its aliases)")
        for name in (key, *aliases):
            if (source, name) in self.opened:
                raise ValueError(f"{where}: {source} has two exits named {name!r}")
            self.opened.add((source, name))
        short = evennia_lint.LEFT_OUT_SHORT_FORMS.get(key)
        if short and short not in aliases:
            aliases = [short, *aliases]  # left out of the file (it hides `i`nventory): every import adds it back
        self.exits.append({"source": source, "destination": destination, "direction": key, "aliases": aliases})


def _word(text: str) -> bool:
    return bool(re.fullmatch(r"[a-z0-9_-]{1,40}", text))


_DIG = re.compile(r"@dig/teleport (?P<def>.+)")
_NAME = re.compile(r"@name here = (?P<def>.+)")
_PY = re.compile(r"@py here\.key = (?P<literal>.+)")
_SET = re.compile(r"@set here/(?P<attribute>[A-Za-z_][A-Za-z0-9_]*) = (?P<literal>.+)")
_TAG = re.compile(r"@tag here = (?P<tag>.+)")
_OPEN = re.compile(r"@open (?P<names>[^=]+?) = (?P<destination>\S+)")
_TELEPORT = re.compile(r"@teleport (?P<handle>[a-z0-9_]+#[0-9]+)")


def _read_command(state: _Reading, where: str, command: str, comments: list[str]) -> None:
    if m := _DIG.fullmatch(command):
        name, aliases, option = _objdef(m["def"])
        if option or len(aliases) != 1 or not _HANDLE.fullmatch(aliases[0]) or not name or any(
                c in name for c in NAME_CUT + "="):
            raise ValueError(f"{where}: {command!r} is not a room the export digs (Name;handle)")
        handle = aliases[0]
        if handle in state.rooms:
            raise ValueError(f"{where}: {handle} is dug twice")
        key = next((k["key"] for c in comments if (k := _KEY_COMMENT.fullmatch(c)) and k["handle"] == handle),
                   handle.split("#")[0])
        state.rooms[handle] = {"id": handle, "key": key, "name": name, "description": "", "attributes": {},
                               "tags": []}
        state.here = handle
    elif m := _NAME.fullmatch(command):
        name, aliases, option = _objdef(m["def"])
        if option or aliases or not name or any(c in name for c in NAME_CUT):
            raise ValueError(f"{where}: {command!r} is not a name the export gives")
        state.room(where)["name"] = name
    elif m := _PY.fullmatch(command):
        name = _literal(m["literal"], where)
        if not isinstance(name, str) or not name.strip() or LINE_BREAK.search(name):
            raise ValueError(f"{where}: a room's name is one line of text")
        state.room(where)["name"] = name
    elif m := _SET.fullmatch(command):
        room, value = state.room(where), _literal(m["literal"], where)
        if m["attribute"] == "desc":
            if not isinstance(value, str):
                raise ValueError(f"{where}: a description is text")
            room["description"] = value
        elif m["attribute"] in room["attributes"]:
            raise ValueError(f"{where}: the attribute {m['attribute']!r} is set twice")
        else:
            room["attributes"][m["attribute"]] = value
    elif m := _TAG.fullmatch(command):
        key, _, category = (part.strip() for part in m["tag"].partition(":"))
        if not key or not re.fullmatch(r"[^\s:]+", key) or (category and not re.fullmatch(r"\S+", category)):
            raise ValueError(f"{where}: {m['tag']!r} is not a tag the export writes (key or key:category)")
        state.room(where)["tags"].append({"key": key, "category": category})
    elif m := _OPEN.fullmatch(command):
        here = state.room(where)["id"]
        destination = here if m["destination"] == "here" else m["destination"]
        if not _HANDLE.fullmatch(destination):
            raise ValueError(f"{where}: an exit leads to a room named by its handle (like mill#01)")
        parts = [p.strip() for p in m["names"].split(",")]
        if len(parts) > 2:
            raise ValueError(f"{where}: {command!r} opens more than an exit and its way back")
        state.open(where, here, destination, parts[0])
        if len(parts) == 2:
            state.open(where, destination, here, parts[1])
    elif m := _TELEPORT.fullmatch(command):
        if m["handle"] not in state.rooms:
            raise ValueError(f"{where}: {m['handle']} is not a room the file digs")
        state.here = m["handle"]
    else:
        raise ValueError(f"{where}: {command[:80]!r} is not a command the export writes")


def to_document(text: str) -> dict[str, Any]:
    """A `.ev` file of the commands `render` writes, read back into the document `transfer.export_document`
    answers: the same `format`, `title`, `rooms` (id = handle, key from the comment after each @dig, else the
    handle's stem) and `exits` (between rooms of the file), and `connections` (the exits to or from rooms it does
    not dig, by their handles). What the file does not hold: `evennia_lint` (it has the lint as comments), the
    order of the exits, and the aliases the export left out (i/o come back, as every import adds them; an alias
    that hid a default command does not).

    Raises ValueError naming the line of anything else: another command, a command of several lines, `#INSERT`,
    a value that is not a JSON value, a command about a room before it is dug, an exit named twice."""
    if match := _INSERT.search(text):
        line = text.count("\n", 0, match.start()) + 1
        raise ValueError(f"line {line}: #INSERT pastes another file in; the export never writes it")
    title = next((line.removeprefix(TITLE_PREFIX) for line in text.split("\n")[:3] if line.startswith(TITLE_PREFIX)),
                 "")
    state = _Reading()
    for number, command, comments in _commands(text):
        _read_command(state, f"line {number}", command, comments)
    inside = [e for e in state.exits if e["source"] in state.rooms and e["destination"] in state.rooms]
    crossing = [e for e in state.exits if e not in inside]  # one end is always ours: @open is made from here
    return {"format": FORMAT, "title": title, "rooms": list(state.rooms.values()), "exits": inside,
            "connections": crossing}
