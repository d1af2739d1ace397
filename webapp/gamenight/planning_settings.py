"""The planning room's settings (admins): how many ready members unlock it, and where a new room is announced.
The settings form is one typed command (`PlanningSettingsCommand`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from webapp.accounts.models import Role
from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.commands import Command, Flag, Text, whole
from webapp.extensions import db
from webapp.gamenight import night_settings
from webapp.notify import contacts

THRESHOLD_MAX = 500


class PlanningSettingsCommand(Command):
    """The admins' planning form: the threshold, and the announcement channel (an Apprise URL; left empty it is
    kept, unless `clear_post_target` is ticked)."""

    planning_threshold: whole(1, THRESHOLD_MAX) = Field(None, validate_default=True)  # type: ignore[valid-type]
    post_target: Text = ""
    clear_post_target: Flag = False

    @property
    def target(self) -> str | None:
        """The new announcement channel: None keeps the current one, "" clears it."""
        return self.post_target if self.post_target or self.clear_post_target else None


def update_settings(actor: Actor, threshold: int, post_target: str | None = None) -> None:
    """Admins: how many ready members unlock the room, and where a new room is announced (an Apprise URL;
    None keeps it, "" clears it)."""
    actor.require(Role.admin, "change the game-night settings")
    row = night_settings.settings_row(actor.workspace_id)
    row.planning_threshold = threshold
    details: dict[str, Any] = {"planning_threshold": threshold}
    if post_target is not None:
        row.planning_post_target_sealed, row.planning_post_target_hint = contacts.seal_channel(post_target)
        details["announcement"] = row.planning_post_target_hint or None
    audit.record(actor, "gamenight.planning_settings_updated", "workspace", actor.workspace_id, details)
    db.session.commit()


def save(actor: Actor, command: PlanningSettingsCommand) -> None:
    """The settings form, saved."""
    update_settings(actor, command.planning_threshold, command.target)
