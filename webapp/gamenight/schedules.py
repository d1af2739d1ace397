"""Recurring game nights: a promoter's weekly schedule (weekdays, a local start, the lead and statuses a
hand-made campaign takes, an optional minimum of ready players to create a night at all, an optional quorum each
night's campaign carries to its reminder) and its nights, one row per schedule and local
date. Each night's campaign is created `hours_ahead` before its start by `campaigns.create` itself, as the
promoter — so every guard of a hand-made campaign holds (their role, one campaign per promoter and local day,
opt-in recipients, quiet hours at delivery, the start computed in the workspace's zone for that very date).

The rows are the truth; RQ carries a night's id to its `create_at` (`enqueue_at`), and the reconciler adds the
next two weeks' nights and enqueues a due night whose run Redis lost. A night's campaign carries the idempotency
key `schedule-{id}-{date}`, so a run repeated after a crash finds the campaign its first run made; a night whose
window (from `create_at` to the reminder time) passed with no worker is `missed`, never promoted late.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

import redis
from pydantic import BeforeValidator, ConfigDict, Field, WithJsonSchema
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.job import JobStatus as RQStatus
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from webapp.accounts import services as accounts
from webapp.accounts.models import User
from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.commands import Command, bad_request, form_values, invalid, parse, whole
from webapp.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, TooManyRequests
from webapp.extensions import courier, db, utcnow
from webapp.gamenight import campaign_plans, campaigns, night_settings
from webapp.gamenight.campaign_plans import PROMOTE_NIGHT, CampaignChoices, start_instant
from webapp.gamenight.models import (
    HOURS_AHEAD_DEFAULT,
    HOURS_AHEAD_MAX,
    HOURS_AHEAD_MIN,
    MIN_PLAYERS_MAX,
    MIN_PLAYERS_MIN,
    Availability,
    Campaign,
    CampaignJob,
    JobKind,
    JobStatus,
    NightSchedule,
    NightStatus,
    ScheduledNight,
    Status,
)
from webapp.notify import delivery
from webapp.notify.models import Preference
from webapp.outbox import services as outbox

log = logging.getLogger(__name__)
JOB_FUNCTION = "jobs.gamenight.create_scheduled_night"
HORIZON_DAYS = 14  # nights exist (visible, skippable) this many local days ahead
RECHECK = timedelta(minutes=15)  # below the minimum: look again this often until the reminder time
RETRY_THROTTLED = timedelta(minutes=1)
EARLY = timedelta(seconds=30)  # a run this much before its time is put back on the schedule
MAX_SCHEDULES = 10  # per promoter and workspace
MIN_READY_MAX = 1000
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAYS_RULE = "is one or more of mon, tue, wed, thu, fri, sat, sun"
READY = (Status.available, Status.looking)  # who counts towards the minimum: they said they would come


_NAMES = {name: i for i, short in enumerate(WEEKDAYS)
          for name in (short, ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")[i])}


WEEKDAYS_SCHEMA = {"type": "array", "minItems": 1, "examples": [["fri", "sat"]],
                   "items": {"anyOf": [{"type": "string", "enum": list(_NAMES)},
                                       {"type": "integer", "minimum": 0, "maximum": 6}]}}


def _weekday(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    if isinstance(value, str) and (found := _NAMES.get(value.strip().lower())) is not None:
        return found
    raise bad_request(f"{WEEKDAYS_RULE} (or 0 = Monday … 6 = Sunday): {str(value)[:20]!r} is not a weekday")


def _weekdays(raw: Any) -> list[int]:
    if isinstance(raw, str | int):
        raw = [raw]
    if not isinstance(raw, list):
        raise bad_request(f"{WEEKDAYS_RULE}, as a list")
    if not raw:
        raise invalid(WEEKDAYS_RULE)
    return sorted({_weekday(value) for value in raw})


class ScheduleCommand(Command):
    """A weekly game night: the form's fields and the API's body. Left out: the workspace's game start and
    reminder lead, available + looking members, no minimum, no quorum, created 24 hours ahead."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    weekdays: Annotated[list[int], BeforeValidator(_weekdays), WithJsonSchema(WEEKDAYS_SCHEMA)]
    start_time: Annotated[time | None, BeforeValidator(campaign_plans._start_time),
                          Field(examples=["21:00"])] = None
    # The range on the number alone: on `int | None` pydantic would compare a null with it (a 500).
    lead_minutes: Annotated[Annotated[int, Field(ge=night_settings.LEAD_MINUTES_MIN,
                                                 le=night_settings.LEAD_MINUTES_MAX)] | None,
                            BeforeValidator(campaign_plans._lead)] = None
    statuses: Annotated[list[Status], BeforeValidator(campaign_plans._statuses), Field(min_length=1)] = \
        Field(None, validate_default=True)
    min_ready: whole(1, MIN_READY_MAX) | None = None
    # The campaign's quorum (`CampaignChoices.min_players`): checked at each night's reminder, not at its creation.
    min_players: whole(MIN_PLAYERS_MIN, MIN_PLAYERS_MAX) | None = None
    hours_ahead: whole(HOURS_AHEAD_MIN, HOURS_AHEAD_MAX) = HOURS_AHEAD_DEFAULT

    @classmethod
    def of_form(cls, values: Any) -> ScheduleCommand:
        """The form: no box ticked is none picked (422), not the API's default."""
        data = form_values(cls, values)
        data.setdefault("statuses", [])
        data.setdefault("weekdays", [])
        return parse(cls, data)


