"""What a campaign would be: the plan a promoter previews before promoting tonight — the local day and
start in the workspace's time zone, the reminder lead, the opted-in members with the chosen statuses, the
channels that reach them (counts only, never a handle) and when each of the three jobs runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

import redis
from pydantic import BeforeValidator, ConfigDict, Field
from sqlalchemy import select

from webapp.accounts.models import Role
from webapp.accounts.services import Actor
from webapp.commands import Command, Flag, bad_request, form_values, invalid, parse, whole
from webapp.errors import Conflict, Invalid, TooManyRequests
from webapp.extensions import courier, db, utcnow
from webapp.gamenight import availability, night_settings
from webapp.gamenight.availability import DayChoice
from webapp.gamenight.models import (
    MIN_PLAYERS_MAX,
    MIN_PLAYERS_MIN,
    READY_CHECK_DELAY_DEFAULT,
    Availability,
    Campaign,
    CampaignStatus,
    JobKind,
    Status,
)
from webapp.notify import delivery
from webapp.notify.models import Preference

PROMOTE_NIGHT = (Role.promoter, "promote game nights")
PROMOTABLE = (Status.available, Status.maybe, Status.looking)
# How long after its time each job may still send (after it, nothing of the job is sent or retried).
DEADLINES = {JobKind.reminder: timedelta(minutes=30), JobKind.start: timedelta(minutes=60),
             JobKind.ready_check: timedelta(minutes=60), JobKind.called_off: timedelta(minutes=60)}
RATE_LIMIT = 20  # previews and creates per promoter per minute
STATUSES_RULE = "is one or more of available, maybe, looking"


@dataclass(frozen=True)
class Existing:
    """The promoter's own campaign of that day, which a second one would clash with."""

    id: int
    status: CampaignStatus


def already_promoted(day: date, found: Existing | None) -> Conflict:
    """The 409 for a second campaign of the promoter's day (the preview shows its message before), saying
    truthfully whether the first can still be cancelled: a cancelled one makes room, one that is over cannot."""
    when = day.isoformat()
    if found is None or found.status.active:
        message = f"You already promoted a game night for {when}; cancel it to promote another."
    else:
        message = (f"You already promoted a game night for {when}, and it is over ({found.status.value}); "
                   "one game night per promoter a day, so there cannot be another that day.")
    details = None if found is None else {"campaign_id": found.id, "status": found.status.value}
    return Conflict(message, code="already_promoted", details=details)


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
    ready_check_delay: int = READY_CHECK_DELAY_DEFAULT  # minutes after the start call
    existing: Existing | None = None  # the promoter already has a campaign that day
    min_players: int | None = None  # the quorum checked at the reminder

    @property
    def clash(self) -> str | None:
        """What creating this campaign would be refused with, when the promoter has one that day."""
        return None if self.existing is None else already_promoted(self.local_day, self.existing).message

    @property
    def runs(self) -> list[tuple[JobKind, datetime]]:
        # Promoted later than start − lead: the reminder goes out at once (it still says when).
        reminder = max(self.start_at - timedelta(minutes=self.lead_minutes), self.now)
        ready_check = self.start_at + timedelta(minutes=self.ready_check_delay)
        return [(JobKind.reminder, reminder), (JobKind.start, self.start_at), (JobKind.ready_check, ready_check)]

    def as_json(self) -> dict[str, Any]:
        return {"date": self.local_day.isoformat(), "start_at": self.start_at.isoformat(),
                "lead_minutes": self.lead_minutes, "statuses": [s.value for s in self.statuses],
                "recipient_count": len(self.recipients), "channels": dict(self.channels),
                "jobs": [{"type": kind.value, "run_at": at.isoformat()} for kind, at in self.runs],
                "min_players": self.min_players,
                "existing_campaign": None if self.existing is None else
                {"id": self.existing.id, "status": self.existing.status.value}}


def start_instant(zone: Any, day: date, clock: time) -> datetime:
    """The UTC instant of a local date and clock time in `zone` (DST-correct for that very date)."""
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def _start_time(value: Any) -> time | None:
    if value in (None, ""):
        return None
    found = night_settings.clock_time(value)
    if found is None:
        raise bad_request("is a local time HH:MM, e.g. 21:00")
    return found


def _lead(value: Any) -> int | None:
    if value in (None, ""):
        return None
    lead = night_settings.lead_minutes(value)  # the one lead rule, the settings' too
    if lead is None:
        raise bad_request(night_settings.LEAD_MINUTES_RULE)
    return lead


def _statuses(raw: Any) -> list[Status]:
    if raw is None:  # left out
        return [Status.available, Status.looking]
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise invalid(STATUSES_RULE)
    picked: list[Status] = []
    for value in raw:
        try:
            status = availability.status_choice(value)
        except ValueError:
            status = None
        if status not in PROMOTABLE:
            raise invalid(f"{STATUSES_RULE}: {str(value)[:40]!r} cannot be promoted to")
        if status not in picked:
            picked.append(status)
    return picked


