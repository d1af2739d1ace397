"""Game nights: who can play when — linked members' statuses per local date, set by the page's one-click
form and by the bots, and what the availability page and its calendar show.

A day is `today`, `tomorrow` (the workspace's local dates) or `YYYY-MM-DD`; a status is one of
`Status`, or None to clear it.
"""

from __future__ import annotations

import calendar
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError

from webapp.accounts.models import User, Workspace
from webapp.audit import services as audit
from webapp.commands import Command, bad_request
from webapp.errors import BadRequest, Conflict
from webapp.extensions import db
from webapp.gamenight.models import Availability, PlayerProfile, Status
from webapp.gamenight.night_settings import local_today, workspace
from webapp.gamenight.players import ChatIdentity, is_linked, shown_name

UPCOMING_DAYS = 3
NAMES_SHOWN = 40  # names listed per status and day on the page; "and N more" says the rest
DAY_RULE = "is today, tomorrow or a date as YYYY-MM-DD"
STATUS_RULE = f"is one of {', '.join(s.value for s in Status)}, or null to clear it"

RelativeDay = Literal["today", "tomorrow"]


# -- typed fields -------------------------------------------------------------------------------


def day_choice(value: Any) -> date | RelativeDay | None:
    """`today`/`tomorrow` (empty and None mean today), or the date of `YYYY-MM-DD`; None when it is neither."""
    if value in ("today", None, ""):
        return "today"
    if value == "tomorrow":
        return "tomorrow"
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


def status_choice(value: Any) -> Status | None:
    """A status name (any case, spaces for underscores), or None / "" / "clear" to clear; ValueError otherwise."""
    if value in (None, "", "clear"):
        return None
    name = value.strip().lower().replace(" ", "_") if isinstance(value, str) else None
    if name not in Status.__members__:
        raise ValueError(STATUS_RULE)
    return Status(name)


def _day(value: Any) -> date | RelativeDay:
    found = day_choice(value)
    if found is None:
        raise bad_request(DAY_RULE)
    return found


def _status(value: Any) -> Status | None:
    try:
        return status_choice(value)
    except ValueError:
        raise bad_request(STATUS_RULE) from None


DayChoice = Annotated[date | RelativeDay, BeforeValidator(_day)]
StatusChoice = Annotated[Status | None, BeforeValidator(_status)]


class StatusCommand(Command):
    """The page's one click: a status (or none, to clear) for a local day."""

    day: DayChoice = "today"
    status: StatusChoice = None


class BotStatusCommand(ChatIdentity):
    """A bot sets the status of the member behind a chat identity; `status` is required (null clears it)."""

    day: DayChoice = Field("today", alias="date")
    status: StatusChoice


def resolve_day(ws: Workspace, day: date | RelativeDay, now: datetime | None = None) -> date:
    """A day choice as the workspace's local date."""
    if isinstance(day, date):
        return day
    today = local_today(ws, now)
    return today + timedelta(days=1) if day == "tomorrow" else today


def parse_day(ws: Workspace, value: Any, now: datetime | None = None) -> date:
    """`today`, `tomorrow` (the workspace's local dates) or `YYYY-MM-DD`; 400 otherwise."""
    found = day_choice(value)
    if found is None:
        raise BadRequest(f"'date' {DAY_RULE}.")
    return resolve_day(ws, found, now)


def parse_status(value: Any) -> Status | None:
    """A status name, or None / "" / "clear" to clear; 400 otherwise."""
    try:
        return status_choice(value)
    except ValueError:
        raise BadRequest(f"'status' {STATUS_RULE}.") from None


# -- setting a status ---------------------------------------------------------------------------


def set_status(workspace_id: int, user_id: int, day: date, status: Status | None, *,
               actor_label: str, now: datetime | None = None) -> Status | None:
    """Set or clear a linked member's status for a local date (today or later, at most a year ahead).
    The page and the bots both come here."""
    ws = workspace(workspace_id)
    today = local_today(ws, now)
    if day < today:
        raise BadRequest("Availability can be set from today on; that date has passed.")
    if day > today + timedelta(days=366):
        raise BadRequest("Availability can be set at most a year ahead.")
    if not is_linked(workspace_id, user_id):
        raise Conflict("Link your account to set availability: create your player profile and link a chat "
                       "account on your profile page.", code="not_linked")
    row = db.session.scalar(select(Availability).where(Availability.workspace_id == workspace_id,
                                                       Availability.user_id == user_id, Availability.day == day))
    if status is None:
        if row is not None:
            db.session.delete(row)
    elif row is None:
        db.session.add(Availability(workspace_id=workspace_id, user_id=user_id, day=day, status=status))
    else:
        row.status = status
    audit.record(None, "availability.set" if status else "availability.cleared", "user", user_id,
                 {"day": day.isoformat(), "status": status.value if status else None},
                 workspace_id=workspace_id, actor_label=actor_label)
    try:
        db.session.commit()
    except IntegrityError:  # the same member set the same day twice at once: the other write stands
        db.session.rollback()
    return status


# -- what the page shows ------------------------------------------------------------------------


