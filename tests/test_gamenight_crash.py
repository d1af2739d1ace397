"""A game-night fan-out with real worker processes (`flask --app wsgi worker`) and a local HTTP sink
receiving the Apprise `json://` posts: a worker SIGKILLed in the middle of the start call and a fresh
one after it, and two workers sharing one large fan-out. Either way every recipient gets one message."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from rq import Worker
from rq.job import Job
from rq.job import JobStatus as RQStatus
from sqlalchemy import select

from tests.sink import Sink
from tests.workers import TIMEOUT, Workers, wait_for
from webapp.config import Settings
from webapp.extensions import utcnow
from webapp.gamenight import campaigns
from webapp.gamenight import services as gamenight
from webapp.gamenight.models import Campaign, CampaignJob, CampaignStatus, JobKind, JobStatus
from webapp.notify.models import Delivery, DeliveryStatus

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds RQ's work horses in /proc")
LEASE = 2.0  # seconds a claim or a heartbeat stays fresh, here and in the workers


@pytest.fixture
def sink() -> Iterator[Sink]:
    with Sink() as running:
        yield running


@pytest.fixture
def settings(app, monkeypatch) -> Settings:
    """The app's settings with the workers' short lease (the reconciler here judges by the same)."""
    short = dataclasses.replace(app.config["SETTINGS"], DELIVERY_LEASE_SECONDS=LEASE, FANOUT_RUNS=2)
    monkeypatch.setitem(app.config, "SETTINGS", short)
    return short


@pytest.fixture
def promoter(factories):
    return factories.user("promoter", "Acme", email="promoter@example.com")


@pytest.fixture
def workers(settings, tmp_path) -> Iterator[Workers]:
    running = Workers(settings, tmp_path)
    try:
        yield running
    finally:
        running.close()



def fresh(db) -> None:
    """Forget what this session read: the workers write the rows."""
    db.session.rollback()
    db.session.expire_all()


def members(factories, promoter, sink, n: int) -> dict[str, int]:
    """`n` opted-in, available members, each reached at its own sink path; path → user id."""
    return {f"m{i}": factories.player(promoter.workspace_id, f"m{i}@example.com", target=sink.target(f"m{i}"))
            for i in range(n)}


def start_call_now(db, redis, promoter) -> tuple[Campaign, CampaignJob]:
    """A campaign whose start call is due now, the only job to run: reminder and ready-check cancelled.
    Its three scheduled RQ runs are dropped and the start call is put on the queue at once."""
    local = (utcnow() + timedelta(minutes=5)).astimezone(gamenight.workspace(promoter.workspace_id).zone)
    campaign, _ = campaigns.create(promoter, day=local.date().isoformat(), start_time=local.strftime("%H:%M"))
    for found in campaign.jobs:
        Job.fetch(found.rq_job_id, connection=redis).delete()
        if found.kind is JobKind.start:
            start = found
            found.run_at, found.deadline_at = utcnow(), utcnow() + timedelta(hours=1)
        else:
            found.status = JobStatus.cancelled
    db.session.commit()
    assert campaigns._schedule(start)
    return campaign, start


def ledger(db, source_id: int) -> dict[int, Delivery]:
    return {d.user_id: d for d in db.session.scalars(select(Delivery).where(Delivery.source_type == campaigns.SOURCE,
                                                                          Delivery.source_id == source_id))}


def rq_jobs(redis) -> dict[str, Job]:
    """Every job hash in Redis, by id."""
    ids = {key.decode().removeprefix("rq:job:") for key in redis.scan_iter("rq:job:*")}
    return {job_id: Job.fetch(job_id, connection=redis) for job_id in ids if ":" not in job_id}


def assert_ids_only(jobs: dict[str, Job], sink: Sink) -> None:
    """Job arguments are a campaign job's id (and a share number): never a handle or a target."""
    assert jobs
    for job in jobs.values():
        assert job.func_name == campaigns.JOB_FUNCTION
        assert job.kwargs == {} and all(type(arg) is int for arg in job.args), (job.id, job.args)
        assert f"127.0.0.1:{sink.port}" not in repr((job.args, job.kwargs, job.meta, job.description))


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
    assert campaigns.reconcile() == {"campaign_jobs_due": 1, "campaign_jobs_enqueued": 1}
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


def test_two_workers_share_one_large_fan_out_and_deliver_each_message_once(
        db, redis, settings, promoter, factories, sink, workers):
    n = 220  # a shared fan-out from campaigns.FANOUT_SHARED (200) recipients on
    assert n >= campaigns.FANOUT_SHARED and settings.FANOUT_RUNS == 2
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
