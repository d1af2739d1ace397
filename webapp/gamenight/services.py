"""Game nights: who is a player, how chat identities are linked, and who can play when.

"Today" is the workspace's local date (its time zone, DST included). A member is **linked** when
they have a player profile and at least one confirmed contact; only linked members set availability.
Bots act with the workspace's bot token: they confirm link codes and set availability for the
identities they see.
"""

from __future__ import annotations

import calendar
import re
import secrets
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from webapp import inputs
from webapp.accounts.models import Role, User, Workspace
from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.errors import BadRequest, Conflict, Invalid, NotFound, Unauthorized
from webapp.extensions import db, utcnow
from webapp.gamenight.models import Availability, GamenightSettings, LinkCode, PlayerProfile, Status
from webapp.notify import services as notify
from webapp.notify.models import CHAT_CHANNELS, Channel, Contact
from webapp.sealing import hash_token, new_token, seal

LINK_CODE_TTL = timedelta(minutes=10)
LINK_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a screen, typed into a chat
UPCOMING_DAYS = 3
GAME_START_FORMAT = "The game start is a local time HH:MM, e.g. 21:00."


# -- the workspace's clock and settings ---------------------------------------------------------


def workspace(workspace_id: int) -> Workspace:
    ws = db.session.get(Workspace, workspace_id)
    if ws is None:
        raise NotFound("No such workspace.")
    return ws


def local_today(ws: Workspace, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ws.zone).date()


def settings(workspace_id: int) -> GamenightSettings:
    found = db.session.get(GamenightSettings, workspace_id)
    return found or _default_settings(workspace_id)


def _default_settings(workspace_id: int) -> GamenightSettings:
    return GamenightSettings(workspace_id=workspace_id, game_start="21:00", lead_minutes=15, planning_threshold=6)


def parse_clock(text: Any, what: str = GAME_START_FORMAT) -> time:
    """`HH:MM` in ASCII digits (int() would also read '٢١' or '²'); BadRequest(`what`) otherwise."""
    match = re.fullmatch(r"\s*([0-9]{1,2}):([0-9]{2})\s*", text) if isinstance(text, str) else None
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise BadRequest(what)
    return time(int(match.group(1)), int(match.group(2)))


def update_settings(actor: Actor, time_zone: str, game_start: str, lead_minutes: Any) -> GamenightSettings:
    """Admins: the workspace's time zone, game start and reminder lead. Bad values → 400, nothing saved."""
    actor.require(Role.admin, "change the game-night settings")
    time_zone = inputs.zone_name(time_zone)
    start = parse_clock(game_start)
    lead = inputs.as_whole_number(lead_minutes)
    if lead is None or not 1 <= lead <= 240:
        raise BadRequest("The reminder lead is a whole number of minutes from 1 to 240.")
    ws = workspace(actor.workspace_id)
    ws.time_zone = time_zone
    row = settings_row(actor.workspace_id)
    row.game_start, row.lead_minutes = start.strftime("%H:%M"), lead
    audit.record(actor, "gamenight.settings_updated", "workspace", ws.id,
                 {"time_zone": time_zone, "game_start": row.game_start, "lead_minutes": lead})
    db.session.commit()
    return row


def settings_row(workspace_id: int) -> GamenightSettings:
    row = db.session.get(GamenightSettings, workspace_id)
    if row is None:
        row = _default_settings(workspace_id)
        db.session.add(row)
    return row


def set_summary_target(actor: Actor, url: Any) -> GamenightSettings:
    """Admins: the Apprise URL of the channel that gets the ready-check summary (empty clears it).
    Stored sealed; only its masked hint is ever shown again."""
    actor.require(Role.admin, "change the game-night settings")
    row = settings_row(actor.workspace_id)
    row.summary_target_sealed, row.summary_target_hint = apprise_target(url)
    action = "gamenight.summary_channel_set" if row.summary_target_hint else "gamenight.summary_channel_cleared"
    audit.record(actor, action, "workspace", actor.workspace_id, {"hint": row.summary_target_hint})
    db.session.commit()
    return row