@dataclass
class Day:
    day: date
    counts: Counter[Status] = field(default_factory=Counter)
    names: dict[Status, list[str]] = field(default_factory=lambda: defaultdict(list))  # the first NAMES_SHOWN
    mine: Status | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def ready(self) -> int:
        return self.counts[Status.available] + self.counts[Status.looking]

    def more(self, status: Status) -> int:
        """How many of `status` the names leave out (a big community lists NAMES_SHOWN a status)."""
        return self.counts[status] - len(self.names.get(status, []))


@dataclass
class Overview:
    """What the availability page shows: today, tomorrow, the queue, the next days."""

    today: Day
    tomorrow: Day
    upcoming: list[Day]
    member: bool  # signed in and a member of the workspace
    linked: bool  # … with a player profile and a confirmed contact: sees names, sets statuses

    @property
    def queue(self) -> list[str]:
        return self.today.names.get(Status.looking, [])


def overview(ws: Workspace, viewer_id: int | None, *, member: bool, now: datetime | None = None) -> Overview:
    """Counts per status for today, tomorrow and the next days; the names only for linked members
    (anonymous and unlinked visitors see aggregate counts)."""
    today = local_today(ws, now)
    linked = member and is_linked(ws.id, viewer_id)
    days = _days(ws.id, [today + timedelta(days=i) for i in range(2 + UPCOMING_DAYS)], viewer_id, names=linked)
    return Overview(today=days[0], tomorrow=days[1], upcoming=days[2:], member=member, linked=linked)


def _days(workspace_id: int, wanted: Sequence[date], viewer_id: int | None, *, names: bool) -> list[Day]:
    """Each wanted day's counts per status (counted by the database), the viewer's own status, and with `names`
    the names of each status: all of them in alphabetical order, or in a big community the first NAMES_SHOWN to
    say so (alphabetically) and how many more: the rows are counted, never all read, so a page of 10,000 members
    stays small and quick."""
    by_day = {d: Day(d) for d in wanted}
    where = (Availability.workspace_id == workspace_id, Availability.day.in_(list(wanted)))
    if viewer_id is not None:
        for day, status in db.session.execute(select(Availability.day, Availability.status)
                                              .where(*where, Availability.user_id == viewer_id)):
            by_day[day].mine = status
    for day, status, n in db.session.execute(select(Availability.day, Availability.status, func.count())
                                             .where(*where).group_by(Availability.day, Availability.status)):
        by_day[day].counts[status] = n
    if names:
        for entry in by_day.values():
            for status in entry.counts:
                entry.names[status] = sorted(_first_names(workspace_id, entry.day, status), key=str.lower)
    return [by_day[d] for d in wanted]


def _first_names(workspace_id: int, day: date, status: Status) -> list[str]:
    """The first NAMES_SHOWN members to say `status` for `day` (the (workspace, day) index walks the rows in
    the order they were written and stops there: no sort of a big community's rows)."""
    first = (select(Availability.user_id).where(Availability.workspace_id == workspace_id, Availability.day == day,
                                                Availability.status == status)
             .order_by(Availability.id).limit(NAMES_SHOWN).subquery())
    return [shown_name(display_name, email) for display_name, email in db.session.execute(
        select(PlayerProfile.display_name, User.email).select_from(first).join(User, User.id == first.c.user_id)
        .outerjoin(PlayerProfile, (PlayerProfile.user_id == first.c.user_id)
                   & (PlayerProfile.workspace_id == workspace_id)))]


def ready(workspace_id: int, day: date) -> int:
    """How many members are available or looking on a local date."""
    return db.session.scalar(ready_count(workspace_id, day))


def ready_count(workspace_id: Any, day: Any) -> Select[tuple[int]]:
    """The query `ready` runs, to be part of a larger one (values or bound parameters)."""
    return select(func.count()).select_from(Availability).where(
        Availability.workspace_id == workspace_id, Availability.day == day,
        Availability.status.in_([Status.available, Status.looking]))


@dataclass
class Month:
    year: int
    month: int
    weeks: list[list[Day | None]]  # Monday-first rows; None outside the month
    today: date

    @property
    def title(self) -> str:
        return f"{calendar.month_name[self.month]} {self.year}"

    def shifted(self, months: int) -> str:
        index = self.year * 12 + self.month - 1 + months
        return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month(ws: Workspace, value: str | None, viewer_id: int | None, *, linked: bool,
          now: datetime | None = None) -> Month:
    """A month of counts (`YYYY-MM`, default this local month): the calendar the page opens on demand."""
    today = local_today(ws, now)
    if value:
        match = re.fullmatch(r"([0-9]{4})-([0-9]{2})", value)  # a 20-digit year is no month
        if match is None or not 1 <= int(match.group(2)) <= 12:
            raise BadRequest("'month' is YYYY-MM.")
        first = date(int(match.group(1)), int(match.group(2)), 1)
        if not 2000 <= first.year <= 2100:
            raise BadRequest("'month' is between 2000-01 and 2100-12.")
    else:
        first = today.replace(day=1)
    dates = [first + timedelta(days=i) for i in range(calendar.monthrange(first.year, first.month)[1])]
    days = {d.day: d for d in _days(ws.id, dates, viewer_id, names=False)}  # the calendar shows counts and mine
    weeks = [[days.get(d) if d.month == first.month else None for d in week]
             for week in calendar.Calendar().monthdatescalendar(first.year, first.month)]
    return Month(year=first.year, month=first.month, weeks=weeks, today=today)
