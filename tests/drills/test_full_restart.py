"""Drill: the whole machine goes down between the reminder (T-15) and the start call (T0). The reminder was
delivered; every worker and the reconciler are SIGKILLed; new ones start before T0. The start call goes out
exactly once per member and the reminder is not sent again."""

from __future__ import annotations

from rq import Worker

from tests.drills.fanout import campaign_due_in, fresh, job_of, machine, members, needs_proc, tally, wait_until_done
from tests.drills.report import drill
from tests.workers import wait_for
from webapp.extensions import utcnow
from webapp.gamenight.models import CampaignJob, CampaignStatus, JobKind, JobStatus

pytestmark = needs_proc
MEMBERS = 12
START_IN = 8.0  # seconds from scheduling to T0; the reminder is due at once


def test_a_full_restart_between_reminder_and_start_sends_the_start_call_once_and_no_second_reminder(
        db, redis, settings, promoter, factories, sink, workers):
    paths = members(factories, promoter, sink, MEMBERS)
    machine(workers)
    wait_for(lambda: len(Worker.all(connection=redis)) == 2, lambda: "workers did not start\n" + workers.output())
    campaign = campaign_due_in(db, redis, promoter, reminder=0, start=START_IN)
    reminder, start = job_of(campaign, JobKind.reminder).id, job_of(campaign, JobKind.start).id
    t0 = job_of(campaign, JobKind.start).run_at
    keys = {kind: f"campaign:{campaign.id}:{kind}:{{user_id}}" for kind in ("reminder", "start", "ready_check")}

    def done(job_id: int) -> bool:
        fresh(db)
        return db.session.get(CampaignJob, job_id).status is JobStatus.done

    wait_for(lambda: done(reminder), lambda: "no reminder\n" + workers.output())
    workers.kill_all()  # every worker, its scheduler and the reconciler: nothing of the first machine is left
    assert utcnow() < t0, "the restart came after T0: this drill needs the kill between the reminder and T0"
    assert tally(sink, paths, [keys["reminder"]]) == {"lost": 0, "duplicated": 0}
    assert sink.count() == MEMBERS  # the reminders, no start call yet
    assert not done(start)

    machine(workers)  # the new machine, before T0
    assert wait_until_done(db, campaign, workers, sink).status is CampaignStatus.sent
    drill("full restart between T-15 and T0", **tally(sink, paths, list(keys.values())))
