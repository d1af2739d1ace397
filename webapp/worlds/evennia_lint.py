"""What Evennia does with what an export gives it, and the lint that says so before anyone loads a file.

The facts are those of Evennia 5.0.1's default commands (`evennia/commands/default/building.py`,
`muxcommand.py`, `utils/batchprocessors.py`), and `tests/worlds/test_real_evennia.py` checks them against a
real Evennia (the command list is compared with the one Evennia's own cmdsets hold):

- `@dig`, `@name` and `@open` read `name;alias;alias:typeclass`, a `,` list and `obj/attr`: a room name is cut
  at its first `;`, `,` or `/` (`Slash/in/name` → `Slash`); a `:` is the typeclass unless the name ends with
  one (an empty typeclass is the default); `@dig` reads `=` as its exits, `@name` does not.
- attribute names and tag keys and categories are stored in lower case (`MaxHP` is `maxhp`, and `HP`/`hp`
  would be one attribute); the attribute `desc` is the room's description.
- an exit is a command in its room, and it wins over a default command of the same name: an exit alias `i`
  makes `i` walk instead of showing the inventory.
- `@open` from a room that already has an exit of that name (exactly, key or alias) does not make a second
  one: it re-routes the old exit to the new destination and adds the aliases.
- `|` starts Evennia's colour markup in names and descriptions (`|r` red, `||` a single bar): stored as given,
  shown coloured.

`lint` reads rooms and exits as the export would write them and answers `Finding`s: an *error* is something
the export refuses to write (it would build something else than the area holds), a *warning* something Evennia
will store or show differently or may do to the target game, a *note* what the export does on purpose.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

EVENNIA_VERSION = "5.0.1"  # tested against this one (pip install 'evennia>=5,<6' in .venv-evennia)

# Every key and alias of Evennia 5.0.1's default character, account and session command sets.
DEFAULT_COMMANDS: frozenset[str] = frozenset({
    '"', "'", ":", "?", "@!", "@about", "@account", "@accounts", "@alias", "@chan", "@channel", "@channels",
    "@cmdsets", "@copy", "@cpattr", "@create", "@del", "@delays", "@delete", "@desc", "@destroy", "@dig", "@ex",
    "@exam", "@examine", "@find", "@link", "@locate", "@lock", "@locks", "@mvattr", "@name", "@objects", "@olc",
    "@open", "@parent", "@py", "@reload", "@rename", "@reset", "@restart", "@script", "@scripts", "@search",
    "@server", "@serverload", "@service", "@services", "@set", "@sethome", "@shutdown", "@spawn", "@swap", "@tag",
    "@tags", "@task", "@tasks", "@tel", "@teleport", "@tickers", "@time", "@tun", "@tunnel", "@type", "@typeclass",
    "@typeclasses", "@update", "@uptime", "@version", "@wipe", "access", "ban", "bans", "batchcmd", "batchcode",
    "batchcodes", "batchcommand", "batchcommands", "boot", "charcreate", "chardelete", "color", "discord",
    "discord2chan", "doing", "drop", "emit", "emote", "force", "get", "give", "grab", "grapevine2chan", "groups",
    "help", "hierarchy", "home", "i", "ic", "inv", "inventory", "irc2chan", "ircstatus", "l", "look", "ls", "nick",
    "nickname", "nicks", "ooc", "option", "options", "page", "password", "pemit", "perm", "pose", "puppet", "quell",
    "quit", "remit", "rss2chan", "say", "sessions", "setdesc", "sethelp", "setobjalias", "setperm", "style", "tell",
    "unban", "unlink", "unpuppet", "unquell", "userpassword", "wall", "who", "whisper",
})
IGNORED_PREFIXES = "@&/+"  # settings.CMD_IGNORE_PREFIXES: `dig` runs `@dig`
# What a player types for a default command: each name, and each without the prefix Evennia lets them leave out.
SHADOWED = DEFAULT_COMMANDS | {c.lstrip(IGNORED_PREFIXES) for c in DEFAULT_COMMANDS if c.lstrip(IGNORED_PREFIXES)}
# The one-letter forms of in and out are not written: `i` is the inventory; `o` goes with it (in and out alike).
LEFT_OUT_SHORT_FORMS = {"in": "i", "out": "o"}

NAME_CUT = ";,/"  # @dig and @name cut a name here; the export sets such a name with `@py here.key = '…'`
RESERVED_ATTRIBUTES = frozenset({"desc"})
# Everything an editor or str.splitlines() may take for the end of a line: in a name, key or comment the rest
# would be read as a command of its own.
LINE_BREAK = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
HANDLE = re.compile(r"[a-z0-9_]+#[0-9]+")
# An exit name or alias goes between @open's separators; a tag key before @tag's ':'.
EXIT_NAME_FORBIDDEN = ";,:=/"
TAG_FORBIDDEN = ":"

Level = Literal["error", "warning", "note"]


@dataclass(frozen=True)
class Finding:
    level: Level
    room: str  # "Mill yard (millyard#01)", or "" for the whole file
    field: str  # "name", "attributes.MaxHP", "tags", "exits.in", "connection", "exits"
    message: str

    def as_json(self) -> dict[str, str]:
        return {"level": self.level, "room": self.room, "field": self.field, "message": self.message}

    def __str__(self) -> str:
        where = f"{self.room}, {self.field}" if self.room else self.field
        return f"{where}: {self.message}"


class LintRoom(Protocol):
    @property
    def handle(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def attributes(self) -> Mapping[str, Any]: ...
    @property
    def tags(self) -> Sequence[tuple[str, str]]: ...


class LintExit(Protocol):
    @property
    def source(self) -> str: ...
    @property
    def destination(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def aliases(self) -> Sequence[str]: ...


# -- the rules, one value at a time (design-time validation uses these too) -------------------------


def name_problem(name: str) -> str | None:
    """Why Evennia could not be given `name` as a room's name, even with `@py`."""
    if LINE_BREAK.search(name):
        return "a room name is one line"
    if not name.strip() or name != name.strip():
        return "a room name has no spaces at its ends"
    return None


