"""Promote tonight: a campaign snapshots the opted-in members and schedules three jobs — the reminder
at start − lead, the start call at start, the ready-check at start — in the workspace's time zone.

The `campaign_jobs` rows are the truth: RQ carries only their ids (`enqueue_at`, aware UTC), and the
reconciler enqueues any job that is due and not done. Every message passes the delivery ledger
(`notify.delivery.deliver`), so a job run twice, two runs at once, or a run after a restart send each
message once.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import redis
from flask import current_app
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from webapp import inputs
from webapp.accounts.models import Role
from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.errors import BadRequest, Conflict, Invalid, NotFound, TooManyRequests
from webapp.extensions import courier, db, utcnow
from webapp.gamenight import presence
from webapp.gamenight import services as gamenight
from webapp.gamenight.models import (
    Availability,
    Campaign,
    CampaignJob,
    CampaignRecipient,
    CampaignStatus,
    JobKind,
    JobStatus,
    Status,
)
from webapp.notify import delivery
from webapp.notify.models import Delivery, DeliveryStatus, Preference, SendLog
from webapp.outbox import services as outbox

log = logging.getLogger(__name__)
PROMOTE_NIGHT = (Role.promoter, "promote game nights")
PROMOTABLE = (Status.available, Status.maybe, Status.looking)
JOB_FUNCTION = "jobs.gamenight.run_campaign_job"
SOURCE = "campaign_job"  # the ledger's source type of campaign deliveries
EARLY = timedelta(seconds=30)  # a run this much before its time is put back on the schedule
FANOUT_SHARED = 200  # from this many recipients on, a reminder or start call is shared between runs
DEADLINES = {JobKind.reminder: timedelta(minutes=30), JobKind.start: timedelta(minutes=60),
             JobKind.ready_check: timedelta(minutes=60)}
RATE_LIMIT = 20  # previews and creates per promoter per minute
MESSAGES = {
    JobKind.reminder: ("Game night at {start}", "Game night starts at {start} ({zone}). See you there!"),
    JobKind.start: ("Game night starts now", "We are starting now ({start}). Join the voice channel!"),
}


# -- what a campaign would be ---------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    local_day: date
    start_at: datetime  # aware UTC
    lead_minutes: int
    statuses: list[Status]
    recipients: list[tuple[int, Status]]
    channels: Counter[str]  # per first usable channel: how many recipients it reaches
    zone: str
    now: datetime

    @property
    def runs(self) -> list[tuple[JobKind, datetime]]:
        # Promoted later than start − lead: the reminder goes out at once (it still says when).
        reminder = max(self.start_at - timedelta(minutes=self.lead_minutes), self.now)
        return [(JobKind.reminder, reminder), (JobKind.start, self.start_at), (JobKind.ready_check, self.start_at)]

    def as_json(self) -> dict[str, Any]:
        return {"date": self.local_day.isoformat(), "start_at": self.start_at.isoformat(),
                "lead_minutes": self.lead_minutes, "statuses": [s.value for s in self.statuses],
                "recipient_count": len(self.recipients), "channels": dict(self.channels),
                "jobs": [{"type": kind.value, "run_at": at.isoformat()} for kind, at in self.runs]}


def start_instant(zone: Any, day: date, clock: time) -> datetime:
    """The UTC instant of a local date and clock time in `zone` (DST-correct for that very date)."""
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def _statuses(raw: Any) -> list[Status]:
    if raw is None:
        return [Status.available, Status.looking]
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise Invalid("Pick at least one status to include: available, maybe, looking.",
                      details={"statuses": "one or more of available, maybe, looking"})
    picked: list[Status] = []
    for value in raw:
        try:
            status = gamenight.parse_status(value) if isinstance(value, str) else None
        except BadRequest:
            status = None
        if status not in PROMOTABLE:
            raise Invalid(f"{value!r} cannot be promoted to; pick from available, maybe, looking.",
                          details={"statuses": "one or more of available, maybe, looking"})
        if status not in picked:
            picked.append(status)
    return picked


def plan(actor: Actor, *, day: Any = None, start_time: Any = None, lead_minutes: Any = None, statuses: Any = None,
         now: datetime | None = None) -> Plan:
    """Who would be told, when, through which channels (counts only: never a handle)."""
    actor.require(*PROMOTE_NIGHT)
    ws = gamenight.workspace(actor.workspace_id)
    game = gamenight.settings(ws.id)
    now = now or utcnow()
    local_day = gamenight.parse_day(ws, day or "today", now)
    clock = gamenight.parse_clock(start_time or game.game_start, "'start_time' is a local time HH:MM, e.g. 21:00.")
    lead = game.lead_minutes if lead_minutes in (None, "") else inputs.as_whole_number(lead_minutes)
    if lead is None or not 1 <= lead <= 240:
        raise BadRequest("'lead_minutes' is a whole number of minutes from 1 to 240.")
    if local_day > gamenight.local_today(ws, now) + timedelta(days=366):
        raise Invalid("A game night can be promoted at most a year ahead.", details={"date": "at most a year ahead"})
    if local_day < gamenight.local_today(ws, now) - timedelta(days=1):  # before the UTC arithmetic: 0001-01-01
        raise Invalid(f"{local_day.isoformat()} has passed; pick a day from today on.", details={"date": "has passed"})
    start_at = start_instant(ws.zone, local_day, clock)
    if start_at <= now:
        raise Invalid(f"The start ({local_day.isoformat()} {clock.strftime('%H:%M')} {ws.time_zone}) has passed; "
                      "pick a time in the future.", details={"start_time": "must be in the future"})
    picked = _statuses(statuses)
    recipients = _recipients(ws.id, local_day, picked)
    people = delivery.reach(ws.id, [user_id for user_id, _ in recipients])
    channels = Counter(p.targets[0][0] if p.targets else "none" for p in people.values())
    return Plan(local_day=local_day, start_at=start_at, lead_minutes=lead, statuses=picked, recipients=recipients,
                channels=channels, zone=ws.time_zone, now=now)


def _recipients(workspace_id: int, day: date, statuses: Sequence[Status]) -> list[tuple[int, Status]]:
    """Opted-in members with one of `statuses` that day: opt-in only, never anyone else."""
    rows = db.session.execute(
        select(Availability.user_id, Availability.status)
        .join(Preference, (Preference.user_id == Availability.user_id)
              & (Preference.workspace_id == Availability.workspace_id))
        .where(Availability.workspace_id == workspace_id, Availability.day == day,
               Availability.status.in_(list(statuses)), Preference.opted_in.is_(True))
        .order_by(Availability.user_id))
    return [(user_id, status) for user_id, status in rows]


def _rate_limit(actor: Actor, what: str) -> None:
    """At most RATE_LIMIT previews and creates a minute per promoter (Redis counts; without Redis, no limit)."""
    key = f"pd:rate:campaign:{actor.workspace_id}:{actor.user_id}:{int(utcnow().timestamp() // 60)}"
    try:
        pipe = courier.connection.pipeline()
        pipe.incr(key)
        pipe.expire(key, 120)
        count = pipe.execute()[0]
    except redis.RedisError:
        return
    if count > RATE_LIMIT:
        raise TooManyRequests(f"Too many campaign {what}s in a minute; wait a moment.")


def preview(actor: Actor, **choices: Any) -> Plan:
    actor.require(*PROMOTE_NIGHT)
    _rate_limit(actor, "preview")
    return plan(actor, **choices)


# -- creating, cancelling, reading ----------------------------------------------------------------


def create(actor: Actor, *, idempotency_key: str | None = None, dry_run: Any = False,
           now: datetime | None = None, **choices: Any) -> tuple[Campaign, bool]:
    """A campaign with its recipients and three scheduled jobs; (campaign, created). The same
    Idempotency-Key gives back the same campaign; a second campaign by the same promoter the same
    local day is a 409 (the unique constraint decides a race)."""
    actor.require(*PROMOTE_NIGHT)
    key = (idempotency_key or "").strip()[:100] or None
    if key:
        existing = db.session.scalar(select(Campaign).where(Campaign.workspace_id == actor.workspace_id,
                                                            Campaign.idempotency_key == key))
        if existing is not None:
            return existing, False
    _rate_limit(actor, "create")
    if not isinstance(dry_run, bool):
        raise BadRequest("'dry_run' is true or false.")
    p = plan(actor, now=now, **choices)
    campaign = Campaign(workspace_id=actor.workspace_id, promoter_id=actor.user_id, local_day=p.local_day,
                        start_at=p.start_at, lead_minutes=p.lead_minutes, statuses=[s.value for s in p.statuses],
                        dry_run=dry_run, status=CampaignStatus.scheduled, idempotency_key=key)
    campaign.recipients = [CampaignRecipient(user_id=u, status=s) for u, s in p.recipients]
    campaign.jobs = [CampaignJob(kind=kind, run_at=at, deadline_at=at + DEADLINES[kind]) for kind, at in p.runs]
    db.session.add(campaign)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        if key and (same := db.session.scalar(select(Campaign).where(Campaign.workspace_id == actor.workspace_id,
                                                                     Campaign.idempotency_key == key))):
            return same, False
        raise Conflict(f"You already promoted a game night for {p.local_day.isoformat()}; cancel it to promote "
                       "another.", code="already_promoted") from None
    audit.record(actor, "campaign.created", "campaign", campaign.id,
                 {"date": p.local_day.isoformat(), "start_at": p.start_at.isoformat(), "recipients": len(p.recipients),
                  "statuses": campaign.statuses, "dry_run": dry_run})
    db.session.commit()
    for job in campaign.jobs:
        _schedule(job, job.run_at)
    return campaign, True


def get(actor: Actor, campaign_id: int) -> Campaign:
    campaign = db.session.scalar(select(Campaign).where(Campaign.id == campaign_id,
                                                        Campaign.workspace_id == actor.workspace_id))
    if campaign is None:
        raise NotFound("No such campaign in this workspace.")
    return campaign


def recent(actor: Actor, limit: int = 20) -> Sequence[Campaign]:
    return db.session.scalars(select(Campaign).where(Campaign.workspace_id == actor.workspace_id)
                              .order_by(Campaign.start_at.desc(), Campaign.id.desc()).limit(limit)).all()


def cancel(actor: Actor, campaign_id: int) -> Campaign:
    """Pending jobs are cancelled (their rows first, so a job that fires anyway does nothing). A job already
    running gets one more run at once, which sends nothing: it ends the job (`cancelled`) once no run holds a
    message, what waited for a retry becomes `failed`, and a claim a crash left becomes `unknown`."""
    actor.require(*PROMOTE_NIGHT)
    campaign = get(actor, campaign_id)
    if not is_active(campaign):
        raise Conflict(f"The campaign is {campaign.status.value}; only a scheduled or sending one can be cancelled.")
    cancelled = db.session.execute(
        update(CampaignJob).where(CampaignJob.campaign_id == campaign.id, CampaignJob.status == JobStatus.scheduled)
        .values(status=JobStatus.cancelled, finished_at=utcnow())).rowcount
    campaign.status, campaign.cancelled_at = CampaignStatus.cancelled, utcnow()
    audit.record(actor, "campaign.cancelled", "campaign", campaign.id, {"jobs_cancelled": cancelled})
    db.session.commit()
    _drop_from_queue(campaign)
    for job in [j for j in campaign.jobs if j.status is JobStatus.running]:
        _schedule(job)  # also supersedes a retry scheduled for later
    return campaign


def _drop_from_queue(campaign: Campaign) -> None:
    """Best effort: the rows are cancelled already, so a run that fires anyway does nothing."""
    for job in campaign.jobs:
        if job.status is JobStatus.cancelled and job.rq_job_id:
            try:
                Job.fetch(job.rq_job_id, connection=courier.connection).cancel()
            except (NoSuchJobError, redis.RedisError) as exc:
                log.info("campaign job %s was not on the queue to cancel: %s", job.id, type(exc).__name__)


# The ledger rows of a campaign's jobs (counted in SQL: the campaign page polls these every 2 s).
_OF_JOB = (Delivery.source_type == SOURCE) & (Delivery.source_id == CampaignJob.id)


def outcome_counts(campaign: Campaign) -> dict[str, dict[str, int]]:
    """Per job kind: how many deliveries ended in each status."""
    counts: dict[str, dict[str, int]] = {j.kind.value: {} for j in campaign.jobs}
    rows = db.session.execute(select(CampaignJob.kind, Delivery.status, func.count()).join(Delivery, _OF_JOB)
                              .where(CampaignJob.campaign_id == campaign.id)
                              .group_by(CampaignJob.kind, Delivery.status))
    for kind, status, n in rows:
        counts.setdefault(kind.value, {})[status.value] = n
    return counts


def channel_counts(campaign: Campaign) -> dict[str, int]:
    """Messages sent, per channel."""
    rows = db.session.execute(select(Delivery.channel, func.count()).join(CampaignJob, _OF_JOB)
                              .where(CampaignJob.campaign_id == campaign.id, Delivery.status == DeliveryStatus.sent)
                              .group_by(Delivery.channel))
    return {channel or "none": n for channel, n in rows}


def recipient_counts(campaign_ids: Sequence[int]) -> dict[int, int]:
    """How many members each campaign's snapshot holds (one query for a whole list)."""
    rows = db.session.execute(select(CampaignRecipient.campaign_id, func.count())
                              .where(CampaignRecipient.campaign_id.in_(list(campaign_ids)))
                              .group_by(CampaignRecipient.campaign_id))
    found = {campaign_id: n for campaign_id, n in rows}
    return {campaign_id: found.get(campaign_id, 0) for campaign_id in campaign_ids}


