"""Promote tonight: a campaign snapshots the opted-in members of its plan and schedules three jobs — the
reminder at start − lead, the start call at start, the ready-check the workspace's delay after it — in the
workspace's time zone. Here: creating a campaign (idempotent, one per promoter per local day), reading and
cancelling it, and how often its page looks again.
What it would be is `campaign_plans`, how its jobs run is `campaign_runs`, what it did is `campaign_report`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from webapp.accounts import services as accounts
from webapp.accounts.models import User
from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.errors import Conflict, NotFound
from webapp.extensions import courier, db, utcnow
from webapp.gamenight import campaign_links
from webapp.gamenight.campaign_plans import (
    DEADLINES,
    PROMOTE_NIGHT,
    CampaignChoices,
    already_promoted,
    existing_campaign,
    plan,
    rate_limit,
)
from webapp.gamenight.campaign_report import answer_counts, channel_counts, outcome_counts, recipient_counts
from webapp.gamenight.campaign_runs import schedule, schedule_after_commit
from webapp.gamenight.models import Campaign, CampaignJob, CampaignRecipient, CampaignStatus, JobKind, JobStatus

log = logging.getLogger(__name__)
def create(actor: Actor, choices: CampaignChoices | None = None, *, idempotency_key: str | None = None,
           now: datetime | None = None) -> tuple[Campaign, bool]:
    """A campaign with its recipients and three scheduled jobs; (campaign, created). The same
    Idempotency-Key gives back the same campaign; a second campaign by the same promoter the same
    local day is a 409 (the unique constraint decides a race)."""
    actor.require(*PROMOTE_NIGHT)
    choices = choices or CampaignChoices()
    key = (idempotency_key or "").strip()[:100] or None
    if key and (existing := _by_key(actor, key)):
        return existing, False
    rate_limit(actor, "create")
    p = plan(actor, choices, now=now)
    if p.existing is not None:
        if key and (same := _by_key(actor, key)):  # a request with the same key committed since our first read
            return same, False
        raise already_promoted(p.local_day, p.existing)
    dry_run = choices.dry_run
    campaign = Campaign(workspace_id=actor.workspace_id, promoter_id=actor.user_id, local_day=p.local_day,
                        start_at=p.start_at, lead_minutes=p.lead_minutes, statuses=[s.value for s in p.statuses],
                        dry_run=dry_run, status=CampaignStatus.scheduled, idempotency_key=key,
                        min_players=choices.min_players)
    campaign.recipients = [CampaignRecipient(user_id=u, status=s) for u, s in p.recipients]
    campaign.jobs = [CampaignJob(kind=kind, run_at=at, deadline_at=at + DEADLINES[kind]) for kind, at in p.runs]
    db.session.add(campaign)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        if key and (same := _by_key(actor, key)):
            return same, False
        raise already_promoted(p.local_day, existing_campaign(actor, p.local_day)) from None
    for job in campaign.jobs:
        schedule_after_commit(job, job.run_at)
    audit.record(actor, "campaign.created", "campaign", campaign.id,
                 {"date": p.local_day.isoformat(), "start_at": p.start_at.isoformat(), "recipients": len(p.recipients),
                  "statuses": campaign.statuses, "dry_run": dry_run, "min_players": campaign.min_players})
    db.session.commit()
    return campaign, True


def _by_key(actor: Actor, key: str) -> Campaign | None:
    return db.session.scalar(select(Campaign).where(Campaign.workspace_id == actor.workspace_id,
                                                    Campaign.idempotency_key == key))


def get(actor: Actor, campaign_id: int) -> Campaign:
    campaign = db.session.scalar(select(Campaign).where(Campaign.id == campaign_id,
                                                        Campaign.workspace_id == actor.workspace_id))
    if campaign is None:
        raise NotFound("No such campaign in this workspace.")
    return campaign


def recent(actor: Actor, limit: int = 20) -> Sequence[Campaign]:
    return db.session.scalars(select(Campaign).where(Campaign.workspace_id == actor.workspace_id)
                              .order_by(Campaign.start_at.desc(), Campaign.id.desc()).limit(limit)).all()


def cancellable(actor: Actor, campaign_id: int) -> Campaign:
    """The campaign, if `actor` may cancel it now (a promoter; scheduled or sending): what the confirm dialog
    shows and `cancel` acts on."""
    actor.require(*PROMOTE_NIGHT)
    campaign = get(actor, campaign_id)
    if not is_active(campaign):
        raise Conflict(f"The campaign is {campaign.status.value}; only a scheduled or sending one can be cancelled.")
    return campaign


def cancel(actor: Actor, campaign_id: int) -> Campaign:
    """Pending jobs are cancelled (their rows first, so a job that fires anyway does nothing). A job already
    running gets one more run at once, which sends nothing: it ends the job (`cancelled`) once no run holds a
    message, what waited for a retry becomes `failed`, and a claim a crash left becomes `unknown`."""
    campaign = cancellable(actor, campaign_id)
    cancelled = _stop_jobs(campaign)
    audit.record(actor, "campaign.cancelled", "campaign", campaign.id, {"jobs_cancelled": cancelled})
    db.session.commit()
    _after_stop(campaign)
    return campaign


def _stop_jobs(campaign: Campaign) -> int:
    """The campaign cancelled and its pending jobs with it (rows first); how many jobs were pending."""
    cancelled = db.session.execute(
        update(CampaignJob).where(CampaignJob.campaign_id == campaign.id, CampaignJob.status == JobStatus.scheduled)
        .values(status=JobStatus.cancelled, finished_at=utcnow())).rowcount
    campaign.status, campaign.cancelled_at = CampaignStatus.cancelled, utcnow()
    return cancelled


def _after_stop(campaign: Campaign) -> None:
    _drop_from_queue(campaign)
    for job in [j for j in campaign.jobs if j.status is JobStatus.running and j.kind is not JobKind.called_off]:
        schedule(job)  # also supersedes a retry scheduled for later


# -- calling a night off (the quorum warning's link) ---------------------------------------------


def call_off_for_link(token: str) -> tuple[Actor, Campaign]:
    """The promoter and campaign of a "Call it off" link: 404 for a bad link or one whose campaign changed hands,
    403 when the promoter's role is no longer enough."""
    campaign_id, promoter_id = campaign_links.read_call_off_token(token)
    campaign = db.session.get(Campaign, campaign_id)
    promoter = db.session.get(User, promoter_id)
    if campaign is None or promoter is None or campaign.promoter_id != promoter_id:
        raise NotFound("This call-off link is not valid any more.", code="link_invalid")
    actor = accounts.actor_for_user(promoter, campaign.workspace_id)
    actor.require(*PROMOTE_NIGHT)
    return dataclasses.replace(actor, label=f"{actor.label} (call-off link)"), campaign


