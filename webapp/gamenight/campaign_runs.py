"""Running a campaign: its three jobs on RQ (the `campaign_jobs` rows are the truth; RQ carries only their
ids, `enqueue_at` in aware UTC), each recipient's message through the delivery ledger, the ready-check
and its summary, the roll-up of the campaign's status, and the reconciler that runs what is due and lost.

Every message passes the ledger (`notify.delivery.deliver`), so a job run twice, two runs at once, or a
run after a restart send each message once.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update

from webapp.audit import services as audit
from webapp.extensions import courier, db, utcnow
from webapp.gamenight import campaign_copy, campaign_links, night_settings, players, presence
from webapp.gamenight.campaign_report import SOURCE, outcome_counts, quorum_key
from webapp.gamenight.models import (
    Answer,
    Availability,
    Campaign,
    CampaignAnswer,
    CampaignJob,
    CampaignRecipient,
    CampaignStatus,
    JobKind,
    JobStatus,
    Status,
)
from webapp.notify import delivery
from webapp.notify.models import Delivery, DeliveryStatus
from webapp.outbox import services as outbox

log = logging.getLogger(__name__)
JOB_FUNCTION = "jobs.gamenight.run_campaign_job"
EARLY = timedelta(seconds=30)  # a run this much before its time is put back on the schedule
LATE_EARLY = timedelta(seconds=2)  # a late member's nudge goes with a run this much before its time (RQ's seconds)
FANOUT_SHARED = 200  # from this many recipients on, a reminder or start call is shared between runs
def _next_run(job: CampaignJob, at: datetime | None) -> str:
    """The row remembers the RQ job id of its next run and its time, so the reconciler knows what to look for."""
    job.next_run_at = at
    job.rq_job_id = f"campaign-job-{job.id}-r{job.runs}"
    return job.rq_job_id


def schedule_after_commit(job: CampaignJob, at: datetime) -> None:
    """A new campaign's job goes on RQ at `at` once the campaign is committed (nothing if it rolls back)."""
    outbox.enqueue_after_commit(JOB_FUNCTION, job.id, job_id=_next_run(job, at), at=at)


def schedule(job: CampaignJob, at: datetime | None = None) -> bool:
    """Put a run of `job` on RQ (at `at`, or now); a Redis failure is logged and the reconciler retries."""
    rq_id, job_id = _next_run(job, at), job.id
    db.session.commit()
    return outbox.enqueue(JOB_FUNCTION, job_id, job_id=rq_id, at=at)


def _share(job: CampaignJob, runs: int) -> None:
    """A large fan-out is shared: more runs of the same job walk the list from other starting points (after a
    Redis failure, one run does it all)."""
    for share in range(1, runs):
        if not outbox.enqueue(JOB_FUNCTION, job.id, share, job_id=f"campaign-job-{job.id}-share{share}"):
            break


def _called_off(campaign_id: int) -> bool:
    """Whether the campaign was cancelled meanwhile (read from the database, not the session's copy)."""
    return db.session.scalar(select(Campaign.status).where(Campaign.id == campaign_id)) is CampaignStatus.cancelled


def _beat(job: CampaignJob) -> Any:
    """A heartbeat for `delivery.deliver`: at most once a second it marks the job alive and looks whether the
    campaign was cancelled meanwhile — then the run stops claiming (a cancel stops a fan-out under way). The
    called-off messages are what a cancel sends: they go on."""
    job_id, campaign_id, stops = job.id, job.campaign_id, job.kind is not JobKind.called_off
    last: list[datetime] = []
    called_off: list[bool] = []

    def beat(now: datetime) -> bool:
        if not called_off and (not last or now - last[0] > timedelta(seconds=1)):
            last[:] = [now]
            db.session.execute(update(CampaignJob).where(CampaignJob.id == job_id).values(heartbeat_at=now))
            if stops and _called_off(campaign_id):
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
    if _stopped(campaign, job):  # nothing more is sent; what a crash or a retry left settles
        return _finish(campaign, job)
    now = now or utcnow()
    if now < job.run_at - EARLY:  # never before its time, whoever enqueued it
        schedule(job, job.run_at)
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
        if job.kind is JobKind.reminder and share == 0:
            _quorum(campaign, job, now)
    return _finish(campaign, job)


def _stopped(campaign: Campaign, job: CampaignJob) -> bool:
    """Cancelled: the campaign's jobs send nothing more — but for the called-off messages the cancel made."""
    return campaign.status is CampaignStatus.cancelled and job.kind is not JobKind.called_off


