"""Side effects after commit, with real Redis and an in-process RQ worker: the outbox, cache
invalidation, signed webhooks, retries, and what happens when Redis loses things."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis as redis_lib
from sqlalchemy import select, update

from webapp.extensions import courier, utcnow
from webapp.outbox import services as outbox
from webapp.outbox.models import EffectStatus, OutboxEffect
from webapp.processes import cache, documents, promotion
from webapp.webhooks import services as webhooks


class Sink:
    """A local HTTP endpoint that records every POST and answers with `status`."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[tuple[dict[str, str], bytes]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                sink.received.append((dict(self.headers), body))
                self.send_response(sink.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/promotion"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink()
    yield s
    s.close()


def effects(db, kind: str) -> list[OutboxEffect]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxEffect).where(OutboxEffect.kind == kind).order_by(OutboxEffect.id)))


def run_until(worker, db, effect_id: int, statuses: set[EffectStatus], deadline_seconds: float = 20) -> OutboxEffect:
    """Run the worker (with its scheduler, for retries scheduled with enqueue_at) until the effect
    reaches one of `statuses`; the deadline only stops a broken run from hanging."""
    give_up = time.monotonic() + deadline_seconds
    while True:
        worker(with_scheduler=True)
        db.session.expire_all()
        effect = db.session.get(OutboxEffect, effect_id)
        if effect.status in statuses or time.monotonic() > give_up:
            return effect
        time.sleep(0.05)


@pytest.fixture
def live(factories):
    """An admin, a process with a production version, and a sandbox version ready to promote."""
    actor = factories.user("admin")
    proc = factories.process(actor)
    factories.production(actor, proc, {"prompt": "one"})
    candidate = factories.version(actor, proc, {"prompt": "two"})
    return actor, proc, candidate


def _clear_effects(db) -> None:
    """Forget the effects the fixtures' own promotions made, so each test sees only its own."""
    db.session.execute(update(OutboxEffect).values(status=EffectStatus.done))
    db.session.commit()


# -- cache invalidation ---------------------------------------------------------------------------


def test_promote_then_worker_empties_the_process_cache_and_marks_the_effect_done(app, db, worker, live):
    actor, proc, candidate = live
    worker()
    for n in range(3):
        cache.put(proc.id, f"old:{n}", {"out": n}, 60)
    assert cache.count(proc.id) == 3

    result = promotion.promote(actor, candidate.id)
    assert result.cache_entries == 3
    [effect] = [e for e in effects(db, "cache.invalidate_process") if e.status is EffectStatus.pending]
    assert cache.count(proc.id) == 3  # nothing happened before the worker ran

    worker()
    assert cache.count(proc.id) == 0
    db.session.expire_all()
    done = db.session.get(OutboxEffect, effect.id)
    assert done.status is EffectStatus.done and done.attempts == 1 and done.result == {"removed": 3}
    assert done.done_at is not None


def test_each_effect_is_enqueued_after_commit_under_its_deterministic_job_id(app, db, redis, live):
    actor, _, candidate = live
    _clear_effects(db)
    promotion.promote(actor, candidate.id)
    [effect] = [e for e in effects(db, "cache.invalidate_process") if e.status is EffectStatus.pending]
    assert f"effect-{effect.id}" in courier.queue().job_ids


# -- webhooks ----------------------------------------------------------------------------------------


def test_a_promotion_posts_one_signed_webhook_to_each_endpoint(app, db, worker, live, sink):
    actor, proc, candidate = live
    worker()
    _, secret = webhooks.create_endpoint(actor, sink.url, "CI")
    promoted = promotion.promote(actor, candidate.id).promoted
    assert sink.received == []  # not from inside the transaction

    worker()
    assert len(sink.received) == 1
    headers, body = sink.received[0]
    timestamp, signature = headers["X-PromotionDesk-Signature"].split(",")
    expected = hmac.new(secret.encode(), timestamp.removeprefix("t=").encode() + b"." + body, hashlib.sha256)
    assert signature == "v1=" + expected.hexdigest()
    payload = json.loads(body)
    assert payload["event"] == "process.promoted"
    assert headers["X-PromotionDesk-Event"] == "process.promoted"
    assert payload["data"]["process"] == proc.slug and payload["data"]["version_id"] == promoted.id
    assert headers["X-PromotionDesk-Delivery"] == payload["id"]
    [effect] = effects(db, "webhook.deliver")
    assert effect.status is EffectStatus.done and effect.result == {"status": 200}
    assert secret not in json.dumps(effect.payload)

    worker()  # nothing more to do: one delivery only
    assert len(sink.received) == 1