def call_off(actor: Actor, campaign_id: int, now: datetime | None = None) -> tuple[Campaign, bool]:
    """Call the night off: the campaign is cancelled (the start call and the ready-check do not run) and a
    `called_off` job tells every recipient once — but whoever answered "can't". (campaign, called off now);
    calling it off again changes nothing; 409 when it is over or was cancelled quietly."""
    actor.require(*PROMOTE_NIGHT)
    campaign = db.session.scalar(select(Campaign).where(Campaign.id == campaign_id,
                                                        Campaign.workspace_id == actor.workspace_id)
                                 .with_for_update())
    if campaign is None:
        raise NotFound("No such campaign in this workspace.")
    if campaign.called_off_at is not None:
        return campaign, False
    if not is_active(campaign):
        raise Conflict(f"The campaign is {campaign.status.value}; only a scheduled or sending one can be called off.",
                       code="not_active")
    now = now or utcnow()
    cancelled = _stop_jobs(campaign)
    campaign.called_off_at = now
    told = CampaignJob(kind=JobKind.called_off, run_at=now, deadline_at=now + DEADLINES[JobKind.called_off])
    campaign.jobs.append(told)
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent call-off made the job: that one stands
        db.session.rollback()
        return get(actor, campaign_id), False
    schedule_after_commit(told, now)
    audit.record(actor, "campaign.called_off", "campaign", campaign.id,
                 {"jobs_cancelled": cancelled, "recipients": len(campaign.recipients)})
    db.session.commit()
    _after_stop(campaign)
    return campaign, True


def _drop_from_queue(campaign: Campaign) -> None:
    """Best effort: the rows are cancelled already, so a run that fires anyway does nothing."""
    for job in campaign.jobs:
        if job.status is JobStatus.cancelled and job.rq_job_id:
            try:
                Job.fetch(job.rq_job_id, connection=courier.connection).cancel()
            except (NoSuchJobError, redis.RedisError) as exc:
                log.info("campaign job %s was not on the queue to cancel: %s", job.id, type(exc).__name__)
def is_active(campaign: Campaign) -> bool:
    return campaign.status.active


POLL_SOON = timedelta(minutes=10)  # a job due within this is about to change the page
POLL_FAST, POLL_SLOW = 2, 60  # seconds


def poll_seconds(campaign: Campaign, now: datetime | None = None) -> int | None:
    """How often the campaign page asks for its timeline again: every 2 s while a job runs or is due within
    10 minutes, every minute while the campaign waits for a later one (so the page speeds up in time), never
    once it is over (a cancelled campaign still polls while a job runs: a cancelled run ending, the call-off's
    messages going out)."""
    now = now or utcnow()
    if not is_active(campaign):
        working = any(job.status is JobStatus.running
                      or (job.kind is JobKind.called_off and job.status is JobStatus.scheduled) for job in campaign.jobs)
        return POLL_FAST if working else None
    # A ready-check waiting for its late ones is `scheduled` for its next run (`next_run_at`); between the
    # reminder and the ready-check the answers come in, so the page stays live then too.
    answering = any(job.kind is JobKind.reminder and job.status is JobStatus.done for job in campaign.jobs)
    busy = answering or any(job.status is JobStatus.running
                            or (job.status is JobStatus.scheduled
                                and (job.next_run_at or job.run_at) - now <= POLL_SOON) for job in campaign.jobs)
    return POLL_FAST if busy else POLL_SLOW


def as_json(campaign: Campaign) -> dict[str, Any]:
    counts = outcome_counts(campaign)
    return {"id": campaign.id, "status": campaign.status.value, "date": campaign.local_day.isoformat(),
            "start_at": campaign.start_at.isoformat(), "dry_run": campaign.dry_run,
            "recipient_count": recipient_counts([campaign.id])[campaign.id], "statuses": campaign.statuses,
            "jobs": [{"type": j.kind.value, "run_at": j.run_at.isoformat(), "status": j.status.value,
                      "counts": counts.get(j.kind.value, {})} for j in campaign.jobs],
            "channels": channel_counts(campaign), "min_players": campaign.min_players,
            "called_off_at": campaign.called_off_at.isoformat() if campaign.called_off_at else None,
            "answers": answer_counts(campaign.id)}
