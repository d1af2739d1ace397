"""Drill: answers to a reminder while real workers (`flask --app wsgi worker`) are SIGKILLed and Redis is flushed.
"can't" sent (twice) by members the start call has not reached yet withdraws their start call and nudge exactly
once: the fresh worker and the reconciler send everyone else theirs once and them nothing. "late 1" moves one
member's nudge a minute on: a worker killed mid ready-check, a flushed Redis, and that member still gets exactly one
nudge, after the others."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import func, select

from tests.drills.fanout import (
    LEASE,
    fresh,
    hold_post,
    job_of,
    ledger,
    machine,
    members,
    needs_proc,
    rq_jobs,
    start_call_now,
    tally,
)
from tests.drills.report import drill
from tests.workers import TIMEOUT, wait_for
from webapp.audit.models import AuditEvent
from webapp.extensions import utcnow
from webapp.gamenight import campaign_runs, campaigns, night_settings
from webapp.gamenight.campaign_plans import CampaignChoices
from webapp.gamenight.models import Campaign, CampaignJob, JobKind, JobStatus
from webapp.notify.models import DeliveryStatus

pytestmark = needs_proc
ANSWERS = "/api/v1/campaigns/answers"


def _bot(factories) -> dict[str, str]:
    admin = factories.user("admin", "Acme", email="boss@example.com")
    return {"Authorization": f"Bearer {night_settings.rotate_bot_token(admin)}"}


def _say(client, bot, user_id: int, words: str, campaign_id: int) -> dict:
    answer = client.post(ANSWERS, headers=bot, json={"channel": "discord", "external_id": f"ext-{user_id}",
                                                     "answer": words, "campaign_id": campaign_id})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["answers"][0]


def test_cant_sent_twice_mid_fan_out_under_a_sigkilled_worker_and_a_flushed_redis_withdraws_exactly_once(
        db, redis, settings, promoter, factories, sink, workers, client):
    n, k = 60, 15
    paths = members(factories, promoter, sink, n)
    bot = _bot(factories)
    held, release = hold_post(sink, k, TIMEOUT)
    campaign, start = start_call_now(db, redis, promoter)
    first = workers.start()
    assert held.wait(TIMEOUT), "the worker never sent the k-th post\n" + workers.output()

    # While the worker is stuck inside the k-th send, ten members it has not reached answer "can't" — twice.
    reached = {path for path in paths if sink.received(path)}
    out = [user_id for path, user_id in reversed(paths.items()) if path not in reached][:10]
    for user_id in out:
        assert _say(client, bot, user_id, "can't", campaign.id)["withdrawn"] == 3  # reminder, start, nudge
        assert _say(client, bot, user_id, "cant", campaign.id)["changed"] is False
    workers.kill(first)
    release.set()
    redis.flushdb()  # and Redis forgets the run, its registries, everything
    assert rq_jobs(redis) == {}

    fresh(db)
    found = db.session.get(CampaignJob, start.id)
    time.sleep(max((found.heartbeat_at + timedelta(seconds=LEASE + 0.5) - utcnow()).total_seconds(), 0))
    machine(workers, 1)  # a fresh worker and the reconciler every second

    def done() -> bool:
        fresh(db)
        return db.session.get(CampaignJob, start.id).status is JobStatus.done

    wait_for(done, lambda: f"not done; {sink.count()} posts\n" + workers.output())
    rows = ledger(db, start.id)
    for path, user_id in paths.items():
        keys = [post["key"] for post in sink.received(path)]
        assert keys == ([] if user_id in out else [f"campaign:{campaign.id}:start:{user_id}"]), path
    statuses = sorted(row.status.value for user_id, row in rows.items() if user_id not in out)
    assert statuses == ["sent"] * (n - len(out) - 1) + ["unknown"]  # the send the SIGKILL cut: never again
    assert {rows[user_id].status for user_id in out} == {DeliveryStatus.withdrawn} and len(rows) == n
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "campaign.answered")) == len(out)
    counted = tally(sink, {p: u for p, u in paths.items() if u not in out}, [f"campaign:{campaign.id}:start:{{user_id}}"])
    pinged = sum(len(sink.received(p)) for p, u in paths.items() if u in out)  # a withdrawn ping is one too many
    drill("can't under sigkill and flushall", lost=counted["lost"], duplicated=counted["duplicated"] + pinged)


def test_late_survives_a_sigkilled_ready_check_and_a_flushed_redis_and_nudges_once_after_the_others(
        db, redis, settings, promoter, factories, sink, workers, client):
    n, k = 30, 10
    paths = members(factories, promoter, sink, n)
    bot = _bot(factories)
    local = (utcnow() + timedelta(minutes=5)).astimezone(night_settings.workspace(promoter.workspace_id).zone)
    campaign, _ = campaigns.create(promoter, CampaignChoices(day=local.date().isoformat(),
                                                             start_time=local.strftime("%H:%M")))
    from rq.job import Job

    now = utcnow()
    for found in campaign.jobs:
        Job.fetch(found.rq_job_id, connection=redis).delete()
        if found.kind is JobKind.ready_check:  # its time 50 s ago: "late 1" makes a member's nudge due in 10 s
            found.run_at, found.deadline_at = now - timedelta(seconds=50), now + timedelta(hours=1)
        else:
            found.status = JobStatus.cancelled
    campaign.start_at = now - timedelta(minutes=1)
    db.session.commit()
    path_of = {user_id: path for path, user_id in paths.items()}
    late = campaign.recipients[-1].user_id  # the last the run walks to
    assert _say(client, bot, late, "late 1", campaign.id)["nudge_at"]
    nudge_at = now + timedelta(seconds=10)

    held, release = hold_post(sink, k, TIMEOUT)
    check = job_of(db.session.get(Campaign, campaign.id), JobKind.ready_check)
    assert campaign_runs.schedule(check)
    first = workers.start()
    assert held.wait(TIMEOUT), "the ready-check never sent the k-th nudge\n" + workers.output()
    workers.kill(first)
    release.set()
    redis.flushdb()
    machine(workers, 1)

    def done() -> bool:
        fresh(db)
        return db.session.get(CampaignJob, check.id).status is JobStatus.done

    wait_for(done, lambda: f"not done; {sink.count()} posts\n" + workers.output())
    nudges = {path: [p["key"] for p in sink.received(path)] for path in paths}
    assert nudges[path_of[late]] == [f"campaign:{campaign.id}:ready_check:{late}"]
    assert all(len(keys) == 1 for keys in nudges.values()), nudges
    rows = ledger(db, check.id)
    assert rows[late].status is DeliveryStatus.sent and rows[late].claimed_at >= nudge_at - timedelta(seconds=1)
    assert all(rows[u].claimed_at < rows[late].claimed_at for u in rows if u not in (late, None))
    assert sorted(r.status.value for u, r in rows.items() if u) == ["sent"] * (n - 1) + ["unknown"]
    drill("late under sigkill and flushall", **tally(sink, paths, [f"campaign:{campaign.id}:ready_check:{{user_id}}"]))
