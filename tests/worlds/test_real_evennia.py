"""The `.ev` export against real Evennia: the files are loaded by Evennia's own `batchcommands` inside Evennia's test
runner, and what Evennia then stores is compared with the export field by field.

Evennia lives in its own virtualenv (`make evennia`: `.venv-evennia`, `pip install 'evennia>=5,<6'`; it brings
Django and Twisted, which stay out of the app's dependencies). Without it this module skips, saying why. One
`evennia test` process (a fresh game dir from `evennia --init` in a temp dir, tests/evennia/load_batchfiles.py put
into it) loads, one after the other into one game:

1. `world`: the demo's live world (what `flask seed-demo` makes), exported before anything is promoted;
2. `mill`: the demo project, The Old Mill, promoted north-east of the Village square, exported as an area — its
   connection opens from `square#01`, which file 1 dug;
3. `nasty`: an area of quotes, semicolons, `=`, `/`, `#`, unicode, leading spaces, multi-line descriptions, nested
   JSON, big numbers, booleans, null, strings with newlines, tags with categories, all twelve directions, aliases;
4. `mill_again`: file 2 loaded a second time — what the lint warns of: Evennia re-routes the Village square's
   north-east exit to the second copy rather than opening another.

Compared for every room: the name byte for byte, the handle as its one alias, the description (`desc`) byte for
byte, every attribute with its value and type at every level (names in Evennia's lower case), tags with their
categories (lower case, as Evennia stores them); for every exit: key, aliases (without those the export leaves out,
see evennia_lint) and destination; and nothing else made.

The SQLite and the PostgreSQL copy of the test each export from their own database; when the files are the same
bytes (they are: ids start from 1 on both), the second takes the first one's Evennia run (`run_evennia_once`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.evennia.typed_values import typed
from tests.once import once_per_run
from webapp.worlds import evennia_lint, lifecycle, promotion, queries, sandbox, transfer
from webapp.worlds.design import create_project
from webapp.worlds.directions import DIRECTIONS

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("EVENNIA_VENV", ROOT / ".venv-evennia"))
HARNESS = ROOT / "tests" / "evennia" / "load_batchfiles.py"
TYPED_VALUES = ROOT / "tests" / "evennia" / "typed_values.py"  # the harness imports it from beside itself
TIMEOUT = 900  # seconds for the one `evennia test` run (about 20 s on a quiet machine)


def evennia_or_skip() -> Path:
    """The `evennia` launcher of .venv-evennia, or a skip that says why there is none."""
    launcher = VENV / "bin" / "evennia"
    if launcher.exists():
        return launcher
    failed = VENV / ".install-failed"
    if failed.exists():
        pytest.skip(f"Evennia could not be installed: {failed.read_text(encoding='utf-8').strip()}")
    pytest.skip(f"no Evennia at {launcher}: run `make evennia` (pip install 'evennia>=5,<6' into {VENV.name})")


# -- the files ----------------------------------------------------------------------------------------------

NASTY_TEXT = ("  Leading spaces, then \"double\" and 'single' quotes; semicolons; a = b; a/b; a: b\n"
              "# a line that starts like a comment\n#INSERT world.evil\n\tindented by a tab\n    and by spaces\n\n\n"
              "Unicode: Čšž ☃ 日本語 😀 — and trailing spaces   \n@py print('not a command')\n|rcolour|n and || bar\n")
NASTY_ATTRIBUTES = {
    "sheet": {"name": "Miller \"Jana\" O'Hara", "level": 4, "stats": {"str": 14, "wis": 11}, "tags": ["a", "b"],
              "nested": {"deeper": {"deepest": [1, [2, [3, {"four": None}]]]}}},
    "MaxHP": 120, "hp": 7, "big": 12345678901234567890123456789012345678901234567890, "negative": -9223372036854775809,
    "float": 1.7976931348623157e308, "tiny": 5e-324, "neg_zero": -0.0, "ratio": 0.1, "whole_float": 2.0,
    "yes": True, "no": False, "nothing": None, "zero": 0, "empty": "", "empty_list": [], "empty_dict": {},
    "lines": "line one\nline two\r\nline three\n", "code": "__import__('os').system('echo no')",
    "funcs": "$search(Limbo) and $dbref(#1)", "only_func": "$search(Limbo)", "hashes": "# not a comment",
    "unicode": "Jaša ☃ 😀 \u2028 \x85", "quotes": "'\"'\"", "semis": "a;b,c=d:e/f", "keys": {"MaxHP": 1, "maxhp": 2},
}


def _nasty_document() -> dict[str, Any]:
    names = {  # one room per direction from the hub, each with a name of its own kind of trouble
        "north": "It's a \"quoted\" room", "south": "Slash/in/name; semi, comma = eq: colon",
        "east": "E=mc² lab", "west": "Warning: low ceiling:", "northeast": "#1 Hash room",
        "northwest": "Čajnica ☕ 日本語 😀", "southeast": "   Spaces are trimmed by the design   ",
        "southwest": "|rRed|n room", "up": "Attic / loft", "down": "Cellar, damp", "in": "Inner sanctum",
        "out": "Out: the yard",
    }
    rooms: list[dict[str, Any]] = [{"key": "hub", "name": "Hub; centre, = all: /", "description": NASTY_TEXT,
                                    "attributes": NASTY_ATTRIBUTES,
                                    "tags": [["outdoors", "terrain"], ["quest", ""], ["zone.a-1", "map.layer-2"]]}]
    exits: list[dict[str, Any]] = []
    for number, direction in enumerate(DIRECTIONS.values()):
        key = f"r{number}_{direction.name}"
        rooms.append({"key": key, "name": names[direction.name],
                      "description": "One line." if number % 2 else f"  {direction.name}\n\nsecond paragraph",
                      "attributes": {"n": number, "direction": direction.name, "even": number % 2 == 0},
                      "tags": [[direction.name, "direction"]]})
        exits += [{"source": "hub", "destination": key, "direction": direction.name,
                   "aliases": ["gate"] if direction.name == "north" else []},
                  {"source": key, "destination": "hub", "direction": direction.opposite.name}]
    # one-way exits: from a room dug before its target (opened last, after @teleport), and the other way round
    exits += [{"source": "r0_north", "destination": "r1_south", "direction": "east", "aliases": ["shortcut"]},
              {"source": "r11_out", "destination": "r2_east", "direction": "up", "aliases": ["ladder"]}]
    return {"rooms": rooms, "exits": exits}


def export_files(app_actor: Any, promoter: Any) -> dict[str, tuple[str, dict[str, Any]]]:
    """name → (the .ev text, the JSON export of the same rooms): what each file should build."""
    from webapp.seed import seed_world

    seed_world(app_actor, promoter)
    files = {"world": (transfer.export_batch(app_actor), transfer.export_document(app_actor))}
    mill = next(p for p in queries.list_projects(app_actor) if p.name == "The Old Mill")
    square = next(r for r in queries.live_rooms(app_actor, "square"))
    promotion.promote(promoter, mill.id, square.id, "northeast")
    files["mill"] = (transfer.export_batch(app_actor, mill.id), transfer.export_document(app_actor, mill.id))
    nasty = create_project(app_actor, "Nasty", "Everything an export must carry.", _nasty_document())
    lifecycle.transition(app_actor, nasty.id, "submit")
    lifecycle.transition(promoter, nasty.id, "approve")
    sandbox.build_sandbox(app_actor, nasty.id)
    files["nasty"] = (transfer.export_batch(app_actor, nasty.id), transfer.export_document(app_actor, nasty.id))
    files["mill_again"] = files["mill"]
    return files


def run_evennia(launcher: Path, files: dict[str, str], workdir: Path) -> dict[str, Any]:
    """`evennia --init` a game in `workdir`, load `files` (name → .ev text) in order with batchcommands in one
    `evennia test` run, and answer its dump."""
    game = workdir / "game"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run([str(launcher), "--init", str(game)], cwd=workdir, env=env, check=True, capture_output=True,
                   timeout=TIMEOUT)
    for name, text in files.items():
        (game / "world" / f"{name}.ev").write_bytes(text.encode("utf-8"))
    shutil.copy(HARNESS, game / "test_promotion_desk_load.py")
    shutil.copy(TYPED_VALUES, game / "typed_values.py")
    dump = workdir / "dump.json"
    manifest = workdir / "manifest.json"
    manifest.write_text(json.dumps({"files": list(files), "dump": str(dump)}), encoding="utf-8")
    done = subprocess.run([str(launcher), "test", "--settings", "settings.py", "test_promotion_desk_load"],
                          cwd=game, env={**env, "PROMOTION_DESK_MANIFEST": str(manifest)}, capture_output=True, check=False,
                          text=True, timeout=TIMEOUT)
    if done.returncode != 0 or not dump.exists():
        pytest.fail(f"evennia test failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return json.loads(dump.read_text(encoding="utf-8"))


def run_evennia_once(launcher: Path, files: dict[str, str], workdir: Path,
                     tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`run_evennia`, once per pytest run for the same files: the SQLite and the PostgreSQL copy of the test export
    the same bytes (ids start from 1 on both), and what Evennia builds of them depends on nothing else, so the
    second pytest process to get there takes the first one's dump."""
    key = hashlib.sha256(json.dumps([files, HARNESS.read_text(encoding="utf-8"), str(launcher)]).encode())
    dump = once_per_run(tmp_path_factory, f"evennia-{key.hexdigest()[:16]}.json", lambda path: path.write_text(
        json.dumps(run_evennia(launcher, files, workdir)), encoding="utf-8"))
    return json.loads(dump.read_text(encoding="utf-8"))