@dataclass(frozen=True)
class LogLine:
    at: datetime
    kind: str
    member: str
    attempt: int
    status: str
    channel: str | None
    error: str | None


def send_log(campaign: Campaign, limit: int = 200) -> list[LogLine]:
    """The newest attempts of the campaign's deliveries: who (by player name), outcome, channel type, error."""
    rows = db.session.execute(
        select(SendLog.created_at, CampaignJob.kind, Delivery.user_id, SendLog.attempt, SendLog.status,
               SendLog.channel, SendLog.error)
        .join(Delivery, Delivery.id == SendLog.delivery_id)
        .join(CampaignJob, _OF_JOB)
        .where(CampaignJob.campaign_id == campaign.id).order_by(SendLog.id.desc()).limit(limit)).all()
    users = sorted({r.user_id for r in rows if r.user_id})
    names = gamenight.player_names(campaign.workspace_id, users)
    return [LogLine(at=r.created_at, kind=r.kind.value, member=names.get(r.user_id, "summary channel"),
                    attempt=r.attempt, status=r.status, channel=r.channel, error=r.error) for r in rows]


def is_active(campaign: Campaign) -> bool:
    return campaign.status in (CampaignStatus.scheduled, CampaignStatus.sending)


def as_json(campaign: Campaign) -> dict[str, Any]:
    counts = outcome_counts(campaign)
    return {"id": campaign.id, "status": campaign.status.value, "date": campaign.local_day.isoformat(),
            "start_at": campaign.start_at.isoformat(), "dry_run": campaign.dry_run,
            "recipient_count": recipient_counts([campaign.id])[campaign.id], "statuses": campaign.statuses,
            "jobs": [{"type": j.kind.value, "run_at": j.run_at.isoformat(), "status": j.status.value,
                      "counts": counts.get(j.kind.value, {})} for j in campaign.jobs],
            "channels": channel_counts(campaign)}