# -- the schedule ---------------------------------------------------------------------------------


def create(actor: Actor, command: ScheduleCommand, *, now: datetime | None = None) -> NightSchedule:
    """A weekly schedule of `actor`'s, and its nights of the next two weeks (each on RQ at its `create_at`)."""
    actor.require(*PROMOTE_NIGHT)
    if actor.user_id is None:
        raise Forbidden("A weekly game night is a member's: its campaigns are promoted as them.")
    game = night_settings.settings(actor.workspace_id)
    clock = command.start_time or night_settings.parse_clock(game.game_start)
    lead = command.lead_minutes or game.lead_minutes
    if command.hours_ahead * 60 <= lead:
        raise Invalid(f"Create the campaign earlier than its reminder: {command.hours_ahead} h ahead is not before "
                      f"the reminder {lead} min before the start.", details={"hours_ahead": "must be before the reminder"})
    owned = db.session.scalar(select(func.count()).select_from(NightSchedule).where(
        NightSchedule.workspace_id == actor.workspace_id, NightSchedule.promoter_id == actor.user_id)) or 0
    if owned >= MAX_SCHEDULES:
        raise Conflict(f"You have {owned} schedules here, the most one promoter may have; delete one first.",
                       code="too_many_schedules")
    schedule = NightSchedule(workspace_id=actor.workspace_id, promoter_id=actor.user_id, weekdays=command.weekdays,
                             start_time=clock.strftime("%H:%M"), lead_minutes=lead,
                             statuses=[s.value for s in command.statuses], min_ready=command.min_ready,
                             min_players=command.min_players, hours_ahead=command.hours_ahead)
    db.session.add(schedule)
    db.session.flush()
    added = extend(schedule, now or utcnow())
    audit.record(actor, "schedule.created", "night_schedule", schedule.id,
                 {"weekdays": [WEEKDAYS[d] for d in schedule.weekdays], "start_time": schedule.start_time,
                  "lead_minutes": lead, "statuses": schedule.statuses, "min_ready": schedule.min_ready,
                  "min_players": schedule.min_players, "hours_ahead": schedule.hours_ahead, "nights": added})
    db.session.commit()
    return schedule


def listing(actor: Actor) -> Sequence[NightSchedule]:
    return db.session.scalars(select(NightSchedule).where(NightSchedule.workspace_id == actor.workspace_id)
                              .order_by(NightSchedule.id)).all()


def get(actor: Actor, schedule_id: int) -> NightSchedule:
    schedule = db.session.scalar(select(NightSchedule).where(NightSchedule.id == schedule_id,
                                                             NightSchedule.workspace_id == actor.workspace_id))
    if schedule is None:
        raise NotFound("No such schedule in this workspace.")
    return schedule


