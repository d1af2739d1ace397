"""A draft that loses the race for its version number (SQLite has no row lock) is a 409, not a 500."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from webapp.errors import Conflict
from webapp.processes import documents
from webapp.processes.models import ProcessVersion


def test_a_draft_whose_number_was_taken_meanwhile_is_a_409_and_writes_nothing(app, db, factories, monkeypatch):
    actor = factories.user("editor")
    proc = factories.process(actor)
    taken = factories.version(actor, proc)
    # What a concurrent promote does between this draft's max(number) and its INSERT on SQLite.
    monkeypatch.setattr(documents, "next_number", lambda process_id: taken.number)
    with pytest.raises(Conflict) as exc:
        documents.create_draft(actor, proc, {"prompt": "late"})
    assert exc.value.status == 409
    assert db.session.scalar(select(func.count()).select_from(ProcessVersion)) == 1
