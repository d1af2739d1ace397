"""Drill: a worker SIGKILLed in the middle of a start call, the campaign cancelled meanwhile. What the crash left
settles for good — the job ends `cancelled`, the message in flight becomes `unknown` — nobody gets a message
twice or after the cancel, and the reconciler stops running the job."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

from rq import Queue
from rq.registry import ScheduledJobRegistry

from tests.drills.fanout import fresh, hold_post, job_of, ledger, members, needs_proc, start_call_now
from tests.drills.report import drill
from tests.workers import TIMEOUT, wait_for
from webapp.extensions import utcnow
from webapp.gamenight import campaign_runs, campaigns
from webapp.gamenight.models import Campaign, CampaignJob, CampaignStatus, JobKind, JobStatus
from webapp.notify.models import DeliveryStatus, SendLog

pytestmark = needs_proc


def test_a_campaign_cancelled_after_a_worker_died_mid_start_call_settles_and_is_never_run_again(
        db, redis, settings, promoter, factories, sink, workers):
    n, k = 12, 5
    paths = members(factories, promoter, sink, n)
    held, killed = hold_post(sink, k, TIMEOUT)
    campaign, start = start_call_now(db, redis, promoter)
    ready = job_of(campaign, JobKind.ready_check)  # still to come: the cancel cancels it outright
    ready.status, ready.run_at = JobStatus.scheduled, utcnow() + timedelta(hours=1)
    db.session.commit()
    assert campaign_runs.schedule(ready, ready.run_at)

    first = workers.start()
    assert held.wait(TIMEOUT), "the worker never sent the k-th post\n" + workers.output()
    workers.kill(first)  # SIGKILL mid fan-out: the k-th message claimed, posted, never answered
    killed.set()
    campaigns.cancel(promoter, campaign.id)
    fresh(db)
    assert db.session.get(CampaignJob, ready.id).status is JobStatus.cancelled
    assert db.session.get(CampaignJob, start.id).status is JobStatus.running  # a run may still hold a message

    workers.start()
    workers.reconciler(every=1)

    def settled() -> bool:
        fresh(db)
        rows = ledger(db, start.id).values()
        return (db.session.get(CampaignJob, start.id).status is JobStatus.cancelled
                and not any(row.status is DeliveryStatus.sending for row in rows))

    wait_for(settled, lambda: "the cancelled campaign's start call never settled\n" + workers.output())
    job = db.session.get(CampaignJob, start.id)
    runs, rq_id = job.runs, job.rq_job_id
    time.sleep(2.5)  # two more reconciler passes
    fresh(db)
    job = db.session.get(CampaignJob, start.id)
    assert (job.runs, job.rq_job_id) == (runs, rq_id), "the reconciler ran the settled job again"
    assert campaign_runs.reconcile() == {"campaign_jobs_due": 0, "campaign_jobs_enqueued": 0}
    assert Queue("default", connection=redis).count == 0 and ScheduledJobRegistry("default", connection=redis).count == 0

    rows = ledger(db, start.id)
    statuses = Counter(row.status for row in rows.values())
    assert statuses == {DeliveryStatus.sent: k - 1, DeliveryStatus.unknown: 1}, statuses  # nothing after the cancel
    assert job.counts == {"sent": k - 1, "unknown": 1} and job.finished_at is not None
    [unknown] = [row for row in rows.values() if row.status is DeliveryStatus.unknown]
    assert db.session.query(SendLog).filter_by(delivery_id=unknown.id, status="unknown").count() == 1
    assert {j.status for j in db.session.get(Campaign, campaign.id).jobs} == {JobStatus.cancelled}
    assert db.session.get(Campaign, campaign.id).status is CampaignStatus.cancelled

    # Every arrival is on the ledger as sent or unknown (the held post), every sent row arrived, none twice.
    path_of = {user_id: path for path, user_id in paths.items()}
    arrived = {path: len(sink.received(path)) for path in paths}
    recorded = {path_of[user_id] for user_id, row in rows.items()
                if row.status in (DeliveryStatus.sent, DeliveryStatus.unknown)}
    lost = sum(1 for path, count in arrived.items() if count and path not in recorded)
    lost += sum(1 for user_id, row in rows.items() if row.status is DeliveryStatus.sent and not arrived[path_of[user_id]])
    duplicated = sum(count - 1 for count in arrived.values() if count > 1)
    assert sink.count() == k
    drill("cancel after a crash mid fan-out", lost=lost, duplicated=duplicated)