# -- dispatch -----------------------------------------------------------------------------------


def _schedule(job: CampaignJob, at: datetime | None = None) -> bool:
    """Put a run of `job` on RQ (at `at`, or now); a Redis failure is logged and the reconciler retries.
    The row remembers the RQ job id and the time, so the reconciler knows what to look for."""
    job.next_run_at = at
    job.rq_job_id = f"campaign-job-{job.id}-r{job.runs}"
    rq_id, job_id = job.rq_job_id, job.id
    db.session.commit()
    try:
        queue = courier.queue()
        if at is None:  # now: off RQ's schedule too, so a scheduler that comes back does not run it again
            ScheduledJobRegistry(queue.name, connection=queue.connection).remove(rq_id)
            queue.enqueue(JOB_FUNCTION, job_id, job_id=rq_id, result_ttl=600, failure_ttl=86400)
        else:
            queue.enqueue_at(at.astimezone(UTC), JOB_FUNCTION, job_id, job_id=rq_id, result_ttl=600,
                             failure_ttl=86400)
    except redis.RedisError as exc:
        log.warning("could not schedule campaign job %s (the reconciler will): %s", job_id, exc)
        return False
    return True


def _share(job: CampaignJob, runs: int) -> None:
    """A large fan-out is shared: more runs of the same job walk the list from other starting points."""
    try:
        queue = courier.queue()
        for share in range(1, runs):
            queue.enqueue(JOB_FUNCTION, job.id, share, job_id=f"campaign-job-{job.id}-share{share}",
                          result_ttl=600, failure_ttl=86400)
    except redis.RedisError as exc:
        log.warning("could not share campaign job %s (one run does it all): %s", job.id, exc)


