"""Evennia batch-command files (`.ev`): the export of rooms and exits, and a reader that splits a file
into the commands Evennia would run.

The rules, as Evennia documents them: a line whose first character is `#` is a comment and ends the
command before it (so every command is followed by one); the other lines of a command are stripped
and joined with single spaces; an empty line inside a command is a line break in its text (two make
a paragraph). `parse` follows exactly these rules and `render` writes for them.

Commands have no escaping (`;` starts an alias, `:` a typeclass, `,` a list item, `=` the right-hand
side), so only the text after the first `=` of `@desc` and `@set` carries anything verbatim. Room
names are dug without those characters and kept exactly in a `display_name` attribute; attribute
values are Python literals (`repr`), one line each, which `@set` reads back with `literal_eval`.

What the rules cannot carry: whitespace at the start and end of a description line, and blank lines
at the end of a description, are lost; `\\r\\n` and lone `\\r` in a description are read as line breaks
(the file is LF only). The processor in Evennia's current source (`BatchCommandProcessor.parse_file`)
no longer strips and joins lines: it passes the lines between comments through as they are, so there
a description of several lines shows an empty line between each two, and a line starting with `#`
keeps the space written before it; so a description of several lines is also written as one
`@set <handle>/desc = '…'` literal after its `@desc`, which stores the same attribute exactly under
both. Names, attributes, tags and exits are single lines and mean the same under both.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

UNSAFE_NAME_CHARS = ";,=:"
_UNSAFE = re.compile(f"[{re.escape(UNSAFE_NAME_CHARS)}]")
_HANDLE = re.compile(r"[a-z0-9_]+#[0-9]+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Everything an editor or str.splitlines() may take for the end of a line; a single-line field holding
# one would let the rest of it be read as a command of its own.
_LINE_BREAK = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


@dataclass(frozen=True)
class ExportRoom:
    handle: str  # unique, [a-z0-9_]+#[0-9]+ (mill#01): every command after @dig names the room by it
    name: str  # one line, anything (; , = : included)
    description: str  # any text; lines may start with '#'
    attributes: dict[str, Any]  # identifier → JSON value
    tags: list[tuple[str, str]]  # (key, category); category may be ""


@dataclass(frozen=True)
class ExportExit:
    source: str  # handles of exported rooms
    destination: str
    key: str  # "north"
    aliases: list[str]  # ["n"]


def _safe_name(name: str, handle: str) -> str:
    """The name as @dig can take it: none of `; , = :`, one line, never empty."""
    return " ".join(_UNSAFE.sub(" ", name).split()) or handle


def _check_word(what: str, word: Any, forbidden: str, *, optional: bool = False) -> None:
    """A word written between Evennia's separators: one holding a separator or a line break would
    change what the command means, or start another command."""
    if optional and word == "":
        return
    if (not isinstance(word, str) or not word or word != word.strip() or _LINE_BREAK.search(word)
            or any(c in forbidden for c in word)):
        raise ValueError(f"{what} {word!r} cannot be written into a batch file")


def _check_literal(value: Any) -> None:
    """`repr` is a literal `@set` reads back as the same value only for JSON's kinds of value."""
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} has no Python literal")
    elif isinstance(value, list):
        for item in value:
            _check_literal(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"attribute keys are strings, not {key!r}")
            _check_literal(item)
    else:
        raise TypeError(f"{type(value).__name__} is not a JSON value")


