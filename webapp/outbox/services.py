"""The outbox: side effects written inside a transaction, enqueued on RQ after it commits.

    effect = outbox.add(workspace_id, "cache.invalidate_process", {"process_id": 7})
    db.session.commit()          # → after commit, effect-<id> is enqueued (best effort)

If Redis is down at that moment nothing is lost: the row is pending and the reconciler
enqueues it later. Handlers register with `@handler(kind)`, must be idempotent, and return
a small JSON-able result that is stored on the row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from flask import current_app
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import Session

from webapp.accounts.models import Role
from webapp.audit import services as audit
from webapp.errors import Conflict, NotFound, OutcomeUnknown
from webapp.extensions import courier, db, utcnow
from webapp.notify.transport import Outcome
from webapp.outbox.models import EffectStatus, OutboxEffect

log = logging.getLogger(__name__)
Handler = Callable[[OutboxEffect], dict[str, Any] | None]
HANDLERS: dict[str, Handler] = {}
OUTSIDE: set[str] = set()  # kinds whose handlers talk to the outside (see `handler`)
# Other rows that must happen at their time (campaign jobs) bring their own pass to `reconcile`.
RECONCILERS: list[Callable[[], dict[str, int]]] = []
# A running effect whose worker vanished (SIGKILL, lost machine) is retried after this lease.
RUNNING_LEASE = timedelta(minutes=5)
# RQ's scheduler moves a due job to its queue within about a second; one still scheduled this long after its
# time is stuck (see `job_is_alive`). Handlers are idempotent, so a scheduler waking up meanwhile does no harm.
OVERDUE_GRACE = timedelta(seconds=5)
JOB_FUNCTION = "jobs.outbox.run_effect"


def handler(kind: str, *, outside: bool = False) -> Callable[[Handler], Handler]:
    """Register the handler of `kind`. `outside=True`: it talks to the outside (a webhook, a chat, a mail server),
    so a run its worker never finished may have reached it and becomes `unknown` instead of running again."""
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        if outside:
            OUTSIDE.add(kind)
        else:
            OUTSIDE.discard(kind)
        return fn

    return register


def reconciler(fn: Callable[[], dict[str, int]]) -> Callable[[], dict[str, int]]:
    RECONCILERS.append(fn)
    return fn


def add(workspace_id: int | None, kind: str, payload: dict[str, Any]) -> OutboxEffect:
    """Write an effect into the current transaction; it is enqueued once the transaction commits."""
    if kind not in HANDLERS:
        raise ValueError(f"no outbox handler for {kind!r}")
    settings = current_app.config["SETTINGS"]
    effect = OutboxEffect(workspace_id=workspace_id, kind=kind, payload=payload,
                          max_attempts=settings.OUTBOX_MAX_ATTEMPTS, next_attempt_at=utcnow())
    db.session.add(effect)
    db.session.info.setdefault("outbox_new", []).append(effect)
    return effect


def enqueue_after_commit(function: str, *args: Any, job_id: str, at: datetime | None = None) -> None:
    """Enqueue `function(*args)` (a dotted path, args ids only) as `job_id` once the current transaction commits,
    now or at `at` (aware); nothing if it rolls back. For rows that are the truth of a job (a campaign job): a
    Redis failure is logged, and the flow's reconciler enqueues the row later. Every promotion's after-commit step
    uses this (see `webapp.promotion`); an effect written with `add` is enqueued the same way.

    E.g. a campaign job's run: set `job.next_run_at` and `job.rq_job_id`, then
    `enqueue_after_commit(JOB_FUNCTION, job.id, job_id=job.rq_job_id, at=at)`, then commit. Where the caller needs
    to know whether Redis took it (a reconciler's count), call `enqueue` after the commit instead."""
    session = db.session()
    if not session.in_transaction():
        session.begin()  # so that a rollback before any statement still forgets it
    session.info.setdefault("enqueue_after_commit", []).append((function, args, job_id, at))


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    effects = session.info.pop("outbox_new", None)
    if effects:
        # The identity survives expire-on-commit, so reading it emits no SQL here.
        ids = [inspect(e).identity for e in effects]
        enqueue_ids([i[0] for i in ids if i])
    for function, args, job_id, at in session.info.pop("enqueue_after_commit", ()):
        enqueue(function, *args, job_id=job_id, at=at)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop("outbox_new", None)
    session.info.pop("enqueue_after_commit", None)


def enqueue(function: str, *args: Any, job_id: str, at: datetime | None = None) -> bool:
    """Put one job on RQ now, or at `at` (aware) through RQ's scheduler, under its deterministic `job_id`. Put on
    the queue now, the job also leaves RQ's schedule: a scheduler that comes back later must not run it a second
    time. A Redis failure is logged and answered False, not raised (the row stays; a reconciler retries).

    The one way onto RQ: outbox effects, the promotion engine's after-commit step (`enqueue_after_commit`) and
    game-night campaign jobs all call it; `function` is a dotted path in jobs/ and `args` are row ids only."""
    try:
        queue = courier.queue()
        if at is None:
            ScheduledJobRegistry(queue.name, connection=queue.connection).remove(job_id)
            queue.enqueue(function, *args, job_id=job_id, result_ttl=600, failure_ttl=86400)
        else:
            queue.enqueue_at(at.astimezone(UTC), function, *args, job_id=job_id, result_ttl=600, failure_ttl=86400)
    except redis.RedisError as exc:
        log.warning("could not enqueue %s, the reconciler will: %s", job_id, exc)
        return False
    return True


def enqueue_ids(effect_ids: Sequence[int], at: datetime | None = None) -> int:
    """Put effects on the queue (now, or at `at`), see `enqueue`; how many went. After a Redis failure the rest
    wait for the reconciler too (one timeout, not one per effect)."""
    enqueued = 0
    for effect_id in effect_ids:
        if not enqueue(JOB_FUNCTION, effect_id, job_id=f"effect-{effect_id}", at=at):
            break
        enqueued += 1
    return enqueued


def backoff(base_seconds: float, attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed try before the next: base, 2·base, 4·base, … — the retry
    schedule of outbox effects and of deliveries (each with its own base setting)."""
    return timedelta(seconds=base_seconds * 2 ** max(attempts - 1, 0))


class RetryLater(RuntimeError):
    """A handler's call was refused for now and the other side said when to come back (an HTTP 429's
    `Retry-After`): retried like any failure, but not before `after`."""

    def __init__(self, message: str, after: timedelta) -> None:
        super().__init__(message)
        self.after = after


class GiveUp(RuntimeError):
    """A handler's call was refused for good (a 401, 403 or 404: another try would be refused the same way):
    the effect is failed at once, without spending its other attempts (an admin can retry it on the Jobs page)."""


def raise_unless_sent(outcome: Outcome, what: str, answer: str) -> None:
    """How an outside-talking handler reports its call: nothing when it was sent; `OutcomeUnknown` (the effect
    becomes `unknown`, never repeated) when it may have arrived; else an error, and the effect is retried."""
    if outcome is Outcome.ambiguous:
        raise OutcomeUnknown(f"{what} may have received it: {answer}")
    if outcome is not Outcome.sent:
        raise RuntimeError(f"{what} did not take it: {answer}")


def run_effect(effect_id: int) -> str:
    """Claim the effect, run its handler, record the outcome. Safe to call any number of times."""
    claimed = db.session.execute(
        update(OutboxEffect)
        .where(OutboxEffect.id == effect_id, OutboxEffect.status == EffectStatus.pending)
        .values(status=EffectStatus.running, started_at=utcnow(), attempts=OutboxEffect.attempts + 1)
    ).rowcount
    db.session.commit()
    effect = db.session.get(OutboxEffect, effect_id)
    if effect is None:
        return "missing"
    if not claimed:
        return effect.status.value  # done, failed, or another worker has it
    try:
        result = HANDLERS[effect.kind](effect)
    except OutcomeUnknown as exc:
        db.session.rollback()
        effect = db.session.get(OutboxEffect, effect_id)
        assert effect is not None
        effect.status, effect.done_at = EffectStatus.unknown, utcnow()
        effect.last_error = f"outcome unknown: {exc}"[:2000]
        db.session.commit()
        log.warning("effect %s (%s) may or may not have reached the outside; not repeated: %s",
                    effect_id, effect.kind, effect.last_error)
        return "unknown"
    except Exception as exc:  # noqa: BLE001 — any other failure is recorded and retried
        db.session.rollback()
        effect = db.session.get(OutboxEffect, effect_id)
        assert effect is not None
        effect.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if effect.attempts >= effect.max_attempts or isinstance(exc, GiveUp):
            effect.status = EffectStatus.failed
            db.session.commit()
            log.error("effect %s (%s) failed for good: %s", effect_id, effect.kind, effect.last_error)
            return "failed"
        wait = backoff(current_app.config["SETTINGS"].OUTBOX_BACKOFF_SECONDS, effect.attempts)
        if isinstance(exc, RetryLater):
            wait = max(wait, exc.after)
        effect.status = EffectStatus.pending
        effect.next_attempt_at = utcnow() + wait
        db.session.commit()
        log.warning("effect %s (%s) attempt %d failed, retry in %.0fs: %s",
                    effect_id, effect.kind, effect.attempts, wait.total_seconds(), effect.last_error)
        enqueue_ids([effect_id], at=effect.next_attempt_at)
        return "retrying"
    effect.status = EffectStatus.done
    effect.done_at = utcnow()
    effect.result = result or {}
    effect.last_error = None
    db.session.commit()
    return "done"


def _revive_vanished(now: datetime) -> int:
    """Running effects past the lease lost their worker: internal ones run again (they are idempotent); one
    that talks to the outside may have reached it mid-call, so it becomes `unknown`. How many run again."""
    vanished = (OutboxEffect.status == EffectStatus.running, OutboxEffect.started_at < now - RUNNING_LEASE)
    lost = db.session.execute(
        update(OutboxEffect).where(*vanished, OutboxEffect.kind.in_(sorted(OUTSIDE)))
        .values(status=EffectStatus.unknown, done_at=now,
                last_error="outcome unknown: its worker vanished while it was talking to the outside")
    ).rowcount
    if lost:
        log.warning("%d effect(s) lost their worker mid-call to the outside; marked unknown, not repeated", lost)
    return db.session.execute(
        update(OutboxEffect).where(*vanished, OutboxEffect.kind.not_in(sorted(OUTSIDE)))
        .values(status=EffectStatus.pending, next_attempt_at=now)
    ).rowcount


def job_is_alive(connection: redis.Redis, job_id: str, *, running: bool = True) -> bool:
    """Whether Redis holds the job waiting (or, with `running`, being run) — else it must be enqueued again.

    A job RQ holds as scheduled is waiting only until OVERDUE_GRACE past its time: later, no scheduler is
    moving it (a SIGKILLed worker's scheduler keeps its lock for a minute, and a worker started meanwhile
    tries again only at RQ's 10-minute maintenance pass), so the reconciler enqueues it itself."""
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return False
    status = job.get_status()
    if status is JobStatus.SCHEDULED:
        try:
            at = ScheduledJobRegistry(job.origin, connection=connection).get_scheduled_time(job_id)
        except NoSuchJobError:
            return False  # marked scheduled, yet on no schedule: nothing will ever move it
        return at > utcnow() - OVERDUE_GRACE
    alive = {JobStatus.QUEUED, JobStatus.DEFERRED} | ({JobStatus.STARTED} if running else set())
    return status in alive


def reconcile(limit: int = 500) -> dict[str, int]:
    """One pass: revive effects whose worker vanished, enqueue due effects Redis does not hold."""
    now = utcnow()
    revived = _revive_vanished(now)
    db.session.commit()
    due = db.session.scalars(
        select(OutboxEffect.id)
        .where(OutboxEffect.status == EffectStatus.pending, OutboxEffect.next_attempt_at <= now)
        .order_by(OutboxEffect.next_attempt_at)
        .limit(limit)
    ).all()
    connection = courier.connection
    missing = [effect_id for effect_id in due if not job_is_alive(connection, f"effect-{effect_id}")]
    enqueued = enqueue_ids(missing)
    counts = {"revived": revived, "due": len(due), "enqueued": enqueued}
    for other in RECONCILERS:
        try:
            counts |= other()
        except Exception:  # one flow's pass failing (a bug, a lost connection) must not keep the others from running
            db.session.rollback()
            log.exception("reconciler %s.%s failed", other.__module__, other.__qualname__)
            counts[f"failed:{other.__module__}.{other.__qualname__}"] = 1
    return counts


def list_effects(workspace_id: int, statuses: Sequence[EffectStatus], limit: int = 100) -> Sequence[OutboxEffect]:
    return db.session.scalars(
        select(OutboxEffect)
        .where(OutboxEffect.workspace_id == workspace_id, OutboxEffect.status.in_(statuses))
        .order_by(OutboxEffect.created_at.desc())
        .limit(limit)
    ).all()


def retry(actor: Any, effect_id: int) -> OutboxEffect:
    """An admin sends a failed effect round again (with a fresh set of attempts)."""
    actor.require(Role.admin, "retry jobs")
    effect = db.session.scalar(
        select(OutboxEffect).where(OutboxEffect.id == effect_id, OutboxEffect.workspace_id == actor.workspace_id)
    )
    if effect is None:
        raise NotFound("No such job in this workspace.")
    if effect.status is not EffectStatus.failed:
        raise Conflict(f"Only failed jobs can be retried; this one is {effect.status.value}.")
    effect.status = EffectStatus.pending
    effect.attempts = 0
    effect.next_attempt_at = utcnow()
    db.session.info.setdefault("outbox_new", []).append(effect)
    audit.record(actor, "job.retried", "outbox_effect", effect.id, {"kind": effect.kind})
    db.session.commit()
    return effect