def _beat(job: CampaignJob) -> Any:
    """A heartbeat for `delivery.deliver`: at most once a second it marks the job alive and looks whether the
    campaign was cancelled meanwhile — then the run stops claiming (a cancel stops a fan-out under way)."""
    job_id, campaign_id = job.id, job.campaign_id
    last: list[datetime] = []
    called_off: list[bool] = []

    def beat(now: datetime) -> bool:
        if not called_off and (not last or now - last[0] > timedelta(seconds=1)):
            last[:] = [now]
            db.session.execute(update(CampaignJob).where(CampaignJob.id == job_id).values(heartbeat_at=now))
            if db.session.scalar(select(Campaign.status).where(Campaign.id == campaign_id)) is CampaignStatus.cancelled:
                called_off.append(True)
        return not called_off

    return beat


def run_job(job_id: int, share: int = 0, now: datetime | None = None) -> str:
    """Run one campaign job: each recipient's message through the ledger. Safe to run any number of
    times, and several runs at once (they share the fan-out)."""
    job = db.session.get(CampaignJob, job_id)
    if job is None:
        return "missing"
    campaign = db.session.get(Campaign, job.campaign_id)
    assert campaign is not None
    if job.status in (JobStatus.done, JobStatus.cancelled):
        return job.status.value
    if campaign.status is CampaignStatus.cancelled:  # nothing more is sent; what a crash or a retry left settles
        return _finish(campaign, job)
    now = now or utcnow()
    if now < job.run_at - EARLY:  # never before its time, whoever enqueued it
        _schedule(job, job.run_at)
        return "early"
    db.session.execute(update(CampaignJob).where(CampaignJob.id == job.id)
                       .values(runs=CampaignJob.runs + 1, status=JobStatus.running, heartbeat_at=now))
    job.started_at = job.started_at or now
    if campaign.status is CampaignStatus.scheduled:
        campaign.status = CampaignStatus.sending
    db.session.commit()
    settings = current_app.config["SETTINGS"]
    # Every main run (the first, a retry, the one after a crash) brings helpers; the ledger keeps them apart.
    if share == 0 and job.kind is not JobKind.ready_check and len(campaign.recipients) >= FANOUT_SHARED:
        _share(job, settings.FANOUT_RUNS)
    if now > job.deadline_at:
        log.warning("campaign job %s ran after its deadline; nothing more is sent", job.id)
    elif job.kind is JobKind.ready_check:
        _ready_check(campaign, job, now)
    else:
        _announce(campaign, job, now, rotate=share * len(campaign.recipients) // max(settings.FANOUT_RUNS, 1))
    return _finish(campaign, job)


def _announce(campaign: Campaign, job: CampaignJob, now: datetime, rotate: int = 0) -> None:
    ws = gamenight.workspace(campaign.workspace_id)
    start = campaign.start_at.astimezone(ws.zone).strftime("%H:%M")
    title, body = (text.format(start=start, zone=ws.time_zone) for text in MESSAGES[job.kind])
    messages = [delivery.Message(f"campaign:{campaign.id}:{job.kind.value}:{r.user_id}", r.user_id, title, body)
                for r in campaign.recipients]
    delivery.deliver(ws.id, SOURCE, job.id, messages, local_time=now.astimezone(ws.zone).time(),
                     dry_run=campaign.dry_run, deadline=job.deadline_at, rotate=rotate, heartbeat=_beat(job))


def _ready_check(campaign: Campaign, job: CampaignJob, now: datetime) -> None:
    """Nudge whoever said they would come but is not in voice; a summary to the summary channel."""
    ws = gamenight.workspace(campaign.workspace_id)
    expected = set(db.session.scalars(select(Availability.user_id).join(
        CampaignRecipient, (CampaignRecipient.user_id == Availability.user_id)
        & (CampaignRecipient.campaign_id == campaign.id)).where(
        Availability.workspace_id == ws.id, Availability.day == campaign.local_day,
        Availability.status.in_([Status.available, Status.looking]))))
    seen = presence.present_members(ws.id, now)
    missing = sorted(expected - seen.in_voice)
    messages = [delivery.Message(f"campaign:{campaign.id}:ready_check:{user_id}", user_id, "Ready check",
                                 "The game night has started and we are gathering in voice. Are you coming?")
                for user_id in missing]
    delivery.deliver(ws.id, SOURCE, job.id, messages, local_time=now.astimezone(ws.zone).time(),
                     dry_run=campaign.dry_run, deadline=job.deadline_at, heartbeat=_beat(job))
    nudged = db.session.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.source_type == SOURCE, Delivery.source_id == job.id, Delivery.user_id.in_(missing or [0]),
        Delivery.status.in_([DeliveryStatus.sent, DeliveryStatus.dry_run]))) or 0
    summary = summary_text(ws.id, expected=expected, missing=missing, nudged=nudged, seen=seen)
    game = gamenight.settings(ws.id)
    delivery.deliver_to(ws.id, SOURCE, job.id, delivery.Message(f"campaign:{campaign.id}:ready_check:summary", None,
                                                                "Ready-check", summary),
                        game.summary_target_sealed, dry_run=campaign.dry_run)


