"""Drill: Redis loses everything after a campaign was scheduled. The reminder and the start call were put on RQ
(`enqueue_at`), then the test's Redis database is flushed; real workers and the reconciler
(`flask --app wsgi reconcile --every 1`) find the due rows in the database and every member gets each message
exactly once."""

from __future__ import annotations

from rq.job import Job

from tests.drills.fanout import campaign_due_in, ledger, machine, members, needs_proc, rq_jobs, tally, wait_until_done
from tests.drills.report import drill
from webapp.gamenight.models import CampaignStatus
from webapp.notify.models import DeliveryStatus

pytestmark = needs_proc
MEMBERS = 12
MESSAGES = ("reminder", "start", "ready_check")  # nobody is in voice: the ready-check nudges everyone


def test_a_redis_flushed_after_scheduling_loses_no_reminder_and_no_start_call(
        db, redis, settings, promoter, factories, sink, workers):
    paths = members(factories, promoter, sink, MEMBERS)
    campaign = campaign_due_in(db, redis, promoter, reminder=2, start=4)
    scheduled = {job.rq_job_id for job in campaign.jobs}
    assert all(Job.fetch(job_id, connection=redis).get_status() == "scheduled" for job_id in scheduled)

    redis.flushdb()  # everything RQ held: the scheduled runs, their registries
    assert rq_jobs(redis) == {}
    machine(workers)
    found = wait_until_done(db, campaign, workers, sink)
    assert found.status is CampaignStatus.sent
    for job in found.jobs:  # every run came back through the reconciler: Redis had none of them
        assert {row.status for row in ledger(db, job.id).values() if row.user_id} == {DeliveryStatus.sent}
    assert "campaign_jobs_enqueued=" in workers.output()
    drill("redis flushall after scheduling",
          **tally(sink, paths, [f"campaign:{campaign.id}:{kind}:{{user_id}}" for kind in MESSAGES]))