# -- the comparison ------------------------------------------------------------------------------------------


def expected_rooms(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["id"]: {"key": r["name"], "aliases": [r["id"]],
                      "attributes": sorted([["desc", None, typed(r["description"])]]
                                           + [[k.lower(), None, typed(v)] for k, v in r["attributes"].items()],
                                           key=json.dumps),
                      "tags": sorted([t["key"].lower(), t["category"].lower() or None] for t in r["tags"])}
            for r in document["rooms"]}


def expected_exits(document: dict[str, Any]) -> list[list[Any]]:
    return sorted([[e["source"], e["direction"], sorted(evennia_lint.exit_names_written(e["direction"],
                                                                                        e["aliases"])[0][1:]),
                    e["destination"]] for e in [*document["exits"], *document["connections"]]], key=json.dumps)


def differences(name: str, document: dict[str, Any], loaded: dict[str, Any], handle_of: dict[str, str],
                ) -> list[str]:
    """Everything in which what Evennia made from file `name` differs from its JSON export."""
    problems = []
    made = {}
    for room in loaded["rooms"]:
        handles = [a for a in room["aliases"] if evennia_lint.HANDLE.fullmatch(a)]
        made[handles[0] if handles else room["key"]] = room
    want = expected_rooms(document)
    for handle in sorted(set(want) | set(made)):
        if handle not in made:
            problems.append(f"{name}: room {handle} was not made")
            continue
        if handle not in want:
            problems.append(f"{name}: Evennia made a room {made[handle]['key']!r} the export does not hold")
            continue
        got = {"key": made[handle]["key"], "aliases": made[handle]["aliases"],
               "attributes": sorted(made[handle]["attributes"], key=json.dumps), "tags": made[handle]["tags"]}
        for field, value in want[handle].items():
            if got[field] != value:
                problems.append(f"{name}: {handle} {field}: Evennia has {got[field]!r}, the export {value!r}")
    exits = sorted([[handle_of.get(e["location"], e["location"]), e["key"], e["aliases"],
                     handle_of.get(e["destination"], e["destination"])] for e in loaded["exits"]], key=json.dumps)
    wanted = expected_exits(document)
    for exit_ in wanted:
        if exit_ not in exits:
            problems.append(f"{name}: exit {exit_} was not made")
    for exit_ in exits:
        if exit_ not in wanted:
            problems.append(f"{name}: Evennia made an exit {exit_} the export does not hold")
    problems += [f"{name}: Evennia made {other}, which is neither a room nor an exit" for other in loaded["others"]]
    return problems