def summary_text(workspace_id: int, *, expected: set[int], missing: Sequence[int], nudged: int,
                 seen: presence.Presence) -> str:
    names = _names(workspace_id, missing)
    lines = [f"Ready-check: {len(expected) - len(missing)} of {len(expected)} expected players are in voice.",
             f"Missing: {', '.join(names) if names else 'nobody'}.",
             f"Direct messages sent: {nudged}."]
    in_game_only = sorted(seen.in_game - seen.in_voice)
    if seen.has_game_server and in_game_only:
        lines.append(f"In the game server but not in voice: {', '.join(_names(workspace_id, in_game_only))}.")
    return "\n".join(lines)


def _names(workspace_id: int, user_ids: Sequence[int]) -> list[str]:
    return sorted(gamenight.player_names(workspace_id, user_ids).values())


def _finish(campaign: Campaign, job: CampaignJob) -> str:
    """Done when nothing of the job is held by another run or waits for a retry; else it runs again later.
    Of a cancelled campaign the job ends `cancelled` once nothing is held, and no retry is made."""
    held = delivery.wait_for_others(SOURCE, job.id)
    now = utcnow()
    if held:  # another run is on them, or a crash left them: look again when their lease ends
        _schedule(job, min(held) + delivery.lease() + timedelta(seconds=1))
        return "waiting"
    db.session.refresh(campaign)
    cancelled = campaign.status is CampaignStatus.cancelled
    attempts = delivery.waiting(SOURCE, job.id)
    if attempts and not cancelled and now + delivery.backoff(max(attempts)) <= job.deadline_at:
        _schedule(job, now + delivery.backoff(max(attempts)))
        return "retrying"
    # Retries the deadline (or the cancel) leaves no room for become failed, crashed claims unknown.
    delivery.settle_source(SOURCE, job.id, now, reason="the campaign was cancelled before another attempt"
                           if cancelled else None)
    end = JobStatus.cancelled if cancelled else JobStatus.done
    # One finisher at a time per campaign (the start call and the ready-check end together on two workers):
    # each rolls the campaign up from what the other committed, never from a snapshot taken before it.
    db.session.refresh(campaign, with_for_update=True)
    finished = db.session.execute(update(CampaignJob).where(CampaignJob.id == job.id,
                                                            CampaignJob.status.in_([JobStatus.scheduled,
                                                                                    JobStatus.running]))
                                  .values(status=end, finished_at=now)).rowcount
    if not finished:  # another run finished it meanwhile
        db.session.commit()
        return db.session.get(CampaignJob, job.id).status.value
    db.session.refresh(job)
    job.counts = outcome_counts(campaign).get(job.kind.value, {})
    if cancelled:
        db.session.commit()
        return end.value
    audit.record(None, f"campaign.{job.kind.value}_done", "campaign", campaign.id, {"counts": job.counts},
                 workspace_id=campaign.workspace_id, actor_label="worker")
    db.session.flush()
    _roll_up(campaign)
    db.session.commit()
    return "done"