class CampaignChoices(Command):
    """What a promoter picks for a game night: the dialog's fields and the API's body, for the preview and the
    create alike. Left out: today, the workspace's game start and reminder lead, available + looking members."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    day: DayChoice = Field("today", alias="date")
    start_time: Annotated[time | None, BeforeValidator(_start_time), Field(examples=["21:00"])] = None
    # The range on the number alone: on `int | None` pydantic compares a null with it (a 500 for `null`).
    lead_minutes: Annotated[Annotated[int, Field(ge=night_settings.LEAD_MINUTES_MIN,
                                                 le=night_settings.LEAD_MINUTES_MAX)] | None,
                            BeforeValidator(_lead)] = None
    statuses: Annotated[list[Status], BeforeValidator(_statuses), Field(min_length=1)] = \
        Field(None, validate_default=True)
    dry_run: Flag = False
    # At the reminder, fewer than this many players still coming and the promoter is told (left out: no quorum).
    min_players: whole(MIN_PLAYERS_MIN, MIN_PLAYERS_MAX) | None = None  # type: ignore[valid-type]

    @classmethod
    def of_form(cls, values: Any) -> CampaignChoices:
        """The dialog's fields (a query string or a form): no status box ticked is none picked (422), not the
        default the API's body gets when it leaves `statuses` out."""
        data = form_values(cls, values)
        data.setdefault("statuses", [])
        return parse(cls, data)


def plan(actor: Actor, choices: CampaignChoices | None = None, *, now: datetime | None = None) -> Plan:
    """Who would be told, when, through which channels (counts only: never a handle)."""
    actor.require(*PROMOTE_NIGHT)
    choices = choices or CampaignChoices()
    ws = night_settings.workspace(actor.workspace_id)
    game = night_settings.settings(ws.id)
    now = now or utcnow()
    local_day = availability.resolve_day(ws, choices.day, now)
    clock = choices.start_time or night_settings.parse_clock(game.game_start)
    lead = choices.lead_minutes or game.lead_minutes
    if local_day > night_settings.local_today(ws, now) + timedelta(days=366):
        raise Invalid("A game night can be promoted at most a year ahead.", details={"date": "at most a year ahead"})
    if local_day < night_settings.local_today(ws, now) - timedelta(days=1):  # before the UTC arithmetic: 0001-01-01
        raise Invalid(f"{local_day.isoformat()} has passed; pick a day from today on.", details={"date": "has passed"})
    start_at = start_instant(ws.zone, local_day, clock)
    if start_at <= now:
        raise Invalid(f"The start ({local_day.isoformat()} {clock.strftime('%H:%M')} {ws.time_zone}) has passed; "
                      "pick a time in the future.", details={"start_time": "must be in the future"})
    recipients = _recipients(ws.id, local_day, choices.statuses)
    people = delivery.reach(ws.id, [user_id for user_id, _ in recipients])
    channels = Counter(p.targets[0][0] if p.targets else "none" for p in people.values())
    return Plan(local_day=local_day, start_at=start_at, lead_minutes=lead, statuses=list(choices.statuses),
                recipients=recipients, channels=channels, zone=ws.time_zone, now=now,
                ready_check_delay=game.ready_check_delay, existing=existing_campaign(actor, local_day),
                min_players=choices.min_players)


def existing_campaign(actor: Actor, day: date) -> Existing | None:
    """The promoter's campaign of `day` that is not cancelled (one per promoter and local day)."""
    row = db.session.execute(select(Campaign.id, Campaign.status).where(
        Campaign.workspace_id == actor.workspace_id, Campaign.promoter_id == actor.user_id,
        Campaign.local_day == day, Campaign.status != CampaignStatus.cancelled)).first()
    return None if row is None else Existing(id=row.id, status=row.status)


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


def rate_limit(actor: Actor, what: str) -> None:
    """At most RATE_LIMIT previews and creates a minute per promoter (Redis counts; without Redis, no limit)."""
    minute, second = divmod(utcnow().timestamp(), 60)
    key = f"pd:rate:campaign:{actor.workspace_id}:{actor.user_id}:{int(minute)}"
    try:
        pipe = courier.connection.pipeline()
        pipe.incr(key)
        pipe.expire(key, 120)
        count = pipe.execute()[0]
    except redis.RedisError:
        return
    if count > RATE_LIMIT:
        raise TooManyRequests(f"Too many campaign {what}s in a minute; wait a moment.", retry_after=60 - second)


def preview(actor: Actor, choices: CampaignChoices) -> Plan:
    actor.require(*PROMOTE_NIGHT)
    rate_limit(actor, "preview")
    return plan(actor, choices)
