"""Telling players about a new area: "The Old Mill is open, north of Village square." in the workspace's
announcement channel for world news, once per promotion.

The settings (admins) say whether promotions announce and where: an Apprise URL of its own, sealed like every
channel (webapp/notify/contacts.py `seal_channel`) and shown masked. Worlds keep their own channel rather than
the planning room's: game nights own that setting, flows never import each other, and a community often
posts world news somewhere else than tonight's game.

A promotion writes an `AreaAnnouncement` row and an outbox effect in its own transaction; after the commit the
effect posts the text through `notify.delivery.send` (one target, one answer). A post that provably never
arrived is retried with the outbox's back-off; one that may have arrived (no answer after sending, a 5xx) is
`unknown` and never posted again; a row already `sent` or `unknown` is never posted again by a second run of
its effect. An area returned to the sandbox before its announcement went out cancels it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from webapp.accounts.models import Role
from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.commands import Command, Flag, Text
from webapp.errors import Invalid
from webapp.extensions import db, utcnow
from webapp.notify import contacts, delivery
from webapp.notify.transport import Outcome
from webapp.outbox import services as outbox
from webapp.outbox.models import OutboxEffect
from webapp.sealing import unseal
from webapp.worlds.directions import Direction, where
from webapp.worlds.models import AnnouncementStatus, AreaAnnouncement, BuildProject, Room, WorldSettings

ANNOUNCE_EFFECT = "worlds.announce_area"
SETTINGS = (Role.admin, "change the world-build settings")
# Neither posted again nor waiting to be: what a second run of the effect, or a cancel, leaves alone.
SETTLED = frozenset({AnnouncementStatus.sent, AnnouncementStatus.unknown, AnnouncementStatus.off,
                     AnnouncementStatus.cancelled})


# -- the settings ---------------------------------------------------------------------------------


class WorldSettingsCommand(Command):
    """The admins' form: announce new areas or not, and the channel (an Apprise URL; left empty it is kept,
    unless `clear_announcement_target` is ticked)."""

    announce_new_areas: Flag = False
    announcement_target: Text = ""
    clear_announcement_target: Flag = False


def settings(workspace_id: int) -> WorldSettings:
    """The workspace's world settings (defaults, unsaved, when it has none yet)."""
    found = db.session.get(WorldSettings, workspace_id)
    return found or WorldSettings(workspace_id=workspace_id, announce_new_areas=False,
                                  announcement_target_sealed=None, announcement_target_hint="")


def read_settings(actor: Actor) -> WorldSettings:
    actor.require(*SETTINGS)
    return settings(actor.workspace_id)


def save_settings(actor: Actor, command: WorldSettingsCommand) -> WorldSettings:
    """Admins: whether promotions announce new areas, and the channel. A URL that is not an Apprise URL of a
    known channel is a 400; announcing without a channel a 422 beside the field; nothing is saved then."""
    actor.require(*SETTINGS)
    row = db.session.get(WorldSettings, actor.workspace_id)
    if row is None:
        row = settings(actor.workspace_id)
        db.session.add(row)
    details: dict[str, Any] = {"announce_new_areas": command.announce_new_areas}
    if command.announcement_target.strip() or command.clear_announcement_target:
        sealed, hint = contacts.seal_channel(command.announcement_target)  # 400 for anything but a channel URL
        row.announcement_target_sealed, row.announcement_target_hint = sealed, hint
        details["announcement"] = hint or None
    if command.announce_new_areas and not row.announcement_target_sealed:
        db.session.rollback()
        raise Invalid("Give the channel new areas are announced in (an Apprise URL such as discord://…).",
                      details={"announcement_target": "required to announce new areas"})
    row.announce_new_areas = command.announce_new_areas
    audit.record(actor, "world.settings_updated", "workspace", actor.workspace_id, details)
    db.session.commit()
    return row


# -- the announcement -------------------------------------------------------------------------------


def announcement_text(area: str, direction: Direction, connection: str) -> str:
    """ "The Old Mill is open, north of Village square." — the direction worded as the project page words it."""
    return f"{area.strip()} is open, {where(direction)} {connection.strip()}."


def planned(project: BuildProject, connection: Room, direction: Direction) -> str | None:
    """What promoting `project` there would tell players (the promote dialog shows it); None when the workspace
    does not announce new areas."""
    chosen = settings(project.workspace_id)
    if not chosen.announce_new_areas or not chosen.announcement_target_sealed:
        return None
    return announcement_text(project.name, direction, connection.name)


def announce(project: BuildProject, connection: Room, direction: Direction) -> AreaAnnouncement | None:
    """Inside a promotion's transaction: when the workspace announces new areas, the row and the effect that
    posts it after the commit (nothing is sent if the promotion rolls back). None when announcements are off."""
    text = planned(project, connection, direction)
    if text is None:
        return None
    row = AreaAnnouncement(workspace_id=project.workspace_id, project_id=project.id, text=text,
                           status=AnnouncementStatus.pending, error="")
    db.session.add(row)
    db.session.flush()
    outbox.add(project.workspace_id, ANNOUNCE_EFFECT, {"announcement_id": row.id})  # an id, never the target
    return row


def cancel_pending(project_id: int) -> int:
    """Inside a return to the sandbox: announcements of the area that have not gone out never will (their
    effect finds them cancelled). How many were."""
    return db.session.execute(
        update(AreaAnnouncement).where(AreaAnnouncement.project_id == project_id,
                                       AreaAnnouncement.status.not_in(sorted(SETTLED)))
        .values(status=AnnouncementStatus.cancelled, error="the area went back to the sandbox before it was sent")
        .execution_options(synchronize_session=False)).rowcount


def latest(project_id: int) -> AreaAnnouncement | None:
    """The project's most recent announcement (what its page shows)."""
    return db.session.scalar(select(AreaAnnouncement).where(AreaAnnouncement.project_id == project_id)
                             .order_by(AreaAnnouncement.id.desc()).limit(1))


@outbox.handler(ANNOUNCE_EFFECT, outside=True)
def post_announcement(effect: OutboxEffect) -> dict[str, Any]:
    """Post the announcement once. Its row says what happened (the project page shows it); a failure that
    provably never reached the channel is raised and retried, one that may have reached it is `unknown`."""
    row = db.session.get(AreaAnnouncement, effect.payload["announcement_id"])
    if row is None or row.status in SETTLED:
        return {"skipped": row.status.value if row else "announcement gone"}
    chosen = settings(row.workspace_id)
    if not chosen.announce_new_areas or not chosen.announcement_target_sealed:
        row.status, row.error = AnnouncementStatus.off, "announcements were turned off before it was sent"
        db.session.commit()
        return {"skipped": "announcements off"}
    try:
        outcome, answer = delivery.send(unseal(chosen.announcement_target_sealed), "A new area is open", row.text,
                                        f"area:{row.id}:announce")
    except Exception as exc:  # noqa: BLE001 — an unusable target is a failed post, recorded like one
        outcome, answer = Outcome.refused, type(exc).__name__
    if outcome is Outcome.sent:
        row.status, row.error, row.sent_at = AnnouncementStatus.sent, "", utcnow()
    elif outcome is Outcome.ambiguous:
        row.status, row.error = AnnouncementStatus.unknown, answer[:300]
    else:  # the outbox counted this attempt when it claimed the effect
        last = effect.attempts >= effect.max_attempts
        row.status, row.error = (AnnouncementStatus.failed if last else AnnouncementStatus.retrying), answer[:300]
    db.session.commit()
    outbox.raise_unless_sent(outcome, "the announcement channel", answer)
    return {"sent": True}