def deletable(actor: Actor, schedule_id: int) -> NightSchedule:
    actor.require(*PROMOTE_NIGHT)
    return get(actor, schedule_id)


def delete(actor: Actor, schedule_id: int) -> int:
    """The schedule and its nights go; campaigns it already created stay (cancel them on their own pages)."""
    schedule = deletable(actor, schedule_id)
    pending = sum(1 for n in schedule.nights if n.status is NightStatus.pending)
    kept = [n.campaign_id for n in schedule.nights if n.campaign_id is not None]
    audit.record(actor, "schedule.deleted", "night_schedule", schedule.id,
                 {"pending_nights_dropped": pending, "campaigns_kept": kept})
    db.session.delete(schedule)
    db.session.commit()
    return schedule_id


def set_paused(actor: Actor, schedule_id: int, paused: bool) -> NightSchedule:
    """Paused: each night whose creation time comes meanwhile is skipped. Resumed: the next nights are made."""
    actor.require(*PROMOTE_NIGHT)
    schedule = get(actor, schedule_id)
    if schedule.paused == paused:
        return schedule
    schedule.paused = paused
    added = 0 if paused else extend(schedule, utcnow())
    audit.record(actor, "schedule.paused" if paused else "schedule.resumed", "night_schedule", schedule.id,
                 {} if paused else {"nights_added": added})
    db.session.commit()
    return schedule


def local_start(schedule: NightSchedule) -> time:
    return night_settings.parse_clock(schedule.start_time)


def nights_of(schedule: NightSchedule, first: date, days: int) -> list[tuple[date, datetime, datetime]]:
    """(local date, start, creation time) of the schedule's nights among `days` local dates from `first`: the
    start is the local clock time in the workspace's zone on that very date (DST-correct); the campaign is
    created `hours_ahead` real hours before it."""
    zone = night_settings.workspace(schedule.workspace_id).zone
    clock = local_start(schedule)
    out = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        if day.weekday() in schedule.weekdays:
            start = start_instant(zone, day, clock)
            out.append((day, start, start - timedelta(hours=schedule.hours_ahead)))
    return out


def window_end(night: ScheduledNight, schedule: NightSchedule) -> datetime:
    """After the reminder time the night is not created: a campaign then would send its reminder late."""
    return night.start_at - timedelta(minutes=schedule.lead_minutes)


def extend(schedule: NightSchedule, now: datetime) -> int:
    """Add the nights of the next HORIZON_DAYS local dates that are not there yet and whose window has not passed
    (each goes on RQ at its creation time once committed); how many. A night already there (a second reconciler
    adding the same) is the unique constraint's to refuse."""
    if schedule.paused:
        return 0
    today = night_settings.local_today(night_settings.workspace(schedule.workspace_id), now)
    known = set(db.session.scalars(select(ScheduledNight.local_day).where(
        ScheduledNight.schedule_id == schedule.id, ScheduledNight.local_day >= today)))
    added = []
    for day, start, create_at in nights_of(schedule, today, HORIZON_DAYS):
        if day in known or start - timedelta(minutes=schedule.lead_minutes) <= now:
            continue
        night = ScheduledNight(schedule_id=schedule.id, workspace_id=schedule.workspace_id, local_day=day,
                               start_at=start, create_at=create_at)
        db.session.add(night)
        added.append(night)
    db.session.flush()
    for night in added:
        _schedule_after_commit(night, night.create_at if night.create_at > now else None)
    return len(added)


# -- one night --------------------------------------------------------------------------------------


def _next_run(night: ScheduledNight, at: datetime | None) -> str:
    night.next_run_at = at if at is None or at != night.create_at else None
    night.rq_job_id = f"scheduled-night-{night.id}-r{night.runs}"
    return night.rq_job_id


def _schedule_after_commit(night: ScheduledNight, at: datetime | None) -> None:
    outbox.enqueue_after_commit(JOB_FUNCTION, night.id, job_id=_next_run(night, at), at=at)