def apprise_target(url: Any) -> tuple[str | None, str]:
    """A workspace channel's Apprise URL → (sealed, masked hint); empty → (None, ""); anything else → 400."""
    if not isinstance(url, str):
        raise BadRequest("A channel is an Apprise URL such as discord://… or json://….")
    url = url.strip()
    if not url:
        return None, ""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in notify.SUMMARY_SCHEMES or len(url) > 2000 or any(c.isspace() for c in url):
        raise BadRequest("A channel is an Apprise URL starting with "
                         f"{', '.join(s + '://' for s in notify.SUMMARY_SCHEMES)}.")
    return seal(url), notify.mask(url)


def rotate_bot_token(actor: Actor) -> str:
    """A new bot token for the workspace (the old one stops working at once); returned once, stored hashed."""
    actor.require(Role.admin, "rotate the bot token")
    token = new_token("pdb")
    row = settings_row(actor.workspace_id)
    row.bot_token_hash, row.bot_token_prefix, row.bot_token_rotated_at = hash_token(token), token[:10], utcnow()
    audit.record(actor, "gamenight.bot_token_rotated", "workspace", actor.workspace_id, {"prefix": token[:10]})
    db.session.commit()
    return token


def bot_workspace(token: str) -> int:
    """The workspace a bot token belongs to; 401 for a missing or unknown one."""
    if not token:
        raise Unauthorized("Send the workspace's bot token as 'Authorization: Bearer <token>'.")
    workspace_id = db.session.scalar(select(GamenightSettings.workspace_id)
                                     .where(GamenightSettings.bot_token_hash == hash_token(token)))
    if workspace_id is None:
        raise Unauthorized("This bot token is not valid (it may have been rotated).")
    return workspace_id


# -- players and linking ------------------------------------------------------------------------


def profile(workspace_id: int, user_id: int) -> PlayerProfile | None:
    return db.session.scalar(select(PlayerProfile).where(PlayerProfile.workspace_id == workspace_id,
                                                         PlayerProfile.user_id == user_id))


def save_profile(actor: Actor, display_name: Any, aliases: Any) -> PlayerProfile:
    """Create or update the member's one player profile."""
    player = put_profile(actor, display_name, aliases)
    db.session.commit()
    return player


def put_profile(actor: Actor, display_name: Any, aliases: Any = None) -> PlayerProfile:
    """`save_profile` in the caller's transaction (no commit); `aliases=None` keeps the current ones."""
    assert actor.user_id is not None
    display_name = display_name.strip() if isinstance(display_name, str) else ""
    if not display_name or len(display_name) > 80 or "\n" in display_name:
        raise Invalid("A player needs a display name of 1 to 80 characters.",
                      details={"display_name": "required, one line, at most 80 characters"})
    player = profile(actor.workspace_id, actor.user_id)
    if aliases is None:
        aliases = list(player.aliases) if player is not None else []
    if isinstance(aliases, str):
        aliases = aliases.split(",")
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise Invalid("Game aliases are a list of names.", details={"aliases": "a comma-separated list"})
    names: list[str] = []
    for alias in (a.strip() for a in aliases):
        if alias and alias.lower() not in (n.lower() for n in names):
            if len(alias) > 60:
                raise Invalid("A game alias has at most 60 characters.", details={"aliases": "at most 60 each"})
            names.append(alias)
    if player is None:
        player = PlayerProfile(workspace_id=actor.workspace_id, user_id=actor.user_id)
        db.session.add(player)
    player.display_name, player.aliases = display_name, names[:20]
    audit.record(actor, "player.saved", "user", actor.user_id, {"display_name": display_name})
    return player


def is_linked(workspace_id: int, user_id: int | None) -> bool:
    """A player profile and at least one confirmed contact (one query: the layout asks on every page)."""
    if user_id is None:
        return False
    return db.session.scalar(select(
        select(Contact.id).join(PlayerProfile, (PlayerProfile.workspace_id == Contact.workspace_id)
                                & (PlayerProfile.user_id == Contact.user_id))
        .where(Contact.workspace_id == workspace_id, Contact.user_id == user_id, Contact.confirmed_at.is_not(None))
        .exists()))


def new_link_code(actor: Actor) -> tuple[str, datetime]:
    """A code for the member to send to the community's bot; valid 10 minutes, once. Earlier unused
    codes of the member stop working."""
    assert actor.user_id is not None
    code = "".join(secrets.choice(LINK_CODE_ALPHABET) for _ in range(8))
    expires = utcnow() + LINK_CODE_TTL
    db.session.execute(delete(LinkCode).where(LinkCode.workspace_id == actor.workspace_id,
                                              LinkCode.user_id == actor.user_id, LinkCode.used_at.is_(None)))
    db.session.add(LinkCode(workspace_id=actor.workspace_id, user_id=actor.user_id, code_hash=_code_hash(code),
                            expires_at=expires))
    db.session.commit()
    return code, expires


