"""Preferences: whether a member wants game-night messages, in which channel order, and when not.

Quiet hours are `HH:MM-HH:MM` in the workspace's time zone; a range may wrap midnight (22:00-08:00).
The start is inside, the end is not: with 22:00-08:00, 22:00 and 07:59 are quiet, 08:00 is not
(webapp/notify/quiet_hours.py). How a member is reached — contacts — is webapp/notify/contacts.py.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.commands import Command, Flag, Line, bad_request
from webapp.extensions import db
from webapp.notify.models import Channel, Preference
from webapp.notify.quiet_hours import in_quiet_hours, parse_quiet_hours  # noqa: F401 (in_quiet_hours: re-exported)


def _channel_order(raw: Any) -> list[str]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
        raise bad_request("is a list of channels")
    order: list[str] = []
    for name in (c.strip().lower() for c in raw if c.strip()):
        if name not in Channel.__members__:
            raise bad_request(f"has {name!r}, which is not a channel; use {', '.join(Channel)}")
        if name not in order:
            order.append(name)
    return order


ChannelOrder = Annotated[list[Channel], BeforeValidator(_channel_order)]
"""Channels in the order to try them, each once (a list, or comma-separated text)."""


class PreferencesCommand(Command):
    """The member's own preferences form."""

    opted_in: Flag = False
    channel_order: ChannelOrder = Field(default_factory=list)
    quiet_hours: Line | None = None  # `HH:MM-HH:MM`; checked by `update_preferences` (400 invalid_quiet_hours)


def preference(workspace_id: int, user_id: int) -> Preference:
    """The member's preferences (defaults, not yet saved, when they never set any: opted out)."""
    found = db.session.get(Preference, (workspace_id, user_id))
    return found or Preference(workspace_id=workspace_id, user_id=user_id, opted_in=False, channel_order=[],
                               quiet_hours=None)


def update_preferences(actor: Actor, command: PreferencesCommand) -> Preference:
    """Save the signed-in member's own preferences; a bad quiet-hours value is a 400 and saves nothing."""
    assert actor.user_id is not None
    parse_quiet_hours(command.quiet_hours)
    order = [channel.value for channel in command.channel_order]
    pref = db.session.get(Preference, (actor.workspace_id, actor.user_id))
    if pref is None:
        pref = Preference(workspace_id=actor.workspace_id, user_id=actor.user_id)
        db.session.add(pref)
    pref.opted_in = command.opted_in
    pref.channel_order = order
    pref.quiet_hours = command.quiet_hours or None
    audit.record(actor, "preferences.updated", "user", actor.user_id,
                 {"opted_in": pref.opted_in, "channel_order": order, "quiet_hours": pref.quiet_hours})
    db.session.commit()
    return pref
