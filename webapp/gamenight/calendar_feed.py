"""A member's private calendar feed: an iCalendar URL with the game nights they are invited to, for their
calendar app to subscribe to.

The URL carries a random token, like a personal access token: only its SHA-256 is stored, the URL is shown
once, a new one revokes the old, and an unknown or revoked token is a 404. The feed is built with the
`icalendar` library: each campaign the member received (or promoted) is one VEVENT in the workspace's time
zone (TZID and a VTIMEZONE), a cancelled night stays as `STATUS:CANCELLED` with a higher SEQUENCE, and a night
the member answered "can't" is theirs as free time (`TRANSP:TRANSPARENT`, "(you can't come)"). A weekly
schedule's nights not created yet are `STATUS:TENTATIVE` under the UID their campaign takes once it is made (both
derive from the night's idempotency key), so the calendar app updates one event. Nothing in it varies between
two fetches of the same rows (DTSTAMP is the night's last change, or the member's answer), so its ETag answers a
calendar app's revalidation with a 304."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app, url_for
from icalendar import Calendar, Event, vDuration
from sqlalchemy import exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from webapp.accounts.models import Membership, Workspace
from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.errors import Conflict, Forbidden, NotFound
from webapp.extensions import db, utcnow
from webapp.gamenight import schedules
from webapp.gamenight.campaign_plans import start_instant
from webapp.gamenight.models import (
    Answer,
    CalendarFeed,
    Campaign,
    CampaignAnswer,
    CampaignRecipient,
    CampaignStatus,
    JobKind,
    NightSchedule,
    NightStatus,
    ScheduledNight,
)
from webapp.notify.models import Preference
from webapp.sealing import hash_token, new_token

TOKEN_PREFIX = "pdcal"
# What a token looks like (new_token: the prefix and 43 URL-safe characters); anything else is a 404 unread.
TOKEN_SHAPE = re.compile(rf"{TOKEN_PREFIX}_[A-Za-z0-9_-]{{43}}")
NIGHT_LENGTH = timedelta(hours=3)  # a campaign has a start, not an end: the event lasts this long
PAST_NIGHTS = timedelta(days=90)  # nights that started longer ago than this leave the feed
MAX_NIGHTS = 500
LAST_USED_RESOLUTION = timedelta(minutes=10)  # a fetch writes `last_used_at` at most this often
PRODID = "-//Promotion Desk//Game nights//EN"
CANT_SUFFIX = " (you can't come)"  # a night the member answered "can't" for, in their own feed
REFRESH = timedelta(hours=1)  # how often we ask calendar apps to look again (most poll at their own pace)


@dataclass(frozen=True)
class FeedDocument:
    body: bytes
    etag: str
    filename: str


def live_feed(workspace_id: int, user_id: int) -> CalendarFeed | None:
    """The member's feed that works now, if any (at most one: a partial unique index)."""
    return db.session.scalar(select(CalendarFeed).where(CalendarFeed.workspace_id == workspace_id,
                                                        CalendarFeed.user_id == user_id,
                                                        CalendarFeed.revoked_at.is_(None)))


def feed_url(token: str) -> str:
    """The address a calendar app subscribes to, under the server's public address."""
    return current_app.config["SETTINGS"].PUBLIC_URL.rstrip("/") + url_for("gamenight.calendar_feed",
                                                                          feed_token=token)


def issue(actor: Actor) -> tuple[CalendarFeed, str]:
    """A new private calendar URL for the signed-in member; (feed, token), the token shown once. The member's
    previous URL, if any, stops working in the same transaction."""
    if actor.user_id is None:
        raise Forbidden("Only a signed-in member has a calendar feed.")
    replaced = _revoke_live(actor.workspace_id, actor.user_id)
    token = new_token(TOKEN_PREFIX)
    feed = CalendarFeed(workspace_id=actor.workspace_id, user_id=actor.user_id, token_hash=hash_token(token),
                        prefix=token[: len(TOKEN_PREFIX) + 6])  # "pdcal_" and five characters
    db.session.add(feed)
    try:
        db.session.flush()
    except IntegrityError:  # another tab made one between our revoke and insert
        db.session.rollback()
        raise Conflict("A calendar URL was made for you at the same moment; reload the page and try again.") from None
    audit.record(actor, "calendar_feed.created", "calendar_feed", feed.id, {"replaced": replaced})
    db.session.commit()
    return feed, token