def _schedule(night: ScheduledNight, at: datetime | None = None) -> bool:
    rq_id, night_id = _next_run(night, at), night.id
    db.session.commit()
    return outbox.enqueue(JOB_FUNCTION, night_id, job_id=rq_id, at=at)


def idempotency_key(night: ScheduledNight) -> str:
    return f"schedule-{night.schedule_id}-{night.local_day.isoformat()}"


_NIGHT_KEY = re.compile(r"schedule-[0-9]+-[0-9]{4}-[0-9]{2}-[0-9]{2}")


def is_night_key(key: str | None) -> bool:
    """Whether a campaign's idempotency key is a schedule night's (`idempotency_key`): the campaign is that night's."""
    return key is not None and _NIGHT_KEY.fullmatch(key) is not None


def _end(night: ScheduledNight, status: NightStatus, detail: str, now: datetime, *,
         campaign_id: int | None = None) -> str:
    """Settle a pending night once (a second run that gets here too changes and audits nothing)."""
    ended = db.session.execute(
        update(ScheduledNight).where(ScheduledNight.id == night.id, ScheduledNight.status == NightStatus.pending)
        .values(status=status, detail=detail[:300], finished_at=now, next_run_at=None,
                campaign_id=campaign_id)).rowcount
    if ended:
        audit.record(None, f"schedule.night_{status.value}", "night_schedule", night.schedule_id,
                     {"date": night.local_day.isoformat(), "campaign_id": campaign_id, "detail": detail[:300]},
                     workspace_id=night.workspace_id, actor_label="schedule")
    db.session.commit()
    return status.value if ended else db.session.get(ScheduledNight, night.id).status.value


def _campaign_made(night: ScheduledNight) -> int | None:
    """The campaign a run of this night made already (its idempotency key), if one did."""
    return db.session.scalar(select(Campaign.id).where(Campaign.workspace_id == night.workspace_id,
                                                       Campaign.idempotency_key == idempotency_key(night)))


def ready_count(workspace_id: int, day: date) -> int:
    """Opted-in members available or looking that day (the members a minimum counts)."""
    return db.session.scalar(select(func.count()).select_from(Availability).join(
        Preference, (Preference.user_id == Availability.user_id)
        & (Preference.workspace_id == Availability.workspace_id)).where(
        Availability.workspace_id == workspace_id, Availability.day == day, Availability.status.in_(list(READY)),
        Preference.opted_in.is_(True))) or 0


def _promoter(schedule: NightSchedule) -> Actor:
    user = db.session.get(User, schedule.promoter_id)
    if user is None:
        raise NotFound("The schedule's promoter is gone.")
    return accounts.actor_for_user(user, schedule.workspace_id)


def _follow_the_zone(night: ScheduledNight, schedule: NightSchedule) -> None:
    """The start of that date in the workspace's zone as it is now (an admin may have changed the zone since the
    night was added), so the night and its campaign agree."""
    start = start_instant(night_settings.workspace(schedule.workspace_id).zone, night.local_day, local_start(schedule))
    if start != night.start_at:
        night.start_at, night.create_at = start, start - timedelta(hours=schedule.hours_ahead)


