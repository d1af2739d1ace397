"""The planning room's settings (admins): how many ready members unlock it, where a new room is announced (a
webhook), and the Discord bot that opens a thread for each room (its token, sealed, and a channel id).
The settings form is one typed command (`PlanningSettingsCommand`)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from webapp.accounts.models import Role
from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.commands import Command, Flag, Line, Text, whole
from webapp.errors import BadRequest
from webapp.extensions import db
from webapp.gamenight import night_settings
from webapp.notify import contacts
from webapp.sealing import seal

THRESHOLD_MAX = 500
CHANNEL_ID = re.compile(r"[0-9]{15,25}")  # a Discord snowflake
BOT_TOKEN = re.compile(r"[A-Za-z0-9._\-]{30,200}")


class PlanningSettingsCommand(Command):
    """The admins' planning form: the threshold, and the announcement channel (an Apprise URL; left empty it is
    kept, unless `clear_post_target` is ticked)."""

    planning_threshold: whole(1, THRESHOLD_MAX) = Field(None, validate_default=True)  # type: ignore[valid-type]
    post_target: Text = ""
    clear_post_target: Flag = False
    # The Discord bot: the channel's id (shown, not secret), the token (left empty it is kept), or neither.
    discord_channel_id: Line = ""
    discord_bot_token: Line = ""
    clear_discord_bot: Flag = False

    @property
    def target(self) -> str | None:
        """The new announcement channel: None keeps the current one, "" clears it."""
        return self.post_target if self.post_target or self.clear_post_target else None

    @property
    def bot_token(self) -> str | None:
        """The new bot token: None keeps the current one, "" removes it."""
        return "" if self.clear_discord_bot else (self.discord_bot_token or None)

    @property
    def channel_id(self) -> str:
        return "" if self.clear_discord_bot else self.discord_channel_id


def _token_hint(token: str) -> str:
    return f"…{token[-4:]}"


def update_settings(actor: Actor, threshold: int, post_target: str | None = None, *,
                    discord_channel_id: str | None = None, discord_bot_token: str | None = None) -> None:
    """Admins: how many ready members unlock the room, where a new room is announced (an Apprise URL; None keeps
    it, "" clears it), and the Discord bot that opens each room's thread: its channel id and its token (each:
    None keeps it, "" clears it). The token is sealed at rest; only its last four characters are shown again."""
    actor.require(Role.admin, "change the game-night settings")
    if discord_channel_id and not CHANNEL_ID.fullmatch(discord_channel_id):
        raise BadRequest("A Discord channel id is the channel's number (15 to 25 digits): in Discord, turn on "
                         "Developer Mode, right-click the channel and choose Copy Channel ID.")
    if discord_bot_token and not BOT_TOKEN.fullmatch(discord_bot_token):
        raise BadRequest("A Discord bot token is one word of 30 to 200 letters, digits, dots, dashes and "
                         "underscores (the Bot page of your application in Discord's developer portal).")
    row = night_settings.settings_row(actor.workspace_id)
    row.planning_threshold = threshold
    details: dict[str, Any] = {"planning_threshold": threshold}
    if post_target is not None:
        row.planning_post_target_sealed, row.planning_post_target_hint = contacts.seal_channel(post_target)
        details["announcement"] = row.planning_post_target_hint or None
    if discord_channel_id is not None and discord_channel_id != (row.discord_channel_id or ""):
        row.discord_channel_id = discord_channel_id
        details["discord_channel_id"] = discord_channel_id or None
    if discord_bot_token is not None:
        row.discord_bot_token_sealed = seal(discord_bot_token) if discord_bot_token else None
        row.discord_bot_token_hint = _token_hint(discord_bot_token) if discord_bot_token else ""
        details["discord_bot"] = row.discord_bot_token_hint or None
    audit.record(actor, "gamenight.planning_settings_updated", "workspace", actor.workspace_id, details)
    db.session.commit()


def save(actor: Actor, command: PlanningSettingsCommand) -> None:
    """The settings form, saved."""
    update_settings(actor, command.planning_threshold, command.target, discord_channel_id=command.channel_id,
                    discord_bot_token=command.bot_token)