def revoke(actor: Actor) -> CalendarFeed | None:
    """The member's calendar URL stops working (a 404 from now on); idempotent. The revoked feed, or None."""
    if actor.user_id is None:
        raise Forbidden("Only a signed-in member has a calendar feed.")
    feed = live_feed(actor.workspace_id, actor.user_id)
    if feed is None:
        return None
    feed.revoked_at = utcnow()
    audit.record(actor, "calendar_feed.revoked", "calendar_feed", feed.id)
    db.session.commit()
    return feed


def _revoke_live(workspace_id: int, user_id: int) -> int | None:
    feed = live_feed(workspace_id, user_id)
    if feed is None:
        return None
    db.session.execute(update(CalendarFeed).where(CalendarFeed.id == feed.id, CalendarFeed.revoked_at.is_(None))
                       .values(revoked_at=utcnow()))
    db.session.flush()
    return feed.id


def document(token: str, now: datetime | None = None) -> FeedDocument:
    """The feed a token opens: the member's game nights as an iCalendar document. A token that is malformed,
    unknown or revoked, or whose member has left the workspace, is a 404 (no hint which)."""
    now = now or utcnow()
    if not isinstance(token, str) or TOKEN_SHAPE.fullmatch(token) is None:
        raise NotFound("No such calendar.")
    row = db.session.execute(
        select(CalendarFeed, Workspace).join(Workspace, Workspace.id == CalendarFeed.workspace_id)
        .join(Membership, (Membership.workspace_id == CalendarFeed.workspace_id)
              & (Membership.user_id == CalendarFeed.user_id))
        .where(CalendarFeed.token_hash == hash_token(token), CalendarFeed.revoked_at.is_(None))).one_or_none()
    if row is None:
        raise NotFound("No such calendar.")
    feed, ws = row
    nights = _nights(feed, now)
    body = _calendar(ws, nights, _answers(feed, nights), _scheduled(feed, now))
    if feed.last_used_at is None or now - feed.last_used_at > LAST_USED_RESOLUTION:
        db.session.execute(update(CalendarFeed).where(CalendarFeed.id == feed.id).values(last_used_at=now))
    db.session.commit()
    return FeedDocument(body=body, etag=hashlib.sha256(body).hexdigest()[:32],
                        filename=f"{ws.slug}-game-nights.ics")


def _nights(feed: CalendarFeed, now: datetime) -> list[Campaign]:
    """The campaigns the member received or promoted in the feed's workspace, from `PAST_NIGHTS` ago on;
    dry runs are rehearsals (nobody was told), so they are not nights."""
    received = exists().where(CampaignRecipient.campaign_id == Campaign.id,
                              CampaignRecipient.user_id == feed.user_id)
    return list(db.session.scalars(
        select(Campaign).where(Campaign.workspace_id == feed.workspace_id, Campaign.dry_run.is_(False),
                               Campaign.start_at >= now - PAST_NIGHTS,
                               or_(received, Campaign.promoter_id == feed.user_id))
        .options(selectinload(Campaign.jobs)).order_by(Campaign.start_at, Campaign.id).limit(MAX_NIGHTS)))


def _answers(feed: CalendarFeed, nights: list[Campaign]) -> dict[int, CampaignAnswer]:
    """The member's own answers to those nights, by campaign (nobody else's: each member has their own feed)."""
    return {a.campaign_id: a for a in db.session.scalars(select(CampaignAnswer).where(
        CampaignAnswer.user_id == feed.user_id, CampaignAnswer.campaign_id.in_([n.id for n in nights])))}