def _roll_up(campaign: Campaign) -> None:
    """scheduled → sending → sent | partial | failed (cancelled stays cancelled)."""
    db.session.refresh(campaign)
    if campaign.status is CampaignStatus.cancelled:
        return
    statuses = set(db.session.scalars(select(CampaignJob.status).where(CampaignJob.campaign_id == campaign.id)))
    if statuses & {JobStatus.scheduled, JobStatus.running}:
        campaign.status = CampaignStatus.sending
        return
    totals: Counter[str] = Counter()
    for bucket in outcome_counts(campaign).values():
        totals.update(bucket)
    failed = totals[DeliveryStatus.failed.value] + totals[DeliveryStatus.unknown.value]
    delivered = totals[DeliveryStatus.sent.value] + totals[DeliveryStatus.dry_run.value]
    campaign.status = (CampaignStatus.failed if failed and not delivered
                       else CampaignStatus.partial if failed else CampaignStatus.sent)


@outbox.reconciler
def reconcile(now: datetime | None = None) -> dict[str, int]:
    """Run campaign jobs that are due and not done, whose run Redis does not hold (it may have lost it)
    or whose running worker went silent (SIGKILL, lost machine)."""
    now = now or utcnow()
    silent = now - delivery.lease()
    due = db.session.scalars(select(CampaignJob).where(
        CampaignJob.status.in_([JobStatus.scheduled, JobStatus.running]),
        func.coalesce(CampaignJob.next_run_at, CampaignJob.run_at) <= now)
        .order_by(CampaignJob.run_at).limit(500)).all()
    connection = courier.connection
    lost = [job for job in due
            if not (job.status is JobStatus.running and job.heartbeat_at and job.heartbeat_at > silent)
            and not outbox.job_is_alive(connection, job.rq_job_id or "", running=False)]
    enqueued = sum(_schedule(job) for job in lost)
    return {"campaign_jobs_due": len(due), "campaign_jobs_enqueued": enqueued}