def shadowed_command(word: str) -> str | None:
    """The default command an exit name or alias `word` would hide in its room, or None."""
    word = word.strip().lower()
    if word not in SHADOWED:
        return None
    return next((c for c in sorted(DEFAULT_COMMANDS) if word in (c, c.lstrip(IGNORED_PREFIXES))), word)


def attribute_problems(names: Iterable[str]) -> dict[str, str]:
    """Attribute names Evennia would not keep apart from the others, or would read as something else."""
    problems: dict[str, str] = {}
    seen: dict[str, str] = {}
    for name in names:
        folded = name.lower()
        if folded in RESERVED_ATTRIBUTES:
            problems[name] = (f"{name!r} is the room's description in Evennia (its attribute {folded!r}); write it "
                              "in the description")
        elif folded in seen:
            problems[name] = (f"{seen[folded]!r} and {name!r} are one attribute in Evennia, which stores attribute "
                              f"names in lower case ({folded!r}); rename one")
        seen.setdefault(folded, name)
    return problems


def exit_names_written(key: str, aliases: Iterable[str]) -> tuple[list[str], list[str]]:
    """An exit's names as the `.ev` writes them (key first), and the aliases left out: the one-letter forms of
    in/out, and any alias that would hide a default command."""
    written, left_out = [key], []
    for alias in aliases:
        if LEFT_OUT_SHORT_FORMS.get(key) == alias or shadowed_command(alias):
            left_out.append(alias)
        elif alias not in written:
            written.append(alias)
    return written, left_out


# -- the lint ---------------------------------------------------------------------------------------


def _room_label(room: LintRoom) -> str:
    return f"{room.name} ({room.handle})"


def _word_problem(word: Any, forbidden: str) -> str | None:
    if not isinstance(word, str) or not word or word != word.strip() or LINE_BREAK.search(word):
        return "is empty, has spaces at its ends or holds a line break"
    bad = sorted({c for c in word if c in forbidden})
    if bad:
        return "holds " + ", ".join(repr(c) for c in bad) + ", which Evennia's command reads as a separator"
    return None


def json_value_problem(value: Any) -> str | None:
    """Why `value` is not one of JSON's values (whose `repr` `@set` reads back as the same value and type)."""
    if value is None or isinstance(value, bool | int | str):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r} is not a JSON number"
    if isinstance(value, list):
        return next((p for p in map(json_value_problem, value) if p), None)
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return "a dict key is not a string"
        return next((p for p in map(json_value_problem, value.values()) if p), None)
    return f"a {type(value).__name__} is not a JSON value"


def _lint_room(room: LintRoom, handles: Mapping[str, str]) -> list[Finding]:
    label, out = _room_label(room), []
    problem = name_problem(room.name)
    if problem:
        out.append(Finding("error", label, "name", f"{problem}; Evennia cannot be given {room.name!r}"))
    else:
        cut = sorted({c for c in room.name if c in NAME_CUT})
        if cut:
            out.append(Finding("note", label, "name",
                               f"@dig cuts a name at {', '.join(map(repr, cut))}: the room is dug as "
                               f"{dig_name(room.name, room.handle)!r} and named exactly with @py (a Developer's "
                               "command, as batchcommands is)"))
        other = handles.get(room.name.lower())
        if other and other != room.handle:
            out.append(Finding("error", label, "name",
                               f"the name is the handle of {other}: Evennia could not tell the two apart"))
    if "|" in room.name or "|" in room.description:
        field = "name" if "|" in room.name else "description"
        out.append(Finding("warning", label, field,
                           "'|' starts Evennia's colour markup (|r is red, || shows one |): stored as given, shown "
                           "coloured"))
    for name, problem in attribute_problems(room.attributes).items():
        out.append(Finding("error", label, f"attributes.{name}", problem))
    for name, value in room.attributes.items():
        if not isinstance(name, str) or not IDENTIFIER.fullmatch(name):
            out.append(Finding("error", label, f"attributes.{name}", "an attribute name is an identifier"))
            continue
        value_problem = json_value_problem(value)
        if value_problem:
            out.append(Finding("error", label, f"attributes.{name}", value_problem))
        elif name != name.lower() and name.lower() not in RESERVED_ATTRIBUTES:
            out.append(Finding("warning", label, f"attributes.{name}",
                               f"Evennia stores attribute names in lower case: it is {name.lower()!r} there "
                               f"(obj.db.{name} still reads it)"))
    seen_tags: set[tuple[str, str]] = set()
    for key, category in room.tags:
        for what, word, forbidden in (("tag", key, TAG_FORBIDDEN), ("tag category", category, "")):
            if what == "tag category" and word == "":
                continue
            problem = _word_problem(word, forbidden)
            if problem:
                out.append(Finding("error", label, "tags", f"{what} {word!r} {problem}"))
        folded = (str(key).lower(), str(category).lower())
        if (key, category) != folded:
            out.append(Finding("warning", label, "tags", f"Evennia stores tags in lower case: {key}:{category} is "
                                                         f"{folded[0]}:{folded[1]} there".removesuffix(":")))
        if folded in seen_tags:
            out.append(Finding("warning", label, "tags", f"{key}:{category} is the same tag as another in Evennia"))
        seen_tags.add(folded)
    return out