def test_a_rollback_posts_a_process_rolled_back_event(app, db, worker, factories, sink):
    actor = factories.user("admin")
    proc = factories.process(actor)
    first = factories.production(actor, proc, {"prompt": "one"})
    factories.production(actor, proc, {"prompt": "two"})
    worker()
    webhooks.create_endpoint(actor, sink.url)
    promotion.promote(actor, first.id)
    worker()
    assert [json.loads(body)["event"] for _, body in sink.received] == ["process.rolled_back"]


def test_a_refusing_endpoint_is_retried_with_backoff_then_marked_failed(app, db, worker, live, sink):
    actor, _, candidate = live
    worker()
    sink.status = 429  # a refusal: it provably did not take the event, so another attempt cannot duplicate it
    webhooks.create_endpoint(actor, sink.url)
    promotion.promote(actor, candidate.id)
    [effect] = effects(db, "webhook.deliver")
    effect.max_attempts = 3
    db.session.commit()

    worker()  # first attempt fails and schedules the retry
    db.session.expire_all()
    effect = db.session.get(OutboxEffect, effect.id)
    assert effect.status is EffectStatus.pending and effect.attempts == 1
    assert "HTTP 429" in effect.last_error
    assert effect.next_attempt_at > effect.started_at  # backed off, not retried at once
    assert len(sink.received) == 1

    effect = run_until(worker, db, effect.id, {EffectStatus.failed, EffectStatus.done})
    assert effect.status is EffectStatus.failed
    assert effect.attempts == 3
    assert len(sink.received) == 3
    assert len({headers["X-PromotionDesk-Delivery"] for headers, _ in sink.received}) == 1
    assert sink.url not in (effect.last_error or "")


def test_an_endpoint_that_recovers_gets_the_delivery_on_a_retry(app, db, worker, live, sink):
    actor, _, candidate = live
    worker()
    sink.status = 429
    webhooks.create_endpoint(actor, sink.url)
    promotion.promote(actor, candidate.id)
    [effect] = effects(db, "webhook.deliver")
    worker()
    sink.status = 200
    effect = run_until(worker, db, effect.id, {EffectStatus.failed, EffectStatus.done})
    assert effect.status is EffectStatus.done and effect.attempts == 2
    assert len(sink.received) == 2


# -- Redis trouble, the reconciler, idempotence ---------------------------------------------------------


def test_redis_down_between_commit_and_enqueue_loses_nothing_the_reconciler_enqueues_it(
        app, db, worker, live, monkeypatch):
    actor, proc, candidate = live
    worker()
    cache.put(proc.id, "old", {"out": 1}, 60)

    def redis_is_down(*_args: Any, **_kwargs: Any) -> Any:
        raise redis_lib.ConnectionError("Connection refused")

    with monkeypatch.context() as m:
        m.setattr(courier, "queue", redis_is_down)
        promoted = promotion.promote(actor, candidate.id).promoted  # commits and answers
    assert documents.current_production(proc.id).id == promoted.id

    [effect] = [e for e in effects(db, "cache.invalidate_process") if e.status is not EffectStatus.done]
    assert effect.status is EffectStatus.pending
    assert f"effect-{effect.id}" not in courier.queue().job_ids
    worker()
    assert db.session.get(OutboxEffect, effect.id).status is EffectStatus.pending  # nothing carried it

    counts = outbox.reconcile()
    assert counts["enqueued"] == 1
    worker()
    db.session.expire_all()
    assert db.session.get(OutboxEffect, effect.id).status is EffectStatus.done
    assert cache.count(proc.id) == 0