def _scheduled(feed: CalendarFeed, now: datetime) -> list[tuple[ScheduledNight, NightSchedule]]:
    """The weekly schedules' nights that have no campaign (yet): pending ones of schedules not paused, and the
    ones that ended without a campaign (skipped, too few, missed, refused), from `PAST_NIGHTS` ago on. Who a
    campaign goes to is known only when it is created, so they are in the feed of every member opted in then
    (and of the schedule's promoter). A night whose campaign exists is that campaign's event, whether or not the
    member received it — also in the moment between the campaign's commit and the night's."""
    opted_in = exists().where(Preference.workspace_id == feed.workspace_id, Preference.user_id == feed.user_id,
                              Preference.opted_in.is_(True))
    rows = db.session.execute(
        select(ScheduledNight, NightSchedule).join(NightSchedule, NightSchedule.id == ScheduledNight.schedule_id)
        .where(ScheduledNight.workspace_id == feed.workspace_id, ScheduledNight.start_at >= now - PAST_NIGHTS,
               ScheduledNight.status != NightStatus.created,
               or_(ScheduledNight.status != NightStatus.pending, NightSchedule.paused.is_(False)),
               or_(opted_in, NightSchedule.promoter_id == feed.user_id))
        .order_by(ScheduledNight.start_at, ScheduledNight.id).limit(MAX_NIGHTS)).all()
    keys = [schedules.idempotency_key(night) for night, _ in rows]
    made = set(db.session.scalars(select(Campaign.idempotency_key).where(
        Campaign.workspace_id == feed.workspace_id, Campaign.idempotency_key.in_(keys))))
    return [(night, schedule) for (night, schedule), key in zip(rows, keys, strict=True) if key not in made]


def _calendar(ws: Workspace, nights: list[Campaign], answers: dict[int, CampaignAnswer],
              scheduled: list[tuple[ScheduledNight, NightSchedule]]) -> bytes:
    zone = ws.zone
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("name", f"Game nights · {ws.name}")
    cal.add("x-wr-calname", f"Game nights · {ws.name}")
    cal.add("x-wr-timezone", ws.time_zone)
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", vDuration(REFRESH))  # an X- property: typed by hand
    link = current_app.config["SETTINGS"].PUBLIC_URL.rstrip("/") + url_for("gamenight.availability", slug=ws.slug)
    entries = [(n.start_at, 0, n.id, _event(ws, n, answers.get(n.id), link)) for n in nights] + \
              [(n.start_at, 1, n.id, _scheduled_event(ws, n, s, link)) for n, s in scheduled]
    entries = sorted(entries, key=lambda e: e[:3])[:MAX_NIGHTS]
    for *_, event in entries:
        cal.add_component(event)
    if entries:  # the zone's rules for the years the nights span, not 1970–2038
        first, last = entries[0][0].astimezone(zone).date(), entries[-1][0].astimezone(zone).date()
        cal.add_missing_timezones(first_date=date(first.year - 1, 1, 1), last_date=date(last.year + 2, 1, 1))
    return cal.to_ical()


def _event(ws: Workspace, night: Campaign, answer: CampaignAnswer | None, link: str) -> Event:
    zone = ws.zone
    cancelled = night.status is CampaignStatus.cancelled
    cant = answer is not None and answer.answer is Answer.cant
    changed = night.cancelled_at if cancelled and night.cancelled_at else night.created_at
    if answer is not None:  # the member's answer changes their event (and only theirs)
        changed = max(changed, answer.answered_at)
    # Each change a night can have counts once, in the order they can come: created from its tentative schedule
    # night, answered "can't" (final), called off.
    sequence = schedules.is_night_key(night.idempotency_key) + cant + cancelled
    start = night.start_at.astimezone(zone)
    event = Event()
    event.add("uid", uid(ws, night))
    event.add("dtstamp", changed)  # no METHOD: DTSTAMP is the event's last revision (RFC 5545 3.8.7.2)
    event.add("created", night.created_at)
    event.add("last-modified", changed)
    event.add("sequence", sequence)
    event.add("dtstart", start)
    event.add("dtend", (night.start_at + NIGHT_LENGTH).astimezone(zone))
    event.add("summary", f"Game night{' (cancelled)' if cancelled else ''} · {ws.name}" + (CANT_SUFFIX if cant else ""))
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if cant:  # not attending: the time shows free
        event.add("transp", "TRANSPARENT")
    event.add("description", _said(answer) + _description(ws, night, cancelled, link))
    event.add("url", link)
    return event


