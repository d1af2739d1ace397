"""Drill: a scheduled promotion still fires, exactly once and never before its time, when Redis loses everything
after it was scheduled (the reconciler finds the due row and enqueues it again), and when the whole machine goes
down before its time (every worker and the reconciler SIGKILLed; a new worker and reconciler fire it) — with real
`flask --app wsgi worker` processes."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from rq import Worker
from sqlalchemy import func, select

from tests.drills.fanout import fresh, machine, needs_proc
from tests.drills.report import drill
from tests.workers import wait_for
from webapp.audit.models import AuditEvent
from webapp.extensions import utcnow
from webapp.governance import schedules
from webapp.governance.models import ScheduledPromotion, ScheduleState
from webapp.processes import promotion
from webapp.processes.models import ProcessVersion

pytestmark = needs_proc
ZONE = ZoneInfo("Europe/Ljubljana")  # the factories' workspace zone


def scheduled_in(factories, promoter, seconds: float) -> tuple[ScheduledPromotion, int]:
    """A sandbox version of a process with production, scheduled `seconds` ahead (a local HH:MM:SS); its id."""
    proc = factories.process(promoter, "Support bot")
    factories.production(promoter, proc, {"prompt": "v1"})
    version = factories.version(promoter, proc, {"prompt": "v2"})
    at = (utcnow() + timedelta(seconds=seconds)).astimezone(ZONE)
    row = schedules.schedule(promoter, schedules.ScheduleCommand.model_validate({
        "flow": "process", "source": version.id, "date": at.date().isoformat(), "time": f"{at:%H:%M:%S}",
        "preview_token": promotion.promotion_preview(promoter, version.id).token}))
    return row, version.id


def promoted_copies(db, version_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(ProcessVersion)
                             .where(ProcessVersion.promoted_from_id == version_id))


def wait_until_fired(db, row_id: int, workers) -> ScheduledPromotion:
    def fired() -> bool:
        fresh(db)
        return db.session.get(ScheduledPromotion, row_id).state not in schedules.PENDING

    wait_for(fired, lambda: "the schedule did not fire\n" + workers.output())
    return db.session.get(ScheduledPromotion, row_id)


def tally(db, row: ScheduledPromotion, version_id: int) -> dict[str, int]:
    copies = promoted_copies(db, version_id)
    done_events = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "promotion.schedule_done", AuditEvent.resource_id == str(row.id)))
    return {"lost": int(copies == 0 or row.state is not ScheduleState.done),
            "duplicated": max(copies - 1, 0) + max(done_events - 1, 0)}


def test_a_redis_flushed_after_scheduling_still_fires_the_promotion_once_at_its_time(
        db, redis, settings, promoter, factories, workers):
    row, version_id = scheduled_in(factories, promoter, 3)
    redis.flushdb()  # the scheduled job, its registries: all RQ held
    machine(workers)
    found = wait_until_fired(db, row.id, workers)
    assert found.state is ScheduleState.done, (found.outcome, workers.output())
    assert found.started_at >= found.run_at  # never early
    assert "schedules_enqueued=" in workers.output()  # the reconciler's doing: Redis had nothing
    drill("scheduled promotion after redis flushall", **tally(db, found, version_id))


def test_a_full_restart_before_its_time_still_fires_the_promotion_once(
        db, redis, settings, promoter, factories, workers):
    machine(workers)
    wait_for(lambda: len(Worker.all(connection=redis)) == 2, lambda: "workers did not start\n" + workers.output())
    row, version_id = scheduled_in(factories, promoter, 5)
    workers.kill_all()  # every worker, its scheduler and the reconciler
    assert utcnow() < row.run_at, "the restart came after run_at: this drill needs the kill before it"
    fresh(db)
    assert db.session.get(ScheduledPromotion, row.id).state is ScheduleState.scheduled
    machine(workers)  # the new machine
    found = wait_until_fired(db, row.id, workers)
    assert found.state is ScheduleState.done, (found.outcome, workers.output())
    assert found.started_at >= found.run_at
    drill("scheduled promotion after a full restart", **tally(db, found, version_id))