def test_the_api_answers_201_when_redis_cannot_take_the_job(app, db, factories, monkeypatch):
    actor = factories.user("admin")
    version = factories.version(actor, factories.process(actor))
    token = factories.personal_token(actor)

    def redis_is_down(*_args: Any, **_kwargs: Any) -> Any:
        raise redis_lib.ConnectionError("Connection refused")

    monkeypatch.setattr(courier, "queue", redis_is_down)
    response = app.test_client().post(f"/api/v1/versions/{version.id}/promote", json={},
                                      headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201
    assert [e.status for e in effects(db, "cache.invalidate_process")] == [EffectStatus.pending]


def test_reconcile_does_not_enqueue_an_effect_redis_still_holds(app, db, live):
    actor, _, candidate = live
    _clear_effects(db)
    promotion.promote(actor, candidate.id)
    assert outbox.reconcile() == {"revived": 0, "due": 1, "enqueued": 0,
                                  "campaign_jobs_due": 0, "campaign_jobs_enqueued": 0, "discord_threads_lost": 0,
                                  "scheduled_nights_added": 0, "scheduled_nights_due": 0, "scheduled_nights_enqueued": 0,
                                  "propagation_written": 0, "schedules_due": 0, "schedules_enqueued": 0,
                                  "schedules_missed": 0}


def test_one_flows_reconciler_failing_does_not_keep_the_others_from_running(app, db, live, monkeypatch):
    ran: list[str] = []

    def broken() -> dict[str, int]:
        raise RuntimeError("a bug in one pass")

    def after() -> dict[str, int]:
        ran.append("after")
        return {"after": 1}

    monkeypatch.setattr(outbox, "RECONCILERS", [broken, *outbox.RECONCILERS, after])
    counts = outbox.reconcile()
    assert ran == ["after"] and counts["after"] == 1 and "campaign_jobs_due" in counts
    assert [k for k in counts if k.startswith("failed:")] == [f"failed:{__name__}.{broken.__qualname__}"]


def test_running_an_effect_twice_does_the_work_once(app, db, live, monkeypatch):
    actor, _, candidate = live
    _clear_effects(db)
    calls: list[int] = []

    def counting_handler(effect: OutboxEffect) -> dict[str, Any]:
        calls.append(effect.id)
        return {"removed": 0}

    monkeypatch.setitem(outbox.HANDLERS, "cache.invalidate_process", counting_handler)
    promotion.promote(actor, candidate.id)
    [effect] = [e for e in effects(db, "cache.invalidate_process") if e.status is EffectStatus.pending]

    assert outbox.run_effect(effect.id) == "done"
    assert outbox.run_effect(effect.id) == "done"
    assert calls == [effect.id]
    db.session.expire_all()
    assert db.session.get(OutboxEffect, effect.id).attempts == 1


def test_a_duplicate_rq_job_for_a_done_effect_is_harmless(app, db, worker, live, monkeypatch):
    actor, _, candidate = live
    worker()
    calls: list[int] = []
    monkeypatch.setitem(outbox.HANDLERS, "cache.invalidate_process",
                        lambda effect: calls.append(effect.id) or {"removed": 0})
    promotion.promote(actor, candidate.id)
    worker()
    [effect] = [e for e in effects(db, "cache.invalidate_process") if e.id in calls]
    outbox.enqueue_ids([effect.id])  # e.g. a job that ran again after its worker was killed
    worker()
    assert calls == [effect.id]


def test_a_running_effect_older_than_the_lease_is_revived_and_completed(app, db, worker, live):
    actor, proc, candidate = live
    _clear_effects(db)
    worker()
    cache.put(proc.id, "old", {"out": 1}, 60)
    promotion.promote(actor, candidate.id)
    [effect] = [e for e in effects(db, "cache.invalidate_process") if e.status is EffectStatus.pending]
    courier.queue().empty()  # its worker vanished, and Redis forgot the job
    effect.status = EffectStatus.running
    effect.started_at = utcnow() - outbox.RUNNING_LEASE - timedelta(seconds=1)
    effect.attempts = 1
    db.session.commit()

    counts = outbox.reconcile()
    assert counts["revived"] == 1 and counts["enqueued"] == 1
    worker()
    db.session.expire_all()
    assert db.session.get(OutboxEffect, effect.id).status is EffectStatus.done
    assert cache.count(proc.id) == 0


def test_a_running_effect_within_its_lease_is_left_alone(app, db, live):
    actor, _, candidate = live
    _clear_effects(db)
    promotion.promote(actor, candidate.id)
    [effect] = [e for e in effects(db, "cache.invalidate_process") if e.status is EffectStatus.pending]
    effect.status = EffectStatus.running
    effect.started_at = utcnow()
    db.session.commit()
    assert outbox.reconcile()["revived"] == 0
    db.session.expire_all()
    assert db.session.get(OutboxEffect, effect.id).status is EffectStatus.running


# -- an unknown outcome is recorded as unknown and never repeated ------------------------------------------------


def test_a_webhook_answered_with_a_5xx_after_the_body_is_unknown_and_never_posted_again(app, db, worker, live, sink):
    actor, _, candidate = live
    worker()
    sink.status = 502  # it read the whole event first: it may have acted on it
    webhooks.create_endpoint(actor, sink.url)
    promotion.promote(actor, candidate.id)
    [effect] = effects(db, "webhook.deliver")
    effect = run_until(worker, db, effect.id, {EffectStatus.unknown, EffectStatus.done, EffectStatus.failed})
    assert effect.status is EffectStatus.unknown and effect.attempts == 1 and "HTTP 502" in effect.last_error
    outbox.reconcile()
    outbox.enqueue_ids([effect.id])
    worker(with_scheduler=True)
    assert db.session.get(OutboxEffect, effect.id).status is EffectStatus.unknown
    assert len(sink.received) == 1


def _vanished(db, effect: OutboxEffect) -> None:
    effect.status = EffectStatus.running
    effect.started_at = utcnow() - outbox.RUNNING_LEASE - timedelta(seconds=1)
    effect.attempts = 1
    db.session.commit()


def test_an_outside_effect_whose_worker_vanished_becomes_unknown_while_an_internal_one_runs_again(
        app, db, worker, live, sink):
    actor, _, candidate = live
    _clear_effects(db)
    worker()
    webhooks.create_endpoint(actor, sink.url)
    promotion.promote(actor, candidate.id)
    courier.queue().empty()  # the worker vanished mid-post, and Redis forgot the jobs
    [hook] = [e for e in effects(db, "webhook.deliver") if e.status is EffectStatus.pending]
    [cache_effect] = [e for e in effects(db, "cache.invalidate_process") if e.status is EffectStatus.pending]
    _vanished(db, hook)
    _vanished(db, cache_effect)

    assert outbox.reconcile()["revived"] == 1
    worker()
    db.session.expire_all()
    hook = db.session.get(OutboxEffect, hook.id)
    assert hook.status is EffectStatus.unknown and "vanished" in hook.last_error
    assert db.session.get(OutboxEffect, cache_effect.id).status is EffectStatus.done
    assert sink.received == []  # the vanished post is not made again
    assert outbox.reconcile()["revived"] == 0


def test_the_jobs_page_shows_an_unknown_effect_with_why_and_offers_no_retry(auth, db, factories):
    admin = factories.user("admin")
    effect = OutboxEffect(workspace_id=admin.workspace_id, kind="webhook.deliver", payload={"endpoint_id": 1},
                          status=EffectStatus.unknown, attempts=1, max_attempts=5,
                          last_error="outcome unknown: http://hooks.example/… may have received it: HTTP 502")
    db.session.add(effect)
    db.session.commit()
    auth.login(admin.label)
    html = auth.get("/jobs").get_data(as_text=True)
    row = html[html.index(f'id="effect-{effect.id}"'):]
    row = row[:row.index("</tr>")]
    assert ">unknown<" in row and "may have received it" in row and "could deliver it twice" in row
    assert "/retry" not in row
    assert auth.post(f"/jobs/{effect.id}/retry", htmx=True).status_code == 409
    db.session.refresh(effect)
    assert effect.status is EffectStatus.unknown


# -- a worker starting after the scheduler's holder died -------------------------------------------


def test_a_starting_worker_frees_only_a_dead_schedulers_lock_never_a_live_one(redis):
    import os
    import socket
    import subprocess
    import sys

    from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler

    from webapp.outbox.worker import LOCK_TTL_SECONDS, STALE_LOCK_SECONDS, release_stale_scheduler_locks

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    holders = {  # queue: (holder's host, pid, seconds left on its lock)
        "live_here": (socket.gethostname(), os.getpid(), LOCK_TTL_SECONDS),
        "dead_here": (socket.gethostname(), int(gone.stdout), LOCK_TTL_SECONDS),
        "live_elsewhere": ("another-host", 1, LOCK_TTL_SECONDS),
        "silent_elsewhere": ("another-host", 1, LOCK_TTL_SECONDS - STALE_LOCK_SECONDS - 1),
    }
    for queue, (host, pid, ttl) in holders.items():
        redis.set(RQScheduler.get_locking_key(queue), f"holder-{queue}", ex=ttl)
        redis.hset(SCHEDULER_KEY_TEMPLATE % f"holder-{queue}", mapping={"hostname": host, "pid": pid})

    released = release_stale_scheduler_locks(redis, [*holders, "no_lock"])

    assert sorted(released) == ["dead_here", "silent_elsewhere"]
    for queue in holders:
        lock = redis.get(RQScheduler.get_locking_key(queue))
        assert lock == (None if queue in released else f"holder-{queue}".encode()), queue


def test_cancelling_a_campaign_whose_message_waits_for_a_retry_fails_it_and_ends_the_job_cancelled(
        app, db, redis, worker, factories):
    from zoneinfo import ZoneInfo

    from tests.sink import Sink
    from webapp.gamenight import campaign_runs, campaigns
    from webapp.gamenight.campaign_plans import CampaignChoices
    from webapp.gamenight.models import CampaignJob, JobKind, JobStatus
    from webapp.notify.models import Delivery, DeliveryStatus, SendLog

    promoter = factories.user("promoter", "Acme", email="promoter@example.com")
    with Sink() as sink:
        local = (utcnow() + timedelta(minutes=20)).astimezone(ZoneInfo("Europe/Ljubljana"))
        # available on the campaign's day: after 23:40 local that is tomorrow
        factories.player(promoter.workspace_id, "m0@example.com", target=sink.target("m0"), day=local.date())
        sink.failing.add("m0")
        campaign, _ = campaigns.create(promoter, CampaignChoices(day=local.date().isoformat(), start_time=local.strftime("%H:%M")))
        reminder = next(j for j in campaign.jobs if j.kind is JobKind.reminder)
        assert campaign_runs.run_job(reminder.id, now=reminder.run_at) == "retrying"
        db.session.expire_all()
        [row] = db.session.scalars(select(Delivery)).all()
        assert row.status is DeliveryStatus.retrying and sink.total == 1

        campaigns.cancel(promoter, campaign.id)
        worker()  # the run the cancel put on the queue at once, instead of the retry later
        db.session.expire_all()
        assert db.session.get(CampaignJob, reminder.id).status is JobStatus.cancelled
        row = db.session.get(Delivery, row.id)
        assert row.status is DeliveryStatus.failed and sink.total == 1  # no attempt after the cancel
        assert db.session.scalars(select(SendLog.error).where(SendLog.delivery_id == row.id,
                                                              SendLog.status == "failed")).all() == [
            "the campaign was cancelled before another attempt"]
        assert campaign_runs.reconcile()["campaign_jobs_enqueued"] == 0


def test_a_stopping_worker_ends_its_pubsub_thread_within_seconds_not_rqs_minute(redis):
    """A worker listens for RQ's commands on a pubsub thread; stopping it (SIGTERM, the end of a --burst) waits for
    that thread. When the thread has already read the unsubscription's answer it waits for a new subscription:
    up to 60 s under RQ's own worker (what a loaded machine's burst workers hit), a second under ours."""
    from rq import Queue

    from tests.workers import wait_for
    from webapp.outbox.worker import PromptWorker

    worker = PromptWorker([Queue("default", connection=redis)], connection=redis)
    worker.subscribe()
    wait_for(lambda: worker.pubsub.subscribed, lambda: "never subscribed")
    worker.pubsub.unsubscribe()  # the race's losing side, made certain: the thread sees the answer first…
    wait_for(lambda: not worker.pubsub.subscribed, lambda: "never unsubscribed")
    stopping = threading.Thread(target=worker.unsubscribe)  # …and only then is it told to stop
    stopping.start()
    stopping.join(10)  # a hang guard far above the second the thread sleeps at most
    assert not stopping.is_alive() and not worker.pubsub_thread.is_alive()