def run_night(night_id: int, now: datetime | None = None) -> str:
    """Create one night's campaign, as its promoter, through `campaigns.create`. Safe to run any number of
    times: a night that is not pending is left as it is, and a campaign a crashed run made is found by its key."""
    night = db.session.get(ScheduledNight, night_id)
    if night is None:
        return "missing"
    if night.status is not NightStatus.pending:
        return night.status.value
    schedule = db.session.get(NightSchedule, night.schedule_id)
    assert schedule is not None
    now = now or utcnow()
    _follow_the_zone(night, schedule)
    due = night.next_run_at or night.create_at
    if now < due - EARLY:  # never before its time, whoever enqueued it
        night.runs += 1  # the next run gets an id of its own, not the one this run still holds
        _schedule(night, due)
        return "early"
    night.runs += 1
    db.session.commit()
    if (made := _campaign_made(night)) is not None:  # a run before this one got as far as the campaign
        return _end(night, NightStatus.created, "", now, campaign_id=made)
    if schedule.paused:
        return _end(night, NightStatus.skipped, "The schedule was paused at its creation time.", now)
    end = window_end(night, schedule)
    if now >= end:
        return _end(night, NightStatus.missed, "No worker ran between its creation time and the reminder time; "
                    "a night is not promoted late.", now)
    if schedule.min_ready:
        ready = ready_count(night.workspace_id, night.local_day)
        if ready < schedule.min_ready:
            if now + RECHECK < end:
                night.detail = f"{ready} of {schedule.min_ready} ready; looking again every 15 minutes."
                _schedule(night, now + RECHECK)
                return "waiting"
            return _end(night, NightStatus.too_few, f"Only {ready} of the {schedule.min_ready} needed were ready "
                        "by the reminder time; not promoted.", now)
    choices = CampaignChoices(day=night.local_day.isoformat(), start_time=schedule.start_time,
                              lead_minutes=schedule.lead_minutes, statuses=schedule.statuses,
                              min_players=schedule.min_players)
    try:
        campaign, _ = campaigns.create(_promoter(schedule), choices, idempotency_key=idempotency_key(night), now=now)
    except TooManyRequests:
        night = db.session.get(ScheduledNight, night_id)
        _schedule(night, now + RETRY_THROTTLED)
        return "throttled"
    except DomainError as exc:  # a guard said no: the promoter's day is taken, the role is gone, …
        db.session.rollback()
        night = db.session.get(ScheduledNight, night_id)
        taken = (exc.details or {}).get("campaign_id") if isinstance(exc, Conflict) else None
        return _end(night, NightStatus.refused, exc.message, now, campaign_id=taken)
    night = db.session.get(ScheduledNight, night_id)
    return _end(night, NightStatus.created, "", now, campaign_id=campaign.id)


def skippable(actor: Actor, night_id: int) -> ScheduledNight:
    """The night, if `actor` may skip it now: pending, or created with a campaign that can still be cancelled."""
    actor.require(*PROMOTE_NIGHT)
    night = db.session.scalar(select(ScheduledNight).where(ScheduledNight.id == night_id,
                                                           ScheduledNight.workspace_id == actor.workspace_id))
    if night is None:
        raise NotFound("No such scheduled night in this workspace.")
    if night.status is NightStatus.created and night.campaign is not None and night.campaign.status.active:
        return night
    if night.status is not NightStatus.pending:
        raise Conflict(f"The night of {night.local_day.isoformat()} is {night.status.label}"
                       + (" and its campaign is over" if night.status is NightStatus.created else "")
                       + "; only a pending night or an active campaign can be skipped.")
    return night


def reminder_sent(campaign_id: int) -> bool:
    """Whether the campaign's reminder has gone out, or is going out: then its recipients know of the night (read
    from the database, not the session's copy, as the skip decides on it)."""
    status = db.session.scalar(select(CampaignJob.status).where(CampaignJob.campaign_id == campaign_id,
                                                                CampaignJob.kind == JobKind.reminder))
    return status in (JobStatus.running, JobStatus.done)


def skip(actor: Actor, night_id: int) -> ScheduledNight:
    """A pending night is not created. A created one's campaign is cancelled quietly (`campaigns.cancel`) while
    nobody has been told of it; once its reminder went out, the night is called off (`campaigns.call_off`): each
    recipient is told once."""
    night = skippable(actor, night_id)
    if night.status is NightStatus.created and night.campaign_id is not None:
        campaign_id = night.campaign_id
        called_off = reminder_sent(campaign_id)
        if called_off:
            campaigns.call_off(actor, campaign_id)  # audited there as campaign.called_off
        else:
            campaigns.cancel(actor, campaign_id)  # audited there as campaign.cancelled
        night = db.session.get(ScheduledNight, night_id)
        night.status = NightStatus.skipped
        night.detail = (f"Skipped by {actor.label}: the night was called off, everyone who got the reminder is told."
                        if called_off else f"Skipped by {actor.label}: its campaign was cancelled before anyone was told.")
        audit.record(actor, "schedule.night_skipped", "night_schedule", night.schedule_id,
                     {"date": night.local_day.isoformat(), "campaign_id": campaign_id, "called_off": called_off})
        db.session.commit()
        return night
    skipped = db.session.execute(
        update(ScheduledNight).where(ScheduledNight.id == night.id, ScheduledNight.status == NightStatus.pending)
        .values(status=NightStatus.skipped, detail=f"Skipped by {actor.label}.", finished_at=utcnow(),
                next_run_at=None)).rowcount
    if not skipped:  # its run settled it meanwhile
        db.session.rollback()
        raise Conflict("The night changed meanwhile; look again.")
    audit.record(actor, "schedule.night_skipped", "night_schedule", night.schedule_id,
                 {"date": night.local_day.isoformat()})
    db.session.commit()
    db.session.refresh(night)
    return night


