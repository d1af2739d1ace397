"""Scheduled promotions, processes and world areas alike: a promotion that applies itself at a local time.

    schedule ──(row committed, then RQ `enqueue_at(run_at)` as `scheduled-promotion-<id>-r<runs>`)──→ fire
                                                                 │ claim: scheduled → running (one worker)
        cancel (scheduled only)                                  ├─ before run_at: back on RQ at run_at
                                                                 ├─ after deadline_at → missed (never late)
                                                                 ├─ anything the dialog promised moved → stale
                                                                 │     (the creator told once, with the fresh diff)
                                                                 ├─ the flow refuses (archived, role) → failed
                                                                 └─ applied through the engine → done

The row is the truth; RQ carries its id. The reconciler (`reconcile`, part of every `outbox.reconcile` pass)
enqueues a due row whose job Redis does not hold, marks `missed` a row past its deadline, and takes back a
`running` row whose worker died (its claim older than `RUNNING_LEASE`): the promotion and `done` commit in one
transaction, so such a row applied nothing and fires again, once, or goes `missed` after its deadline.

Governance is a platform layer: the flows are reached through `webapp.promotion.FLOWS` only.
"""

from __future__ import annotations

import logging
import re
import time as time_module
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from flask import current_app
from pydantic import BeforeValidator, Field, model_validator
from sqlalchemy import column, select, table, update
from sqlalchemy.exc import IntegrityError

from webapp import inputs
from webapp.accounts.models import Membership, Role, User, Workspace
from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.commands import Command, Id, Line, Text, bad_request, whole
from webapp.errors import BadRequest, Conflict, DomainError, Invalid, NotFound
from webapp.extensions import courier, db, utcnow
from webapp.governance import services as governance
from webapp.governance.models import PromotionRequest, RequestState, ScheduledPromotion, ScheduleState
from webapp.notify import delivery
from webapp.outbox import services as outbox
from webapp.promotion import FLOWS, PreviewChanged
from webapp.promotion import confirm as engine_confirm

log = logging.getLogger(__name__)
JOB_FUNCTION = "jobs.governance.fire_scheduled_promotion"
STALE_EFFECT = "governance.tell_schedule_stale"
STALE_SOURCE = "scheduled_promotion"  # the delivery ledger's source type
DEADLINE_DEFAULT, DEADLINE_MAX = 10, 24 * 60  # minutes after run_at a schedule may still fire
# RQ's scheduler moves a due job about once a second and the worker then forks its work horse: the job goes on RQ
# this much before run_at and waits for run_at in the horse (never applying early), so it applies on time.
LEAD = timedelta(seconds=1)
RUNNING_LEASE = timedelta(minutes=2)  # a claim this old whose worker died is taken back by the reconciler
PENDING = (ScheduleState.scheduled, ScheduleState.running)
# A source the flow no longer promotes (an older sandbox version, a project back in building): it moved.
MOVED_CODES = frozenset({"not_promotable", "invalid_transition"})
# The processes table as far as a page's address needs it (governance sits below the processes flow).
_PROCESSES = table("processes", column("id"), column("slug"))
_CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?")  # HH:MM; scripts may add :SS


