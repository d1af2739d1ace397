"""What the desk shows a member, read in a few small queries: what waits for them (reviews they may decide,
scheduled promotions, failed jobs for admins), tonight's game night, the latest promotions of all three flows,
and for every member their own availability and next game night. Read only: nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select

from webapp.accounts.context import Actor
from webapp.accounts.models import Role
from webapp.extensions import db
from webapp.gamenight import availability, night_settings
from webapp.gamenight.models import Campaign, CampaignStatus, NightStatus, ScheduledNight
from webapp.governance import schedules
from webapp.governance import services as governance
from webapp.governance.models import PromotionRequest, ScheduledPromotion, ScheduleState
from webapp.outbox.models import EffectStatus, OutboxEffect
from webapp.processes.models import Environment, Process, ProcessVersion
from webapp.worlds.models import BuildProject

LATEST = 8  # promotions shown, newest first, across the three flows
SHOWN = 5  # reviews and schedules listed (the count says how many more)


@dataclass(frozen=True)
class Promotion:
    """One promotion in the "latest" list: which flow, what went where, who, when, and the page it links to."""

    flow: str  # "process" | "world" | "game night"
    title: str
    what: str
    who: str | None
    at: datetime
    endpoint: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Night:
    """A game night on the desk: a promoted campaign, or a weekly schedule's night that has none yet."""

    day: date
    start_at: datetime
    state: str  # the campaign's status, or "tentative" for a schedule's pending night
    campaign_id: int | None
    ready: int  # members available or looking that day


@dataclass
class Desk:
    reviews: list[PromotionRequest] = field(default_factory=list)  # open and approved, yours to review first
    reviews_total: int = 0
    reviewable: set[int] = field(default_factory=set)  # the ids among them `actor` may approve or reject now
    schedules: list[ScheduledPromotion] = field(default_factory=list)
    schedules_total: int = 0
    schedule_paths: dict[int, str] = field(default_factory=dict)  # the page each is listed on
    failed_jobs: int | None = None  # admins only
    tonight: Night | None = None
    next_night: Night | None = None  # after today
    latest: list[Promotion] = field(default_factory=list)
    my_days: list[availability.Day] = field(default_factory=list)  # today and the next days, with my status
    linked: bool = False  # has a player profile with a confirmed contact: can set a status
    people: dict[int, str] = field(default_factory=dict)
    today: date | None = None


def desk(actor: Actor, now: datetime | None = None) -> Desk:
    ws = night_settings.workspace(actor.workspace_id)
    today = night_settings.local_today(ws, now)
    view = availability.overview(ws, actor.user_id, member=True, now=now)
    found = Desk(today=today, linked=view.linked, my_days=[view.today, view.tomorrow, *view.upcoming])
    if actor.can(Role.promoter):
        waiting = governance.waiting(actor)
        found.reviewable = {r.id for r in waiting if r.state.value == "open" and governance.may_review(actor, r) is None}
        waiting.sort(key=lambda r: r.id not in found.reviewable)  # stable: oldest first within each group
        found.reviews, found.reviews_total = waiting[:SHOWN], len(waiting)
    pending = schedules.list_schedules(actor, state=ScheduleState.scheduled)
    found.schedules, found.schedules_total = sorted(pending, key=lambda s: s.run_at)[:SHOWN], len(pending)
    found.schedule_paths = {s.id: schedules.page_path(s) for s in found.schedules}
    if actor.can(Role.admin):
        found.failed_jobs = db.session.scalar(select(func.count()).select_from(OutboxEffect).where(
            OutboxEffect.workspace_id == actor.workspace_id, OutboxEffect.status == EffectStatus.failed)) or 0
    found.tonight, found.next_night = _nights(ws.id, today)
    found.latest = latest(actor.workspace_id)
    found.people = governance.names([u for r in found.reviews for u in (r.requested_by_id,)]
                                    + [s.created_by_id for s in found.schedules])
    return found


