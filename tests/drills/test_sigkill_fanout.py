"""Drill: SIGKILL mid fan-out. A game-night start call with real worker processes (`flask --app wsgi worker`)
and a local HTTP sink receiving the Apprise `json://` posts: a worker SIGKILLed in the middle of the start call
and a fresh one after it, and two workers sharing one large fan-out. Either way every recipient gets one message."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from rq import Worker
from rq.job import Job
from rq.job import JobStatus as RQStatus

from tests.drills.fanout import (
    LEASE,
    assert_ids_only,
    fresh,
    ledger,
    members,
    needs_proc,
    rq_jobs,
    start_call_now,
    tally,
)
from tests.drills.report import drill
from tests.workers import TIMEOUT, wait_for
from webapp.extensions import utcnow
from webapp.gamenight import campaign_runs
from webapp.gamenight.models import Campaign, CampaignJob, CampaignStatus, JobStatus
from webapp.notify.models import DeliveryStatus

pytestmark = needs_proc


def test_a_worker_killed_mid_start_call_and_a_fresh_one_send_each_message_exactly_once(
        db, redis, settings, promoter, factories, sink, workers):
    n, k = 120, 40
    paths = members(factories, promoter, sink, n)
    held, killed = threading.Event(), threading.Event()

    def hold_the_kth_post(path: str, total: int) -> None:
        if total == k:  # received (recorded by the sink), not yet answered
            held.set()
            killed.wait(TIMEOUT)

    sink.on_post = hold_the_kth_post
    campaign, start = start_call_now(db, redis, promoter)
    first = workers.start()
    assert held.wait(TIMEOUT), "the worker never sent the k-th post\n" + workers.output()
    workers.kill(first)  # SIGKILL to the worker, its scheduler and the work horse inside notify()
    killed.set()

    # The crash's trace: k posts arrived, k − 1 marked sent, the k-th claimed and never answered.
    assert sink.count() == k
    fresh(db)
    rows = ledger(db, start.id)
    [stuck] = [row for row in rows.values() if row.status is DeliveryStatus.sending]
    assert sum(row.status is DeliveryStatus.sent for row in rows.values()) == k - 1 and len(rows) == k
    stuck_path = next(path for path, user_id in paths.items() if user_id == stuck.user_id)
    assert [post["key"] for post in sink.received(stuck_path)] == [stuck.key]
    job = db.session.get(CampaignJob, start.id)
    assert job.status is JobStatus.running and job.rq_job_id == f"campaign-job-{start.id}-r0"
    assert Job.fetch(job.rq_job_id, connection=redis).get_status() is RQStatus.STARTED  # nobody will finish it

    # Past the lease the run is silent and its claim is stale: the reconciler puts a new run on the queue.
    silent_after = max(stuck.claimed_at, job.heartbeat_at) + timedelta(seconds=LEASE + 0.5)
    time.sleep(max((silent_after - utcnow()).total_seconds(), 0))
    assert campaign_runs.reconcile() == {"campaign_jobs_due": 1, "campaign_jobs_enqueued": 1}
    fresh(db)
    rerun = db.session.get(CampaignJob, start.id).rq_job_id
    assert rerun == f"campaign-job-{start.id}-r1"

    second = workers.start("--burst")
    assert second.wait(TIMEOUT) == 0, workers.output()

    for path, user_id in paths.items():
        posts = sink.received(path)
        assert [post["key"] for post in posts] == [f"campaign:{campaign.id}:start:{user_id}"], path
    assert sink.count() == n
    fresh(db)
    rows = ledger(db, start.id)
    assert len(rows) == n
    assert {user_id: row.status for user_id, row in rows.items() if row.status is not DeliveryStatus.sent} == {
        stuck.user_id: DeliveryStatus.unknown}  # maybe delivered, maybe not: never sent again
    job = db.session.get(CampaignJob, start.id)
    assert job.status is JobStatus.done and job.counts == {"sent": n - 1, "unknown": 1}
    assert db.session.get(Campaign, campaign.id).status is CampaignStatus.partial
    jobs = rq_jobs(redis)
    assert {f"campaign-job-{start.id}-r0", rerun} <= set(jobs)
    assert jobs[rerun].get_status() is RQStatus.FINISHED and jobs[rerun].return_value() == "done"
    assert_ids_only(jobs, sink)
    drill("sigkill mid fan-out", **tally(sink, paths, [f"campaign:{campaign.id}:start:{{user_id}}"]))


def test_two_workers_share_one_large_fan_out_and_deliver_each_message_once(
        db, redis, settings, promoter, factories, sink, workers):
    n = 220  # a shared fan-out from campaign_runs.FANOUT_SHARED (200) recipients on
    assert n >= campaign_runs.FANOUT_SHARED and settings.FANOUT_RUNS == 2
    paths = members(factories, promoter, sink, n)
    arrivals: list[str] = []
    sink.on_post = lambda path, _total: arrivals.append(path)
    for _ in range(2):
        workers.start()
    wait_for(lambda: len(Worker.all(connection=redis)) == 2, lambda: "workers did not start\n" + workers.output())

    campaign, start = start_call_now(db, redis, promoter)
    main, share = f"campaign-job-{start.id}-r0", f"campaign-job-{start.id}-share1"

    def finished() -> bool:
        fresh(db)
        if db.session.get(CampaignJob, start.id).status is not JobStatus.done:
            return False
        jobs = rq_jobs(redis)
        return all(j in jobs and jobs[j].get_status() is RQStatus.FINISHED for j in (main, share))

    wait_for(finished, lambda: f"not done after {TIMEOUT}s; {sink.count()} posts\n" + workers.output())

    for path, user_id in paths.items():
        posts = sink.received(path)
        assert [post["key"] for post in posts] == [f"campaign:{campaign.id}:start:{user_id}"], path
    assert sink.count() == n
    rows = ledger(db, start.id)
    assert len(rows) == n and {row.status for row in rows.values()} == {DeliveryStatus.sent}
    job = db.session.get(CampaignJob, start.id)
    assert job.counts == {"sent": n} and job.runs == 2
    assert db.session.get(Campaign, campaign.id).status is CampaignStatus.sent

    # Both workers walked the list: the share started in the middle, before the first run got there.
    jobs = rq_jobs(redis)
    assert jobs[main].worker_name and jobs[share].worker_name
    assert jobs[main].worker_name != jobs[share].worker_name
    path_of = {user_id: path for path, user_id in paths.items()}
    order = [path_of[r.user_id] for r in db.session.get(Campaign, campaign.id).recipients]  # as the runs walk it
    middle = n // 2  # where the share's walk starts (rotate = share * n // FANOUT_RUNS)
    assert arrivals.index(order[middle]) < arrivals.index(order[middle - 1]), "one run sent them all"
    assert_ids_only(jobs, sink)
    drill("two workers share one fan-out", **tally(sink, paths, [f"campaign:{campaign.id}:start:{{user_id}}"]))
