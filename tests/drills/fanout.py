"""Game-night campaigns for the real-worker drills: members reached at a sink, campaigns due within seconds,
what the ledger and Redis hold afterwards, and what each member received."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from rq.job import Job
from sqlalchemy import select

from tests.sink import Sink
from tests.workers import Workers, wait_for
from webapp.extensions import utcnow
from webapp.gamenight import campaign_plans, campaign_report, campaign_runs, campaigns, night_settings
from webapp.gamenight.campaign_plans import CampaignChoices
from webapp.gamenight.models import Campaign, CampaignJob, JobKind, JobStatus
from webapp.notify.models import Delivery

LEASE = 2.0  # seconds a claim or a heartbeat stays fresh, here and in the workers
needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds RQ's work horses in /proc")


def fresh(db) -> None:
    """Forget what this session read: the workers write the rows."""
    db.session.rollback()
    db.session.expire_all()


def members(factories, promoter, sink: Sink, n: int) -> dict[str, int]:
    """`n` opted-in, available members, each reached at its own sink path; path → user id."""
    return {f"m{i}": factories.player(promoter.workspace_id, f"m{i}@example.com", target=sink.target(f"m{i}"))
            for i in range(n)}


def _campaign(promoter) -> Campaign:
    local = (utcnow() + timedelta(minutes=5)).astimezone(night_settings.workspace(promoter.workspace_id).zone)
    campaign, _ = campaigns.create(promoter, CampaignChoices(day=local.date().isoformat(), start_time=local.strftime("%H:%M")))
    return campaign


def start_call_now(db, redis, promoter) -> tuple[Campaign, CampaignJob]:
    """A campaign whose start call is due now, the only job to run: reminder and ready-check cancelled.
    Its three scheduled RQ runs are dropped and the start call is put on the queue at once."""
    campaign = _campaign(promoter)
    for found in campaign.jobs:
        Job.fetch(found.rq_job_id, connection=redis).delete()
        if found.kind is JobKind.start:
            start = found
            found.run_at, found.deadline_at = utcnow(), utcnow() + timedelta(hours=1)
        else:
            found.status = JobStatus.cancelled
    db.session.commit()
    assert campaign_runs.schedule(start)
    return campaign, start


def campaign_due_in(db, redis, promoter, *, reminder: float, start: float) -> Campaign:
    """A campaign scheduled the way `campaigns.create` schedules one (`enqueue_at` on RQ), with its clock
    compressed: the reminder due `reminder` seconds from now, the start call and the ready-check `start`
    seconds from now, instead of 15 minutes apart."""
    campaign = _campaign(promoter)
    now = utcnow()
    for job in campaign.jobs:
        Job.fetch(job.rq_job_id, connection=redis).delete()
        job.run_at = now + timedelta(seconds=reminder if job.kind is JobKind.reminder else start)
        job.deadline_at = job.run_at + campaign_plans.DEADLINES[job.kind]
    campaign.start_at = now + timedelta(seconds=start)
    db.session.commit()
    for job in campaign.jobs:
        assert campaign_runs.schedule(job, job.run_at)
    return campaign


def machine(workers: Workers, n: int = 2) -> None:
    """What a deployment runs: `n` workers (with their schedulers) and a reconciler every second."""
    for _ in range(n):
        workers.start()
    workers.reconciler(every=1)


def wait_until_done(db, campaign: Campaign, workers: Workers, sink: Sink) -> Campaign:
    """Wait (bounded) until every job of `campaign` is done; the campaign as the workers left it."""
    def finished() -> bool:
        fresh(db)
        return all(job.status is JobStatus.done for job in db.session.get(Campaign, campaign.id).jobs)

    wait_for(finished, lambda: f"not done; {sink.count()} posts\n" + workers.output())
    # Read again: on PostgreSQL `finished` read the campaign, then its jobs, each as committed at its own moment,
    # so the campaign may be from before the last job's finisher committed its roll-up (with that job).
    fresh(db)
    return db.session.get(Campaign, campaign.id)


def ledger(db, source_id: int) -> dict[int, Delivery]:
    return {d.user_id: d for d in db.session.scalars(select(Delivery).where(Delivery.source_type == campaign_report.SOURCE,
                                                                          Delivery.source_id == source_id))}


def job_of(campaign: Campaign, kind: JobKind) -> CampaignJob:
    return next(job for job in campaign.jobs if job.kind is kind)


def rq_jobs(redis) -> dict[str, Job]:
    """Every job hash in Redis, by id."""
    ids = {key.decode().removeprefix("rq:job:") for key in redis.scan_iter("rq:job:*")}
    return {job_id: Job.fetch(job_id, connection=redis) for job_id in ids if ":" not in job_id}


def assert_ids_only(jobs: dict[str, Job], sink: Sink) -> None:
    """Job arguments are row ids (a campaign job's, and a share number; an outbox effect's): never a handle or a
    target. Every job is one of the app's entry points in jobs/."""
    assert any(job.func_name == campaign_runs.JOB_FUNCTION for job in jobs.values())
    for job in jobs.values():
        assert job.func_name.startswith("jobs."), (job.id, job.func_name)
        assert job.kwargs == {} and all(type(arg) is int for arg in job.args), (job.id, job.args)
        assert f"127.0.0.1:{sink.port}" not in repr((job.args, job.kwargs, job.meta, job.description))


def tally(sink: Sink, paths: dict[str, int], keys: list[str]) -> dict[str, int]:
    """`lost` and `duplicated` over every member and message key (`{user_id}` filled in): a key that never
    arrived is lost, each extra arrival a duplicate; a key nobody expected counts as a duplicate too."""
    lost = duplicated = 0
    for path, user_id in paths.items():
        expected = {key.format(user_id=user_id) for key in keys}
        arrived = Counter(post["key"] for post in sink.received(path))
        lost += sum(1 for key in expected if not arrived[key])
        duplicated += sum(n - 1 for key, n in arrived.items() if key in expected and n > 1)
        duplicated += sum(n for key, n in arrived.items() if key not in expected)
    return {"lost": lost, "duplicated": duplicated}


def hold_post(sink: Sink, k: int, timeout: float) -> tuple[threading.Event, threading.Event]:
    """Hold the k-th post the sink receives (recorded, not yet answered) until `release` is set, so a worker can be
    SIGKILLed inside `notify()`: (held, release)."""
    held, release = threading.Event(), threading.Event()

    def hold(_path: str, total: int) -> None:
        if total == k:
            held.set()
            release.wait(timeout)

    sink.on_post = hold
    return held, release
