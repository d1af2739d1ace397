"""Drill: a weekly game night's creation time comes while no worker runs and Redis lost its queue. Real workers
and the reconciler started afterwards catch the night up — its campaign is created exactly once, even with
runs of the same night left over from before a crash racing on the next machine, and when the worker is
SIGKILLed inside the campaign's INSERT; a night whose whole window passed meanwhile is recorded `missed` and
promoted never."""

from __future__ import annotations

from datetime import timedelta

from rq import Queue
from rq.job import Job
from sqlalchemy import func, select, text

from tests.drills.fanout import fresh, machine, needs_proc
from tests.drills.report import drill
from tests.races import require_postgres
from tests.workers import wait_for
from webapp.audit.models import AuditEvent
from webapp.extensions import utcnow
from webapp.gamenight import night_settings, schedules
from webapp.gamenight.models import Campaign, NightStatus, ScheduledNight

pytestmark = needs_proc


def tonight(db, promoter, factories, *, start_in: timedelta, hours_ahead: int,
            set_up_ago: timedelta = timedelta(0)) -> ScheduledNight:
    """A daily schedule whose next night starts `start_in` from now (to the minute) and whose campaign is
    created `hours_ahead` before it, set up `set_up_ago`, with two members ready that night; that night."""
    ws = night_settings.workspace(promoter.workspace_id)
    local = (utcnow() + start_in).astimezone(ws.zone)
    schedule = schedules.create(promoter, schedules.ScheduleCommand(
        weekdays=list(schedules.WEEKDAYS), start_time=local.strftime("%H:%M"), hours_ahead=hours_ahead),
        now=utcnow() - set_up_ago)
    night = next(n for n in schedule.nights if n.local_day == local.date())
    for i in range(2):
        factories.player(promoter.workspace_id, f"m{i}@example.com", day=night.local_day)
    return night


def finished(jobs: list[Job]) -> bool:
    return all(job.get_status(refresh=True) == "finished" for job in jobs)


def status_of(db, night_id: int) -> NightStatus:
    fresh(db)
    return db.session.get(ScheduledNight, night_id).status


def campaigns_of(db, night: ScheduledNight) -> int:
    fresh(db)
    return db.session.scalar(select(func.count()).select_from(Campaign).where(
        Campaign.idempotency_key == schedules.idempotency_key(night)))


def audited(db, action: str) -> int:
    fresh(db)
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def test_a_creation_due_while_the_worker_was_down_is_caught_up_once_never_twice(
        db, redis, settings, promoter, factories, workers):
    night = tonight(db, promoter, factories, start_in=timedelta(minutes=45), hours_ahead=1)
    assert night.create_at <= utcnow() < schedules.window_end(night, _schedule(db, night))  # due now
    redis.flushdb()  # the outage: no worker took it, and Redis came back empty
    machine(workers)
    wait_for(lambda: status_of(db, night.id) is NightStatus.created,
             lambda: f"not created: {status_of(db, night.id)}\n" + workers.output())
    assert "scheduled_nights_enqueued=1" in workers.output()  # only the reconciler knew of it
    workers.kill_all()
    fresh(db)
    assert schedules.reconcile()["scheduled_nights_due"] == 0  # settled: no pass enqueues it again
    queue = Queue("default", connection=redis)
    runs = [queue.enqueue(schedules.JOB_FUNCTION, night.id, job_id=f"drill-again-{night.id}-{n}")
            for n in range(4)]  # runs left from before the crash, racing each other on the next machine
    machine(workers)
    wait_for(lambda: finished(runs), lambda: "the runs did not finish\n" + workers.output())
    made = campaigns_of(db, night)
    campaign = db.session.scalar(select(Campaign).where(Campaign.idempotency_key == schedules.idempotency_key(night)))
    assert campaign is not None and len(campaign.recipients) == 2 and campaign.promoter_id == promoter.user_id
    assert audited(db, "schedule.night_created") == 1 and audited(db, "campaign.created") == 1
    drill("schedule creation caught up after an outage", lost=1 - min(made, 1), duplicated=max(made - 1, 0))


def test_a_worker_sigkilled_while_creating_a_night_is_caught_up_once(
        db, redis, settings, promoter, factories, workers):
    """PostgreSQL: a table lock holds the worker inside the campaign's INSERT, where it is SIGKILLed; the
    reconciler finds the run dead (started longer ago than the lease) and the next run creates it once."""
    require_postgres(db)
    night = tonight(db, promoter, factories, start_in=timedelta(minutes=45), hours_ahead=1)
    blocker = db.engine.connect()
    blocker.execute(text("LOCK TABLE campaigns IN SHARE ROW EXCLUSIVE MODE"))  # reads pass, an INSERT waits
    try:
        workers.start()
        wait_for(lambda: waiting_inserts(db) == 1, lambda: "the worker is not inside the INSERT\n" + workers.output())
        workers.kill_all()  # mid-creation: the run started (runs=1), its transaction never commits
    finally:
        blocker.rollback()
        blocker.close()
    assert status_of(db, night.id) is NightStatus.pending and campaigns_of(db, night) == 0
    machine(workers)
    wait_for(lambda: status_of(db, night.id) is NightStatus.created,
             lambda: f"not created: {status_of(db, night.id)}\n" + workers.output())
    made = campaigns_of(db, night)
    assert audited(db, "schedule.night_created") == 1 and audited(db, "campaign.created") == 1
    drill("schedule creation sigkilled mid-insert", lost=1 - min(made, 1), duplicated=max(made - 1, 0))


def waiting_inserts(db) -> int:
    fresh(db)
    return db.session.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                  "AND query ILIKE 'INSERT INTO campaigns %'"))


def _schedule(db, night: ScheduledNight):
    from webapp.gamenight.models import NightSchedule

    return db.session.get(NightSchedule, night.schedule_id)


def test_a_night_whose_whole_window_passed_while_the_worker_was_down_is_missed_not_promoted_late(
        db, redis, settings, promoter, factories, workers):
    # Set up an hour ago, when its window (from its creation time, 1 h before the start, until the reminder
    # 15 minutes before it) was still to come; it ended while no worker ran, and Redis kept nothing.
    night = tonight(db, promoter, factories, start_in=timedelta(minutes=10), hours_ahead=1,
                    set_up_ago=timedelta(hours=1))
    redis.flushdb()
    assert schedules.window_end(night, _schedule(db, night)) <= utcnow()
    machine(workers)
    wait_for(lambda: status_of(db, night.id) is NightStatus.missed,
             lambda: f"not missed: {status_of(db, night.id)}\n" + workers.output())
    assert campaigns_of(db, night) == 0 and audited(db, "schedule.night_missed") == 1
