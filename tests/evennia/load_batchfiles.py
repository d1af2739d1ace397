"""The Evennia side of tests/worlds/test_real_evennia.py: a test module that `evennia test` runs inside a fresh game
dir (the pytest test copies it there as `test_promotion_desk_load.py`; it imports Evennia, so it is not one of the
app's tests).

It loads every batch file named in the manifest (`$PROMOTION_DESK_MANIFEST`, JSON `{"files": [...], "dump": path}`)
with Evennia's own `batchcommands`, typed by the test character (a Developer, as `batchcommands` requires), one
after the other into the same game, and writes what Evennia then holds to the dump: for each file the rooms and
exits it made (key, aliases, every attribute with its category and its value typed, every tag with its category),
what the builder was told, and how long the load took; the state of every exit at the end (a later file may
re-route an earlier one's); and the keys and aliases of Evennia's default command sets.
"""

import json
import os
import time
from pathlib import Path

import evennia
from evennia.commands.default.cmdset_account import AccountCmdSet
from evennia.commands.default.cmdset_character import CharacterCmdSet
from evennia.commands.default.cmdset_session import SessionCmdSet
from evennia.objects.models import ObjectDB
from evennia.utils.dbserialize import deserialize
from evennia.utils.test_resources import EvenniaTest
from typed_values import typed  # copied beside this module into the game dir (tests/evennia/typed_values.py)


def describe(obj):
    return {
        "dbref": obj.dbref,
        "key": obj.db_key,
        "aliases": sorted(obj.aliases.all()),
        "typeclass": obj.typeclass_path,
        "attributes": [[a.db_key, a.db_category, typed(deserialize(a.value))] for a in obj.attributes.all()],
        "tags": sorted([k, c] for k, c in obj.tags.all(return_key_and_category=True)),
    }


def describe_exit(obj):
    return {"dbref": obj.dbref, "key": obj.db_key, "aliases": sorted(obj.aliases.all()),
            "location": obj.location.dbref if obj.location else None,
            "destination": obj.destination.dbref if obj.destination else None}


def default_commands():
    names = set()
    for cmdset_class in (CharacterCmdSet, AccountCmdSet, SessionCmdSet):
        cmdset = cmdset_class()
        cmdset.at_cmdset_creation()
        for command in cmdset:
            names.update([command.key, *command.aliases])
    return sorted(names)


class LoadBatchFiles(EvenniaTest):
    def test_load_every_file_with_batchcommands(self):
        manifest = json.loads(Path(os.environ["PROMOTION_DESK_MANIFEST"]).read_text(encoding="utf-8"))
        told = []
        self.char1.msg = lambda text=None, **kwargs: told.append(text[0] if isinstance(text, tuple) else text)
        files = []
        for name in manifest["files"]:
            before = set(ObjectDB.objects.values_list("id", flat=True))
            told.clear()
            start = time.perf_counter()
            self.char1.execute_cmd(f"batchcommands world.{name}")
            seconds = time.perf_counter() - start
            made = ObjectDB.objects.exclude(id__in=before).order_by("id")
            files.append({
                "name": name, "seconds": seconds, "told": [str(t) for t in told],
                "rooms": [describe(o) for o in made if o.db_location is None and o.db_destination is None
                          and o.is_typeclass("evennia.objects.objects.DefaultRoom", exact=False)],
                "exits": [describe_exit(o) for o in made if o.db_destination is not None],
                # anything else a file made (an object, a script's holder, a character): the export makes none
                "others": [f"{o.db_key} ({o.typeclass_path})" for o in made if o.db_destination is None
                           and not (o.db_location is None
                                    and o.is_typeclass("evennia.objects.objects.DefaultRoom", exact=False))],
            })
        everything = ObjectDB.objects.order_by("id")
        dump = {
            "evennia": evennia.__version__,
            "files": files,
            "rooms": {o.dbref: describe(o) for o in everything
                      if o.is_typeclass("evennia.objects.objects.DefaultRoom", exact=False)},
            "exits": [describe_exit(o) for o in everything if o.db_destination is not None],
            "default_commands": default_commands(),
        }
        Path(manifest["dump"]).write_text(json.dumps(dump, ensure_ascii=False, indent=1), encoding="utf-8")