def _copy(campaign: Campaign, job: CampaignJob, start: str, zone: str, now: datetime) -> Any:
    """(title, body) of `job`'s message to a recipient: the reminder carries each one's own answer link."""
    if job.kind is JobKind.reminder:
        return lambda user_id: campaign_copy.reminder(start, zone, campaign.start_at - now,
                                                      campaign_links.answer_url(campaign.id, user_id))
    words = campaign_copy.called_off(start) if job.kind is JobKind.called_off else campaign_copy.start_call(start)
    return lambda _user_id: words


def _announce(campaign: Campaign, job: CampaignJob, now: datetime, rotate: int = 0) -> None:
    """The reminder, the start call or the called-off message to every recipient (the ledger skips whoever has the
    key already: sent, or withdrawn by their "can't"). Whoever answered "can't" is not told it is called off."""
    ws = night_settings.workspace(campaign.workspace_id)
    copy = _copy(campaign, job, campaign_copy.local_clock(campaign.start_at, ws.zone), ws.time_zone, now)
    out = _answered(campaign.id, Answer.cant) if job.kind is JobKind.called_off else {}
    messages = [delivery.Message(f"campaign:{campaign.id}:{job.kind.value}:{r.user_id}", r.user_id, *copy(r.user_id))
                for r in campaign.recipients if r.user_id not in out]
    delivery.deliver(ws.id, SOURCE, job.id, messages, local_time=now.astimezone(ws.zone).time(),
                     dry_run=campaign.dry_run, deadline=job.deadline_at, rotate=rotate, heartbeat=_beat(job))


def _answered(campaign_id: int, answer: Answer) -> dict[int, int | None]:
    """Recipients who answered `answer`, with their late minutes."""
    return dict(db.session.execute(select(CampaignAnswer.user_id, CampaignAnswer.late_minutes).where(
        CampaignAnswer.campaign_id == campaign_id, CampaignAnswer.answer == answer)).all())


def still_coming(campaign: Campaign) -> int:
    """Recipients still coming: not answered "can't", and still with a status for that day other than not
    available (one who cleared their status since is not counted: the ready-check does not expect them either)."""
    return db.session.scalar(
        select(func.count()).select_from(CampaignRecipient)
        .join(Availability, (Availability.user_id == CampaignRecipient.user_id)
              & (Availability.workspace_id == campaign.workspace_id) & (Availability.day == campaign.local_day))
        .outerjoin(CampaignAnswer, (CampaignAnswer.campaign_id == CampaignRecipient.campaign_id)
                   & (CampaignAnswer.user_id == CampaignRecipient.user_id))
        .where(CampaignRecipient.campaign_id == campaign.id, Availability.status != Status.not_available,
               (CampaignAnswer.answer.is_(None)) | (CampaignAnswer.answer != Answer.cant))) or 0


def _quorum(campaign: Campaign, job: CampaignJob, now: datetime) -> None:
    """At the reminder: fewer players still coming than the campaign's minimum, and its promoter is told once,
    through their own contacts (opted in or not: it is their night), with the one-tap "Call it off" link."""
    if campaign.min_players is None or campaign.promoter_id is None or _called_off(campaign.id):
        return
    coming = still_coming(campaign)
    if coming >= campaign.min_players:
        return
    ws = night_settings.workspace(campaign.workspace_id)
    title, body = campaign_copy.quorum(campaign_copy.local_clock(campaign.start_at, ws.zone), coming,
                                       campaign.min_players, campaign_links.call_off_url(campaign.id,
                                                                                         campaign.promoter_id))
    message = delivery.Message(quorum_key(campaign), campaign.promoter_id, title, body)
    delivery.deliver(ws.id, SOURCE, job.id, [message], local_time=now.astimezone(ws.zone).time(),
                     dry_run=campaign.dry_run, deadline=job.deadline_at, require_opt_in=False)


