"""A member's private calendar feed: an iCalendar URL with the game nights they are invited to, for their
calendar app to subscribe to.

The URL carries a random token, like a personal access token: only its SHA-256 is stored, the URL is shown
once, a new one revokes the old, and an unknown or revoked token is a 404. The feed is built with the
`icalendar` library: each campaign the member received (or promoted) is one VEVENT in the workspace's time
zone (TZID and a VTIMEZONE), a cancelled night stays as `STATUS:CANCELLED` with a higher SEQUENCE, and the UID
is the campaign's, so the same night is the same event at every fetch. Nothing in it varies between two
fetches of the same rows (DTSTAMP is the night's last change), so its ETag answers a calendar app's
revalidation with a 304."""

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
from webapp.gamenight.models import CalendarFeed, Campaign, CampaignRecipient, CampaignStatus, JobKind
from webapp.sealing import hash_token, new_token

TOKEN_PREFIX = "pdcal"
# What a token looks like (new_token: the prefix and 43 URL-safe characters); anything else is a 404 unread.
TOKEN_SHAPE = re.compile(rf"{TOKEN_PREFIX}_[A-Za-z0-9_-]{{43}}")
NIGHT_LENGTH = timedelta(hours=3)  # a campaign has a start, not an end: the event lasts this long
PAST_NIGHTS = timedelta(days=90)  # nights that started longer ago than this leave the feed
MAX_NIGHTS = 500
LAST_USED_RESOLUTION = timedelta(minutes=10)  # a fetch writes `last_used_at` at most this often
PRODID = "-//Promotion Desk//Game nights//EN"
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
    body = _calendar(ws, nights)
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


def _calendar(ws: Workspace, nights: list[Campaign]) -> bytes:
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
    for night in nights:
        cal.add_component(_event(ws, night, link))
    if nights:  # the zone's rules for the years the nights span, not 1970–2038
        first, last = nights[0].start_at.astimezone(zone).date(), nights[-1].start_at.astimezone(zone).date()
        cal.add_missing_timezones(first_date=date(first.year - 1, 1, 1), last_date=date(last.year + 2, 1, 1))
    return cal.to_ical()


def _event(ws: Workspace, night: Campaign, link: str) -> Event:
    zone = ws.zone
    cancelled = night.status is CampaignStatus.cancelled
    changed = night.cancelled_at if cancelled and night.cancelled_at else night.created_at
    start = night.start_at.astimezone(zone)
    event = Event()
    event.add("uid", uid(ws, night))
    event.add("dtstamp", changed)  # no METHOD: DTSTAMP is the event's last revision (RFC 5545 3.8.7.2)
    event.add("created", night.created_at)
    event.add("last-modified", changed)
    event.add("sequence", 1 if cancelled else 0)  # a night changes once at most: when it is called off
    event.add("dtstart", start)
    event.add("dtend", (night.start_at + NIGHT_LENGTH).astimezone(zone))
    event.add("summary", f"Game night{' (cancelled)' if cancelled else ''} · {ws.name}")
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("description", _description(ws, night, cancelled, link))
    event.add("url", link)
    return event


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
    server's public address."""
    return f"campaign-{night.id}@{ws.slug}.promotion-desk"

