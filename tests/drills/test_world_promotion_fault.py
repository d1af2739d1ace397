"""Drill: the database fails in the middle of a world promotion. A trigger the test puts on its own database
refuses the second exit of the pair, after the rooms were moved and the first exit written in the same
transaction. Nothing is left half-done (no room moved, no exit, the project still built, no audit row, no
outbox effect) and, once the fault is gone, the same dialog's confirm promotes the area."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select, text

from tests.drills.database import changes, rows
from tests.drills.report import drill
from webapp.audit.models import AuditEvent
from webapp.errors import Conflict, DatabaseUnavailable
from webapp.worlds import promotion as worlds
from webapp.worlds.models import BuildProject, Exit, ProjectStatus, Room

FAULT = "drill: the database failed in the middle of the promotion"


def _inject(db, source_id: int, destination_id: int) -> None:
    """The insert of the exit source → destination fails; the statements before it succeed."""
    when = f"NEW.source_id = {source_id} AND NEW.destination_id = {destination_id}"
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("CREATE FUNCTION drill_fail() RETURNS trigger LANGUAGE plpgsql AS "
                                f"$$ BEGIN RAISE EXCEPTION '{FAULT}'; END $$"))
        db.session.execute(text(f"CREATE TRIGGER drill_fault BEFORE INSERT ON exits FOR EACH ROW WHEN ({when}) "
                                "EXECUTE FUNCTION drill_fail()"))
    else:
        db.session.execute(text(f"CREATE TRIGGER drill_fault BEFORE INSERT ON exits WHEN {when} "
                                f"BEGIN SELECT RAISE(ABORT, '{FAULT}'); END"))
    db.session.commit()


def _clear(db) -> None:
    db.session.rollback()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("DROP TRIGGER IF EXISTS drill_fault ON exits"))
        db.session.execute(text("DROP FUNCTION IF EXISTS drill_fail()"))
    else:
        db.session.execute(text("DROP TRIGGER IF EXISTS drill_fault"))
    db.session.commit()


@contextmanager
def statements(db) -> Iterator[list[str]]:
    """The SQL sent meanwhile, to show where the fault struck."""
    sent: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        sent.append(" ".join(statement.split()[:3]))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


@pytest.fixture
def fault(db):
    """`fault(source, destination)` injects the failure; it is gone at the end whatever happens."""
    yield lambda source, destination: _inject(db, source, destination)
    _clear(db)


def test_a_database_failure_mid_world_promotion_leaves_nothing_half_done_and_a_retry_promotes(db, factories, fault):
    admin = factories.user("admin")
    limbo = factories.live_room(admin)
    project = factories.build_project(admin)
    sandbox_id = project.sandbox_id
    entry = worlds._sandbox_entry(project)
    preview = worlds.promotion_preview(admin, project.id, limbo.id, "east")
    fault(entry.id, limbo.id)  # the way back, the second exit of the pair
    before = rows(db)

    # SQLite reports a trigger's abort as a constraint failure (a lost race: 409); PostgreSQL as the database
    # failing (503, saying nothing was changed) — never a 500.
    with statements(db) as sent, pytest.raises((Conflict, DatabaseUnavailable)) as failed:
        worlds.promote(admin, project.id, limbo.id, "east", preview.token)
    assert isinstance(failed.value, Conflict) or "nothing was changed" in failed.value.message
    # Midway: the rooms were moved out of the sandbox and the exits' insert began in the failed transaction.
    assert "UPDATE rooms SET" in sent and sent[-1].startswith("INSERT INTO exits"), sent

    half_done = changes(before, rows(db))
    assert half_done == {}, f"written by a promotion that failed: {half_done}"
    found = db.session.get(BuildProject, project.id)
    assert found.status is ProjectStatus.built and found.sandbox_id == sandbox_id
    assert db.session.scalar(select(func.count()).select_from(Room).where(Room.sandbox_id == sandbox_id)) == 3
    assert db.session.scalar(select(func.count()).select_from(Exit).where(Exit.source_id == limbo.id)) == 0

    _clear(db)  # the database is back: the dialog the promoter still has open confirms
    promotion = worlds.promote(admin, project.id, limbo.id, "east", preview.token)
    assert promotion.promoted_rooms == 3
    db.session.expire_all()
    assert db.session.get(BuildProject, project.id).status is ProjectStatus.live
    assert db.session.scalar(select(func.count()).select_from(Room).where(Room.sandbox_id == sandbox_id)) == 0
    pair = db.session.scalar(select(func.count()).select_from(Exit).where(
        ((Exit.source_id == limbo.id) & (Exit.destination_id == entry.id))
        | ((Exit.source_id == entry.id) & (Exit.destination_id == limbo.id))))
    audited = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "build.promoted", AuditEvent.resource_id == str(project.id)))
    assert (pair, audited) == (2, 1)
    drill("injected failure mid world promotion", lost=sum(half_done.values()) + (2 - min(pair, 2)),
          duplicated=max(pair - 2, 0) + max(audited - 1, 0))