TROUBLE = ("Could not find", "More than one match", "not found", "not a valid", "rror", "Usage:", "converted to a string",
           "already exists", "You don't have", "not available")


def test_real_evennia_builds_every_export_exactly_and_a_second_load_re_routes_the_connection(app, factories,
                                                                                           tmp_path, tmp_path_factory):
    launcher = evennia_or_skip()
    admin, promoter = factories.user("admin"), factories.user("promoter")
    files = export_files(admin, promoter)
    dump = run_evennia_once(launcher, {name: text for name, (text, _) in files.items()}, tmp_path, tmp_path_factory)
    assert dump["evennia"].startswith(evennia_lint.EVENNIA_VERSION), dump["evennia"]
    assert dump["default_commands"] == sorted(evennia_lint.DEFAULT_COMMANDS)  # the lint's list is Evennia's
    handle_of = {dbref: next((a for a in room["aliases"] if evennia_lint.HANDLE.fullmatch(a)), room["key"])
                 for dbref, room in dump["rooms"].items()}
    loaded = {f["name"]: f for f in dump["files"]}
    problems: list[str] = []
    for name in ("world", "mill", "nasty"):
        problems += differences(name, files[name][1], loaded[name], handle_of)
        problems += [f"{name}: Evennia said {t!r}" for t in loaded[name]["told"] if any(w in t for w in TROUBLE)]
    assert not problems, "\n".join(problems)
    assert [(len(files[n][1]["rooms"]), len(loaded[n]["exits"])) for n in ("world", "mill", "nasty")] == [
        (5, 8), (3, 6), (13, 26)]

    # The lint's `connection` warning, seen in Evennia: the second load of the area digs a second copy; the square's
    # north-east exit is not doubled but re-routed to it. Its exits between its own rooms are refused (each handle
    # names two rooms now: "More than one match"), so no exit is ever opened in a wrong room.
    warning = [f for f in files["mill"][1]["evennia_lint"] if f["field"] == "connection"]
    assert len(warning) == 1 and "re-routes that exit to Mill yard" in warning[0]["message"]
    first, second = loaded["mill"], loaded["mill_again"]
    square = next(dbref for dbref, handle in handle_of.items() if handle == "square#01")
    yards = [next(r["dbref"] for r in f["rooms"] if "millyard#01" in r["aliases"]) for f in (first, second)]
    from_square = [e for e in dump["exits"] if e["location"] == square and e["key"] == "northeast"]
    assert [e["destination"] for e in from_square] == [yards[1]]  # one exit, now leading to the second copy
    assert any("Rerouted its old destination 'Mill yard'" in t for t in second["told"])
    assert [(e["key"], e["location"], e["destination"]) for e in second["exits"]] == [
        ("southwest", yards[1], square)]  # the one new exit: from the copy's entry, back to the square
    assert sum("More than one match" in t for t in second["told"]) == 2  # the copy's two pairs between its rooms