# -- the reconciler ----------------------------------------------------------------------------------


def _run_alive(connection: redis.Redis, rq_id: str, now: datetime) -> bool:
    """Whether Redis holds the night's run waiting, or running for less than the delivery lease (as a campaign
    job's silent worker is judged): a run takes a second, so one started longer ago lost its worker, which RQ
    itself would notice only at its maintenance pass."""
    try:
        job = Job.fetch(rq_id, connection=connection)
    except NoSuchJobError:
        return False
    if job.get_status() is RQStatus.STARTED:
        return job.started_at is not None and job.started_at > now - delivery.lease()
    return outbox.job_is_alive(connection, rq_id)


@outbox.reconciler
def reconcile(now: datetime | None = None) -> dict[str, int]:
    """Add each active schedule's nights of the next two weeks, and enqueue a due pending night whose run Redis
    does not hold (lost, or its worker died): a missed creation is caught up once — the night's row, unique per
    schedule and date, and its campaign's idempotency key see to "never twice"."""
    now = now or utcnow()
    added = 0
    for schedule_id in db.session.scalars(select(NightSchedule.id).where(NightSchedule.paused.is_(False))
                                          .order_by(NightSchedule.id).limit(1000)).all():
        try:
            schedule = db.session.get(NightSchedule, schedule_id)
            added += extend(schedule, now)
            db.session.commit()
        except IntegrityError:  # another pass added the same night meanwhile
            db.session.rollback()
    due = db.session.scalars(select(ScheduledNight).where(
        ScheduledNight.status == NightStatus.pending,
        func.coalesce(ScheduledNight.next_run_at, ScheduledNight.create_at) <= now)
        .order_by(ScheduledNight.create_at).limit(500)).all()
    connection = courier.connection
    lost = [night for night in due if not _run_alive(connection, night.rq_job_id or "", now)]
    enqueued = sum(_schedule(night) for night in lost)
    return {"scheduled_nights_added": added, "scheduled_nights_due": len(due), "scheduled_nights_enqueued": enqueued}


# -- what the pages and the API show -------------------------------------------------------------------


def upcoming(schedule: NightSchedule, now: datetime | None = None, past_days: int = 7) -> list[ScheduledNight]:
    """Its nights from a week ago on (older ones stay in the database and the audit log)."""
    since = night_settings.local_today(night_settings.workspace(schedule.workspace_id), now) - timedelta(days=past_days)
    return [n for n in schedule.nights if n.local_day >= since]


def night_json(night: ScheduledNight) -> dict[str, Any]:
    return {"id": night.id, "date": night.local_day.isoformat(), "start_at": night.start_at.isoformat(),
            "create_at": night.create_at.isoformat(), "status": night.status.value, "detail": night.detail,
            "campaign_id": night.campaign_id}


def as_json(schedule: NightSchedule, *, nights: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": schedule.id, "promoter_id": schedule.promoter_id, "weekdays": [WEEKDAYS[d] for d in schedule.weekdays],
        "start_time": schedule.start_time, "lead_minutes": schedule.lead_minutes, "statuses": schedule.statuses,
        "min_ready": schedule.min_ready, "min_players": schedule.min_players, "hours_ahead": schedule.hours_ahead,
        "paused": schedule.paused,
        "zone": night_settings.workspace(schedule.workspace_id).time_zone}
    if nights:
        out["nights"] = [night_json(n) for n in upcoming(schedule)]
    return out