def dig_name(name: str, handle: str) -> str:
    """The name `@dig` is given: the name without what @dig would cut it at (then set exactly with @py)."""
    return " ".join(re.sub(f"[{re.escape(NAME_CUT)}]", " ", name).split()) or handle


def lint(rooms: Sequence[LintRoom], exits: Sequence[LintExit],
         outside: Mapping[str, str] | None = None) -> list[Finding]:
    """What Evennia would do with these rooms and exits, written by `batchfile.render`. `outside` names the rooms
    that exits reach but the file does not dig (handle → name: the live rooms an area is connected to)."""
    outside = dict(outside or {})
    by_handle = {r.handle: r for r in rooms}
    names = {**{h: n for h, n in outside.items()}, **{r.handle: r.name for r in rooms}}
    out: list[Finding] = []
    handles_seen: set[str] = set()
    for room in rooms:
        if not isinstance(room.handle, str) or not HANDLE.fullmatch(room.handle):
            out.append(Finding("error", _room_label(room), "handle", "a handle is like mill#01"))
        elif room.handle in handles_seen:
            out.append(Finding("error", _room_label(room), "handle", "two rooms have this handle"))
        handles_seen.add(room.handle)
    for handle, name in outside.items():  # written raw after `@open … =`: it must be a handle and nothing more
        if not isinstance(handle, str) or not HANDLE.fullmatch(handle):
            out.append(Finding("error", f"{name} ({handle})", "handle",
                               "a room the area connects to is named by a handle like mill#01"))
    lowered = {r.handle.lower(): r.handle for r in rooms if isinstance(r.handle, str)} | \
        {h.lower(): h for h in outside}
    for room in rooms:
        out += _lint_room(room, lowered)
    left_short = 0
    # An exit from a room the file does not dig is written as the way back of one from the area's room (the same
    # greedy pairing as batchfile.render), or not at all.
    ways_back = Counter((e.source, e.destination) for e in exits if e.destination in outside)
    for e in exits:
        label = f"{names.get(e.source, e.source)} ({e.source})"
        for end in (e.source, e.destination):
            if end not in by_handle and end not in outside:
                out.append(Finding("error", label, f"exits.{e.key}", f"leads to or from {end!r}, which is not a "
                                                                     "room of the export"))
        for word in (e.key, *e.aliases):
            problem = _word_problem(word, EXIT_NAME_FORBIDDEN)
            if problem:
                out.append(Finding("error", label, f"exits.{e.key}", f"exit name {word!r} {problem}"))
        _, left_out = exit_names_written(e.key, e.aliases)
        for alias in left_out:
            if LEFT_OUT_SHORT_FORMS.get(e.key) == alias:
                left_short += 1
            else:
                out.append(Finding("warning", label, f"exits.{e.key}",
                                   f"alias {alias!r} is left out of the .ev: it would hide Evennia's "
                                   f"{shadowed_command(alias)} command in this room"))
        if e.source in outside and e.destination in by_handle:
            there = f"{names[e.source]} ({e.source})"
            if ways_back[(e.destination, e.source)] > 0:
                ways_back[(e.destination, e.source)] -= 1
                out.append(Finding("warning", there, "connection",
                                   f"the file does not dig this room; it opens {e.key} there (with the exit back, "
                                   f"from {names[e.destination]}). If that room in your game already has an exit "
                                   f"{e.key} — the area loaded before — Evennia re-routes that exit to "
                                   f"{names[e.destination]} instead of opening a second one; if no room is "
                                   f"called {e.source} there, it answers \"Could not find\" and opens neither"))
            else:
                out.append(Finding("warning", there, "connection",
                                   f"the exit {e.key} into {names[e.destination]} has no way back, and the file does "
                                   "not dig this room: it is left out (the file opens exits only from rooms it "
                                   "stands in)"))
    if left_short:
        out.append(Finding("note", "", "exits",
                           f"{left_short} in/out exit{'s are' if left_short > 1 else ' is'} written without the "
                           "one-letter alias i/o: i is Evennia's inventory command; players type in and out"))
    return out


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.level == "error"]