def _clock(value: Any) -> time:
    match = _CLOCK.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59 or int(match.group(3) or 0) > 59:
        raise bad_request("is a local time HH:MM, e.g. 21:00")
    return time(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def _an_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= inputs.MAX_ID


def _source(command: ScheduleCommand) -> ScheduleCommand:
    """The source in the shape its flow reads: a version id, or [project id, connection room id, direction]."""
    source, ok = command.source, True
    if source is None:
        return command
    if command.flow == "process":
        ok = _an_id(source)
    elif command.flow == "world":
        ok = (isinstance(source, list) and len(source) == 3 and isinstance(source[2], str) and len(source[2]) <= 32
              and all(_an_id(n) for n in source[:2]))
    if not ok:
        raise BadRequest("`source` is a version id (flow process) or [project id, connection room id, direction] "
                         "(flow world).", details={"source": "not a source of this flow"})
    return command


class ScheduleCommand(Command):
    """A promotion to apply at a local date and time of the workspace's zone: the dialog's form and the API's body.
    With `request_id` it applies an approved request (its source, notes and reviewed preview); else `flow` and
    `source` name an approval-free promotion, bound to the dialog's `preview_token`."""

    flow: Literal["process", "world"] | None = None
    source: Any = Field(None, description="The flow's source: a version id, or [project id, connection room id, "
                                          "direction]; left out with `request_id`.")
    request_id: Id | None = None  # type: ignore[valid-type]
    day: date = Field(alias="date", description="The local date, in the workspace's time zone.",
                      examples=["2026-12-24"])
    clock: Annotated[time, BeforeValidator(_clock), Field(alias="time", description="The local clock time HH:MM (or HH:MM:SS).",
                                                          examples=["21:00"])]
    preview_token: Line = ""
    change_notes: Text = ""
    deadline_minutes: whole(1, DEADLINE_MAX) = DEADLINE_DEFAULT  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _source_fits_its_flow(self) -> ScheduleCommand:
        return _source(self)


class ScheduleNotPending(Conflict):
    code = "schedule_not_scheduled"


class SchedulePending(Conflict):
    code = "schedule_pending"
    default_message = "This promotion is scheduled already; cancel that schedule first."


def rq_job_id(row: ScheduledPromotion) -> str:
    return f"scheduled-promotion-{row.id}-r{row.runs}"


def local_instant(zone: Any, day: date, clock: time) -> datetime:
    """The UTC instant of a local date and clock time, DST-correct for that date: a time the clocks skip (the
    spring gap) is a 422; a time that happens twice (the autumn fold) is its first occurrence."""
    local = datetime.combine(day, clock, tzinfo=zone)  # fold=0: the first of two
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise Invalid(f"{day.isoformat()} {clock:%H:%M} does not exist in {zone.key}: the clocks skip it "
                      "(daylight saving time). Pick another time.", details={"time": "does not exist that day"})
    return instant


# -- scheduling ----------------------------------------------------------------------------------------------


def schedule(actor: Actor, command: ScheduleCommand, now: datetime | None = None) -> ScheduledPromotion:
    """Keep a promotion to apply at a local time: allowed where the policy requires no approval, or for an approved
    request. The row is committed first; it goes on RQ (`enqueue_at`) once it is."""
    actor.require(Role.promoter, "schedule promotions")
    zone = db.session.get(Workspace, actor.workspace_id).zone
    run_at = local_instant(zone, command.day, command.clock)
    now = now or utcnow()
    if run_at <= now:
        raise Invalid(f"{command.day.isoformat()} {command.clock:%H:%M} ({zone.key}) has passed; pick a time ahead.",
                      details={"time": "has passed"})
    if command.request_id is not None:
        request = governance.get_request(actor, command.request_id, for_update=True)
        if request.state is not RequestState.approved:
            db.session.rollback()
            raise Conflict(f"This request is {request.state.value}; only an approved request can be scheduled.",
                           code="request_not_approved", details={"request_id": request.id,
                                                                 "state": request.state.value})
        promotion = governance.reopen_as_reviewed(actor, request)  # stale (409) when what was reviewed moved
        promotion.check()
        kept = governance.kept_columns(promotion, request.change_notes, request.seen, request.diff_hash)
    else:
        if command.flow is None or command.source is None:
            raise Invalid("Say what to promote: `flow` and `source`, or an approved `request_id`.",
                          details={"source": "required"})
        promotion = governance.reopen_as_shown(actor, command.flow, command.source, command.preview_token,
                                               command.change_notes)
        policy = governance.policy_for(actor.workspace_id, promotion.policy_subjects())
        if policy.required_approvals:
            db.session.rollback()
            raise governance.ApprovalRequired(
                f"{promotion.title()} needs approval first: request it, and schedule the approved request.",
                details=policy.as_json())
        kept = governance.kept_columns(promotion, command.change_notes)
    row = ScheduledPromotion(**kept, request_id=command.request_id, run_at=run_at,
                             deadline_at=run_at + timedelta(minutes=command.deadline_minutes),
                             created_by_id=actor.user_id, runs=0)
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise _already_pending(actor, promotion.flow, promotion.source_key()) from None
    audit.record(actor, "promotion.scheduled", "scheduled_promotion", row.id, _details(row))
    outbox.enqueue_after_commit(JOB_FUNCTION, row.id, job_id=rq_job_id(row), at=run_at - LEAD)
    flow, key = row.flow, row.source_key
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise _already_pending(actor, flow, key) from None
    return row


def _already_pending(actor: Actor, flow: str, source_key: str) -> Conflict:
    existing = db.session.scalar(select(ScheduledPromotion.id).where(
        ScheduledPromotion.workspace_id == actor.workspace_id, ScheduledPromotion.flow == flow,
        ScheduledPromotion.source_key == source_key, ScheduledPromotion.state.in_(PENDING)))
    return SchedulePending(SchedulePending.default_message, details={"schedule_id": existing})


def _details(row: ScheduledPromotion, **more: Any) -> dict[str, Any]:
    return {"schedule_id": row.id, "flow": row.flow, "title": row.title, "state": row.state.value,
            "run_at": row.run_at.isoformat(), "request_id": row.request_id, **governance.row_links(row), **more}


def get(actor: Actor, schedule_id: int, *, for_update: bool = False) -> ScheduledPromotion:
    query = select(ScheduledPromotion).where(ScheduledPromotion.id == schedule_id,
                                             ScheduledPromotion.workspace_id == actor.workspace_id)
    row = db.session.scalar(query.with_for_update() if for_update else query)
    if row is None:
        raise NotFound(f"No scheduled promotion {schedule_id} in this workspace.")
    return row


def cancel(actor: Actor, schedule_id: int) -> ScheduledPromotion:
    """Its creator or any promoter cancels a schedule that has not fired yet."""
    row = get(actor, schedule_id, for_update=True)
    if actor.user_id is None or actor.user_id != row.created_by_id:
        actor.require(Role.promoter, "cancel scheduled promotions")
    if row.state is not ScheduleState.scheduled:
        state = row.state.value
        db.session.rollback()
        raise ScheduleNotPending(f"This scheduled promotion is {state}; only a scheduled one can be cancelled.",
                                 details={"schedule_id": schedule_id, "state": state})
    row.state, row.cancelled_by_id, row.finished_at = ScheduleState.cancelled, actor.user_id, utcnow()
    audit.record(actor, "promotion.schedule_cancelled", "scheduled_promotion", row.id, _details(row))
    db.session.commit()
    return row


def list_schedules(actor: Actor, *, process_id: int | None = None, build_project_id: int | None = None,
                   state: ScheduleState | None = None, limit: int = 100) -> list[ScheduledPromotion]:
    """The workspace's scheduled promotions (of one process or build project), soonest first."""
    query = select(ScheduledPromotion).where(ScheduledPromotion.workspace_id == actor.workspace_id)
    if process_id is not None:
        query = query.where(ScheduledPromotion.process_id == process_id)
    if build_project_id is not None:
        query = query.where(ScheduledPromotion.build_project_id == build_project_id)
    if state is not None:
        query = query.where(ScheduledPromotion.state == state)
    return list(db.session.scalars(query.order_by(ScheduledPromotion.run_at.desc(), ScheduledPromotion.id.desc())
                                   .limit(limit)))


def schedule_json(row: ScheduledPromotion, people: dict[int, str] | None = None) -> dict[str, Any]:
    people = people if people is not None else governance.names([row.created_by_id, row.cancelled_by_id])
    return {"id": row.id, "flow": row.flow, "source": row.source, "title": row.title, "state": row.state.value,
            "change_notes": row.change_notes, "request_id": row.request_id, "run_at": row.run_at.isoformat(),
            "deadline_at": row.deadline_at.isoformat(), "created_by": people.get(row.created_by_id or 0),
            "created_at": row.created_at.isoformat(),
            "started_at": row.started_at.isoformat() if row.started_at else None,
            "finished_at": row.finished_at.isoformat() if row.finished_at else None,
            "cancelled_by": people.get(row.cancelled_by_id or 0), "outcome": row.outcome,
            **governance.row_links(row)}


# -- firing --------------------------------------------------------------------------------------------------


def _put_back(row: ScheduledPromotion, at: datetime | None) -> bool:
    """A new enqueue of the row (a job id of its own), after its commit."""
    row.runs += 1
    job_id, row_id = rq_job_id(row), row.id
    db.session.commit()
    return outbox.enqueue(JOB_FUNCTION, row_id, job_id=job_id, at=at)


def _end(row_id: int, state: ScheduleState, outcome: dict[str, Any], *, claimed_at: datetime | None,
         now: datetime) -> bool:
    """Move the row from `running` (our claim) or `scheduled` to `state`, once: False when another run decided it."""
    db.session.rollback()  # whatever the flow read or locked
    held = (ScheduledPromotion.started_at == claimed_at) if claimed_at else (
        ScheduledPromotion.state == ScheduleState.scheduled)
    moved = db.session.execute(
        update(ScheduledPromotion).where(ScheduledPromotion.id == row_id, ScheduledPromotion.state.in_(PENDING), held)
        .values(state=state, finished_at=now, outcome=outcome)).rowcount
    if moved:
        row = db.session.get(ScheduledPromotion, row_id)
        db.session.refresh(row)
        audit.record(None, f"promotion.schedule_{state.value}", "scheduled_promotion", row_id,
                     _details(row, **outcome), workspace_id=row.workspace_id, actor_label="scheduler")
        if state is ScheduleState.stale:
            outbox.add(row.workspace_id, STALE_EFFECT, {"schedule_id": row_id})
    db.session.commit()
    return bool(moved)


def _decided(moved: bool, state: str) -> str:
    """What a run answers: the state it moved the row to, or "taken" when another run decided the row first."""
    return state if moved else "taken"


def _creator(row: ScheduledPromotion) -> Actor | None:
    """Who the scheduler promotes on behalf of: the creator, with their role now."""
    found = db.session.execute(select(User.email, Membership.role).join(Membership, Membership.user_id == User.id)
                               .where(User.id == row.created_by_id,
                                      Membership.workspace_id == row.workspace_id)).first()
    if found is None:
        return None
    return Actor(user_id=row.created_by_id, workspace_id=row.workspace_id, role=found.role,
                 label=f"scheduler for {found.email}")


def _sleep(seconds: float) -> None:
    time_module.sleep(max(seconds, 0.0))


def fire(schedule_id: int, now: datetime | None = None) -> str:
    """Apply one scheduled promotion, if it is due and everything its dialog promised still holds. Safe to run any
    number of times, by any number of workers at once: one claim wins, the others leave it."""
    row = db.session.get(ScheduledPromotion, schedule_id)
    if row is None:
        return "missing"
    db.session.refresh(row)
    real_time, now = now is None, now or utcnow()
    if row.state not in PENDING:
        return row.state.value
    if row.state is ScheduleState.running and row.started_at and row.started_at > now - RUNNING_LEASE:
        return "running elsewhere"
    if now < row.run_at - 2 * LEAD:  # never early, whoever enqueued it
        _put_back(row, row.run_at - LEAD)
        return "early"
    if now < row.run_at:  # RQ's lead: wait here for the time itself
        db.session.rollback()
        _sleep((row.run_at - now).total_seconds())
        while real_time and (now := utcnow()) < row.run_at:  # the wall clock, not sleep's, decides
            _sleep((row.run_at - now).total_seconds())
        now = now if real_time else row.run_at
    if now > row.deadline_at:
        return _decided(_end(row.id, ScheduleState.missed, {"reason": "no worker fired it before its deadline; it is not applied "
                                                      "late"}, claimed_at=row.started_at, now=now), "missed")
    previous = row.started_at
    claimed = db.session.execute(
        update(ScheduledPromotion).where(
            ScheduledPromotion.id == row.id,
            (ScheduledPromotion.state == ScheduleState.scheduled)
            | ((ScheduledPromotion.state == ScheduleState.running) & (ScheduledPromotion.started_at == previous)))
        .values(state=ScheduleState.running, started_at=now)).rowcount
    db.session.commit()
    if not claimed:
        return "taken"
    return _apply(schedule_id, now)


def _apply(schedule_id: int, claimed_at: datetime) -> str:
    row = db.session.get(ScheduledPromotion, schedule_id)
    db.session.refresh(row)
    actor = _creator(row)
    if actor is None:
        return _decided(_end(row.id, ScheduleState.failed, {"reason": "Whoever scheduled it is no longer a member of the workspace."},
             claimed_at=claimed_at, now=utcnow()), "failed")
    request = db.session.get(PromotionRequest, row.request_id) if row.request_id else None
    if request is not None and request.state is not RequestState.approved:
        return _stale(actor, row, f"its request is {request.state.value} now, no longer approved", claimed_at)
    try:
        promotion = FLOWS[row.flow].reopen(actor, row.source, row.change_notes)
    except DomainError as exc:
        if exc.code in MOVED_CODES:
            return _stale(actor, row, exc.message, claimed_at)
        return _decided(_end(row.id, ScheduleState.failed, {"reason": exc.message, "code": exc.code}, claimed_at=claimed_at,
             now=utcnow()), "failed")
    if request is None and governance.policy_for(row.workspace_id, promotion.policy_subjects()).required_approvals:
        return _stale(actor, row, "the approval policy now requires approval", claimed_at)
    if governance.plain_json(promotion.seen_now()) != row.seen:
        return _stale(actor, row, "production (or the connection room) changed after it was scheduled", claimed_at)
    if governance.fingerprint(promotion.fresh_preview()) != row.diff_hash:
        return _stale(actor, row, "what it would promote changed after it was scheduled", claimed_at)
    # Ours still: the row, locked with the flow's rows, must hold our claim (a slow run outlived its lease?).
    mine = db.session.scalar(select(ScheduledPromotion).where(
        ScheduledPromotion.id == row.id, ScheduledPromotion.state == ScheduleState.running,
        ScheduledPromotion.started_at == claimed_at).with_for_update())
    if mine is None:
        db.session.rollback()
        return "taken"
    try:
        engine_confirm(promotion, None, also=lambda result: _schedule_applied(actor, mine, request, result))
    except PreviewChanged as exc:  # a concurrent promotion won the race
        return _stale(actor, row, exc.message, claimed_at)
    except DomainError as exc:  # the flow's own refusal (an exit taken meanwhile)
        return _decided(_end(schedule_id, ScheduleState.failed, {"reason": exc.message, "code": exc.code}, claimed_at=claimed_at,
             now=utcnow()), "failed")
    return "done"


def _schedule_applied(actor: Actor, row: ScheduledPromotion, request: PromotionRequest | None, result: Any) -> None:
    shown = result.as_json() if hasattr(result, "as_json") else {}
    row.state, row.finished_at, row.outcome = ScheduleState.done, utcnow(), {"result": governance.plain_json(shown)}
    audit.record(actor, "promotion.schedule_done", "scheduled_promotion", row.id, _details(row))
    if request is not None:
        request.state = RequestState.applied
        governance.record_applied(actor, request, result)


def _stale(actor: Actor, row: ScheduledPromotion, reason: str, claimed_at: datetime) -> str:
    """Not applied: the row goes stale with the fresh diff, and its creator is told once (an outbox effect)."""
    row_id, flow, source = row.id, row.flow, row.source
    db.session.rollback()
    try:
        preview = FLOWS[flow].preview(actor, source).as_json()
    except DomainError as exc:  # nothing to preview any more (the source went)
        preview = {"unavailable": exc.message}
    db.session.rollback()
    outcome = {"reason": reason, "summary": preview_summary(preview),
               "preview": {k: v for k, v in preview.items() if k not in governance.VOLATILE}}
    return _decided(_end(row_id, ScheduleState.stale, outcome, claimed_at=claimed_at, now=utcnow()), "stale")


def preview_summary(preview: dict[str, Any]) -> str:
    """The fresh diff in a line, for the creator's message: a process's diff summary, an area's connection."""
    if "unavailable" in preview:
        return preview["unavailable"]
    if isinstance(preview.get("diff"), dict):
        return str(preview["diff"].get("summary") or "no changes")
    if "connection_room" in preview:
        conflicts = preview.get("conflicts") or []
        return (f"{preview.get('room_count', 0)} rooms, {preview.get('connection_direction')} of "
                f"{preview['connection_room'].get('name')}; exits there now: {len(preview.get('exits') or [])}"
                + (f"; conflicts: {' '.join(conflicts)}" if conflicts else ""))
    return "the preview changed"


@outbox.handler(STALE_EFFECT)
def _tell_stale(effect: Any) -> dict[str, Any]:
    """The creator of a stale schedule is told once (the ledger's key `schedule:<id>:stale`), opted in or not:
    it is their promotion."""
    row = db.session.get(ScheduledPromotion, effect.payload["schedule_id"])
    if row is None or row.state is not ScheduleState.stale or row.created_by_id is None:
        return {"sent": 0, "why": "not stale"}
    outcome = row.outcome or {}
    link = current_app.config["SETTINGS"].PUBLIC_URL.rstrip("/") + page_path(row)
    message = delivery.Message(
        f"schedule:{row.id}:stale", row.created_by_id, f"Scheduled promotion not applied: {row.title}",
        f"{row.title}, scheduled for {row.run_at.astimezone(_zone(row)):%Y-%m-%d %H:%M}, was not applied: "
        f"{outcome.get('reason', 'something changed')}. What it would do now: {outcome.get('summary', '')}. "
        f"Open {link} to look and schedule it again.")
    sent = delivery.deliver(row.workspace_id, STALE_SOURCE, row.id, [message],
                            local_time=utcnow().astimezone(_zone(row)).time(), dry_run=False, require_opt_in=False)
    return {status.value: n for status, n in sent.items()}


def page_path(row: ScheduledPromotion) -> str:
    """The page the schedule is listed on: its process's or its build project's."""
    return page_paths([row])[row.id]


def page_paths(rows: Sequence[ScheduledPromotion]) -> dict[int, str]:
    """`page_path` of each row by id, the processes' slugs read in one query."""
    ids = {r.process_id for r in rows if not r.build_project_id and r.process_id}
    slugs = dict(db.session.execute(select(_PROCESSES.c.id, _PROCESSES.c.slug).where(_PROCESSES.c.id.in_(ids))).all()
                 if ids else [])
    return {r.id: f"/builds/{r.build_project_id}" if r.build_project_id
            else f"/processes/{slugs[r.process_id]}" if r.process_id in slugs else "/processes" for r in rows}


def _zone(row: ScheduledPromotion) -> Any:
    return db.session.get(Workspace, row.workspace_id).zone


# -- the reconciler ------------------------------------------------------------------------------------------


@outbox.reconciler
def reconcile(now: datetime | None = None) -> dict[str, int]:
    """Due schedules Redis lost go on RQ again; those past their deadline are `missed`; a `running` one whose
    worker died (its claim older than the lease) fires again (a new job id), or is missed after its deadline."""
    now = now or utcnow()
    due = db.session.scalars(select(ScheduledPromotion).where(
        ScheduledPromotion.state.in_(PENDING), ScheduledPromotion.run_at <= now)
        .order_by(ScheduledPromotion.run_at).limit(500)).all()
    connection = courier.connection
    missed = enqueued = 0
    for row in due:
        if row.state is ScheduleState.running and row.started_at and row.started_at > now - RUNNING_LEASE:
            continue  # a worker is on it
        if now > row.deadline_at:
            missed += _end(row.id, ScheduleState.missed, {"reason": "no worker fired it before its deadline; it is "
                                                                    "not applied late"},
                           claimed_at=row.started_at if row.state is ScheduleState.running else None, now=now)
        # A running one's worker died (the row applied nothing: one transaction), or Redis lost the job. A job RQ
        # calls started counts while its horse may still be waiting for run_at; soon after, it would have claimed
        # the row: one that has not died waiting (a SIGKILL in the lead).
        elif row.state is ScheduleState.running or not outbox.job_is_alive(
                connection, rq_job_id(row), running=now - row.run_at < outbox.OVERDUE_GRACE):
            enqueued += _put_back(row, None)
    return {"schedules_due": len(due), "schedules_enqueued": enqueued, "schedules_missed": missed}