def _nights(workspace_id: int, today: date) -> tuple[Night | None, Night | None]:
    """Tonight's game night and the next one after today: a campaign (not cancelled), else a weekly schedule's
    pending night."""
    campaigns = list(db.session.scalars(
        select(Campaign).where(Campaign.workspace_id == workspace_id, Campaign.local_day >= today,
                               Campaign.status != CampaignStatus.cancelled)
        .order_by(Campaign.local_day, Campaign.start_at).limit(3)))
    tentative = list(db.session.scalars(
        select(ScheduledNight).where(ScheduledNight.workspace_id == workspace_id, ScheduledNight.local_day >= today,
                                     ScheduledNight.status == NightStatus.pending)
        .order_by(ScheduledNight.local_day, ScheduledNight.start_at).limit(3)))
    nights = {}
    for n in tentative:
        nights.setdefault(n.local_day, (n.start_at, "tentative", None))
    for c in campaigns:  # a campaign wins over its day's tentative night
        if c.local_day not in nights or nights[c.local_day][2] is None:
            nights[c.local_day] = (c.start_at, c.status.value, c.id)
    days = sorted(nights)
    ready = {d: availability.ready(workspace_id, d) for d in days[:2]}

    def night(day: date) -> Night:
        start_at, state, campaign_id = nights[day]
        return Night(day=day, start_at=start_at, state=state, campaign_id=campaign_id, ready=ready.get(day, 0))

    tonight = night(today) if today in nights else None
    later = [d for d in days if d > today]
    return tonight, night(later[0]) if later else None


def latest(workspace_id: int, limit: int = LATEST) -> list[Promotion]:
    """The newest promotions of the three flows: process versions published to production, world areas
    promoted into the live world, game nights promoted (campaigns), merged newest first."""
    versions = db.session.execute(
        select(ProcessVersion, Process.name, Process.slug).join(Process, Process.id == ProcessVersion.process_id)
        .where(Process.workspace_id == workspace_id, ProcessVersion.environment == Environment.production,
               ProcessVersion.published_at.is_not(None))
        .order_by(ProcessVersion.published_at.desc()).limit(limit)).all()
    copied = dict(db.session.execute(select(ProcessVersion.id, ProcessVersion.number).where(
        ProcessVersion.id.in_([v.promoted_from_id for v, _, _ in versions if v.promoted_from_id]))).all())
    areas = db.session.scalars(
        select(BuildProject).where(BuildProject.workspace_id == workspace_id, BuildProject.promoted_at.is_not(None))
        .order_by(BuildProject.promoted_at.desc()).limit(limit)).all()
    nights = db.session.scalars(
        select(Campaign).where(Campaign.workspace_id == workspace_id)
        .order_by(Campaign.created_at.desc()).limit(limit)).all()
    people = governance.names([v.promoted_by_id for v, _, _ in versions] + [a.promoted_by_id for a in areas]
                              + [c.promoter_id for c in nights])
    found = [Promotion("process", name, f"v{copied[v.promoted_from_id]} to production as v{v.number}"
                       if v.promoted_from_id in copied else f"v{v.number} to production",
                       people.get(v.promoted_by_id or 0), v.published_at, "processes.detail", {"slug": slug})
             for v, name, slug in versions]
    found += [Promotion("world", a.name, "into the live world" if a.status.value == "live"
                        else "into the live world (since returned to the sandbox)",
                        people.get(a.promoted_by_id or 0), a.promoted_at, "worlds.detail", {"project_id": a.id})
              for a in areas if a.promoted_at is not None]
    found += [Promotion("game night", f"Game night {c.local_day.isoformat()}", _night_words(c),
                        people.get(c.promoter_id or 0), c.created_at, "gamenight_members.campaign",
                        {"campaign_id": c.id}) for c in nights]
    return sorted(found, key=lambda p: p.at, reverse=True)[:limit]


def _night_words(campaign: Campaign) -> str:
    if campaign.status is CampaignStatus.cancelled:
        return "called off" if campaign.called_off_at else "cancelled"
    return "dry run" if campaign.dry_run else "reminders " + {"scheduled": "scheduled", "sending": "sending",
                                                               "sent": "sent", "partial": "partly sent",
                                                               "failed": "failed"}[campaign.status.value]
