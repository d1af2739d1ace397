"""Drill: the worker that holds RQ's scheduler lock dies or hangs while a campaign reminder and an outbox retry
wait on RQ's schedule (`enqueue_at`). RQ keeps a SIGKILLed scheduler's lock for a minute and a worker started
meanwhile only tries for it again at its 10-minute maintenance pass; the due jobs run anyway — the new worker
takes a dead holder's lock over, and the reconciler moves what no scheduler moves — each message once."""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

from rq import Worker
from rq.job import Job
from rq.job import JobStatus as RQStatus
from rq.scheduler import RQScheduler

from tests.drills.fanout import campaign_due_in, fresh, job_of, members, needs_proc, tally
from tests.drills.report import drill
from tests.sink import Sink
from tests.workers import descendants, wait_for
from webapp.extensions import db as _db
from webapp.extensions import utcnow
from webapp.gamenight.models import CampaignJob, JobKind, JobStatus
from webapp.outbox import services as outbox
from webapp.outbox.models import EffectStatus, OutboxEffect
from webapp.webhooks import services as webhooks

pytestmark = needs_proc
LOCK = RQScheduler.get_locking_key("default")
DUE_IN = 4.0  # seconds: both jobs wait on RQ's schedule when the scheduler goes
BOUND = 30.0  # the drill's own wait; RQ alone would take up to 10 minutes


def webhook_retry_due_in(factories, promoter, sink: Sink, seconds: float) -> int:
    """A webhook effect whose first attempt failed, its retry put on RQ's schedule the way `run_effect` does
    (`enqueue_ids(at=…)`); it posts to the sink's /hook."""
    admin = factories.user("admin", "Acme", email="admin@example.com")
    assert admin.workspace_id == promoter.workspace_id
    endpoint, _ = webhooks.create_endpoint(admin, f"http://127.0.0.1:{sink.port}/hook")
    at = utcnow() + timedelta(seconds=seconds)
    effect = OutboxEffect(workspace_id=admin.workspace_id, kind="webhook.deliver", attempts=1, next_attempt_at=at,
                          payload={"endpoint_id": endpoint.id, "event": "drill.retry", "data": {}},
                          last_error="http://127.0.0.1/… answered HTTP 500")
    _db.session.add(effect)
    _db.session.commit()
    assert outbox.enqueue_ids([effect.id], at=at) == 1
    return effect.id


def timed_jobs(db, redis, factories, promoter, sink: Sink) -> tuple[dict[str, int], int, int, list[str]]:
    """Three members and a campaign whose reminder is due in DUE_IN s, and a webhook retry due then too;
    (paths, reminder job id, effect id, the keys each member must get once)."""
    paths = members(factories, promoter, sink, 3)
    campaign = campaign_due_in(db, redis, promoter, reminder=DUE_IN, start=3600)
    reminder = job_of(campaign, JobKind.reminder).id
    effect_id = webhook_retry_due_in(factories, promoter, sink, DUE_IN)
    for rq_id in (f"campaign-job-{reminder}-r0", f"effect-{effect_id}"):
        assert Job.fetch(rq_id, connection=redis).get_status() is RQStatus.SCHEDULED
    return paths, reminder, effect_id, [f"campaign:{campaign.id}:reminder:{{user_id}}"]


def ran(db, reminder: int, effect_id: int) -> bool:
    fresh(db)
    return (db.session.get(CampaignJob, reminder).status is JobStatus.done
            and db.session.get(OutboxEffect, effect_id).status is EffectStatus.done)


def holder(redis) -> bytes | None:
    return redis.get(LOCK)


def first_worker_holding_the_lock(workers, redis):
    first = workers.start()
    wait_for(lambda: holder(redis) is not None and len(Worker.all(connection=redis)) == 1,
             lambda: "the first worker never took the scheduler lock\n" + workers.output())
    return first, holder(redis)


def hook_posts(sink: Sink) -> int:
    return len(sink.received("hook"))


def test_a_sigkilled_scheduler_holder_and_a_worker_started_at_once_run_due_jobs_once(
        db, redis, settings, promoter, factories, sink, workers):
    first, dead = first_worker_holding_the_lock(workers, redis)
    paths, reminder, effect_id, keys = timed_jobs(db, redis, factories, promoter, sink)
    workers.kill(first)  # SIGKILL: the worker, its scheduler (the lock's holder), its work horse
    assert holder(redis) == dead and redis.ttl(LOCK) > 30  # RQ would keep it for most of a minute

    second = workers.start()  # what systemd does: a new worker at once
    workers.reconciler(every=1)
    wait_for(lambda: ran(db, reminder, effect_id) and sink.count() == len(paths) + 1 and hook_posts(sink) == 1,
             lambda: f"the due jobs did not run within {BOUND}s\n" + workers.output(), timeout=BOUND)

    # The new worker freed the dead holder's lock and its own scheduler holds it now.
    assert holder(redis) not in (None, dead)
    assert "released the scheduler lock of queue 'default'" in workers.output()
    time.sleep(2.5)  # two more reconciler passes: nothing runs a second time
    assert second.poll() is None
    drill("scheduler holder sigkilled", **with_hook(tally(sink, paths, keys), sink))


def test_a_hung_scheduler_holding_the_lock_does_not_stop_due_jobs_the_reconciler_moves_them(
        db, redis, settings, promoter, factories, sink, workers):
    first, hung = first_worker_holding_the_lock(workers, redis)
    wait_for(lambda: len(descendants(first.pid)) == 1, lambda: "no scheduler process\n" + workers.output())
    [scheduler] = descendants(first.pid)  # idle: the scheduler is the worker's only child
    paths, reminder, effect_id, keys = timed_jobs(db, redis, factories, promoter, sink)
    os.kill(scheduler, signal.SIGSTOP)  # alive, holding the lock, scheduling nothing; its worker still works

    passes: list[dict[str, int]] = []
    give_up = time.monotonic() + BOUND
    while not (ran(db, reminder, effect_id) and sink.count() == len(paths) + 1 and hook_posts(sink) == 1):
        assert time.monotonic() < give_up, f"the due jobs did not run within {BOUND}s: {passes}\n" + workers.output()
        passes.append(outbox.reconcile())
        time.sleep(0.5)
    for _ in range(3):  # later passes find nothing to do
        passes.append(outbox.reconcile())

    assert holder(redis) == hung  # no scheduler moved them: the reconciler did, each once
    assert sum(p["enqueued"] for p in passes) == 1 and sum(p["campaign_jobs_enqueued"] for p in passes) == 1
    assert passes[-1]["due"] == 0 and passes[-1]["campaign_jobs_due"] == 0
    drill("scheduler hung", **with_hook(tally(sink, paths, keys), sink))


def with_hook(counted: dict[str, int], sink: Sink) -> dict[str, int]:
    """The members' tally plus the webhook's: exactly one post expected at /hook."""
    posts = hook_posts(sink)
    return {"lost": counted["lost"] + (posts == 0), "duplicated": counted["duplicated"] + max(posts - 1, 0)}