def _ready_check(campaign: Campaign, job: CampaignJob, now: datetime) -> None:
    """Nudge whoever said they would come but is not in voice; a summary to the summary channel."""
    ws = night_settings.workspace(campaign.workspace_id)
    expected = set(db.session.scalars(select(Availability.user_id).join(
        CampaignRecipient, (CampaignRecipient.user_id == Availability.user_id)
        & (CampaignRecipient.campaign_id == campaign.id)).where(
        Availability.workspace_id == ws.id, Availability.day == campaign.local_day,
        Availability.status.in_([Status.available, Status.looking]))))
    seen = presence.present_members(ws.id, now, since=campaign.start_at)  # who joined since the start call
    late = _answered(campaign.id, Answer.late)
    everyone_missing = sorted(expected - seen.in_voice)
    # Who said "late N" is nudged N minutes after the ready-check: a later run of this job (see `_finish`), which RQ
    # starts at that time (give or take its whole seconds). Everyone else is due with the job, whenever it runs.
    missing = [u for u in everyone_missing if u not in late or _late_due(job, late[u]) <= now + LATE_EARLY]
    title, body = campaign_copy.nudge(campaign_copy.local_clock(campaign.start_at, ws.zone), now - campaign.start_at)
    messages = [delivery.Message(f"campaign:{campaign.id}:ready_check:{user_id}", user_id, title, body)
                for user_id in missing]
    delivery.deliver(ws.id, SOURCE, job.id, messages, local_time=now.astimezone(ws.zone).time(),
                     dry_run=campaign.dry_run, deadline=job.deadline_at, heartbeat=_beat(job))
    nudged = db.session.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.source_type == SOURCE, Delivery.source_id == job.id, Delivery.user_id.in_(missing or [0]),
        Delivery.status.in_([DeliveryStatus.sent, DeliveryStatus.dry_run]))) or 0
    if _called_off(campaign.id):  # cancelled while the nudges went out: no summary either
        return
    in_game_only = sorted(seen.in_game - seen.in_voice) if seen.has_game_server else []
    names = players.player_names(ws.id, [*late, *_answered(campaign.id, Answer.cant)])
    title, body = campaign_copy.summary(
        expected=len(expected), joined=len(expected) - len(everyone_missing), since=now - campaign.start_at,
        missing=_names(ws.id, everyone_missing), nudged=nudged, in_game_only=_names(ws.id, in_game_only),
        late=sorted((names.get(u, "member"), n or 0) for u, n in late.items()),
        cant=sorted(names.get(u, "member") for u in _answered(campaign.id, Answer.cant)))
    game = night_settings.settings(ws.id)
    delivery.deliver_to(ws.id, SOURCE, job.id, delivery.Message(f"campaign:{campaign.id}:ready_check:summary", None,
                                                                title, body),
                        game.summary_target_sealed, dry_run=campaign.dry_run)


def _names(workspace_id: int, user_ids: Sequence[int]) -> list[str]:
    return sorted(players.player_names(workspace_id, user_ids).values())


def _finish(campaign: Campaign, job: CampaignJob) -> str:
    """Done when nothing of the job is held by another run or waits for a retry; else it runs again later.
    Of a cancelled campaign the job ends `cancelled` once nothing is held, and no retry is made."""
    held = delivery.wait_for_others(SOURCE, job.id)
    now = utcnow()
    if held:  # another run is on them, or a crash left them: look again when their lease ends
        schedule(job, min(held) + delivery.lease() + timedelta(seconds=1))
        return "waiting"
    db.session.refresh(campaign)
    cancelled = _stopped(campaign, job)
    attempts = delivery.waiting(SOURCE, job.id)
    if attempts and not cancelled and now + delivery.backoff(max(attempts)) <= job.deadline_at:
        schedule(job, now + delivery.backoff(max(attempts)))
        return "retrying"
    later = [] if cancelled else _late_nudges(job, now)
    if later and later[0] <= job.deadline_at:  # the ready-check waits for its late ones, `scheduled` meanwhile
        db.session.execute(update(CampaignJob).where(CampaignJob.id == job.id, CampaignJob.status == JobStatus.running)
                           .values(status=JobStatus.scheduled))
        schedule(job, later[0])
        return "late"
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


def _late_nudges(job: CampaignJob, now: datetime) -> list[datetime]:
    """When the ready-check's late ones are due, soonest first: members who answered "late N", not nudged yet
    (no ledger row), whose N minutes after the ready-check are still ahead."""
    if job.kind is not JobKind.ready_check:
        return []
    late = _answered(job.campaign_id, Answer.late)
    told = set(db.session.scalars(select(Delivery.user_id).where(
        Delivery.source_type == SOURCE, Delivery.source_id == job.id, Delivery.user_id.in_(list(late) or [0]))))
    return sorted(at for user_id, n in late.items() if user_id not in told and (at := _late_due(job, n)) > now + LATE_EARLY)


def _late_due(job: CampaignJob, minutes: int | None) -> datetime:
    """When a late member's ready-check nudge is due: their minutes after the ready-check's time."""
    return job.run_at + timedelta(minutes=minutes or 0)


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
    # A row still `scheduled` whose RQ job is started is being picked up this very moment (the row turns
    # `running` as the run begins): not lost. A `running` row is judged by its heartbeat alone.
    lost = [job for job in due
            if not (job.status is JobStatus.running and job.heartbeat_at and job.heartbeat_at > silent)
            and not outbox.job_is_alive(connection, job.rq_job_id or "", running=job.status is JobStatus.scheduled)]
    enqueued = sum(schedule(job) for job in lost)
    return {"campaign_jobs_due": len(due), "campaign_jobs_enqueued": enqueued}