def _check(rooms: Sequence[ExportRoom], exits: Sequence[ExportExit]) -> None:
    """Refuse what would make a file that builds something else than asked, rather than write it: the
    file is run by a builder with the rights to do anything its lines say."""
    handles: set[str] = set()
    for room in rooms:
        if not isinstance(room.handle, str) or not _HANDLE.fullmatch(room.handle):
            raise ValueError(f"room handle {room.handle!r} is not like mill#01")
        if room.handle in handles:
            raise ValueError(f"room handle {room.handle!r} appears twice")
        handles.add(room.handle)
        for key, value in room.attributes.items():
            if not isinstance(key, str) or not _IDENTIFIER.fullmatch(key):
                raise ValueError(f"attribute name {key!r} of {room.handle} is not an identifier")
            _check_literal(value)
        for key, category in room.tags:
            _check_word("tag", key, UNSAFE_NAME_CHARS + "/")
            _check_word("tag category", category, UNSAFE_NAME_CHARS + "/", optional=True)
    for exit_ in exits:
        # A @teleport to a room the file does not dig fails, and the @open after it would then be made
        # wherever the builder happens to stand.
        for end in (exit_.source, exit_.destination):
            if end not in handles:
                raise ValueError(f"exit {exit_.key!r} names {end!r}, which is not among the rooms")
        for word in (exit_.key, *exit_.aliases):
            _check_word("exit name", word, UNSAFE_NAME_CHARS)


def _description_lines(text: str) -> list[str]:
    """One empty line per line break (Evennia's rule), and no line that reads as a comment."""
    lines: list[str] = []
    for index, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n")):
        if index:
            lines.append("")
        line = line.strip()
        if line:
            lines.append(f" {line}" if line.startswith("#") else line)
    return lines


def render(rooms: Sequence[ExportRoom], exits: Sequence[ExportExit], title: str = "") -> str:
    """The rooms dug first (an exit needs both its ends), then each source room's exits opened from it.

    Raises ValueError for a handle, exit name, tag or attribute the file cannot carry safely, and for an
    exit whose ends are not among `rooms`; TypeError for an attribute value that is not JSON's.
    """
    _check(rooms, exits)
    heading = " ".join(title.split()) or "Promotion Desk export"  # one line: a second would be a command
    out: list[str] = [
        "#",
        f"# {heading}",
        f"# Generated by Promotion Desk: {len(rooms)} rooms, {len(exits)} exits.",
        "# Run it in Evennia with: batchcommand <python.path.to.this.file>",
        "#",
    ]

    def command(*lines: str, comment: str = "") -> None:
        out.extend(lines)
        out.append(f"# {comment}" if comment else "#")  # ends the command: the next one stands alone

    for room in rooms:
        name = _safe_name(room.name, room.handle)
        command(f"@dig {name};{room.handle}", comment=f"room {room.handle}")
        if name != room.name:
            command(f"@set {room.handle}/display_name = {room.name!r}")
        command(f"@desc {room.handle} =", *_description_lines(room.description))
        if "\n" in room.description or "\r" in room.description:
            # Exact on every Evennia: its current processor keeps a command's lines as they are (an
            # empty line between each two), so the text @desc stores is set again as one literal.
            command(f"@set {room.handle}/desc = {room.description!r}")
        for key, value in room.attributes.items():
            command(f"@set {room.handle}/{key} = {value!r}")
        for key, category in room.tags:
            command(f"@tag {room.handle} = {key}:{category}" if category else f"@tag {room.handle} = {key}")
    by_source: dict[str, list[ExportExit]] = {}
    for exit_ in exits:
        by_source.setdefault(exit_.source, []).append(exit_)
    for source, leaving in by_source.items():
        command(f"@teleport {source}", comment=f"exits of {source}")  # @open builds where the builder stands
        for exit_ in leaving:
            command(f"@open {';'.join([exit_.key, *exit_.aliases])} = {exit_.destination}")
    return "\n".join(out) + "\n"


def parse(text: str) -> list[str]:
    """The commands of a batch file by Evennia's documented rules: comment lines (first character `#`)
    end a command and are dropped; a command's lines are stripped and joined with single spaces; each
    empty line inside it is a line break; empty lines at its start and end, and empty commands, go."""
    commands: list[str] = []
    current: list[str] = []  # pieces: lines, and "\n" for each empty line

    def finish() -> None:
        while current and current[-1] == "\n":
            current.pop()
        if current:
            commands.append("".join(current))
        current.clear()

    for raw in text.split("\n"):
        if raw.startswith("#"):
            finish()
            continue
        line = raw.strip()
        if not line:
            if current:
                current.append("\n")
        elif current and current[-1] != "\n":
            current.append(f" {line}")
        else:
            current.append(line)
    finish()
    return commands