def _code_hash(code: str) -> str:
    return hash_token(code.strip().upper().replace("-", "").replace(" ", ""))


def confirm_link(workspace_id: int, code: Any, channel: Any, external_id: Any, target: Any = None) -> Contact:
    """A bot confirms that the chat identity (channel, external id) sent this member's code.

    404 for an unknown, used or expired code; 409 when the identity is already linked to another
    member (or the member already has another identity on that channel: unlink it first)."""
    if not isinstance(code, str) or not code.strip():
        raise BadRequest("'code' is the code the member sent to the bot.")
    channel = _channel(channel, chat_only=True)
    external_id = _external_id(external_id)
    now = utcnow()
    link = db.session.scalar(select(LinkCode).where(LinkCode.workspace_id == workspace_id,
                                                    LinkCode.code_hash == _code_hash(code)).with_for_update())
    if link is None or link.used_at is not None or link.expires_at <= now:
        raise NotFound("This link code is unknown, used or expired; ask the member for a new one from their "
                       "profile page.", code="link_code_invalid")
    contact, _ = attach_identity(workspace_id, link.user_id, channel, external_id, now=now)
    if target is not None:
        if not isinstance(target, str):
            raise BadRequest("'target' is an Apprise URL.")
        notify.set_target(contact, target)
    link.used_at = now
    audit.record(None, "contact.linked", "contact", None, {"channel": channel.value, "user_id": link.user_id},
                 workspace_id=workspace_id, actor_label="bot")
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"This {channel.value} account was linked to another member at the same moment.",
                       code="identity_taken") from None
    return contact


def identity_owner(workspace_id: int, channel: Channel, external_id: str) -> int | None:
    """The member of the workspace who has this chat identity (confirmed or not), or None."""
    return db.session.scalar(select(Contact.user_id).where(
        Contact.workspace_id == workspace_id, Contact.channel == channel, Contact.external_id == external_id))


def identity_taken(channel: Channel) -> Conflict:
    return Conflict(f"This {channel.value} account is already linked to another member of this workspace. They "
                    "must unlink it on their profile page first; nothing was changed.", code="identity_taken")


def attach_identity(workspace_id: int, user_id: int, channel: Channel, external_id: str, *, replace: bool = False,
                    now: datetime | None = None) -> tuple[Contact, str | None]:
    """Give a member the chat identity (channel, external id), confirmed now, in the caller's transaction.

    The bot's link codes and Discord's OAuth both come here, so the 1:1 rules are written once (and the
    schema's unique constraints back them): 409 `identity_taken` when another member of the workspace has
    the identity; when the member has another identity on that channel, 409 `channel_taken` — or, with
    `replace`, that contact takes the new identity (its delivery target belonged to the old account and
    is cleared). Returns the contact and the external id it replaced, if any."""
    owner = db.session.scalar(select(Contact).where(Contact.workspace_id == workspace_id, Contact.channel == channel,
                                                    Contact.external_id == external_id))
    if owner is not None and owner.user_id != user_id:
        raise identity_taken(channel)
    contact = owner or db.session.scalar(select(Contact).where(
        Contact.workspace_id == workspace_id, Contact.user_id == user_id, Contact.channel == channel))
    replaced = None
    if contact is not None and contact.external_id != external_id:
        if not replace:
            raise Conflict(f"This member already has another {channel.value} account linked; they must unlink it "
                           "on their profile page first.", code="channel_taken")
        replaced = contact.external_id
        contact.external_id, contact.target_sealed, contact.target_hint = external_id, None, ""
        contact.oauth_verified_at = None  # proven for the old account, not this one
    if contact is None:
        contact = Contact(workspace_id=workspace_id, user_id=user_id, channel=channel, external_id=external_id)
        db.session.add(contact)
    contact.confirmed_at = now or utcnow()
    return contact, replaced


def _channel(value: Any, *, chat_only: bool = False) -> Channel:
    allowed = CHAT_CHANNELS if chat_only else tuple(Channel)
    if not isinstance(value, str) or value.strip().lower() not in {c.value for c in allowed}:
        raise BadRequest(f"'channel' is one of {', '.join(c.value for c in allowed)}.")
    return Channel(value.strip().lower())


