"""Game nights: the workspace's clock and settings — its local date, the game start, the reminder lead, the
ready-check's delay after the start call, the summary channel and the bots' token.

"Today" is the workspace's local date (its time zone, DST included). The settings form is one typed
command (`SettingsCommand`); the lead-minutes rule (`LeadMinutes`) is the one campaigns use too.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from sqlalchemy import select

from webapp import inputs
from webapp.accounts.models import Role, Workspace
from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.commands import Command, Text, ZoneName, bad_request
from webapp.errors import BadRequest, NotFound, Unauthorized
from webapp.extensions import db, utcnow
from webapp.gamenight.models import (
    READY_CHECK_DELAY_DEFAULT,
    READY_CHECK_DELAY_MAX,
    READY_CHECK_DELAY_MIN,
    GamenightSettings,
)
from webapp.notify import contacts
from webapp.sealing import hash_token, new_token

GAME_START_FORMAT = "The game start is a local time HH:MM, e.g. 21:00."
LEAD_MINUTES_MIN, LEAD_MINUTES_MAX = 1, 240
LEAD_MINUTES_RULE = f"is a whole number of minutes from {LEAD_MINUTES_MIN} to {LEAD_MINUTES_MAX}"
READY_CHECK_DELAY_RULE = f"is a whole number of minutes from {READY_CHECK_DELAY_MIN} to {READY_CHECK_DELAY_MAX}"
_CLOCK = re.compile(r"\s*([0-9]{1,2}):([0-9]{2})\s*")  # ASCII digits: int() would also read '٢١' or '²'


# -- the workspace's clock ------------------------------------------------------------------------


def workspace(workspace_id: int) -> Workspace:
    ws = db.session.get(Workspace, workspace_id)
    if ws is None:
        raise NotFound("No such workspace.")
    return ws


def local_today(ws: Workspace, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ws.zone).date()


def clock_time(text: Any) -> time | None:
    """`HH:MM` in ASCII digits as a time; None for anything else."""
    match = _CLOCK.fullmatch(text) if isinstance(text, str) else None
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        return None
    return time(int(match.group(1)), int(match.group(2)))


def parse_clock(text: Any, what: str = GAME_START_FORMAT) -> time:
    """`clock_time`, or BadRequest(`what`)."""
    found = clock_time(text)
    if found is None:
        raise BadRequest(what)
    return found


# -- typed fields of the settings (shared with campaigns) ---------------------------------------


def lead_minutes(value: Any) -> int | None:
    """A reminder lead in minutes when `value` is one (ASCII digits, 1 to 240), else None."""
    lead = inputs.as_whole_number(value)
    return lead if lead is not None and LEAD_MINUTES_MIN <= lead <= LEAD_MINUTES_MAX else None


def _lead(value: Any) -> int:
    lead = lead_minutes(value)
    if lead is None:
        raise bad_request(LEAD_MINUTES_RULE)
    return lead


def _ready_check_delay(value: Any) -> int:
    delay = inputs.as_whole_number(value)
    if delay is None or not READY_CHECK_DELAY_MIN <= delay <= READY_CHECK_DELAY_MAX:
        raise bad_request(READY_CHECK_DELAY_RULE)
    return delay


def _game_start(value: Any) -> str:
    found = clock_time(value)
    if found is None:
        raise bad_request("is a local time HH:MM, e.g. 21:00")
    return found.strftime("%H:%M")


LeadMinutes = Annotated[int, BeforeValidator(_lead), Field(ge=LEAD_MINUTES_MIN, le=LEAD_MINUTES_MAX)]
"""The reminder lead: minutes before the game start (400 `'lead_minutes' is a whole number of minutes from 1 to
240.`). hc1 / campaigns: use this type (or `lead_minutes()`) for a campaign's lead; it is the one rule."""

GameStart = Annotated[str, BeforeValidator(_game_start), Field(pattern=r"^[0-2][0-9]:[0-5][0-9]$",
                                                               examples=["21:00"])]
"""A local clock time `HH:MM` (ASCII digits), normalised to two-digit hours."""


ReadyCheckDelay = Annotated[int, BeforeValidator(_ready_check_delay),
                            Field(ge=READY_CHECK_DELAY_MIN, le=READY_CHECK_DELAY_MAX)]
"""Minutes from the start call to the ready-check (0: at the start call itself)."""


class SettingsCommand(Command):
    """The admins' game-night settings form."""

    time_zone: ZoneName = Field("", validate_default=True)
    game_start: GameStart = Field("", validate_default=True)
    lead_minutes: LeadMinutes = Field(None, validate_default=True)
    ready_check_delay: ReadyCheckDelay | None = None  # left out: unchanged


class SummaryChannelCommand(Command):
    """Where the ready-check summary goes: an Apprise URL, or empty to clear it."""

    summary_target: Text = ""


# -- settings -----------------------------------------------------------------------------------


def settings(workspace_id: int) -> GamenightSettings:
    found = db.session.get(GamenightSettings, workspace_id)
    return found or _default_settings(workspace_id)


def _default_settings(workspace_id: int) -> GamenightSettings:
    return GamenightSettings(workspace_id=workspace_id, game_start="21:00", lead_minutes=15, planning_threshold=6,
                             ready_check_delay=READY_CHECK_DELAY_DEFAULT)


def settings_row(workspace_id: int) -> GamenightSettings:
    row = db.session.get(GamenightSettings, workspace_id)
    if row is None:
        row = _default_settings(workspace_id)
        db.session.add(row)
    return row


def update_settings(actor: Actor, command: SettingsCommand) -> GamenightSettings:
    """Admins: the workspace's time zone, game start, reminder lead and ready-check delay."""
    actor.require(Role.admin, "change the game-night settings")
    ws = workspace(actor.workspace_id)
    ws.time_zone = command.time_zone
    row = settings_row(actor.workspace_id)
    row.game_start, row.lead_minutes = command.game_start, command.lead_minutes
    if command.ready_check_delay is not None:
        row.ready_check_delay = command.ready_check_delay
    audit.record(actor, "gamenight.settings_updated", "workspace", ws.id,
                 {"time_zone": ws.time_zone, "game_start": row.game_start, "lead_minutes": row.lead_minutes,
                  "ready_check_delay": row.ready_check_delay})
    db.session.commit()
    return row


def set_summary_target(actor: Actor, command: SummaryChannelCommand) -> GamenightSettings:
    """Admins: the Apprise URL of the channel that gets the ready-check summary (empty clears it).
    Stored sealed; only its masked hint is ever shown again."""
    actor.require(Role.admin, "change the game-night settings")
    row = settings_row(actor.workspace_id)
    row.summary_target_sealed, row.summary_target_hint = contacts.seal_channel(command.summary_target)
    action = "gamenight.summary_channel_set" if row.summary_target_hint else "gamenight.summary_channel_cleared"
    audit.record(actor, action, "workspace", actor.workspace_id, {"hint": row.summary_target_hint})
    db.session.commit()
    return row


# -- the bots' token ----------------------------------------------------------------------------


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