def _said(answer: CampaignAnswer | None) -> str:
    if answer is None or answer.answer is Answer.coming:
        return ""
    if answer.answer is Answer.late:
        return f"You said you will be {answer.late_minutes} minutes late.\n"
    return "You said you can't come; we send you nothing more for this night.\n"


def _scheduled_event(ws: Workspace, night: ScheduledNight, schedule: NightSchedule, link: str) -> Event:
    """A weekly night with no campaign: tentative while pending, cancelled once it ended without one."""
    zone = ws.zone
    pending = night.status is NightStatus.pending
    changed = schedule.created_at if pending or night.finished_at is None else night.finished_at
    # A pending night starts, as its campaign will, at the local time in the workspace's zone as it is now (an
    # admin may have changed the zone since the night was added; its run follows the zone the same way).
    start = start_instant(zone, night.local_day, schedules.local_start(schedule)) if pending else night.start_at
    event = Event()
    event.add("uid", night_uid(ws, night))
    event.add("dtstamp", changed)
    event.add("created", schedule.created_at)
    event.add("last-modified", changed)
    event.add("sequence", 0 if pending else 1)  # its campaign's event has 1: created from this one
    event.add("dtstart", start.astimezone(zone))
    event.add("dtend", (start + NIGHT_LENGTH).astimezone(zone))
    event.add("summary", f"Game night ({'to be confirmed' if pending else 'cancelled'}) · {ws.name}")
    event.add("status", "TENTATIVE" if pending else "CANCELLED")
    event.add("description", _scheduled_description(ws, night, schedule, start, link))
    event.add("url", link)
    return event


def _scheduled_description(ws: Workspace, night: ScheduledNight, schedule: NightSchedule, start: datetime,
                           link: str) -> str:
    if night.status is NightStatus.pending:
        when = (start - timedelta(hours=schedule.hours_ahead)).astimezone(ws.zone).strftime("%A %d %B at %H:%M")
        enough = f" if at least {schedule.min_ready} are available or looking by then" if schedule.min_ready else ""
        return (f"A weekly game night. Promotion Desk promotes it on {when} ({ws.time_zone}){enough}, and tells you "
                f"then if you are invited.\nSet your availability: {link}")
    why = {NightStatus.skipped: "The promoter skipped this week's game night.",
           NightStatus.too_few: "Too few players were available, so this week's game night was not promoted."}
    return why.get(night.status, "This week's game night was not promoted.") + f"\n{link}"


def _description(ws: Workspace, night: Campaign, cancelled: bool, link: str) -> str:
    if cancelled:
        return f"This game night was called off.\n{link}"
    zone = ws.zone
    steps = {job.kind: job.run_at.astimezone(zone).strftime("%H:%M") for job in night.jobs}
    parts = [f"reminder at {steps[JobKind.reminder]}" if JobKind.reminder in steps else None,
             f"start call at {steps[JobKind.start]}" if JobKind.start in steps else None,
             f"ready-check at {steps[JobKind.ready_check]}" if JobKind.ready_check in steps else None]
    said = ", ".join(p for p in parts if p)
    return (f"Promotion Desk tells you: {said} ({ws.time_zone}).\n" if said else "") + \
        f"Set your availability: {link}"


def uid(ws: Workspace, night: Campaign) -> str:
    """The night's iCalendar UID: the campaign's id in its workspace, the same at every fetch and whatever the
    server's public address; a campaign a weekly schedule made has its schedule night's (`night_uid`)."""
    if schedules.is_night_key(night.idempotency_key):
        return f"{night.idempotency_key}@{ws.slug}.promotion-desk"
    return f"campaign-{night.id}@{ws.slug}.promotion-desk"


def night_uid(ws: Workspace, night: ScheduledNight) -> str:
    """A schedule night's UID, from its campaign's idempotency key: tentative, then its campaign, one event."""
    return f"{schedules.idempotency_key(night)}@{ws.slug}.promotion-desk"