def _external_id(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 200:
        raise BadRequest("'external_id' is the member's id on the channel (1 to 200 characters).")
    return value.strip()


def member_for_identity(workspace_id: int, channel: Any, external_id: Any) -> int:
    """The member a bot's chat identity is linked to; 404 with a hint to link otherwise."""
    channel = _channel(channel, chat_only=True)
    external_id = _external_id(external_id)
    user_id = db.session.scalar(select(Contact.user_id).where(
        Contact.workspace_id == workspace_id, Contact.channel == channel, Contact.external_id == external_id,
        Contact.confirmed_at.is_not(None)))
    if user_id is None:
        raise NotFound(f"This {channel.value} account is not linked to a member yet: open your profile page on the "
                       "dashboard, get a link code and send it to the bot.", code="not_linked")
    return user_id


# -- availability -------------------------------------------------------------------------------


def parse_day(ws: Workspace, value: Any, now: datetime | None = None) -> date:
    """`today`, `tomorrow` (the workspace's local dates) or `YYYY-MM-DD`; 400 otherwise."""
    today = local_today(ws, now)
    if value in ("today", None, ""):
        return today
    if value == "tomorrow":
        return today + timedelta(days=1)
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else _bad_day()
    except ValueError:
        return _bad_day()


def _bad_day() -> date:
    raise BadRequest("'date' is today, tomorrow or a date as YYYY-MM-DD.")


def parse_status(value: Any) -> Status | None:
    """A status name, or None / "" / "clear" to clear; 400 otherwise."""
    if value in (None, "", "clear"):
        return None
    if isinstance(value, str) and value.strip().lower().replace(" ", "_") in Status.__members__:
        return Status(value.strip().lower().replace(" ", "_"))
    raise BadRequest(f"'status' is one of {', '.join(s.value for s in Status)}, or null to clear it.")


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


@dataclass
class Day:
    day: date
    counts: Counter[Status] = field(default_factory=Counter)
    names: dict[Status, list[str]] = field(default_factory=lambda: defaultdict(list))
    mine: Status | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def ready(self) -> int:
        return self.counts[Status.available] + self.counts[Status.looking]


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
    by_day = {d: Day(d) for d in wanted}
    query = (select(Availability.day, Availability.status, Availability.user_id, PlayerProfile.display_name,
                    User.email)
             .join(User, User.id == Availability.user_id)
             .outerjoin(PlayerProfile, (PlayerProfile.user_id == Availability.user_id)
                        & (PlayerProfile.workspace_id == Availability.workspace_id))
             .where(Availability.workspace_id == workspace_id, Availability.day.in_(list(wanted)))
             .order_by(Availability.day, func.lower(func.coalesce(PlayerProfile.display_name, User.email))))
    for day, status, user_id, display_name, email in db.session.execute(query):
        entry = by_day[day]
        entry.counts[status] += 1
        if names:
            entry.names[status].append(shown_name(display_name, email))
        if user_id == viewer_id:
            entry.mine = status
    return [by_day[d] for d in wanted]


def shown_name(display_name: str | None, email: str) -> str:
    """How a member is named to others: their player's display name, else their e-mail's local part."""
    return display_name or email.split("@")[0]


def player_names(workspace_id: int, user_ids: Iterable[int]) -> dict[int, str]:
    """`shown_name` of each of `user_ids` in the workspace."""
    ids = list(user_ids)
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.email, PlayerProfile.display_name).outerjoin(
        PlayerProfile, (PlayerProfile.user_id == User.id) & (PlayerProfile.workspace_id == workspace_id))
        .where(User.id.in_(ids)))
    return {user_id: shown_name(name, email) for user_id, email, name in rows}


def ready(workspace_id: int, day: date) -> int:
    """How many members are available or looking on a local date."""
    return db.session.scalar(select(func.count()).select_from(Availability).where(
        Availability.workspace_id == workspace_id, Availability.day == day,
        Availability.status.in_([Status.available, Status.looking])))


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
    days = {d.day: d for d in _days(ws.id, dates, viewer_id, names=linked)}
    weeks = [[days.get(d) if d.month == first.month else None for d in week]
             for week in calendar.Calendar().monthdatescalendar(first.year, first.month)]
    return Month(year=first.year, month=first.month, weeks=weeks, today=today)
